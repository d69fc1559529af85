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
        let rows = sqlx::query!(
            r#"SELECT r.name, e.seq AS "seq!: i64", e.at, e.nick,
                      snippet(entries_search, 0, ?3, ?4, '…', 24) AS "snippet!: String"
               FROM entries_search s
               JOIN entries e ON e.search_id = s.rowid
               JOIN rooms r ON r.id = e.room_id
               WHERE entries_search MATCH ?1
                 AND r.name IN (SELECT value FROM json_each(?2))
               ORDER BY e.at DESC, e.seq DESC LIMIT ?5 OFFSET ?6"#,
            query,
            rooms,
            marks.0,
            marks.1,
            limit,
            skip
        )
        .fetch_all(&self.searchers)
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| found(&r.name, r.seq, r.at, &r.nick, r.snippet))
            .collect())
    }
}
