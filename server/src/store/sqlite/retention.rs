//! Retention on SQLite: a room's oldest messages deleted a batch at a time,
//! with what hangs on them (search rows, reactions, files).

use super::SqliteStore;
use crate::store::StoreError;
use app::rooms::RoomName;

impl SqliteStore {
    pub async fn retention_rooms(&self) -> Result<Vec<(i64, Option<i64>)>, StoreError> {
        let rows: Vec<(i64, Option<i64>)> =
            sqlx::query_as("SELECT id, retention_days FROM rooms ORDER BY id")
                .fetch_all(&self.readers)
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
            sqlx::query("UPDATE rooms SET retention_days = ?1 WHERE name = ?2 AND owner_id = ?3")
                .bind(days.map(i64::from))
                .bind(room.as_str())
                .bind(owner)
                .execute(&self.writer)
                .await?;
        Ok(changed.rows_affected() > 0)
    }

    /// Deletes, among the room's `batch` oldest entries, those older than
    /// `cutoff` (ms), never its newest entry (its `seq` is the room's head);
    /// how many went.
    pub async fn expire(&self, room_id: i64, cutoff: i64, batch: i64) -> Result<u64, StoreError> {
        let mut tx = self.write().await?;
        let (upto, head): (Option<i64>, Option<i64>) = sqlx::query_as(
            "SELECT (SELECT MAX(seq) FROM (SELECT seq FROM entries WHERE room_id = ?1
                                           ORDER BY seq LIMIT ?2) AS oldest),
                    (SELECT MAX(seq) FROM entries WHERE room_id = ?1)",
        )
        .bind(room_id)
        .bind(batch)
        .fetch_one(&mut *tx)
        .await?;
        let (Some(upto), Some(head)) = (upto, head) else {
            return Ok(0);
        };
        let upto = upto.min(head - 1);
        // The doomed: `room_id = ?1 AND seq <= ?2 AND at < ?3`.
        let doomed = "SELECT seq FROM entries WHERE room_id = ?1 AND seq <= ?2 AND at < ?3";
        for statement in [
            "DELETE FROM entries_search WHERE rowid IN
                 (SELECT search_id FROM entries
                  WHERE room_id = ?1 AND seq <= ?2 AND at < ?3 AND search_id IS NOT NULL)"
                .to_owned(),
            format!("DELETE FROM reactions WHERE room_id = ?1 AND seq IN ({doomed})"),
            // Files go too: their blobs once nothing else uses them.
            format!(
                "INSERT OR IGNORE INTO media_orphans (blob)
                 SELECT blob FROM media WHERE room_id = ?1 AND seq IN ({doomed})
                 UNION SELECT thumb FROM media
                 WHERE room_id = ?1 AND seq IN ({doomed}) AND thumb IS NOT NULL"
            ),
            format!("DELETE FROM media WHERE room_id = ?1 AND seq IN ({doomed})"),
        ] {
            sqlx::query(&statement)
                .bind(room_id)
                .bind(upto)
                .bind(cutoff)
                .execute(&mut *tx)
                .await?;
        }
        let gone = sqlx::query("DELETE FROM entries WHERE room_id = ?1 AND seq <= ?2 AND at < ?3")
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
