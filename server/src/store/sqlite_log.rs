//! The SQLite log writer: the journal's batches, written on a thread of its
//! own through one synchronous connection.
//!
//! Why not sqlx here: every sqlx statement is a round trip to its SQLite
//! worker thread (two thread wake-ups), and a message takes four to six
//! statements, so the journal spent most of its time waking threads, not
//! writing. Here a whole batch is one hop in and one hop out, and each
//! statement is prepared once and kept (`prepare_cached`).
//!
//! Durability is the same as the rest of the store: WAL, `synchronous =
//! FULL` (fsynced before the commit returns), `BEGIN IMMEDIATE`, so an
//! acknowledged message survives `kill -9` and a power cut. The writer keeps
//! each room's head in memory (a SQLite file is one server's); after a
//! failed batch it forgets them all and reads them again.
//!
//! A batch holds messages of many rooms, and every page it dirties is
//! fsynced into the WAL and written again at the checkpoint, so the schema
//! keeps per-room pages to the log itself: the search index's rows are
//! numbered in arrival order (`search_id`) and the client id index leads
//! with the (time-ordered) client id; both grow at their last pages.

use super::rows::{AttachmentRow, columns, quote};
use super::{
    Appended, Draft, Refusal, Standing, StoreError, TargetRow, act_of, judge, judge_author, now_ms,
    standing_keys,
};
use app::media::Attachment;
use app::messages::{EntryKind, REACTIONS_MAX, Seq};
use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

/// How often a busy room's `active_at` is brought up to date: the lobby's
/// "recently active" order needs minutes, not milliseconds.
const STAMP_EVERY_MS: i64 = 60_000;
/// Rooms whose head or last stamp is remembered (then all are forgotten).
const ROOMS_KEPT: usize = 10_000;

/// The last `seq` of each room written to, so a batch reads a room's head
/// from the database only once. Only ever updated after a commit.
type Heads = HashMap<i64, Seq>;

struct Batch {
    drafts: Arc<[Draft]>,
    done: oneshot::Sender<Result<Vec<Appended>, StoreError>>,
}

/// Handle to the writer thread; the thread ends when every handle is gone.
#[derive(Clone)]
pub struct LogWriter {
    batches: std::sync::mpsc::Sender<Batch>,
}

impl LogWriter {
    /// Opens the (already migrated) database file at `path` for writing and
    /// starts the thread.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(Duration::from_secs(5))?;
        // The pages a batch touches (each room's last leaf, the client id
        // index, the search index) stay in memory instead of being read
        // back from the OS for every batch.
        conn.pragma_update(None, "cache_size", -65_536)?;
        conn.set_prepared_statement_cache_capacity(64);
        let (batches, queue) = std::sync::mpsc::channel::<Batch>();
        std::thread::Builder::new()
            .name("chat-log-writer".into())
            .spawn(move || {
                let mut writer = Writer {
                    conn,
                    heads: Heads::new(),
                    stamped: HashMap::new(),
                    last_search_id: None,
                };
                for batch in queue {
                    let outcome = writer.write(&batch.drafts);
                    let _ = batch.done.send(outcome);
                }
            })
            .map_err(|err| StoreError::Batch(format!("cannot start the log writer: {err}")))?;
        Ok(Self { batches })
    }

    /// Numbers and writes `drafts` in one transaction, in order; a message
    /// whose client id its room already has is not stored again.
    pub async fn append(&self, drafts: Arc<[Draft]>) -> Result<Vec<Appended>, StoreError> {
        let (done, outcome) = oneshot::channel();
        self.batches
            .send(Batch { drafts, done })
            .map_err(|_| StoreError::JournalStopped)?;
        outcome.await.unwrap_or(Err(StoreError::JournalStopped))
    }
}

struct Writer {
    conn: Connection,
    /// The last `seq` of each room written to, as committed.
    heads: Heads,
    /// When each room's `active_at` was last written.
    stamped: HashMap<i64, i64>,
    /// The search index's last row number, as committed.
    last_search_id: Option<i64>,
}

impl Writer {
    fn write(&mut self, drafts: &[Draft]) -> Result<Vec<Appended>, StoreError> {
        if self.heads.len() > ROOMS_KEPT {
            self.heads.clear();
        }
        if self.stamped.len() > ROOMS_KEPT {
            self.stamped.clear();
        }
        let at = now_ms();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut next_heads: Heads = HashMap::new();
        let mut search_id = match self.last_search_id {
            Some(id) => id,
            None => last_search_id(&tx)?,
        };
        let written = (|| {
            let mut outcomes = Vec::with_capacity(drafts.len());
            for draft in drafts {
                let head = match next_heads
                    .get(&draft.room_id)
                    .or(self.heads.get(&draft.room_id))
                {
                    Some(head) => *head,
                    None => head_of(&tx, draft.room_id)?,
                };
                let outcome = append_one(&tx, draft, head, at, &mut search_id)?;
                match &outcome {
                    Appended::New(entry) => next_heads.insert(draft.room_id, entry.seq),
                    _ => next_heads.insert(draft.room_id, head),
                };
                outcomes.push(outcome);
            }
            let due: Vec<i64> = next_heads
                .keys()
                .filter(|id| {
                    self.stamped
                        .get(id)
                        .is_none_or(|t| at - t >= STAMP_EVERY_MS)
                })
                .copied()
                .collect();
            let mut stamp = tx.prepare_cached("UPDATE rooms SET active_at = ?1 WHERE id = ?2")?;
            for room_id in &due {
                stamp.execute((at, room_id))?;
            }
            Ok::<_, StoreError>((outcomes, due))
        })();
        // A rolled-back batch leaves the database as it was; the heads read
        // inside it are forgotten too.
        let (outcomes, due) = match written {
            Ok(written) => written,
            Err(err) => {
                drop(tx);
                self.heads.clear();
                self.last_search_id = None;
                return Err(err);
            }
        };
        if let Err(err) = tx.commit() {
            self.heads.clear();
            self.last_search_id = None;
            return Err(err.into());
        }
        self.last_search_id = Some(search_id);
        self.stamped.extend(due.into_iter().map(|id| (id, at)));
        self.heads.extend(next_heads);
        Ok(outcomes)
    }
}

fn head_of(tx: &Transaction, room_id: i64) -> Result<Seq, StoreError> {
    let head: i64 = tx
        .prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM entries WHERE room_id = ?1")?
        .query_row([room_id], |row| row.get(0))?;
    Ok(head as Seq)
}

fn last_search_id(tx: &Transaction) -> Result<i64, StoreError> {
    Ok(tx
        .prepare_cached(
            "SELECT COALESCE(MAX(search_id), 0) FROM entries WHERE search_id IS NOT NULL",
        )?
        .query_row([], |row| row.get(0))?)
}

/// Writes one draft after `head`: new, the original of a resent message, or
/// refused (an action its target does not allow, a file that is not the
/// author's unsent upload).
fn append_one(
    tx: &Transaction,
    draft: &Draft,
    head: Seq,
    at: i64,
    last_search_id: &mut i64,
) -> Result<Appended, StoreError> {
    let room_id = draft.room_id;
    let seq = head + 1;
    let seq_i = seq as i64;
    let (author, account) = standing_keys(Some(&draft.author));
    // The room's rules, read under the write lock: a ban or a close to
    // guests committed a moment ago holds for this entry.
    let mut moderates = false;
    if act_of(&draft.kind).is_some() {
        // The same query the rules ask outside a write (`Access`).
        let standing = tx
            .prepare_cached(super::sqlite::STANDING_BY_ID)?
            .query_row((room_id, &author, account), |row| {
                let name: String = row.get(0)?;
                Ok(Standing {
                    private: name.starts_with(app::rooms::PRIVATE_MARK),
                    member: row.get(4)?,
                    accounts_only: row.get(1)?,
                    banned: row.get(2)?,
                    moderator: row.get(3)?,
                    key_epoch: row.get::<_, i64>(5)?.try_into().unwrap_or(0),
                })
            })
            .optional()?
            .unwrap_or_default();
        if let Err(refusal) = judge_author(draft, &standing) {
            return Ok(Appended::Refused(refusal));
        }
        moderates = standing.moderator;
    }
    // Actions are judged against their target under the write lock, so no
    // other writer can change it in between.
    let mut reply = None;
    if let Some(target) = draft.kind.target() {
        let target = target as i64;
        let row = tx
            .prepare_cached("SELECT kind, author FROM entries WHERE room_id = ?1 AND seq = ?2")?
            .query_row((room_id, target), |row| {
                Ok(TargetRow {
                    kind: row.get(0)?,
                    author: row.get(1)?,
                })
            })
            .optional()?;
        let mut judged = judge(draft, row.as_ref(), moderates);
        if let (Ok(()), EntryKind::React(_, emoji, true)) = (&judged, &draft.kind) {
            // A new emoji on a message that has the most it may carry.
            let (kinds, has): (i64, bool) = tx
                .prepare_cached(
                    "SELECT COUNT(DISTINCT emoji), COUNT(*) FILTER (WHERE emoji = ?3) > 0
                     FROM reactions WHERE room_id = ?1 AND seq = ?2",
                )?
                .query_row((room_id, target, emoji.as_str()), |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })?;
            if !has && kinds >= REACTIONS_MAX as i64 {
                judged = Err(Refusal::TooManyReactions);
            }
        }
        if let Err(refusal) = judged {
            return Ok(Appended::Refused(refusal));
        }
    } else if let Some(to) = draft.reply_to {
        let to = to.min(head) as i64;
        reply = tx
            .prepare_cached("SELECT nick, kind, body FROM entries WHERE room_id = ?1 AND seq = ?2")?
            .query_row((room_id, to), |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, Option<String>>(2)?,
                ))
            })
            .optional()?
            .and_then(|(nick, kind, body)| quote(to, &nick, &kind, body.as_deref()));
    }
    let (kind, client_id, body, target) = columns(draft);
    let body = body.as_deref();
    let target = target.filter(|_| draft.kind.target().is_some() || reply.is_some());
    let search_id = matches!(draft.kind, EntryKind::Message { .. }).then_some(*last_search_id + 1);
    let inserted = tx
        .prepare_cached(
            "INSERT INTO entries
                 (room_id, seq, at, nick, kind, client_id, body, author, target, search_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT (client_id, room_id) WHERE client_id IS NOT NULL DO NOTHING",
        )?
        .execute((
            room_id,
            seq_i,
            at,
            draft.nick.as_str(),
            kind,
            client_id,
            body,
            &author,
            target,
            search_id,
        ))?;
    if inserted == 0 {
        let original: i64 = tx
            .prepare_cached("SELECT seq FROM entries WHERE room_id = ?1 AND client_id = ?2")?
            .query_row((room_id, client_id), |row| row.get(0))?;
        return Ok(Appended::Duplicate(original as Seq));
    }
    let Some(attached) = attach(tx, draft, seq_i, &author)? else {
        return Ok(Appended::Refused(Refusal::NoSuchMedia));
    };
    if let Some(id) = search_id {
        *last_search_id = id;
    }
    apply(tx, draft, seq_i, search_id, body, &author)?;
    Ok(Appended::New(draft.entry(seq, at, reply, attached)))
}

/// Gives a new message at `seq` the uploads its draft names, in order;
/// `None` (and the message taken out again) when one is not the author's
/// unsent upload to this room.
fn attach(
    tx: &Transaction,
    draft: &Draft,
    seq: i64,
    author: &str,
) -> Result<Option<Vec<Attachment>>, StoreError> {
    if draft.media.is_empty() {
        return Ok(Some(vec![]));
    }
    let room_id = draft.room_id;
    let mut attached = Vec::with_capacity(draft.media.len());
    let mut claim = tx.prepare_cached(
        "UPDATE media SET seq = ?1, position = ?2
         WHERE public_id = ?3 AND room_id = ?4 AND uploader = ?5 AND seq IS NULL
         RETURNING seq, public_id, name, content_type, kind, size, width, height",
    )?;
    for (position, id) in draft.media.iter().enumerate() {
        let row = claim
            .query_row(
                (seq, position as i64, id.as_str(), room_id, author),
                |row| {
                    Ok(AttachmentRow {
                        seq: row.get(0)?,
                        public_id: row.get(1)?,
                        name: row.get(2)?,
                        content_type: row.get(3)?,
                        kind: row.get(4)?,
                        size: row.get(5)?,
                        width: row.get(6)?,
                        height: row.get(7)?,
                    })
                },
            )
            .optional()?;
        match row.and_then(AttachmentRow::into_attachment) {
            Some(attachment) => attached.push(attachment),
            None => {
                tx.prepare_cached(
                    "UPDATE media SET seq = NULL, position = 0 WHERE room_id = ?1 AND seq = ?2",
                )?
                .execute((room_id, seq))?;
                tx.prepare_cached("DELETE FROM entries WHERE room_id = ?1 AND seq = ?2")?
                    .execute((room_id, seq))?;
                return Ok(None);
            }
        }
    }
    Ok(Some(attached))
}

/// What a new entry at `seq` does besides being in the log: a message goes
/// into the search index as row `search_id`; an edit, deletion or reaction
/// changes its target (and the index) as it reads from now on.
fn apply(
    tx: &Transaction,
    draft: &Draft,
    seq: i64,
    search_id: Option<i64>,
    body: Option<&str>,
    author: &str,
) -> Result<(), StoreError> {
    let room_id = draft.room_id;
    match &draft.kind {
        // The server cannot read a sealed body: nothing to index.
        EntryKind::Message { .. } if body.is_some_and(app::e2e::is_sealed) => {}
        EntryKind::Message { .. } => {
            let row = search_id.expect("append_one numbers every message's search row");
            tx.prepare_cached("INSERT INTO entries_search (rowid, body) VALUES (?1, ?2)")?
                .execute((row, body))?;
        }
        EntryKind::Edit(target, _) => {
            let target = *target as i64;
            tx.prepare_cached(
                "UPDATE entries SET body = ?1, edited = 1 WHERE room_id = ?2 AND seq = ?3",
            )?
            .execute((body, room_id, target))?;
            tx.prepare_cached(
                "UPDATE entries_search SET body = ?1
                 WHERE rowid = (SELECT search_id FROM entries WHERE room_id = ?2 AND seq = ?3)",
            )?
            .execute((body, room_id, target))?;
        }
        EntryKind::Delete(target) => {
            let target = *target as i64;
            tx.prepare_cached(
                "DELETE FROM entries_search
                 WHERE rowid = (SELECT search_id FROM entries WHERE room_id = ?1 AND seq = ?2)",
            )?
            .execute((room_id, target))?;
            tx.prepare_cached(
                "UPDATE entries SET kind = 'deleted', body = NULL, edited = 0, search_id = NULL
                 WHERE room_id = ?1 AND seq = ?2",
            )?
            .execute((room_id, target))?;
            // Its earlier edits carried its texts too.
            tx.prepare_cached(
                "UPDATE entries SET kind = 'delete', body = NULL
                 WHERE room_id = ?1 AND target = ?2 AND kind = 'edit'",
            )?
            .execute((room_id, target))?;
            tx.prepare_cached("DELETE FROM reactions WHERE room_id = ?1 AND seq = ?2")?
                .execute((room_id, target))?;
            // Its files go too: their blobs once nothing else uses them.
            tx.prepare_cached(
                "INSERT OR IGNORE INTO media_orphans (blob)
                 SELECT blob FROM media WHERE room_id = ?1 AND seq = ?2
                 UNION SELECT thumb FROM media
                 WHERE room_id = ?1 AND seq = ?2 AND thumb IS NOT NULL",
            )?
            .execute((room_id, target))?;
            tx.prepare_cached("DELETE FROM media WHERE room_id = ?1 AND seq = ?2")?
                .execute((room_id, target))?;
        }
        EntryKind::React(target, emoji, true) => {
            tx.prepare_cached(
                "INSERT INTO reactions (room_id, seq, emoji, author, nick, reacted_in)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
            )?
            .execute((
                room_id,
                *target as i64,
                emoji.as_str(),
                author,
                draft.nick.as_str(),
                seq,
            ))?;
        }
        EntryKind::React(target, emoji, false) => {
            tx.prepare_cached(
                "DELETE FROM reactions
                 WHERE room_id = ?1 AND seq = ?2 AND emoji = ?3 AND author = ?4",
            )?
            .execute((room_id, *target as i64, emoji.as_str(), author))?;
        }
        EntryKind::Joined | EntryKind::Left | EntryKind::Crowd(..) | EntryKind::Deleted => {}
    }
    Ok(())
}
