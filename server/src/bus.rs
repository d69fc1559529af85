//! The bus: carries each room's committed entries, and passing signals such
//! as typing, to every connection in the room.
//!
//! [`Bus`] is the seam: it hands out one [`Feed`] per room in memory. The
//! in-process bus is a broadcast channel per room; a bus shared by several
//! servers (Redis) will plug in as another variant, feeding the same [`Feed`]s,
//! so the journal (which publishes) and connections (which subscribe) never
//! know which one runs. Every broadcast frame is serialised once and shared by
//! all its recipients.

use app::messages::{Entry, Seq};
use app::people::Nick;
use app::protocol::ServerFrame;
use app::rooms::RoomName;
use axum::extract::ws::Utf8Bytes;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::broadcast;

/// Entries a room's feed holds for connections whose forwarder is behind; one
/// further behind is closed (it resumes on reconnect), never skipped. Each
/// slot is allocated up front for every room in memory, so this is kept
/// modest: the byte-bounded outbox behind each forwarder absorbs slow sockets.
const FEED_CAPACITY: usize = 512;

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
    sender: broadcast::Sender<Broadcast>,
    /// Last `seq` published (every entry up to it is committed).
    published: AtomicU64,
}

impl Feed {
    /// Sends a committed entry to every subscriber; the journal calls this in
    /// `seq` order.
    pub fn publish(&self, entry: Entry) {
        let seq = entry.seq;
        let frame = ServerFrame::Entry {
            room: self.room.clone(),
            entry,
        };
        self.published.store(seq, Ordering::Release);
        // No receivers is fine: the entry is already stored.
        let _ = self.sender.send(Broadcast {
            seq: Some(seq),
            frame: frame.to_json().into(),
        });
    }

    /// Tells everyone in the room that `nick` is typing.
    pub fn typing(&self, nick: &Nick) {
        let frame = ServerFrame::Typing {
            room: self.room.clone(),
            nick: nick.clone(),
        };
        let _ = self.sender.send(Broadcast {
            seq: None,
            frame: frame.to_json().into(),
        });
    }

    /// A new subscription and the head at that moment. Subscribing comes
    /// first, so a replay up to the head plus the feed after it cover every
    /// entry; the subscriber drops live entries at or below the head.
    pub fn subscribe(&self) -> (broadcast::Receiver<Broadcast>, Seq) {
        let receiver = self.sender.subscribe();
        (receiver, self.head())
    }

    /// The last `seq` published.
    pub fn head(&self) -> Seq {
        self.published.load(Ordering::Acquire)
    }
}

/// Where feeds come from.
#[derive(Clone, Default)]
pub enum Bus {
    /// Fan-out inside this process.
    #[default]
    Local,
}

impl Bus {
    /// A feed for `room`, whose log currently ends at `head`.
    pub fn feed(&self, room: &RoomName, head: Seq) -> Arc<Feed> {
        match self {
            Bus::Local => Arc::new(Feed {
                room: room.clone(),
                sender: broadcast::channel(FEED_CAPACITY).0,
                published: AtomicU64::new(head),
            }),
        }
    }
}
