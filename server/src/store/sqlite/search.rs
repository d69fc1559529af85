//! Message search.

use super::*;

impl SqliteStore {
    pub async fn search(
        &self,
        rooms: &[RoomName],
        words: &[String],
        skip: u32,
        limit: u32,
    ) -> Result<Vec<Found>, StoreError> {
        // Each word quoted (its quotes doubled, though words have none), the
        // last one a prefix if long enough (`app::search::MIN_PREFIX`): FTS5
        // reads it as plain words whatever was typed.
        let last = if app::search::last_is_prefix(words) {
            words.len() - 1
        } else {
            usize::MAX
        };
        let query = words
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let quoted = format!("\"{}\"", w.replace('"', "\"\""));
                if i == last { quoted + "*" } else { quoted }
            })
            .collect::<Vec<_>>()
            .join(" ");
        let rooms = serde_json::to_string(&rooms).expect("room names serialise");
        let marks = (
            app::search::MARK_START.to_string(),
            app::search::MARK_END.to_string(),
        );
        // Newest first by the index's own row number, which messages take in
        // the order they are stored (older databases numbered theirs by room
        // and seq, which still orders each room's own): FTS5 then walks its
        // matches newest first and stops at the page, instead of sorting
        // every match (350 ms for a common prefix in a million messages,
        // docs/PERFORMANCE.md).
        // Checked at run time (the search tests run it on every store).
        let rows: Vec<(String, i64, i64, String, String)> = sqlx::query_as(
            "SELECT r.name, e.seq, e.at, e.nick,
                    snippet(entries_search, 0, ?3, ?4, '…', 24)
             FROM entries_search s
             JOIN entries e ON e.search_id = s.rowid
             JOIN rooms r ON r.id = e.room_id
             WHERE entries_search MATCH ?1
               AND r.name IN (SELECT value FROM json_each(?2))
             ORDER BY s.rowid DESC LIMIT ?5 OFFSET ?6",
        )
        .bind(query)
        .bind(rooms)
        .bind(marks.0)
        .bind(marks.1)
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
