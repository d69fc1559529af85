//! The HTTP surface: Leptos pages and server functions, the WebSocket
//! endpoint, a health check, the no-JavaScript join redirect, static files.

use crate::config::Limits;
use crate::connection;
use crate::hub::RoomHub;
use app::backend::{Backend, BackendError, ChatBackend};
use app::messages::{HistoryPage, Seq};
use app::protocol::MAX_FRAME_BYTES;
use app::rooms::{RoomName, RoomSummary};
use axum::Router;
use axum::extract::{FromRef, Query, State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use futures::future::BoxFuture;
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};
use std::sync::Arc;
use tokio::sync::{mpsc, watch};
use tower_http::compression::CompressionLayer;

#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub hub: Arc<RoomHub>,
    /// Flips to true when the server starts shutting down.
    pub shutdown: watch::Receiver<bool>,
    /// Held by every connection; shutdown waits until all clones are gone.
    pub drain: mpsc::Sender<()>,
    pub limits: Limits,
    /// Origins allowed besides the page's own (`--allowed-origin`).
    pub allowed_origins: Arc<[String]>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl ChatBackend for RoomHub {
    fn rooms(&self) -> BoxFuture<'_, Result<Vec<RoomSummary>, BackendError>> {
        Box::pin(async move {
            self.summaries()
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
}

pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(app::App);
    let backend = Backend(state.hub.clone() as Arc<dyn ChatBackend>);
    let context = move || provide_context(backend.clone());
    let options = state.leptos_options.clone();
    let shell = move || app::shell(options.clone());
    Router::new()
        .route("/ws", get(upgrade))
        .route("/health", get(|| async { "ok" }))
        .route("/join", get(join_without_js))
        .leptos_routes_with_context(&state, routes, context.clone(), shell)
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(context, app::shell))
        .with_state(state)
        .layer(axum::middleware::map_response(cache_bundle))
        // HTML, JSON, JS, CSS and the WASM bundle shrink 3-4x with brotli/gzip.
        .layer(CompressionLayer::new())
}

/// Bundle files carry a content hash in their names (`hash-files`), so a
/// browser may keep them for a year; everything else is revalidated.
async fn cache_bundle(uri: axum::http::Uri, mut response: Response) -> Response {
    let hashed = uri.path().starts_with("/pkg/") && uri.path().matches('.').count() >= 2;
    if hashed && response.status().is_success() {
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("public, max-age=31536000, immutable"),
        );
    }
    response
}

async fn upgrade(
    ws: WebSocketUpgrade,
    headers: HeaderMap,
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
    // Small buffers: most sockets are idle most of the time, and tens of
    // thousands of them must fit in memory. Frames above 64 KiB end the socket.
    ws.max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .read_buffer_size(4 * 1024)
        .write_buffer_size(16 * 1024)
        .max_write_buffer_size(MAX_FRAME_BYTES * 4)
        .on_upgrade(move |socket| {
            connection::serve(socket, state.hub, state.limits, state.shutdown, state.drain)
        })
}

/// Same origin (the `Origin` matches the `Host` the browser connected to), an
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
}

/// The lobby form's target when JavaScript is off: go to the room to read it.
async fn join_without_js(Query(form): Query<JoinForm>) -> impl IntoResponse {
    match RoomName::parse(&form.room) {
        Ok(room) => Redirect::to(&room.path()),
        Err(_) => Redirect::to("/"),
    }
}
