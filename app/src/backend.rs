//! How server functions reach server state: the server crate implements
//! [`ChatBackend`] and provides it as context for every request, so this crate
//! needs no database or socket code of its own.

use crate::messages::{HistoryPage, Seq};
use crate::rooms::{RoomName, RoomSummary};
use crate::search::SearchPage;
use futures::future::BoxFuture;
use leptos::prelude::*;
use std::sync::Arc;

/// A failure the browser only learns the existence of; the detail is logged.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BackendError(pub String);

pub trait ChatBackend: Send + Sync + 'static {
    /// The busiest rooms whose name contains `search`, at most `limit`.
    fn rooms(
        &self,
        search: String,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<RoomSummary>, BackendError>>;
    fn history(
        &self,
        room: RoomName,
        before: Option<Seq>,
        limit: u32,
    ) -> BoxFuture<'_, Result<HistoryPage, BackendError>>;
    /// Page `page` of the messages in `rooms` holding every one of `words`.
    fn search(
        &self,
        rooms: Vec<RoomName>,
        words: Vec<String>,
        page: u32,
    ) -> BoxFuture<'_, Result<SearchPage, BackendError>>;
}

/// The backend as stored in Leptos context.
#[derive(Clone)]
pub struct Backend(pub Arc<dyn ChatBackend>);

pub fn from_context() -> Result<Arc<dyn ChatBackend>, ServerFnError> {
    use_context::<Backend>()
        .map(|b| b.0)
        .ok_or_else(|| ServerFnError::ServerError("the chat backend is not available".into()))
}

pub fn to_server_fn_error(err: BackendError) -> ServerFnError {
    tracing::error!(error = %err.0, "server function failed");
    ServerFnError::ServerError("the server could not load this; try again".into())
}
