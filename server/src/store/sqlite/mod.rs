//! The SQLite store: the log writer ([`super::sqlite_log`], a thread with
//! its own connection) for the journal's batches, one sqlx writer connection
//! for every other write, a pool of read-only connections for pages and
//! replays.
//!
//! Durability: WAL with `synchronous = FULL`, so a transaction is fsynced to
//! the WAL before its commit returns. An acknowledged message therefore
//! survives `kill -9` of the server *and* a power cut; NORMAL would survive only
//! the former, and "acknowledged" must mean "kept".
//!
//! Concurrency: SQLite allows one writer at a time. The two writer
//! connections wait for each other (busy timeout, 5 s); writers that share
//! the sqlx writer connection queue in the pool instead of failing with
//! "database is locked", and each write transaction starts with
//! `BEGIN IMMEDIATE`, so it takes the lock up front instead of upgrading a read
//! (which fails at once, whatever the busy timeout, if anyone else wrote).
//! A write that is one statement (accounts, sessions, room settings) needs no
//! transaction of its own: it runs on the writer as it is.
//!
//! By table, each file an `impl` of its own: [`log`], [`accounts`], [`moderation`], [`members`], [`media`], [`search`], [`retention`].

mod accounts;
mod keys;
mod log;
mod media;
mod members;
mod moderation;
mod retention;
mod search;

pub(super) use moderation::STANDING_BY_ID;

use super::rows::StandingRow;
use super::rows::{
    AttachmentRow, EntryRow, ReactionRow, account_row, departed, entries, found, media_kind,
    media_kind_word, owned_room, room_names, session_row, standing,
};
use super::sqlite_log::LogWriter;
use super::{
    AccountRow, Appended, Departed, Draft, Found, MediaRow, Member, OwnedRoom, PrivateMember,
    RoomFlag, RoomRow, RosterChange, SessionRow, Standing, StoreError, now_ms,
};
use app::messages::{Entry, Seq};
use app::people::Nick;
use app::rooms::RoomName;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// Read-only connections serving pages and replays at once.
const READERS: u32 = 8;

#[derive(Clone)]
pub struct SqliteStore {
    /// The one connection that writes.
    writer: SqlitePool,
    readers: SqlitePool,
    /// Searches' own connections: a flood of them waits here, and never
    /// takes the readers that logins, joins and history pages need.
    searchers: SqlitePool,
    /// The journal's batches (see [`super::sqlite_log`]).
    log: LogWriter,
}

impl SqliteStore {
    pub async fn open(url: &str, searchers: u32) -> Result<Self, StoreError> {
        let open_err = |source| StoreError::Open {
            url: url.to_owned(),
            source,
        };
        let options = SqliteConnectOptions::from_str(url)
            .map_err(open_err)?
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            // Writers queue here while a batch commits; long enough for a
            // slow disk, short enough that a stuck one is noticed.
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone().create_if_missing(true))
            .await
            .map_err(open_err)?;
        sqlx::migrate!("./migrations/sqlite").run(&writer).await?;
        // A deleted message's words leave the search index at once, instead
        // of lingering in its older segments until they are merged.
        sqlx::query!(
            "INSERT INTO entries_search (entries_search, rank) VALUES ('secure-delete', 1)"
        )
        .execute(&writer)
        .await?;
        let log = LogWriter::open(options.get_filename())?;
        let readers = SqlitePoolOptions::new()
            .max_connections(READERS)
            .connect_with(options.clone().read_only(true))
            .await
            .map_err(open_err)?;
        let searchers = SqlitePoolOptions::new()
            .max_connections(searchers)
            .acquire_timeout(super::SEARCH_WAIT)
            .connect_with(options.read_only(true))
            .await
            .map_err(open_err)?;
        Ok(Self {
            writer,
            readers,
            searchers,
            log,
        })
    }
}

impl SqliteStore {
    /// Pages' and exports' connections.
    pub(super) fn reading_pool(&self) -> &SqlitePool {
        &self.readers
    }
}
