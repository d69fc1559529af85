//! One WebSocket connection: reads client frames, answers them, and forwards
//! the feeds of the rooms it joined.
//!
//! Shape: a writer task owns the socket's sending half and drains the
//! connection's [`Outbox`]; one forwarder task per joined room copies that
//! room's feed into the outbox; the reader loop (this task) handles client
//! frames, pings, evictions and shutdown. Anything that must end the
//! connection asks the outbox to close with a code; the writer sends that close
//! frame ahead of anything still queued, and the connection ends.

use crate::config::Limits;
use crate::hub::{Broadcast, ConnId, Eviction, HubError, Room, RoomHub};
use app::messages::{PAGE_SIZE, Seq};
use app::people::Nick;
use app::protocol::{ClientFrame, ErrorCode, ServerFrame};
use app::rooms::RoomName;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures::{SinkExt, StreamExt};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Why a connection is being closed, as sent in the close frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloseReason {
    pub code: u16,
    pub reason: &'static str,
}

/// The server is shutting down: reconnect.
pub const CLOSE_RESTART: CloseReason = CloseReason {
    code: 1012,
    reason: "server restarting; reconnect",
};
/// Nothing heard from the client (not even a pong) for the idle timeout.
pub const CLOSE_IDLE: CloseReason = CloseReason {
    code: 1001,
    reason: "idle timeout",
};
/// A frame over 64 KiB, or one that is not valid WebSocket.
pub const CLOSE_BAD_FRAME: CloseReason = CloseReason {
    code: 1009,
    reason: "frame too large (max 64 KiB) or malformed",
};
/// Flooding: too many frames over the rate limit in a row.
pub const CLOSE_FLOOD: CloseReason = CloseReason {
    code: 1008,
    reason: "too many frames: slow down",
};
/// The client did not read fast enough: its queue passed the byte budget, or
/// it fell behind its room's feed. It resumes from its last `seq` on reconnect.
pub const CLOSE_SLOW: CloseReason = CloseReason {
    code: 4008,
    reason: "slow consumer: reconnect to resume",
};
/// The same tab opened a newer connection for every room this one was in.
pub const CLOSE_REPLACED: CloseReason = CloseReason {
    code: 4001,
    reason: "replaced by a newer connection",
};

/// Over-limit frames in a row after which a connection counts as flooding.
const FLOOD_STRIKES: u32 = 20;

/// How long a closing connection may take to flush its close frame.
const CLOSE_DEADLINE: Duration = Duration::from_secs(5);

/// The connection's outbound queue, bounded by bytes, plus its close request.
#[derive(Clone)]
pub struct Outbox {
    queue: mpsc::UnboundedSender<Message>,
    queued_bytes: Arc<AtomicUsize>,
    budget: usize,
    close: Arc<watch::Sender<Option<CloseReason>>>,
}

impl Outbox {
    /// Queues a frame; a socket over its byte budget is closed as slow instead.
    pub fn push(&self, message: Message) -> bool {
        if self.close.borrow().is_some() {
            return false;
        }
        let size = message_size(&message);
        let queued = self.queued_bytes.fetch_add(size, Ordering::AcqRel) + size;
        if queued > self.budget {
            self.close(CLOSE_SLOW);
            return false;
        }
        self.queue.send(message).is_ok()
    }

    /// Asks for the connection to end with `reason` (the first request wins).
    pub fn close(&self, reason: CloseReason) {
        self.close.send_if_modified(|current| {
            if current.is_none() {
                *current = Some(reason);
                true
            } else {
                false
            }
        });
    }

    fn closing(&self) -> Option<CloseReason> {
        *self.close.borrow()
    }
}

fn message_size(message: &Message) -> usize {
    match message {
        Message::Text(text) => text.len(),
        Message::Binary(bytes) | Message::Ping(bytes) | Message::Pong(bytes) => bytes.len(),
        Message::Close(_) => 0,
    }
}

/// A steady rate with a burst allowance (token bucket), per connection.
struct RateLimit {
    tokens: f64,
    last: Instant,
    strikes: u32,
    limits: Limits,
}

impl RateLimit {
    fn new(limits: Limits) -> Self {
        Self {
            tokens: limits.rate_burst,
            last: Instant::now(),
            strikes: 0,
            limits,
        }
    }

    /// True if one more frame is allowed now.
    fn allow(&mut self) -> bool {
        let now = Instant::now();
        let refill = now.duration_since(self.last).as_secs_f64() * self.limits.rate_per_sec;
        self.tokens = (self.tokens + refill).min(self.limits.rate_burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            self.strikes = 0;
            true
        } else {
            self.strikes += 1;
            false
        }
    }

    fn flooding(&self) -> bool {
        self.strikes >= FLOOD_STRIKES
    }
}

struct Membership {
    room: Arc<Room>,
    nick: Nick,
    forwarder: JoinHandle<()>,
    /// When this member's last typing signal went out to the room.
    typing_sent: Option<Instant>,
}

/// Typing signals from one member reach the room at most this often, so a
/// client that sends them on every keystroke cannot crowd the room's feed.
const TYPING_EVERY: Duration = Duration::from_secs(1);

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

/// Decodes a client's text frame, with a readable reason when it is refused.
pub fn decode(text: &str) -> Result<ClientFrame, String> {
    serde_json::from_str::<ClientFrame>(text).map_err(|err| format!("invalid frame: {err}"))
}

/// Writes queued frames, feed-then-flush so a burst costs one flush; a close
/// request jumps the queue.
async fn write(
    mut sink: futures::stream::SplitSink<WebSocket, Message>,
    mut queued: mpsc::UnboundedReceiver<Message>,
    queued_bytes: Arc<AtomicUsize>,
    mut close: watch::Receiver<Option<CloseReason>>,
) {
    loop {
        tokio::select! {
            biased;
            requested = async { close.wait_for(Option::is_some).await.ok().and_then(|r| *r) } => {
                let Some(reason) = requested else { return };
                let _ = sink
                    .send(Message::Close(Some(CloseFrame {
                        code: reason.code,
                        reason: Utf8Bytes::from_static(reason.reason),
                    })))
                    .await;
                return;
            }
            next = queued.recv() => {
                let Some(first) = next else { return };
                let mut batch_bytes = message_size(&first);
                if sink.feed(first).await.is_err() {
                    return;
                }
                while let Ok(more) = queued.try_recv() {
                    batch_bytes += message_size(&more);
                    if sink.feed(more).await.is_err() {
                        return;
                    }
                }
                if sink.flush().await.is_err() {
                    return;
                }
                queued_bytes.fetch_sub(batch_bytes, Ordering::AcqRel);
            }
        }
    }
}

/// Serves one upgraded socket until either side ends it or the server stops.
pub async fn serve(
    socket: WebSocket,
    hub: Arc<RoomHub>,
    limits: Limits,
    mut shutdown: watch::Receiver<bool>,
    _drain: mpsc::Sender<()>,
) {
    let conn = hub.connection_id();
    let (sink, mut stream) = socket.split();
    let (queue, queued) = mpsc::unbounded_channel();
    let (close, mut close_requested) = watch::channel(None);
    let outbox = Outbox {
        queue,
        queued_bytes: Arc::new(AtomicUsize::new(0)),
        budget: limits.send_queue_bytes,
        close: Arc::new(close),
    };
    let mut writer = tokio::spawn(write(
        sink,
        queued,
        outbox.queued_bytes.clone(),
        close_requested.clone(),
    ));
    let (evictions, mut evicted) = mpsc::unbounded_channel::<Eviction>();
    let mut session = Session {
        hub: hub.clone(),
        conn,
        outbox: outbox.clone(),
        evictions,
        rooms: HashMap::new(),
        rate: RateLimit::new(limits),
    };

    let mut pings = tokio::time::interval(limits.idle_timeout / 3);
    pings.reset();
    let mut last_heard = Instant::now();
    let writer_done = loop {
        tokio::select! {
            incoming = stream.next() => {
                let message = match incoming {
                    Some(Ok(message)) => message,
                    Some(Err(err)) => {
                        // Oversize or broken frames; a vanished peer ends up here too.
                        tracing::debug!(conn, %err, "unreadable frame");
                        outbox.close(CLOSE_BAD_FRAME);
                        break false;
                    }
                    None => break false,
                };
                last_heard = Instant::now();
                match message {
                    Message::Text(text) => session.handle_text(&text).await,
                    Message::Binary(_) => {
                        outbox.push(error(ErrorCode::InvalidFrame, None, "frames must be JSON text, not binary"));
                    }
                    Message::Close(_) => break false,
                    Message::Ping(_) | Message::Pong(_) => {}
                }
            }
            _ = pings.tick() => {
                if last_heard.elapsed() >= limits.idle_timeout {
                    outbox.close(CLOSE_IDLE);
                } else {
                    outbox.push(Message::Ping(Default::default()));
                }
            }
            Some(eviction) = evicted.recv() => session.evicted(eviction),
            _ = async { close_requested.wait_for(Option::is_some).await.map(|_| ()) } => break false,
            _ = &mut writer => break true,
            _ = async { shutdown.wait_for(|stop| *stop).await.map(|_| ()) } => {
                outbox.close(CLOSE_RESTART);
                break false;
            }
        }
    };
    if let Some(reason) = outbox.closing() {
        tracing::debug!(
            conn,
            code = reason.code,
            reason = reason.reason,
            "closing connection"
        );
    }

    for (_, membership) in session.rooms.drain() {
        membership.forwarder.abort();
        hub.leave_after_grace(membership.room, membership.nick, conn);
    }
    // Let the writer send its close frame (or what is queued), then stop.
    if !writer_done
        && tokio::time::timeout(CLOSE_DEADLINE, &mut writer)
            .await
            .is_err()
    {
        writer.abort();
    }
}

/// The reader's state: which rooms this connection is in, as whom.
struct Session {
    hub: Arc<RoomHub>,
    conn: ConnId,
    outbox: Outbox,
    evictions: mpsc::UnboundedSender<Eviction>,
    rooms: HashMap<RoomName, Membership>,
    rate: RateLimit,
}

impl Session {
    async fn handle_text(&mut self, text: &str) {
        if !self.rate.allow() {
            if self.rate.flooding() {
                self.outbox.close(CLOSE_FLOOD);
            } else {
                self.outbox.push(error(
                    ErrorCode::RateLimited,
                    None,
                    "you are sending too fast; that frame was dropped, wait a moment",
                ));
            }
            return;
        }
        let reply = match decode(text) {
            Ok(frame) => self.handle(frame).await,
            Err(reason) => Some(error(ErrorCode::InvalidFrame, None, reason)),
        };
        if let Some(reply) = reply {
            self.outbox.push(reply);
        }
    }

    async fn handle(&mut self, frame: ClientFrame) -> Option<Message> {
        match frame {
            ClientFrame::Join {
                room,
                nick,
                session,
                since,
            } => {
                if let Some(existing) = self.rooms.get(&room)
                    && existing.nick != nick
                {
                    return Some(error(
                        ErrorCode::InvalidFrame,
                        Some(room),
                        format!("you are already in this room as {}", existing.nick),
                    ));
                }
                let joining = match self
                    .hub
                    .join(&room, &nick, &session, self.conn, self.evictions.clone())
                    .await
                {
                    Ok(joining) => joining,
                    Err(HubError::NickInUse) => {
                        return Some(error(
                            ErrorCode::NickInUse,
                            Some(room),
                            app::protocol::NICK_IN_USE,
                        ));
                    }
                    Err(HubError::Store(err)) => {
                        tracing::error!(%err, %room, "join failed");
                        return Some(error(
                            ErrorCode::Internal,
                            Some(room),
                            "could not join; try again",
                        ));
                    }
                };
                let head = joining.head;
                // Too far behind (or ahead of a log that was reset): start over
                // from the latest page rather than replaying everything.
                let max_replay = self.rate.limits.max_replay;
                let reset = since.is_some_and(|s| s > head || head - s > max_replay);
                let joined = ServerFrame::Joined {
                    room: room.clone(),
                    nick: nick.clone(),
                    online: joining.online,
                    head,
                    reset,
                };
                let Some(feed) = joining.feed else {
                    // Already in the room: its forwarder keeps going.
                    return Some(self::frame(&joined));
                };
                let after = match since {
                    Some(since) if !reset => since,
                    _ => head.saturating_sub(u64::from(PAGE_SIZE)),
                };
                let forwarder = tokio::spawn(forward(
                    self.hub.clone(),
                    joining.room.clone(),
                    joined,
                    after,
                    head,
                    feed,
                    self.outbox.clone(),
                ));
                self.rooms.insert(
                    room,
                    Membership {
                        room: joining.room,
                        nick,
                        forwarder,
                        typing_sent: None,
                    },
                );
                None
            }
            ClientFrame::Leave { room } => {
                let Some(membership) = self.rooms.remove(&room) else {
                    return Some(error(
                        ErrorCode::NotInRoom,
                        Some(room),
                        "you are not in this room",
                    ));
                };
                membership.forwarder.abort();
                if let Err(err) = self
                    .hub
                    .leave(&membership.room, &membership.nick, self.conn)
                    .await
                {
                    tracing::error!(%err, %room, "leave failed");
                }
                None
            }
            ClientFrame::Typing { room } => {
                let Some(membership) = self.rooms.get_mut(&room) else {
                    return Some(error(
                        ErrorCode::NotInRoom,
                        Some(room),
                        "join the room before typing in it",
                    ));
                };
                let now = Instant::now();
                if membership
                    .typing_sent
                    .is_none_or(|sent| now.duration_since(sent) >= TYPING_EVERY)
                {
                    membership.typing_sent = Some(now);
                    membership.room.typing(&membership.nick);
                }
                None
            }
            ClientFrame::Send {
                room,
                client_id,
                body,
            } => {
                let Some(membership) = self.rooms.get_mut(&room) else {
                    return Some(error(
                        ErrorCode::NotInRoom,
                        Some(room),
                        "join the room before sending to it",
                    ));
                };
                // A sent message ends the typing: the next keystroke is news.
                membership.typing_sent = None;
                let posting = self
                    .hub
                    .post(&membership.room, &membership.nick, &client_id, &body);
                // The ack waits for the commit, but the reader does not.
                let outbox = self.outbox.clone();
                tokio::spawn(async move {
                    let reply = match posting.committed().await {
                        Ok(seq) => self::frame(&ServerFrame::Ack {
                            room,
                            client_id,
                            seq,
                        }),
                        Err(err) => {
                            tracing::error!(%err, %room, "send failed");
                            error(
                                ErrorCode::Internal,
                                Some(room),
                                "the message was not stored; send it again",
                            )
                        }
                    };
                    outbox.push(reply);
                });
                None
            }
        }
    }

    /// A newer connection of the same tab took this room over.
    fn evicted(&mut self, eviction: Eviction) {
        if let Some(membership) = self.rooms.remove(&eviction.room) {
            membership.forwarder.abort();
        }
        if self.rooms.is_empty() {
            self.outbox.close(CLOSE_REPLACED);
        }
    }
}

/// Sends `joined`, replays `after < seq <= head` from the store, then copies
/// the live feed (all of it after `head`) into the connection's outbox.
async fn forward(
    hub: Arc<RoomHub>,
    room: Arc<Room>,
    joined: ServerFrame,
    after: Seq,
    head: Seq,
    mut feed: broadcast::Receiver<Broadcast>,
    outbox: Outbox,
) {
    if !outbox.push(frame(&joined)) {
        return;
    }
    if after < head {
        match hub
            .store()
            .entries_between(room.id(), after, head, (head - after) as u32)
            .await
        {
            Ok(entries) => {
                for entry in entries {
                    let replayed = ServerFrame::Entry {
                        room: room.name.clone(),
                        entry,
                    };
                    if !outbox.push(frame(&replayed)) {
                        return;
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
    loop {
        match feed.recv().await {
            Ok(broadcast) => {
                // Already replayed from the store (see the hub's module comment).
                if broadcast.seq.is_some_and(|seq| seq <= head) {
                    continue;
                }
                if !outbox.push(Message::Text(broadcast.frame)) {
                    return;
                }
            }
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                // Never skip silently: the client resumes from its last seq.
                tracing::warn!(missed, room = %room.name, "connection fell behind its room; closing it");
                outbox.close(CLOSE_SLOW);
                return;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}
