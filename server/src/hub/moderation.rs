//! Sending people out of a room: a moderator's removal or ban, and the
//! owner closing the room to guests.

use super::*;

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

impl RoomHub {
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

    /// Hides or shows a loaded room's join and leave notices (the store
    /// holds the setting; a room loaded later reads it from there).
    pub async fn set_quiet_notices(&self, name: &RoomName, on: bool) {
        if let Some(room) = self.rooms.lock().await.get(name) {
            room.quiet_notices.store(on, Ordering::Release);
        }
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
            // Its owner turns the assistant off for a room instead.
            Author::Bot(_) => true,
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
    pub(super) async fn send_out_where(
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
            self.announce(&room, departure).await;
        }
        self.retire_if_empty(&room).await;
    }
}
