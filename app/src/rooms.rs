//! Rooms: the validated room name, the lobby's room list and its server function.

use serde::{Deserialize, Serialize};
use std::fmt;

pub const ROOM_MAX_CHARS: usize = 64;

/// Why a room name was refused; the text is shown to the person as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoomNameError {
    #[error("Pick a room name.")]
    Empty,
    #[error("A room name can be at most {ROOM_MAX_CHARS} characters.")]
    TooLong,
    #[error("A room name can only use letters, digits, '-' and '_'.")]
    BadChar,
}

/// The first character of a private room's name (`~team`). A name without
/// it is a public room's, made by whoever joins it first; a private room is
/// made only by its owner, and a private name that does not exist answers
/// exactly as one that exists for others: "No such room".
pub const PRIVATE_MARK: char = '~';

/// Random characters a private room's address ends in, after a dash
/// (`~team-4k2x9q0abc`), so nobody finds it by guessing.
pub const PRIVATE_SUFFIX_CHARS: usize = 10;

/// The longest name a private room is made with: its address adds the mark,
/// the dash and the random characters, within a room name's 64.
pub const PRIVATE_NAME_MAX_CHARS: usize = ROOM_MAX_CHARS - 2 - PRIVATE_SUFFIX_CHARS;

/// A room name: 1 to 64 ASCII letters, digits, `-` or `_` (after
/// [`PRIVATE_MARK`] for a private room), so it is its own URL path segment
/// with no escaping and no look-alike characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RoomName(String);

impl RoomName {
    pub fn parse(raw: &str) -> Result<Self, RoomNameError> {
        let name = raw.trim();
        let plain = name.strip_prefix(PRIVATE_MARK).unwrap_or(name);
        if plain.is_empty() {
            return Err(RoomNameError::Empty);
        }
        if name.len() > ROOM_MAX_CHARS {
            return Err(RoomNameError::TooLong);
        }
        if !plain
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(RoomNameError::BadChar);
        }
        Ok(Self(name.to_owned()))
    }

    /// The private room called `name` (which may carry the mark already).
    pub fn private(name: &str) -> Result<Self, RoomNameError> {
        let room = Self::parse(name)?;
        if room.is_private() {
            return Ok(room);
        }
        Self::parse(&format!("{PRIVATE_MARK}{room}"))
    }

    /// Only its members may read it or take part (see [`PRIVATE_MARK`]).
    pub fn is_private(&self) -> bool {
        self.0.starts_with(PRIVATE_MARK)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The room's shareable address.
    pub fn path(&self) -> String {
        crate::navigation::Route::Room.to(self)
    }
}

impl TryFrom<String> for RoomName {
    type Error = RoomNameError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<RoomName> for String {
    fn from(room: RoomName) -> Self {
        room.0
    }
}

impl fmt::Display for RoomName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who may read a private room, as its page shows them to its members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "RosterArray", into = "RosterArray")]
pub struct Roster {
    /// Every member by name, in name order, the owner among them.
    pub members: Vec<crate::people::Nick>,
    pub owner: Option<crate::people::Nick>,
    /// The reader owns the room: they invite people and take them out.
    pub yours: bool,
    /// A direct message: two people, no owner, nobody let in or out.
    pub direct: bool,
}

impl Roster {
    /// The person a direct message is with, as `me` sees it.
    pub fn direct_with(&self, me: Option<&crate::people::Nick>) -> Option<crate::people::Nick> {
        if !self.direct {
            return None;
        }
        self.members.iter().find(|m| Some(*m) != me).cloned()
    }
}

/// A private room or direct message a signed-in person is in, as their
/// sidebar lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "PrivateRoomArray", into = "PrivateRoomArray")]
pub struct PrivateRoom {
    pub room: RoomName,
    /// A direct message's other person.
    pub with: Option<crate::people::Nick>,
}

/// One line of the lobby's room list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "RoomSummaryArray", into = "RoomSummaryArray")]
pub struct RoomSummary {
    pub name: RoomName,
    /// People connected to the room right now.
    pub online: u32,
}

/// Rooms the lobby lists at most.
pub const LOBBY_ROOMS: usize = 50;

/// [`list_rooms`], called from the browser.
pub async fn fetch_rooms(
    search: Option<String>,
) -> Result<Vec<RoomSummary>, crate::api::CallFailed> {
    crate::api::call(&ListRooms { search }).await
}

/// What the lobby's `?q=` searches for: trimmed, at most a room name long.
pub fn lobby_search(q: Option<String>) -> String {
    q.unwrap_or_default()
        .trim()
        .chars()
        .take(ROOM_MAX_CHARS)
        .collect()
}

/// The busiest rooms (most people in them, then the most recently active),
/// at most [`LOBBY_ROOMS`], those whose name contains `search` if given.
// A fixed endpoint (no hash suffix) so tools like `bench` can call it; its
// arguments in JSON, as the browser sends them (`api::call`).
#[leptos::server(prefix = "/api", endpoint = "list_rooms", input = leptos::server_fn::codec::Json)]
pub async fn list_rooms(
    search: Option<String>,
) -> Result<Vec<RoomSummary>, leptos::prelude::ServerFnError> {
    let search = lobby_search(search);
    let backend = crate::backend::from_context()?;
    backend
        .rooms(search, LOBBY_ROOMS)
        .await
        .map_err(crate::backend::to_server_fn_error)
}

/// The private rooms and direct messages of whoever asks (none for a
/// guest), so a browser they sign in on lists them in its sidebar.
#[leptos::server(prefix = "/api", endpoint = "private_rooms", input = leptos::server_fn::codec::Json)]
pub async fn private_rooms() -> Result<Vec<PrivateRoom>, leptos::prelude::ServerFnError> {
    let backend = crate::backend::from_context()?;
    backend
        .private_rooms()
        .await
        .map_err(crate::backend::to_server_fn_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_digits_dash_and_underscore_make_a_room_name() {
        assert_eq!(RoomName::parse("main").unwrap().as_str(), "main");
        assert!(RoomName::parse("Team-42_ops").is_ok());
    }

    #[test]
    fn surrounding_spaces_are_trimmed() {
        assert_eq!(RoomName::parse("  main ").unwrap().as_str(), "main");
    }

    #[test]
    fn empty_long_or_odd_room_names_are_refused() {
        assert_eq!(RoomName::parse(""), Err(RoomNameError::Empty));
        assert!(RoomName::parse(&"a".repeat(64)).is_ok());
        assert_eq!(
            RoomName::parse(&"a".repeat(65)),
            Err(RoomNameError::TooLong)
        );
        assert_eq!(RoomName::parse("a room"), Err(RoomNameError::BadChar));
        assert_eq!(RoomName::parse("../etc"), Err(RoomNameError::BadChar));
        assert_eq!(RoomName::parse("café"), Err(RoomNameError::BadChar));
    }

    #[test]
    fn a_private_name_is_marked_and_follows_the_same_rules() {
        let team = RoomName::private("team").unwrap();
        assert_eq!(team.as_str(), "~team");
        assert!(team.is_private());
        assert_eq!(RoomName::private("~team").unwrap(), team);
        assert_eq!(RoomName::parse("~team").unwrap(), team);
        assert!(!RoomName::parse("team").unwrap().is_private());
        assert_eq!(RoomName::parse("~"), Err(RoomNameError::Empty));
        assert_eq!(RoomName::parse("~~team"), Err(RoomNameError::BadChar));
        assert_eq!(RoomName::parse("te~am"), Err(RoomNameError::BadChar));
        assert_eq!(
            RoomName::private(&"a".repeat(64)),
            Err(RoomNameError::TooLong)
        );
        assert_eq!(team.path(), "/r/~team");
    }

    #[test]
    fn a_room_has_a_shareable_path() {
        assert_eq!(RoomName::parse("main").unwrap().path(), "/r/main");
    }
}

as_array!(Roster, RosterArray, (members: Vec<crate::people::Nick>, owner: Option<crate::people::Nick>, yours: bool, direct: bool));

as_array!(PrivateRoom, PrivateRoomArray, (room: RoomName, with: Option<crate::people::Nick>));

as_array!(RoomSummary, RoomSummaryArray, (name: RoomName, online: u32));
