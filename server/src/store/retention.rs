//! Retention's SQL, which both stores run as written (`$N` placeholders
//! appear in order, so SQLite numbers them as PostgreSQL does): a room's
//! oldest entries deleted a batch at a time, with what hangs on them. The
//! one difference is SQLite's search rows, a table of their own
//! ([`SQLITE_SEARCH_ROWS`]); PostgreSQL's search column goes with its row.

/// Every room with its owner's limit (days).
pub(super) const ROOMS: &str = "SELECT id, CAST(retention_days AS BIGINT) FROM rooms ORDER BY id";

pub(super) const SET: &str =
    "UPDATE rooms SET retention_days = $1 WHERE name = $2 AND owner_id = $3";

/// The last of the room's `$2` oldest entries, and the room's head.
pub(super) const BOUNDS: &str =
    "SELECT (SELECT MAX(seq) FROM (SELECT seq FROM entries WHERE room_id = $1
                                                   ORDER BY seq LIMIT $2) AS oldest),
                                        (SELECT MAX(seq) FROM entries WHERE room_id = $1)";

/// The doomed: in room `$1`, up to seq `$2`, older than `$3`.
macro_rules! doomed {
    () => {
        "SELECT seq FROM entries WHERE room_id = $1 AND seq <= $2 AND at < $3"
    };
}

pub(super) const SQLITE_SEARCH_ROWS: &str = "DELETE FROM entries_search WHERE rowid IN
    (SELECT search_id FROM entries
     WHERE room_id = $1 AND seq <= $2 AND at < $3 AND search_id IS NOT NULL)";

/// What goes with the doomed entries, before them.
pub(super) const WITH_THEM: [&str; 3] = [
    concat!(
        "DELETE FROM reactions WHERE room_id = $1 AND seq IN (",
        doomed!(),
        ")"
    ),
    // Files go too: their blobs once nothing else uses them.
    concat!(
        "INSERT INTO media_orphans (blob)
         SELECT blob FROM media WHERE room_id = $1 AND seq IN (",
        doomed!(),
        ") UNION SELECT thumb FROM media WHERE room_id = $1 AND seq IN (",
        doomed!(),
        ") AND thumb IS NOT NULL ON CONFLICT DO NOTHING"
    ),
    concat!(
        "DELETE FROM media WHERE room_id = $1 AND seq IN (",
        doomed!(),
        ")"
    ),
];

pub(super) const ENTRIES: &str = "DELETE FROM entries WHERE room_id = $1 AND seq <= $2 AND at < $3";

/// In transaction `$tx`, deletes among room `$room`'s `$batch` oldest
/// entries those older than `$cutoff`, never its newest (its `seq` is the
/// room's head), after the `$first` statements and [`WITH_THEM`]; commits
/// and says how many went.
macro_rules! expire {
    ($tx:expr, $room:expr, $cutoff:expr, $batch:expr, $first:expr) => {{
        use crate::store::retention::{BOUNDS, ENTRIES, WITH_THEM};
        let mut tx = $tx;
        let (upto, head): (Option<i64>, Option<i64>) = sqlx::query_as(BOUNDS)
            .bind($room)
            .bind($batch)
            .fetch_one(&mut *tx)
            .await?;
        let (Some(upto), Some(head)) = (upto, head) else {
            return Ok(0);
        };
        let upto = upto.min(head - 1);
        let first: &[&str] = $first;
        for statement in first.iter().chain(WITH_THEM.iter()) {
            sqlx::query(statement)
                .bind($room)
                .bind(upto)
                .bind($cutoff)
                .execute(&mut *tx)
                .await?;
        }
        let gone = sqlx::query(ENTRIES)
            .bind($room)
            .bind(upto)
            .bind($cutoff)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(gone)
    }};
}
pub(super) use expire;
