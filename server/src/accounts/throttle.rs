//! Attempt budgets for signing up and logging in, keyed by address or by
//! username: guessing passwords, or flooding the password hasher, runs out
//! of tries long before it gets anywhere.

use crate::peers::TokenBucket;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// Keys remembered before refilled (idle) ones are forgotten.
const KEYS_KEPT: usize = 10_000;

pub struct Throttle {
    buckets: Mutex<HashMap<String, TokenBucket>>,
    burst: f64,
    per_sec: f64,
}

impl Throttle {
    /// `burst` attempts at once, then one every `every`.
    pub fn new(burst: u32, every: Duration) -> Self {
        Self {
            buckets: Mutex::new(HashMap::new()),
            burst: f64::from(burst.max(1)),
            per_sec: 1.0 / every.as_secs_f64().max(0.001),
        }
    }

    /// Counts an attempt for `key`; over budget, how long until the next one.
    pub fn attempt(&self, key: &str) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().expect("throttle lock");
        if buckets.len() >= KEYS_KEPT && !buckets.contains_key(key) {
            buckets.retain(|_, bucket| !bucket.full());
            // Still crowded (many keys in use at once): start over rather
            // than scan this crowd on every new key, or grow without bound.
            if buckets.len() >= KEYS_KEPT / 2 {
                tracing::warn!(
                    keys = buckets.len(),
                    "attempt budgets reset: too many at once"
                );
                buckets.clear();
            }
        }
        let bucket = buckets
            .entry(key.to_owned())
            .or_insert_with(|| TokenBucket::new(self.burst, self.per_sec));
        if bucket.take() {
            Ok(())
        } else {
            Err(bucket.wait())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_runs_out_and_others_do_not() {
        let throttle = Throttle::new(2, Duration::from_secs(60));
        assert!(throttle.attempt("sadia").is_ok());
        assert!(throttle.attempt("sadia").is_ok());
        let wait = throttle.attempt("sadia").unwrap_err();
        assert!(wait > Duration::from_secs(50), "{wait:?}");
        assert!(throttle.attempt("usman").is_ok());
    }
}
