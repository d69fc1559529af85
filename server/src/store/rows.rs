//! Rows as both databases return them, and their checked conversion into the
//! app's validated types.

use super::{AccountRow, Departed, OwnedRoom, SessionRow, StoreError};
use app::messages::{ClientId, Entry, EntryKind, MessageBody, Seq};
use app::people::Nick;
use app::rooms::RoomName;

pub(super) struct EntryRow {
    pub room_id: i64,
    pub seq: i64,
    pub at: i64,
    pub nick: String,
    pub kind: String,
    pub client_id: Option<String>,
    pub body: Option<String>,
    pub account: bool,
}

impl EntryRow {
    pub fn into_entry(self) -> Result<Entry, StoreError> {
        let corrupt = || StoreError::Corrupt {
            room_id: self.room_id,
            seq: self.seq,
        };
        let nick = Nick::parse(&self.nick).map_err(|_| corrupt())?;
        let kind = match (self.kind.as_str(), &self.client_id, &self.body) {
            ("message", Some(client_id), Some(body)) => EntryKind::Message {
                client_id: ClientId::parse(client_id).map_err(|_| corrupt())?,
                body: MessageBody::parse(body).map_err(|_| corrupt())?,
            },
            ("joined", _, _) => EntryKind::Joined,
            ("left", _, _) => EntryKind::Left,
            _ => return Err(corrupt()),
        };
        Ok(Entry {
            seq: self.seq as Seq,
            at: self.at,
            nick,
            kind,
            account: self.account,
        })
    }
}

/// An account as read; a stored name that no longer validates reads as none.
pub(super) fn account_row(id: i64, name: &str, password_hash: String) -> Option<AccountRow> {
    Some(AccountRow {
        id,
        name: Nick::parse(name).ok()?,
        password_hash,
    })
}

/// Room names as read; one that no longer validates is skipped rather than
/// failing the lobby.
pub(super) fn room_names(names: &[String]) -> Vec<RoomName> {
    names
        .iter()
        .filter_map(|n| RoomName::parse(n).ok())
        .collect()
}

/// A shutdown record as read; one that no longer validates reads as none.
pub(super) fn departed(room: &str, nick: &str, session: String) -> Option<Departed> {
    Some(Departed {
        room: RoomName::parse(room).ok()?,
        nick: Nick::parse(nick).ok()?,
        session,
    })
}

/// A session as read; one whose account name no longer validates reads as none.
pub(super) fn session_row(
    account_id: i64,
    name: &str,
    created_at: i64,
    seen_at: i64,
) -> Option<SessionRow> {
    Some(SessionRow {
        account_id,
        name: Nick::parse(name).ok()?,
        created_at,
        seen_at,
    })
}

/// An owned room as read; one whose name no longer validates reads as none.
pub(super) fn owned_room(name: &str, accounts_only: bool) -> Option<OwnedRoom> {
    Some(OwnedRoom {
        name: RoomName::parse(name).ok()?,
        accounts_only,
    })
}

/// The `kind` column's word for an entry kind.
pub(super) fn kind_word(kind: &EntryKind) -> &'static str {
    match kind {
        EntryKind::Message { .. } => "message",
        EntryKind::Joined => "joined",
        EntryKind::Left => "left",
    }
}
