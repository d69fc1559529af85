//! Private rooms and their members (`private_members`).

use super::{PostgresStore, PrivateMember, RosterChange, StoreError, now_ms};
use app::people::Nick;
use app::rooms::RoomName;

impl PostgresStore {
    pub async fn create_private_room(
        &self,
        room: &RoomName,
        owner: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let made = sqlx::query(
            "INSERT INTO rooms (name, created_at, active_at, owner_id) VALUES ($1, $2, $2, $3)
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(room.as_str())
        .bind(now_ms())
        .bind(owner)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if made {
            sqlx::query(
                "INSERT INTO private_members (room_id, account_id)
                 SELECT id, $2 FROM rooms WHERE name = $1",
            )
            .bind(room.as_str())
            .bind(owner)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(made)
    }

    /// The room's row is locked as a ban locks it, and the log's batches
    /// read members under that lock: no entry is stored between the check
    /// and the change.
    pub async fn set_member(
        &self,
        room: &RoomName,
        owner: i64,
        key: &str,
        on: bool,
    ) -> Result<RosterChange, StoreError> {
        let mut tx = self.pool.begin().await?;
        let room_id: Option<i64> =
            sqlx::query_scalar("SELECT id FROM rooms WHERE name = $1 AND owner_id = $2 FOR UPDATE")
                .bind(room.as_str())
                .bind(owner)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(room_id) = room_id.filter(|_| room.is_private()) else {
            return Ok(RosterChange::NotOwner);
        };
        let account: Option<i64> =
            sqlx::query_scalar("SELECT id FROM accounts WHERE name_key = $1")
                .bind(key)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(account_id) = account else {
            return Ok(RosterChange::NoSuchAccount);
        };
        if account_id == owner {
            return Ok(RosterChange::Owner);
        }
        let sql = if on {
            "INSERT INTO private_members (room_id, account_id) VALUES ($1, $2) ON CONFLICT DO NOTHING"
        } else {
            "DELETE FROM private_members WHERE room_id = $1 AND account_id = $2"
        };
        sqlx::query(sql)
            .bind(room_id)
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(RosterChange::Done(account_id))
    }

    pub async fn members(&self, room: &RoomName) -> Result<Vec<PrivateMember>, StoreError> {
        let rows: Vec<(String, i64, bool)> = sqlx::query_as(
            "SELECT a.name, a.id, COALESCE(r.owner_id = a.id, FALSE)
             FROM private_members m JOIN accounts a ON a.id = m.account_id
             JOIN rooms r ON r.id = m.room_id WHERE r.name = $1 ORDER BY a.name",
        )
        .bind(room.as_str())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(name, account_id, owner)| {
                Some(PrivateMember {
                    nick: Nick::parse(&name).ok()?,
                    account_id,
                    owner,
                })
            })
            .collect())
    }

    pub async fn private_rooms(&self, account: i64) -> Result<Vec<RoomName>, StoreError> {
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT r.name FROM private_members m JOIN rooms r ON r.id = m.room_id
             WHERE m.account_id = $1 ORDER BY r.name",
        )
        .bind(account)
        .fetch_all(&self.pool)
        .await?;
        Ok(names
            .iter()
            .filter_map(|n| RoomName::parse(n).ok())
            .collect())
    }
}
