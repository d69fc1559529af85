//! Message search.

use super::*;

impl PostgresStore {
    pub async fn search(
        &self,
        rooms: &[RoomName],
        words: &[String],
        skip: u32,
        limit: u32,
    ) -> Result<Vec<Found>, StoreError> {
        // Words are letters and digits only, so this is plain words joined
        // by AND whatever was typed; the last one is a prefix if it is long
        // enough (`app::search::MIN_PREFIX`).
        let prefix = if app::search::last_is_prefix(words) {
            ":*"
        } else {
            ""
        };
        let query = format!("{}{prefix}", words.join(" & "));
        let rooms: Vec<&str> = rooms.iter().map(RoomName::as_str).collect();
        let marks = format!(
            "StartSel=\"{}\", StopSel=\"{}\", MaxWords=24, MinWords=8",
            app::search::MARK_START,
            app::search::MARK_END
        );
        // Newest first, one room at a time: each room's newest matches come
        // from whichever its statistics make cheaper, walking the room's
        // log backwards until a page is found (a common word: a few hundred
        // rows) or the full-text index (a rare one: its few matches,
        // sorted). Sorting every match by time read 122,000 rows for a
        // common prefix in a million messages (docs/PERFORMANCE.md).
        let rows: Vec<(String, i64, i64, String, String)> = sqlx::query_as(
            "SELECT r.name, e.seq, e.at, e.nick, ts_headline('simple', e.body, q, $3)
             FROM rooms r, to_tsquery('simple', $1) q,
                  LATERAL (SELECT seq, at, nick, body FROM entries
                           WHERE room_id = r.id AND kind = 'message' AND search @@ q
                           ORDER BY seq DESC LIMIT $4 + $5) e
             WHERE r.name = ANY($2)
             ORDER BY e.at DESC, e.seq DESC LIMIT $4 OFFSET $5",
        )
        .bind(query)
        .bind(&rooms as &[&str])
        .bind(marks)
        .bind(i64::from(limit))
        .bind(i64::from(skip))
        .fetch_all(&self.searchers)
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(name, seq, at, nick, snippet)| found(&name, seq, at, &nick, snippet))
            .collect())
    }
}
