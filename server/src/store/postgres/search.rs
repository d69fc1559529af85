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
        let rows = sqlx::query!(
            r#"SELECT r.name, e.seq, e.at, e.nick,
                      ts_headline('simple', e.body, q, $3) AS "snippet!"
               FROM entries e JOIN rooms r ON r.id = e.room_id,
                    to_tsquery('simple', $1) q
               WHERE e.kind = 'message' AND e.search @@ q AND r.name = ANY($2)
               ORDER BY e.at DESC, e.seq DESC LIMIT $4 OFFSET $5"#,
            query,
            &rooms as &[&str],
            marks,
            i64::from(limit),
            i64::from(skip)
        )
        .fetch_all(&self.searchers)
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| found(&r.name, r.seq, r.at, &r.nick, r.snippet))
            .collect())
    }
}
