//! The HTTP surface: Leptos pages and server functions, the WebSocket
//! endpoint, a readiness check, the no-JavaScript join redirect, static files;
//! and the checks every request passes first: a `Host` this server serves,
//! same-origin writes (CSRF), security headers with a per-page CSP nonce.

use crate::accounts;
use crate::connection::{self, Shared};
use crate::hub::{HubError, RoomHub};
use crate::listener::Admitted;
use crate::store::Author;
use app::backend::{Backend, BackendError, ChatBackend};
use app::messages::{ClientId, HistoryPage, MessageBody, Seq};
use app::people::Nick;
use app::protocol::MAX_FRAME_BYTES;
use app::rooms::{RoomName, RoomSummary};
use app::search::{SEARCH_PAGE, SearchPage};
use axum::Router;
use axum::extract::{ConnectInfo, FromRef, Path, Query, Request, State, WebSocketUpgrade};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use futures::future::BoxFuture;
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

#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub sockets: Shared,
    /// Origins allowed besides the page's own (`--allowed-origin`, `--public-url`).
    pub allowed_origins: Arc<[String]>,
    pub hosts: Hosts,
    pub request_timeout: Duration,
    pub metrics: metrics_exporter_prometheus::PrometheusHandle,
    /// What a scraper must show for `/metrics`; `None`: no such page.
    pub metrics_token: Option<Arc<str>>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// The host names this server answers to.
#[derive(Clone, Debug)]
pub struct Hosts {
    names: Arc<[String]>,
}

impl Hosts {
    /// The hosts of `public_urls`, plus loopback names; IP literals are always
    /// fine (a rebinding attack needs a name it controls).
    pub fn new(public_urls: &[String]) -> Self {
        let mut names: Vec<String> = public_urls
            .iter()
            .filter_map(|url| {
                let rest = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
                let authority = rest.split('/').next()?;
                Some(host_only(authority).to_ascii_lowercase())
            })
            .collect();
        names.push("localhost".into());
        Self {
            names: names.into(),
        }
    }

    fn allows(&self, host: &str) -> bool {
        let name = host_only(host).to_ascii_lowercase();
        let name = name.trim_end_matches('.');
        name.parse::<std::net::IpAddr>().is_ok()
            || name
                .strip_prefix('[')
                .and_then(|n| n.strip_suffix(']'))
                .is_some_and(|n| n.parse::<std::net::Ipv6Addr>().is_ok())
            || self.names.iter().any(|n| n == name)
    }
}

/// `host` without its `:port`.
fn host_only(authority: &str) -> &str {
    if authority.starts_with('[') {
        return authority.split_inclusive(']').next().unwrap_or(authority);
    }
    authority.split(':').next().unwrap_or(authority)
}

impl ChatBackend for RoomHub {
    fn rooms(
        &self,
        search: String,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<RoomSummary>, BackendError>> {
        Box::pin(async move {
            self.summaries(&search, limit)
                .await
                .map_err(|e| BackendError(e.to_string()))
        })
    }

    fn history(
        &self,
        room: RoomName,
        before: Option<Seq>,
        limit: u32,
    ) -> BoxFuture<'_, Result<HistoryPage, BackendError>> {
        Box::pin(async move {
            let entries = self
                .store()
                .page(&room, before, limit)
                .await
                .map_err(|e| BackendError(e.to_string()))?;
            let at_start = entries.first().is_none_or(|e| e.seq == 1);
            Ok(HistoryPage {
                room,
                entries,
                at_start,
            })
        })
    }

    fn search(
        &self,
        rooms: Vec<RoomName>,
        words: Vec<String>,
        page: u32,
    ) -> BoxFuture<'_, Result<SearchPage, BackendError>> {
        Box::pin(async move {
            // One more than a page says whether another follows.
            let mut found = self
                .store()
                .search(&rooms, &words, page * SEARCH_PAGE, SEARCH_PAGE + 1)
                .await
                .map_err(|e| BackendError(e.to_string()))?;
            let more = found.len() > SEARCH_PAGE as usize;
            found.truncate(SEARCH_PAGE as usize);
            Ok(SearchPage { found, more })
        })
    }
}

/// The page's Content-Security-Policy: scripts only with this response's
/// nonce (Leptos puts it on its hydration scripts), WebAssembly allowed to
/// compile, nothing framed, nothing loaded from elsewhere.
fn content_security_policy(nonce: &str, live_reload: Option<u32>) -> String {
    // Under `cargo leptos watch` the page also talks to the reload socket.
    let reload = live_reload
        .map(|port| format!(" ws://localhost:{port} ws://127.0.0.1:{port}"))
        .unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'nonce-{nonce}' 'strict-dynamic' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'{reload}; object-src 'none'; \
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
    ["/", "/r/{room}"]
        .into_iter()
        .map(|path| {
            AxumRouteListing::new(
                path.to_owned(),
                SsrMode::Async,
                [leptos_router::Method::Get],
                vec![],
            )
        })
        .collect()
}

pub fn router(state: AppState) -> Router {
    let routes = page_routes();
    let backend = Backend(state.sockets.hub.clone() as Arc<dyn ChatBackend>);
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
        .route("/join", get(join_without_js))
        .route("/search", get(crate::search::search_page))
        .route("/r/{room}/post", axum::routing::post(post_without_js))
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
    // Not for HEAD: its body is thrown away.
    if request.method() == Method::GET {
        let uri = request.uri();
        let backend: &dyn ChatBackend = &*state.sockets.hub;
        if let Some(preloaded) =
            app::page_data::preload(backend, uri.path(), uri.query().unwrap_or_default()).await
        {
            request.extensions_mut().insert(Arc::new(preloaded));
        }
    }
    next.run(request).await
}

/// Before a page renders: the signed-in name its session cookie carries,
/// for the page to show (and hand to the browser). Only for page reads with a
/// cookie; everything else (and every guest) skips the lookup.
async fn who_is_reading(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    let not_a_page = path.starts_with("/pkg/")
        || path.starts_with("/api/")
        || matches!(path, "/ws" | "/health" | "/favicon.png");
    let page_read = matches!(*request.method(), Method::GET | Method::HEAD)
        && !not_a_page
        && request.headers().contains_key(header::COOKIE);
    let mut personal = false;
    if page_read
        && let Some(signed_in) =
            accounts::routes::signed_in(&state.sockets.accounts, request.headers()).await
    {
        request
            .extensions_mut()
            .insert(app::accounts::SignedInAs(signed_in.name));
        personal = true;
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
    (
        status,
        format!("{first}\ndatabase: {database}\nbus: {bus}\n"),
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
    State(state): State<AppState>,
) -> Response {
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
            let admitted = admitted.map(|axum::Extension(admitted)| admitted);
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
    // Signed in, the message is the account's; a guest's carries the
    // form's nickname and its own id (one form, one guest).
    let signed_in = accounts::routes::signed_in(&state.sockets.accounts, &headers).await;
    let (nick, account) = match signed_in {
        Some(signed_in) => (signed_in.name, Some(signed_in.account_id)),
        None => match Nick::parse(&form.nick) {
            Ok(nick) => (nick, None),
            Err(err) => return refused(StatusCode::BAD_REQUEST, err.to_string()),
        },
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
    let author = match account {
        Some(id) => Author::Account(id),
        None => Author::Guest(client_id.as_guest_session()),
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
    match state
        .sockets
        .hub
        .post_without_socket(&room, &nick, &author, &client_id, &body)
        .await
    {
        Ok(_) => Redirect::to(&format!(
            "{}?nick={}",
            room.path(),
            query_escape(nick.as_str())
        ))
        .into_response(),
        Err(HubError::NickInUse) => refused(
            StatusCode::CONFLICT,
            format!("someone in #{room} is using the nickname {nick}; pick another."),
        ),
        Err(err @ (HubError::NameReserved(_) | HubError::AccountsOnly(_))) => {
            refused(StatusCode::FORBIDDEN, format!("{err}."))
        }
        Err(err) => {
            tracing::error!(%err, %room, "form post failed");
            refused(
                StatusCode::SERVICE_UNAVAILABLE,
                "the server could not store it right now.".into(),
            )
        }
    }
}
