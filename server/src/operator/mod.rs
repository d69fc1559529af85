//! The operator's commands, in the same binary as the server: `server
//! migrate` (SQLite to PostgreSQL), `server backup` / `server restore`
//! (SQLite while serving), `server admin ...` (accounts and rooms without
//! SQL, on either store). Each runs and exits; none needs the server
//! stopped except where its help says so.
//!
//! - [`migrate`]: a SQLite chat copied into PostgreSQL, resumable, verified.
//! - [`admin`]: accounts and rooms fixed without SQL, on either store.
//! - [`backup`]: a consistent copy of a live SQLite database, and putting one back.

pub mod admin;
pub mod backup;
pub mod migrate;

use crate::media::MediaError;
use crate::store::StoreError;

/// What the operator runs instead of serving.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Copy a SQLite chat (rooms, logs, accounts, sessions, moderation,
    /// media records, encrypted conversations' keys) into an empty
    /// PostgreSQL database, then verify the copy. Stop the SQLite server
    /// first. Interrupted, it resumes where it stopped when run again.
    Migrate(migrate::MigrateArgs),
    /// Copy a SQLite database consistently while its server keeps serving.
    Backup(backup::BackupArgs),
    /// Check a backup and put it in place of a SQLite database (stop its
    /// server first); the database it replaces is kept beside it.
    Restore(backup::RestoreArgs),
    /// Accounts and rooms: list, create, reset a password, owners,
    /// moderators, bans, delete an account. SQLite or PostgreSQL, servers
    /// running or not.
    Admin(admin::AdminArgs),
}

impl Command {
    pub async fn run(self) -> Result<(), OperatorError> {
        match self {
            Command::Migrate(args) => migrate::run(args).await,
            Command::Backup(args) => backup::backup(args).await,
            Command::Restore(args) => backup::restore(args).await,
            Command::Admin(args) => admin::run(args).await,
        }
    }
}

/// Why an operator's command failed; printed to its terminal in full (the
/// operator, unlike a browser, may see the detail).
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    #[error("{0}")]
    Usage(String),
    #[error("cannot open the database {url}: {source}")]
    Open { url: String, source: sqlx::Error },
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
    #[error("cannot bring the database's schema up to date: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("SQLite error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("reading {table} from the source: {detail}")]
    Source { table: &'static str, detail: String },
    #[error(
        "verification failed: {0} differ between the two databases (the target keeps what was copied; run the migration again into an empty database)"
    )]
    Verification(String),
    #[error(transparent)]
    Media(#[from] MediaError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("a worker thread failed: {0}")]
    Worker(#[from] tokio::task::JoinError),
}

/// The file behind a `sqlite://` URL; `other` says what to do instead when
/// the URL is not SQLite's.
pub(crate) fn sqlite_file(url: &str, other: &str) -> Result<std::path::PathBuf, OperatorError> {
    use std::str::FromStr;
    if !url.starts_with("sqlite:") {
        return Err(OperatorError::Usage(format!(
            "{other}, not {}",
            crate::config::redacted(url)
        )));
    }
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(url).map_err(|source| {
        OperatorError::Open {
            url: url.to_owned(),
            source,
        }
    })?;
    Ok(options.get_filename().to_path_buf())
}

/// [`sqlite_file`], which must be there (a typo would otherwise read or
/// copy an empty new database).
pub(crate) fn existing_sqlite_file(
    url: &str,
    other: &str,
) -> Result<std::path::PathBuf, OperatorError> {
    let path = sqlite_file(url, other)?;
    if !path.is_file() {
        return Err(OperatorError::Usage(format!(
            "there is no SQLite database at {}",
            path.display()
        )));
    }
    Ok(path)
}
