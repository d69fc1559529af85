//! With several servers: renewing this server's presence lease, holding
//! its names again after Redis lost them, announcing the people of servers
//! that died.

use super::*;

impl RoomHub {
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
    pub(super) async fn hold_again(&self, presence: &SharedPresence) {
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
    pub(super) async fn announce_gone(&self, gone: crate::presence::Gone) {
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
        let said = {
            let _members = room.members.lock().expect("member lock");
            self.notice(&room, &nick, &author, super::Change::Left)
        };
        if let Some(commit) = said {
            Self::stored(room.name.clone(), commit).await;
        }
        self.retire_if_empty(&room).await;
    }
}
