//! Retention on SQLite (its SQL: [`crate::store::retention`]).

use super::SqliteStore;
use crate::store::StoreError;
use crate::store::retention::{self, expire};
use app::rooms::RoomName;

impl SqliteStore {
    pub async fn retention_rooms(&self) -> Result<Vec<(i64, Option<i64>)>, StoreError> {
        Ok(sqlx::query_as(retention::ROOMS)
            .fetch_all(&self.readers)
            .await?)
    }

    pub async fn set_retention(
        &self,
        room: &RoomName,
        owner: i64,
        days: Option<i32>,
    ) -> Result<bool, StoreError> {
        let set = sqlx::query(retention::SET)
            .bind(days)
            .bind(room.as_str())
            .bind(owner);
        Ok(set.execute(&self.writer).await?.rows_affected() > 0)
    }

    pub async fn expire(&self, room_id: i64, cutoff: i64, batch: i64) -> Result<u64, StoreError> {
        expire!(
            self.write().await?,
            room_id,
            cutoff,
            batch,
            &[retention::SQLITE_SEARCH_ROWS]
        )
    }
}
