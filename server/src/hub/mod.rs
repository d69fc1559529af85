//! The room hub: who is in which room, under which name, and the rooms held
//! in memory while anyone is in them.
//!
//! Entries are numbered, committed and published by the [`Journal`]; each
//! room's fan-out is its [`Feed`] from the [`Bus`]; the hub decides membership.
//! A membership change and the enqueueing of its notice happen under the
//! room's member lock, so notices keep the order of the changes. A joining
//! connection subscribes to the feed *before* reading the room's published
//! head, so together the replay (up to head) and the feed (after head) cover
//! every entry.
//!
//! A room nobody is in is dropped from memory (its feed and member map with
//! it) once its last notice is committed; the next join loads it again.
//!
//! Nicknames are unique per room by their [`nick_key`]: letters that look
//! alike, or differ only in case or Unicode form, are the same name. A name
//! an account registered is that account's in every room: a guest cannot take
//! it. A guest's place is held by one connection (a newer one from the same
//! tab takes it over); an account's by all its connections at once (tabs,
//! browsers), and it leaves when the last one does.
//!
//! Layout: this file holds the rooms in memory ([`Room`], [`RoomHub::room`],
//! retiring empty ones) and the writes that go through the journal;
//! - [`members`]: joining, leaving;
//! - [`notices`]: the notices of both, said together when they come close;
//! - [`evictions`]: telling a connection it lost its place;
//! - [`moderation`]: removals, bans, closing a room to guests;
//! - [`form`]: messages posted without a socket;
//! - [`lobby`]: the busiest rooms;
//! - [`cluster`]: the presence lease loop (several servers);
//! - [`restart`]: who returns after a restart.
//!
//! Who may do what is not decided here but in [`crate::access`].

mod cluster;
mod evictions;
mod form;
mod lobby;
mod members;
mod moderation;
mod notices;
mod restart;

pub use evictions::{Evicted, Eviction, Evictions};
pub use members::Joining;
use members::{Departure, Holder, Member};
pub use moderation::SendOutError;
pub use notices::NoticePolicy;
use notices::{Change, Desk, Heard};
use restart::RETURNING;

use crate::bus::{Broadcast, Bus, Control, Feed};
use crate::fanout::Subscription;
use crate::journal::{Commit, Committed, Journal};
use crate::presence::{Claim, SharedPresence};
use crate::store::{Author, Departed, Draft, Refusal, Store, StoreError};
use app::messages::{ClientId, Entry, EntryKind, MessageBody, Seq};
use app::people::{Nick, Person};
use app::rooms::{RoomName, RoomSummary};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex as SyncMutex;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{Mutex, Notify};

/// Identifies one WebSocket connection.
pub type ConnId = u64;

/// Hub failures.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("that nickname is already in use in this room")]
    NickInUse,
    #[error("{0} is a registered name: log in to use it, or pick another nickname")]
    NameReserved(Nick),
    #[error("#{0} is for signed-in people only: log in or sign up to join it")]
    AccountsOnly(RoomName),
    /// The joiner may not announce another arrival yet; try after this long.
    #[error("too many joins; try again in {0:?}")]
    TooManyJoins(Duration),
    /// An edit, deletion or reaction its target does not allow.
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The name under which nicknames (and usernames) are compared for
/// uniqueness: NFC, then the Unicode confusable skeleton (UTS #39), case
/// folded, so `Ana`, `ana`, `АNA` (Cyrillic A) and `ᎪNA` are one name.
///
/// The skeleton turns a capital `I` into `l` (they look alike), which would
/// make `SADIA` and `sadia` two names; so `i` and `l` count as one letter.
pub fn nick_key(nick: &Nick) -> String {
    use unicode_normalization::UnicodeNormalization;
    let once: String =
        unicode_security::skeleton(&nick.as_str().nfc().collect::<String>()).collect();
    let folded: String = unicode_security::skeleton(&once.to_lowercase()).collect();
    folded.replace('i', "l")
}

/// What entries by a deleted account show as; nobody can take this name.
pub const DELETED_USER: &str = "deleted user";

pub struct Room {
    pub name: RoomName,
    id: i64,
    pub feed: Arc<Feed>,
    /// Members by [`nick_key`]. Never held across an await.
    members: SyncMutex<HashMap<String, Member>>,
    /// Members right now, readable without the lock (the lobby shows it).
    online: AtomicU32,
    /// Set (under the member lock) when the hub drops the room from memory:
    /// a join that finds it set starts over with a fresh room.
    retired: AtomicBool,
    /// Form posts on their way into this room's log: it is not dropped (and
    /// a fresh copy with an older head made) until they are published.
    posting: AtomicU32,
    /// Closed to guests by its owner.
    accounts_only: AtomicBool,
    /// Its owner hid its join and leave notices (said as quiet crowds).
    quiet_notices: AtomicBool,
    /// Join and leave notices not said yet. Taken after the member lock.
    desk: SyncMutex<Desk>,
}

impl Room {
    pub fn id(&self) -> i64 {
        self.id
    }

    /// Closed to guests by its owner.
    pub fn accounts_only(&self) -> bool {
        self.accounts_only.load(Ordering::Acquire)
    }

    /// True while connection `conn` holds `nick`'s place in this room.
    pub fn held_by(&self, nick: &Nick, conn: ConnId) -> bool {
        let members = self.members.lock().expect("member lock");
        members
            .get(&nick_key(nick))
            .is_some_and(|m| m.held_by(conn))
    }
}

/// A message on its way into the log.
pub struct Posting(Commit);

impl Posting {
    /// Waits for the commit; returns the message's `seq`.
    pub async fn committed(self) -> Result<Seq, HubError> {
        posted(self.0.outcome().await)
    }
}

/// A posted message's `seq` (its original's, if it was sent before).
fn posted(outcome: crate::journal::Outcome) -> Result<Seq, HubError> {
    match outcome? {
        Committed::New(seq) | Committed::Duplicate(seq) => Ok(seq),
        Committed::Refused(refusal) => Err(refusal.into()),
    }
}

pub struct RoomHub {
    /// The hub itself, for the tasks that say held notices.
    me: std::sync::Weak<RoomHub>,
    notices: NoticePolicy,
    store: Store,
    bus: Bus,
    /// Who holds which name on every server (Redis bus only).
    presence: Option<Arc<SharedPresence>>,
    journal: Journal,
    /// How long a dropped connection's member waits for its session to return.
    grace: Duration,
    /// How far (bytes) a connection may fall behind its room's feed.
    feed_bytes: usize,
    /// Rooms someone is in (or was, a moment ago). Never held across a
    /// database call.
    rooms: Mutex<HashMap<RoomName, Arc<Room>>>,
    next_conn: AtomicU64,
    /// Set when the server starts stopping: members whose connections close
    /// now are kept for the restart instead of announced as gone.
    stopping: AtomicBool,
    /// Rooms dropped from memory so far: a room loaded while one was dropped
    /// may carry a head that is already old, so it is loaded again.
    retirements: AtomicU64,
}

impl RoomHub {
    pub fn new(
        store: Store,
        bus: Bus,
        grace: Duration,
        journal_tries: u32,
        feed_bytes: usize,
        notices: NoticePolicy,
    ) -> Arc<Self> {
        Arc::new_cyclic(|me| Self {
            me: me.clone(),
            notices,
            feed_bytes,
            journal: Journal::start(store.clone(), journal_tries),
            store,
            presence: bus.presence().map(Arc::new),
            bus,
            grace,
            rooms: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(1),
            stopping: AtomicBool::new(false),
            retirements: AtomicU64::new(0),
        })
    }

    /// The store the hub writes through; the server's other parts hold
    /// their own handle to it (tests reach it here).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// What `room` logged after `after` up to `head` (oldest first): a
    /// rejoining connection's missed entries.
    pub async fn missed(
        &self,
        room: &Room,
        after: Seq,
        head: Seq,
    ) -> Result<Vec<Entry>, StoreError> {
        self.store
            .entries_between(room.id, after, head, head.saturating_sub(after) as u32)
            .await
    }

    pub fn bus(&self) -> &Bus {
        &self.bus
    }

    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    pub fn connection_id(&self) -> ConnId {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    /// Rooms held in memory right now.
    pub async fn rooms_in_memory(&self) -> usize {
        self.rooms.lock().await.len()
    }

    /// The room in memory, loaded from (or created in) the store on first
    /// use; a room created by a signed-in person (`creator`) is theirs.
    async fn room(&self, name: &RoomName, creator: Option<i64>) -> Result<Arc<Room>, HubError> {
        loop {
            let retired_before = {
                let rooms = self.rooms.lock().await;
                if let Some(room) = rooms.get(name) {
                    return Ok(room.clone());
                }
                self.retirements.load(Ordering::Acquire)
            };
            // Outside the hub lock: creating a room must not stall every other join.
            let row = self.store.open_room(name, creator).await?;
            let mut rooms = self.rooms.lock().await;
            if let Some(room) = rooms.get(name) {
                return Ok(room.clone());
            }
            if self.retirements.load(Ordering::Acquire) != retired_before {
                continue;
            }
            let room = Arc::new(Room {
                name: name.clone(),
                id: row.id,
                feed: self.bus.feed(name, row.id, row.head, self.feed_bytes),
                members: SyncMutex::new(HashMap::new()),
                online: AtomicU32::new(0),
                retired: AtomicBool::new(false),
                posting: AtomicU32::new(0),
                accounts_only: AtomicBool::new(row.accounts_only),
                quiet_notices: AtomicBool::new(row.quiet_notices),
                desk: SyncMutex::new(Desk::default()),
            });
            rooms.insert(name.clone(), room.clone());
            metrics::gauge!(crate::metrics::ROOMS).set(rooms.len() as f64);
            return Ok(room);
        }
    }

    /// Takes in an arrival or a departure (under the room's member lock, so
    /// the log says them in the order they happened) and says it now or
    /// after the window (see [`notices`]). Said now, its commit is returned
    /// for the caller to await once the lock is dropped: a join is answered,
    /// and a leave done, only once the log holds the notice.
    #[must_use = "a notice said at once is awaited, so a join is answered after it is stored"]
    fn notice(
        &self,
        room: &Arc<Room>,
        nick: &Nick,
        author: &Author,
        change: Change,
    ) -> Option<Commit> {
        let heard = if self.notices.window.is_zero() {
            Heard::SayNow
        } else {
            room.desk
                .lock()
                .expect("desk lock")
                .hear(nick, author, change)
        };
        let mut said = None;
        if heard == Heard::SayNow {
            let quiet = self.quiet(room);
            let (joined, left) = match change {
                Change::Joined => (vec![(nick.clone(), author.clone())], vec![]),
                Change::Left => (vec![], vec![(nick.clone(), author.clone())]),
            };
            said = self.say(room, joined, left, quiet);
        }
        if heard != Heard::Held
            && !self.notices.window.is_zero()
            && let Some(hub) = self.me.upgrade()
        {
            tokio::spawn(hub.say_held(room.clone()));
        }
        said
    }

    /// Says what a room's desk holds at the end of each window, until a
    /// window ends with nothing held.
    async fn say_held(self: Arc<Self>, room: Arc<Room>) {
        loop {
            tokio::time::sleep(self.notices.window).await;
            let Some(commit) = self.say_what_is_held(&room) else {
                break;
            };
            Self::stored(room.name.clone(), commit).await;
            // The room is dropped from memory only once what it held is said.
            self.retire_if_empty(&room).await;
        }
    }

    /// Says what `room`'s desk holds now, as one entry (under the member
    /// lock, like every notice); `None` when it holds nothing, and the desk
    /// closes.
    fn say_what_is_held(&self, room: &Room) -> Option<Commit> {
        let _members = room.members.lock().expect("member lock");
        let (joined, left) = room.desk.lock().expect("desk lock").take()?;
        self.say(room, joined, left, self.quiet(room))
    }

    /// Says `draft`'s author's held arrival, if it is held, before what
    /// they post: the log never shows a message before its author came.
    fn arrival_first(&self, room: &Room, draft: &Draft) {
        let arrival = room
            .desk
            .lock()
            .expect("desk lock")
            .before_speaking(&draft.nick, &draft.author);
        if let Some((nick, author)) = arrival
            && let Some(commit) = self.say(room, vec![(nick, author)], vec![], self.quiet(room))
        {
            tokio::spawn(Self::stored(room.name.clone(), commit));
        }
    }

    /// Notices in `room` are quiet: its owner hid them, or it is too big
    /// for them (`--notices-quiet-above`).
    fn quiet(&self, room: &Room) -> bool {
        room.quiet_notices.load(Ordering::Acquire)
            || room.online.load(Ordering::Relaxed) > self.notices.quiet_above
    }

    fn say(
        &self,
        room: &Room,
        joined: notices::Named,
        left: notices::Named,
        quiet: bool,
    ) -> Option<Commit> {
        let (nick, author, kind) = notices::entry(joined, left, quiet)?;
        Some(
            self.journal
                .enqueue(&room.feed, Draft::new(room.id, &nick, &author, kind)),
        )
    }

    async fn stored(room: RoomName, commit: Commit) {
        if let Err(err) = commit.outcome().await {
            // The people came and went; only the notice is missing.
            tracing::error!(%err, %room, "join or leave notice not stored");
        }
    }

    /// Drops an empty room from memory.
    async fn retire_if_empty(&self, room: &Arc<Room>) {
        let mut rooms = self.rooms.lock().await;
        let members = room.members.lock().expect("member lock");
        if members.is_empty()
            && room.posting.load(Ordering::Acquire) == 0
            && room.desk.lock().expect("desk lock").idle()
            && rooms.get(&room.name).is_some_and(|r| Arc::ptr_eq(r, room))
        {
            room.retired.store(true, Ordering::Release);
            self.retirements.fetch_add(1, Ordering::AcqRel);
            rooms.remove(&room.name);
            metrics::gauge!(crate::metrics::ROOMS).set(rooms.len() as f64);
        }
    }

    /// Queues a message for the journal, which stores and broadcasts it; the
    /// outcome is its `seq`, or the original's for a resent `client_id`.
    /// Synchronous, so a connection's messages keep their order while the
    /// connection goes on reading (many messages in flight, bigger batches).
    pub fn post(&self, room: &Arc<Room>, message: Draft) -> Posting {
        debug_assert_eq!(message.room_id, room.id);
        self.arrival_first(room, &message);
        Posting(self.journal.enqueue(&room.feed, message))
    }

    /// Like [`RoomHub::post`], for a sender that does not wait: `then` is
    /// told the `seq` on the journal's task right after the commit, so it
    /// must be quick (a socket queues its ack).
    pub fn post_then(
        &self,
        room: &Arc<Room>,
        message: Draft,
        then: impl FnOnce(Result<Seq, HubError>) + Send + 'static,
    ) {
        debug_assert_eq!(message.room_id, room.id);
        self.arrival_first(room, &message);
        self.journal
            .enqueue_then(&room.feed, message, move |outcome| then(posted(outcome)));
    }

    /// Queues an edit, deletion or reaction by a member; the store judges it
    /// against its target (`moderator`: may delete anyone's message).
    pub fn act(
        &self,
        room: &Arc<Room>,
        nick: &Nick,
        author: &Author,
        kind: EntryKind,
        moderator: bool,
    ) -> Posting {
        let mut draft = Draft::new(room.id, nick, author, kind);
        draft.moderator = moderator;
        Posting(self.journal.enqueue(&room.feed, draft))
    }
}
