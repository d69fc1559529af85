//! Attempt budgets for signing up and logging in, keyed by address or by
//! username: guessing passwords, or flooding the password hasher, runs out
//! of tries long before it gets anywhere.
//!
//! The budgets are kept for a bounded number of keys. When that fills up,
//! refilled budgets go first, then the least recently used ones: a spray of
//! new keys pushes out only keys nobody touched for longer, and never wipes
//! the budget of a name under attack right now.

use crate::peers::TokenBucket;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// Keys remembered at most.
const KEYS_KEPT: usize = 10_000;

pub struct Throttle {
    state: Mutex<Budgets>,
    burst: f64,
    per_sec: f64,
    kept: usize,
}

struct Budgets {
    /// Each key's budget and when it was last used (a counter, not a clock:
    /// only the order matters).
    buckets: HashMap<String, (TokenBucket, u64)>,
    tick: u64,
}

impl Throttle {
    /// `burst` attempts at once, then one every `every`.
    pub fn new(burst: u32, every: Duration) -> Self {
        Self::keeping(burst, every, KEYS_KEPT)
    }

    fn keeping(burst: u32, every: Duration, kept: usize) -> Self {
        Self {
            state: Mutex::new(Budgets {
                buckets: HashMap::new(),
                tick: 0,
            }),
            burst: f64::from(burst.max(1)),
            per_sec: 1.0 / every.as_secs_f64().max(0.001),
            kept: kept.max(2),
        }
    }

    /// Counts an attempt for `key`; over budget, how long until the next one.
    pub fn attempt(&self, key: &str) -> Result<(), Duration> {
        let mut state = self.state.lock().expect("throttle lock");
        state.tick += 1;
        let tick = state.tick;
        if state.buckets.len() >= self.kept && !state.buckets.contains_key(key) {
            self.make_room(&mut state.buckets);
        }
        let (bucket, used) = state
            .buckets
            .entry(key.to_owned())
            .or_insert_with(|| (TokenBucket::new(self.burst, self.per_sec), tick));
        *used = tick;
        if bucket.take() {
            Ok(())
        } else {
            Err(bucket.wait())
        }
    }

    /// Forgets refilled budgets (nothing lost), then, if still crowded, the
    /// least recently used tenth, so the scan runs once per many new keys.
    fn make_room(&self, buckets: &mut HashMap<String, (TokenBucket, u64)>) {
        buckets.retain(|_, (bucket, _)| !bucket.full());
        if buckets.len() < self.kept {
            return;
        }
        let mut ages: Vec<u64> = buckets.values().map(|(_, used)| *used).collect();
        let drop = (self.kept / 10).max(1);
        let (_, cutoff, _) = ages.select_nth_unstable(drop - 1);
        let cutoff = *cutoff;
        buckets.retain(|_, (_, used)| *used > cutoff);
        tracing::warn!(
            keys = buckets.len(),
            "attempt budgets crowded: the least recently used were forgotten"
        );
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

    #[test]
    fn a_spray_of_new_keys_does_not_restore_a_spent_budget() {
        let throttle = Throttle::keeping(2, Duration::from_secs(60), 100);
        for _ in 0..2 {
            throttle.attempt("sadia").unwrap();
        }
        assert!(throttle.attempt("sadia").is_err());
        // Ten times the keys kept, each spending budget (so none is refilled),
        // with the attacker's guesses on the real name in between.
        for junk in 0..1_000 {
            let key = format!("junk{junk}");
            throttle.attempt(&key).unwrap();
            throttle.attempt(&key).unwrap();
            if junk % 20 == 0 {
                assert!(throttle.attempt("sadia").is_err(), "after {junk} junk keys");
            }
        }
        assert!(throttle.attempt("sadia").is_err());
        assert!(throttle.state.lock().unwrap().buckets.len() <= 100);
    }
}
