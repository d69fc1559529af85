//! The HTTP surface: Leptos pages and server functions, the WebSocket
//! endpoint, a readiness check, the no-JavaScript join redirect, static files;
//! and the checks every request passes first: a `Host` this server serves,
//! same-origin writes (CSRF), security headers with a per-page CSP nonce.

use crate::access::{Act, Denied};
use crate::accounts;
use crate::connection;
use crate::hub::HubError;
use crate::listener::{Admitted, Proxied};
use crate::reading::{PerRequest, Requester};
pub use crate::state::{AppState, Hosts};
use crate::store::Author;
use app::backend::{Backend, ChatBackend};
use app::messages::{ClientId, MessageBody};
use app::navigation::Route;
use app::people::Nick;
use app::protocol::MAX_FRAME_BYTES;
use app::rooms::RoomName;
use axum::Router;
use axum::extract::{ConnectInfo, Path, Query, Request, State, WebSocketUpgrade};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use leptos::prelude::*;
use leptos_axum::{AxumRouteListing, LeptosRoutes, ResponseOptions};
use leptos_router::SsrMode;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tower_http::compression::CompressionLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;

/// How long `/health` waits for the journal to commit a probe.
const HEALTH_DEADLINE: Duration = Duration::from_secs(2);

/// The page's Content-Security-Policy: scripts only with this response's
/// nonce (Leptos puts it on its hydration scripts), WebAssembly allowed to
/// compile, nothing framed, nothing loaded from elsewhere. Pictures and
/// videos also from `blob:`: an encrypted conversation's files, opened in the
/// browser, are shown from there (`blob:` addresses are this origin's own).
fn content_security_policy(nonce: &str, live_reload: Option<u32>) -> String {
    // Under `cargo leptos watch` the page also talks to the reload socket.
    let reload = live_reload
        .map(|port| format!(" ws://localhost:{port} ws://127.0.0.1:{port}"))
        .unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'nonce-{nonce}' 'strict-dynamic' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'{reload}; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// For everything that is not a page (files, JSON, errors): nothing runs.
const STRICT_POLICY: &str = "default-src 'none'; frame-ancestors 'none'; sandbox";

/// The app's two pages (`app::navigation::page_of` tells them apart in the
/// app). Each has its data before it renders (`preload_page`), so the
/// history is in the HTML itself. Anything else goes to the fallback, which serves files
/// or renders the app's "Page not found." with a 404.
fn page_routes() -> Vec<AxumRouteListing> {
    app::navigation::PAGE_ROUTES
        .into_iter()
        .map(|route| {
            AxumRouteListing::new(
                route.pattern().to_owned(),
                SsrMode::Async,
                [leptos_router::Method::Get],
                vec![],
            )
        })
        .collect()
}

pub fn router(state: AppState) -> Router {
    let routes = page_routes();
    let backend = Backend(Arc::new(PerRequest(state.library.clone())) as Arc<dyn ChatBackend>);
    let live_reload = std::env::var_os("LEPTOS_WATCH")
        .is_some()
        .then_some(state.leptos_options.reload_port);
    let context = move || {
        provide_context(backend.clone());
        // Leptos made this response's nonce before calling us; the header
        // must name the same one.
        if let (Some(nonce), Some(response)) = (use_nonce(), use_context::<ResponseOptions>())
            && let Ok(policy) =
                HeaderValue::from_str(&content_security_policy(&nonce.to_string(), live_reload))
        {
            response.insert_header(header::CONTENT_SECURITY_POLICY, policy);
        }
    };
    let options = state.leptos_options.clone();
    let shell = move || app::shell(options.clone());
    let timeout = state.request_timeout;
    let guard_state = state.clone();
    let reader_state = state.clone();
    let preload_state = state.clone();
    let media_state = state.clone();
    let pages = Router::new()
        .route("/ws", get(upgrade))
        .route("/health", get(health))
        .route("/metrics", get(metrics_page))
        .route(Route::Join.pattern(), get(join_without_js))
        .route(Route::Search.pattern(), get(crate::search::search_page))
        .route(
            Route::RoomPost.pattern(),
            axum::routing::post(post_without_js),
        )
        .merge(accounts::routes::routes())
        .leptos_routes_with_context(&state, routes, context.clone(), shell)
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(context, app::shell))
        .with_state(state)
        .layer(axum::middleware::map_response(cache_bundle))
        .layer(axum::middleware::from_fn_with_state(
            preload_state,
            preload_page,
        ))
        .layer(axum::middleware::from_fn_with_state(
            reader_state,
            who_is_reading,
        ))
        // HTML, JSON, JS, CSS and the WASM bundle shrink 3-4x with brotli/gzip.
        .layer(CompressionLayer::new())
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            timeout,
        ));
    // Media has its own limits and headers (see `media::routes`).
    let media = crate::media::routes::routes().with_state(media_state);
    pages
        .merge(media)
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(STRICT_POLICY),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(axum::middleware::from_fn_with_state(guard_state, guard))
}

/// Before a page renders: what it opens with (a room's latest history, the
/// lobby's rooms), so that the page renders at once with it and hands it to
/// the browser (`app::page_data`).
async fn preload_page(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let (get, head) = (
        request.method() == Method::GET,
        request.method() == Method::HEAD,
    );
    if !get && !head {
        return next.run(request).await;
    }
    let requester = request
        .extensions()
        .get::<Requester>()
        .cloned()
        .unwrap_or_default();
    let reader = state.library.reader(requester);
    let uri = request.uri();
    let refused = if get {
        let preloaded =
            app::page_data::preload(&reader, uri.path(), uri.query().unwrap_or_default()).await;
        let refused = preloaded.as_ref().and_then(|p| p.refusal());
        if let Some(preloaded) = preloaded {
            request.extensions_mut().insert(Arc::new(preloaded));
        }
        refused
    } else {
        // Its body is thrown away, so no data is loaded; its status is
        // still the GET's.
        match app::navigation::room_of(uri.path()).map(RoomName::parse) {
            Some(Ok(room)) => reader.refusal(&room).await.map(|status| status.as_u16()),
            Some(Err(_)) => Some(StatusCode::NOT_FOUND.as_u16()),
            None => None,
        }
    };
    let mut response = next.run(request).await;
    // The page says why; the status says it to everything else.
    if let Some(status) = refused.and_then(|s| StatusCode::from_u16(s).ok())
        && response.status() == StatusCode::OK
    {
        *response.status_mut() = status;
    }
    response
}

/// Before a page renders or a server function runs: who asks (see
/// [`Requester`]), for the room's rules; and for a page, the signed-in name
/// its session cookie carries, for the page to show (and hand to the
/// browser). Only requests with a cookie are looked up; files skip it.
async fn who_is_reading(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    let a_file = path.starts_with("/pkg/")
        || path.starts_with("/media/")
        || matches!(path, "/ws" | "/health" | "/favicon.png" | "/metrics");
    let server_fn = path.starts_with("/api/") && *request.method() == Method::POST;
    let page_read = matches!(*request.method(), Method::GET | Method::HEAD) && !a_file;
    let ip = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip());
    let mut personal = false;
    if page_read || server_fn {
        let mut requester = Requester {
            ip,
            ..Requester::default()
        };
        if request.headers().contains_key(header::COOKIE) {
            let accounts = &state.sockets.accounts;
            let signed_in = accounts::routes::signed_in(accounts, request.headers()).await;
            if let Some(signed_in) = signed_in {
                requester.who = Some(Author::Account(signed_in.account_id));
                requester.device_use = accounts::devices::device_use(&signed_in, request.headers());
                if page_read {
                    request
                        .extensions_mut()
                        .insert(app::accounts::SignedInAs(signed_in.name));
                    personal = true;
                }
            } else {
                requester.who = accounts::routes::form_guest(accounts, request.headers());
            }
        }
        request.extensions_mut().insert(requester);
    }
    let mut response = next.run(request).await;
    if personal {
        // The page names who reads it: no shared cache may keep it.
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-store"),
        );
    }
    response
}

/// Refuses requests for a host this server does not serve (421: a DNS
/// rebinding page, or a misdirected proxy) and cross-site writes (403: a
/// form or script on another site posting with the visitor's browser).
async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| request.uri().authority().map(|a| a.as_str()));
    if !host.is_some_and(|h| state.hosts.allows(h)) {
        tracing::warn!(
            ?host,
            "refused a request for a host this server does not serve"
        );
        return (
            StatusCode::MISDIRECTED_REQUEST,
            "this server does not serve that host name\n",
        )
            .into_response();
    }
    let writes = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if writes && !same_site_write(headers, &state.allowed_origins) {
        tracing::warn!(origin = ?headers.get(header::ORIGIN), "refused a cross-site request");
        return (
            StatusCode::FORBIDDEN,
            "cross-site requests are not allowed\n",
        )
            .into_response();
    }
    next.run(request).await
}

/// A write from this site: the browser says so (`Sec-Fetch-Site`), or its
/// `Origin` is ours; a request with neither header is not from a browser.
fn same_site_write(headers: &HeaderMap, allowed: &[String]) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        if matches!(site.as_bytes(), b"same-origin" | b"none") {
            return true;
        }
        // A cross-site browser request can still be one of our own origins
        // (`--allowed-origin`); only the Origin can tell.
        return headers.contains_key(header::ORIGIN) && origin_allowed(headers, allowed);
    }
    origin_allowed(headers, allowed)
}

/// Ready when the journal commits a probe write in time: a store that cannot
/// commit, or a stuck journal, makes the server not ready (503). The bus is
/// reported on its own line: without Redis the server still delivers every
/// entry (read from the database, a little later) but no typing signals, so
/// it stays in service, "degraded".
async fn metrics_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    crate::metrics::respond(&state.metrics, state.metrics_token.as_deref(), &headers)
}

async fn health(State(state): State<AppState>) -> Response {
    let hub = &state.sockets.hub;
    let probe = hub.journal().probe();
    let database = match tokio::time::timeout(HEALTH_DEADLINE, probe).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(err)) => {
            tracing::error!(%err, "health: the store cannot commit");
            Err("the database is not taking writes")
        }
        Err(_) => {
            tracing::error!("health: the journal did not commit a probe in time");
            Err("writes are stalled")
        }
    };
    let bus = hub.bus().readiness();
    let (status, first) = match (&database, &bus) {
        (Err(why), _) => (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {why}")),
        (Ok(()), Err(_)) => (StatusCode::OK, "degraded: the bus is down".to_owned()),
        (Ok(()), Ok(_)) => (StatusCode::OK, "ok".to_owned()),
    };
    let database = match database {
        Ok(()) => "ok".to_owned(),
        Err(why) => format!("down ({why})"),
    };
    let bus = match bus {
        Ok(what) => format!("ok ({what})"),
        Err(why) => format!("down ({why})"),
    };
    let assistant = match &state.sockets.assistant {
        Some(assistant) => format!("on ({} as {})", assistant.model(), assistant.name()),
        None => "off (no API key)".to_owned(),
    };
    (
        status,
        format!("{first}\ndatabase: {database}\nbus: {bus}\nassistant: {assistant}\n"),
    )
        .into_response()
}

/// Bundle files carry a content hash in their names (`hash-files`), so a
/// browser may keep them for a year; everything else is revalidated. The
/// release build writes each one also as .br and .gz (`scripts/bundle`), and
/// leptos_axum's file service sends whichever the browser accepts but does
/// not say so, so a shared cache is told that the answer varies by encoding.
async fn cache_bundle(uri: axum::http::Uri, mut response: Response) -> Response {
    let bundle = uri.path().starts_with("/pkg/");
    let hashed = bundle && uri.path().matches('.').count() >= 2;
    if hashed && response.status().is_success() {
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("public, max-age=31536000, immutable"),
        );
    }
    if bundle && !response.headers().contains_key(header::VARY) {
        response.headers_mut().insert(
            header::VARY,
            header::HeaderValue::from_static("accept-encoding"),
        );
    }
    response
}

async fn upgrade(
    ws: WebSocketUpgrade,
    headers: HeaderMap,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    admitted: Option<axum::Extension<Admitted>>,
    proxied: Option<axum::Extension<Proxied>>,
    State(state): State<AppState>,
) -> Response {
    // Through a proxy, the socket takes its place under its client's
    // address (the proxy's connection counted only in all).
    let admitted = match proxied {
        None => admitted.map(|axum::Extension(admitted)| admitted),
        Some(_) => match state.sockets.peers.admit(peer.ip()) {
            Ok(pass) => Some(Admitted(Arc::new(pass))),
            Err(refusal) => {
                tracing::debug!(%peer, %refusal, "socket refused");
                let mut response = (
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("{refusal}; try again later\n"),
                )
                    .into_response();
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("10"));
                return response;
            }
        },
    };
    if !origin_allowed(&headers, &state.allowed_origins) {
        tracing::warn!(origin = ?headers.get(header::ORIGIN), "refused a WebSocket from a foreign origin");
        return (
            StatusCode::FORBIDDEN,
            "this origin may not open the chat socket",
        )
            .into_response();
    }
    // The cookie says who this is, once, at the upgrade: a session that
    // ends later closes the socket (see `accounts::sockets`).
    let signed_in = accounts::routes::signed_in(&state.sockets.accounts, &headers).await;
    // Small buffers: most sockets are idle most of the time, and tens of
    // thousands of them must fit in memory. Frames above 64 KiB end the socket.
    // Only what the connection needs moves into its task, not the app state.
    let sockets = state.sockets;
    ws.max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .read_buffer_size(1024)
        .write_buffer_size(16 * 1024)
        .max_write_buffer_size(MAX_FRAME_BYTES * 4)
        .on_upgrade(move |socket| async move {
            // A task of its own, and axum's upgrade task ends here: that
            // task is sized for the upgrade (hyper's, then the socket being
            // built, about 1.1 KiB), and awaiting the connection in it kept
            // that allocated beside every socket for its whole life (see
            // PERFORMANCE.md, memory per connection).
            tokio::spawn(connection::serve(
                socket,
                peer.ip(),
                signed_in,
                sockets,
                admitted,
            ));
        })
}

/// Same origin (scheme and host with port, as the browser connected), an
/// origin from `--allowed-origin`, or no `Origin` at all (not a browser: a
/// browser always sends one, so cross-site pages cannot use this socket).
fn origin_allowed(headers: &HeaderMap, allowed: &[String]) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    if allowed.iter().any(|a| a.trim_end_matches('/') == origin) {
        return true;
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    host.is_some() && origin_host == host
}

#[derive(serde::Deserialize)]
struct JoinForm {
    #[serde(default)]
    room: String,
    #[serde(default)]
    nick: String,
}

/// The lobby form's target when JavaScript is off (or not loaded yet): go to
/// the room, carrying the nickname so the room page need not ask again (a
/// signed-in person's name comes from their session instead).
async fn join_without_js(Query(form): Query<JoinForm>) -> impl IntoResponse {
    let Ok(room) = RoomName::parse(&form.room) else {
        return Redirect::to("/");
    };
    match Nick::parse(&form.nick) {
        Ok(nick) => Redirect::to(&format!(
            "{}?nick={}",
            room.path(),
            query_escape(nick.as_str())
        )),
        Err(_) => Redirect::to(&room.path()),
    }
}

/// Everything but the unreserved characters of RFC 3986 is escaped.
const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// `text` as a query value.
fn query_escape(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, QUERY_VALUE).to_string()
}

#[derive(serde::Deserialize)]
struct PostForm {
    #[serde(default)]
    nick: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    client_id: String,
}

/// The room page's message form when JavaScript is off: stored like a
/// socket's `send` (a resubmitted form carries the same id, so it is stored
/// once), then back to the room page, which shows it.
///
/// A guest is known by a cookie of the server's making (`chat_guest`, set on
/// their first post), never by the form's message id, which everyone in the
/// room sees: nobody can pass for them to edit or delete their messages, and
/// a ban follows them from one post to the next.
async fn post_without_js(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(room): Path<String>,
    axum::Form(form): axum::Form<PostForm>,
) -> Response {
    let refused = |status: StatusCode, why: String| {
        (
            status,
            format!("Your message was not sent: {why}\nGo back to the room and try again.\n"),
        )
            .into_response()
    };
    let Ok(room) = RoomName::parse(&room) else {
        return refused(StatusCode::NOT_FOUND, "there is no such room.".into());
    };
    let accounts = &state.sockets.accounts;
    let signed_in = accounts::routes::signed_in(accounts, &headers).await;
    // A guest without the cookie yet gets one with this answer.
    let mut new_guest = None;
    let (nick, author) = match signed_in {
        Some(signed_in) => (signed_in.name, Author::Account(signed_in.account_id)),
        None => {
            let nick = match Nick::parse(&form.nick) {
                Ok(nick) => nick,
                Err(err) => return refused(StatusCode::BAD_REQUEST, err.to_string()),
            };
            let author = match accounts::routes::form_guest(accounts, &headers) {
                Some(author) => author,
                None => {
                    let Ok((token, _)) = accounts::cookie::new_token() else {
                        return refused(
                            StatusCode::SERVICE_UNAVAILABLE,
                            "the server could not store it right now.".into(),
                        );
                    };
                    let author = Author::Guest(accounts::cookie::form_guest_session(&token));
                    new_guest = Some(token);
                    author
                }
            };
            (nick, author)
        }
    };
    let body = match MessageBody::parse(&form.body) {
        Ok(body) => body,
        Err(err) => return refused(StatusCode::BAD_REQUEST, err.to_string()),
    };
    let Ok(client_id) = ClientId::parse(&form.client_id) else {
        return refused(
            StatusCode::BAD_REQUEST,
            "the form is incomplete; reload the page.".into(),
        );
    };
    if !state.sockets.peers.allow_frame(peer.ip()) {
        let mut response = refused(
            StatusCode::TOO_MANY_REQUESTS,
            "you are sending too fast; wait a moment.".into(),
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        return response;
    }
    if let Err(denied) = state
        .sockets
        .access
        .check(&room, Some(&author), Act::Post)
        .await
    {
        return match denied {
            Denied::Store(err) => {
                tracing::error!(%err, %room, "form post: could not read the room's rules");
                refused(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the server could not store it right now.".into(),
                )
            }
            denied => refused(denied.http_status(), denied.to_string()),
        };
    }
    let mut response = match state
        .sockets
        .hub
        .post_without_socket(&room, &nick, &author, &client_id, &body)
        .await
    {
        Ok(seq) => {
            if let Some(assistant) = &state.sockets.assistant {
                assistant.heard(crate::assistant::Question {
                    room: room.clone(),
                    seq,
                    nick: nick.clone(),
                    author: author.clone(),
                    ip: Some(peer.ip()),
                    text: body.as_str().to_owned(),
                    reply_to: None,
                });
            }
            Redirect::to(&format!(
                "{}?nick={}",
                room.path(),
                query_escape(nick.as_str())
            ))
            .into_response()
        }
        Err(HubError::NickInUse) => refused(
            StatusCode::CONFLICT,
            format!("someone in #{room} is using the nickname {nick}; pick another."),
        ),
        Err(err @ (HubError::NameReserved(_) | HubError::AccountsOnly(_))) => {
            refused(StatusCode::FORBIDDEN, format!("{err}."))
        }
        // The room's rules as the write's transaction read them (a ban
        // that landed after the check above).
        Err(HubError::Refused(refusal)) => refused(StatusCode::FORBIDDEN, format!("{refusal}.")),
        Err(err) => {
            tracing::error!(%err, %room, "form post failed");
            refused(
                StatusCode::SERVICE_UNAVAILABLE,
                "the server could not store it right now.".into(),
            )
        }
    };
    if let Some(token) = new_guest {
        response
            .headers_mut()
            .append(header::SET_COOKIE, accounts.policy.cookie.set_guest(&token));
    }
    response
}
