//! How server functions reach server state: the server crate implements
//! [`ChatBackend`] and provides it as context for every request, so this crate
//! needs no database or socket code of its own.

use crate::e2e::{BackedUpKey, DeviceId, DeviceKeys, KeyBackup, NewEpoch, RoomKeys, SharedKeys};
use crate::messages::{HistoryPage, Seq};
use crate::rooms::{PrivateRoom, RoomName, RoomSummary};
use crate::search::SearchPage;
use futures::future::BoxFuture;
use leptos::prelude::*;
use std::sync::Arc;

/// Why a read did not happen.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The reader may not (banned, the room closed to guests, searching too
    /// fast): `reason` is for them, sent with `status`.
    #[error("{reason}")]
    Refused {
        status: http::StatusCode,
        reason: String,
    },
    /// The server failed: the detail is logged, never shown.
    #[error("{0}")]
    Failed(String),
}

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
    /// The reader's private rooms and direct messages.
    fn private_rooms(&self) -> BoxFuture<'_, Result<Vec<PrivateRoom>, BackendError>>;
    /// Publishes the reader's device (see [`crate::e2e`]).
    fn publish_device(&self, keys: DeviceKeys) -> BoxFuture<'_, Result<(), BackendError>>;
    /// A room's keys for one of the reader's devices.
    fn room_keys(
        &self,
        room: RoomName,
        device: DeviceId,
    ) -> BoxFuture<'_, Result<RoomKeys, BackendError>>;
    /// Epoch keys one of the reader's devices wraps for another of theirs.
    fn share_keys(&self, shared: SharedKeys) -> BoxFuture<'_, Result<(), BackendError>>;
    /// A new epoch of a room's key, made by one of the reader's devices.
    fn new_epoch(&self, epoch: NewEpoch) -> BoxFuture<'_, Result<(), BackendError>>;
    /// Starts the reader's key backup afresh (see [`crate::e2e::KeyBackup`]).
    fn start_key_backup(
        &self,
        salt: String,
        check: String,
    ) -> BoxFuture<'_, Result<(), BackendError>>;
    /// Adds keys of one room to the reader's key backup.
    fn back_up_keys(
        &self,
        room: RoomName,
        keys: Vec<BackedUpKey>,
    ) -> BoxFuture<'_, Result<(), BackendError>>;
    /// The reader's key backup, if any.
    fn key_backup(&self) -> BoxFuture<'_, Result<Option<KeyBackup>, BackendError>>;
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

/// A server function's failure as the caller sees it: a refusal's reason and
/// status, or (logged here) that the server could not do it.
pub fn to_server_fn_error(err: BackendError) -> ServerFnError {
    match err {
        BackendError::Refused { status, reason } => {
            if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
                response.set_status(status);
            }
            ServerFnError::ServerError(reason)
        }
        BackendError::Failed(detail) => {
            tracing::error!(error = %detail, "server function failed");
            ServerFnError::ServerError(UNAVAILABLE.into())
        }
    }
}

/// What a reader is told when the server failed them.
pub const UNAVAILABLE: &str = "the server could not load this; try again";
