//! Quiet restarts: who was in which room when the server stopped, kept so
//! that their return is a reconnect, not news.

use super::*;

/// Stands for a member who was in the room when the server last stopped and
/// has not come back yet; no real connection has this id.
pub(super) const RETURNING: ConnId = 0;

impl RoomHub {
    /// The server is stopping: remember who is in which room, so that their
    /// return after the restart is not news (see [`RoomHub::expect_returning`]).
    pub async fn stop(&self) {
        self.stopping.store(true, Ordering::Release);
        // Notices held for their window are said now: after the restart
        // nobody would know of them.
        let held: Vec<(RoomName, Commit)> = {
            let rooms = self.rooms.lock().await;
            rooms
                .values()
                .filter_map(|room| Some((room.name.clone(), self.say_what_is_held(room)?)))
                .collect()
        };
        for (room, commit) in held {
            Self::stored(room, commit).await;
        }
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
