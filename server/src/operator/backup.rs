//! `server backup` and `server restore`, for the SQLite store.
//!
//! A backup is `VACUUM INTO`: one read transaction, so the copy is the
//! database as of one moment (every message acknowledged before it began is
//! in it) while the server keeps writing to its WAL. It is written beside
//! its destination, checked (`integrity_check`), synced, then renamed into
//! place, so a file at the destination is always a whole backup.
//!
//! A restore checks the backup the same way and that this server knows its
//! schema, then swaps it in. The database it replaces is kept beside it,
//! renamed, never deleted. It needs the server stopped, and knows whether it
//! is: leaving WAL mode takes the only connection, which a running server's
//! pool of connections prevents.
//!
//! PostgreSQL is backed up with its own tools (docs/OPERATIONS.md).

use super::OperatorError;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    /// The live database (the server's `--database-url`).
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://chat.db")]
    pub database_url: String,
    /// The file to write; it must not exist yet.
    #[arg(long)]
    pub to: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// The backup to put back.
    #[arg(long)]
    pub from: PathBuf,
    /// The database it replaces (the server's `--database-url`); kept beside
    /// it as `FILE.replaced-TIME`.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://chat.db")]
    pub database_url: String,
}

/// What a check of a database file found.
struct Contents {
    rooms: i64,
    messages: i64,
    accounts: i64,
}

impl std::fmt::Display for Contents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} rooms, {} messages, {} accounts",
            self.rooms, self.messages, self.accounts
        )
    }
}

/// Said when backup or restore is pointed at PostgreSQL.
const FOR_SQLITE: &str = "backup and restore are for SQLite databases; for PostgreSQL use pg_dump and pg_restore (docs/OPERATIONS.md)";

pub async fn backup(args: BackupArgs) -> Result<(), OperatorError> {
    let live = super::existing_sqlite_file(&args.database_url, FOR_SQLITE)?;
    if args.to.exists() {
        return Err(OperatorError::Usage(format!(
            "{} exists already; back up to a new file",
            args.to.display()
        )));
    }
    let to = args.to.clone();
    let started = std::time::Instant::now();
    let contents = tokio::task::spawn_blocking(move || -> Result<Contents, OperatorError> {
        let partial = with_suffix(&to, ".partial");
        let _ = std::fs::remove_file(&partial);
        {
            let db = rusqlite::Connection::open_with_flags(
                &live,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE,
            )?;
            db.busy_timeout(std::time::Duration::from_secs(30))?;
            db.execute("VACUUM INTO ?1", [partial.to_string_lossy()])?;
        }
        let contents = check(&partial)?;
        std::fs::File::open(&partial)?.sync_all()?;
        std::fs::rename(&partial, &to)?;
        sync_directory(&to);
        Ok(contents)
    })
    .await??;
    let size = std::fs::metadata(&args.to)?.len();
    println!(
        "Backed up to {} ({contents}; {:.1} MB) in {:.1} s",
        args.to.display(),
        size as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

pub async fn restore(args: RestoreArgs) -> Result<(), OperatorError> {
    let live = super::sqlite_file(&args.database_url, FOR_SQLITE)?;
    let from = args.from.clone();
    let message = tokio::task::spawn_blocking(move || -> Result<String, OperatorError> {
        let contents = check(&from)?;
        let mut kept = None;
        if live.exists() {
            take_out_of_service(&live)?;
            let aside = with_suffix(&live, &format!(".replaced-{}", crate::store::now_ms()));
            std::fs::rename(&live, &aside)?;
            kept = Some(aside);
        }
        let incoming = with_suffix(&live, ".restoring");
        std::fs::copy(&from, &incoming)?;
        std::fs::File::open(&incoming)?.sync_all()?;
        std::fs::rename(&incoming, &live)?;
        sync_directory(&live);
        Ok(match kept {
            Some(aside) => format!(
                "Restored {} ({contents}) to {}; the database it replaced is {}",
                from.display(),
                live.display(),
                aside.display()
            ),
            None => format!(
                "Restored {} ({contents}) to {}",
                from.display(),
                live.display()
            ),
        })
    })
    .await??;
    println!("{message}");
    Ok(())
}

/// A chat database, whole, with a schema this server knows.
fn check(file: &Path) -> Result<Contents, OperatorError> {
    let db =
        rusqlite::Connection::open_with_flags(file, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|err| {
                OperatorError::Usage(format!("{} is not a database: {err}", file.display()))
            })?;
    let verdict: String = db
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .map_err(|err| {
            OperatorError::Usage(format!("{} is not a database: {err}", file.display()))
        })?;
    if verdict != "ok" {
        return Err(OperatorError::Usage(format!(
            "{} is damaged: {verdict}",
            file.display()
        )));
    }
    let newest: i64 = db
        .query_row("SELECT MAX(version) FROM _sqlx_migrations", [], |row| {
            row.get(0)
        })
        .map_err(|_| OperatorError::Usage(format!("{} is not a chat database", file.display())))?;
    let known = sqlx::migrate!("./migrations/sqlite")
        .iter()
        .map(|m| m.version)
        .max()
        .unwrap_or(0);
    if newest > known {
        return Err(OperatorError::Usage(format!(
            "{} was made by a newer server (schema {newest}, this one knows up to {known})",
            file.display()
        )));
    }
    let count = |sql: &str| db.query_row(sql, [], |row| row.get::<_, i64>(0));
    Ok(Contents {
        rooms: count("SELECT count(*) FROM rooms")?,
        messages: count("SELECT count(*) FROM entries WHERE kind = 'message'")?,
        accounts: count("SELECT count(*) FROM accounts")?,
    })
}

/// Folds the WAL into the file and leaves WAL mode, which SQLite allows
/// only to the one connection open: a server still running refuses it.
fn take_out_of_service(live: &Path) -> Result<(), OperatorError> {
    let db = rusqlite::Connection::open(live)?;
    let mode: Result<String, _> =
        db.query_row("PRAGMA journal_mode = DELETE", [], |row| row.get(0));
    match mode {
        Ok(mode) if mode.eq_ignore_ascii_case("delete") => Ok(()),
        _ => Err(OperatorError::Usage(format!(
            "{} is in use: stop its server before restoring",
            live.display()
        ))),
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// A rename is durable once its directory is synced.
fn sync_directory(file: &Path) {
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty())
        && let Ok(dir) = std::fs::File::open(dir)
    {
        let _ = dir.sync_all();
    }
}
