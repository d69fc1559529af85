//! Accounts and their sessions.

use super::*;

impl PostgresStore {
    pub async fn create_account(
        &self,
        name: &Nick,
        key: &str,
        password_hash: &str,
    ) -> Result<Option<i64>, StoreError> {
        let (name, now) = (name.as_str(), now_ms());
        let id = sqlx::query_scalar!(
            "INSERT INTO accounts (name, name_key, password_hash, created_at)
             VALUES ($1, $2, $3, $4) ON CONFLICT (name_key) DO NOTHING
             RETURNING id",
            name,
            key,
            password_hash,
            now
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(id)
    }

    pub async fn account_by_key(&self, key: &str) -> Result<Option<AccountRow>, StoreError> {
        let row = sqlx::query!(
            "SELECT id, name, password_hash FROM accounts WHERE name_key = $1",
            key
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.and_then(|r| account_row(r.id, &r.name, r.password_hash)))
    }

    pub async fn account_by_id(&self, id: i64) -> Result<Option<AccountRow>, StoreError> {
        let row = sqlx::query!(
            "SELECT id, name, password_hash FROM accounts WHERE id = $1",
            id
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.and_then(|r| account_row(r.id, &r.name, r.password_hash)))
    }

    pub async fn set_password(&self, id: i64, password_hash: &str) -> Result<(), StoreError> {
        sqlx::query!(
            "UPDATE accounts SET password_hash = $1 WHERE id = $2",
            password_hash,
            id
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn delete_account(&self, id: i64, shown_as: &str) -> Result<(), StoreError> {
        let (author, gone) = (format!("account:{id}"), format!("deleted:{id}"));
        let mut tx = self.pool.begin().await?;
        sqlx::query!(
            "UPDATE entries SET nick = $1, author = $2 WHERE author = $3",
            shown_as,
            gone,
            author
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query!(
            "UPDATE reactions SET nick = $1, author = $2 WHERE author = $3",
            shown_as,
            gone,
            author
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query!(
            "UPDATE rooms SET accounts_only = FALSE WHERE owner_id = $1",
            id
        )
        .execute(&mut *tx)
        .await?;
        // Its devices go with it: its conversations are due a new epoch.
        sqlx::query(
            "UPDATE rooms SET key_epoch = 0
             WHERE id IN (SELECT room_id FROM private_members WHERE account_id = $1)",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query!("DELETE FROM accounts WHERE id = $1", id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn create_session(
        &self,
        token_hash: &str,
        account_id: i64,
    ) -> Result<(), StoreError> {
        let now = now_ms();
        sqlx::query!(
            "INSERT INTO sessions (token_hash, account_id, created_at, seen_at) VALUES ($1, $2, $3, $3)",
            token_hash,
            account_id,
            now
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn session(&self, token_hash: &str) -> Result<Option<SessionRow>, StoreError> {
        let row = sqlx::query!(
            "SELECT s.account_id, a.name, s.created_at, s.seen_at
             FROM sessions s JOIN accounts a ON a.id = s.account_id
             WHERE s.token_hash = $1",
            token_hash
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.and_then(|r| session_row(r.account_id, &r.name, r.created_at, r.seen_at)))
    }

    pub async fn sessions_that_exist(
        &self,
        token_hashes: &[String],
    ) -> Result<Vec<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT token_hash FROM sessions WHERE token_hash = ANY($1)")
                .bind(token_hashes)
                .fetch_all(&self.pool)
                .await?,
        )
    }

    pub async fn touch_session(&self, token_hash: &str) -> Result<(), StoreError> {
        let now = now_ms();
        sqlx::query!(
            "UPDATE sessions SET seen_at = $1 WHERE token_hash = $2",
            now,
            token_hash
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query!("DELETE FROM sessions WHERE token_hash = $1", token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn delete_sessions(
        &self,
        account_id: i64,
        except: Option<&str>,
    ) -> Result<(), StoreError> {
        let except = except.unwrap_or("");
        sqlx::query!(
            "DELETE FROM sessions WHERE account_id = $1 AND token_hash <> $2",
            account_id,
            except
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn purge_sessions(
        &self,
        seen_before: i64,
        created_before: i64,
    ) -> Result<u64, StoreError> {
        let gone = sqlx::query!(
            "DELETE FROM sessions WHERE seen_at < $1 OR created_at < $2",
            seen_before,
            created_before
        )
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(gone)
    }
}
