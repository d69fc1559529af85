//! The account forms' handlers. Every one is a plain form post answered with
//! a redirect (303, so a reload does not post again) or the form again with
//! what went wrong; all of them pass the router's CSRF check first.

use super::devices::DeviceRemoved;
use super::pages::{self, AccountView, Done, PAGE_POLICY};
use super::{AccountError, Accounts, SignedIn};
use crate::state::AppState;
use crate::store::RoomFlag;
use crate::store::RosterChange;
use app::navigation::Route;
use app::people::Nick;
use app::rooms::RoomName;
use axum::Form;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use std::net::SocketAddr;
use std::sync::Arc;

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route(
            Route::SignUp.pattern(),
            get(credentials_page::<true>).post(credentials::<true>),
        )
        .route(
            Route::LogIn.pattern(),
            get(credentials_page::<false>).post(credentials::<false>),
        )
        .route("/logout", post(log_out))
        .route(Route::Account.pattern(), get(account_page))
        .route("/account/password", post(change_password))
        .route("/account/logout-everywhere", post(log_out_everywhere))
        .route("/account/delete", post(delete_account))
        .route("/account/rooms", post(room_setting))
        .route("/account/moderators", post(moderator_setting))
        .route("/account/private-rooms", post(new_private_room))
        .route("/account/members", post(member_setting))
        .route("/account/devices", post(remove_device))
        .route("/account/data", get(download_data))
        .route("/account/retention", post(retention_setting))
        .route("/dm", post(open_direct_form))
        .route("/dm/{name}", get(open_direct))
        // A name and a password or two: anything much bigger is not a form
        // of ours (the password itself is capped at 128 characters).
        .layer(DefaultBodyLimit::max(FORM_BYTES))
}

/// Largest account form body read.
const FORM_BYTES: usize = 16 * 1024;

fn accounts(state: &AppState) -> &Arc<Accounts> {
    &state.sockets.accounts
}

fn cookies(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::COOKIE).and_then(|c| c.to_str().ok())
}

/// The request's session, or `None` (also when the store cannot tell: the
/// person is then treated as a guest, and the failure logged).
pub async fn signed_in(accounts: &Accounts, headers: &HeaderMap) -> Option<SignedIn> {
    match accounts.signed_in(cookies(headers)).await {
        Ok(signed_in) => signed_in,
        Err(err) => {
            tracing::error!(%err, "could not look up a session");
            None
        }
    }
}

/// The form guest a request's cookie names (see `cookie::form_guest_session`).
pub fn form_guest(accounts: &Accounts, headers: &HeaderMap) -> Option<crate::store::Author> {
    let token = accounts.policy.cookie.guest_token(cookies(headers)?)?;
    Some(crate::store::Author::Guest(
        super::cookie::form_guest_session(token),
    ))
}

/// A server-rendered page: no script runs on it, and no cache keeps it.
pub(crate) fn page(status: StatusCode, html: String) -> Response {
    let mut response = (status, Html(html)).into_response();
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_POLICY),
    );
    // Pages about one person's session are nobody else's to keep.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn status_of(err: &AccountError) -> StatusCode {
    match err {
        AccountError::Username(_) | AccountError::Password(_) | AccountError::NoSuchAccount(_) => {
            StatusCode::BAD_REQUEST
        }
        AccountError::NameTaken => StatusCode::CONFLICT,
        AccountError::NoSuchDevice => StatusCode::NOT_FOUND,
        AccountError::BadRoomName(_) => StatusCode::BAD_REQUEST,
        AccountError::WrongCredentials | AccountError::WrongPassword => StatusCode::UNAUTHORIZED,
        AccountError::NotSignedIn => StatusCode::UNAUTHORIZED,
        AccountError::TooManyAttempts(_) => StatusCode::TOO_MANY_REQUESTS,
        AccountError::Busy => StatusCode::SERVICE_UNAVAILABLE,
        AccountError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The form again, saying what went wrong (internal detail only in the log).
fn refused(err: &AccountError, html: impl FnOnce(String) -> String) -> Response {
    if let AccountError::Internal(detail) = err {
        tracing::error!(%detail, "account request failed");
    }
    let mut response = page(status_of(err), html(err.to_string()));
    if let AccountError::TooManyAttempts(wait) = err {
        let secs = wait.as_secs().max(1).to_string();
        if let Ok(value) = HeaderValue::from_str(&secs) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
    }
    response
}

/// Back to `to` with the new session's cookie.
fn signed_in_redirect(state: &AppState, to: &str, token: &str) -> Response {
    let mut response = Redirect::to(to).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, accounts(state).policy.cookie.set(token));
    response
}

fn signed_out_redirect(state: &AppState) -> Response {
    let mut response = Redirect::to("/").into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, accounts(state).policy.cookie.clear());
    response
}

#[derive(serde::Deserialize)]
struct Credentials {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

/// The sign-up (`SIGN_UP`) or login form.
async fn credentials_page<const SIGN_UP: bool>(State(state): State<AppState>) -> Response {
    page(
        StatusCode::OK,
        pages::credentials(&state.leptos_options, SIGN_UP, "", None),
    )
}

/// Signs up (`SIGN_UP`) or logs in. Done: into the chat with the new
/// session's cookie. Refused: the same form again, keeping the username,
/// saying why.
async fn credentials<const SIGN_UP: bool>(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<Credentials>,
) -> Response {
    let accounts = accounts(&state);
    let outcome = if SIGN_UP {
        accounts
            .sign_up(peer.ip(), &form.username, &form.password)
            .await
    } else {
        accounts
            .log_in(peer.ip(), &form.username, &form.password)
            .await
    };
    match outcome {
        Ok((_, token)) => {
            end_previous_session(accounts, &headers).await;
            signed_in_redirect(&state, "/", &token)
        }
        Err(err) => refused(&err, |problem| {
            pages::credentials(
                &state.leptos_options,
                SIGN_UP,
                &form.username,
                Some(problem),
            )
        }),
    }
}

/// A session the browser held before this login ends: one browser, one session.
async fn end_previous_session(accounts: &Accounts, headers: &HeaderMap) {
    if let Some(previous) = signed_in(accounts, headers).await
        && let Err(err) = accounts.log_out(&previous).await
    {
        tracing::warn!(%err, "could not end the session replaced by a login");
    }
}

async fn log_out(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let accounts = accounts(&state);
    if let Some(signed_in) = signed_in(accounts, &headers).await
        && let Err(err) = accounts.log_out(&signed_in).await
    {
        tracing::error!(%err, "logout failed");
        return page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The server could not log you out; try again.".into(),
        );
    }
    signed_out_redirect(&state)
}

#[derive(serde::Deserialize)]
struct AccountQuery {
    done: Option<String>,
}

async fn account_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<AccountQuery>,
) -> Response {
    let done = match query.done.as_deref() {
        Some("password") => Some(Done::Password),
        Some("room") => Some(Done::Room),
        Some("moderators") => Some(Done::Moderators),
        Some("members") => Some(Done::Members),
        Some("device") => Some(Done::Device),
        _ => None,
    };
    render_account(&state, &headers, done, None).await
}

async fn render_account(
    state: &AppState,
    headers: &HeaderMap,
    done: Option<Done>,
    problem: Option<&AccountError>,
) -> Response {
    let accounts = accounts(state);
    let Some(signed_in) = signed_in(accounts, headers).await else {
        return Redirect::to(Route::LogIn.pattern()).into_response();
    };
    let rooms = match accounts.owned_rooms(&signed_in).await {
        Ok(rooms) => rooms,
        Err(err) => {
            tracing::error!(%err, "could not list an account's rooms");
            vec![]
        }
    };
    let private = match accounts.private_rooms(&signed_in).await {
        Ok(rooms) => rooms,
        Err(err) => {
            tracing::error!(%err, "could not list an account's private rooms");
            vec![]
        }
    };
    let devices = match accounts.devices(&signed_in).await {
        Ok(devices) => devices,
        Err(err) => {
            tracing::error!(%err, "could not list an account's devices");
            vec![]
        }
    };
    let view = |problem: Option<String>| {
        pages::account(
            &state.leptos_options,
            AccountView {
                name: &signed_in.name,
                rooms: &rooms,
                assistant: state.sockets.assistant.as_ref().map(|a| a.name()),
                private: &private,
                devices: &devices,
                session: &signed_in.token_hash,
                done,
                problem,
            },
        )
    };
    match problem {
        Some(err) => refused(err, |p| view(Some(p))),
        None => page(StatusCode::OK, view(None)),
    }
}

#[derive(serde::Deserialize)]
struct PasswordChange {
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
}

async fn change_password(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<PasswordChange>,
) -> Response {
    let accounts = accounts(&state);
    let Some(signed_in) = signed_in(accounts, &headers).await else {
        return Redirect::to(Route::LogIn.pattern()).into_response();
    };
    match accounts
        .change_password(peer.ip(), &signed_in, &form.current, &form.new)
        .await
    {
        Ok(()) => Redirect::to("/account?done=password").into_response(),
        Err(err) => render_account(&state, &headers, None, Some(&err)).await,
    }
}

async fn log_out_everywhere(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let accounts = accounts(&state);
    if let Some(signed_in) = signed_in(accounts, &headers).await
        && let Err(err) = accounts.log_out_everywhere(&signed_in).await
    {
        return render_account(&state, &headers, None, Some(&err)).await;
    }
    signed_out_redirect(&state)
}

#[derive(serde::Deserialize)]
struct DeviceForm {
    #[serde(default)]
    device: String,
}

async fn remove_device(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<DeviceForm>,
) -> Response {
    let accounts = accounts(&state);
    let Some(signed_in) = signed_in(accounts, &headers).await else {
        return Redirect::to(Route::LogIn.pattern()).into_response();
    };
    match accounts
        .remove_device(peer.ip(), &signed_in, &form.device)
        .await
    {
        Ok(DeviceRemoved::Other) => Redirect::to("/account?done=device").into_response(),
        Ok(DeviceRemoved::ThisSession) => signed_out_redirect(&state),
        Err(err) => render_account(&state, &headers, None, Some(&err)).await,
    }
}

#[derive(serde::Deserialize)]
struct RetentionSetting {
    room: String,
    /// Days, or empty for no limit of the room's own.
    #[serde(default)]
    days: String,
}

/// The most days a room's owner may ask for (a hundred years).
const RETENTION_DAYS_MAX: u32 = 36_500;

/// The owner of a room sets how long its messages are kept.
async fn retention_setting(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<RetentionSetting>,
) -> Response {
    let accounts = accounts(&state);
    let (signed_in, room) = match room_owner_form(accounts, &headers, &form.room).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let days = match form.days.trim() {
        "" => None,
        days => match days.parse::<u32>() {
            Ok(days) if (1..=RETENTION_DAYS_MAX).contains(&days) => Some(days),
            _ => {
                return (
                    StatusCode::BAD_REQUEST,
                    format!(
                        "days must be a whole number from 1 to {RETENTION_DAYS_MAX}, or empty\n"
                    ),
                )
                    .into_response();
            }
        },
    };
    match accounts
        .set_retention(peer.ip(), &signed_in, &room, days)
        .await
    {
        Ok(true) => Redirect::to("/account?done=room").into_response(),
        Ok(false) => (StatusCode::FORBIDDEN, "that room is not yours\n").into_response(),
        Err(err) => render_account(&state, &headers, None, Some(&err)).await,
    }
}

/// "Download my data": the signed-in account's own data as a JSON file.
async fn download_data(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let accounts = accounts(&state);
    let Some(signed_in) = signed_in(accounts, &headers).await else {
        return Redirect::to(Route::LogIn.pattern()).into_response();
    };
    match accounts.data(peer.ip(), &signed_in).await {
        Ok(json) => (
            [
                (header::CONTENT_TYPE, "application/json".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"chat-{}.json\"", signed_in.name),
                ),
                (header::CACHE_CONTROL, "no-store".to_owned()),
            ],
            json,
        )
            .into_response(),
        Err(err) => render_account(&state, &headers, None, Some(&err)).await,
    }
}

#[derive(serde::Deserialize)]
struct Confirm {
    #[serde(default)]
    password: String,
}

async fn delete_account(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<Confirm>,
) -> Response {
    let accounts = accounts(&state);
    let Some(signed_in) = signed_in(accounts, &headers).await else {
        return Redirect::to(Route::LogIn.pattern()).into_response();
    };
    match accounts.delete(peer.ip(), &signed_in, &form.password).await {
        Ok(()) => signed_out_redirect(&state),
        Err(err) => render_account(&state, &headers, None, Some(&err)).await,
    }
}

#[derive(serde::Deserialize)]
struct RosterSetting {
    #[serde(default)]
    room: String,
    #[serde(default)]
    name: String,
    /// "on" names the moderator (lets the member in); anything else
    /// unnames them (takes them out).
    #[serde(default)]
    on: String,
    /// "room" when the form is the room page's: back there, not to the
    /// account page.
    #[serde(default)]
    then: String,
}

/// Who sends a form about one of their rooms, and which room; or the answer
/// when nobody is signed in or the room name is not one.
async fn room_owner_form(
    accounts: &Accounts,
    headers: &HeaderMap,
    room: &str,
) -> Result<(SignedIn, RoomName), Response> {
    let Some(signed_in) = signed_in(accounts, headers).await else {
        return Err(Redirect::to(Route::LogIn.pattern()).into_response());
    };
    let Ok(room) = RoomName::parse(room) else {
        return Err((StatusCode::BAD_REQUEST, "no such room\n").into_response());
    };
    Ok((signed_in, room))
}

/// The owner of a room names (or unnames) a moderator of it.
async fn moderator_setting(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<RosterSetting>,
) -> Response {
    roster_setting(&state, peer, &headers, form, Roster::Moderators).await
}

/// The owner of a private room lets someone in (`on`), or takes them out.
async fn member_setting(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<RosterSetting>,
) -> Response {
    roster_setting(&state, peer, &headers, form, Roster::Members).await
}

/// Which of a room's lists of people an owner's form changes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Roster {
    Moderators,
    Members,
}

/// An owner's change to one of their room's lists of people: the form
/// checked, the change made, and the answer (back to the account page, or
/// to the room when the room page's form asked for it).
async fn roster_setting(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    form: RosterSetting,
    roster: Roster,
) -> Response {
    let accounts = accounts(state);
    let (signed_in, room) = match room_owner_form(accounts, headers, &form.room).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let Ok(name) = Nick::parse(&form.name) else {
        let err = AccountError::NoSuchAccount(form.name.trim().chars().take(40).collect());
        return render_account(state, headers, None, Some(&err)).await;
    };
    let on = form.on == "on";
    let (ip, who) = (peer.ip(), &signed_in);
    let change = match roster {
        Roster::Moderators => accounts.set_moderator(ip, who, &room, &name, on).await,
        Roster::Members => accounts.set_member(ip, who, &room, &name, on).await,
    };
    let done = match roster {
        Roster::Moderators => "/account?done=moderators".to_owned(),
        Roster::Members if form.then == "room" => room.path(),
        Roster::Members => "/account?done=members".to_owned(),
    };
    match change {
        Ok(RosterChange::Done(_)) => Redirect::to(&done).into_response(),
        Ok(RosterChange::NotOwner) => {
            (StatusCode::FORBIDDEN, "that room is not yours\n").into_response()
        }
        // Naming the owner a moderator changes nothing: they moderate anyway.
        Ok(RosterChange::Owner) if roster == Roster::Moderators => {
            Redirect::to(&done).into_response()
        }
        Ok(RosterChange::Owner) => (
            StatusCode::BAD_REQUEST,
            "the owner of a private room is always in it\n",
        )
            .into_response(),
        Ok(RosterChange::NoSuchAccount) => {
            let err = AccountError::NoSuchAccount(name.to_string());
            render_account(state, headers, None, Some(&err)).await
        }
        Err(err) => render_account(state, headers, None, Some(&err)).await,
    }
}

#[derive(serde::Deserialize)]
struct NewPrivateRoom {
    #[serde(default)]
    room: String,
}

/// Makes a private room and opens it.
async fn new_private_room(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<NewPrivateRoom>,
) -> Response {
    let accounts = accounts(&state);
    let Some(signed_in) = signed_in(accounts, &headers).await else {
        return Redirect::to(Route::LogIn.pattern()).into_response();
    };
    match accounts
        .create_private_room(peer.ip(), &signed_in, &form.room)
        .await
    {
        Ok(room) => Redirect::to(&room.path()).into_response(),
        Err(err) => render_account(&state, &headers, None, Some(&err)).await,
    }
}

/// `/dm/NAME`: the direct message with NAME, made the first time. A guest
/// is asked to log in; a name with no account (or one's own) answers as a
/// private room one is not in does, "No such room".
async fn open_direct(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    axum::extract::Path(name): axum::extract::Path<String>,
) -> Response {
    // A link on another site must not start a conversation (and notify the
    // other person) by itself: it gets a page with the button instead.
    let cross_site = headers
        .get("sec-fetch-site")
        .is_some_and(|site| site.as_bytes() == b"cross-site");
    if cross_site {
        return page(
            StatusCode::OK,
            pages::start_direct(&state.leptos_options, &name),
        );
    }
    direct_message(&state, peer, &headers, &name).await
}

#[derive(serde::Deserialize)]
struct DirectForm {
    #[serde(default)]
    name: String,
}

/// The online list's "Message NAME" button.
async fn open_direct_form(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<DirectForm>,
) -> Response {
    direct_message(&state, peer, &headers, &form.name).await
}

async fn direct_message(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    name: &str,
) -> Response {
    let accounts = accounts(state);
    let Some(signed_in) = signed_in(accounts, headers).await else {
        return Redirect::to(Route::LogIn.pattern()).into_response();
    };
    let no_such_room = || {
        page(
            StatusCode::NOT_FOUND,
            pages::no_such_room(&state.leptos_options),
        )
    };
    let Ok(name) = Nick::parse(name) else {
        return no_such_room();
    };
    match accounts.open_direct(peer.ip(), &signed_in, &name).await {
        Ok(Some(direct)) => Redirect::to(&direct.room.path()).into_response(),
        Ok(None) => no_such_room(),
        Err(err) => render_account(state, headers, None, Some(&err)).await,
    }
}

/// One setting of an owned room: whichever of the two the form names.
#[derive(serde::Deserialize)]
struct RoomSetting {
    #[serde(default)]
    room: String,
    accounts_only: Option<String>,
    quiet_notices: Option<String>,
    assistant_off: Option<String>,
}

async fn room_setting(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<RoomSetting>,
) -> Response {
    let accounts = accounts(&state);
    let (signed_in, room) = match room_owner_form(accounts, &headers, &form.room).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let (flag, on) = match (
        &form.accounts_only,
        &form.quiet_notices,
        &form.assistant_off,
    ) {
        (Some(on), None, None) => (RoomFlag::AccountsOnly, on),
        (None, Some(on), None) => (RoomFlag::QuietNotices, on),
        (None, None, Some(on)) => (RoomFlag::AssistantOff, on),
        _ => return (StatusCode::BAD_REQUEST, "name one setting\n").into_response(),
    };
    match accounts
        .set_room_flag(peer.ip(), &signed_in, &room, flag, on == "on")
        .await
    {
        Ok(true) => Redirect::to("/account?done=room").into_response(),
        Ok(false) => (StatusCode::FORBIDDEN, "that room is not yours\n").into_response(),
        Err(err) => render_account(&state, &headers, None, Some(&err)).await,
    }
}
