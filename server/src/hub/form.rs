//! Messages posted without a socket (the no-JavaScript form): stored like a
//! socket's `send`, by someone who is not a member of the room.

use super::*;

impl RoomHub {
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
        let creator = self.may_create(nick, &key, author).await?;
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
}

impl RoomHub {
    /// The room `name` in memory for a writer that is not a member (the
    /// assistant writing an answer): kept there, not retired, until
    /// [`RoomHub::let_go`]. Only a room that exists.
    pub async fn hold(&self, name: &RoomName) -> Result<Arc<Room>, HubError> {
        loop {
            let room = self.room(name, None).await?;
            let members = room.members.lock().expect("member lock");
            if room.retired.load(Ordering::Acquire) {
                continue;
            }
            room.posting.fetch_add(1, Ordering::AcqRel);
            drop(members);
            return Ok(room);
        }
    }

    /// Ends a [`RoomHub::hold`].
    pub async fn let_go(&self, room: &Arc<Room>) {
        room.posting.fetch_sub(1, Ordering::AcqRel);
        self.retire_if_empty(room).await;
    }
}
