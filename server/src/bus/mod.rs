//! The bus: carries each room's committed entries, and passing signals such
//! as typing, to every connection in the room, on this server and (with
//! Redis) on every other server sharing the database.
//!
//! [`Bus`] is the seam: it hands out one [`Feed`] per room in memory, and
//! connections subscribe to feeds. Every broadcast frame is serialised once
//! and shared by all its recipients (and sent to Redis as those same bytes).
//!
//! - In-process ([`Bus::Local`]): the journal publishes each committed entry
//!   in `seq` order, and the feed hands it straight to its subscribers.
//! - Redis ([`Bus::Redis`]): the journal still publishes its own entries, and
//!   they also go to the room's Redis channel; entries committed by other
//!   servers come from that channel. Redis may deliver them late, out of
//!   order, or (while it restarts) not at all, so a feed delivers strictly in
//!   `seq` order: an entry past a gap waits while the gap is read from the
//!   store (a later `seq` is committed, so every earlier one is too), an
//!   entry at or below the feed's head is a duplicate and dropped. A sweep
//!   compares the feeds' heads with the store's every [`SWEEP_EVERY`], and a
//!   reconnection to Redis catches every feed up, so an entry whose
//!   announcement was lost still arrives: entries are never lost, typing
//!   signals may be.
//!
//! Besides rooms, servers tell each other about state each holds in memory
//! ([`Control`], on `chat:control`): sessions that ended (their sockets
//! close wherever they are) and rooms opened or closed to guests.
//!
//! Layout: this file holds the seam ([`Bus`]) and a room's [`Feed`];
//! - [`order`]: a room's entries put back in `seq` order (gap fill rules);
//! - [`keys`]: Redis key and channel names;
//! - [`control`]: the messages servers send each other;
//! - [`redis_link`]: the Redis tasks (listen, announce, sweep).

mod control;
mod keys;
mod order;
mod redis_link;

pub use control::{Control, Ended};
pub use keys::Keys;
use order::Order;
pub use redis_link::Link;
use redis_link::{Command, announce, listen, sweep, unix_micros};

use crate::fanout::{Fanout, Subscription};
use crate::presence::SharedPresence;
use crate::store::Store;
use app::messages::{Entry, Seq};
use app::people::Nick;
use app::protocol::ServerFrame;
use app::rooms::RoomName;
use axum::extract::ws::Utf8Bytes;
use futures::StreamExt;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot};

/// What a broadcast costs a feed's backlog beside its text: the slot, the
/// shared buffer's header.
const BROADCAST_OVERHEAD: usize = 64;

impl crate::fanout::Weigh for Broadcast {
    fn weight(&self) -> usize {
        self.frame.len() + BROADCAST_OVERHEAD
    }
}

/// How often feeds are compared with the store's heads (Redis bus only).
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Entries read from the store per query while a feed catches up.
const FILL_PAGE: u32 = 1000;

/// "Everything the store has": the largest `seq` both stores can hold.
const ALL: Seq = i64::MAX as Seq;

/// Control messages held for a follower that is behind.
const CONTROL_BACKLOG: usize = 256;

/// Most announcements sent to Redis in one pipeline.
const PUBLISH_BATCH: usize = 512;

/// Where an announcement goes.
enum Channel {
    Room(i64),
    Control,
}

/// Bus failures.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("unsupported bus URL {0:?} (expected redis://HOST:PORT)")]
    UnsupportedUrl(String),
    #[error("cannot use the Redis bus {url}: {source}")]
    Redis {
        url: String,
        source: redis::RedisError,
    },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// A broadcast frame: serialised once, shared by every recipient.
#[derive(Clone, Debug)]
pub struct Broadcast {
    /// The entry's `seq`; `None` for a passing signal (typing) that is
    /// neither stored nor replayed.
    pub seq: Option<Seq>,
    pub frame: Utf8Bytes,
}

/// One room's stream of entries and signals.
pub struct Feed {
    room: RoomName,
    room_id: i64,
    sender: Fanout<Broadcast>,
    /// Last `seq` delivered to subscribers (every entry up to it is committed).
    published: AtomicU64,
    /// Entries that arrived past a gap, and whether the gap is being read.
    order: Mutex<Order<Utf8Bytes>>,
    /// The servers' shared bus, when there is one.
    link: Option<Arc<Link>>,
}

impl Feed {
    /// Sends a committed entry to every subscriber (and, with Redis, to every
    /// other server); the journal calls this in `seq` order.
    pub fn publish(self: &Arc<Self>, entry: Entry) {
        let seq = entry.seq;
        let frame: Utf8Bytes = ServerFrame::Entry {
            room: self.room.clone(),
            entry,
        }
        .to_json()
        .into();
        match &self.link {
            None => self.deliver(seq, frame),
            Some(link) => {
                link.announce(
                    Channel::Room(self.room_id),
                    format!("S {seq} {} {}", unix_micros(), frame.as_str()),
                );
                self.offer(seq, frame);
            }
        }
    }

    /// Tells everyone in the room that `nick` is typing.
    pub fn typing(&self, nick: &Nick) {
        self.pass(&ServerFrame::Typing {
            room: self.room.clone(),
            nick: nick.clone(),
        });
    }

    /// Sends a passing frame (typing, an answer being written) to everyone
    /// in the room, on every server: never stored, so one lost while Redis
    /// restarts is not read back.
    pub fn pass(&self, frame: &ServerFrame) {
        let frame: Utf8Bytes = frame.to_json().into();
        if let Some(link) = &self.link {
            let payload = format!("T {} {}", link.server, frame.as_str());
            link.announce(Channel::Room(self.room_id), payload);
        }
        self.sender.send(Broadcast { seq: None, frame });
    }

    /// A new subscription and the head at that moment. Subscribing comes
    /// first, so a replay up to the head plus the feed after it cover every
    /// entry; the subscriber drops live entries at or below the head.
    pub fn subscribe(&self) -> (Subscription<Broadcast>, Seq) {
        let receiver = self.sender.subscribe();
        (receiver, self.head())
    }

    /// The last `seq` delivered.
    pub fn head(&self) -> Seq {
        self.published.load(Ordering::Acquire)
    }

    fn deliver(&self, seq: Seq, frame: Utf8Bytes) {
        self.published.store(seq, Ordering::Release);
        // No receivers is fine: the entry is already stored.
        self.sender.send(Broadcast {
            seq: Some(seq),
            frame,
        });
    }

    /// Delivers `seq` if it is next, keeps it if it is past a gap (and has
    /// the gap read from the store), drops it if it was delivered already
    /// (see [`order`]).
    fn offer(self: &Arc<Self>, seq: Seq, frame: Utf8Bytes) {
        let mut order = self.order.lock().expect("feed order lock");
        let step = order.offer(self.head(), seq, frame);
        for (seq, frame) in step.deliver {
            self.deliver(seq, frame);
        }
        if let Some(upto) = step.fill {
            self.read_gap(upto);
        }
    }

    /// Reads entries after the head, up to `upto` (or all there are), from
    /// the store, unless that is already under way.
    fn fill(self: &Arc<Self>, order: &mut Order<Utf8Bytes>, upto: Seq) {
        if self.link.is_none() {
            return;
        }
        if let Some(upto) = order.start_fill(self.head(), upto) {
            self.read_gap(upto);
        }
    }

    /// The read [`Order`] asked for: entries after the head up to `upto`,
    /// offered in order; then the next gap, if one is left.
    fn read_gap(self: &Arc<Self>, upto: Seq) {
        let Some(link) = &self.link else { return };
        let (feed, store) = (self.clone(), link.store.clone());
        tokio::spawn(async move {
            let mut wait = Duration::from_millis(50);
            loop {
                let after = feed.head();
                if after >= upto {
                    break;
                }
                match store
                    .entries_between(feed.room_id, after, upto, FILL_PAGE)
                    .await
                {
                    Ok(entries) if entries.is_empty() => {
                        if upto == ALL {
                            break;
                        }
                        // A later entry was announced, so this one is
                        // committed; the database will show it.
                        tracing::warn!(room = %feed.room, after, upto, "a gap the database does not show yet");
                        tokio::time::sleep(wait).await;
                        wait = (wait * 2).min(Duration::from_secs(2));
                    }
                    Ok(entries) => {
                        for entry in entries {
                            let seq = entry.seq;
                            let frame: Utf8Bytes = ServerFrame::Entry {
                                room: feed.room.clone(),
                                entry,
                            }
                            .to_json()
                            .into();
                            // In order; the read under way keeps `offer`
                            // from starting another.
                            feed.offer(seq, frame);
                        }
                    }
                    Err(err) => {
                        tracing::warn!(%err, room = %feed.room, "could not read missed entries; trying again");
                        tokio::time::sleep(wait).await;
                        wait = (wait * 2).min(Duration::from_secs(2));
                    }
                }
            }
            let mut order = feed.order.lock().expect("feed order lock");
            if let Some(upto) = order.fill_done(feed.head()) {
                feed.read_gap(upto);
            }
        });
    }

    /// Reads whatever the store has past the head (after a reconnection, or
    /// when the sweep finds the store ahead).
    fn catch_up(self: &Arc<Self>, upto: Seq) {
        let mut order = self.order.lock().expect("feed order lock");
        self.fill(&mut order, upto);
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        if let Some(link) = &self.link {
            let _ = link.commands.send(Command::Forget(self.room_id));
        }
    }
}

/// Where feeds come from.
#[derive(Clone, Default)]
pub enum Bus {
    /// Fan-out inside this process.
    #[default]
    Local,
    /// Fan-out across servers through Redis publish/subscribe.
    Redis(Arc<Link>),
}

impl Bus {
    /// The bus named by `url` (`None`: in-process). Redis is connected to
    /// once here, so a wrong address fails the start with a clear error.
    pub async fn open(url: Option<&str>, store: &Store, lease: Duration) -> Result<Self, BusError> {
        let Some(url) = url else {
            return Ok(Bus::Local);
        };
        if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
            return Err(BusError::UnsupportedUrl(crate::config::redacted(url)));
        }
        let redis_err = |source| BusError::Redis {
            url: crate::config::redacted(url),
            source,
        };
        tracing::info!(url = %crate::config::redacted(url), "connecting to Redis");
        let client = redis::Client::open(url).map_err(redis_err)?;
        let mut first = tokio::time::timeout(
            Duration::from_secs(5),
            client.get_multiplexed_async_connection(),
        )
        .await
        .map_err(|_| {
            redis_err(redis::RedisError::from(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "no answer within 5 s",
            )))
        })?
        .map_err(redis_err)?;
        let _: () = redis::cmd("PING")
            .query_async(&mut first)
            .await
            .map_err(redis_err)?;
        let keys = Keys::new(&store.cluster_name().await?);
        let mut id = [0u8; 8];
        getrandom::fill(&mut id).expect("the system's random source works");
        let (commands, command_queue) = mpsc::unbounded_channel();
        let (announcements, announcement_queue) = mpsc::unbounded_channel();
        let link = Arc::new(Link {
            client: client.clone(),
            keys: keys.clone(),
            lease,
            server: id.iter().map(|b| format!("{b:02x}")).collect(),
            store: store.clone(),
            commands,
            announcements,
            feeds: Mutex::default(),
            connected: AtomicBool::new(false),
            told: broadcast::channel(CONTROL_BACKLOG).0,
        });
        let (listening, first_listen) = oneshot::channel();
        tokio::spawn(listen(
            client.clone(),
            command_queue,
            Arc::downgrade(&link),
            listening,
        ));
        tokio::spawn(announce(client, keys, first, announcement_queue));
        tokio::spawn(sweep(Arc::downgrade(&link)));
        // Serving before the control channel is subscribed would miss what
        // other servers say in the first moments (and /health would say
        // "degraded" for a bus that is fine).
        match tokio::time::timeout(Duration::from_secs(5), first_listen).await {
            Ok(Ok(())) => Ok(Bus::Redis(link)),
            _ => Err(redis_err(redis::RedisError::from(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "could not subscribe within 5 s",
            )))),
        }
    }

    /// A feed for `room` (row `room_id`), whose log currently ends at `head`.
    ///
    /// A connection whose forwarder falls more than `behind_bytes` behind
    /// the feed (the byte budget one socket may have queued,
    /// `--send-queue-bytes`) is closed and resumes on reconnect, never
    /// skipped. Only unread entries take memory, once for all readers.
    pub fn feed(&self, room: &RoomName, room_id: i64, head: Seq, behind_bytes: usize) -> Arc<Feed> {
        let link = match self {
            Bus::Local => None,
            Bus::Redis(link) => Some(link.clone()),
        };
        let feed = Arc::new(Feed {
            room: room.clone(),
            room_id,
            sender: Fanout::new(behind_bytes.max(1)),
            published: AtomicU64::new(head),
            order: Mutex::default(),
            link,
        });
        if let Bus::Redis(link) = self {
            link.feeds
                .lock()
                .expect("feeds lock")
                .entry(room_id)
                .or_default()
                .push(Arc::downgrade(&feed));
            let _ = link.commands.send(Command::Listen(room_id));
        }
        feed
    }

    /// Presence shared by every server on this bus (none in-process).
    pub fn presence(&self) -> Option<SharedPresence> {
        match self {
            Bus::Local => None,
            Bus::Redis(link) => Some(SharedPresence::new(
                link.client.clone(),
                link.keys.clone(),
                link.server.clone(),
                link.lease,
            )),
        }
    }

    /// Tells the other servers (none in-process).
    pub fn tell(&self, control: &Control) {
        if let Bus::Redis(link) = self {
            let json = serde_json::to_string(control).expect("control messages serialise");
            link.announce(Channel::Control, format!("{} {json}", link.server));
        }
    }

    /// What the other servers tell this one (nothing in-process).
    pub fn told(&self) -> Option<broadcast::Receiver<Control>> {
        match self {
            Bus::Local => None,
            Bus::Redis(link) => Some(link.told.subscribe()),
        }
    }

    /// `Ok(what)` when the bus carries messages, `Err(why)` when it cannot.
    pub fn readiness(&self) -> Result<&'static str, &'static str> {
        match self {
            Bus::Local => Ok("in-process"),
            Bus::Redis(link) if link.connected.load(Ordering::Acquire) => Ok("redis connected"),
            Bus::Redis(_) => Err("redis unreachable (entries go on, read from the database)"),
        }
    }
}
