//! Private rooms and their members (`private_members`).

use super::{PostgresStore, PrivateMember, RosterChange, StoreError, now_ms};
use crate::store::{DirectRoom, PrivateRoster};
use app::people::Nick;
use app::rooms::PrivateRoom;
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
        let changed = sqlx::query(sql)
            .bind(room_id)
            .bind(account_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        // Someone came or went: what is said next is sealed with a new
        // epoch's key, wrapped for exactly the members' devices now.
        if changed > 0 {
            sqlx::query("UPDATE rooms SET key_epoch = 0 WHERE id = $1")
                .bind(room_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(RosterChange::Done(account_id))
    }

    pub async fn members(&self, room: &RoomName) -> Result<PrivateRoster, StoreError> {
        let rows: Vec<(String, i64, bool, bool)> = sqlx::query_as(
            "SELECT a.name, a.id, COALESCE(r.owner_id = a.id, FALSE),
                    EXISTS (SELECT 1 FROM direct_rooms d WHERE d.room_id = r.id)
             FROM private_members m JOIN accounts a ON a.id = m.account_id
             JOIN rooms r ON r.id = m.room_id WHERE r.name = $1 ORDER BY a.name",
        )
        .bind(room.as_str())
        .fetch_all(&self.pool)
        .await?;
        let direct = rows.first().is_some_and(|row| row.3);
        let members = rows
            .into_iter()
            .filter_map(|(name, account_id, owner, _)| {
                Some(PrivateMember {
                    nick: Nick::parse(&name).ok()?,
                    account_id,
                    owner,
                })
            })
            .collect();
        Ok(PrivateRoster { members, direct })
    }

    pub async fn private_rooms(&self, account: i64) -> Result<Vec<PrivateRoom>, StoreError> {
        let rows: Vec<(String, Option<String>)> = sqlx::query_as(
            "SELECT r.name, o.name FROM private_members m JOIN rooms r ON r.id = m.room_id
             LEFT JOIN direct_rooms d ON d.room_id = r.id
             LEFT JOIN accounts o
               ON o.id = CASE WHEN d.first_id = $1 THEN d.second_id ELSE d.first_id END
             WHERE m.account_id = $1 ORDER BY r.name",
        )
        .bind(account)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(room, with)| {
                Some(PrivateRoom {
                    room: RoomName::parse(&room).ok()?,
                    with: with.and_then(|w| Nick::parse(&w).ok()),
                })
            })
            .collect())
    }

    /// One write transaction: two people opening their conversation at the
    /// same moment find one room (the pair is unique; the loser reads the
    /// winner's).
    pub async fn open_direct(
        &self,
        me: i64,
        key: &str,
        fresh: &RoomName,
    ) -> Result<Option<DirectRoom>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let other: Option<(i64, String)> =
            sqlx::query_as("SELECT id, name FROM accounts WHERE name_key = $1")
                .bind(key)
                .fetch_optional(&mut *tx)
                .await?;
        let Some((with_id, with)) = other.filter(|(id, _)| *id != me) else {
            return Ok(None);
        };
        let Ok(with) = Nick::parse(&with) else {
            return Ok(None);
        };
        let (first, second) = (me.min(with_id), me.max(with_id));
        // Two people opening their conversation at once: the second waits
        // on these locks, then finds the first one's room.
        sqlx::query("SELECT id FROM accounts WHERE id IN ($1, $2) ORDER BY id FOR UPDATE")
            .bind(first)
            .bind(second)
            .execute(&mut *tx)
            .await?;
        let found: Option<String> = sqlx::query_scalar(
            "SELECT r.name FROM direct_rooms d JOIN rooms r ON r.id = d.room_id
             WHERE d.first_id = $1 AND d.second_id = $2",
        )
        .bind(first)
        .bind(second)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(room) = found.and_then(|r| RoomName::parse(&r).ok()) {
            return Ok(Some(DirectRoom {
                room,
                with,
                with_id,
                made: false,
            }));
        }
        let room_id: i64 = sqlx::query_scalar(
            "INSERT INTO rooms (name, created_at, active_at) VALUES ($1, $2, $2) RETURNING id",
        )
        .bind(fresh.as_str())
        .bind(now_ms())
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO direct_rooms (room_id, first_id, second_id) VALUES ($1, $2, $3)")
            .bind(room_id)
            .bind(first)
            .bind(second)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO private_members (room_id, account_id) VALUES ($1, $2), ($1, $3)")
            .bind(room_id)
            .bind(first)
            .bind(second)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(DirectRoom {
            room: fresh.clone(),
            with,
            with_id,
            made: true,
        }))
    }
}
