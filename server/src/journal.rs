//! The journal: the one task that writes every room's log, committing many
//! entries per transaction (group commit).
//!
//! Callers enqueue a record and wait for its outcome. The journal takes
//! whatever is queued (up to [`MAX_BATCH`]), numbers each entry with its
//! room's next `seq`, writes them all in one transaction, commits (one fsync),
//! and only then publishes each entry to its room's feed, in `seq` order, and
//! answers its caller. So an ack always follows a durable commit, broadcast
//! order is `seq` order, and under load one fsync covers hundreds of messages.
//!
//! Being the only writer, it also owns `seq` assignment: each room's head is
//! read from the store once, then kept here.

use crate::hub::Room;
use crate::store::{Appended, StoreError, now_ms};
use app::messages::{ClientId, Entry, EntryKind, MessageBody, Seq};
use app::people::Nick;
use sqlx::SqlitePool;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Most entries committed in one transaction.
const MAX_BATCH: usize = 2048;

/// What to append to a room's log.
pub enum Record {
    Message {
        client_id: ClientId,
        body: MessageBody,
    },
    Joined,
    Left,
}

struct Job {
    room: Arc<Room>,
    nick: Nick,
    record: Record,
    done: oneshot::Sender<Result<Appended, StoreError>>,
}

/// Handle to the journal task; cheap to clone.
#[derive(Clone)]
pub struct Journal {
    jobs: mpsc::UnboundedSender<Job>,
}

/// The outcome of an enqueued record, once committed.
pub struct Pending(oneshot::Receiver<Result<Appended, StoreError>>);

impl Pending {
    pub async fn committed(self) -> Result<Appended, StoreError> {
        self.0.await.unwrap_or(Err(StoreError::JournalStopped))
    }
}

impl Journal {
    /// Starts the journal task on `pool`.
    pub fn start(pool: SqlitePool) -> Self {
        let (jobs, queue) = mpsc::unbounded_channel();
        tokio::spawn(run(pool, queue));
        Self { jobs }
    }

    /// Queues a record. Synchronous on purpose: callers enqueue while holding
    /// a room's membership lock, so notices keep the order of the changes.
    pub fn enqueue(&self, room: &Arc<Room>, nick: &Nick, record: Record) -> Pending {
        let (done, outcome) = oneshot::channel();
        let job = Job {
            room: room.clone(),
            nick: nick.clone(),
            record,
            done,
        };
        if let Err(mpsc::error::SendError(job)) = self.jobs.send(job) {
            let _ = job.done.send(Err(StoreError::JournalStopped));
        }
        Pending(outcome)
    }
}

async fn run(pool: SqlitePool, mut queue: mpsc::UnboundedReceiver<Job>) {
    let mut heads: HashMap<i64, Seq> = HashMap::new();
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        match write_batch(&pool, &mut heads, &batch).await {
            Ok(outcomes) => {
                for (job, outcome) in batch.drain(..).zip(outcomes) {
                    if let Appended::New(entry) = &outcome {
                        job.room.publish(entry.clone());
                    }
                    let _ = job.done.send(Ok(outcome));
                }
            }
            Err(err) => {
                tracing::error!(%err, entries = batch.len(), "journal commit failed");
                // Rolled back: forget the heads, re-read them next time.
                heads.clear();
                for job in batch.drain(..) {
                    let _ = job.done.send(Err(StoreError::Batch(err.to_string())));
                }
            }
        }
    }
}

async fn write_batch(
    pool: &SqlitePool,
    heads: &mut HashMap<i64, Seq>,
    batch: &[Job],
) -> Result<Vec<Appended>, StoreError> {
    let mut tx = pool.begin().await?;
    let mut outcomes = Vec::with_capacity(batch.len());
    let mut next_heads: HashMap<i64, Seq> = HashMap::new();
    for job in batch {
        let room_id = job.room.id();
        let head = match next_heads.get(&room_id).or(heads.get(&room_id)) {
            Some(head) => *head,
            None => sqlx::query_scalar!(
                r#"SELECT COALESCE(MAX(seq), 0) AS "head!: i64" FROM entries WHERE room_id = ?1"#,
                room_id
            )
            .fetch_one(&mut *tx)
            .await? as Seq,
        };
        let seq = head + 1;
        let (seq_i, at, nick) = (seq as i64, now_ms(), job.nick.as_str());
        let kind = match &job.record {
            Record::Message { client_id, body } => {
                let (client_s, body_s) = (client_id.as_str(), body.as_str());
                let inserted = sqlx::query!(
                    "INSERT INTO entries (room_id, seq, at, nick, kind, client_id, body)
                     VALUES (?1, ?2, ?3, ?4, 'message', ?5, ?6)
                     ON CONFLICT (room_id, client_id) WHERE client_id IS NOT NULL DO NOTHING",
                    room_id,
                    seq_i,
                    at,
                    nick,
                    client_s,
                    body_s
                )
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if inserted == 0 {
                    let original = sqlx::query_scalar!(
                        r#"SELECT seq AS "seq!: i64" FROM entries WHERE room_id = ?1 AND client_id = ?2"#,
                        room_id,
                        client_s
                    )
                    .fetch_one(&mut *tx)
                    .await?;
                    next_heads.insert(room_id, head);
                    outcomes.push(Appended::Duplicate(original as Seq));
                    continue;
                }
                EntryKind::Message {
                    client_id: client_id.clone(),
                    body: body.clone(),
                }
            }
            Record::Joined | Record::Left => {
                let kind = if matches!(job.record, Record::Joined) {
                    "joined"
                } else {
                    "left"
                };
                sqlx::query!(
                    "INSERT INTO entries (room_id, seq, at, nick, kind) VALUES (?1, ?2, ?3, ?4, ?5)",
                    room_id,
                    seq_i,
                    at,
                    nick,
                    kind
                )
                .execute(&mut *tx)
                .await?;
                if matches!(job.record, Record::Joined) {
                    EntryKind::Joined
                } else {
                    EntryKind::Left
                }
            }
        };
        next_heads.insert(room_id, seq);
        outcomes.push(Appended::New(Entry {
            seq,
            at,
            nick: job.nick.clone(),
            kind,
        }));
    }
    tx.commit().await?;
    heads.extend(next_heads);
    Ok(outcomes)
}
