//! The lobby's list: the busiest rooms first, from memory and the store.

use super::*;

impl RoomHub {
    /// The busiest public rooms first (most people in them now, then the
    /// most recently active), at most `limit`, those whose name contains
    /// `search`.
    pub async fn summaries(
        &self,
        search: &str,
        limit: usize,
    ) -> Result<Vec<RoomSummary>, HubError> {
        let recent = self.store.room_names(search, limit as u32).await?;
        let needle = search.to_lowercase();
        let mut list: Vec<RoomSummary> = {
            let rooms = self.rooms.lock().await;
            let mut live: Vec<RoomSummary> = rooms
                .values()
                .map(|r| RoomSummary {
                    name: r.name.clone(),
                    online: r.online.load(Ordering::Relaxed),
                })
                // Private rooms are only their members' business.
                .filter(|r| r.online > 0 && !r.name.is_private())
                .filter(|r| r.name.as_str().to_lowercase().contains(&needle))
                .collect();
            live.sort_by(|a, b| b.online.cmp(&a.online).then_with(|| a.name.cmp(&b.name)));
            live.truncate(limit);
            live
        };
        for name in recent {
            if list.len() >= limit {
                break;
            }
            if !list.iter().any(|r| r.name == name) {
                list.push(RoomSummary { name, online: 0 });
            }
        }
        Ok(list)
    }
}
