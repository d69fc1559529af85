//! Retention on PostgreSQL: a room's oldest messages deleted a batch at a
//! time, with what hangs on them (reactions, files; the search column goes
//! with its row).

use super::PostgresStore;
use crate::store::StoreError;
use app::rooms::RoomName;

impl PostgresStore {
    pub async fn retention_rooms(&self) -> Result<Vec<(i64, Option<i64>)>, StoreError> {
        let rows: Vec<(i64, Option<i64>)> =
            sqlx::query_as("SELECT id, CAST(retention_days AS BIGINT) FROM rooms ORDER BY id")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows)
    }

    pub async fn set_retention(
        &self,
        room: &RoomName,
        owner: i64,
        days: Option<u32>,
    ) -> Result<bool, StoreError> {
        let changed =
            sqlx::query("UPDATE rooms SET retention_days = $1 WHERE name = $2 AND owner_id = $3")
                .bind(days.map(|d| d as i32))
                .bind(room.as_str())
                .bind(owner)
                .execute(&self.pool)
                .await?;
        Ok(changed.rows_affected() > 0)
    }

    /// Deletes, among the room's `batch` oldest entries, those older than
    /// `cutoff` (ms), never its newest entry (its `seq` is the room's head);
    /// how many went.
    pub async fn expire(&self, room_id: i64, cutoff: i64, batch: i64) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let (upto, head): (Option<i64>, Option<i64>) = sqlx::query_as(
            "SELECT (SELECT MAX(seq) FROM (SELECT seq FROM entries WHERE room_id = $1
                                           ORDER BY seq LIMIT $2) AS oldest),
                    (SELECT MAX(seq) FROM entries WHERE room_id = $1)",
        )
        .bind(room_id)
        .bind(batch)
        .fetch_one(&mut *tx)
        .await?;
        let (Some(upto), Some(head)) = (upto, head) else {
            return Ok(0);
        };
        let upto = upto.min(head - 1);
        // The doomed: `room_id = $1 AND seq <= $2 AND at < $3`.
        let doomed = "SELECT seq FROM entries WHERE room_id = $1 AND seq <= $2 AND at < $3";
        for statement in [
            format!("DELETE FROM reactions WHERE room_id = $1 AND seq IN ({doomed})"),
            // Files go too: their blobs once nothing else uses them.
            format!(
                "INSERT INTO media_orphans (blob)
                 SELECT blob FROM media WHERE room_id = $1 AND seq IN ({doomed})
                 UNION SELECT thumb FROM media
                 WHERE room_id = $1 AND seq IN ({doomed}) AND thumb IS NOT NULL
                 ON CONFLICT DO NOTHING"
            ),
            format!("DELETE FROM media WHERE room_id = $1 AND seq IN ({doomed})"),
        ] {
            sqlx::query(&statement)
                .bind(room_id)
                .bind(upto)
                .bind(cutoff)
                .execute(&mut *tx)
                .await?;
        }
        let gone = sqlx::query("DELETE FROM entries WHERE room_id = $1 AND seq <= $2 AND at < $3")
            .bind(room_id)
            .bind(upto)
            .bind(cutoff)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(gone)
    }
}
