//! Retention on PostgreSQL (its SQL: [`crate::store::retention`]).

use super::PostgresStore;
use crate::store::StoreError;
use crate::store::retention::{self, expire};
use app::rooms::RoomName;

impl PostgresStore {
    pub async fn retention_rooms(&self) -> Result<Vec<(i64, Option<i64>)>, StoreError> {
        Ok(sqlx::query_as(retention::ROOMS)
            .fetch_all(&self.pool)
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
        Ok(set.execute(&self.pool).await?.rows_affected() > 0)
    }

    pub async fn expire(&self, room_id: i64, cutoff: i64, batch: i64) -> Result<u64, StoreError> {
        expire!(self.pool.begin().await?, room_id, cutoff, batch, &[])
    }
}
