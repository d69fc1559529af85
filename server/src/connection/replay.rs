//! One joined room's forwarder: the `joined` answer, the replay of what the
//! client missed, then the live feed, all into the connection's outbox.

use super::close::CLOSE_SLOW;
use super::outbox::Outbox;
use super::reader::{error, frame};
use crate::bus::Broadcast;
use crate::fanout::{Received, Subscription};
use crate::hub::{Room, RoomHub};
use app::messages::Seq;
use app::protocol::{ErrorCode, ServerFrame};
use axum::extract::ws::Message;
use std::sync::Arc;

/// Sends `joined`, replays `after < seq <= head` from the store, then copies
/// the live feed (all of it after `head`) into the connection's outbox.
///
/// Not an `async fn`, which would keep its arguments (the `joined` frame
/// alone is 232 bytes) in the task's state for as long as the socket lives;
/// the returned future holds the frame boxed until the replay takes it.
pub fn forward(
    hub: Arc<RoomHub>,
    room: Arc<Room>,
    joined: ServerFrame,
    after: Seq,
    head: Seq,
    mut feed: Subscription<Broadcast>,
    outbox: Outbox,
) -> impl Future<Output = ()> + Send + 'static {
    let joined = Box::new(joined);
    async move {
        // Boxed, and over before the live loop: the store query would
        // otherwise stay in this task's state as long as the socket.
        if !Box::pin(replay(&hub, &room, *joined, after, head, &outbox)).await {
            return;
        }
        loop {
            match feed.recv().await {
                Received::Frame(broadcast) => {
                    // Already replayed from the store (see the hub's module comment).
                    if broadcast.seq.is_some_and(|seq| seq <= head) {
                        continue;
                    }
                    if !outbox.push(Message::Text(broadcast.frame)) {
                        return;
                    }
                }
                Received::Lagged(missed) => {
                    // Never skip silently: the client resumes from its last seq.
                    tracing::warn!(missed, room = %room.name, "connection fell behind its room; closing it");
                    outbox.close(CLOSE_SLOW);
                    return;
                }
                Received::Closed => return,
            }
        }
    }
}

/// Sends `joined` and what the client missed; false once the outbox is closed.
async fn replay(
    hub: &RoomHub,
    room: &Room,
    joined: ServerFrame,
    after: Seq,
    head: Seq,
    outbox: &Outbox,
) -> bool {
    if !outbox.push(frame(&joined)) {
        return false;
    }
    if after < head {
        match hub.missed(room, after, head).await {
            Ok(entries) => {
                for entry in entries {
                    let replayed = ServerFrame::Entry {
                        room: room.name.clone(),
                        entry,
                    };
                    if !outbox.push(frame(&replayed)) {
                        return false;
                    }
                }
            }
            Err(err) => {
                tracing::error!(%err, room = %room.name, "replay failed");
                outbox.push(error(
                    ErrorCode::Internal,
                    Some(room.name.clone()),
                    "could not load missed messages; reload the page",
                ));
            }
        }
    }
    true
}
