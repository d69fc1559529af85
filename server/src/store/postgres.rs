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

use super::rows::{
    AttachmentRow, EntryRow, ReactionRow, account_row, columns, departed, entries, found,
    media_kind, media_kind_word, owned_room, quote, room_names, session_row,
};
use super::{
    AccountRow, Appended, Departed, Draft, Found, MediaRow, Member, ModeratorChange, OwnedRoom,
    Refusal, RoomRow, SessionRow, Standing, StoreError, TargetRow, act_of, judge, judge_author,
    now_ms,
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
    pub async fn open(url: &str) -> Result<Self, StoreError> {
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
            .max_connections(super::SEARCHERS)
            .acquire_timeout(super::SEARCH_WAIT)
            // A search is given up by the database too, not only by its caller.
            .connect_lazy_with(options.options([("statement_timeout", "2s")]));
        // sqlx holds an advisory lock while migrating: servers starting
        // together migrate once.
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(Self { pool, searchers })
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
        sqlx::query!(
            "INSERT INTO rooms (name, created_at, active_at, owner_id) VALUES ($1, $2, $2, $3)
             ON CONFLICT (name) DO NOTHING",
            name,
            now,
            creator
        )
        .execute(&self.pool)
        .await?;
        self.room_row(name)
            .await?
            .ok_or_else(|| StoreError::Batch(format!("room {name} vanished after its creation")))
    }

    async fn room_row(&self, name: &str) -> Result<Option<RoomRow>, StoreError> {
        let row = sqlx::query!(
            "SELECT id, head, owner_id, accounts_only FROM rooms WHERE name = $1",
            name
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|row| RoomRow {
            id: row.id,
            head: row.head as Seq,
            owner: row.owner_id,
            accounts_only: row.accounts_only,
        }))
    }

    pub async fn heads(&self, room_ids: &[i64]) -> Result<Vec<(i64, Seq)>, StoreError> {
        let rows = sqlx::query!("SELECT id, head FROM rooms WHERE id = ANY($1)", room_ids)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(|r| (r.id, r.head as Seq)).collect())
    }

    pub async fn entries_between(
        &self,
        room_id: i64,
        after: Seq,
        upto: Seq,
        limit: u32,
    ) -> Result<Vec<Entry>, StoreError> {
        let (after, upto) = (clamp(after), clamp(upto));
        let rows = sqlx::query_as!(
            EntryRow,
            r#"SELECT e.room_id, e.seq, e.at, e.nick, e.kind, e.client_id, e.body,
                      e.author LIKE 'account:%' AS "account!", e.target, e.edited,
                      q.nick AS "quote_nick?", q.body AS "quote_body?"
               FROM entries e
               LEFT JOIN entries q ON e.kind = 'message' AND q.room_id = e.room_id AND q.seq = e.target
               WHERE e.room_id = $1 AND e.seq > $2 AND e.seq <= $3 ORDER BY e.seq LIMIT $4"#,
            room_id,
            after,
            upto,
            i64::from(limit)
        )
        .fetch_all(&self.pool)
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
            "SELECT seq, emoji, nick FROM reactions WHERE room_id = $1 AND seq BETWEEN $2 AND $3
             ORDER BY seq, reacted_in",
            room_id,
            from,
            to
        )
        .fetch_all(&self.pool)
        .await?;
        let attachments = sqlx::query_as!(
            AttachmentRow,
            r#"SELECT seq AS "seq!", public_id, name, content_type, kind, size,
                      width::BIGINT AS width, height::BIGINT AS height
               FROM media WHERE room_id = $1 AND seq BETWEEN $2 AND $3
               ORDER BY seq, position"#,
            room_id,
            from,
            to
        )
        .fetch_all(&self.pool)
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
        let before = before.map_or(i64::MAX, clamp);
        let mut rows = sqlx::query_as!(
            EntryRow,
            r#"SELECT e.room_id, e.seq, e.at, e.nick, e.kind, e.client_id, e.body,
                      e.author LIKE 'account:%' AS "account!", e.target, e.edited,
                      q.nick AS "quote_nick?", q.body AS "quote_body?"
               FROM entries e
               LEFT JOIN entries q ON e.kind = 'message' AND q.room_id = e.room_id AND q.seq = e.target
               WHERE e.room_id = (SELECT id FROM rooms WHERE name = $1) AND e.seq < $2
               ORDER BY e.seq DESC LIMIT $3"#,
            name,
            before,
            i64::from(limit)
        )
        .fetch_all(&self.pool)
        .await?;
        rows.reverse();
        self.with_reactions(rows).await
    }

    pub async fn search(
        &self,
        rooms: &[RoomName],
        words: &[String],
        skip: u32,
        limit: u32,
    ) -> Result<Vec<Found>, StoreError> {
        // Words are letters and digits only, so this is plain words joined
        // by AND whatever was typed; the last one is a prefix if it is long
        // enough (`app::search::MIN_PREFIX`).
        let prefix = if app::search::last_is_prefix(words) {
            ":*"
        } else {
            ""
        };
        let query = format!("{}{prefix}", words.join(" & "));
        let rooms: Vec<&str> = rooms.iter().map(RoomName::as_str).collect();
        let marks = format!(
            "StartSel=\"{}\", StopSel=\"{}\", MaxWords=24, MinWords=8",
            app::search::MARK_START,
            app::search::MARK_END
        );
        let rows = sqlx::query!(
            r#"SELECT r.name, e.seq, e.at, e.nick,
                      ts_headline('simple', e.body, q, $3) AS "snippet!"
               FROM entries e JOIN rooms r ON r.id = e.room_id,
                    to_tsquery('simple', $1) q
               WHERE e.kind = 'message' AND e.search @@ q AND r.name = ANY($2)
               ORDER BY e.at DESC, e.seq DESC LIMIT $4 OFFSET $5"#,
            query,
            &rooms as &[&str],
            marks,
            i64::from(limit),
            i64::from(skip)
        )
        .fetch_all(&self.searchers)
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| found(&r.name, r.seq, r.at, &r.nick, r.snippet))
            .collect())
    }

    pub async fn room_names(&self, search: &str, limit: u32) -> Result<Vec<RoomName>, StoreError> {
        let pattern = super::like_pattern(search);
        let names = sqlx::query_scalar!(
            r#"SELECT name FROM rooms WHERE lower(name) LIKE $1 ESCAPE '\'
               ORDER BY active_at DESC, name LIMIT $2"#,
            pattern,
            i64::from(limit)
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(room_names(&names))
    }

    pub async fn append(&self, drafts: &[Draft]) -> Result<Vec<Appended>, StoreError> {
        let mut room_ids: Vec<i64> = drafts.iter().map(|d| d.room_id).collect();
        room_ids.sort_unstable();
        room_ids.dedup();
        let mut tx = self.pool.begin().await?;
        let mut heads: HashMap<i64, i64> = sqlx::query!(
            "SELECT id, head FROM rooms WHERE id = ANY($1) ORDER BY id FOR UPDATE",
            &room_ids
        )
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .map(|row| (row.id, row.head))
        .collect();
        let refused = authors_refused(&mut tx, drafts, &room_ids).await?;
        let at = now_ms();
        let mut outcomes = Vec::with_capacity(drafts.len());
        let mut plain = 0;
        let plain_at = |i: usize| drafts.get(i).is_some_and(is_plain) && refused[i].is_none();
        for (i, draft) in drafts.iter().enumerate() {
            if let Some(refusal) = refused[i] {
                outcomes.push(Appended::Refused(refusal));
                continue;
            }
            // Plain messages and notices, the bulk of any batch, go in with
            // one statement per run of them: a round trip per entry was
            // most of a batch's time.
            if is_plain(draft) {
                plain += 1;
                if plain_at(i + 1) {
                    continue;
                }
                let run = &drafts[i + 1 - plain..=i];
                plain = 0;
                insert_plain(&mut tx, run, &mut heads, at, &mut outcomes).await?;
                continue;
            }
            let room_id = draft.room_id;
            let head = *heads.get(&room_id).ok_or_else(|| {
                StoreError::Batch(format!("an entry for room {room_id}, which does not exist"))
            })?;
            let seq = head + 1;
            // Actions are judged against their target under the room's row
            // lock, so no other server can change it in between.
            let mut reply = None;
            if let Some(target) = draft.kind.target() {
                let row = sqlx::query_as!(
                    TargetRow,
                    "SELECT kind, author FROM entries WHERE room_id = $1 AND seq = $2",
                    room_id,
                    target as i64
                )
                .fetch_optional(&mut *tx)
                .await?;
                let mut judged = judge(draft, row.as_ref());
                if let (Ok(()), EntryKind::React(_, emoji, true)) = (&judged, &draft.kind) {
                    // A new emoji on a message that has the most it may carry.
                    let emoji = emoji.as_str();
                    let row = sqlx::query!(
                        r#"SELECT COUNT(DISTINCT emoji) AS "kinds!",
                                  COUNT(*) FILTER (WHERE emoji = $3) > 0 AS "has!"
                           FROM reactions WHERE room_id = $1 AND seq = $2"#,
                        room_id,
                        target as i64,
                        emoji
                    )
                    .fetch_one(&mut *tx)
                    .await?;
                    if !row.has && row.kinds >= REACTIONS_MAX as i64 {
                        judged = Err(Refusal::TooManyReactions);
                    }
                }
                if let Err(refusal) = judged {
                    outcomes.push(Appended::Refused(refusal));
                    continue;
                }
            } else if let Some(to) = draft.reply_to {
                let to = (to as i64).min(head);
                reply = sqlx::query!(
                    "SELECT nick, kind, body FROM entries WHERE room_id = $1 AND seq = $2",
                    room_id,
                    to
                )
                .fetch_optional(&mut *tx)
                .await?
                .and_then(|row| quote(to, &row.nick, &row.kind, row.body.as_deref()));
            }
            let (kind, client_id, body, target) = columns(draft);
            let target = target.filter(|_| draft.kind.target().is_some() || reply.is_some());
            let (nick, author) = (draft.nick.as_str(), draft.author.column());
            let inserted = sqlx::query!(
                "INSERT INTO entries (room_id, seq, at, nick, kind, client_id, body, author, target)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                 ON CONFLICT (room_id, client_id) WHERE client_id IS NOT NULL DO NOTHING",
                room_id,
                seq,
                at,
                nick,
                kind,
                client_id,
                body,
                author,
                target
            )
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if inserted == 0 {
                let original = sqlx::query_scalar!(
                    "SELECT seq FROM entries WHERE room_id = $1 AND client_id = $2",
                    room_id,
                    client_id
                )
                .fetch_one(&mut *tx)
                .await?;
                outcomes.push(Appended::Duplicate(original as Seq));
                continue;
            }
            let Some(attached) = attach(&mut tx, draft, seq, &author).await? else {
                outcomes.push(Appended::Refused(Refusal::NoSuchMedia));
                continue;
            };
            apply(&mut tx, draft, seq, body, &author).await?;
            heads.insert(room_id, seq);
            outcomes.push(Appended::New(draft.entry(seq as Seq, at, reply, attached)));
        }
        let (ids, new_heads): (Vec<i64>, Vec<i64>) = heads.into_iter().unzip();
        // The rows are locked and written anyway, so the lobby's activity
        // stamp rides along for free.
        sqlx::query!(
            "UPDATE rooms SET head = moved.head, active_at = $3
             FROM UNNEST($1::BIGINT[], $2::BIGINT[]) AS moved (id, head)
             WHERE rooms.id = moved.id",
            &ids,
            &new_heads,
            at
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(outcomes)
    }

    pub async fn cluster_name(&self) -> Result<String, StoreError> {
        Ok(sqlx::query_scalar!("SELECT name FROM cluster WHERE id = 1")
            .fetch_one(&self.pool)
            .await?)
    }

    pub async fn probe(&self) -> Result<(), StoreError> {
        let now = now_ms();
        sqlx::query!("UPDATE health SET probed_at = $1 WHERE id = 1", now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn save_departed(&self, departed: &[Departed]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query!("TRUNCATE departed").execute(&mut *tx).await?;
        for d in departed {
            let (room, nick, session) = (d.room.as_str(), d.nick.as_str(), d.session.as_str());
            sqlx::query!(
                "INSERT INTO departed (room, nick, session) VALUES ($1, $2, $3)",
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
        let rows = sqlx::query!("DELETE FROM departed RETURNING room, nick, session")
            .fetch_all(&self.pool)
            .await?;
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
            "INSERT INTO accounts (name, name_key, password_hash, created_at)
             VALUES ($1, $2, $3, $4) ON CONFLICT (name_key) DO NOTHING
             RETURNING id",
            name,
            key,
            password_hash,
            now
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(id)
    }

    pub async fn account_by_key(&self, key: &str) -> Result<Option<AccountRow>, StoreError> {
        let row = sqlx::query!(
            "SELECT id, name, password_hash FROM accounts WHERE name_key = $1",
            key
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.and_then(|r| account_row(r.id, &r.name, r.password_hash)))
    }

    pub async fn account_by_id(&self, id: i64) -> Result<Option<AccountRow>, StoreError> {
        let row = sqlx::query!(
            "SELECT id, name, password_hash FROM accounts WHERE id = $1",
            id
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.and_then(|r| account_row(r.id, &r.name, r.password_hash)))
    }

    pub async fn set_password(&self, id: i64, password_hash: &str) -> Result<(), StoreError> {
        sqlx::query!(
            "UPDATE accounts SET password_hash = $1 WHERE id = $2",
            password_hash,
            id
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn delete_account(&self, id: i64, shown_as: &str) -> Result<(), StoreError> {
        let (author, gone) = (format!("account:{id}"), format!("deleted:{id}"));
        let mut tx = self.pool.begin().await?;
        sqlx::query!(
            "UPDATE entries SET nick = $1, author = $2 WHERE author = $3",
            shown_as,
            gone,
            author
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query!(
            "UPDATE reactions SET nick = $1, author = $2 WHERE author = $3",
            shown_as,
            gone,
            author
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query!(
            "UPDATE rooms SET accounts_only = FALSE WHERE owner_id = $1",
            id
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query!("DELETE FROM accounts WHERE id = $1", id)
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
            "INSERT INTO sessions (token_hash, account_id, created_at, seen_at) VALUES ($1, $2, $3, $3)",
            token_hash,
            account_id,
            now
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn session(&self, token_hash: &str) -> Result<Option<SessionRow>, StoreError> {
        let row = sqlx::query!(
            "SELECT s.account_id, a.name, s.created_at, s.seen_at
             FROM sessions s JOIN accounts a ON a.id = s.account_id
             WHERE s.token_hash = $1",
            token_hash
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.and_then(|r| session_row(r.account_id, &r.name, r.created_at, r.seen_at)))
    }

    pub async fn touch_session(&self, token_hash: &str) -> Result<(), StoreError> {
        let now = now_ms();
        sqlx::query!(
            "UPDATE sessions SET seen_at = $1 WHERE token_hash = $2",
            now,
            token_hash
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query!("DELETE FROM sessions WHERE token_hash = $1", token_hash)
            .execute(&self.pool)
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
            "DELETE FROM sessions WHERE account_id = $1 AND token_hash <> $2",
            account_id,
            except
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn purge_sessions(
        &self,
        seen_before: i64,
        created_before: i64,
    ) -> Result<u64, StoreError> {
        let gone = sqlx::query!(
            "DELETE FROM sessions WHERE seen_at < $1 OR created_at < $2",
            seen_before,
            created_before
        )
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(gone)
    }

    pub async fn owned_rooms(&self, account_id: i64) -> Result<Vec<OwnedRoom>, StoreError> {
        let rows = sqlx::query!(
            "SELECT name, accounts_only FROM rooms WHERE owner_id = $1 ORDER BY name",
            account_id
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| owned_room(&r.name, r.accounts_only))
            .collect())
    }

    pub async fn may_moderate(&self, room_id: i64, account_id: i64) -> Result<bool, StoreError> {
        Ok(sqlx::query_scalar!(
            r#"SELECT EXISTS (SELECT 1 FROM rooms WHERE id = $1 AND owner_id = $2)
                   OR EXISTS (SELECT 1 FROM moderators WHERE room_id = $1 AND account_id = $2)
                   AS "allowed!""#,
            room_id,
            account_id
        )
        .fetch_one(&self.pool)
        .await?)
    }

    pub async fn author_of(
        &self,
        room_id: i64,
        seq: Seq,
    ) -> Result<Option<(String, Nick)>, StoreError> {
        let seq = seq.min(i64::MAX as u64) as i64;
        let row = sqlx::query!(
            "SELECT author, nick FROM entries WHERE room_id = $1 AND seq = $2",
            room_id,
            seq
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.and_then(|r| Some((r.author, Nick::parse(&r.nick).ok()?))))
    }

    pub async fn ban(&self, room_id: i64, author: &str, nick: &Nick) -> Result<(), StoreError> {
        let (nick, now) = (nick.as_str(), now_ms());
        let mut tx = self.pool.begin().await?;
        // The room's row lock, as a batch of entries takes it: the ban is in
        // before a batch or after it, never read halfway (`authors_refused`).
        sqlx::query("SELECT id FROM rooms WHERE id = $1 FOR UPDATE")
            .bind(room_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query!(
            "INSERT INTO bans (room_id, author, nick, banned_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (room_id, author) DO NOTHING",
            room_id,
            author,
            nick,
            now
        )
        .execute(&mut *tx)
        .await?;
        // Their media key stops working: no more uploads to, or files from, the room.
        sqlx::query!(
            "DELETE FROM room_members WHERE room_id = $1 AND author = $2",
            room_id,
            author
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
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
            .fetch_optional(&self.pool)
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
            .fetch_optional(&self.pool)
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
            "SELECT id FROM rooms WHERE name = $1 AND owner_id = $2",
            name,
            owner
        )
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(ModeratorChange::NotOwner);
        };
        let Some(account_id) =
            sqlx::query_scalar!("SELECT id FROM accounts WHERE name_key = $1", key)
                .fetch_optional(&self.pool)
                .await?
        else {
            return Ok(ModeratorChange::NoSuchAccount);
        };
        if on {
            sqlx::query!(
                "INSERT INTO moderators (room_id, account_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                room_id,
                account_id
            )
            .execute(&self.pool)
            .await?;
        } else {
            sqlx::query!(
                "DELETE FROM moderators WHERE room_id = $1 AND account_id = $2",
                room_id,
                account_id
            )
            .execute(&self.pool)
            .await?;
        }
        Ok(ModeratorChange::Done)
    }

    pub async fn moderators(&self, room: &RoomName) -> Result<Vec<Nick>, StoreError> {
        let name = room.as_str();
        let names = sqlx::query_scalar!(
            "SELECT a.name FROM moderators m JOIN accounts a ON a.id = m.account_id
             JOIN rooms r ON r.id = m.room_id WHERE r.name = $1 ORDER BY a.name",
            name
        )
        .fetch_all(&self.pool)
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
            "UPDATE rooms SET accounts_only = $1 WHERE name = $2 AND owner_id = $3",
            on,
            name,
            owner
        )
        .execute(&self.pool)
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
            "INSERT INTO room_members (room_id, author, media_key) VALUES ($1, $2, $3)
             ON CONFLICT (room_id, author) DO NOTHING",
            room_id,
            author,
            fresh
        )
        .execute(&self.pool)
        .await?;
        Ok(sqlx::query_scalar!(
            "SELECT media_key FROM room_members WHERE room_id = $1 AND author = $2",
            room_id,
            author
        )
        .fetch_one(&self.pool)
        .await?)
    }

    pub async fn member_by_key(&self, key: &str) -> Result<Option<Member>, StoreError> {
        Ok(sqlx::query_as!(
            Member,
            "SELECT room_id, author FROM room_members WHERE media_key = $1",
            key
        )
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn is_member(&self, room_id: i64, author: &str) -> Result<bool, StoreError> {
        Ok(sqlx::query_scalar!(
            r#"SELECT EXISTS (SELECT 1 FROM room_members WHERE room_id = $1 AND author = $2)
               AS "member!""#,
            room_id,
            author
        )
        .fetch_one(&self.pool)
        .await?)
    }

    pub async fn uploaded_since(&self, uploader: &str, since: i64) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar!(
            r#"SELECT COALESCE(SUM(size), 0)::BIGINT AS "bytes!" FROM media
               WHERE uploader = $1 AND created_at >= $2"#,
            uploader,
            since
        )
        .fetch_one(&self.pool)
        .await?)
    }

    pub async fn media_bytes(&self) -> Result<i64, StoreError> {
        let (bytes,): (i64,) =
            sqlx::query_as("SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM media")
                .fetch_one(&self.pool)
                .await?;
        Ok(bytes)
    }

    pub async fn insert_media(&self, row: &MediaRow) -> Result<(), StoreError> {
        let kind = media_kind_word(row.kind);
        sqlx::query!(
            "INSERT INTO media (public_id, room_id, uploader, blob, thumb, name, content_type,
                                kind, size, width, height, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
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
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn media(&self, public_id: &str) -> Result<Option<MediaRow>, StoreError> {
        let row = sqlx::query!(
            "SELECT public_id, room_id, uploader, blob, thumb, name, content_type, kind, size,
                    width, height, created_at, seq
             FROM media WHERE public_id = $1",
            public_id
        )
        .fetch_optional(&self.pool)
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
        let mut tx = self.pool.begin().await?;
        sqlx::query!(
            "INSERT INTO media_orphans (blob)
             SELECT blob FROM media WHERE seq IS NULL AND created_at < $1
             UNION SELECT thumb FROM media
             WHERE seq IS NULL AND created_at < $1 AND thumb IS NOT NULL
             ON CONFLICT DO NOTHING",
            before
        )
        .execute(&mut *tx)
        .await?;
        let expired = sqlx::query!(
            "DELETE FROM media WHERE seq IS NULL AND created_at < $1",
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
            sqlx::query_scalar!("SELECT blob FROM media_orphans LIMIT $1", limit)
                .fetch_all(&self.pool)
                .await?,
        )
    }

    pub async fn blob_in_use(&self, blob: &str) -> Result<bool, StoreError> {
        Ok(sqlx::query_scalar!(
            r#"SELECT EXISTS (SELECT 1 FROM media WHERE blob = $1)
                   OR EXISTS (SELECT 1 FROM media WHERE thumb = $1) AS "used!""#,
            blob
        )
        .fetch_one(&self.pool)
        .await?)
    }

    pub async fn forget_orphan(&self, blob: &str) -> Result<(), StoreError> {
        sqlx::query!("DELETE FROM media_orphans WHERE blob = $1", blob)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// A `seq` as PostgreSQL's BIGINT (logs never come near the top half).
fn clamp(seq: Seq) -> i64 {
    seq.min(i64::MAX as u64) as i64
}

/// Gives a new message at `seq` the uploads its draft names, in order;
/// `None` (and the message taken out again) when one is not the author's
/// unsent upload to this room.
async fn attach(
    tx: &mut Transaction<'static, Postgres>,
    draft: &Draft,
    seq: i64,
    author: &str,
) -> Result<Option<Vec<Attachment>>, StoreError> {
    let room_id = draft.room_id;
    let mut attached = Vec::with_capacity(draft.media.len());
    for (position, id) in draft.media.iter().enumerate() {
        let row = sqlx::query_as!(
            AttachmentRow,
            r#"UPDATE media SET seq = $1, position = $2
               WHERE public_id = $3 AND room_id = $4 AND uploader = $5 AND seq IS NULL
               RETURNING seq AS "seq!", public_id, name, content_type, kind, size,
                         width::BIGINT AS width, height::BIGINT AS height"#,
            seq,
            position as i32,
            id.as_str(),
            room_id,
            author
        )
        .fetch_optional(&mut **tx)
        .await?;
        match row.and_then(AttachmentRow::into_attachment) {
            Some(attachment) => attached.push(attachment),
            None => {
                sqlx::query!(
                    "UPDATE media SET seq = NULL, position = 0 WHERE room_id = $1 AND seq = $2",
                    room_id,
                    seq
                )
                .execute(&mut **tx)
                .await?;
                sqlx::query!(
                    "DELETE FROM entries WHERE room_id = $1 AND seq = $2",
                    room_id,
                    seq
                )
                .execute(&mut **tx)
                .await?;
                return Ok(None);
            }
        }
    }
    Ok(Some(attached))
}

/// What a new entry at `seq` does to its target besides being in the log
/// (the search index follows the text by itself).
async fn apply(
    tx: &mut Transaction<'static, Postgres>,
    draft: &Draft,
    seq: i64,
    body: Option<&str>,
    author: &str,
) -> Result<(), StoreError> {
    let room_id = draft.room_id;
    match &draft.kind {
        EntryKind::Edit(target, _) => {
            sqlx::query!(
                "UPDATE entries SET body = $1, edited = TRUE WHERE room_id = $2 AND seq = $3",
                body,
                room_id,
                *target as i64
            )
            .execute(&mut **tx)
            .await?;
        }
        EntryKind::Delete(target) => {
            let target = *target as i64;
            sqlx::query!(
                "UPDATE entries SET kind = 'deleted', body = NULL, edited = FALSE
                 WHERE room_id = $1 AND seq = $2",
                room_id,
                target
            )
            .execute(&mut **tx)
            .await?;
            // Its earlier edits carried its texts too.
            sqlx::query!(
                "UPDATE entries SET kind = 'delete', body = NULL
                 WHERE room_id = $1 AND target = $2 AND kind = 'edit'",
                room_id,
                target
            )
            .execute(&mut **tx)
            .await?;
            sqlx::query!(
                "DELETE FROM reactions WHERE room_id = $1 AND seq = $2",
                room_id,
                target
            )
            .execute(&mut **tx)
            .await?;
            // Its files go too: their blobs once nothing else uses them.
            sqlx::query!(
                "INSERT INTO media_orphans (blob)
                 SELECT blob FROM media WHERE room_id = $1 AND seq = $2
                 UNION SELECT thumb FROM media
                 WHERE room_id = $1 AND seq = $2 AND thumb IS NOT NULL
                 ON CONFLICT DO NOTHING",
                room_id,
                target
            )
            .execute(&mut **tx)
            .await?;
            sqlx::query!(
                "DELETE FROM media WHERE room_id = $1 AND seq = $2",
                room_id,
                target
            )
            .execute(&mut **tx)
            .await?;
        }
        EntryKind::React(target, emoji, true) => {
            sqlx::query!(
                "INSERT INTO reactions (room_id, seq, emoji, author, nick, reacted_in)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                room_id,
                *target as i64,
                emoji.as_str(),
                author,
                draft.nick.as_str(),
                seq
            )
            .execute(&mut **tx)
            .await?;
        }
        EntryKind::React(target, emoji, false) => {
            sqlx::query!(
                "DELETE FROM reactions WHERE room_id = $1 AND seq = $2 AND emoji = $3 AND author = $4",
                room_id,
                *target as i64,
                emoji.as_str(),
                author
            )
            .execute(&mut **tx)
            .await?;
        }
        EntryKind::Message { .. } | EntryKind::Joined | EntryKind::Left | EntryKind::Deleted => {}
    }
    Ok(())
}

/// An entry that needs nothing read or changed besides its own row: a
/// message without a reply or files, or a notice.
/// Each draft's refusal under the room's rules (see [`crate::access`]), read
/// with the rooms' rows locked: a ban or a close to guests takes the same
/// lock (`ban`, `set_accounts_only`), so it is either in before this batch
/// or waits for it. Two statements a batch, however many drafts. (Checked at
/// run time, like [`insert_plain`].)
async fn authors_refused(
    tx: &mut Transaction<'static, Postgres>,
    drafts: &[Draft],
    room_ids: &[i64],
) -> Result<Vec<Option<Refusal>>, StoreError> {
    let mut authors: Vec<String> = drafts
        .iter()
        .filter(|d| act_of(&d.kind).is_some())
        .map(|d| d.author.column())
        .collect();
    if authors.is_empty() {
        return Ok(vec![None; drafts.len()]);
    }
    authors.sort_unstable();
    authors.dedup();
    let closed: Vec<(i64,)> =
        sqlx::query_as("SELECT id FROM rooms WHERE id = ANY($1) AND accounts_only")
            .bind(room_ids)
            .fetch_all(&mut **tx)
            .await?;
    let banned: Vec<(i64, String)> = sqlx::query_as(
        "SELECT room_id, author FROM bans WHERE room_id = ANY($1) AND author = ANY($2)",
    )
    .bind(room_ids)
    .bind(&authors)
    .fetch_all(&mut **tx)
    .await?;
    Ok(drafts
        .iter()
        .map(|draft| {
            let author = draft.author.column();
            let standing = Standing {
                accounts_only: closed.iter().any(|(id,)| *id == draft.room_id),
                banned: banned
                    .iter()
                    .any(|(room, a)| *room == draft.room_id && *a == author),
                moderator: false,
            };
            judge_author(draft, &standing).err()
        })
        .collect())
}

fn is_plain(draft: &Draft) -> bool {
    draft.kind.target().is_none() && draft.reply_to.is_none() && draft.media.is_empty()
}

/// Writes a run of [`is_plain`] drafts in two statements: one reads which of
/// their client ids their rooms already have, one inserts the rest. The
/// rooms' rows are locked by the batch, so no other server can add one of
/// those ids in between. (Checked at run time, not against `.sqlx/`: the
/// tests run them on every batch.)
async fn insert_plain(
    tx: &mut Transaction<'static, Postgres>,
    run: &[Draft],
    heads: &mut HashMap<i64, i64>,
    at: i64,
    outcomes: &mut Vec<Appended>,
) -> Result<(), StoreError> {
    let (mut rooms, mut ids) = (vec![], vec![]);
    for draft in run {
        if let EntryKind::Message { client_id, .. } = &draft.kind {
            rooms.push(draft.room_id);
            ids.push(client_id.as_str());
        }
    }
    let mut rows: Vec<(i64, String, i64)> = vec![];
    if !ids.is_empty() {
        rows = sqlx::query_as(
            "SELECT e.room_id, e.client_id, e.seq FROM entries e
             JOIN UNNEST($1::BIGINT[], $2::TEXT[]) AS sent (room_id, client_id)
               ON e.room_id = sent.room_id AND e.client_id = sent.client_id",
        )
        .bind(&rooms)
        .bind(&ids)
        .fetch_all(&mut **tx)
        .await?;
    }
    let mut stored: HashMap<(i64, &str), i64> = rows
        .iter()
        .map(|(room, id, seq)| ((*room, id.as_str()), *seq))
        .collect();
    let n = run.len();
    let (mut room_col, mut seq_col, mut nick_col) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut kind_col, mut id_col, mut body_col, mut author_col) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for draft in run {
        let room_id = draft.room_id;
        let head = heads.get_mut(&room_id).ok_or_else(|| {
            StoreError::Batch(format!("an entry for room {room_id}, which does not exist"))
        })?;
        let (kind, client_id, body, _) = columns(draft);
        if let Some(id) = client_id {
            // Stored before, or earlier in this very run.
            match stored.entry((room_id, id)) {
                std::collections::hash_map::Entry::Occupied(original) => {
                    outcomes.push(Appended::Duplicate(*original.get() as Seq));
                    continue;
                }
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(*head + 1);
                }
            }
        }
        *head += 1;
        room_col.push(room_id);
        seq_col.push(*head);
        nick_col.push(draft.nick.as_str());
        kind_col.push(kind);
        id_col.push(client_id);
        body_col.push(body);
        author_col.push(draft.author.column());
        outcomes.push(Appended::New(draft.entry(*head as Seq, at, None, vec![])));
    }
    if room_col.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO entries (room_id, seq, at, nick, kind, client_id, body, author)
         SELECT room_id, seq, $3, nick, kind, client_id, body, author
         FROM UNNEST($1::BIGINT[], $2::BIGINT[], $4::TEXT[], $5::TEXT[], $6::TEXT[],
                     $7::TEXT[], $8::TEXT[])
              AS new (room_id, seq, nick, kind, client_id, body, author)",
    )
    .bind(&room_col)
    .bind(&seq_col)
    .bind(at)
    .bind(&nick_col)
    .bind(&kind_col)
    .bind(&id_col)
    .bind(&body_col)
    .bind(&author_col)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A person's standing in a room (see `crate::access`): by the room's name
/// ($1), their author column ($2, `''` for nobody) and account id ($3,
/// `-1` for none).
const STANDING_BY_NAME: &str = "SELECT r.accounts_only,
        EXISTS (SELECT 1 FROM bans b WHERE b.room_id = r.id AND b.author = $2),
        COALESCE(r.owner_id = $3, FALSE)
            OR EXISTS (SELECT 1 FROM moderators m WHERE m.room_id = r.id AND m.account_id = $3)
     FROM rooms r WHERE r.name = $1";

/// [`STANDING_BY_NAME`] by the room's row id, with its name first.
const STANDING_BY_ID: &str = "SELECT r.name, r.accounts_only,
        EXISTS (SELECT 1 FROM bans b WHERE b.room_id = r.id AND b.author = $2),
        COALESCE(r.owner_id = $3, FALSE)
            OR EXISTS (SELECT 1 FROM moderators m WHERE m.room_id = r.id AND m.account_id = $3)
     FROM rooms r WHERE r.id = $1";
