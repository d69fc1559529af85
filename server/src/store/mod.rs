//! The store: every room's log, and the only place that speaks SQL.
//!
//! [`Store`] is the seam callers use; each database is a variant behind it
//! ([`sqlite`] for one server, the default; [`postgres`] for several servers
//! sharing one database), so callers never know which one they talk to.
//! [`rows`] holds what both read back; [`export`] and [`retention`] hold
//! SQL both run as written. Both check their queries at compile
//! time against the committed `.sqlx/` data (see README.md for regenerating it).

pub mod export;
#[cfg(not(prepare_queries = "sqlite"))]
mod postgres;
mod retention;
mod rows;
#[cfg(not(prepare_queries = "postgres"))]
mod sqlite;
#[cfg(not(prepare_queries = "postgres"))]
mod sqlite_log;

use crate::access::Act;
pub use crate::access::Standing;
use app::media::{Attachment, MediaId, MediaKind};
use app::messages::{ClientId, Entry, EntryKind, MessageBody, Quote, Seq};
use app::people::{Nick, SessionId};
use app::rooms::{PrivateRoom, RoomName};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

#[cfg(not(prepare_queries = "sqlite"))]
pub use postgres::PostgresStore;
#[cfg(not(prepare_queries = "postgres"))]
pub use sqlite::SqliteStore;

/// Store failures; the detail goes to the log, never to a browser.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the database {url}: {source}")]
    Open { url: String, source: sqlx::Error },
    #[error(
        "unsupported database URL {0:?} (expected sqlite://PATH or postgres://USER@HOST/DATABASE)"
    )]
    UnsupportedUrl(String),
    #[error("cannot migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
    #[error("database error in the log writer: {0}")]
    Log(#[from] rusqlite::Error),
    #[error("the journal gave up on a batch: {0}")]
    Batch(String),
    #[error("the journal has stopped")]
    JournalStopped,
    #[error("the database holds an entry that no longer validates (room {room_id}, seq {seq})")]
    Corrupt { room_id: i64, seq: i64 },
}

impl StoreError {
    /// Worth trying again: another writer held the lock, or the database was
    /// briefly unavailable. Malformed data is not.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Query(sqlx::Error::Database(db)) => {
                let code = db.code().unwrap_or_default();
                match code.parse::<i64>() {
                    // SQLite: SQLITE_BUSY (5) and SQLITE_LOCKED (6) with their extended codes.
                    Ok(number) => matches!(number & 0xff, 5 | 6),
                    // PostgreSQL: serialization failure, deadlock, a lock
                    // not granted in time, the connection or the server
                    // going away (classes 08, 57).
                    Err(_) => {
                        matches!(code.as_ref(), "40001" | "40P01" | "55P03")
                            || code.starts_with("08")
                            || code.starts_with("57")
                    }
                }
            }
            StoreError::Query(
                sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::WorkerCrashed,
            ) => true,
            StoreError::Log(rusqlite::Error::SqliteFailure(failure, _)) => matches!(
                failure.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ),
            _ => false,
        }
    }
}

/// A room's row id and the last `seq` of its log.
#[derive(Debug, Clone, Copy)]
pub struct RoomRow {
    pub id: i64,
    pub head: Seq,
    /// The account that created the room, if it was created signed in.
    pub owner: Option<i64>,
    /// Closed to guests by its owner.
    pub accounts_only: bool,
    /// Its owner hid its join and leave notices.
    pub quiet_notices: bool,
}

/// A setting a room's owner turns on and off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoomFlag {
    /// Closed to guests.
    AccountsOnly,
    /// Join and leave notices hidden.
    QuietNotices,
    /// The assistant does not answer in it.
    AssistantOff,
}

impl RoomFlag {
    /// Its column in `rooms` (a fixed name: never text from a request).
    fn column(self) -> &'static str {
        match self {
            RoomFlag::AccountsOnly => "accounts_only",
            RoomFlag::QuietNotices => "quiet_notices",
            RoomFlag::AssistantOff => "assistant_off",
        }
    }
}

/// Who wrote an entry, whatever name it shows. Stored as `account:ID` or
/// `guest:SESSION`, never sent to browsers (a guest's session is what lets
/// a reconnecting tab take its nickname back).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Author {
    Account(i64),
    Guest(SessionId),
    /// The server's assistant, by its name (`crate::assistant`).
    Bot(Nick),
}

impl Author {
    pub fn column(&self) -> String {
        match self {
            Author::Account(id) => format!("account:{id}"),
            Author::Guest(session) => format!("guest:{}", session.as_str()),
            Author::Bot(name) => format!("bot:{name}"),
        }
    }

    /// Reads [`Author::column`] back; a bare session is a guest's (rows
    /// recorded before accounts existed).
    pub fn from_column(text: &str) -> Option<Self> {
        if let Some(id) = text.strip_prefix("account:") {
            return id.parse().ok().map(Author::Account);
        }
        if let Some(name) = text.strip_prefix("bot:") {
            return Nick::parse(name).ok().map(Author::Bot);
        }
        let session = text.strip_prefix("guest:").unwrap_or(text);
        SessionId::parse(session).ok().map(Author::Guest)
    }

    pub fn is_account(&self) -> bool {
        matches!(self, Author::Account(_))
    }

    pub fn is_bot(&self) -> bool {
        matches!(self, Author::Bot(_))
    }
}

/// A registered account as stored.
#[derive(Debug, Clone)]
pub struct AccountRow {
    pub id: i64,
    pub name: Nick,
    /// Argon2id, as a PHC string (`$argon2id$v=19$m=...`).
    pub password_hash: String,
}

/// A signed-in browser's session, with its account's name.
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub account_id: i64,
    pub name: Nick,
    pub created_at: i64,
    pub seen_at: i64,
}

/// A room an account owns, for its account page.
#[derive(Debug, Clone)]
pub struct OwnedRoom {
    pub name: RoomName,
    pub accounts_only: bool,
    pub quiet_notices: bool,
    /// Its owner turned the assistant off in it.
    pub assistant_off: bool,
    /// Its owner has its messages deleted after this many days.
    pub retention_days: Option<u32>,
    /// The moderators its owner named.
    pub moderators: Vec<Nick>,
    /// A private room's members (the owner among them).
    pub members: Vec<Nick>,
}

/// A member of a private room.
#[derive(Debug, Clone)]
pub struct PrivateMember {
    pub nick: Nick,
    pub account_id: i64,
    /// The room's owner (always a member).
    pub owner: bool,
}

/// A direct message between two accounts, as opening it found or made it.
#[derive(Debug, Clone)]
pub struct DirectRoom {
    pub room: RoomName,
    /// The other person.
    pub with: Nick,
    pub with_id: i64,
    /// Made just now (else it was there already).
    pub made: bool,
}

/// What publishing a device did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DevicePublished {
    /// Stored already, the same.
    Known,
    /// New: its account's encrypted conversations (these) are due a new
    /// epoch, and its other devices can hand it their keys.
    Added(Vec<RoomName>),
    /// Another account's device has that id, or it had other keys.
    Taken,
    /// The account has as many devices as it may.
    TooMany,
}

/// What a device's browser says about it when it publishes it (every page
/// load): what it is, to its person, and the session it is used in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceUse {
    /// "Chrome on Linux": a label for people, never a proof of anything.
    pub browser: String,
    /// The session's token hash.
    pub session: Option<String>,
}

/// One of an account's devices, as its account page lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountDevice {
    pub id: app::e2e::DeviceId,
    pub browser: String,
    pub created_at: i64,
    pub seen_at: i64,
    /// The session that last published it (a token hash).
    pub session: Option<String>,
}

/// What removing a device left to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemovedDevice {
    /// The session that last used it, to end.
    pub session: Option<String>,
    /// The account's encrypted conversations, now due a new epoch.
    pub rooms: Vec<RoomName>,
}

/// What publishing a new key epoch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpochMade {
    Done,
    /// Not the next epoch, or not wrapped for exactly the members' devices
    /// now: the maker asks for the room's keys again.
    Conflict,
    /// Not a member's room, or not the member's device.
    NotMember,
}

/// A private room's members, and whether it is a direct message.
#[derive(Debug, Clone)]
pub struct PrivateRoster {
    pub members: Vec<PrivateMember>,
    pub direct: bool,
}

/// What an owner's change to a room's people (its moderators, a private
/// room's members) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RosterChange {
    /// Done, to the account with this id.
    Done(i64),
    /// Not their room (or, for members, not a private one).
    NotOwner,
    NoSuchAccount,
    /// The owner is always a member of their private room.
    Owner,
}

/// An entry on its way into a room's log, before it has a `seq`.
#[derive(Debug, Clone)]
pub struct Draft {
    pub room_id: i64,
    pub nick: Nick,
    pub author: Author,
    pub kind: EntryKind,
    /// For a message: the `seq` it answers (the store quotes it).
    pub reply_to: Option<Seq>,
    /// The author may delete anyone's message in this room.
    pub moderator: bool,
    /// For a message: the author's uploads to this room it attaches.
    pub media: Vec<MediaId>,
}

impl Draft {
    pub fn new(room_id: i64, nick: &Nick, author: &Author, kind: EntryKind) -> Self {
        Self {
            room_id,
            nick: nick.clone(),
            author: author.clone(),
            kind,
            reply_to: None,
            moderator: false,
            media: vec![],
        }
    }

    /// The entry this draft became once stored at `seq`: a message with the
    /// quote of its reply and its files as the store read them.
    pub fn entry(&self, seq: Seq, at: i64, quote: Option<Quote>, files: Vec<Attachment>) -> Entry {
        let mut kind = self.kind.clone();
        if let EntryKind::Message { reply, media, .. } = &mut kind {
            *reply = quote;
            *media = files;
        }
        Entry {
            seq,
            at,
            nick: self.nick.clone(),
            kind,
            account: self.author.is_account(),
            bot: self.author.is_bot(),
        }
    }

    /// A new message (no reply, no files until the caller adds them).
    pub fn message(
        room_id: i64,
        nick: &Nick,
        author: &Author,
        client_id: &ClientId,
        body: &MessageBody,
    ) -> Self {
        let kind = EntryKind::message(client_id.clone(), body.clone());
        Self::new(room_id, nick, author, kind)
    }
}

/// Result of appending a draft: new, the original of a resent message, or
/// an action its target does not allow.
#[derive(Debug, Clone)]
pub enum Appended {
    New(Entry),
    Duplicate(Seq),
    Refused(Refusal),
}

/// Why an edit, deletion or reaction was not stored; the text is for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("that message is not in this room (or was deleted)")]
    NoSuchMessage,
    #[error("you can only edit your own messages")]
    NotYoursToEdit,
    #[error("you can only delete your own messages")]
    NotYoursToDelete,
    #[error("that message has as many different reactions as it can take; add one of those")]
    TooManyReactions,
    #[error("a file attached to it is not your upload to this room, or was sent already")]
    NoSuchMedia,
    /// The author was banned from the room (perhaps a moment ago).
    #[error("a moderator banned you from this room")]
    Banned,
    /// A private room the author is no longer a member of (removed a moment
    /// ago), answered as if it did not exist.
    #[error("No such room.")]
    NoSuchRoom,
    /// The room was closed to guests (perhaps a moment ago).
    #[error("this room is for signed-in people only: log in or sign up to post")]
    AccountsOnly,
    /// Plain text to an end-to-end encrypted conversation.
    #[error(
        "this conversation is end-to-end encrypted: write in it from the app, with JavaScript on"
    )]
    NotSealed,
    /// A sealed-looking body in a room that is not encrypted.
    #[error("this room is not end-to-end encrypted: send the text itself")]
    SealedInPlainRoom,
    /// Sealed with an epoch that is not the room's current one.
    #[error("someone came or went: the message is sealed again with a new key")]
    NewKeyNeeded,
}

impl Refusal {
    /// The protocol's code for this refusal.
    pub fn code(self) -> app::protocol::ErrorCode {
        use app::protocol::ErrorCode;
        match self {
            Refusal::NoSuchMessage => ErrorCode::NoSuchMessage,
            Refusal::NotYoursToEdit | Refusal::NotYoursToDelete => ErrorCode::NotYours,
            Refusal::TooManyReactions => ErrorCode::TooManyReactions,
            Refusal::NoSuchMedia => ErrorCode::NoSuchMedia,
            Refusal::Banned => ErrorCode::Banned,
            Refusal::AccountsOnly => ErrorCode::AccountsOnly,
            Refusal::NoSuchRoom => ErrorCode::NoSuchRoom,
            Refusal::NotSealed => ErrorCode::NotSealed,
            Refusal::NewKeyNeeded => ErrorCode::NewKeyNeeded,
            Refusal::SealedInPlainRoom => ErrorCode::InvalidFrame,
        }
    }
}

/// The act a draft is, under the room's rules; notices (joined, left) are
/// the hub's own record and not a person's act.
pub(crate) fn act_of(kind: &EntryKind) -> Option<Act> {
    match kind {
        EntryKind::Message { .. } => Some(Act::Post),
        EntryKind::Edit(..) => Some(Act::Edit),
        EntryKind::Delete(_) => Some(Act::Delete),
        EntryKind::React(..) => Some(Act::React),
        _ => None,
    }
}

/// The room's rules for `draft`'s author, as its write's transaction read
/// their standing: the check no race can slip past (see [`crate::access`]).
pub(crate) fn judge_author(draft: &Draft, standing: &Standing) -> Result<(), Refusal> {
    let Some(act) = act_of(&draft.kind) else {
        return Ok(());
    };
    match crate::access::decide(Some(&draft.author), act, standing) {
        Ok(_) if standing.private => sealed_as_due(&draft.kind, standing.key_epoch),
        // Readers' browsers would take it for one they cannot open.
        Ok(_) if text_of(&draft.kind).is_some_and(app::e2e::is_sealed) => {
            Err(Refusal::SealedInPlainRoom)
        }
        Ok(_) => Ok(()),
        Err(crate::access::Rule::NoSuchRoom) => Err(Refusal::NoSuchRoom),
        Err(crate::access::Rule::Banned) => Err(Refusal::Banned),
        Err(crate::access::Rule::AccountsOnly) => Err(Refusal::AccountsOnly),
        // Deleting others' messages is judged against the target (`judge`).
        Err(crate::access::Rule::NotModerator) => Ok(()),
        // Not a write's rule (files are refused before they are uploaded).
        Err(crate::access::Rule::Encrypted | crate::access::Rule::NotEncrypted) => Ok(()),
    }
}

/// The text a message or an edit carries.
fn text_of(kind: &EntryKind) -> Option<&str> {
    match kind {
        EntryKind::Message { body, .. } | EntryKind::Edit(_, body) => Some(body.as_str()),
        _ => None,
    }
}

/// In an encrypted conversation, a text (a message, an edit) must be
/// sealed with the room's current key epoch: never stored in the clear, and
/// never sealed with a key someone who left still holds.
fn sealed_as_due(kind: &EntryKind, key_epoch: u32) -> Result<(), Refusal> {
    let Some(body) = text_of(kind) else {
        return Ok(());
    };
    match app::e2e::Sealed::parse(body) {
        None => Err(Refusal::NotSealed),
        Some(sealed) if key_epoch == 0 || sealed.epoch != key_epoch => Err(Refusal::NewKeyNeeded),
        Some(_) => Ok(()),
    }
}

/// What adding keys to a key backup did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackedUp {
    Done,
    /// The account has no key backup (or started a new one meanwhile).
    NoBackup,
    /// Not a private room the account is in.
    NotMember,
}

/// An upload as stored (see `server/src/media`).
#[derive(Debug, Clone)]
pub struct MediaRow {
    pub public_id: String,
    pub room_id: i64,
    /// Who uploaded it, as an [`Author::column`].
    pub uploader: String,
    /// Content address of the bytes served full size.
    pub blob: String,
    /// Content address of a picture's thumbnail.
    pub thumb: Option<String>,
    pub name: String,
    pub content_type: String,
    pub kind: MediaKind,
    pub size: i64,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub created_at: i64,
    /// The message that carries it; `None` until it is sent.
    pub seq: Option<i64>,
}

impl MediaRow {
    /// The attachment as everyone sees it (`None` if its id is no token).
    pub fn attachment(&self) -> Option<Attachment> {
        Some(Attachment {
            id: MediaId::parse(&self.public_id).ok()?,
            name: self.name.clone(),
            size: self.size.max(0) as u64,
            content_type: self.content_type.clone(),
            kind: self.kind,
            width: self.width.and_then(|w| u32::try_from(w).ok()),
            height: self.height.and_then(|h| u32::try_from(h).ok()),
        })
    }
}

/// A member of a room, found by their media key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub room_id: i64,
    /// As an [`Author::column`].
    pub author: String,
}

/// The message an action names, as the store read it under the write lock.
pub(crate) struct TargetRow {
    pub kind: String,
    pub author: String,
}

/// Whether `draft` (an edit, deletion or reaction) may act on its target.
/// Checked by author id, never by name: names are reused. `moderates`: the
/// author moderates the room as the write's transaction reads it, so a
/// moderator unnamed a moment ago deletes nobody else's message (the
/// draft's own flag says only that the sender asked as one).
pub(crate) fn judge(
    draft: &Draft,
    target: Option<&TargetRow>,
    moderates: bool,
) -> Result<(), Refusal> {
    let Some(target) = target.filter(|t| t.kind == "message") else {
        return Err(Refusal::NoSuchMessage);
    };
    let own = Author::from_column(&target.author).as_ref() == Some(&draft.author);
    match draft.kind {
        EntryKind::Edit(..) if !own => Err(Refusal::NotYoursToEdit),
        EntryKind::Delete(..) if !(own || draft.moderator && moderates) => {
            Err(Refusal::NotYoursToDelete)
        }
        _ => Ok(()),
    }
}

/// What a standing query looks up for `who`: the author column (none
/// matches `''`) and the account id (none matches `-1`).
fn standing_keys(who: Option<&Author>) -> (String, i64) {
    let author = who.map(Author::column).unwrap_or_default();
    let account = match who {
        Some(Author::Account(id)) => *id,
        _ => -1,
    };
    (author, account)
}

/// One message found by a search, its matching words between
/// [`app::search::MARK_START`] and [`app::search::MARK_END`].
pub use app::search::Found;

/// Who was in a room when the server stopped, so their return after a restart
/// is a reconnect rather than news.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Departed {
    pub room: RoomName,
    pub nick: Nick,
    pub session: String,
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// `search` as a LIKE pattern matching it anywhere, case-insensitively,
/// with LIKE's wildcards escaped: any input is literal.
pub(crate) fn like_pattern(search: &str) -> String {
    format!(
        "%{}%",
        search
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    )
}

/// How long a search waits for one of them before it is given up.
const SEARCH_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// The store the server was started with.
#[derive(Clone)]
pub enum Store {
    #[cfg(not(prepare_queries = "postgres"))]
    Sqlite(SqliteStore),
    #[cfg(not(prepare_queries = "sqlite"))]
    Postgres(PostgresStore),
}

/// Calls the same method on whichever database this is.
macro_rules! each {
    ($store:expr, $db:ident => $call:expr) => {
        match $store {
            #[cfg(not(prepare_queries = "postgres"))]
            Store::Sqlite($db) => $call,
            #[cfg(not(prepare_queries = "sqlite"))]
            Store::Postgres($db) => $call,
        }
    };
}

impl Store {
    /// Opens (creating if missing) the database named by `url` and brings its
    /// schema up to date; searches get `searchers` connections of their own
    /// (`--search-connections`).
    pub async fn open(url: &str, searchers: u32) -> Result<Self, StoreError> {
        #[cfg(not(prepare_queries = "postgres"))]
        if url.starts_with("sqlite:") {
            return Ok(Store::Sqlite(SqliteStore::open(url, searchers).await?));
        }
        #[cfg(not(prepare_queries = "sqlite"))]
        if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            return Ok(Store::Postgres(PostgresStore::open(url, searchers).await?));
        }
        Err(StoreError::UnsupportedUrl(crate::config::redacted(url)))
    }

    /// Whether several servers can share this database (PostgreSQL can; a
    /// SQLite file is one server's, whose journal keeps heads in memory).
    pub fn is_shared(&self) -> bool {
        match self {
            #[cfg(not(prepare_queries = "postgres"))]
            Store::Sqlite(_) => false,
            #[cfg(not(prepare_queries = "sqlite"))]
            Store::Postgres(_) => true,
        }
    }

    /// The name every server sharing this database knows it by (the prefix
    /// of their Redis keys); a SQLite file is one server's.
    pub async fn cluster_name(&self) -> Result<String, StoreError> {
        match self {
            #[cfg(not(prepare_queries = "postgres"))]
            Store::Sqlite(_) => Ok("local".to_owned()),
            #[cfg(not(prepare_queries = "sqlite"))]
            Store::Postgres(db) => db.cluster_name().await,
        }
    }

    /// Everything the account `id` may download about itself
    /// ([`export::AccountData`]); `None` if there is no such account.
    pub async fn account_data(&self, id: i64) -> Result<Option<export::AccountData>, StoreError> {
        match self {
            #[cfg(not(prepare_queries = "postgres"))]
            Store::Sqlite(db) => export::from_sqlite(db.reading_pool(), id).await,
            #[cfg(not(prepare_queries = "sqlite"))]
            Store::Postgres(db) => export::from_postgres(db.reading_pool(), id).await,
        }
    }

    /// Every room with the retention its owner set (days), for the
    /// retention sweep (`crate::retention`).
    pub async fn retention_rooms(&self) -> Result<Vec<(i64, Option<u32>)>, StoreError> {
        let rooms = each!(self, db => db.retention_rooms().await)?;
        Ok(rooms
            .into_iter()
            .map(|(id, days)| (id, days.and_then(|d| u32::try_from(d).ok())))
            .collect())
    }

    /// Sets the retention of `room` if `owner` owns it; whether it did.
    pub async fn set_retention(
        &self,
        room: &RoomName,
        owner: i64,
        days: Option<u32>,
    ) -> Result<bool, StoreError> {
        let days = days.map(|d| i32::try_from(d).unwrap_or(i32::MAX));
        each!(self, db => db.set_retention(room, owner, days).await)
    }

    /// Deletes, among the room's `batch` oldest entries, those older than
    /// `cutoff` (ms since the epoch) with their search rows, reactions and
    /// files, never the room's newest entry; how many went.
    pub async fn expire(&self, room_id: i64, cutoff: i64, batch: i64) -> Result<u64, StoreError> {
        each!(self, db => db.expire(room_id, cutoff, batch).await)
    }

    /// The room's row, created (owned by `creator`) if it does not exist yet.
    pub async fn open_room(
        &self,
        room: &RoomName,
        creator: Option<i64>,
    ) -> Result<RoomRow, StoreError> {
        each!(self, db => db.open_room(room, creator).await)
    }

    /// Entries with `after < seq <= upto`, oldest first, at most `limit`.
    pub async fn entries_between(
        &self,
        room_id: i64,
        after: Seq,
        upto: Seq,
        limit: u32,
    ) -> Result<Vec<Entry>, StoreError> {
        each!(self, db => db.entries_between(room_id, after, upto, limit).await)
    }

    /// Up to `limit` entries before `before` (or the latest), oldest first.
    pub async fn page(
        &self,
        room: &RoomName,
        before: Option<Seq>,
        limit: u32,
    ) -> Result<Vec<Entry>, StoreError> {
        each!(self, db => db.page(room, before, limit).await)
    }

    /// Up to `limit` room names containing `search` (all when empty), the
    /// most recently active first.
    pub async fn room_names(&self, search: &str, limit: u32) -> Result<Vec<RoomName>, StoreError> {
        each!(self, db => db.room_names(search, limit).await)
    }

    /// Numbers and writes `drafts` in one transaction, in order; a message
    /// whose client id the room already has is not stored again.
    pub async fn append(&self, drafts: Arc<[Draft]>) -> Result<Vec<Appended>, StoreError> {
        match self {
            // A SQLite file is this server's alone: its log writer keeps the
            // rooms' heads in memory.
            #[cfg(not(prepare_queries = "postgres"))]
            Store::Sqlite(db) => db.append(drafts).await,
            // Another server may have written since: PostgreSQL reads every
            // head under its row lock.
            #[cfg(not(prepare_queries = "sqlite"))]
            Store::Postgres(db) => db.append(&drafts).await,
        }
    }

    /// The heads of these rooms' logs as committed (by any server).
    pub async fn heads(&self, room_ids: &[i64]) -> Result<Vec<(i64, Seq)>, StoreError> {
        each!(self, db => db.heads(room_ids).await)
    }

    /// Messages in `rooms` containing every word of `words` (the last one
    /// as a prefix), newest first: `limit` of them after skipping `skip`.
    pub async fn search(
        &self,
        rooms: &[RoomName],
        words: &[String],
        skip: u32,
        limit: u32,
    ) -> Result<Vec<Found>, StoreError> {
        if words.is_empty() || rooms.is_empty() {
            return Ok(vec![]);
        }
        each!(self, db => db.search(rooms, words, skip, limit).await)
    }

    /// Proves the store can still commit a write transaction.
    pub async fn probe(&self) -> Result<(), StoreError> {
        each!(self, db => db.probe().await)
    }

    /// Replaces the record of who was in which room at shutdown.
    pub async fn save_departed(&self, departed: &[Departed]) -> Result<(), StoreError> {
        each!(self, db => db.save_departed(departed).await)
    }

    /// Takes (and forgets) the record of who was in which room at shutdown.
    pub async fn take_departed(&self) -> Result<Vec<Departed>, StoreError> {
        each!(self, db => db.take_departed().await)
    }

    /// Registers a name; `None` when an account already holds its key.
    pub async fn create_account(
        &self,
        name: &Nick,
        key: &str,
        password_hash: &str,
    ) -> Result<Option<i64>, StoreError> {
        each!(self, db => db.create_account(name, key, password_hash).await)
    }

    pub async fn account_by_key(&self, key: &str) -> Result<Option<AccountRow>, StoreError> {
        each!(self, db => db.account_by_key(key).await)
    }

    pub async fn account_by_id(&self, id: i64) -> Result<Option<AccountRow>, StoreError> {
        each!(self, db => db.account_by_id(id).await)
    }

    pub async fn set_password(&self, id: i64, password_hash: &str) -> Result<(), StoreError> {
        each!(self, db => db.set_password(id, password_hash).await)
    }

    /// Removes the account; its entries stay, shown as `shown_as`.
    pub async fn delete_account(&self, id: i64, shown_as: &str) -> Result<(), StoreError> {
        each!(self, db => db.delete_account(id, shown_as).await)
    }

    pub async fn create_session(
        &self,
        token_hash: &str,
        account_id: i64,
    ) -> Result<(), StoreError> {
        each!(self, db => db.create_session(token_hash, account_id).await)
    }

    pub async fn session(&self, token_hash: &str) -> Result<Option<SessionRow>, StoreError> {
        each!(self, db => db.session(token_hash).await)
    }

    /// Which of these sessions still exist (one query, however many).
    pub async fn sessions_that_exist(
        &self,
        token_hashes: &[String],
    ) -> Result<Vec<String>, StoreError> {
        each!(self, db => db.sessions_that_exist(token_hashes).await)
    }

    pub async fn touch_session(&self, token_hash: &str) -> Result<(), StoreError> {
        each!(self, db => db.touch_session(token_hash).await)
    }

    pub async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        each!(self, db => db.delete_session(token_hash).await)
    }

    /// Ends every session of the account but `except`.
    pub async fn delete_sessions(
        &self,
        account_id: i64,
        except: Option<&str>,
    ) -> Result<(), StoreError> {
        each!(self, db => db.delete_sessions(account_id, except).await)
    }

    /// Deletes sessions idle since, or created before, these times (ms); how many.
    pub async fn purge_sessions(
        &self,
        seen_before: i64,
        created_before: i64,
    ) -> Result<u64, StoreError> {
        each!(self, db => db.purge_sessions(seen_before, created_before).await)
    }

    pub async fn owned_rooms(&self, account_id: i64) -> Result<Vec<OwnedRoom>, StoreError> {
        each!(self, db => db.owned_rooms(account_id).await)
    }

    /// The room's owner, or a moderator its owner named.
    /// Claims `room` for the assistant's answer until `until` (ms), across
    /// every server, unless a claim holds it past `now`; whether it did.
    pub async fn claim_assistant_turn(
        &self,
        room: &RoomName,
        until: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        each!(self, db => db.claim_assistant_turn(room, until, now).await)
    }

    pub async fn end_assistant_turn(&self, room: &RoomName) -> Result<(), StoreError> {
        each!(self, db => db.end_assistant_turn(room).await)
    }

    /// Whether `room`'s owner turned the assistant off there.
    pub async fn assistant_off(&self, room: &RoomName) -> Result<bool, StoreError> {
        each!(self, db => db.assistant_off(room).await)
    }

    pub async fn may_moderate(&self, room_id: i64, account_id: i64) -> Result<bool, StoreError> {
        each!(self, db => db.may_moderate(room_id, account_id).await)
    }

    /// Who wrote entry `seq` of the room, as stored (see [`Author`]), and the
    /// name it shows.
    pub async fn author_of(
        &self,
        room_id: i64,
        seq: Seq,
    ) -> Result<Option<(String, Nick)>, StoreError> {
        each!(self, db => db.author_of(room_id, seq).await)
    }

    /// Keeps `author` out of the room from now on.
    pub async fn ban(&self, room_id: i64, author: &str, nick: &Nick) -> Result<(), StoreError> {
        each!(self, db => db.ban(room_id, author, nick).await)
    }

    /// `who`'s standing in each of `rooms` that exists (see
    /// [`crate::access`]), in one query however many rooms.
    pub async fn standings(
        &self,
        rooms: &[RoomName],
        who: Option<&Author>,
    ) -> Result<Vec<(RoomName, Standing)>, StoreError> {
        if rooms.is_empty() {
            return Ok(vec![]);
        }
        let (author, account) = standing_keys(who);
        each!(self, db => db.standings(rooms, &author, account).await)
    }

    /// [`Store::standings`] for one room known by its row id.
    pub async fn standing_by_id(
        &self,
        room_id: i64,
        who: Option<&Author>,
    ) -> Result<Option<(RoomName, Standing)>, StoreError> {
        let (author, account) = standing_keys(who);
        each!(self, db => db.standing_by_id(room_id, &author, account).await)
    }

    /// Names (`on`) or unnames the account whose name key is `key` a
    /// moderator of the room, if `owner` owns it.
    pub async fn set_moderator(
        &self,
        room: &RoomName,
        owner: i64,
        key: &str,
        on: bool,
    ) -> Result<RosterChange, StoreError> {
        each!(self, db => db.set_moderator(room, owner, key, on).await)
    }

    /// Makes the private room `room` (its name marked as private), owned by
    /// `owner`, its first member; false if the name is taken.
    pub async fn create_private_room(
        &self,
        room: &RoomName,
        owner: i64,
    ) -> Result<bool, StoreError> {
        each!(self, db => db.create_private_room(room, owner).await)
    }

    /// Lets (`on`) the account whose name key is `key` into the private room,
    /// or takes them out, if `owner` owns it.
    pub async fn set_member(
        &self,
        room: &RoomName,
        owner: i64,
        key: &str,
        on: bool,
    ) -> Result<RosterChange, StoreError> {
        each!(self, db => db.set_member(room, owner, key, on).await)
    }

    /// A private room's members, in name order.
    pub async fn members(&self, room: &RoomName) -> Result<PrivateRoster, StoreError> {
        each!(self, db => db.members(room).await)
    }

    /// The private rooms and direct messages `account` is a member of.
    pub async fn private_rooms(&self, account: i64) -> Result<Vec<PrivateRoom>, StoreError> {
        each!(self, db => db.private_rooms(account).await)
    }

    /// The direct message between `me` and the account whose name key is
    /// `key`, made as `fresh` if they have none yet; `None` when there is
    /// no such account, or it is `me`.
    pub async fn open_direct(
        &self,
        me: i64,
        key: &str,
        fresh: &RoomName,
    ) -> Result<Option<DirectRoom>, StoreError> {
        each!(self, db => db.open_direct(me, key, fresh).await)
    }

    /// Stores `account`'s device (see [`DevicePublished`]).
    pub async fn publish_device(
        &self,
        account: i64,
        keys: &app::e2e::DeviceKeys,
        used: &DeviceUse,
    ) -> Result<DevicePublished, StoreError> {
        each!(self, db => db.publish_device(account, keys, used).await)
    }

    /// `account`'s devices, the newest first.
    pub async fn account_devices(&self, account: i64) -> Result<Vec<AccountDevice>, StoreError> {
        each!(self, db => db.account_devices(account).await)
    }

    /// Takes `device` away from `account` (see [`RemovedDevice`]); `None`
    /// if it is not one of the account's.
    pub async fn remove_device(
        &self,
        account: i64,
        device: &app::e2e::DeviceId,
    ) -> Result<Option<RemovedDevice>, StoreError> {
        each!(self, db => db.remove_device(account, device).await)
    }

    /// `room`'s keys for `device`, if it is one of `account`'s.
    pub async fn room_keys(
        &self,
        room: &RoomName,
        account: i64,
        device: &app::e2e::DeviceId,
    ) -> Result<Option<app::e2e::RoomKeys>, StoreError> {
        each!(self, db => db.room_keys(room, account, device).await)
    }

    /// Stores epoch keys one of `account`'s devices wrapped for another.
    pub async fn share_keys(
        &self,
        account: i64,
        shared: &app::e2e::SharedKeys,
    ) -> Result<Option<u64>, StoreError> {
        each!(self, db => db.share_keys(account, shared).await)
    }

    /// Starts `account`'s key backup afresh, dropping any older one.
    pub async fn start_key_backup(
        &self,
        account: i64,
        salt: &str,
        check: &str,
    ) -> Result<(), StoreError> {
        each!(self, db => db.start_key_backup(account, salt, check).await)
    }

    /// Adds `keys` of `room` to `account`'s key backup (those of epochs
    /// the room has; one already there stays as it is).
    pub async fn back_up_keys(
        &self,
        account: i64,
        room: &RoomName,
        keys: &[app::e2e::BackedUpKey],
    ) -> Result<BackedUp, StoreError> {
        each!(self, db => db.back_up_keys(account, room, keys).await)
    }

    /// `account`'s key backup, with the keys of the rooms it is still in.
    pub async fn key_backup(
        &self,
        account: i64,
    ) -> Result<Option<app::e2e::KeyBackup>, StoreError> {
        each!(self, db => db.key_backup(account).await)
    }

    /// Stores a new key epoch made by `account`'s device.
    pub async fn new_epoch(
        &self,
        account: i64,
        epoch: &app::e2e::NewEpoch,
    ) -> Result<EpochMade, StoreError> {
        each!(self, db => db.new_epoch(account, epoch).await)
    }

    /// The moderators the room's owner named, by name.
    pub async fn moderators(&self, room: &RoomName) -> Result<Vec<Nick>, StoreError> {
        each!(self, db => db.moderators(room).await)
    }

    /// Turns `flag` on or off in `room`; false when `owner` does not own it.
    pub async fn set_room_flag(
        &self,
        room: &RoomName,
        owner: i64,
        flag: RoomFlag,
        on: bool,
    ) -> Result<bool, StoreError> {
        each!(self, db => db.set_room_flag(room, owner, flag, on).await)
    }

    /// The key `author` uploads to and fetches the room's media with,
    /// made (from `fresh`) the first time they join it.
    pub async fn member_key(
        &self,
        room_id: i64,
        author: &Author,
        fresh: &str,
    ) -> Result<String, StoreError> {
        each!(self, db => db.member_key(room_id, &author.column(), fresh).await)
    }

    /// Whose media key `key` is (none for a key never made, or a member
    /// since banned).
    pub async fn member_by_key(&self, key: &str) -> Result<Option<Member>, StoreError> {
        each!(self, db => db.member_by_key(key).await)
    }

    /// Whether `author` has joined the room (and was not banned since).
    pub async fn is_member(&self, room_id: i64, author: &Author) -> Result<bool, StoreError> {
        each!(self, db => db.is_member(room_id, &author.column()).await)
    }

    /// Bytes `uploader` uploaded since `since` (ms since the epoch), sent or not.
    pub async fn uploaded_since(&self, uploader: &str, since: i64) -> Result<i64, StoreError> {
        each!(self, db => db.uploaded_since(uploader, since).await)
    }

    /// Bytes all uploads hold, counted once per upload (a blob two uploads
    /// share counts twice; thumbnails not at all): the media store's size,
    /// near enough for its cap.
    pub async fn media_bytes(&self) -> Result<i64, StoreError> {
        each!(self, db => db.media_bytes().await)
    }

    pub async fn insert_media(&self, row: &MediaRow) -> Result<(), StoreError> {
        each!(self, db => db.insert_media(row).await)
    }

    pub async fn media(&self, public_id: &str) -> Result<Option<MediaRow>, StoreError> {
        each!(self, db => db.media(public_id).await)
    }

    /// Uploads never sent by `before` become orphans (their blobs are
    /// checked and deleted like a deleted message's); how many there were.
    pub async fn expire_unsent(&self, before: i64) -> Result<u64, StoreError> {
        each!(self, db => db.expire_unsent(before).await)
    }

    /// Up to `limit` blobs that may have lost their last upload.
    pub async fn orphans(&self, limit: i64) -> Result<Vec<String>, StoreError> {
        each!(self, db => db.orphans(limit).await)
    }

    /// Whether any upload still refers to `blob`.
    pub async fn blob_in_use(&self, blob: &str) -> Result<bool, StoreError> {
        each!(self, db => db.blob_in_use(blob).await)
    }

    pub async fn forget_orphan(&self, blob: &str) -> Result<(), StoreError> {
        each!(self, db => db.forget_orphan(blob).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deletion_of_someone_elses_message_needs_a_moderator_at_the_moment_of_the_write() {
        let nick = Nick::parse("sadia").unwrap();
        let target = TargetRow {
            kind: "message".into(),
            author: "account:2".into(),
        };
        let mut draft = Draft::new(1, &nick, &Author::Account(1), EntryKind::Delete(5));
        draft.moderator = true;
        assert_eq!(judge(&draft, Some(&target), true), Ok(()));
        assert_eq!(
            judge(&draft, Some(&target), false),
            Err(Refusal::NotYoursToDelete),
            "unnamed between the check and the write"
        );
        draft.moderator = false;
        assert_eq!(
            judge(&draft, Some(&target), true),
            Err(Refusal::NotYoursToDelete),
            "not asked as a moderator"
        );
        let own = TargetRow {
            kind: "message".into(),
            author: "account:1".into(),
        };
        assert_eq!(judge(&draft, Some(&own), false), Ok(()), "one's own");
    }
}
