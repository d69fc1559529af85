//! The store: every room's log in SQLite, through one sqlx pool.
//!
//! Durability: WAL with `synchronous = FULL`, so a transaction is fsynced to
//! the WAL before its commit returns. An acknowledged message therefore
//! survives `kill -9` of the server *and* a power cut; NORMAL would survive only
//! the former, and "acknowledged" must mean "kept".

use app::messages::{ClientId, Entry, EntryKind, MessageBody, Seq};
use app::people::Nick;
use app::rooms::RoomName;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Store failures; the detail goes to the log, never to a browser.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the database {url}: {source}")]
    Open { url: String, source: sqlx::Error },
    #[error("cannot migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
    #[error("the journal failed to commit a batch: {0}")]
    Batch(String),
    #[error("the journal has stopped")]
    JournalStopped,
    #[error("the database holds an entry that no longer validates (room {room_id}, seq {seq})")]
    Corrupt { room_id: i64, seq: i64 },
}

/// A room's row id and the last `seq` of its log.
#[derive(Debug, Clone, Copy)]
pub struct RoomRow {
    pub id: i64,
    pub head: Seq,
}

/// Result of appending a message: new, or the original of a resend.
#[derive(Debug)]
pub enum Appended {
    New(Entry),
    Duplicate(Seq),
}

#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

struct EntryRow {
    room_id: i64,
    seq: i64,
    at: i64,
    nick: String,
    kind: String,
    client_id: Option<String>,
    body: Option<String>,
}

impl EntryRow {
    fn into_entry(self) -> Result<Entry, StoreError> {
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
        })
    }
}

impl Store {
    /// Opens (creating if missing) the database and brings its schema up to date.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let open_err = |source| StoreError::Open {
            url: url.to_owned(),
            source,
        };
        let options = SqliteConnectOptions::from_str(url)
            .map_err(open_err)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .map_err(open_err)?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Self { pool })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// The room's row, created on first use, with the head of its log.
    pub async fn open_room(&self, room: &RoomName) -> Result<RoomRow, StoreError> {
        let name = room.as_str();
        let now = now_ms();
        sqlx::query!(
            "INSERT INTO rooms (name, created_at) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
            name,
            now
        )
        .execute(&self.pool)
        .await?;
        let row = sqlx::query!(
            r#"SELECT id AS "id!: i64",
                      (SELECT COALESCE(MAX(seq), 0) FROM entries WHERE room_id = rooms.id) AS "head!: i64"
               FROM rooms WHERE name = ?1"#,
            name
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(RoomRow {
            id: row.id,
            head: row.head as Seq,
        })
    }

    /// Entries with `after < seq <= upto`, oldest first, at most `limit`.
    pub async fn entries_between(
        &self,
        room_id: i64,
        after: Seq,
        upto: Seq,
        limit: u32,
    ) -> Result<Vec<Entry>, StoreError> {
        let (after, upto) = (after as i64, upto as i64);
        sqlx::query_as!(
            EntryRow,
            "SELECT room_id, seq, at, nick, kind, client_id, body FROM entries
             WHERE room_id = ?1 AND seq > ?2 AND seq <= ?3 ORDER BY seq LIMIT ?4",
            room_id,
            after,
            upto,
            limit
        )
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(EntryRow::into_entry)
        .collect()
    }

    /// Up to `limit` entries before `before` (or the latest), oldest first.
    pub async fn page(
        &self,
        room: &RoomName,
        before: Option<Seq>,
        limit: u32,
    ) -> Result<Vec<Entry>, StoreError> {
        let name = room.as_str();
        let before = before.map_or(i64::MAX, |b| b.min(i64::MAX as u64) as i64);
        let mut entries = sqlx::query_as!(
            EntryRow,
            "SELECT room_id, seq, at, nick, kind, client_id, body FROM entries
             WHERE room_id = (SELECT id FROM rooms WHERE name = ?1) AND seq < ?2
             ORDER BY seq DESC LIMIT ?3",
            name,
            before,
            limit
        )
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(EntryRow::into_entry)
        .collect::<Result<Vec<_>, _>>()?;
        entries.reverse();
        Ok(entries)
    }

    /// Every room's name.
    pub async fn room_names(&self) -> Result<Vec<RoomName>, StoreError> {
        let names = sqlx::query_scalar!("SELECT name FROM rooms ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        // A name that no longer validates is skipped rather than failing the lobby.
        Ok(names
            .iter()
            .filter_map(|n| RoomName::parse(n).ok())
            .collect())
    }
}
