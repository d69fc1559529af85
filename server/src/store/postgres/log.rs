//! Rooms and their logs: opening a room, appending entries (the journal's
//! batches), reading pages and replays, heads, shutdown bookkeeping.

use super::*;

impl PostgresStore {
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

    pub(super) async fn room_row(&self, name: &str) -> Result<Option<RoomRow>, StoreError> {
        let row = sqlx::query!(
            "SELECT id, head, owner_id, accounts_only, quiet_notices FROM rooms WHERE name = $1",
            name
        )
        .fetch_optional(&self.pool)
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
                      e.author LIKE 'account:%' AS "account!",
                      e.author LIKE 'bot:%' AS "bot!", e.target, e.edited,
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
                      e.author LIKE 'account:%' AS "account!",
                      e.author LIKE 'bot:%' AS "bot!", e.target, e.edited,
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

    pub async fn room_names(&self, search: &str, limit: u32) -> Result<Vec<RoomName>, StoreError> {
        let pattern = super::super::like_pattern(search);
        let names = sqlx::query_scalar!(
            r#"SELECT name FROM rooms WHERE lower(name) LIKE $1 ESCAPE '\' AND name NOT LIKE '~%'
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
        let (refused, moderates) = authors_refused(&mut tx, drafts, &room_ids).await?;
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
                let mut judged = judge(draft, row.as_ref(), moderates[i]);
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
            let body = body.as_deref();
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
}

/// A `seq` as PostgreSQL's BIGINT (logs never come near the top half).
pub(super) fn clamp(seq: Seq) -> i64 {
    seq.min(i64::MAX as u64) as i64
}

/// Gives a new message at `seq` the uploads its draft names, in order;
/// `None` (and the message taken out again) when one is not the author's
/// unsent upload to this room.
pub(super) async fn attach(
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
pub(super) async fn apply(
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
        EntryKind::Message { .. }
        | EntryKind::Joined
        | EntryKind::Left
        | EntryKind::Crowd(..)
        | EntryKind::Deleted => {}
    }
    Ok(())
}

/// An entry that needs nothing read or changed besides its own row: a
/// message without a reply or files, or a notice.
/// Each draft's refusal under the room's rules (see [`crate::access`]), read
/// with the rooms' rows locked: a ban or a close to guests takes the same
/// lock (`ban`, `set_accounts_only`), so it is either in before this batch
/// or waits for it. Two statements a batch however many drafts, three when
/// one is to a private room (its members). (Checked at
/// run time, like [`insert_plain`].)
pub(super) async fn authors_refused(
    tx: &mut Transaction<'static, Postgres>,
    drafts: &[Draft],
    room_ids: &[i64],
) -> Result<(Vec<Option<Refusal>>, Vec<bool>), StoreError> {
    let mut authors: Vec<String> = drafts
        .iter()
        .filter(|d| act_of(&d.kind).is_some())
        .map(|d| d.author.column())
        .collect();
    if authors.is_empty() {
        return Ok((vec![None; drafts.len()], vec![false; drafts.len()]));
    }
    authors.sort_unstable();
    authors.dedup();
    // The rooms with a rule beyond bans: closed to guests, or private (by
    // their name), in one statement.
    let ruled: Vec<(i64, bool, bool, i64)> = sqlx::query_as(
        "SELECT id, accounts_only, starts_with(name, $2), key_epoch FROM rooms
         WHERE id = ANY($1) AND (accounts_only OR starts_with(name, $2))",
    )
    .bind(room_ids)
    .bind(app::rooms::PRIVATE_MARK.to_string())
    .fetch_all(&mut **tx)
    .await?;
    let closed = |room: i64| ruled.iter().any(|(id, closed, ..)| *id == room && *closed);
    let private = |room: i64| {
        ruled
            .iter()
            .any(|(id, _, private, _)| *id == room && *private)
    };
    let key_epoch = |room: i64| {
        ruled
            .iter()
            .find(|r| r.0 == room)
            .map_or(0, |r| u32::try_from(r.3).unwrap_or(0))
    };
    // Private rooms' members, read only when a private room is written to.
    let private_ids: Vec<i64> = ruled.iter().filter(|r| r.2).map(|r| r.0).collect();
    let mut members: Vec<(i64, i64)> = vec![];
    if !private_ids.is_empty() {
        members = sqlx::query_as(
            "SELECT room_id, account_id FROM private_members WHERE room_id = ANY($1)",
        )
        .bind(&private_ids)
        .fetch_all(&mut **tx)
        .await?;
    }
    let banned: Vec<(i64, String)> = sqlx::query_as(
        "SELECT room_id, author FROM bans WHERE room_id = ANY($1) AND author = ANY($2)",
    )
    .bind(room_ids)
    .bind(&authors)
    .fetch_all(&mut **tx)
    .await?;
    // Only a deletion asked as a moderator needs to know who moderates.
    let mut moderators: Vec<(i64, i64)> = vec![];
    if drafts.iter().any(|d| d.moderator) {
        moderators = sqlx::query_as(
            "SELECT id, owner_id FROM rooms WHERE id = ANY($1) AND owner_id IS NOT NULL
             UNION ALL
             SELECT room_id, account_id FROM moderators WHERE room_id = ANY($1)",
        )
        .bind(room_ids)
        .fetch_all(&mut **tx)
        .await?;
    }
    let mut refused = Vec::with_capacity(drafts.len());
    let mut moderates = Vec::with_capacity(drafts.len());
    for draft in drafts {
        let moderator = match draft.author {
            super::super::Author::Account(id) => moderators
                .iter()
                .any(|(room, account)| *room == draft.room_id && *account == id),
            super::super::Author::Guest(_) | super::super::Author::Bot(_) => false,
        };
        let member = match draft.author {
            super::super::Author::Account(id) => members
                .iter()
                .any(|(room, account)| *room == draft.room_id && *account == id),
            super::super::Author::Guest(_) | super::super::Author::Bot(_) => false,
        };
        let standing = Standing {
            private: private(draft.room_id),
            member,
            accounts_only: closed(draft.room_id),
            // Its author column made only when someone is banned at all.
            banned: !banned.is_empty() && {
                let author = draft.author.column();
                banned
                    .iter()
                    .any(|(room, a)| *room == draft.room_id && *a == author)
            },
            moderator,
            key_epoch: key_epoch(draft.room_id),
        };
        refused.push(judge_author(draft, &standing).err());
        moderates.push(moderator);
    }
    Ok((refused, moderates))
}

pub(super) fn is_plain(draft: &Draft) -> bool {
    draft.kind.target().is_none() && draft.reply_to.is_none() && draft.media.is_empty()
}

/// Writes a run of [`is_plain`] drafts in two statements: one reads which of
/// their client ids their rooms already have, one inserts the rest. The
/// rooms' rows are locked by the batch, so no other server can add one of
/// those ids in between. (Checked at run time, not against `.sqlx/`: the
/// tests run them on every batch.)
pub(super) async fn insert_plain(
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
