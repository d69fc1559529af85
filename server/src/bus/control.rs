//! What servers tell each other about state each holds in memory (on the
//! `chat:CLUSTER:control` channel): sessions that ended, rooms opened or
//! closed to guests, names taken, people sent out.

use app::rooms::RoomName;

/// What one server tells the others about state they hold in memory.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "what", rename_all = "snake_case")]
pub enum Control {
    /// Sessions of an account ended: their sockets close, on every server.
    SessionsEnded { account_id: i64, ended: Ended },
    /// A room's owner opened or closed it to guests.
    AccountsOnly { room: RoomName, on: bool },
    /// A room's owner hid (or showed again) its join and leave notices.
    QuietNotices { room: RoomName, on: bool },
    /// An account took its registered name (by [`crate::hub::nick_key`])
    /// in a room from a guest: the guest's connections there leave.
    NameTaken { room: RoomName, key: String },
    /// A moderator removed or banned an author (as stored) from a room:
    /// their connections there leave.
    SentOut {
        room: RoomName,
        author: String,
        banned: bool,
    },
    /// The owner of a private room took an account out of it: its
    /// connections there leave.
    NoLongerMember { room: RoomName, account_id: i64 },
    /// An account's keys for an encrypted conversation changed (a device of
    /// its was added, or handed keys): its sockets fetch them again.
    KeysChanged { room: RoomName, account_id: i64 },
    /// Someone asked to stop the assistant's answer in a room (`by` the
    /// author as stored; `moderator` whether they moderate the room): the
    /// server writing it stops it, if it is theirs to stop.
    StopAssistant {
        room: RoomName,
        by: String,
        moderator: bool,
    },
    /// The owner of a private room let an account in, or a direct message
    /// with it (`with` the other person) began: its sockets hear it.
    Invited {
        room: RoomName,
        account_id: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        with: Option<app::people::Nick>,
    },
}

/// Which of an account's sessions ended, by the SHA-256 of their token.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ended {
    /// That one (a logout).
    Session(String),
    /// All but that one (a password change).
    AllBut(String),
    /// Every one (logging out everywhere, deleting the account).
    All,
}

impl Ended {
    /// Whether the session with this token hash is one of them.
    pub fn picks(&self, token_hash: &str) -> bool {
        match self {
            Ended::Session(ended) => ended == token_hash,
            Ended::AllBut(kept) => kept != token_hash,
            Ended::All => true,
        }
    }
}
