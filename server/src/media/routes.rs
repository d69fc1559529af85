//! The media routes: `POST /api/media` (an upload, the bytes as the body),
//! `POST /api/media/pass` (a room's media key traded for the cookie that
//! opens its files), `GET /media/{id}` and `GET /media/{id}/thumb` (the
//! file, and a picture's thumbnail, for a signed-in member or the holder of
//! the room's pass). They sit outside the page layers: no compression (media is
//! compressed already, and ranges must count stored bytes) and no request
//! timeout (a big file on a slow line takes a while; a stalled one is
//! dropped instead).
//!
//! Every media response: the stored type with `nosniff`, a `sandbox` CSP,
//! `inline` only for the pictures and videos on [`app::media::INLINE_TYPES`] and
//! `attachment` for anything else (an HTML or SVG file is a download, never
//! a page on our origin), byte ranges for seeking, and a year of private
//! caching (a blob never changes under its id).

use super::UploadRefusal;
use crate::access::{Act, Denied};
use crate::accounts;
use crate::state::AppState;
use crate::store::{Author, MediaRow, Member};
use app::media::{
    INLINE_TYPES, KEY_HEADER, MediaId, MediaKind, NAME_HEADER, PASS_PATH, SEALED_HEADER,
    UPLOAD_PATH, clean_file_name,
};
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::net::SocketAddr;

/// What the server calls a sealed upload (its real name is encrypted).
const SEALED_NAME: &str = "encrypted file";

/// Nothing in a media response may run, load or be framed.
const MEDIA_POLICY: &str = "default-src 'none'; frame-ancestors 'none'; sandbox";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(UPLOAD_PATH, post(upload))
        .route(PASS_PATH, post(pass))
        .route("/media/{id}", get(full))
        .route("/media/{id}/thumb", get(thumb))
}

fn text(status: StatusCode, message: impl Into<String>) -> Response {
    (status, message.into()).into_response()
}

fn media_key(headers: &HeaderMap) -> &str {
    headers
        .get(KEY_HEADER)
        .and_then(|k| k.to_str().ok())
        .unwrap_or("")
}

/// The member whose media key is in [`KEY_HEADER`], if the room's rules
/// still let them `act` there: the key says who joined once; the rules say
/// whether they may still share in it (closed to guests, banned since).
async fn key_holder(state: &AppState, headers: &HeaderMap, act: Act) -> Result<Member, Response> {
    let member = match state.sockets.media.member(media_key(headers)).await {
        Ok(Some(member)) => member,
        Ok(None) => return Err(refusal(UploadRefusal::NotMember)),
        Err(err) => {
            tracing::error!(%err, "could not look up a media key");
            return Err(refusal(UploadRefusal::Internal));
        }
    };
    let author = Author::from_column(&member.author);
    match state
        .sockets
        .access
        .check_id(member.room_id, author.as_ref(), act)
        .await
    {
        Ok(_) => Ok(member),
        Err(Denied::Store(err)) => {
            tracing::error!(%err, "could not read the room's rules");
            Err(refusal(UploadRefusal::Internal))
        }
        Err(denied) => Err(text(denied.http_status(), format!("{denied}\n"))),
    }
}

/// Sets the cookie that opens the key's room's files (one per room; see
/// `CookiePolicy::set_media_pass`). A browser asks for it after each join.
async fn pass(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let member = match key_holder(&state, &headers, Act::Fetch).await {
        Ok(member) => member,
        Err(refused) => return refused,
    };
    let cookie = state
        .sockets
        .accounts
        .policy
        .cookie
        .set_media_pass(member.room_id, media_key(&headers));
    (StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response()
}

async fn upload(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let media = &state.sockets.media;
    let sealed = headers.get(SEALED_HEADER).is_some_and(|v| v == "1");
    let act = if sealed {
        Act::UploadSealed
    } else {
        Act::Upload
    };
    let member = match key_holder(&state, &headers, act).await {
        Ok(member) => member,
        Err(refused) => return refused,
    };
    // A sealed file's name is inside its message, never told the server.
    let name = if sealed {
        Some(SEALED_NAME.to_owned())
    } else {
        headers
            .get(NAME_HEADER)
            .and_then(|n| n.to_str().ok())
            .and_then(|n| percent_encoding::percent_decode_str(n).decode_utf8().ok())
            .and_then(|n| clean_file_name(&n))
    };
    let Some(name) = name else {
        return refusal(UploadRefusal::NoName);
    };
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|l| l.to_str().ok()?.parse().ok());
    match media
        .receive(
            peer.ip(),
            &member,
            name,
            sealed,
            length,
            body.into_data_stream(),
        )
        .await
    {
        Ok(attachment) => (StatusCode::CREATED, axum::Json(attachment)).into_response(),
        Err(why) => refusal(why),
    }
}

fn refusal(why: UploadRefusal) -> Response {
    let status = match &why {
        UploadRefusal::NotMember => StatusCode::FORBIDDEN,
        UploadRefusal::NoName | UploadRefusal::CutOff => StatusCode::BAD_REQUEST,
        UploadRefusal::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        UploadRefusal::DailyLimit { .. }
        | UploadRefusal::AddressDailyLimit { .. }
        | UploadRefusal::GuestAddressDailyLimit { .. }
        | UploadRefusal::TooManyAtOnce => StatusCode::TOO_MANY_REQUESTS,
        UploadRefusal::Busy | UploadRefusal::StoreFull => StatusCode::SERVICE_UNAVAILABLE,
        UploadRefusal::TypeNotAllowed(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        UploadRefusal::Picture(_) => StatusCode::UNPROCESSABLE_ENTITY,
        UploadRefusal::Stalled => StatusCode::REQUEST_TIMEOUT,
        UploadRefusal::Internal => StatusCode::SERVICE_UNAVAILABLE,
    };
    text(status, format!("{why}."))
}

async fn full(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    serve(&state, &id, &headers, false).await
}

async fn thumb(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    serve(&state, &id, &headers, true).await
}

/// Who is asking for `row`, if they may read the room it was shared in: the
/// holder of that room's pass (a member's media key, in a cookie), or a
/// signed-in member.
async fn reader(state: &AppState, row: &MediaRow, headers: &HeaderMap) -> Option<String> {
    let pass = headers
        .get(header::COOKIE)
        .and_then(|c| c.to_str().ok())
        .and_then(|c| {
            state
                .sockets
                .accounts
                .policy
                .cookie
                .media_pass(c, row.room_id)
        });
    if let Some(key) = pass {
        match state.sockets.media.member(key).await {
            Ok(Some(member)) if member.room_id == row.room_id => return Some(member.author),
            Ok(_) => {}
            Err(err) => tracing::error!(%err, "could not look up a media key"),
        }
    }
    let signed_in = accounts::routes::signed_in(&state.sockets.accounts, headers).await?;
    let author = Author::Account(signed_in.account_id);
    match state.sockets.access.is_member(row.room_id, &author).await {
        Ok(true) => Some(author.column()),
        Ok(false) => None,
        Err(err) => {
            tracing::error!(%err, "could not look up a room's members");
            None
        }
    }
}

async fn serve(state: &AppState, id: &str, headers: &HeaderMap, want_thumb: bool) -> Response {
    let not_found = || {
        text(
            StatusCode::NOT_FOUND,
            "There is no such file (or it was deleted).\n",
        )
    };
    let Ok(id) = MediaId::parse(id) else {
        return not_found();
    };
    let row = match state.sockets.media.file(&id).await {
        Ok(Some(row)) => row,
        Ok(None) => return not_found(),
        Err(err) => {
            tracing::error!(%err, "could not look up an upload");
            return text(StatusCode::SERVICE_UNAVAILABLE, "Try again in a moment.\n");
        }
    };
    let Some(reader) = reader(state, &row, headers).await else {
        // A private room's file is not there for whoever is not in it,
        // as the room itself is not.
        let private = matches!(
            state
                .sockets
                .access
                .check_id(row.room_id, None, Act::Fetch)
                .await,
            Err(Denied::NoSuchRoom)
        );
        if private {
            return not_found();
        }
        return text(
            StatusCode::FORBIDDEN,
            "You can see this file once you join the room it was shared in.\n",
        );
    };
    match state
        .sockets
        .access
        .check_id(
            row.room_id,
            Author::from_column(&reader).as_ref(),
            Act::Fetch,
        )
        .await
    {
        Ok(_) => {}
        Err(Denied::Store(err)) => {
            tracing::error!(%err, "could not read the room's rules");
            return text(StatusCode::SERVICE_UNAVAILABLE, "Try again in a moment.\n");
        }
        Err(denied) => return text(denied.http_status(), format!("{denied}\n")),
    }
    // Not sent yet: only its uploader's preview may fetch it.
    if row.seq.is_none() && reader != row.uploader {
        return not_found();
    }
    let blobs = state.sockets.media.blobs();
    let (blob, content_type, total) = match (want_thumb, row.kind, &row.thumb) {
        (false, ..) => (row.blob.clone(), row.content_type.clone(), row.size as u64),
        (true, MediaKind::Image, Some(thumb)) => match blobs.size(thumb).await {
            Ok(size) => (thumb.clone(), "image/jpeg".to_owned(), size),
            Err(err) => {
                tracing::error!(%err, "a thumbnail is missing from the media store");
                return not_found();
            }
        },
        (true, MediaKind::Image, None) => {
            (row.blob.clone(), row.content_type.clone(), row.size as u64)
        }
        (true, ..) => return not_found(),
    };
    let etag = format!("\"{blob}\"");
    let mut common = HeaderMap::new();
    common.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(MEDIA_POLICY),
    );
    common.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    common.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
    common.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=31536000, immutable"),
    );
    common.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        common.insert(header::ETAG, value);
    }
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
    {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    let range = match headers.get(header::RANGE).and_then(|r| r.to_str().ok()) {
        None => None,
        Some(asked) => match http_range_header::parse_range_header(asked)
            .and_then(|parsed| parsed.validate(total))
        {
            Ok(ranges) if ranges.len() == 1 => Some(*ranges[0].start()..ranges[0].end() + 1),
            // Several ranges at once: the whole file answers them all.
            Ok(_) => None,
            Err(_) => {
                let mut response = text(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    "That range is not in the file.\n",
                );
                if let Ok(value) = HeaderValue::from_str(&format!("bytes */{total}")) {
                    response.headers_mut().insert(header::CONTENT_RANGE, value);
                }
                return response;
            }
        },
    };
    let read = match blobs.get(&blob, range.clone()).await {
        Ok(read) => read,
        Err(err) => {
            tracing::error!(%err, blob, "could not read a blob");
            return not_found();
        }
    };
    let inline = INLINE_TYPES.contains(&content_type.as_str());
    let disposition = disposition(inline, &row.name, want_thumb);
    let mut response = Response::new(Body::from_stream(read.stream));
    *response.headers_mut() = common;
    let out = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&content_type) {
        out.insert(header::CONTENT_TYPE, value);
    }
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        out.insert(header::CONTENT_DISPOSITION, value);
    }
    let length = read.range.end - read.range.start;
    out.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    if range.is_some() {
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
        let value = format!(
            "bytes {}-{}/{total}",
            read.range.start,
            read.range.end.saturating_sub(1)
        );
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(header::CONTENT_RANGE, value);
        }
    }
    response
}

/// `inline` or `attachment`, with the file's name (an ASCII stand-in, and
/// the real one for browsers that read RFC 5987).
fn disposition(inline: bool, name: &str, thumb: bool) -> String {
    let name = if thumb {
        format!("thumbnail of {name}")
    } else {
        name.to_owned()
    };
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded = percent_encoding::utf8_percent_encode(&name, percent_encoding::NON_ALPHANUMERIC);
    let how = if inline { "inline" } else { "attachment" };
    format!("{how}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}
