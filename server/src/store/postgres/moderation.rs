//! Who moderates, who is banned, who owns which room, and a person's
//! standing in a room (see `crate::access`).

use super::*;

impl PostgresStore {
    pub async fn owned_rooms(&self, account_id: i64) -> Result<Vec<OwnedRoom>, StoreError> {
        let rows = sqlx::query!(
            "SELECT name, accounts_only, quiet_notices, assistant_off, retention_days
             FROM rooms WHERE owner_id = $1 ORDER BY name",
            account_id
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                owned_room(
                    &r.name,
                    r.accounts_only,
                    r.quiet_notices,
                    r.assistant_off,
                    r.retention_days.map(i64::from),
                )
            })
            .collect())
    }

    /// Claims `room` for an answer until `until` (ms), unless another
    /// claim holds it past `now`; whether it is this one's.
    pub async fn claim_assistant_turn(
        &self,
        room: &RoomName,
        until: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let claimed = sqlx::query(
            "INSERT INTO assistant_turns (room, held_until) VALUES ($1, $2)
             ON CONFLICT (room) DO UPDATE SET held_until = excluded.held_until
             WHERE assistant_turns.held_until < $3",
        )
        .bind(room.as_str())
        .bind(until)
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(claimed == 1)
    }

    /// Ends a claim of [`Self::claim_assistant_turn`].
    pub async fn end_assistant_turn(&self, room: &RoomName) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM assistant_turns WHERE room = $1")
            .bind(room.as_str())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Whether `room`'s owner turned the assistant off there.
    pub async fn assistant_off(&self, room: &RoomName) -> Result<bool, StoreError> {
        let off: Option<bool> =
            sqlx::query_scalar("SELECT assistant_off FROM rooms WHERE name = $1")
                .bind(room.as_str())
                .fetch_optional(&self.pool)
                .await?;
        Ok(off.unwrap_or(false))
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
    pub async fn standings(
        &self,
        rooms: &[RoomName],
        author: &str,
        account: i64,
    ) -> Result<Vec<(RoomName, Standing)>, StoreError> {
        let rows: Vec<StandingRow> = sqlx::query_as(STANDINGS_BY_NAMES)
            .bind(rooms.iter().map(RoomName::as_str).collect::<Vec<_>>())
            .bind(author)
            .bind(account)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().filter_map(standing).collect())
    }

    pub async fn standing_by_id(
        &self,
        room_id: i64,
        author: &str,
        account: i64,
    ) -> Result<Option<(RoomName, Standing)>, StoreError> {
        let row: Option<StandingRow> = sqlx::query_as(STANDING_BY_ID)
            .bind(room_id)
            .bind(author)
            .bind(account)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.and_then(standing))
    }

    pub async fn set_moderator(
        &self,
        room: &RoomName,
        owner: i64,
        key: &str,
        on: bool,
    ) -> Result<RosterChange, StoreError> {
        let name = room.as_str();
        let Some(room_id) = sqlx::query_scalar!(
            "SELECT id FROM rooms WHERE name = $1 AND owner_id = $2",
            name,
            owner
        )
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(RosterChange::NotOwner);
        };
        let Some(account_id) =
            sqlx::query_scalar!("SELECT id FROM accounts WHERE name_key = $1", key)
                .fetch_optional(&self.pool)
                .await?
        else {
            return Ok(RosterChange::NoSuchAccount);
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
        Ok(RosterChange::Done(account_id))
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

    pub async fn set_room_flag(
        &self,
        room: &RoomName,
        owner: i64,
        flag: RoomFlag,
        on: bool,
    ) -> Result<bool, StoreError> {
        let sql = format!(
            "UPDATE rooms SET {} = $1 WHERE name = $2 AND owner_id = $3",
            flag.column()
        );
        let changed = sqlx::query(&sql)
            .bind(on)
            .bind(room.as_str())
            .bind(owner)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(changed == 1)
    }
}

/// A person's standing in rooms (see `crate::access`), one row a room that
/// exists: its name, then closed to guests, banned, moderator, member; by their
/// author column ($2, `''` for nobody) and account id ($3, `-1` for none).
macro_rules! standing_in {
    ($rooms:literal) => {
        concat!(
            "SELECT r.name, r.accounts_only,
                    EXISTS (SELECT 1 FROM bans b WHERE b.room_id = r.id AND b.author = $2),
                    COALESCE(r.owner_id = $3, FALSE)
                        OR EXISTS (SELECT 1 FROM moderators m
                                   WHERE m.room_id = r.id AND m.account_id = $3),
                    EXISTS (SELECT 1 FROM private_members rm
                            WHERE rm.room_id = r.id AND rm.account_id = $3),
                    r.key_epoch
             FROM rooms r WHERE ",
            $rooms
        )
    };
}

/// By the rooms' names ($1).
pub(super) const STANDINGS_BY_NAMES: &str = standing_in!("r.name = ANY($1)");

/// By the room's row id ($1).
pub(super) const STANDING_BY_ID: &str = standing_in!("r.id = $1");
