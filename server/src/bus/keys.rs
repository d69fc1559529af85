//! The names of everything a cluster keeps in Redis.

/// The names of everything a cluster keeps in Redis, all starting with
/// `chat:CLUSTER:` (the cluster's name comes from its database), so several
/// chats can share one Redis.
#[derive(Clone, Debug)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    pub fn new(cluster: &str) -> Self {
        Self {
            prefix: format!("chat:{cluster}:"),
        }
    }

    /// A room's channel (its entries and typing signals).
    pub fn room(&self, room_id: i64) -> String {
        format!("{}room:{room_id}", self.prefix)
    }

    /// The room id of a room channel's name.
    pub(super) fn room_of(&self, channel: &str) -> Option<i64> {
        channel
            .strip_prefix(&self.prefix)?
            .strip_prefix("room:")?
            .parse()
            .ok()
    }

    /// The channel of [`Control`] messages.
    pub fn control(&self) -> String {
        format!("{}control", self.prefix)
    }

    /// Who holds which name in a room.
    pub fn members(&self, room_id: i64) -> String {
        format!("{}members:{room_id}", self.prefix)
    }

    /// The rooms a server holds names in.
    pub fn rooms_of(&self, server: &str) -> String {
        format!("{}rooms-of:{server}", self.prefix)
    }

    /// A server's lease.
    pub fn lease(&self, server: &str) -> String {
        format!("{}server:{server}", self.prefix)
    }

    /// Every server with a lease (live, or dead and not reaped yet).
    pub fn servers(&self) -> String {
        format!("{}servers", self.prefix)
    }
}
