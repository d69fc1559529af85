//! The PostgreSQL store, for several servers sharing one database.
//!
//! Numbering: every batch locks the rows of the rooms it writes to (in id
//! order, so two servers' batches never wait on each other in a cycle), reads
//! their `head`, inserts its entries and moves the heads on, all in one
//! transaction. Another server appending to the same room waits for the lock
//! and then sees the new head, so a room's log stays one gap-free sequence
//! whichever servers write to it, and a resent client id finds its original
//! whichever server stored it. Nothing is cached between batches: another
//! server may have written since.
//!
//! Durability is PostgreSQL's: a commit returns once its WAL record is
//! flushed (`synchronous_commit = on`, the default).
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

use super::rows::StandingRow;
use super::rows::{
    AttachmentRow, EntryRow, ReactionRow, account_row, columns, departed, entries, found,
    media_kind, media_kind_word, owned_room, quote, room_names, session_row, standing,
};
use super::{
    AccountRow, Appended, Departed, Draft, Found, MediaRow, Member, OwnedRoom, PrivateMember,
    Refusal, RoomFlag, RoomRow, RosterChange, SessionRow, Standing, StoreError, TargetRow, act_of,
    judge, judge_author, now_ms,
};
use crate::config::redacted;
use app::media::Attachment;
use app::messages::{Entry, EntryKind, REACTIONS_MAX, Seq};
use app::people::Nick;
use app::rooms::RoomName;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, Transaction};
use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

/// Connections per server: the journal's batches, pages, replays and
/// account lookups share them.
const CONNECTIONS: u32 = 10;

#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// Searches' own connections (see `SqliteStore::searchers`).
    searchers: PgPool,
}

impl PostgresStore {
    pub async fn open(url: &str, searchers: u32) -> Result<Self, StoreError> {
        let open_err = |source| StoreError::Open {
            url: redacted(url),
            source,
        };
        // Said at once: a database that does not answer takes the pool's
        // whole acquire timeout to be reported.
        tracing::info!(url = %redacted(url), "connecting to PostgreSQL");
        // A write waiting on a lock gives up after a while (like SQLite's busy
        // timeout), so the journal can retry it or report it, never hang.
        let options = PgConnectOptions::from_str(url)
            .map_err(open_err)?
            .options([("lock_timeout", "5s")]);
        let pool = PgPoolOptions::new()
            .max_connections(CONNECTIONS)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone())
            .await
            .map_err(open_err)?;
        let searchers = PgPoolOptions::new()
            .max_connections(searchers)
            .acquire_timeout(super::SEARCH_WAIT)
            // A search is given up by the database too, not only by its caller.
            .connect_lazy_with(options.options([
                ("statement_timeout", "2s"),
                // Planned for its own words each time: whether to walk a room
                // backwards or read the index depends on how common they are.
                ("plan_cache_mode", "force_custom_plan"),
            ]));
        // sqlx holds an advisory lock while migrating: servers starting
        // together migrate once.
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(Self { pool, searchers })
    }
}

impl PostgresStore {
    pub(super) fn reading_pool(&self) -> &PgPool {
        &self.pool
    }
}
