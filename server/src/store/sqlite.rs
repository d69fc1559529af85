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

use super::rows::{
    AttachmentRow, EntryRow, ReactionRow, account_row, departed, entries, found, media_kind,
    media_kind_word, owned_room, room_names, session_row,
};
use super::sqlite_log::LogWriter;
use super::{
    AccountRow, Appended, Departed, Draft, Found, MediaRow, Member, ModeratorChange, OwnedRoom,
    RoomRow, SessionRow, Standing, StoreError, now_ms,
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
            .max_connections(super::SEARCHERS)
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

    /// Numbers and writes `drafts` in one transaction on the log writer's
    /// thread (which keeps the rooms' heads itself).
    pub async fn append(&self, drafts: Arc<[Draft]>) -> Result<Vec<Appended>, StoreError> {
        self.log.append(drafts).await
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
        let rows = sqlx::query_as!(
            EntryRow,
            r#"SELECT e.room_id, e.seq, e.at, e.nick, e.kind, e.client_id, e.body,
                      e.author LIKE 'account:%' AS "account!: bool", e.target,
                      e.edited AS "edited!: bool", q.nick AS "quote_nick?", q.body AS quote_body
               FROM entries e
               LEFT JOIN entries q ON e.kind = 'message' AND q.room_id = e.room_id AND q.seq = e.target
               WHERE e.room_id = ?1 AND e.seq > ?2 AND e.seq <= ?3 ORDER BY e.seq LIMIT ?4"#,
            room_id,
            after,
            upto,
            limit
        )
        .fetch_all(&self.readers)
        .await?;
        self.with_reactions(rows).await
    }

    /// `rows` as entries, with their messages' reactions.
    async fn with_reactions(&self, rows: Vec<EntryRow>) -> Result<Vec<Entry>, StoreError> {
        let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
            return Ok(vec![]);
        };
        let (room_id, from, to) = (first.room_id, first.seq, last.seq);
        let reactions = sqlx::query_as!(
            ReactionRow,
            "SELECT seq, emoji, nick FROM reactions WHERE room_id = ?1 AND seq BETWEEN ?2 AND ?3
             ORDER BY seq, reacted_in",
            room_id,
            from,
            to
        )
        .fetch_all(&self.readers)
        .await?;
        let attachments = sqlx::query_as!(
            AttachmentRow,
            r#"SELECT seq AS "seq!: i64", public_id, name, content_type, kind, size,
                      width AS "width?: i64", height AS "height?: i64"
               FROM media WHERE room_id = ?1 AND seq BETWEEN ?2 AND ?3
               ORDER BY seq, position"#,
            room_id,
            from,
            to
        )
        .fetch_all(&self.readers)
        .await?;
        entries(rows, reactions, attachments)
    }

    pub async fn page(
        &self,
        room: &RoomName,
        before: Option<Seq>,
        limit: u32,
    ) -> Result<Vec<Entry>, StoreError> {
        let name = room.as_str();
        let before = before.map_or(i64::MAX, |b| b.min(i64::MAX as u64) as i64);
        let mut rows = sqlx::query_as!(
            EntryRow,
            r#"SELECT e.room_id, e.seq, e.at, e.nick, e.kind, e.client_id, e.body,
                      e.author LIKE 'account:%' AS "account!: bool", e.target,
                      e.edited AS "edited!: bool", q.nick AS "quote_nick?", q.body AS quote_body
               FROM entries e
               LEFT JOIN entries q ON e.kind = 'message' AND q.room_id = e.room_id AND q.seq = e.target
               WHERE e.room_id = (SELECT id FROM rooms WHERE name = ?1) AND e.seq < ?2
               ORDER BY e.seq DESC LIMIT ?3"#,
            name,
            before,
            limit
        )
        .fetch_all(&self.readers)
        .await?;
        rows.reverse();
        self.with_reactions(rows).await
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

    pub async fn search(
        &self,
        rooms: &[RoomName],
        words: &[String],
        skip: u32,
        limit: u32,
    ) -> Result<Vec<Found>, StoreError> {
        // Each word quoted (its quotes doubled, though words have none), the
        // last one a prefix if long enough (`app::search::MIN_PREFIX`): FTS5
        // reads it as plain words whatever was typed.
        let last = if app::search::last_is_prefix(words) {
            words.len() - 1
        } else {
            usize::MAX
        };
        let query = words
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let quoted = format!("\"{}\"", w.replace('"', "\"\""));
                if i == last { quoted + "*" } else { quoted }
            })
            .collect::<Vec<_>>()
            .join(" ");
        let rooms = serde_json::to_string(&rooms).expect("room names serialise");
        let marks = (
            app::search::MARK_START.to_string(),
            app::search::MARK_END.to_string(),
        );
        let rows = sqlx::query!(
            r#"SELECT r.name, e.seq AS "seq!: i64", e.at, e.nick,
                      snippet(entries_search, 0, ?3, ?4, '…', 24) AS "snippet!: String"
               FROM entries_search s
               JOIN entries e ON e.search_id = s.rowid
               JOIN rooms r ON r.id = e.room_id
               WHERE entries_search MATCH ?1
                 AND r.name IN (SELECT value FROM json_each(?2))
               ORDER BY e.at DESC, e.seq DESC LIMIT ?5 OFFSET ?6"#,
            query,
            rooms,
            marks.0,
            marks.1,
            limit,
            skip
        )
        .fetch_all(&self.searchers)
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| found(&r.name, r.seq, r.at, &r.nick, r.snippet))
            .collect())
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
        sqlx::query!(
            "UPDATE reactions SET nick = ?1, author = ?2 WHERE author = ?3",
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

    pub async fn may_moderate(&self, room_id: i64, account_id: i64) -> Result<bool, StoreError> {
        Ok(sqlx::query_scalar!(
            r#"SELECT EXISTS (SELECT 1 FROM rooms WHERE id = ?1 AND owner_id = ?2)
                   OR EXISTS (SELECT 1 FROM moderators WHERE room_id = ?1 AND account_id = ?2)
                   AS "allowed!: bool""#,
            room_id,
            account_id
        )
        .fetch_one(&self.readers)
        .await?)
    }

    pub async fn author_of(
        &self,
        room_id: i64,
        seq: Seq,
    ) -> Result<Option<(String, Nick)>, StoreError> {
        let seq = seq.min(i64::MAX as u64) as i64;
        let row = sqlx::query!(
            "SELECT author, nick FROM entries WHERE room_id = ?1 AND seq = ?2",
            room_id,
            seq
        )
        .fetch_optional(&self.readers)
        .await?;
        Ok(row.and_then(|r| Some((r.author, Nick::parse(&r.nick).ok()?))))
    }

    pub async fn ban(&self, room_id: i64, author: &str, nick: &Nick) -> Result<(), StoreError> {
        let (nick, now) = (nick.as_str(), now_ms());
        sqlx::query!(
            "INSERT INTO bans (room_id, author, nick, banned_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (room_id, author) DO NOTHING",
            room_id,
            author,
            nick,
            now
        )
        .execute(&self.writer)
        .await?;
        // Their media key stops working: no more uploads to, or files from, the room.
        sqlx::query!(
            "DELETE FROM room_members WHERE room_id = ?1 AND author = ?2",
            room_id,
            author
        )
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    // Checked at run time, not against `.sqlx/` (the rules' tests run them on
    // every store).
    pub async fn standing(
        &self,
        room: &RoomName,
        author: &str,
        account: i64,
    ) -> Result<Option<Standing>, StoreError> {
        let row: Option<(bool, bool, bool)> = sqlx::query_as(STANDING_BY_NAME)
            .bind(room.as_str())
            .bind(author)
            .bind(account)
            .fetch_optional(&self.readers)
            .await?;
        Ok(row.map(|(accounts_only, banned, moderator)| Standing {
            accounts_only,
            banned,
            moderator,
        }))
    }

    pub async fn standing_by_id(
        &self,
        room_id: i64,
        author: &str,
        account: i64,
    ) -> Result<Option<(RoomName, Standing)>, StoreError> {
        let row: Option<(String, bool, bool, bool)> = sqlx::query_as(STANDING_BY_ID)
            .bind(room_id)
            .bind(author)
            .bind(account)
            .fetch_optional(&self.readers)
            .await?;
        Ok(row.and_then(|(name, accounts_only, banned, moderator)| {
            let name = RoomName::parse(&name).ok()?;
            Some((
                name,
                Standing {
                    accounts_only,
                    banned,
                    moderator,
                },
            ))
        }))
    }

    pub async fn set_moderator(
        &self,
        room: &RoomName,
        owner: i64,
        key: &str,
        on: bool,
    ) -> Result<ModeratorChange, StoreError> {
        let name = room.as_str();
        let Some(room_id) = sqlx::query_scalar!(
            r#"SELECT id AS "id!: i64" FROM rooms WHERE name = ?1 AND owner_id = ?2"#,
            name,
            owner
        )
        .fetch_optional(&self.writer)
        .await?
        else {
            return Ok(ModeratorChange::NotOwner);
        };
        let Some(account_id) = sqlx::query_scalar!(
            r#"SELECT id AS "id!: i64" FROM accounts WHERE name_key = ?1"#,
            key
        )
        .fetch_optional(&self.writer)
        .await?
        else {
            return Ok(ModeratorChange::NoSuchAccount);
        };
        if on {
            sqlx::query!(
                "INSERT INTO moderators (room_id, account_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                room_id,
                account_id
            )
            .execute(&self.writer)
            .await?;
        } else {
            sqlx::query!(
                "DELETE FROM moderators WHERE room_id = ?1 AND account_id = ?2",
                room_id,
                account_id
            )
            .execute(&self.writer)
            .await?;
        }
        Ok(ModeratorChange::Done)
    }

    pub async fn moderators(&self, room: &RoomName) -> Result<Vec<Nick>, StoreError> {
        let name = room.as_str();
        let names = sqlx::query_scalar!(
            "SELECT a.name FROM moderators m JOIN accounts a ON a.id = m.account_id
             JOIN rooms r ON r.id = m.room_id WHERE r.name = ?1 ORDER BY a.name",
            name
        )
        .fetch_all(&self.readers)
        .await?;
        Ok(names.iter().filter_map(|n| Nick::parse(n).ok()).collect())
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

    pub async fn member_key(
        &self,
        room_id: i64,
        author: &str,
        fresh: &str,
    ) -> Result<String, StoreError> {
        sqlx::query!(
            "INSERT INTO room_members (room_id, author, media_key) VALUES (?1, ?2, ?3)
             ON CONFLICT (room_id, author) DO NOTHING",
            room_id,
            author,
            fresh
        )
        .execute(&self.writer)
        .await?;
        Ok(sqlx::query_scalar!(
            "SELECT media_key FROM room_members WHERE room_id = ?1 AND author = ?2",
            room_id,
            author
        )
        .fetch_one(&self.writer)
        .await?)
    }

    pub async fn member_by_key(&self, key: &str) -> Result<Option<Member>, StoreError> {
        Ok(sqlx::query_as!(
            Member,
            "SELECT room_id, author FROM room_members WHERE media_key = ?1",
            key
        )
        .fetch_optional(&self.readers)
        .await?)
    }

    pub async fn is_member(&self, room_id: i64, author: &str) -> Result<bool, StoreError> {
        Ok(sqlx::query_scalar!(
            r#"SELECT EXISTS (SELECT 1 FROM room_members WHERE room_id = ?1 AND author = ?2)
               AS "member!: bool""#,
            room_id,
            author
        )
        .fetch_one(&self.readers)
        .await?)
    }

    pub async fn uploaded_since(&self, uploader: &str, since: i64) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar!(
            r#"SELECT COALESCE(SUM(size), 0) AS "bytes!: i64" FROM media
               WHERE uploader = ?1 AND created_at >= ?2"#,
            uploader,
            since
        )
        .fetch_one(&self.readers)
        .await?)
    }

    pub async fn media_bytes(&self) -> Result<i64, StoreError> {
        let (bytes,): (i64,) =
            sqlx::query_as("SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM media")
                .fetch_one(&self.readers)
                .await?;
        Ok(bytes)
    }

    pub async fn insert_media(&self, row: &MediaRow) -> Result<(), StoreError> {
        let kind = media_kind_word(row.kind);
        sqlx::query!(
            "INSERT INTO media (public_id, room_id, uploader, blob, thumb, name, content_type,
                                kind, size, width, height, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            row.public_id,
            row.room_id,
            row.uploader,
            row.blob,
            row.thumb,
            row.name,
            row.content_type,
            kind,
            row.size,
            row.width,
            row.height,
            row.created_at
        )
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub async fn media(&self, public_id: &str) -> Result<Option<MediaRow>, StoreError> {
        let row = sqlx::query!(
            r#"SELECT public_id, room_id, uploader, blob, thumb, name, content_type, kind, size,
                      width AS "width?: i32", height AS "height?: i32", created_at, seq
               FROM media WHERE public_id = ?1"#,
            public_id
        )
        .fetch_optional(&self.readers)
        .await?;
        Ok(row.and_then(|r| {
            Some(MediaRow {
                kind: media_kind(&r.kind)?,
                public_id: r.public_id,
                room_id: r.room_id,
                uploader: r.uploader,
                blob: r.blob,
                thumb: r.thumb,
                name: r.name,
                content_type: r.content_type,
                size: r.size,
                width: r.width,
                height: r.height,
                created_at: r.created_at,
                seq: r.seq,
            })
        }))
    }

    pub async fn expire_unsent(&self, before: i64) -> Result<u64, StoreError> {
        let mut tx = self.write().await?;
        sqlx::query!(
            "INSERT OR IGNORE INTO media_orphans (blob)
             SELECT blob FROM media WHERE seq IS NULL AND created_at < ?1
             UNION SELECT thumb FROM media
             WHERE seq IS NULL AND created_at < ?1 AND thumb IS NOT NULL",
            before
        )
        .execute(&mut *tx)
        .await?;
        let expired = sqlx::query!(
            "DELETE FROM media WHERE seq IS NULL AND created_at < ?1",
            before
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(expired)
    }

    pub async fn orphans(&self, limit: i64) -> Result<Vec<String>, StoreError> {
        Ok(
            sqlx::query_scalar!("SELECT blob FROM media_orphans LIMIT ?1", limit)
                .fetch_all(&self.readers)
                .await?,
        )
    }

    pub async fn blob_in_use(&self, blob: &str) -> Result<bool, StoreError> {
        Ok(sqlx::query_scalar!(
            r#"SELECT EXISTS (SELECT 1 FROM media WHERE blob = ?1)
                   OR EXISTS (SELECT 1 FROM media WHERE thumb = ?1) AS "used!: bool""#,
            blob
        )
        .fetch_one(&self.writer)
        .await?)
    }

    pub async fn forget_orphan(&self, blob: &str) -> Result<(), StoreError> {
        sqlx::query!("DELETE FROM media_orphans WHERE blob = ?1", blob)
            .execute(&self.writer)
            .await?;
        Ok(())
    }
}

/// A person's standing in a room (see `crate::access`): by the room's name
/// (?1), their author column (?2, `''` for nobody) and account id (?3,
/// `-1` for none).
const STANDING_BY_NAME: &str = "SELECT r.accounts_only,
        EXISTS (SELECT 1 FROM bans b WHERE b.room_id = r.id AND b.author = ?2),
        COALESCE(r.owner_id = ?3, 0)
            OR EXISTS (SELECT 1 FROM moderators m WHERE m.room_id = r.id AND m.account_id = ?3)
     FROM rooms r WHERE r.name = ?1";

/// [`STANDING_BY_NAME`] by the room's row id, with its name first.
const STANDING_BY_ID: &str = "SELECT r.name, r.accounts_only,
        EXISTS (SELECT 1 FROM bans b WHERE b.room_id = r.id AND b.author = ?2),
        COALESCE(r.owner_id = ?3, 0)
            OR EXISTS (SELECT 1 FROM moderators m WHERE m.room_id = r.id AND m.account_id = ?3)
     FROM rooms r WHERE r.id = ?1";
