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

use crate::bus::{Broadcast, Bus, Control, Feed};
use crate::fanout::Subscription;
use crate::journal::{Commit, Committed, Journal};
use crate::presence::{Claim, SharedPresence};
use crate::store::{Author, Departed, Draft, Refusal, Store, StoreError};
use app::messages::{ClientId, EntryKind, MessageBody, Seq};
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

/// Stands for a member who was in the room when the server last stopped and
/// has not come back yet; no real connection has this id.
const RETURNING: ConnId = 0;

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

/// Why a moderator's removal or ban did not happen.
#[derive(Debug, thiserror::Error)]
pub enum SendOutError {
    #[error("that message is not in this room (or its author is gone)")]
    NoSuchMessage,
    #[error("moderators cannot remove themselves, each other or the owner")]
    Protected,
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

struct Member {
    nick: Nick,
    author: Author,
    /// The connections in the room under this name: one for a guest, any
    /// number for an account.
    holders: Vec<Holder>,
}

struct Holder {
    conn: ConnId,
    /// Tells the connection when a newer one takes its place.
    evictions: Option<Evictions>,
}

impl Member {
    fn held_by(&self, conn: ConnId) -> bool {
        self.holders.iter().any(|h| h.conn == conn)
    }

    /// Tells every connection holding this place that it lost it.
    fn send_out(&self, room: &RoomName, why: Evicted) {
        for holder in &self.holders {
            if let Some(evictions) = &holder.evictions {
                evictions.send(Eviction {
                    room: room.clone(),
                    why,
                });
            }
        }
    }

    fn person(&self) -> Person {
        Person {
            nick: self.nick.clone(),
            account: self.author.is_account(),
        }
    }
}

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
struct Mailbox {
    pending: SyncMutex<std::collections::VecDeque<Eviction>>,
    ready: Notify,
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
}

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

/// A member gone from a room on this server: announced already, or (with
/// several servers) not yet known to be news.
enum Departure {
    Announced(Commit),
    Unsure { key: String, member: Member },
}

/// Who joins which room, as [`RoomHub::join`] was asked.
struct Arrival<'a> {
    name: &'a RoomName,
    nick: &'a Nick,
    /// The nickname's [`nick_key`].
    key: String,
    author: &'a Author,
    /// The account that would own the room if this join creates it.
    creator: Option<i64>,
    conn: ConnId,
}

/// What a connection gets for joining.
pub struct Joining {
    pub room: Arc<Room>,
    /// `None` when this connection was already in the room: it keeps its feed.
    pub feed: Option<Subscription<Broadcast>>,
    pub online: Vec<Person>,
    pub head: Seq,
}

pub struct RoomHub {
    store: Store,
    bus: Bus,
    /// Who holds which name on every server (Redis bus only).
    presence: Option<Arc<SharedPresence>>,
    journal: Journal,
    /// How long a dropped connection's member waits for its session to return.
    grace: Duration,
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
    pub fn new(store: Store, bus: Bus, grace: Duration, journal_tries: u32) -> Self {
        Self {
            journal: Journal::start(store.clone(), journal_tries),
            store,
            presence: bus.presence().map(Arc::new),
            bus,
            grace,
            rooms: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(1),
            stopping: AtomicBool::new(false),
            retirements: AtomicU64::new(0),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
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
                feed: self.bus.feed(name, row.id, row.head),
                members: SyncMutex::new(HashMap::new()),
                online: AtomicU32::new(0),
                retired: AtomicBool::new(false),
                posting: AtomicU32::new(0),
                accounts_only: AtomicBool::new(row.accounts_only),
            });
            rooms.insert(name.clone(), room.clone());
            metrics::gauge!(crate::metrics::ROOMS).set(rooms.len() as f64);
            return Ok(room);
        }
    }

    /// Puts `nick` in the room for connection `conn`, written as `author`.
    ///
    /// The same guest session on another connection (a reload, a reconnect)
    /// takes the nickname over silently; another connection of the same
    /// account joins it; anyone else gets [`HubError::NickInUse`]. A guest
    /// cannot take a registered name, nor enter a room closed to guests.
    /// Only a real arrival is announced with a "joined" entry, and only if
    /// `may_announce` (the joiner's budget of announced joins) allows it.
    pub async fn join(
        &self,
        name: &RoomName,
        nick: &Nick,
        author: &Author,
        conn: ConnId,
        evictions: Evictions,
        may_announce: &mut (dyn FnMut() -> Result<(), Duration> + Send),
    ) -> Result<Joining, HubError> {
        let key = nick_key(nick);
        let creator = match author {
            Author::Account(id) => Some(*id),
            Author::Guest(_) => {
                self.check_guest_name(nick, &key).await?;
                None
            }
        };
        // With several servers, the name is claimed across all of them first.
        let (claim, everywhere) = match &self.presence {
            None => (Claim::Local, None),
            Some(presence) => {
                let room = self.room(name, creator).await?;
                let column = author.column();
                let claim = presence
                    .claim(room.id, name.as_str(), &key, &column, nick.as_str())
                    .await;
                if claim == Claim::Taken {
                    return Err(HubError::NickInUse);
                }
                if let Claim::TookFrom { .. } = claim {
                    // Wherever the guest is, it leaves (here: in join_here).
                    self.bus.tell(&Control::NameTaken {
                        room: name.clone(),
                        key: key.clone(),
                    });
                }
                (claim, presence.members(room.id).await)
            }
        };
        let arrival = Arrival {
            name,
            nick,
            key,
            author,
            creator,
            conn,
        };
        let new = claim == Claim::New;
        let joined = self
            .join_here(&arrival, evictions, may_announce, claim, everywhere)
            .await;
        if joined.is_err()
            && new
            && let Some(presence) = &self.presence
            && let Ok(room) = self.room(name, creator).await
        {
            presence
                .release(room.id, &arrival.key, &author.column())
                .await;
        }
        joined
    }

    /// [`RoomHub::join`] once the name is claimed (or there is no one else to
    /// ask): `claim` says whether the arrival is news; `everywhere` is who is
    /// in the room on every server, `(author, nick)`.
    async fn join_here(
        &self,
        arrival: &Arrival<'_>,
        evictions: Evictions,
        may_announce: &mut (dyn FnMut() -> Result<(), Duration> + Send),
        claim: Claim,
        everywhere: Option<Vec<(String, String)>>,
    ) -> Result<Joining, HubError> {
        let Arrival {
            name,
            nick,
            ref key,
            author,
            creator,
            conn,
        } = *arrival;
        let (joining, notice, guest_gone) = loop {
            let mut guest_gone = None;
            let room = self.room(name, creator).await?;
            let mut members = room.members.lock().expect("member lock");
            if room.retired.load(Ordering::Acquire) {
                continue;
            }
            if !author.is_account() && room.accounts_only.load(Ordering::Acquire) {
                return Err(HubError::AccountsOnly(name.clone()));
            }
            let mut online: Vec<Person> = members.values().map(Member::person).collect();
            if let Some(everywhere) = &everywhere {
                online.extend(everywhere.iter().filter_map(|(author, nick)| {
                    let nick = Nick::parse(nick).ok()?;
                    let other = nick_key(&nick);
                    (other != *key && !members.contains_key(&other)).then(|| Person {
                        nick,
                        account: author.starts_with("account:"),
                    })
                }));
            }
            // In name order, as the browser lists them (it then only appends).
            online.sort_unstable_by(|a, b| a.nick.cmp(&b.nick));
            let announce = match members.get_mut(key) {
                Some(member) if member.held_by(conn) => {
                    let head = room.feed.head();
                    drop(members);
                    return Ok(Joining {
                        room,
                        feed: None,
                        online,
                        head,
                    });
                }
                Some(member) if member.author == *author => {
                    let holder = Holder {
                        conn,
                        evictions: Some(evictions.clone()),
                    };
                    match author {
                        Author::Guest(_) => {
                            for old in member.holders.drain(..) {
                                if let Some(old) = old.evictions {
                                    old.send(Eviction {
                                        room: name.clone(),
                                        why: Evicted::Replaced,
                                    });
                                }
                            }
                        }
                        // Every tab of an account stays; one that was
                        // expected back after a restart is here now.
                        Author::Account(_) => member.holders.retain(|h| h.conn != RETURNING),
                    }
                    member.holders.push(holder);
                    member.nick = nick.clone();
                    false
                }
                // A guest holds the name an account has since registered:
                // the account comes in, the guest is sent out.
                Some(member) if author.is_account() && !member.author.is_account() => {
                    may_announce().map_err(HubError::TooManyJoins)?;
                    let guest = std::mem::replace(
                        member,
                        Member {
                            nick: nick.clone(),
                            author: author.clone(),
                            holders: vec![Holder {
                                conn,
                                evictions: Some(evictions.clone()),
                            }],
                        },
                    );
                    guest.send_out(name, Evicted::NameRegistered);
                    guest_gone =
                        Some(self.notice(&room, &guest.nick, &guest.author, EntryKind::Left));
                    true
                }
                Some(_) => return Err(HubError::NickInUse),
                None => {
                    may_announce().map_err(HubError::TooManyJoins)?;
                    // A guest on another server held the name this account
                    // took: announced as gone here, before the account.
                    if let Claim::TookFrom {
                        author: guest,
                        nick: shown,
                    } = &claim
                        && let (Some(guest), Ok(shown)) =
                            (Author::from_column(guest), Nick::parse(shown))
                    {
                        guest_gone = Some(self.notice(&room, &shown, &guest, EntryKind::Left));
                    }
                    members.insert(
                        key.clone(),
                        Member {
                            nick: nick.clone(),
                            author: author.clone(),
                            holders: vec![Holder {
                                conn,
                                evictions: Some(evictions),
                            }],
                        },
                    );
                    room.online.store(members.len() as u32, Ordering::Relaxed);
                    // Held on another server already: not news.
                    claim != Claim::Held
                }
            };
            let (feed, head) = room.feed.subscribe();
            let notice = announce.then(|| self.notice(&room, nick, author, EntryKind::Joined));
            drop(members);
            let joining = Joining {
                room,
                feed: Some(feed),
                online,
                head,
            };
            break (joining, notice, guest_gone);
        };
        if let Some(gone) = guest_gone
            && let Err(err) = gone.outcome().await
        {
            tracing::error!(%err, room = %name, "left notice not stored");
        }
        if let Some(notice) = notice
            && let Err(err) = notice.outcome().await
        {
            // The person is in; only the notice is missing from the log.
            tracing::error!(%err, room = %name, "join notice not stored");
        }
        Ok(joining)
    }

    /// A guest's nickname must not be a registered username (nor the name
    /// deleted accounts' messages show).
    async fn check_guest_name(&self, nick: &Nick, key: &str) -> Result<(), HubError> {
        let deleted = Nick::parse(DELETED_USER).map(|n| nick_key(&n));
        if deleted.as_deref() == Ok(key) || self.store.account_by_key(key).await?.is_some() {
            return Err(HubError::NameReserved(nick.clone()));
        }
        Ok(())
    }

    /// An account took its registered name in the room from a guest, on
    /// another server: this server's connections of that guest leave the
    /// room (the other server announced it).
    pub async fn name_taken(&self, name: &RoomName, key: &str) {
        let Some(room) = self.rooms.lock().await.get(name).cloned() else {
            return;
        };
        {
            let mut members = room.members.lock().expect("member lock");
            if members.get(key).is_none_or(|m| m.author.is_account()) {
                return;
            }
            let guest = members.remove(key).expect("just found");
            guest.send_out(name, Evicted::NameRegistered);
            room.online.store(members.len() as u32, Ordering::Relaxed);
        }
        self.retire_if_empty(&room).await;
    }

    /// Opens or closes a loaded room to guests (the store holds the setting;
    /// a room loaded later reads it from there). Closing it sends the guests
    /// in it out, each announced as gone.
    pub async fn set_accounts_only(&self, name: &RoomName, on: bool) {
        self.send_out_where(
            name,
            Evicted::ClosedToGuests,
            |room| {
                room.accounts_only.store(on, Ordering::Release);
                on
            },
            |member| !member.author.is_account(),
        )
        .await;
    }

    /// A moderator (`by`) sends the author of entry `target` out of `room`
    /// on every server, announced as gone; `ban` also keeps them out (by
    /// author id, so under any name). Moderators and the owner cannot be
    /// sent out, nor can `by` themselves.
    pub async fn send_out_author_of(
        &self,
        room: &Room,
        by: &Author,
        target: Seq,
        ban: bool,
    ) -> Result<Nick, SendOutError> {
        let (column, nick) = self
            .store
            .author_of(room.id, target)
            .await?
            .ok_or(SendOutError::NoSuchMessage)?;
        let author = Author::from_column(&column).ok_or(SendOutError::NoSuchMessage)?;
        let fellow = match &author {
            Author::Account(id) => self.store.may_moderate(room.id, *id).await?,
            Author::Guest(_) => false,
        };
        if author == *by || fellow {
            return Err(SendOutError::Protected);
        }
        if ban {
            self.store.ban(room.id, &column, &nick).await?;
        }
        let why = if ban {
            Evicted::Banned
        } else {
            Evicted::Removed
        };
        self.send_out_author(&room.name, &author, why).await;
        self.bus.tell(&Control::SentOut {
            room: room.name.clone(),
            author: column,
            banned: ban,
        });
        Ok(nick)
    }

    /// Sends `author` out of a loaded room on this server (removed or
    /// banned by a moderator), announced as gone.
    pub async fn send_out_author(&self, name: &RoomName, author: &Author, why: Evicted) {
        self.send_out_where(name, why, |_| true, |member| member.author == *author)
            .await;
    }

    /// Under the room's member lock, `first` runs (false: nobody goes), then
    /// the members `who` picks lose their place (told `why`) and are
    /// announced as gone.
    async fn send_out_where(
        &self,
        name: &RoomName,
        why: Evicted,
        first: impl FnOnce(&Room) -> bool,
        who: impl Fn(&Member) -> bool,
    ) {
        let Some(room) = self.rooms.lock().await.get(name).cloned() else {
            return;
        };
        let departures: Vec<Departure> = {
            let mut members = room.members.lock().expect("member lock");
            if !first(&room) {
                return;
            }
            let going: Vec<String> = members
                .iter()
                .filter(|(_, m)| who(m))
                .map(|(key, _)| key.clone())
                .collect();
            let departures = going
                .into_iter()
                .filter_map(|key| Some((members.remove(&key)?, key)))
                .map(|(member, key)| {
                    member.send_out(name, why);
                    self.depart(&room, key, member)
                })
                .collect();
            room.online.store(members.len() as u32, Ordering::Relaxed);
            departures
        };
        for departure in departures {
            if let Some(notice) = self.announced(&room, departure).await
                && let Err(err) = notice.outcome().await
            {
                tracing::error!(%err, room = %name, "left notice not stored");
            }
        }
        self.retire_if_empty(&room).await;
    }

    /// Someone is no longer in the room on this server (the caller took them
    /// out under the member lock). On one server that is news at once, and
    /// the notice is enqueued now, so notices keep the order of the changes;
    /// with several, only if no other server holds the name (see
    /// [`RoomHub::announced`]).
    fn depart(&self, room: &Room, key: String, member: Member) -> Departure {
        match &self.presence {
            None => Departure::Announced(self.notice(
                room,
                &member.nick,
                &member.author,
                EntryKind::Left,
            )),
            Some(_) => Departure::Unsure { key, member },
        }
    }

    /// The "left" notice of a departure, if it is news: with several servers,
    /// once this server's hold on the name is released and nobody else's is
    /// left (someone who moved to another server is not gone).
    async fn announced(&self, room: &Room, departure: Departure) -> Option<Commit> {
        match departure {
            Departure::Announced(notice) => Some(notice),
            Departure::Unsure { key, member } => {
                let presence = self.presence.as_ref()?;
                let gone = presence
                    .release(room.id, &key, &member.author.column())
                    .await
                    .unwrap_or(true);
                gone.then(|| self.notice(room, &member.nick, &member.author, EntryKind::Left))
            }
        }
    }

    fn notice(&self, room: &Room, nick: &Nick, author: &Author, kind: EntryKind) -> Commit {
        self.journal
            .enqueue(&room.feed, Draft::new(room.id, nick, author, kind))
    }

    /// Takes connection `conn` out of `nick`'s place in the room; when it was
    /// the last one holding it, the person is gone, and that is announced. A
    /// connection replaced by a newer one of the same session leaves silently.
    pub async fn leave(&self, room: &Arc<Room>, nick: &Nick, conn: ConnId) -> Result<(), HubError> {
        let key = nick_key(nick);
        let departure = {
            let mut members = room.members.lock().expect("member lock");
            let Some(member) = members.get_mut(&key).filter(|m| m.held_by(conn)) else {
                return Ok(());
            };
            member.holders.retain(|h| h.conn != conn);
            if !member.holders.is_empty() {
                return Ok(());
            }
            let member = members.remove(&key).expect("just found");
            room.online.store(members.len() as u32, Ordering::Relaxed);
            self.depart(room, key, member)
        };
        let notice = self.announced(room, departure).await;
        let stored = match notice {
            Some(notice) => notice.outcome().await.map(|_| ()),
            None => Ok(()),
        };
        // Only after the notice is published: a join meanwhile still finds
        // this room (and its feed) in memory.
        self.retire_if_empty(room).await;
        stored?;
        Ok(())
    }

    /// Drops an empty room from memory.
    async fn retire_if_empty(&self, room: &Arc<Room>) {
        let mut rooms = self.rooms.lock().await;
        let members = room.members.lock().expect("member lock");
        if members.is_empty()
            && room.posting.load(Ordering::Acquire) == 0
            && rooms.get(&room.name).is_some_and(|r| Arc::ptr_eq(r, room))
        {
            room.retired.store(true, Ordering::Release);
            self.retirements.fetch_add(1, Ordering::AcqRel);
            rooms.remove(&room.name);
            metrics::gauge!(crate::metrics::ROOMS).set(rooms.len() as f64);
        }
    }

    /// Leaves after the reconnect grace period, for a connection that dropped
    /// rather than left: if the same session joins again meanwhile, the member
    /// belongs to the new connection and nothing is announced. While the
    /// server stops, nobody leaves: the restart gives them the grace instead.
    pub fn leave_after_grace(self: &Arc<Self>, room: Arc<Room>, nick: Nick, conn: ConnId) {
        if self.stopping.load(Ordering::Acquire) {
            return;
        }
        let hub = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(hub.grace).await;
            if hub.stopping.load(Ordering::Acquire) {
                return;
            }
            if let Err(err) = hub.leave(&room, &nick, conn).await {
                tracing::error!(%err, room = %room.name, "leave failed");
            }
        });
    }

    /// Queues a message for the journal, which stores and broadcasts it; the
    /// outcome is its `seq`, or the original's for a resent `client_id`.
    /// Synchronous, so a connection's messages keep their order while the
    /// connection goes on reading (many messages in flight, bigger batches).
    pub fn post(&self, room: &Arc<Room>, message: Draft) -> Posting {
        debug_assert_eq!(message.room_id, room.id);
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

    /// Stores a message sent without a socket (a plain form post, for people
    /// without JavaScript), like a socket's `send`: numbered, committed,
    /// broadcast, and stored once per `client_id`. The poster is not a member;
    /// a name a member of the room holds is theirs, so it is refused.
    pub async fn post_without_socket(
        &self,
        name: &RoomName,
        nick: &Nick,
        author: &Author,
        client_id: &ClientId,
        body: &MessageBody,
    ) -> Result<Seq, HubError> {
        let key = nick_key(nick);
        let creator = match author {
            Author::Account(id) => Some(*id),
            Author::Guest(_) => {
                self.check_guest_name(nick, &key).await?;
                None
            }
        };
        let posting = loop {
            let room = self.room(name, creator).await?;
            let members = room.members.lock().expect("member lock");
            if room.retired.load(Ordering::Acquire) {
                continue;
            }
            if !author.is_account() && room.accounts_only.load(Ordering::Acquire) {
                return Err(HubError::AccountsOnly(name.clone()));
            }
            if members.get(&key).is_some_and(|m| m.author != *author) {
                return Err(HubError::NickInUse);
            }
            room.posting.fetch_add(1, Ordering::AcqRel);
            let message = Draft::message(room.id, nick, author, client_id, body);
            let posting = self.post(&room, message);
            drop(members);
            break (posting, room);
        };
        let (posting, room) = posting;
        let seq = posting.committed().await;
        room.posting.fetch_sub(1, Ordering::AcqRel);
        self.retire_if_empty(&room).await;
        seq
    }

    /// The busiest rooms first (most people in them now, then the most
    /// recently active), at most `limit`, those whose name contains `search`.
    pub async fn summaries(
        &self,
        search: &str,
        limit: usize,
    ) -> Result<Vec<RoomSummary>, HubError> {
        let recent = self.store.room_names(search, limit as u32).await?;
        let needle = search.to_lowercase();
        let mut list: Vec<RoomSummary> = {
            let rooms = self.rooms.lock().await;
            let mut live: Vec<RoomSummary> = rooms
                .values()
                .map(|r| RoomSummary {
                    name: r.name.clone(),
                    online: r.online.load(Ordering::Relaxed),
                })
                .filter(|r| r.online > 0 && r.name.as_str().to_lowercase().contains(&needle))
                .collect();
            live.sort_by(|a, b| b.online.cmp(&a.online).then_with(|| a.name.cmp(&b.name)));
            live.truncate(limit);
            live
        };
        for name in recent {
            if list.len() >= limit {
                break;
            }
            if !list.iter().any(|r| r.name == name) {
                list.push(RoomSummary { name, online: 0 });
            }
        }
        Ok(list)
    }

    /// With several servers: renews this server's presence lease, registers
    /// again what it holds when Redis lost it, and announces the people of
    /// servers whose lease expired (see [`crate::presence`]).
    pub fn keep_presence(self: &Arc<Self>) {
        let Some(presence) = self.presence.clone() else {
            return;
        };
        let hub = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(presence.renew_every());
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(hub) = hub.upgrade() else { return };
                if hub.stopping.load(Ordering::Acquire) {
                    // Let the lease lapse: whoever does not come back on
                    // another server is announced as gone by that server.
                    return;
                }
                if presence.renew().await == Some(true) {
                    hub.hold_again(&presence).await;
                }
                for gone in presence.reap().await {
                    hub.announce_gone(gone).await;
                }
            }
        });
    }

    /// Claims again every name held here (Redis came back empty).
    async fn hold_again(&self, presence: &SharedPresence) {
        let rooms: Vec<Arc<Room>> = self.rooms.lock().await.values().cloned().collect();
        for room in rooms {
            let held: Vec<(String, String, String)> = {
                let members = room.members.lock().expect("member lock");
                members
                    .iter()
                    .map(|(key, m)| (key.clone(), m.author.column(), m.nick.as_str().to_owned()))
                    .collect()
            };
            for (key, author, nick) in held {
                presence
                    .claim(room.id, room.name.as_str(), &key, &author, &nick)
                    .await;
            }
        }
    }

    /// Announces that someone a dead server held is gone.
    async fn announce_gone(&self, gone: crate::presence::Gone) {
        let (Ok(name), Ok(nick), Some(author)) = (
            RoomName::parse(&gone.room),
            Nick::parse(&gone.nick),
            Author::from_column(&gone.author),
        ) else {
            return;
        };
        let Ok(room) = self.room(&name, None).await else {
            return;
        };
        let notice = self.notice(&room, &nick, &author, EntryKind::Left);
        if let Err(err) = notice.outcome().await {
            tracing::error!(%err, room = %name, "left notice not stored");
        }
        self.retire_if_empty(&room).await;
    }

    /// The server is stopping: remember who is in which room, so that their
    /// return after the restart is not news (see [`RoomHub::expect_returning`]).
    pub async fn stop(&self) {
        self.stopping.store(true, Ordering::Release);
        if self.presence.is_some() {
            // With several servers, the people here reconnect to another one
            // and keep their names there; the lease this server stops
            // renewing announces, in a while, only those who did not.
            return;
        }
        let departed: Vec<Departed> = {
            let rooms = self.rooms.lock().await;
            rooms
                .values()
                .flat_map(|room| {
                    let members = room.members.lock().expect("member lock");
                    members
                        .values()
                        .map(|m| Departed {
                            room: room.name.clone(),
                            nick: m.nick.clone(),
                            session: m.author.column(),
                        })
                        .collect::<Vec<_>>()
                })
                .collect()
        };
        if let Err(err) = self.store.save_departed(&departed).await {
            tracing::error!(%err, "could not record who was online at shutdown");
        }
    }

    /// After a restart: the members recorded at the last stop hold their names
    /// for the reconnect grace; those who come back (same tab session) resume
    /// silently, the others are announced as gone when it ends.
    pub async fn expect_returning(self: &Arc<Self>) -> Result<(), HubError> {
        if self.presence.is_some() {
            return Ok(());
        }
        for departed in self.store.take_departed().await? {
            let Some(author) = Author::from_column(&departed.session) else {
                continue;
            };
            let room = loop {
                let room = self.room(&departed.room, None).await?;
                let mut members = room.members.lock().expect("member lock");
                if room.retired.load(Ordering::Acquire) {
                    continue;
                }
                members
                    .entry(nick_key(&departed.nick))
                    .or_insert_with(|| Member {
                        nick: departed.nick.clone(),
                        author: author.clone(),
                        holders: vec![Holder {
                            conn: RETURNING,
                            evictions: None,
                        }],
                    });
                room.online.store(members.len() as u32, Ordering::Relaxed);
                drop(members);
                break room;
            };
            self.leave_after_grace(room, departed.nick, RETURNING);
        }
        Ok(())
    }
}
