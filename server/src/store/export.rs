//! A person's own data as they download it from the account page ("Download
//! my data"): their account, their messages, reactions and files, the rooms
//! they own, moderate or belong to, their devices. Read-only queries that
//! run as written on both stores (`$1` is SQLite's first parameter too, and
//! every value is read back as text).

use super::StoreError;
use serde::Serialize;
use sqlx::Row;

#[derive(Debug, Serialize)]
pub struct AccountData {
    pub exported_at: i64,
    pub account: AccountRecord,
    pub rooms_owned: Vec<String>,
    pub moderator_of: Vec<String>,
    pub private_rooms: Vec<String>,
    pub devices: Vec<DeviceRecord>,
    /// Oldest first. In an end-to-end encrypted conversation the text is the
    /// sealed form only the account's devices can open.
    pub messages: Vec<MessageRecord>,
    pub reactions: Vec<ReactionRecord>,
    pub files: Vec<FileRecord>,
}

#[derive(Debug, Serialize)]
pub struct AccountRecord {
    pub name: String,
    pub created_at: i64,
}

#[derive(Debug, Serialize)]
pub struct DeviceRecord {
    pub id: String,
    pub browser: String,
    pub added_at: i64,
    pub last_used_at: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct MessageRecord {
    pub room: String,
    pub seq: i64,
    pub at: i64,
    /// The name it was sent under.
    pub name: String,
    pub text: String,
    pub edited: bool,
    pub reply_to: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct ReactionRecord {
    pub room: String,
    pub seq: i64,
    pub emoji: String,
}

#[derive(Debug, Serialize)]
pub struct FileRecord {
    pub id: String,
    pub room: String,
    pub name: String,
    pub content_type: String,
    pub size: i64,
    pub uploaded_at: i64,
}

const ACCOUNT: &str = "SELECT name, CAST(created_at AS TEXT) FROM accounts WHERE id = $1";
const OWNED: &str = "SELECT name FROM rooms WHERE owner_id = $1 ORDER BY name";
const MODERATED: &str = "SELECT r.name FROM moderators m JOIN rooms r ON r.id = m.room_id
                         WHERE m.account_id = $1 ORDER BY r.name";
const PRIVATE: &str = "SELECT r.name FROM private_members p JOIN rooms r ON r.id = p.room_id
                       WHERE p.account_id = $1 ORDER BY r.name";
const DEVICES: &str = "SELECT device_id, browser, CAST(created_at AS TEXT), CAST(seen_at AS TEXT)
                       FROM devices WHERE account_id = $1 ORDER BY created_at";
const MESSAGES: &str = "SELECT r.name, CAST(e.seq AS TEXT), CAST(e.at AS TEXT), e.nick, e.body,
                               CASE WHEN e.edited THEN '1' ELSE '0' END, CAST(e.target AS TEXT)
                        FROM entries e JOIN rooms r ON r.id = e.room_id
                        WHERE e.author = $1 AND e.kind = 'message' ORDER BY e.at, e.room_id, e.seq";
const REACTIONS: &str = "SELECT r.name, CAST(x.seq AS TEXT), x.emoji
                         FROM reactions x JOIN rooms r ON r.id = x.room_id
                         WHERE x.author = $1 ORDER BY x.room_id, x.seq";
const FILES: &str = "SELECT m.public_id, r.name, m.name, m.content_type, CAST(m.size AS TEXT),
                            CAST(m.created_at AS TEXT)
                     FROM media m JOIN rooms r ON r.id = m.room_id
                     WHERE m.uploader = $1 ORDER BY m.created_at";

type Rows = Vec<Vec<Option<String>>>;

/// Every row of `sql` with `id` bound, each column as text.
macro_rules! text_rows {
    ($pool:expr, $sql:expr, $id:expr) => {{
        let rows = sqlx::query($sql).bind($id).fetch_all($pool).await?;
        rows.iter()
            .map(|row| {
                (0..row.len())
                    .map(|i| row.try_get::<Option<String>, _>(i).ok().flatten())
                    .collect()
            })
            .collect::<Rows>()
    }};
}

/// The account's data from whichever pool reads this store.
macro_rules! account_data {
    ($pool:expr, $id:expr) => {{
        let author = format!("account:{}", $id);
        let found = text_rows!($pool, ACCOUNT, $id);
        let Some(account) = found.first() else {
            return Ok(None);
        };
        AccountData::from_rows(
            account,
            [
                text_rows!($pool, OWNED, $id),
                text_rows!($pool, MODERATED, $id),
                text_rows!($pool, PRIVATE, $id),
                text_rows!($pool, DEVICES, $id),
                text_rows!($pool, MESSAGES, &author),
                text_rows!($pool, REACTIONS, &author),
                text_rows!($pool, FILES, &author),
            ],
        )
    }};
}

#[cfg(not(prepare_queries = "postgres"))]
pub(super) async fn from_sqlite(
    pool: &sqlx::SqlitePool,
    id: i64,
) -> Result<Option<AccountData>, StoreError> {
    Ok(Some(account_data!(pool, id)))
}

#[cfg(not(prepare_queries = "sqlite"))]
pub(super) async fn from_postgres(
    pool: &sqlx::PgPool,
    id: i64,
) -> Result<Option<AccountData>, StoreError> {
    Ok(Some(account_data!(pool, id)))
}

fn text(cell: &Option<String>) -> String {
    cell.clone().unwrap_or_default()
}

fn number(cell: &Option<String>) -> i64 {
    cell.as_deref()
        .and_then(|n| n.parse().ok())
        .unwrap_or_default()
}

impl AccountData {
    fn from_rows(account: &[Option<String>], tables: [Rows; 7]) -> Self {
        let [
            owned,
            moderated,
            private,
            devices,
            messages,
            reactions,
            files,
        ] = tables;
        let names = |rows: Rows| rows.iter().map(|r| text(&r[0])).collect();
        AccountData {
            exported_at: super::now_ms(),
            account: AccountRecord {
                name: text(&account[0]),
                created_at: number(&account[1]),
            },
            rooms_owned: names(owned),
            moderator_of: names(moderated),
            private_rooms: names(private),
            devices: devices
                .iter()
                .map(|r| DeviceRecord {
                    id: text(&r[0]),
                    browser: text(&r[1]),
                    added_at: number(&r[2]),
                    last_used_at: r[3].as_ref().map(|_| number(&r[3])),
                })
                .collect(),
            messages: messages
                .iter()
                .map(|r| MessageRecord {
                    room: text(&r[0]),
                    seq: number(&r[1]),
                    at: number(&r[2]),
                    name: text(&r[3]),
                    text: text(&r[4]),
                    edited: number(&r[5]) == 1,
                    reply_to: r[6].as_ref().map(|_| number(&r[6])),
                })
                .collect(),
            reactions: reactions
                .iter()
                .map(|r| ReactionRecord {
                    room: text(&r[0]),
                    seq: number(&r[1]),
                    emoji: text(&r[2]),
                })
                .collect(),
            files: files
                .iter()
                .map(|r| FileRecord {
                    id: text(&r[0]),
                    room: text(&r[1]),
                    name: text(&r[2]),
                    content_type: text(&r[3]),
                    size: number(&r[4]),
                    uploaded_at: number(&r[5]),
                })
                .collect(),
        }
    }
}
