//! Media keys, uploads and the blobs nothing refers to any more.

use super::*;

impl SqliteStore {
    pub async fn member_key(
        &self,
        room_id: i64,
        author: &str,
        fresh: &str,
    ) -> Result<String, StoreError> {
        sqlx::query!(
            "INSERT INTO room_members (room_id, author, media_key) VALUES (?1, ?2, ?3)
             ON CONFLICT (room_id, author) DO NOTHING",
            room_id,
            author,
            fresh
        )
        .execute(&self.writer)
        .await?;
        Ok(sqlx::query_scalar!(
            "SELECT media_key FROM room_members WHERE room_id = ?1 AND author = ?2",
            room_id,
            author
        )
        .fetch_one(&self.writer)
        .await?)
    }

    pub async fn member_by_key(&self, key: &str) -> Result<Option<Member>, StoreError> {
        Ok(sqlx::query_as!(
            Member,
            "SELECT room_id, author FROM room_members WHERE media_key = ?1",
            key
        )
        .fetch_optional(&self.readers)
        .await?)
    }

    pub async fn is_member(&self, room_id: i64, author: &str) -> Result<bool, StoreError> {
        Ok(sqlx::query_scalar!(
            r#"SELECT EXISTS (SELECT 1 FROM room_members WHERE room_id = ?1 AND author = ?2)
               AS "member!: bool""#,
            room_id,
            author
        )
        .fetch_one(&self.readers)
        .await?)
    }

    pub async fn uploaded_since(&self, uploader: &str, since: i64) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar!(
            r#"SELECT COALESCE(SUM(size), 0) AS "bytes!: i64" FROM media
               WHERE uploader = ?1 AND created_at >= ?2"#,
            uploader,
            since
        )
        .fetch_one(&self.readers)
        .await?)
    }

    pub async fn media_bytes(&self) -> Result<i64, StoreError> {
        let (bytes,): (i64,) =
            sqlx::query_as("SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM media")
                .fetch_one(&self.readers)
                .await?;
        Ok(bytes)
    }

    pub async fn insert_media(&self, row: &MediaRow) -> Result<(), StoreError> {
        let kind = media_kind_word(row.kind);
        sqlx::query!(
            "INSERT INTO media (public_id, room_id, uploader, blob, thumb, name, content_type,
                                kind, size, width, height, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
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
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub async fn media(&self, public_id: &str) -> Result<Option<MediaRow>, StoreError> {
        let row = sqlx::query!(
            r#"SELECT public_id, room_id, uploader, blob, thumb, name, content_type, kind, size,
                      width AS "width?: i32", height AS "height?: i32", created_at, seq
               FROM media WHERE public_id = ?1"#,
            public_id
        )
        .fetch_optional(&self.readers)
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
        let mut tx = self.write().await?;
        sqlx::query!(
            "INSERT OR IGNORE INTO media_orphans (blob)
             SELECT blob FROM media WHERE seq IS NULL AND created_at < ?1
             UNION SELECT thumb FROM media
             WHERE seq IS NULL AND created_at < ?1 AND thumb IS NOT NULL",
            before
        )
        .execute(&mut *tx)
        .await?;
        let expired = sqlx::query!(
            "DELETE FROM media WHERE seq IS NULL AND created_at < ?1",
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
            sqlx::query_scalar!("SELECT blob FROM media_orphans LIMIT ?1", limit)
                .fetch_all(&self.readers)
                .await?,
        )
    }

    pub async fn blob_in_use(&self, blob: &str) -> Result<bool, StoreError> {
        Ok(sqlx::query_scalar!(
            r#"SELECT EXISTS (SELECT 1 FROM media WHERE blob = ?1)
                   OR EXISTS (SELECT 1 FROM media WHERE thumb = ?1) AS "used!: bool""#,
            blob
        )
        .fetch_one(&self.writer)
        .await?)
    }

    pub async fn forget_orphan(&self, blob: &str) -> Result<(), StoreError> {
        sqlx::query!("DELETE FROM media_orphans WHERE blob = ?1", blob)
            .execute(&self.writer)
            .await?;
        Ok(())
    }
}
