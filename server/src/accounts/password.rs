//! Password hashing: Argon2id with the `argon2` crate's defaults (OWASP's
//! m = 19 MiB, t = 2, p = 1), stored as a PHC string.
//!
//! A hash takes tens of milliseconds of one core and 19 MiB, so it runs on a
//! blocking thread, and only a few at once (a semaphore): a burst of logins
//! waits its turn instead of starving the chat's runtime or its memory.

use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Argon2, PasswordHasher as _, PasswordVerifier as _};
use std::time::Duration;
use tokio::sync::{OnceCell, Semaphore};

/// How long a login may wait for a free hashing slot before it is turned away.
const QUEUE_DEADLINE: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("every password hashing slot stayed busy")]
    Busy,
    #[error("password hashing failed: {0}")]
    Failed(String),
}

pub struct Hasher {
    slots: Semaphore,
    /// Checked against when the username is unknown, so that answer takes as
    /// long as a wrong password (no way to learn which names exist).
    dummy: OnceCell<String>,
}

impl Hasher {
    pub fn new(concurrency: usize) -> Self {
        Self {
            slots: Semaphore::new(concurrency.max(1)),
            dummy: OnceCell::new(),
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let _slot = tokio::time::timeout(QUEUE_DEADLINE, self.slots.acquire())
            .await
            .map_err(|_| HashError::Busy)?
            .map_err(|_| HashError::Busy)?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| HashError::Failed(e.to_string()))
    }

    pub async fn hash(&self, password: String) -> Result<String, HashError> {
        self.run(move || {
            let mut bytes = [0u8; 16];
            getrandom::fill(&mut bytes).map_err(|e| HashError::Failed(e.to_string()))?;
            let salt =
                SaltString::encode_b64(&bytes).map_err(|e| HashError::Failed(e.to_string()))?;
            Argon2::default()
                .hash_password(password.as_bytes(), &salt)
                .map(|hash| hash.to_string())
                .map_err(|e| HashError::Failed(e.to_string()))
        })
        .await?
    }

    /// True when `password` matches `stored`; with no stored hash (unknown
    /// user) it still spends one hash and answers false.
    pub async fn verify(
        &self,
        password: String,
        stored: Option<String>,
    ) -> Result<bool, HashError> {
        let known = stored.is_some();
        let stored = match stored {
            Some(stored) => stored,
            None => self
                .dummy
                .get_or_try_init(|| self.hash("not anybody's password".into()))
                .await?
                .clone(),
        };
        let matches = self
            .run(move || {
                PasswordHash::new(&stored).is_ok_and(|hash| {
                    Argon2::default()
                        .verify_password(password.as_bytes(), &hash)
                        .is_ok()
                })
            })
            .await?;
        Ok(matches && known)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_is_argon2id_with_owasp_parameters_and_verifies() {
        let hasher = Hasher::new(1);
        let phc = hasher.hash("correct horse".into()).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(
            hasher
                .verify("correct horse".into(), Some(phc.clone()))
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify("wrong horse".into(), Some(phc))
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn an_unknown_user_never_verifies() {
        let hasher = Hasher::new(1);
        assert!(
            !hasher
                .verify("not anybody's password".into(), None)
                .await
                .unwrap()
        );
    }
}
