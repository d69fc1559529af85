//! The room hub: who is in which room, and fan-out of each room's entries to
//! every connection in it.
//!
//! Entries are numbered, committed and published by the [`Journal`]; the hub
//! decides membership. A membership change and the enqueueing of its notice
//! happen under the room's member lock, so notices keep the order of the
//! changes. A joining connection subscribes to the feed *before* reading the
//! room's published head, so together the replay (up to head) and the feed
//! (after head) cover every entry; the forwarder drops the few live entries
//! at or below head that both can carry.

use crate::journal::{Journal, Record};
use crate::store::{Appended, Store, StoreError};
use app::messages::{ClientId, Entry, MessageBody, Seq};
use app::people::{Nick, SessionId};
use app::protocol::ServerFrame;
use app::rooms::{RoomName, RoomSummary};
use axum::extract::ws::Utf8Bytes;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex as SyncMutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{Mutex, broadcast, mpsc};

/// Entries a room's feed holds for connections whose forwarder is behind; one
/// further behind is closed (it resumes on reconnect), never skipped. Each
/// slot is allocated up front for every room, so this is kept modest: the
/// byte-bounded outbox behind each forwarder is what absorbs slow sockets.
const FEED_CAPACITY: usize = 512;

/// Identifies one WebSocket connection.
pub type ConnId = u64;

/// Hub failures.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("that nickname is already in use in this room")]
    NickInUse,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A broadcast frame: serialised once, shared by every recipient.
#[derive(Clone, Debug)]
pub struct Broadcast {
    /// The entry's `seq`; `None` for a passing signal (typing) that is
    /// neither stored nor replayed.
    pub seq: Option<Seq>,
    pub frame: Utf8Bytes,
}

struct Member {
    session: SessionId,
    conn: ConnId,
    /// Tells the member's connection when a newer one takes its place.
    evictions: mpsc::UnboundedSender<Eviction>,
}

/// Sent to a connection whose place in `room` a newer connection of the same
/// session took over (a reload, a reconnect before the old socket died).
#[derive(Debug)]
pub struct Eviction {
    pub room: RoomName,
}

pub struct Room {
    pub name: RoomName,
    id: i64,
    feed: broadcast::Sender<Broadcast>,
    /// Last `seq` published to the feed (every entry up to it is committed).
    published: AtomicU64,
    /// Never held across an await.
    members: SyncMutex<HashMap<Nick, Member>>,
    /// Members right now, readable without the lock (the lobby shows it).
    online: AtomicU32,
}

/// A message on its way into the log.
pub struct Posting(crate::journal::Pending);

impl Posting {
    /// Waits for the commit; returns the message's `seq`.
    pub async fn committed(self) -> Result<Seq, HubError> {
        match self.0.committed().await? {
            Appended::New(entry) => Ok(entry.seq),
            Appended::Duplicate(original) => Ok(original),
        }
    }
}

/// What a connection gets for joining.
pub struct Joining {
    pub room: Arc<Room>,
    /// `None` when this connection was already in the room: it keeps its feed.
    pub feed: Option<broadcast::Receiver<Broadcast>>,
    pub online: Vec<Nick>,
    pub head: Seq,
}

pub struct RoomHub {
    store: Store,
    journal: Journal,
    /// How long a dropped connection's member waits for its session to return.
    grace: Duration,
    rooms: Mutex<HashMap<RoomName, Arc<Room>>>,
    next_conn: AtomicU64,
}

impl Room {
    /// Sends a committed entry to every subscriber; called by the journal in
    /// `seq` order.
    pub(crate) fn publish(&self, entry: Entry) {
        let seq = entry.seq;
        let frame = ServerFrame::Entry {
            room: self.name.clone(),
            entry,
        };
        self.published.store(seq, Ordering::Release);
        // No receivers is fine: the entry is already stored.
        let _ = self.feed.send(Broadcast {
            seq: Some(seq),
            frame: frame.to_json().into(),
        });
    }

    /// Tells everyone in the room that `nick` is typing.
    pub fn typing(&self, nick: &Nick) {
        let frame = ServerFrame::Typing {
            room: self.name.clone(),
            nick: nick.clone(),
        };
        let _ = self.feed.send(Broadcast {
            seq: None,
            frame: frame.to_json().into(),
        });
    }

    pub fn id(&self) -> i64 {
        self.id
    }
}

impl RoomHub {
    pub fn new(store: Store, grace: Duration) -> Self {
        Self {
            journal: Journal::start(store.pool().clone()),
            store,
            grace,
            rooms: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(1),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn connection_id(&self) -> ConnId {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    /// The room in memory, loaded from (or created in) the store on first use.
    async fn room(&self, name: &RoomName) -> Result<Arc<Room>, HubError> {
        let mut rooms = self.rooms.lock().await;
        if let Some(room) = rooms.get(name) {
            return Ok(room.clone());
        }
        let row = self.store.open_room(name).await?;
        let room = Arc::new(Room {
            name: name.clone(),
            id: row.id,
            feed: broadcast::channel(FEED_CAPACITY).0,
            published: AtomicU64::new(row.head),
            members: SyncMutex::new(HashMap::new()),
            online: AtomicU32::new(0),
        });
        rooms.insert(name.clone(), room.clone());
        Ok(room)
    }

    /// Puts `nick` in the room for connection `conn`.
    ///
    /// The same session on another connection (a reload, a reconnect) takes the
    /// nickname over silently; another session gets [`HubError::NickInUse`].
    /// Only a real arrival is announced with a "joined" entry.
    pub async fn join(
        &self,
        name: &RoomName,
        nick: &Nick,
        session: &SessionId,
        conn: ConnId,
        evictions: mpsc::UnboundedSender<Eviction>,
    ) -> Result<Joining, HubError> {
        let room = self.room(name).await?;
        let (joining, notice) = {
            let mut members = room.members.lock().expect("member lock");
            let online: Vec<Nick> = members.keys().cloned().collect();
            let announce = match members.get_mut(nick) {
                Some(member) if member.conn == conn => {
                    let head = room.published.load(Ordering::Acquire);
                    drop(members);
                    return Ok(Joining {
                        room,
                        feed: None,
                        online,
                        head,
                    });
                }
                Some(member) if member.session == *session => {
                    let _ = member.evictions.send(Eviction { room: name.clone() });
                    member.conn = conn;
                    member.evictions = evictions.clone();
                    false
                }
                Some(_) => return Err(HubError::NickInUse),
                None => {
                    members.insert(
                        nick.clone(),
                        Member {
                            session: session.clone(),
                            conn,
                            evictions,
                        },
                    );
                    room.online.store(members.len() as u32, Ordering::Relaxed);
                    true
                }
            };
            let feed = room.feed.subscribe();
            let head = room.published.load(Ordering::Acquire);
            let notice = announce.then(|| self.journal.enqueue(&room, nick, Record::Joined));
            let joining = Joining {
                room: room.clone(),
                feed: Some(feed),
                online,
                head,
            };
            (joining, notice)
        };
        if let Some(notice) = notice
            && let Err(err) = notice.committed().await
        {
            // The person is in; only the notice is missing from the log.
            tracing::error!(%err, room = %name, "join notice not stored");
        }
        Ok(joining)
    }

    /// Takes `nick` out of the room if connection `conn` still holds it, and
    /// announces it. A connection replaced by a newer one of the same session
    /// leaves silently.
    pub async fn leave(&self, room: &Arc<Room>, nick: &Nick, conn: ConnId) -> Result<(), HubError> {
        let notice = {
            let mut members = room.members.lock().expect("member lock");
            if members.get(nick).is_none_or(|m| m.conn != conn) {
                return Ok(());
            }
            members.remove(nick);
            room.online.store(members.len() as u32, Ordering::Relaxed);
            self.journal.enqueue(room, nick, Record::Left)
        };
        notice.committed().await?;
        Ok(())
    }

    /// Leaves after the reconnect grace period, for a connection that dropped
    /// rather than left: if the same session joins again meanwhile, the member
    /// now belongs to the new connection and nothing is announced.
    pub fn leave_after_grace(self: &Arc<Self>, room: Arc<Room>, nick: Nick, conn: ConnId) {
        let hub = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(hub.grace).await;
            if let Err(err) = hub.leave(&room, &nick, conn).await {
                tracing::error!(%err, room = %room.name, "leave failed");
            }
        });
    }

    /// Queues a message for the journal, which stores and broadcasts it; the
    /// outcome is its `seq`, or the original's for a resent `client_id`.
    /// Synchronous, so a connection's messages keep their order while the
    /// connection goes on reading (many messages in flight, bigger batches).
    pub fn post(
        &self,
        room: &Arc<Room>,
        nick: &Nick,
        client_id: &ClientId,
        body: &MessageBody,
    ) -> Posting {
        let record = Record::Message {
            client_id: client_id.clone(),
            body: body.clone(),
        };
        Posting(self.journal.enqueue(room, nick, record))
    }

    /// Every known room with how many people are in it, busiest first.
    pub async fn summaries(&self) -> Result<Vec<RoomSummary>, HubError> {
        let names = self.store.room_names().await?;
        let rooms = self.rooms.lock().await;
        let mut list: Vec<RoomSummary> = names
            .into_iter()
            .map(|name| {
                let online = rooms
                    .get(&name)
                    .map_or(0, |r| r.online.load(Ordering::Relaxed));
                RoomSummary { name, online }
            })
            .collect();
        list.sort_by(|a, b| b.online.cmp(&a.online).then_with(|| a.name.cmp(&b.name)));
        Ok(list)
    }
}
