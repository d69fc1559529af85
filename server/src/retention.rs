//! Retention: messages older than their room's limit are deleted, with their
//! search entries, reactions and files, a little at a time, so the chat
//! never pauses for it.
//!
//! A room's limit is the server's `--retention-days`, or the one its owner
//! set on the account page, whichever is shorter. Every few minutes each
//! room's oldest entries are looked at, a batch per short transaction with
//! a pause between batches (on SQLite every write waits for the one writer,
//! so a long delete would hold messages back). A room's newest entry always
//! stays: its `seq` is the room's head, which browsers resume from. With
//! several servers each one sweeps; deleting what is already gone is a no-op.

use crate::store::{Store, now_ms};
use std::time::Duration;

/// Entries looked at per transaction.
const BATCH: i64 = 500;
/// Between two batches: room for the chat's own writes.
const PAUSE: Duration = Duration::from_millis(20);
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// The limit of a room: the shorter of the server's and its owner's.
fn limit(server: Option<u32>, room: Option<u32>) -> Option<u32> {
    match (server, room) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// One pass over every room; how many entries went.
pub async fn sweep(
    store: &Store,
    server_days: Option<u32>,
) -> Result<u64, crate::store::StoreError> {
    let mut gone = 0;
    for (room_id, room_days) in store.retention_rooms().await? {
        let Some(days) = limit(server_days, room_days) else {
            continue;
        };
        let cutoff = now_ms() - i64::from(days) * DAY_MS;
        loop {
            let deleted = store.expire(room_id, cutoff, BATCH).await?;
            gone += deleted;
            if deleted < BATCH as u64 {
                break;
            }
            tokio::time::sleep(PAUSE).await;
        }
    }
    Ok(gone)
}

/// Sweeps every `every` for as long as the server runs.
pub fn keep_sweeping(store: Store, server_days: Option<u32>, every: Duration) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match sweep(&store, server_days).await {
                Ok(0) => {}
                Ok(gone) => tracing::info!(entries = gone, "retention: old entries deleted"),
                Err(err) => tracing::warn!(%err, "retention sweep failed; trying again later"),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::limit;

    #[test]
    fn the_shorter_limit_wins_and_none_keeps_for_ever() {
        assert_eq!(limit(None, None), None);
        assert_eq!(limit(Some(30), None), Some(30));
        assert_eq!(limit(None, Some(7)), Some(7));
        assert_eq!(limit(Some(30), Some(7)), Some(7));
        assert_eq!(limit(Some(7), Some(30)), Some(7));
    }
}
