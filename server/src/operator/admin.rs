//! `server admin ...`: accounts and rooms fixed from the command line, on
//! SQLite and PostgreSQL alike, with or without servers running.
//!
//! Changes go straight to the database, the one place every path asks
//! (`crate::access`): a running server sees them at the next request, join
//! or message that reads them. Sessions ended here (a reset password, a
//! deleted account) have their sockets closed by each running server's
//! session sweep (`Accounts::close_ended_sessions`), within its interval.
//!
//! The SQL here runs on both stores as written: `$N` placeholders (SQLite
//! reads them as numbered names) and values read back as text.

use super::OperatorError;
use crate::accounts::names_deleted_user;
use crate::accounts::password::Hasher;
use crate::assistant::BOT_PASSWORD_HASH;
use crate::hub::{DELETED_USER, nick_key};
use crate::store::Store;
use app::accounts::{check_password, parse_username};
use app::people::Nick;
use sqlx::Row;
use std::io::{BufRead, IsTerminal, Write};

#[derive(Debug, clap::Args)]
pub struct AdminArgs {
    /// The chat's database (the servers' `--database-url`).
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://chat.db")]
    pub database_url: String,
    #[command(subcommand)]
    pub action: AdminAction,
}

#[derive(Debug, clap::Subcommand)]
pub enum AdminAction {
    /// Every account: id, name, when made, sessions, rooms owned.
    Accounts,
    /// Every room: name, kind, owner, last seq, last active.
    Rooms,
    /// Make an account; its password is read from standard input.
    CreateAccount { name: String },
    /// Give an account a new password (read from standard input); every
    /// session it had ends, and its open sockets close.
    ResetPassword { name: String },
    /// Give a room to an account (`--none`: to nobody).
    Owner {
        room: String,
        #[arg(required_unless_present = "none")]
        name: Option<String>,
        #[arg(long, conflicts_with = "name")]
        none: bool,
    },
    /// Name an account a room's moderator (`--remove`: no longer).
    Moderator {
        room: String,
        name: String,
        #[arg(long)]
        remove: bool,
    },
    /// Ban an account from a room: it can no longer join, read or post there.
    Ban { room: String, name: String },
    /// Lift an account's ban from a room.
    Unban { room: String, name: String },
    /// Delete an account as its account page does: its messages stay,
    /// shown as "deleted user"; its sessions end; its name is free again.
    DeleteAccount { name: String },
}

/// Either store's pool, for SQL that both run as written.
enum Db {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

/// A value bound to a statement.
enum Bind<'a> {
    Int(i64),
    Text(&'a str),
}

impl Db {
    async fn open(url: &str) -> Result<Self, OperatorError> {
        let open = |source| OperatorError::Open {
            url: crate::config::redacted(url),
            source,
        };
        if url.starts_with("postgres") {
            Ok(Db::Postgres(
                sqlx::PgPool::connect(url).await.map_err(open)?,
            ))
        } else {
            use std::str::FromStr;
            let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)
                .map_err(open)?
                .foreign_keys(true)
                .busy_timeout(std::time::Duration::from_secs(10));
            Ok(Db::Sqlite(
                sqlx::SqlitePool::connect_with(options)
                    .await
                    .map_err(open)?,
            ))
        }
    }

    /// Rows, every column read as text (NULL as "").
    async fn rows(&self, sql: &str, binds: &[Bind<'_>]) -> Result<Vec<Vec<String>>, OperatorError> {
        Ok(match self {
            Db::Sqlite(pool) => bound(sql, binds)
                .fetch_all(pool)
                .await?
                .iter()
                .map(RowText::texts)
                .collect(),
            Db::Postgres(pool) => bound(sql, binds)
                .fetch_all(pool)
                .await?
                .iter()
                .map(RowText::texts)
                .collect(),
        })
    }

    async fn execute(&self, sql: &str, binds: &[Bind<'_>]) -> Result<u64, OperatorError> {
        Ok(match self {
            Db::Sqlite(pool) => bound(sql, binds).execute(pool).await?.rows_affected(),
            Db::Postgres(pool) => bound(sql, binds).execute(pool).await?.rows_affected(),
        })
    }

    async fn room(&self, name: &str) -> Result<i64, OperatorError> {
        let found = self
            .rows(
                "SELECT CAST(id AS TEXT) FROM rooms WHERE name = $1",
                &[Bind::Text(name)],
            )
            .await?;
        match found.first() {
            Some(row) => Ok(row[0].parse().unwrap_or_default()),
            None => Err(OperatorError::Usage(format!(
                "there is no room named {name}"
            ))),
        }
    }
}

/// `sql` with `binds` bound in order, for either database.
fn bound<'q, DB>(
    sql: &'q str,
    binds: &'q [Bind<'q>],
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>
where
    DB: sqlx::Database,
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    binds
        .iter()
        .fold(sqlx::query(sql), |query, bind| match bind {
            Bind::Int(n) => query.bind(*n),
            Bind::Text(t) => query.bind(*t),
        })
}

/// A row's columns as text (NULL as "").
trait RowText {
    fn texts(&self) -> Vec<String>;
}

impl<R: Row> RowText for R
where
    usize: sqlx::ColumnIndex<R>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    fn texts(&self) -> Vec<String> {
        (0..self.len())
            .map(|i| {
                self.try_get::<Option<String>, _>(i)
                    .ok()
                    .flatten()
                    .unwrap_or_default()
            })
            .collect()
    }
}

/// The account `name` names (compared as sign-in compares it): its id and
/// name as written.
async fn account(store: &Store, name: &str) -> Result<(i64, Nick), OperatorError> {
    let key = Nick::parse(name.trim())
        .map(|nick| nick_key(&nick))
        .map_err(|_| OperatorError::Usage(format!("{name:?} is not a valid name")))?;
    match store.account_by_key(&key).await? {
        // Held for the server itself (the assistant's name): no password,
        // moderation or deletion from here.
        Some(found) if found.password_hash == BOT_PASSWORD_HASH => Err(OperatorError::Usage(
            format!("{} is reserved for the server itself", found.name),
        )),
        Some(found) => Ok((found.id, found.name)),
        None => Err(OperatorError::Usage(format!("no account is named {name}"))),
    }
}

pub async fn run(args: AdminArgs) -> Result<(), OperatorError> {
    // The schema is brought up to date first, as a server starting would.
    let store = Store::open(&args.database_url, 1).await?;
    let db = Db::open(&args.database_url).await?;
    match args.action {
        AdminAction::Accounts => {
            let rows = db
                .rows(
                    "SELECT CAST(a.id AS TEXT), a.name, CAST(a.created_at AS TEXT),
                            CAST((SELECT count(*) FROM sessions s WHERE s.account_id = a.id) AS TEXT),
                            CAST((SELECT count(*) FROM rooms r WHERE r.owner_id = a.id) AS TEXT)
                     FROM accounts a WHERE a.password_hash <> $1 ORDER BY a.id",
                    &[Bind::Text(BOT_PASSWORD_HASH)],
                )
                .await?;
            print_table(
                &["id", "name", "created", "sessions", "rooms owned"],
                rows,
                &[2],
            );
        }
        AdminAction::Rooms => {
            let rows = db
                .rows(
                    "SELECT r.name,
                            CASE WHEN EXISTS (SELECT 1 FROM direct_rooms d WHERE d.room_id = r.id) THEN 'direct'
                                 WHEN EXISTS (SELECT 1 FROM private_members p WHERE p.room_id = r.id) THEN 'private'
                                 ELSE 'public' END,
                            COALESCE(a.name, ''),
                            CAST(COALESCE((SELECT MAX(seq) FROM entries e WHERE e.room_id = r.id), 0) AS TEXT),
                            CAST(r.active_at AS TEXT)
                     FROM rooms r LEFT JOIN accounts a ON a.id = r.owner_id ORDER BY r.name",
                    &[],
                )
                .await?;
            print_table(
                &["room", "kind", "owner", "last seq", "last active"],
                rows,
                &[4],
            );
        }
        AdminAction::CreateAccount { name } => {
            let nick = parse_username(&name)
                .map_err(|err| OperatorError::Usage(format!("{name:?}: {err}")))?;
            let key = nick_key(&nick);
            if names_deleted_user(&key) || store.account_by_key(&key).await?.is_some() {
                return Err(OperatorError::Usage(format!("the name {nick} is taken")));
            }
            let hash = new_password_hash(&format!("Password for {nick}: ")).await?;
            store
                .create_account(&nick, &key, &hash)
                .await?
                .ok_or_else(|| OperatorError::Usage(format!("the name {nick} is taken")))?;
            println!("Account {nick} created.");
        }
        AdminAction::ResetPassword { name } => {
            let (id, name) = account(&store, &name).await?;
            let hash = new_password_hash(&format!("New password for {name}: ")).await?;
            store.set_password(id, &hash).await?;
            store.delete_sessions(id, None).await?;
            println!("{name}'s password is changed; every session it had has ended.");
        }
        AdminAction::Owner { room, name, none } => {
            let room_id = db.room(&room).await?;
            let owner = match (name, none) {
                (Some(name), false) => Some(account(&store, &name).await?),
                _ => None,
            };
            match &owner {
                Some((id, _)) => {
                    db.execute(
                        "UPDATE rooms SET owner_id = $1 WHERE id = $2",
                        &[Bind::Int(*id), Bind::Int(room_id)],
                    )
                    .await?
                }
                None => {
                    db.execute(
                        "UPDATE rooms SET owner_id = NULL WHERE id = $1",
                        &[Bind::Int(room_id)],
                    )
                    .await?
                }
            };
            match owner {
                Some((_, name)) => println!("{name} owns {room} now."),
                None => println!("{room} has no owner now."),
            }
        }
        AdminAction::Moderator { room, name, remove } => {
            let room_id = db.room(&room).await?;
            let (id, name) = account(&store, &name).await?;
            if remove {
                db.execute(
                    "DELETE FROM moderators WHERE room_id = $1 AND account_id = $2",
                    &[Bind::Int(room_id), Bind::Int(id)],
                )
                .await?;
                println!("{name} no longer moderates {room}.");
            } else {
                db.execute(
                    "INSERT INTO moderators (room_id, account_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    &[Bind::Int(room_id), Bind::Int(id)],
                )
                .await?;
                println!("{name} moderates {room} now.");
            }
        }
        AdminAction::Ban { room, name } => {
            let room_id = db.room(&room).await?;
            let (id, name) = account(&store, &name).await?;
            store.ban(room_id, &format!("account:{id}"), &name).await?;
            println!("{name} is banned from {room}.");
        }
        AdminAction::Unban { room, name } => {
            let room_id = db.room(&room).await?;
            let (id, name) = account(&store, &name).await?;
            let lifted = db
                .execute(
                    "DELETE FROM bans WHERE room_id = $1 AND author = $2",
                    &[Bind::Int(room_id), Bind::Text(&format!("account:{id}"))],
                )
                .await?;
            if lifted == 0 {
                println!("{name} was not banned from {room}.");
            } else {
                println!("{name} may come back to {room}.");
            }
        }
        AdminAction::DeleteAccount { name } => {
            let (id, name) = account(&store, &name).await?;
            store.delete_account(id, DELETED_USER).await?;
            println!(
                "{name}'s account is deleted; its messages stay, shown as \"{DELETED_USER}\"."
            );
        }
    }
    Ok(())
}

/// A new password read from standard input (prompted for on a terminal),
/// checked by the sign-up rules, hashed as sign-up hashes it.
async fn new_password_hash(prompt: &str) -> Result<String, OperatorError> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("{prompt}");
        let _ = std::io::stderr().flush();
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    let password = line.trim_end_matches(['\n', '\r']).to_owned();
    check_password(&password).map_err(|err| OperatorError::Usage(format!("password: {err}")))?;
    Hasher::new(1)
        .hash(password)
        .await
        .map_err(|err| OperatorError::Usage(format!("cannot hash the password: {err}")))
}

/// Rows as aligned columns; the columns in `times` are milliseconds since
/// the epoch, shown as UTC dates.
fn print_table(header: &[&str], rows: Vec<Vec<String>>, times: &[usize]) {
    let rows: Vec<Vec<String>> = rows
        .into_iter()
        .map(|row| {
            row.into_iter()
                .enumerate()
                .map(|(i, cell)| if times.contains(&i) { utc(&cell) } else { cell })
                .collect()
        })
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<&str>| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    println!("{}", line(header.to_vec()));
    for row in &rows {
        println!("{}", line(row.iter().map(String::as_str).collect()));
    }
    println!("({} in all)", rows.len());
}

/// Milliseconds since the epoch as `YYYY-MM-DD HH:MM` UTC.
fn utc(ms: &str) -> String {
    let Ok(ms) = ms.parse::<i64>() else {
        return ms.to_owned();
    };
    let secs = ms.div_euclid(1000);
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60
    )
}
