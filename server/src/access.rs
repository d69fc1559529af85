//! Room access: the one place that answers "may this person do this in this
//! room now?".
//!
//! Every entry point asks it: the socket (join, send, edit, delete, react,
//! remove, ban), the form post, the server functions and pages that read a
//! room's history, search, and media upload and fetch. The rules are one
//! pure function, [`decide`], over a person's [`Standing`] in the room as the
//! store reads it (bans, the owner's accounts-only setting, moderators);
//! never over a value the server shows to others (a client id, a media key
//! in a URL).
//!
//! Checked before a write is not enough: a ban can land between the check
//! and the write. So the store reads the standing again inside each write's
//! own transaction and asks [`decide`] there too (`store::sqlite_log`,
//! `store::postgres`): whatever got past the first check, a banned author's
//! message, edit or reaction is not stored.
//!
//! Rules about one message (only its author edits it; its author or a
//! moderator deletes it) are judged against that message in the same
//! transaction (`store::judge`). A removal is not a standing: the removed
//! person loses their place and may come back.

use crate::store::{Author, Store, StoreError};
use app::protocol::ErrorCode;
use app::rooms::RoomName;

/// What someone wants to do in a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    /// Read its history (pages, server functions, search).
    Read,
    /// Take a place among its members (a socket's `join`).
    Join,
    /// Send a message (socket or form).
    Post,
    Edit,
    Delete,
    React,
    /// Remove or ban someone.
    Moderate,
    /// Share a file in it, as it is (the server checks its type).
    Upload,
    /// Share a file sealed in the browser (opaque bytes): the only kind an
    /// end-to-end encrypted conversation takes, and only such a one.
    UploadSealed,
    /// Download a file shared in it.
    Fetch,
}

impl Act {
    /// Every act, for tables of tests.
    pub const ALL: [Act; 10] = [
        Act::Read,
        Act::Join,
        Act::Post,
        Act::Edit,
        Act::Delete,
        Act::React,
        Act::Moderate,
        Act::Upload,
        Act::UploadSealed,
        Act::Fetch,
    ];
}

/// Who someone is in one room, as the store has it right now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Standing {
    /// A private room (its name says so: `app::rooms::PRIVATE_MARK`).
    pub private: bool,
    /// An account its owner let into a private room (the owner included).
    pub member: bool,
    /// The room's owner closed it to guests.
    pub accounts_only: bool,
    /// A moderator banned this person (account or guest session) from it.
    pub banned: bool,
    /// The room's owner, or a moderator the owner named.
    pub moderator: bool,
    /// A private room's key epoch that messages must be sealed with now (0:
    /// a new one is due); see `app::e2e`.
    pub key_epoch: u32,
}

impl Standing {
    /// Anyone's standing in a room nobody has made yet: a public one has no
    /// rules (whoever joins first makes it); a private one has no members.
    pub fn unmade(room: &RoomName) -> Self {
        Self {
            private: room.is_private(),
            ..Self::default()
        }
    }
}

/// Why not; the text is for the person refused.
#[derive(Debug, thiserror::Error)]
pub enum Denied {
    /// A private room this person is not in, or no room at all: the same
    /// words either way, so nobody outside learns that it exists.
    #[error("No such room.")]
    NoSuchRoom,
    #[error("A moderator banned you from #{0}.")]
    Banned(RoomName),
    #[error("#{0} is for signed-in people only: log in or sign up to take part")]
    AccountsOnly(RoomName),
    #[error("only the room's owner and its moderators can do that")]
    NotModerator,
    /// The room a file was shared in is gone.
    #[error("that is not there any more")]
    Gone,
    /// An encrypted conversation's server must never see a file in the
    /// clear: the browser seals it first.
    #[error("files in an end-to-end encrypted conversation are encrypted in the browser first")]
    Encrypted,
    /// A sealed file in a room that is not encrypted would be one nobody
    /// else can open.
    #[error("this conversation is not end-to-end encrypted: share the file as it is")]
    NotEncrypted,
    /// The store could not say; the detail is logged, never shown.
    #[error("the server could not check that right now; try again")]
    Store(#[from] StoreError),
}

impl Denied {
    /// The HTTP status this refusal is sent with: a private room someone is
    /// not in is not found, as a name nobody took is.
    pub fn http_status(&self) -> axum::http::StatusCode {
        use axum::http::StatusCode;
        match self {
            Denied::NoSuchRoom | Denied::Gone => StatusCode::NOT_FOUND,
            Denied::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
            Denied::Banned(_)
            | Denied::AccountsOnly(_)
            | Denied::NotModerator
            | Denied::Encrypted
            | Denied::NotEncrypted => StatusCode::FORBIDDEN,
        }
    }

    /// The protocol's code for this refusal.
    pub fn code(&self) -> ErrorCode {
        match self {
            Denied::NoSuchRoom => ErrorCode::NoSuchRoom,
            Denied::Banned(_) => ErrorCode::Banned,
            Denied::AccountsOnly(_) => ErrorCode::AccountsOnly,
            Denied::NotModerator => ErrorCode::NotModerator,
            Denied::Gone => ErrorCode::NoSuchMessage,
            Denied::Encrypted => ErrorCode::NotSealed,
            Denied::NotEncrypted => ErrorCode::InvalidFrame,
            Denied::Store(_) => ErrorCode::Internal,
        }
    }
}

/// A refusal without the room's name, as the store judges a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    NoSuchRoom,
    Banned,
    AccountsOnly,
    NotModerator,
    Encrypted,
    NotEncrypted,
}

/// What is allowed, when it is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Granted {
    /// May delete anyone's message and remove or ban people.
    pub moderator: bool,
}

/// The rules. `who` is `None` for a reader nobody knows (no session, no
/// guest cookie): it may read an open room and nothing else it can be
/// refused, since there is nobody to ban.
pub fn decide(who: Option<&Author>, act: Act, standing: &Standing) -> Result<Granted, Rule> {
    let account = who.is_some_and(Author::is_account);
    // First: whoever is not in a private room hears nothing else about it.
    if standing.private && !(account && standing.member) {
        return Err(Rule::NoSuchRoom);
    }
    if standing.banned {
        return Err(Rule::Banned);
    }
    // The server's own assistant is no guest: it answers accounts too.
    if standing.accounts_only && !account && !who.is_some_and(Author::is_bot) {
        return Err(Rule::AccountsOnly);
    }
    let moderator = account && standing.moderator;
    if act == Act::Moderate && !moderator {
        return Err(Rule::NotModerator);
    }
    if act == Act::Upload && standing.private {
        return Err(Rule::Encrypted);
    }
    if act == Act::UploadSealed && !standing.private {
        return Err(Rule::NotEncrypted);
    }
    Ok(Granted { moderator })
}

/// The room access every entry point asks.
#[derive(Clone)]
pub struct Access {
    store: Store,
}

impl Access {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// May `who` do `act` in `room` now? A room that does not exist yet has
    /// no rules: it is made by whoever first joins or posts to it.
    pub async fn check(
        &self,
        room: &RoomName,
        who: Option<&Author>,
        act: Act,
    ) -> Result<Granted, Denied> {
        let standing = self
            .store
            .standings(std::slice::from_ref(room), who)
            .await?
            .pop()
            .map_or_else(|| Standing::unmade(room), |(_, standing)| standing);
        Self::answer(room, who, act, &standing)
    }

    /// Those of `rooms` where `who` may `act` now (all of them read in one
    /// query: a search covers up to 50 rooms).
    pub async fn allowed(
        &self,
        rooms: Vec<RoomName>,
        who: Option<&Author>,
        act: Act,
    ) -> Result<Vec<RoomName>, StoreError> {
        let standings = self.store.standings(&rooms, who).await?;
        Ok(rooms
            .into_iter()
            .filter(|room| {
                let standing = standings
                    .iter()
                    .find(|(name, _)| name == room)
                    .map_or_else(|| Standing::unmade(room), |(_, standing)| *standing);
                decide(who, act, &standing).is_ok()
            })
            .collect())
    }

    /// Whether `who` took a place in room `room_id` (joined it, on any
    /// server, since it was made): a signed-in member's right to its files.
    pub async fn is_member(&self, room_id: i64, who: &Author) -> Result<bool, StoreError> {
        self.store.is_member(room_id, who).await
    }

    /// [`Access::check`] for a room known by its row id (a shared file).
    pub async fn check_id(
        &self,
        room_id: i64,
        who: Option<&Author>,
        act: Act,
    ) -> Result<Granted, Denied> {
        let Some((room, standing)) = self.store.standing_by_id(room_id, who).await? else {
            return Err(Denied::Gone);
        };
        Self::answer(&room, who, act, &standing)
    }

    fn answer(
        room: &RoomName,
        who: Option<&Author>,
        act: Act,
        standing: &Standing,
    ) -> Result<Granted, Denied> {
        decide(who, act, standing).map_err(|rule| match rule {
            Rule::NoSuchRoom => Denied::NoSuchRoom,
            Rule::Banned => Denied::Banned(room.clone()),
            Rule::AccountsOnly => Denied::AccountsOnly(room.clone()),
            Rule::NotModerator => Denied::NotModerator,
            Rule::Encrypted => Denied::Encrypted,
            Rule::NotEncrypted => Denied::NotEncrypted,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::people::SessionId;

    fn guest() -> Author {
        Author::Guest(SessionId::parse("tab-1").unwrap())
    }

    /// Every act, for every kind of person, in every standing: the whole
    /// table, so a new act or rule cannot slip past one of them.
    #[test]
    fn the_rules_as_a_table() {
        let account = Author::Account(7);
        let guest = guest();
        let people: [(&str, Option<&Author>); 3] = [
            ("account", Some(&account)),
            ("guest", Some(&guest)),
            ("nobody", None),
        ];
        for act in Act::ALL {
            for (kind, who) in people {
                // Every combination of the five: bit i of `bits` is field i.
                for bits in 0..32u32 {
                    let on = |i: u32| bits & (1 << i) != 0;
                    let standing = Standing {
                        private: on(0),
                        member: on(1),
                        accounts_only: on(2),
                        banned: on(3),
                        moderator: on(4),
                        key_epoch: 0,
                    };
                    let is_account = kind == "account";
                    let expected = if standing.private && !(is_account && standing.member) {
                        Err(Rule::NoSuchRoom)
                    } else if standing.banned {
                        Err(Rule::Banned)
                    } else if standing.accounts_only && !is_account {
                        Err(Rule::AccountsOnly)
                    } else if act == Act::Moderate && !(is_account && standing.moderator) {
                        Err(Rule::NotModerator)
                    } else if act == Act::Upload && standing.private {
                        Err(Rule::Encrypted)
                    } else if act == Act::UploadSealed && !standing.private {
                        Err(Rule::NotEncrypted)
                    } else {
                        Ok(Granted {
                            moderator: is_account && standing.moderator,
                        })
                    };
                    assert_eq!(
                        decide(who, act, &standing),
                        expected,
                        "{kind} {act:?} {standing:?}"
                    );
                }
            }
        }
    }
}
