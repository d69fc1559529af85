//! The SQLite store: one writer connection for every write, a pool of
//! read-only connections for pages and replays.
//!
//! Durability: WAL with `synchronous = FULL`, so a transaction is fsynced to
//! the WAL before its commit returns. An acknowledged message therefore
//! survives `kill -9` of the server *and* a power cut; NORMAL would survive only
//! the former, and "acknowledged" must mean "kept".
//!
//! Concurrency: SQLite allows one writer at a time. Writers that share the
//! single writer connection queue in the pool instead of failing with
//! "database is locked", and each write transaction starts with
//! `BEGIN IMMEDIATE`, so it takes the lock up front instead of upgrading a read
//! (which fails at once, whatever the busy timeout, if anyone else wrote).
//! A write that is one statement (accounts, sessions, room settings) needs no
//! transaction of its own: it runs on the writer as it is.

use super::rows::{
    EntryRow, account_row, departed, kind_word, owned_room, room_names, session_row,
};
use super::{
    AccountRow, Appended, Departed, Draft, Heads, OwnedRoom, RoomRow, SessionRow, StoreError,
    now_ms,
};
use app::messages::{Entry, EntryKind, Seq};
use app::people::Nick;
use app::rooms::RoomName;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Read-only connections serving pages and replays at once.
const READERS: u32 = 8;

/// How often a busy room's `active_at` is brought up to date.
const STAMP_EVERY_MS: i64 = 60_000;
/// Rooms whose last stamp is remembered (then all are forgotten).
const STAMPS_KEPT: usize = 10_000;

#[derive(Clone)]
pub struct SqliteStore {
    /// The one connection that writes.
    writer: SqlitePool,
    readers: SqlitePool,
    /// When each room's `active_at` was last written.
    stamped: Arc<Mutex<HashMap<i64, i64>>>,
}

impl SqliteStore {
    pub async fn open(url: &str) -> Result<Self, StoreError> {
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
        let readers = SqlitePoolOptions::new()
            .max_connections(READERS)
            .connect_with(options.read_only(true))
            .await
            .map_err(open_err)?;
        Ok(Self {
            writer,
            readers,
            stamped: Arc::default(),
        })
    }

    /// A write transaction holding the database's write lock from its start.
    async fn write(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }

    pub async fn open_room(
        &self,
        room: &RoomName,
        creator: Option<i64>,
    ) -> Result<RoomRow, StoreError> {
        let name = room.as_str();
        if let Some(row) = self.room_row(name).await? {
            return Ok(row);
        }
        let now = now_ms();
        let mut tx = self.write().await?;
        sqlx::query!(
            "INSERT INTO rooms (name, created_at, active_at, owner_id) VALUES (?1, ?2, ?2, ?3)
             ON CONFLICT (name) DO NOTHING",
            name,
            now,
            creator
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.room_row(name)
            .await?
            .ok_or_else(|| StoreError::Batch(format!("room {name} vanished after its creation")))
    }

    async fn room_row(&self, name: &str) -> Result<Option<RoomRow>, StoreError> {
        let row = sqlx::query!(
            r#"SELECT id AS "id!: i64",
                      (SELECT COALESCE(MAX(seq), 0) FROM entries WHERE room_id = rooms.id) AS "head!: i64",
                      owner_id, accounts_only AS "accounts_only!: bool"
               FROM rooms WHERE name = ?1"#,
            name
        )
        .fetch_optional(&self.readers)
        .await?;
        Ok(row.map(|row| RoomRow {
            id: row.id,
            head: row.head as Seq,
            owner: row.owner_id,
            accounts_only: row.accounts_only,
        }))
    }

    pub async fn heads(&self, room_ids: &[i64]) -> Result<Vec<(i64, Seq)>, StoreError> {
        let mut heads = Vec::with_capacity(room_ids.len());
        for &room_id in room_ids {
            let head = sqlx::query_scalar!(
                r#"SELECT COALESCE(MAX(seq), 0) AS "head!: i64" FROM entries WHERE room_id = ?1"#,
                room_id
            )
            .fetch_one(&self.readers)
            .await?;
            heads.push((room_id, head as Seq));
        }
        Ok(heads)
    }

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
            r#"SELECT room_id, seq, at, nick, kind, client_id, body,
                      author LIKE 'account:%' AS "account!: bool" FROM entries
             WHERE room_id = ?1 AND seq > ?2 AND seq <= ?3 ORDER BY seq LIMIT ?4"#,
            room_id,
            after,
            upto,
            limit
        )
        .fetch_all(&self.readers)
        .await?
        .into_iter()
        .map(EntryRow::into_entry)
        .collect()
    }

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
            r#"SELECT room_id, seq, at, nick, kind, client_id, body,
                      author LIKE 'account:%' AS "account!: bool" FROM entries
             WHERE room_id = (SELECT id FROM rooms WHERE name = ?1) AND seq < ?2
             ORDER BY seq DESC LIMIT ?3"#,
            name,
            before,
            limit
        )
        .fetch_all(&self.readers)
        .await?
        .into_iter()
        .map(EntryRow::into_entry)
        .collect::<Result<Vec<_>, _>>()?;
        entries.reverse();
        Ok(entries)
    }

    pub async fn room_names(&self, search: &str, limit: u32) -> Result<Vec<RoomName>, StoreError> {
        let pattern = super::like_pattern(search);
        let names = sqlx::query_scalar!(
            r#"SELECT name FROM rooms WHERE lower(name) LIKE ?1 ESCAPE '\'
               ORDER BY active_at DESC, name LIMIT ?2"#,
            pattern,
            limit
        )
        .fetch_all(&self.readers)
        .await?;
        Ok(room_names(&names))
    }

    pub async fn append(
        &self,
        heads: &mut Heads,
        drafts: &[&Draft],
    ) -> Result<Vec<Appended>, StoreError> {
        let mut tx = self.write().await?;
        let mut outcomes = Vec::with_capacity(drafts.len());
        let mut next_heads: HashMap<i64, Seq> = HashMap::new();
        let at = now_ms();
        for draft in drafts {
            let room_id = draft.room_id;
            let head = match next_heads.get(&room_id).or(heads.get(&room_id)) {
                Some(head) => *head,
                None => sqlx::query_scalar!(
                    r#"SELECT COALESCE(MAX(seq), 0) AS "head!: i64" FROM entries WHERE room_id = ?1"#,
                    room_id
                )
                .fetch_one(&mut *tx)
                .await? as Seq,
            };
            let seq = head + 1;
            let (seq_i, nick, kind) = (seq as i64, draft.nick.as_str(), kind_word(&draft.kind));
            let author = draft.author.column();
            let (client_id, body) = match &draft.kind {
                EntryKind::Message { client_id, body } => {
                    (Some(client_id.as_str()), Some(body.as_str()))
                }
                EntryKind::Joined | EntryKind::Left => (None, None),
            };
            let inserted = sqlx::query!(
                "INSERT INTO entries (room_id, seq, at, nick, kind, client_id, body, author)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (room_id, client_id) WHERE client_id IS NOT NULL DO NOTHING",
                room_id,
                seq_i,
                at,
                nick,
                kind,
                client_id,
                body,
                author
            )
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if inserted == 0 {
                let original = sqlx::query_scalar!(
                    r#"SELECT seq AS "seq!: i64" FROM entries WHERE room_id = ?1 AND client_id = ?2"#,
                    room_id,
                    client_id
                )
                .fetch_one(&mut *tx)
                .await?;
                next_heads.insert(room_id, head);
                outcomes.push(Appended::Duplicate(original as Seq));
                continue;
            }
            next_heads.insert(room_id, seq);
            outcomes.push(Appended::New(Entry {
                seq,
                at,
                nick: draft.nick.clone(),
                kind: draft.kind.clone(),
                account: draft.author.is_account(),
            }));
        }
        // The lobby's "recently active" order needs minutes, not
        // milliseconds: a room is stamped at most once a minute.
        let due: Vec<i64> = {
            let stamped = self.stamped.lock().expect("stamp lock");
            next_heads
                .keys()
                .filter(|id| stamped.get(id).is_none_or(|t| at - t >= STAMP_EVERY_MS))
                .copied()
                .collect()
        };
        for room_id in &due {
            sqlx::query!("UPDATE rooms SET active_at = ?1 WHERE id = ?2", at, room_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        heads.extend(next_heads);
        let mut stamped = self.stamped.lock().expect("stamp lock");
        if stamped.len() > STAMPS_KEPT {
            stamped.clear();
        }
        stamped.extend(due.into_iter().map(|id| (id, at)));
        Ok(outcomes)
    }

    pub async fn probe(&self) -> Result<(), StoreError> {
        let now = now_ms();
        let mut tx = self.write().await?;
        sqlx::query!("UPDATE health SET probed_at = ?1 WHERE id = 1", now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn save_departed(&self, departed: &[Departed]) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        sqlx::query!("DELETE FROM departed")
            .execute(&mut *tx)
            .await?;
        for d in departed {
            let (room, nick, session) = (d.room.as_str(), d.nick.as_str(), d.session.as_str());
            sqlx::query!(
                "INSERT INTO departed (room, nick, session) VALUES (?1, ?2, ?3)",
                room,
                nick,
                session
            )
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn take_departed(&self) -> Result<Vec<Departed>, StoreError> {
        let mut tx = self.write().await?;
        let rows = sqlx::query!("SELECT room, nick, session FROM departed")
            .fetch_all(&mut *tx)
            .await?;
        sqlx::query!("DELETE FROM departed")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(rows
            .into_iter()
            .filter_map(|row| departed(&row.room, &row.nick, row.session))
            .collect())
    }

    pub async fn create_account(
        &self,
        name: &Nick,
        key: &str,
        password_hash: &str,
    ) -> Result<Option<i64>, StoreError> {
        let (name, now) = (name.as_str(), now_ms());
        let id = sqlx::query_scalar!(
            r#"INSERT INTO accounts (name, name_key, password_hash, created_at)
               VALUES (?1, ?2, ?3, ?4) ON CONFLICT (name_key) DO NOTHING
               RETURNING id AS "id!: i64""#,
            name,
            key,
            password_hash,
            now
        )
        .fetch_optional(&self.writer)
        .await?;
        Ok(id)
    }

    pub async fn account_by_key(&self, key: &str) -> Result<Option<AccountRow>, StoreError> {
        let row = sqlx::query!(
            r#"SELECT id AS "id!: i64", name, password_hash FROM accounts WHERE name_key = ?1"#,
            key
        )
        .fetch_optional(&self.readers)
        .await?;
        Ok(row.and_then(|r| account_row(r.id, &r.name, r.password_hash)))
    }

    pub async fn account_by_id(&self, id: i64) -> Result<Option<AccountRow>, StoreError> {
        let row = sqlx::query!(
            r#"SELECT id AS "id!: i64", name, password_hash FROM accounts WHERE id = ?1"#,
            id
        )
        .fetch_optional(&self.readers)
        .await?;
        Ok(row.and_then(|r| account_row(r.id, &r.name, r.password_hash)))
    }

    pub async fn set_password(&self, id: i64, password_hash: &str) -> Result<(), StoreError> {
        sqlx::query!(
            "UPDATE accounts SET password_hash = ?1 WHERE id = ?2",
            password_hash,
            id
        )
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub async fn delete_account(&self, id: i64, shown_as: &str) -> Result<(), StoreError> {
        let (author, gone) = (format!("account:{id}"), format!("deleted:{id}"));
        let mut tx = self.write().await?;
        sqlx::query!(
            "UPDATE entries SET nick = ?1, author = ?2 WHERE author = ?3",
            shown_as,
            gone,
            author
        )
        .execute(&mut *tx)
        .await?;
        // Nobody could open its rooms to guests again.
        sqlx::query!("UPDATE rooms SET accounts_only = 0 WHERE owner_id = ?1", id)
            .execute(&mut *tx)
            .await?;
        // Sessions go with it (ON DELETE CASCADE); its rooms lose their owner.
        sqlx::query!("DELETE FROM accounts WHERE id = ?1", id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn create_session(
        &self,
        token_hash: &str,
        account_id: i64,
    ) -> Result<(), StoreError> {
        let now = now_ms();
        sqlx::query!(
            "INSERT INTO sessions (token_hash, account_id, created_at, seen_at) VALUES (?1, ?2, ?3, ?3)",
            token_hash,
            account_id,
            now
        )
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub async fn session(&self, token_hash: &str) -> Result<Option<SessionRow>, StoreError> {
        let row = sqlx::query!(
            r#"SELECT s.account_id AS "account_id!: i64", a.name, s.created_at, s.seen_at
               FROM sessions s JOIN accounts a ON a.id = s.account_id
               WHERE s.token_hash = ?1"#,
            token_hash
        )
        .fetch_optional(&self.readers)
        .await?;
        Ok(row.and_then(|r| session_row(r.account_id, &r.name, r.created_at, r.seen_at)))
    }

    pub async fn touch_session(&self, token_hash: &str) -> Result<(), StoreError> {
        let now = now_ms();
        sqlx::query!(
            "UPDATE sessions SET seen_at = ?1 WHERE token_hash = ?2",
            now,
            token_hash
        )
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query!("DELETE FROM sessions WHERE token_hash = ?1", token_hash)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    pub async fn delete_sessions(
        &self,
        account_id: i64,
        except: Option<&str>,
    ) -> Result<(), StoreError> {
        let except = except.unwrap_or("");
        sqlx::query!(
            "DELETE FROM sessions WHERE account_id = ?1 AND token_hash <> ?2",
            account_id,
            except
        )
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub async fn purge_sessions(
        &self,
        seen_before: i64,
        created_before: i64,
    ) -> Result<u64, StoreError> {
        let gone = sqlx::query!(
            "DELETE FROM sessions WHERE seen_at < ?1 OR created_at < ?2",
            seen_before,
            created_before
        )
        .execute(&self.writer)
        .await?
        .rows_affected();
        Ok(gone)
    }

    pub async fn owned_rooms(&self, account_id: i64) -> Result<Vec<OwnedRoom>, StoreError> {
        let rows = sqlx::query!(
            r#"SELECT name, accounts_only AS "accounts_only!: bool" FROM rooms
               WHERE owner_id = ?1 ORDER BY name"#,
            account_id
        )
        .fetch_all(&self.readers)
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| owned_room(&r.name, r.accounts_only))
            .collect())
    }

    pub async fn set_accounts_only(
        &self,
        room: &RoomName,
        owner: i64,
        on: bool,
    ) -> Result<bool, StoreError> {
        let name = room.as_str();
        let changed = sqlx::query!(
            "UPDATE rooms SET accounts_only = ?1 WHERE name = ?2 AND owner_id = ?3",
            on,
            name,
            owner
        )
        .execute(&self.writer)
        .await?
        .rows_affected();
        Ok(changed == 1)
    }
}
