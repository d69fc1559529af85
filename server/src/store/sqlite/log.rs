//! Rooms and their logs: opening a room, appending entries (the journal's
//! batches), reading pages and replays, heads, shutdown bookkeeping.

use super::*;

impl SqliteStore {
    /// Numbers and writes `drafts` in one transaction on the log writer's
    /// thread (which keeps the rooms' heads itself).
    pub async fn append(&self, drafts: Arc<[Draft]>) -> Result<Vec<Appended>, StoreError> {
        self.log.append(drafts).await
    }

    /// A write transaction holding the database's write lock from its start.
    pub(super) async fn write(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
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

    pub(super) async fn room_row(&self, name: &str) -> Result<Option<RoomRow>, StoreError> {
        let row = sqlx::query!(
            r#"SELECT id AS "id!: i64",
                      (SELECT COALESCE(MAX(seq), 0) FROM entries WHERE room_id = rooms.id) AS "head!: i64",
                      owner_id, accounts_only AS "accounts_only!: bool",
                      quiet_notices AS "quiet_notices!: bool"
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
            quiet_notices: row.quiet_notices,
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
                      e.author LIKE 'account:%' AS "account!: bool",
                      e.author LIKE 'bot:%' AS "bot!: bool", e.target,
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
    pub(super) async fn with_reactions(
        &self,
        rows: Vec<EntryRow>,
    ) -> Result<Vec<Entry>, StoreError> {
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
                      e.author LIKE 'account:%' AS "account!: bool",
                      e.author LIKE 'bot:%' AS "bot!: bool", e.target,
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
        let pattern = super::super::like_pattern(search);
        let names = sqlx::query_scalar!(
            r#"SELECT name FROM rooms WHERE lower(name) LIKE ?1 ESCAPE '\' AND name NOT LIKE '~%'
               ORDER BY active_at DESC, name LIMIT ?2"#,
            pattern,
            limit
        )
        .fetch_all(&self.readers)
        .await?;
        Ok(room_names(&names))
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
}
