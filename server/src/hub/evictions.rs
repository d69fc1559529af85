//! How the hub tells one connection it lost its place in a room (replaced
//! by a newer tab, sent out by a moderator, closed to guests): a small
//! mailbox per connection, allocating nothing until something is sent.

use super::*;

/// Sent to a connection whose place in `room` a newer connection of the same
/// session took over (a reload, a reconnect before the old socket died).
#[derive(Debug)]
pub struct Eviction {
    pub room: RoomName,
    pub why: Evicted,
}

/// Where the hub tells one connection it lost its place in a room.
///
/// Not a tokio channel: an unbounded channel allocates a block of 32 slots
/// (about 1 KiB) when it is made, for every socket, and evictions are rare;
/// an empty list here allocates nothing.
#[derive(Clone, Default)]
pub struct Evictions(Arc<Mailbox>);

#[derive(Default)]
pub(super) struct Mailbox {
    pub(super) pending: SyncMutex<std::collections::VecDeque<Eviction>>,
    pub(super) ready: Notify,
}

impl Evictions {
    pub fn send(&self, eviction: Eviction) {
        self.0
            .pending
            .lock()
            .expect("evictions lock")
            .push_back(eviction);
        // Stores a permit when nobody waits, so no eviction goes unseen.
        self.0.ready.notify_one();
    }

    /// The next eviction, in the order sent. Cancel-safe: one taken is
    /// returned at once, and none is taken before that.
    pub async fn recv(&self) -> Eviction {
        loop {
            if let Some(eviction) = self.0.pending.lock().expect("evictions lock").pop_front() {
                return eviction;
            }
            self.0.ready.notified().await;
        }
    }
}

/// Why a connection lost its place in a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evicted {
    /// A newer connection of the same tab took it.
    Replaced,
    /// The owner closed the room to guests, and this is one.
    ClosedToGuests,
    /// This guest's nickname is now an account's, and the account came in.
    NameRegistered,
    /// A moderator removed this person from the room (they may come back).
    Removed,
    /// A moderator banned this person from the room.
    Banned,
    /// The owner of a private room took this person out of it.
    NoLongerMember,
}
