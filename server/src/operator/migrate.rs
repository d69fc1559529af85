//! `server migrate`: a SQLite chat copied into PostgreSQL, every table, every
//! `seq` kept (browsers resume across the move), ids kept (an `account:ID`
//! author stays that account), then checked.
//!
//! How: one table at a time, in an order that satisfies the foreign keys. A
//! thread reads the source in key order, a batch at a time, and encodes each
//! batch as `COPY` text while the previous one is being written; each batch
//! goes in with `COPY` in a transaction of its own that also records how far
//! the table got (`chat_migration_tables`). Stopped at any point, a second
//! run picks up after the last committed batch. When every table is in, the
//! search index is built, the rooms' heads and the id sequences are set, and
//! both sides are compared: row counts per table and a SHA-256 per room's
//! log. The progress tables are dropped only when everything matches.

use super::OperatorError;
use crate::config::redacted;
use crate::media::Blobs;
use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::{Connection, Row};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Instant;

#[derive(Debug, clap::Args)]
pub struct MigrateArgs {
    /// The SQLite database to copy (stop its server first).
    #[arg(long, env = "CHAT_MIGRATE_FROM", default_value = "sqlite://chat.db")]
    pub from: String,
    /// The PostgreSQL database to fill; it must hold no chat yet.
    #[arg(long, env = "CHAT_MIGRATE_TO")]
    pub to: String,
    /// Where the source's uploaded files are (its `--media-store`).
    #[arg(long, env = "CHAT_MEDIA_STORE", default_value = "media")]
    pub media_from: String,
    /// Copy the uploaded files to this blob store as well (s3://BUCKET[/PREFIX]
    /// or a directory); without it they stay where they are, and the new
    /// servers' `--media-store` must reach them there.
    #[arg(long)]
    pub media_to: Option<String>,
    /// Rows per batch (each its own transaction): big enough that a
    /// transaction's cost is spread thin, small enough that an interruption
    /// loses little.
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub batch_rows: u32,
}

/// How a column is read on one side and written on the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    /// 0/1 in SQLite, `boolean` in PostgreSQL.
    Bool,
    Text,
}

use Kind::{Bool, Int, Text};

/// A table as both stores have it (the PostgreSQL-only columns, `rooms.head`
/// and the generated `entries.search`, are filled on the target).
struct Table {
    name: &'static str,
    /// The source's key, in the order rows are read; `rowid` for a table
    /// without one of its own.
    key: &'static [&'static str],
    columns: &'static [(&'static str, Kind)],
}

/// Parents before children.
const TABLES: &[Table] = &[
    Table {
        name: "accounts",
        key: &["id"],
        columns: &[
            ("id", Int),
            ("name", Text),
            ("name_key", Text),
            ("password_hash", Text),
            ("created_at", Int),
        ],
    },
    Table {
        name: "rooms",
        key: &["id"],
        columns: &[
            ("id", Int),
            ("name", Text),
            ("created_at", Int),
            ("active_at", Int),
            ("owner_id", Int),
            ("accounts_only", Bool),
            ("quiet_notices", Bool),
            ("key_epoch", Int),
            ("assistant_off", Bool),
            ("retention_days", Int),
        ],
    },
    Table {
        name: "sessions",
        key: &["token_hash"],
        columns: &[
            ("token_hash", Text),
            ("account_id", Int),
            ("created_at", Int),
            ("seen_at", Int),
        ],
    },
    Table {
        name: "entries",
        key: &["room_id", "seq"],
        columns: &[
            ("room_id", Int),
            ("seq", Int),
            ("at", Int),
            ("nick", Text),
            ("kind", Text),
            ("client_id", Text),
            ("body", Text),
            ("author", Text),
            ("target", Int),
            ("edited", Bool),
        ],
    },
    Table {
        name: "reactions",
        key: &["room_id", "seq", "emoji", "author"],
        columns: &[
            ("room_id", Int),
            ("seq", Int),
            ("emoji", Text),
            ("author", Text),
            ("nick", Text),
            ("reacted_in", Int),
        ],
    },
    Table {
        name: "moderators",
        key: &["room_id", "account_id"],
        columns: &[("room_id", Int), ("account_id", Int)],
    },
    Table {
        name: "bans",
        key: &["room_id", "author"],
        columns: &[
            ("room_id", Int),
            ("author", Text),
            ("nick", Text),
            ("banned_at", Int),
        ],
    },
    Table {
        name: "room_members",
        key: &["room_id", "author"],
        columns: &[("room_id", Int), ("author", Text), ("media_key", Text)],
    },
    Table {
        name: "private_members",
        key: &["room_id", "account_id"],
        columns: &[("room_id", Int), ("account_id", Int)],
    },
    Table {
        name: "direct_rooms",
        key: &["room_id"],
        columns: &[("room_id", Int), ("first_id", Int), ("second_id", Int)],
    },
    Table {
        name: "media",
        key: &["public_id"],
        columns: &[
            ("public_id", Text),
            ("room_id", Int),
            ("uploader", Text),
            ("blob", Text),
            ("thumb", Text),
            ("name", Text),
            ("content_type", Text),
            ("kind", Text),
            ("size", Int),
            ("width", Int),
            ("height", Int),
            ("created_at", Int),
            ("seq", Int),
            ("position", Int),
        ],
    },
    Table {
        name: "media_orphans",
        key: &["blob"],
        columns: &[("blob", Text)],
    },
    Table {
        name: "devices",
        key: &["id"],
        columns: &[
            ("id", Int),
            ("account_id", Int),
            ("device_id", Text),
            ("agree", Text),
            ("sign", Text),
            ("signature", Text),
            ("created_at", Int),
            ("browser", Text),
            ("seen_at", Int),
            ("session", Text),
        ],
    },
    Table {
        name: "room_epochs",
        key: &["room_id", "epoch"],
        columns: &[
            ("room_id", Int),
            ("epoch", Int),
            ("from_account", Text),
            ("from_device", Text),
            ("from_agree", Text),
            ("from_sign", Text),
            ("from_signature", Text),
            ("created_at", Int),
        ],
    },
    Table {
        name: "epoch_keys",
        key: &["device", "room_id", "epoch"],
        columns: &[
            ("room_id", Int),
            ("epoch", Int),
            ("device", Int),
            ("iv", Text),
            ("wrapped", Text),
            ("by_account", Text),
            ("by_device", Text),
            ("by_agree", Text),
            ("by_sign", Text),
            ("by_signature", Text),
        ],
    },
    Table {
        name: "key_backups",
        key: &["account_id"],
        columns: &[
            ("account_id", Int),
            ("salt", Text),
            ("checked", Text),
            ("created_at", Int),
        ],
    },
    Table {
        name: "backup_keys",
        key: &["account_id", "room_id", "epoch"],
        columns: &[
            ("account_id", Int),
            ("room_id", Int),
            ("epoch", Int),
            ("iv", Text),
            ("sealed", Text),
        ],
    },
    // Who was in which room when the old server stopped: the new one says
    // they left unless they come back (a quiet restart, across the move).
    Table {
        name: "departed",
        key: &["rowid"],
        columns: &[("room", Text), ("nick", Text), ("session", Text)],
    },
];

/// The log's columns, in the order the checksum reads them.
const LOG: &str = "entries";

/// One value as it crosses over.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Null,
    Int(i64),
    Bool(bool),
    Text(String),
}

impl Value {
    fn from_sqlite(value: rusqlite::types::ValueRef<'_>, kind: Kind) -> Result<Self, String> {
        use rusqlite::types::ValueRef;
        Ok(match (value, kind) {
            (ValueRef::Null, _) => Value::Null,
            (ValueRef::Integer(n), Kind::Bool) => Value::Bool(n != 0),
            (ValueRef::Integer(n), _) => Value::Int(n),
            (ValueRef::Text(text), _) => Value::Text(
                std::str::from_utf8(text)
                    .map_err(|_| "text that is not UTF-8".to_owned())?
                    .to_owned(),
            ),
            (other, _) => return Err(format!("an unexpected {:?}", other.data_type())),
        })
    }

    fn from_postgres(row: &PgRow, index: usize, kind: Kind) -> Result<Self, sqlx::Error> {
        Ok(match kind {
            Kind::Int => row.try_get::<Option<i64>, _>(index)?.map(Value::Int),
            Kind::Bool => row.try_get::<Option<bool>, _>(index)?.map(Value::Bool),
            Kind::Text => row.try_get::<Option<String>, _>(index)?.map(Value::Text),
        }
        .unwrap_or(Value::Null))
    }

    /// As a field of PostgreSQL's `COPY` text format.
    fn write_copy(&self, out: &mut String) {
        match self {
            Value::Null => out.push_str("\\N"),
            Value::Int(n) => {
                let _ = write!(out, "{n}");
            }
            Value::Bool(b) => out.push(if *b { 't' } else { 'f' }),
            Value::Text(text) => {
                for c in text.chars() {
                    match c {
                        '\\' => out.push_str("\\\\"),
                        '\t' => out.push_str("\\t"),
                        '\n' => out.push_str("\\n"),
                        '\r' => out.push_str("\\r"),
                        c => out.push(c),
                    }
                }
            }
        }
    }

    fn from_json(value: &serde_json::Value) -> rusqlite::types::Value {
        match value {
            serde_json::Value::Number(n) => {
                rusqlite::types::Value::Integer(n.as_i64().unwrap_or(0))
            }
            serde_json::Value::String(s) => rusqlite::types::Value::Text(s.clone()),
            serde_json::Value::Bool(b) => rusqlite::types::Value::Integer(i64::from(*b)),
            _ => rusqlite::types::Value::Null,
        }
    }
}

/// Rows read and encoded, ready to `COPY`.
struct Batch {
    text: String,
    rows: u64,
    /// The key of its last row: where the next run starts if this is the
    /// last batch committed.
    last_key: serde_json::Value,
}

pub async fn run(args: MigrateArgs) -> Result<(), OperatorError> {
    let source = super::existing_sqlite_file(&args.from, "--from must be a sqlite:// URL")?;
    bring_source_up_to_date(&args.from).await?;
    let target = PgPoolOptions::new()
        .max_connections(3)
        .connect(&args.to)
        .await
        .map_err(|source| OperatorError::Open {
            url: redacted(&args.to),
            source,
        })?;
    sqlx::migrate!("./migrations/postgres").run(&target).await?;
    let done = begin_or_resume(&target, &source).await?;
    println!("Copying {} into {}", source.display(), redacted(&args.to));
    // The search index is built once at the end: faster than keeping it up
    // to date row by row.
    sqlx::query("DROP INDEX IF EXISTS entries_search")
        .execute(&target)
        .await?;
    let started = Instant::now();
    let mut indexing = None;
    for table in TABLES {
        let resume = done.get(table.name).cloned();
        copy_table(&source, &target, table, resume, args.batch_rows as usize).await?;
        if table.name == LOG {
            // Built while the rest is copied and checked.
            indexing = Some(tokio::spawn(build_search_index(target.clone())));
        }
    }
    finish_target(&source, &target).await?;
    println!("Copied in {:.1} s", started.elapsed().as_secs_f64());
    if let Some(to) = &args.media_to {
        copy_media(&target, &args.media_from, to).await?;
    } else {
        println!(
            "Uploaded files stay in {}: start the PostgreSQL servers with --media-store {} (or copy them with --media-to).",
            args.media_from, args.media_from
        );
    }
    verify(&source, &target).await?;
    if let Some(indexing) = indexing {
        indexing.await??;
    }
    sqlx::raw_sql("DROP TABLE chat_migration_tables, chat_migration")
        .execute(&target)
        .await?;
    println!("Migration complete: start the servers with --database-url on PostgreSQL.");
    Ok(())
}

/// A database left by an older server gets this version's schema first, as
/// starting the server would give it.
async fn bring_source_up_to_date(url: &str) -> Result<(), OperatorError> {
    let mut conn = sqlx::SqliteConnection::connect(url)
        .await
        .map_err(|source| OperatorError::Open {
            url: url.to_owned(),
            source,
        })?;
    sqlx::migrate!("./migrations/sqlite").run(&mut conn).await?;
    conn.close().await?;
    Ok(())
}

/// Starts a migration on an empty target, or finds the one a previous run
/// left unfinished (from the same source): how far each table got.
async fn begin_or_resume(
    target: &PgPool,
    source: &std::path::Path,
) -> Result<BTreeMap<String, serde_json::Value>, OperatorError> {
    let source_name = source
        .canonicalize()
        .unwrap_or_else(|_| source.to_path_buf())
        .display()
        .to_string();
    let unfinished: Option<String> = sqlx::query_scalar("SELECT source FROM chat_migration")
        .fetch_optional(target)
        .await
        .or_else(|err| match &err {
            // No such table: no migration was ever started here.
            sqlx::Error::Database(db) if db.code().as_deref() == Some("42P01") => Ok(None),
            _ => Err(err),
        })?;
    match unfinished {
        Some(from) if from == source_name => {
            let rows = sqlx::query("SELECT name, last_key FROM chat_migration_tables")
                .fetch_all(target)
                .await?;
            println!("Resuming the unfinished migration from {from}");
            Ok(rows
                .iter()
                .map(|row| {
                    let key: String = row.get(1);
                    (
                        row.get::<String, _>(0),
                        serde_json::from_str(&key).unwrap_or_default(),
                    )
                })
                .collect())
        }
        Some(from) => Err(OperatorError::Usage(format!(
            "the target holds an unfinished migration from {from}, not {source_name}: finish that one, or start from an empty database"
        ))),
        None => {
            let held: i64 = sqlx::query_scalar(
                "SELECT (SELECT count(*) FROM accounts) + (SELECT count(*) FROM rooms)",
            )
            .fetch_one(target)
            .await?;
            if held > 0 {
                return Err(OperatorError::Usage(
                    "the target database already holds a chat (accounts or rooms); migrate into an empty database".into(),
                ));
            }
            sqlx::raw_sql(
                "CREATE TABLE chat_migration (source TEXT NOT NULL, started_at BIGINT NOT NULL);
                 CREATE TABLE chat_migration_tables (
                     name TEXT PRIMARY KEY, last_key TEXT NOT NULL, copied BIGINT NOT NULL)",
            )
            .execute(target)
            .await?;
            sqlx::query("INSERT INTO chat_migration (source, started_at) VALUES ($1, $2)")
                .bind(&source_name)
                .bind(crate::store::now_ms())
                .execute(target)
                .await?;
            Ok(BTreeMap::new())
        }
    }
}

fn column_list(table: &Table) -> String {
    table
        .columns
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(", ")
}

async fn copy_table(
    source: &std::path::Path,
    target: &PgPool,
    table: &'static Table,
    resume: Option<serde_json::Value>,
    batch: usize,
) -> Result<(), OperatorError> {
    let already: i64 = sqlx::query_scalar(
        "SELECT COALESCE(MAX(copied), 0) FROM chat_migration_tables WHERE name = $1",
    )
    .bind(table.name)
    .fetch_one(target)
    .await?;
    let (batches, mut reading) = tokio::sync::mpsc::channel::<Result<Batch, String>>(2);
    let path = source.to_path_buf();
    let total = {
        let path = path.clone();
        tokio::task::spawn_blocking(move || -> Result<u64, rusqlite::Error> {
            let db = open_source(&path)?;
            db.query_row(&format!("SELECT count(*) FROM {}", table.name), [], |row| {
                row.get::<_, i64>(0)
            })
            .map(|n| n as u64)
        })
        .await??
    };
    let bar = ProgressBar::new(total).with_prefix(table.name);
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix:>16} [{bar:30}] {human_pos}/{human_len} {per_sec} ({eta} left)",
        )
        .expect("the template parses")
        .progress_chars("=> "),
    );
    bar.set_position(already as u64);
    let reader = tokio::task::spawn_blocking(move || {
        if let Err(err) = read_batches(&path, table, resume, batch, &batches) {
            let _ = batches.blocking_send(Err(err));
        }
    });
    let statement = format!("COPY {} ({}) FROM STDIN", table.name, column_list(table));
    let started = Instant::now();
    let mut copied = 0u64;
    while let Some(batch) = reading.recv().await {
        let batch = batch.map_err(|detail| OperatorError::Source {
            table: table.name,
            detail,
        })?;
        let mut tx = target.begin().await?;
        let mut copy = tx.copy_in_raw(&statement).await?;
        copy.send(batch.text.as_bytes()).await?;
        copy.finish().await?;
        sqlx::query(
            "INSERT INTO chat_migration_tables (name, last_key, copied) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE
             SET last_key = excluded.last_key, copied = chat_migration_tables.copied + excluded.copied",
        )
        .bind(table.name)
        .bind(batch.last_key.to_string())
        .bind(batch.rows as i64)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        copied += batch.rows;
        bar.inc(batch.rows);
    }
    reader.await?;
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{:>16}: {copied} rows in {seconds:.1} s ({:.0} rows/s){}",
        table.name,
        copied as f64 / seconds.max(1e-9),
        if already > 0 {
            format!(", {already} copied before")
        } else {
            String::new()
        }
    );
    Ok(())
}

fn open_source(path: &std::path::Path) -> Result<rusqlite::Connection, rusqlite::Error> {
    rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
}

/// The reading thread: the table in key order after `resume`, encoded for
/// `COPY` in batches of `batch` rows.
fn read_batches(
    path: &std::path::Path,
    table: &Table,
    resume: Option<serde_json::Value>,
    batch: usize,
    out: &tokio::sync::mpsc::Sender<Result<Batch, String>>,
) -> Result<(), String> {
    let db = open_source(path).map_err(|e| e.to_string())?;
    let keys = table.key.join(", ");
    let placeholders = vec!["?"; table.key.len()].join(", ");
    let select = format!("SELECT {keys}, {} FROM {}", column_list(table), table.name);
    let first = format!("{select} ORDER BY {keys} LIMIT {batch}");
    let next = format!("{select} WHERE ({keys}) > ({placeholders}) ORDER BY {keys} LIMIT {batch}");
    let mut after: Option<Vec<rusqlite::types::Value>> = resume.and_then(|key| {
        key.as_array()
            .map(|values| values.iter().map(Value::from_json).collect())
    });
    loop {
        let mut statement = db
            .prepare_cached(if after.is_some() { &next } else { &first })
            .map_err(|e| e.to_string())?;
        let mut rows = match &after {
            Some(key) => statement.query(rusqlite::params_from_iter(key.iter())),
            None => statement.query([]),
        }
        .map_err(|e| e.to_string())?;
        let mut text = String::with_capacity(batch * 128);
        let mut count = 0u64;
        let mut last = Vec::new();
        while let Some(row) = rows.next().map_err(|e| e.to_string())? {
            last.clear();
            for i in 0..table.key.len() {
                let value = row.get_ref(i).map_err(|e| e.to_string())?;
                last.push(rusqlite::types::Value::from(value));
            }
            for (i, (column, kind)) in table.columns.iter().enumerate() {
                if i > 0 {
                    text.push('\t');
                }
                let value = row
                    .get_ref(table.key.len() + i)
                    .map_err(|e| e.to_string())?;
                Value::from_sqlite(value, *kind)
                    .map_err(|what| format!("{what} in column {column}"))?
                    .write_copy(&mut text);
            }
            text.push('\n');
            count += 1;
        }
        if count == 0 {
            return Ok(());
        }
        let last_key = serde_json::Value::Array(
            last.iter()
                .map(|value| match value {
                    rusqlite::types::Value::Integer(n) => (*n).into(),
                    rusqlite::types::Value::Text(t) => t.clone().into(),
                    _ => serde_json::Value::Null,
                })
                .collect(),
        );
        if out
            .blocking_send(Ok(Batch {
                text,
                rows: count,
                last_key,
            }))
            .is_err()
        {
            // The writer stopped (and says why).
            return Ok(());
        }
        let short = count < batch as u64;
        after = Some(last.clone());
        if short {
            return Ok(());
        }
    }
}

/// What only the target has: each room's head (its last
/// `seq`), and id sequences that continue after the copied ids, never
/// reusing one a deleted account had (its messages still say `account:ID`).
async fn finish_target(source: &std::path::Path, target: &PgPool) -> Result<(), OperatorError> {
    sqlx::query(
        "UPDATE rooms SET head = COALESCE((SELECT MAX(seq) FROM entries WHERE room_id = rooms.id), 0)",
    )
    .execute(target)
    .await?;
    let path = source.to_path_buf();
    let account_ids_used = tokio::task::spawn_blocking(move || {
        open_source(&path)?.query_row(
            "SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence WHERE name = 'accounts'",
            [],
            |row| row.get::<_, i64>(0),
        )
    })
    .await??;
    for table in ["accounts", "rooms", "devices"] {
        let mut last: i64 =
            sqlx::query_scalar(&format!("SELECT COALESCE(MAX(id), 0) FROM {table}"))
                .fetch_one(target)
                .await?;
        if table == "accounts" {
            last = last.max(account_ids_used);
        }
        continue_ids(target, table, last).await?;
    }
    Ok(())
}

/// The search index, built once over the whole copied log: far faster
/// than keeping it up to date row by row.
async fn build_search_index(target: PgPool) -> Result<(), OperatorError> {
    let started = Instant::now();
    let mut conn = target.acquire().await?;
    // A GIN index builds faster with room to sort in.
    sqlx::query("SET maintenance_work_mem = '256MB'")
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "CREATE INDEX IF NOT EXISTS entries_search ON entries USING GIN (search) WHERE kind = 'message'",
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query("RESET maintenance_work_mem")
        .execute(&mut *conn)
        .await?;
    println!(
        "{:>16}: built in {:.1} s",
        "search index",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Sets `table.id`'s sequence to continue after `after`.
async fn continue_ids(target: &PgPool, table: &str, after: i64) -> Result<(), OperatorError> {
    sqlx::query("SELECT setval(pg_get_serial_sequence($1, 'id'), $2, $3)")
        .bind(table)
        .bind(after.max(1))
        .bind(after > 0)
        .execute(target)
        .await?;
    Ok(())
}

/// Every uploaded file and thumbnail the media table names, copied once.
async fn copy_media(target: &PgPool, from: &str, to: &str) -> Result<(), OperatorError> {
    let from = Blobs::open(from)?;
    let to = Blobs::open(to)?;
    let blobs: Vec<String> = sqlx::query_scalar(
        "SELECT blob FROM media UNION SELECT thumb FROM media WHERE thumb IS NOT NULL",
    )
    .fetch_all(target)
    .await?;
    let bar = ProgressBar::new(blobs.len() as u64).with_prefix("files");
    bar.set_style(
        ProgressStyle::with_template("{prefix:>16} [{bar:30}] {pos}/{len} ({eta} left)")
            .expect("the template parses")
            .progress_chars("=> "),
    );
    let mut copied = 0;
    for hash in &blobs {
        if to.size(hash).await.is_err() {
            use futures::TryStreamExt;
            let read = from.get(hash, None).await?;
            let bytes: Vec<u8> = read
                .stream
                .try_fold(Vec::new(), |mut all, part| async move {
                    all.extend_from_slice(&part);
                    Ok(all)
                })
                .await?;
            to.put_bytes(hash, bytes).await?;
            copied += 1;
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    println!(
        "{:>16}: {copied} copied to {}, {} there already",
        "files",
        to.what,
        blobs.len() - copied
    );
    Ok(())
}

/// Row counts per table and a checksum per room's log, on both sides;
/// printed, and an error if anything differs.
async fn verify(source: &std::path::Path, target: &PgPool) -> Result<(), OperatorError> {
    println!("Verifying:");
    let started = Instant::now();
    let path = source.to_path_buf();
    // Both sides are read at once: the source on a thread of its own.
    let source_side = tokio::task::spawn_blocking(move || {
        let db = open_source(&path)?;
        let mut counts = Vec::new();
        for table in TABLES {
            counts.push(db.query_row(
                &format!("SELECT count(*) FROM {}", table.name),
                [],
                |r| r.get::<_, i64>(0),
            )?);
        }
        let log = TABLES
            .iter()
            .find(|t| t.name == LOG)
            .expect("the log is a table");
        let mut statement = db.prepare(&format!(
            "SELECT {} FROM entries ORDER BY room_id, seq",
            column_list(log)
        ))?;
        let mut rows = statement.query([])?;
        let mut sums = RoomSums::default();
        while let Some(row) = rows.next()? {
            let mut values = Vec::with_capacity(log.columns.len());
            for (i, (_, kind)) in log.columns.iter().enumerate() {
                values.push(
                    Value::from_sqlite(row.get_ref(i)?, *kind)
                        .map_err(|_| rusqlite::Error::InvalidColumnIndex(i))?,
                );
            }
            sums.add(&values);
        }
        Ok::<_, rusqlite::Error>((counts, sums.finish()))
    });
    let mut target_counts = Vec::new();
    for table in TABLES {
        target_counts.push(
            sqlx::query_scalar::<_, i64>(&format!("SELECT count(*) FROM {}", table.name))
                .fetch_one(target)
                .await?,
        );
    }
    let log = TABLES
        .iter()
        .find(|t| t.name == LOG)
        .expect("the log is a table");
    let mut sums = RoomSums::default();
    {
        use futures::TryStreamExt;
        let sql = format!(
            "SELECT {} FROM entries ORDER BY room_id, seq",
            column_list(log)
        );
        let mut rows = sqlx::query(&sql).fetch(target);
        while let Some(row) = rows.try_next().await? {
            let mut values = Vec::with_capacity(log.columns.len());
            for (i, (_, kind)) in log.columns.iter().enumerate() {
                values.push(Value::from_postgres(&row, i, *kind)?);
            }
            sums.add(&values);
        }
    }
    let target_logs = sums.finish();
    let (source_counts, source_logs) = source_side.await??;
    let mut differ = Vec::new();
    for ((table, source_count), target_count) in TABLES.iter().zip(source_counts).zip(target_counts)
    {
        let mark = if target_count == source_count {
            "ok"
        } else {
            differ.push(table.name.to_owned());
            "DIFFERENT"
        };
        println!(
            "{:>16}: {source_count} rows in SQLite, {target_count} in PostgreSQL  {mark}",
            table.name
        );
    }
    let rooms = source_logs.len().max(target_logs.len());
    let mismatched: Vec<i64> = source_logs
        .keys()
        .chain(target_logs.keys())
        .filter(|room| source_logs.get(room) != target_logs.get(room))
        .copied()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if mismatched.is_empty() {
        println!(
            "{:>16}: {rooms} rooms' logs have the same SHA-256 on both sides  ok",
            "logs"
        );
    } else {
        println!("{:>16}: rooms {mismatched:?} differ  DIFFERENT", "logs");
        differ.push("entries (checksums)".to_owned());
    }
    println!("Verified in {:.1} s", started.elapsed().as_secs_f64());
    if differ.is_empty() {
        Ok(())
    } else {
        Err(OperatorError::Verification(differ.join(", ")))
    }
}

/// A running SHA-256 per room over its log's rows, in `seq` order.
#[derive(Default)]
struct RoomSums {
    current: Option<(i64, Sha256)>,
    done: BTreeMap<i64, (u64, [u8; 32])>,
    rows: u64,
    line: String,
}

impl RoomSums {
    fn add(&mut self, values: &[Value]) {
        let Value::Int(room) = values[0] else {
            return;
        };
        if self.current.as_ref().is_some_and(|(r, _)| *r != room) {
            self.close();
        }
        let (_, hash) = self.current.get_or_insert_with(|| (room, Sha256::new()));
        self.line.clear();
        for value in values {
            value.write_copy(&mut self.line);
            self.line.push('\t');
        }
        self.line.push('\n');
        hash.update(self.line.as_bytes());
        self.rows += 1;
    }

    fn close(&mut self) {
        if let Some((room, hash)) = self.current.take() {
            self.done.insert(room, (self.rows, hash.finalize().into()));
            self.rows = 0;
        }
    }

    fn finish(mut self) -> BTreeMap<i64, (u64, [u8; 32])> {
        self.close();
        self.done
    }
}
