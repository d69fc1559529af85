//! One WebSocket connection: reads client frames, answers them, and forwards
//! the feeds of the rooms it joined.
//!
//! Shape: a writer task owns the socket's sending half and drains a bounded
//! queue; one forwarder task per joined room copies that room's feed into the
//! queue; the reader loop (this task) handles client frames. When the writer
//! ends, for any reason, the connection ends and its rooms are left.

use crate::hub::{Broadcast, ConnId, HubError, Room, RoomHub};
use app::messages::{PAGE_SIZE, Seq};
use app::people::Nick;
use app::protocol::{ClientFrame, ErrorCode, ServerFrame};
use app::rooms::RoomName;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures::{SinkExt, StreamExt};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinHandle;

/// Frames waiting for a slow socket before its forwarders wait too (and the
/// room's feed, not the room, absorbs the delay).
const QUEUE_FRAMES: usize = 256;

/// Most entries replayed on join; a client further behind reloads the page.
const MAX_REPLAY: u32 = 1000;

/// Close code when the server shuts down: clients should reconnect.
pub const CLOSE_RESTART: u16 = 1012;
/// Close code for a client that fell too far behind its room's feed.
pub const CLOSE_TOO_SLOW: u16 = 1013;

struct Membership {
    room: Arc<Room>,
    nick: Nick,
    forwarder: JoinHandle<()>,
}

fn frame(frame: &ServerFrame) -> Message {
    Message::Text(frame.to_json().into())
}

fn error(code: ErrorCode, room: Option<RoomName>, message: impl Into<String>) -> Message {
    frame(&ServerFrame::Error {
        code,
        room,
        message: message.into(),
    })
}

fn close(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    }))
}

/// Serves one upgraded socket until either side ends it or the server stops.
pub async fn serve(
    socket: WebSocket,
    hub: Arc<RoomHub>,
    mut shutdown: watch::Receiver<bool>,
    _drain: mpsc::Sender<()>,
) {
    let conn = hub.connection_id();
    let (mut sink, mut stream) = socket.split();
    let (queue, mut queued) = mpsc::channel::<Message>(QUEUE_FRAMES);

    // Feed-then-flush: a burst of frames costs one flush, not one per frame.
    let mut writer = tokio::spawn(async move {
        while let Some(first) = queued.recv().await {
            let mut closing = matches!(first, Message::Close(_));
            if sink.feed(first).await.is_err() {
                return;
            }
            while !closing && let Ok(next) = queued.try_recv() {
                closing = matches!(next, Message::Close(_));
                if sink.feed(next).await.is_err() {
                    return;
                }
            }
            if sink.flush().await.is_err() || closing {
                return;
            }
        }
    });

    let mut rooms: HashMap<RoomName, Membership> = HashMap::new();
    loop {
        tokio::select! {
            incoming = stream.next() => {
                let Some(Ok(message)) = incoming else { break };
                let reply = match message {
                    Message::Text(text) => handle_text(&hub, conn, &queue, &mut rooms, &text).await,
                    Message::Binary(_) => Some(error(
                        ErrorCode::InvalidFrame,
                        None,
                        "frames must be JSON text, not binary",
                    )),
                    Message::Close(_) => break,
                    Message::Ping(_) | Message::Pong(_) => None,
                };
                if let Some(reply) = reply
                    && queue.send(reply).await.is_err()
                {
                    break;
                }
            }
            _ = &mut writer => break,
            _ = shutdown.changed() => {
                let _ = queue.send(close(CLOSE_RESTART, "server restarting; reconnect")).await;
                break;
            }
        }
    }

    for (_, membership) in rooms.drain() {
        membership.forwarder.abort();
        hub.leave_after_grace(membership.room, membership.nick, conn);
    }
    drop(queue);
    // Let the writer send what is queued (a close frame, say), then stop.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), writer).await;
}

async fn handle_text(
    hub: &Arc<RoomHub>,
    conn: ConnId,
    queue: &mpsc::Sender<Message>,
    rooms: &mut HashMap<RoomName, Membership>,
    text: &str,
) -> Option<Message> {
    let frame = match serde_json::from_str::<ClientFrame>(text) {
        Ok(frame) => frame,
        Err(err) => {
            return Some(error(
                ErrorCode::InvalidFrame,
                None,
                format!("invalid frame: {err}"),
            ));
        }
    };
    match frame {
        ClientFrame::Join {
            room,
            nick,
            session,
            since,
        } => {
            if let Some(existing) = rooms.get(&room)
                && existing.nick != nick
            {
                return Some(error(
                    ErrorCode::InvalidFrame,
                    Some(room),
                    format!("you are already in this room as {}", existing.nick),
                ));
            }
            match hub.join(&room, &nick, &session, conn).await {
                Ok(joining) => {
                    let joined = ServerFrame::Joined {
                        room: room.clone(),
                        nick: nick.clone(),
                        online: joining.online,
                        head: joining.head,
                    };
                    let Some(feed) = joining.feed else {
                        // Already in the room: its forwarder keeps going.
                        return Some(self::frame(&joined));
                    };
                    let forwarder = tokio::spawn(forward(
                        hub.clone(),
                        joining.room.clone(),
                        joined,
                        since,
                        joining.head,
                        feed,
                        queue.clone(),
                    ));
                    rooms.insert(
                        room,
                        Membership {
                            room: joining.room,
                            nick,
                            forwarder,
                        },
                    );
                    None
                }
                Err(HubError::NickInUse) => Some(error(
                    ErrorCode::NickInUse,
                    Some(room),
                    app::protocol::NICK_IN_USE,
                )),
                Err(HubError::Store(err)) => {
                    tracing::error!(%err, %room, "join failed");
                    Some(error(
                        ErrorCode::Internal,
                        Some(room),
                        "could not join; try again",
                    ))
                }
            }
        }
        ClientFrame::Leave { room } => {
            let Some(membership) = rooms.remove(&room) else {
                return Some(error(
                    ErrorCode::NotInRoom,
                    Some(room),
                    "you are not in this room",
                ));
            };
            membership.forwarder.abort();
            if let Err(err) = hub.leave(&membership.room, &membership.nick, conn).await {
                tracing::error!(%err, %room, "leave failed");
            }
            None
        }
        ClientFrame::Send {
            room,
            client_id,
            body,
        } => {
            let Some(membership) = rooms.get(&room) else {
                return Some(error(
                    ErrorCode::NotInRoom,
                    Some(room),
                    "join the room before sending to it",
                ));
            };
            match hub
                .post(&membership.room, &membership.nick, &client_id, &body)
                .await
            {
                Ok(seq) => Some(self::frame(&ServerFrame::Ack {
                    room,
                    client_id,
                    seq,
                })),
                Err(err) => {
                    tracing::error!(%err, %room, "send failed");
                    Some(error(
                        ErrorCode::Internal,
                        Some(room),
                        "the message was not stored; send it again",
                    ))
                }
            }
        }
    }
}

/// Sends `joined`, replays what the client misses up to `head`, then copies
/// the live feed (all of it after `head`) into the connection's queue.
async fn forward(
    hub: Arc<RoomHub>,
    room: Arc<Room>,
    joined: ServerFrame,
    since: Option<Seq>,
    head: Seq,
    mut feed: broadcast::Receiver<Broadcast>,
    queue: mpsc::Sender<Message>,
) {
    if queue.send(frame(&joined)).await.is_err() {
        return;
    }
    let after = since.unwrap_or_else(|| head.saturating_sub(u64::from(PAGE_SIZE)));
    let after = after.max(head.saturating_sub(u64::from(MAX_REPLAY)));
    if after < head {
        match hub
            .store()
            .entries_between(room.id(), after, head, MAX_REPLAY)
            .await
        {
            Ok(entries) => {
                for entry in entries {
                    let replayed = ServerFrame::Entry {
                        room: room.name.clone(),
                        entry,
                    };
                    if queue.send(frame(&replayed)).await.is_err() {
                        return;
                    }
                }
            }
            Err(err) => {
                tracing::error!(%err, room = %room.name, "replay failed");
                let _ = queue
                    .send(error(
                        ErrorCode::Internal,
                        Some(room.name.clone()),
                        "could not load missed messages",
                    ))
                    .await;
            }
        }
    }
    loop {
        match feed.recv().await {
            Ok(broadcast) => {
                if queue.send(Message::Text(broadcast.frame)).await.is_err() {
                    return;
                }
            }
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(missed, room = %room.name, "connection fell behind; closing it");
                let _ = queue
                    .send(close(
                        CLOSE_TOO_SLOW,
                        "too slow: fell behind the room; reconnect to resume",
                    ))
                    .await;
                return;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}
