//! The room hub: who is in which room, and fan-out of each room's entries to
//! every connection in it.
//!
//! Each room serialises its writes behind one async lock, held from choosing
//! the next `seq` through the commit to the broadcast. That makes broadcast
//! order equal `seq` order, so a client never sees 5 after 6, and it makes a
//! membership change and its notice one atomic step.

use crate::store::{Appended, Store, StoreError};
use app::messages::{ClientId, Entry, MessageBody, Seq};
use app::people::{Nick, SessionId};
use app::protocol::ServerFrame;
use app::rooms::{RoomName, RoomSummary};
use axum::extract::ws::Utf8Bytes;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{Mutex, broadcast, mpsc};

/// Entries a room's feed holds for connections that are behind; a connection
/// further behind than this is closed (it resumes on reconnect), never skipped.
const FEED_CAPACITY: usize = 4096;

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

/// A broadcast entry: serialised once, shared by every recipient.
#[derive(Clone, Debug)]
pub struct Broadcast {
    pub seq: Seq,
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

struct RoomState {
    head: Seq,
    members: HashMap<Nick, Member>,
}

pub struct Room {
    pub name: RoomName,
    id: i64,
    feed: broadcast::Sender<Broadcast>,
    /// Held across the store write: see the module comment.
    state: Mutex<RoomState>,
    /// Members right now, readable without the lock (the lobby shows it).
    online: AtomicU32,
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
    /// How long a dropped connection's member waits for its session to return.
    grace: Duration,
    rooms: Mutex<HashMap<RoomName, Arc<Room>>>,
    next_conn: AtomicU64,
}

impl Room {
    fn publish(&self, entry: Entry) {
        let seq = entry.seq;
        let frame = ServerFrame::Entry {
            room: self.name.clone(),
            entry,
        };
        // No receivers is fine: the entry is already stored.
        let _ = self.feed.send(Broadcast {
            seq,
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
            state: Mutex::new(RoomState {
                head: row.head,
                members: HashMap::new(),
            }),
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
        let mut state = room.state.lock().await;
        let online: Vec<Nick> = state.members.keys().cloned().collect();
        let head = state.head;
        let announce = match state.members.get_mut(nick) {
            Some(member) if member.conn == conn => {
                drop(state);
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
            None => true,
        };
        let feed = room.feed.subscribe();
        if announce {
            let entry = self
                .store
                .append_notice(room.id, head + 1, nick, true)
                .await?;
            state.head = entry.seq;
            state.members.insert(
                nick.clone(),
                Member {
                    session: session.clone(),
                    conn,
                    evictions,
                },
            );
            room.online
                .store(state.members.len() as u32, Ordering::Relaxed);
            room.publish(entry);
        }
        drop(state);
        Ok(Joining {
            room,
            feed: Some(feed),
            online,
            head,
        })
    }

    /// Takes `nick` out of the room if connection `conn` still holds it, and
    /// announces it. A connection replaced by a newer one of the same session
    /// leaves silently.
    pub async fn leave(&self, room: &Room, nick: &Nick, conn: ConnId) -> Result<(), HubError> {
        let mut state = room.state.lock().await;
        if state.members.get(nick).is_none_or(|m| m.conn != conn) {
            return Ok(());
        }
        state.members.remove(nick);
        room.online
            .store(state.members.len() as u32, Ordering::Relaxed);
        let entry = self
            .store
            .append_notice(room.id, state.head + 1, nick, false)
            .await?;
        state.head = entry.seq;
        room.publish(entry);
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

    /// Stores and broadcasts a message; a resent `client_id` returns the
    /// original's `seq` without storing or broadcasting again.
    pub async fn post(
        &self,
        room: &Room,
        nick: &Nick,
        client_id: &ClientId,
        body: &MessageBody,
    ) -> Result<Seq, HubError> {
        let mut state = room.state.lock().await;
        let seq = state.head + 1;
        match self
            .store
            .append_message(room.id, seq, nick, client_id, body)
            .await?
        {
            Appended::New(entry) => {
                state.head = seq;
                room.publish(entry);
                Ok(seq)
            }
            Appended::Duplicate(original) => Ok(original),
        }
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
