//! The journal: the one task that writes every room's log, committing many
//! entries per transaction (group commit).
//!
//! Callers enqueue a draft and wait for its outcome. The journal takes
//! whatever is queued (up to [`MAX_BATCH`]), has the store number and write
//! them all in one transaction, and only after the commit publishes each entry
//! to its room's feed, in `seq` order, and answers its caller. So an ack always
//! follows a durable commit, broadcast order is `seq` order, and under load one
//! fsync covers hundreds of messages.
//!
//! A batch that fails for a passing reason (the database briefly locked or
//! unreachable) is tried again with backoff rather than lost; one that keeps
//! failing is answered with the error, and the journal goes on with the next.
//! Health probes go through the same queue, so a stuck journal fails them.

use crate::bus::Feed;
use crate::store::{Appended, Draft, Heads, Store, StoreError};
use futures::FutureExt;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Most entries committed in one transaction.
const MAX_BATCH: usize = 2048;

/// The waits between tries of a failed batch double from this (7 tries, the
/// default, wait about 6 s in all, besides the database's own busy timeout).
const FIRST_RETRY: Duration = Duration::from_millis(100);

/// Rooms whose head the journal remembers; past this it forgets them all and
/// reads each again on its next entry (rooms come and go).
const HEADS_KEPT: usize = 10_000;

// Nearly every job is an append: boxing its draft would cost an allocation
// per message to shrink the rare probe.
#[allow(clippy::large_enum_variant)]
enum Job {
    Append {
        feed: Arc<Feed>,
        draft: Draft,
        done: oneshot::Sender<Result<Appended, StoreError>>,
    },
    Probe(oneshot::Sender<Result<(), String>>),
}

/// Handle to the journal task; cheap to clone.
#[derive(Clone)]
pub struct Journal {
    jobs: mpsc::UnboundedSender<Job>,
}

/// An enqueued entry's outcome, once its batch is committed.
pub struct Commit(oneshot::Receiver<Result<Appended, StoreError>>);

impl Commit {
    pub async fn outcome(self) -> Result<Appended, StoreError> {
        self.0.await.unwrap_or(Err(StoreError::JournalStopped))
    }
}

impl Journal {
    /// Starts the journal task on `store`; a failed batch is tried up to
    /// `tries` times before its callers are told.
    pub fn start(store: Store, tries: u32) -> Self {
        let (jobs, queue) = mpsc::unbounded_channel();
        tokio::spawn(run(store, queue, tries.max(1)));
        Self { jobs }
    }

    /// Queues a draft for `feed`'s room. Synchronous on purpose: callers
    /// enqueue while holding a room's membership lock, so notices keep the
    /// order of the changes.
    pub fn enqueue(&self, feed: &Arc<Feed>, draft: Draft) -> Commit {
        let (done, outcome) = oneshot::channel();
        let job = Job::Append {
            feed: feed.clone(),
            draft,
            done,
        };
        if let Err(mpsc::error::SendError(Job::Append { done, .. })) = self.jobs.send(job) {
            let _ = done.send(Err(StoreError::JournalStopped));
        }
        Commit(outcome)
    }

    /// Commits a write behind everything already queued: proof that the
    /// journal moves and the database takes writes.
    pub async fn probe(&self) -> Result<(), String> {
        let stopped = || StoreError::JournalStopped.to_string();
        let (done, outcome) = oneshot::channel();
        self.jobs.send(Job::Probe(done)).map_err(|_| stopped())?;
        outcome.await.unwrap_or_else(|_| Err(stopped()))
    }
}

async fn run(store: Store, mut queue: mpsc::UnboundedReceiver<Job>, tries: u32) {
    let mut heads = Heads::new();
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        let mut appends = Vec::with_capacity(jobs.len());
        let mut probes = vec![];
        for job in jobs.drain(..) {
            match job {
                Job::Append { feed, draft, done } => appends.push((feed, draft, done)),
                Job::Probe(done) => probes.push(done),
            }
        }
        if heads.len() > HEADS_KEPT {
            heads.clear();
        }
        if !appends.is_empty() {
            let drafts: Vec<&Draft> = appends.iter().map(|(_, draft, _)| draft).collect();
            match write_with_retries(&store, &mut heads, &drafts, tries).await {
                Ok(outcomes) => {
                    for ((feed, _, done), outcome) in appends.into_iter().zip(outcomes) {
                        if let Appended::New(entry) = &outcome {
                            feed.publish(entry.clone());
                        }
                        let _ = done.send(Ok(outcome));
                    }
                }
                Err(err) => {
                    tracing::error!(%err, entries = appends.len(), "journal gave up on a batch");
                    for (_, _, done) in appends {
                        let _ = done.send(Err(StoreError::Batch(err.to_string())));
                    }
                }
            }
        }
        // However many asked, one probe write per batch answers them all, so
        // health checks can never crowd out messages.
        if !probes.is_empty() {
            let outcome = store.probe().await.map_err(|err| err.to_string());
            for done in probes {
                let _ = done.send(outcome.clone());
            }
        }
    }
}

/// Writes one batch, trying again while the failure is a passing one. A
/// panic inside the store is caught and counts as a failed try, so the
/// journal task itself never dies.
async fn write_with_retries(
    store: &Store,
    heads: &mut Heads,
    drafts: &[&Draft],
    most: u32,
) -> Result<Vec<Appended>, StoreError> {
    let mut wait = FIRST_RETRY;
    let mut tries = 0;
    loop {
        tries += 1;
        let attempt = AssertUnwindSafe(store.append(heads, drafts))
            .catch_unwind()
            .await
            .unwrap_or_else(|_| Err(StoreError::Batch("the store panicked".into())));
        match attempt {
            Ok(outcomes) => return Ok(outcomes),
            Err(err) if tries < most && (err.is_transient() || tries == 1) => {
                // A rolled-back batch may have read heads that are now stale.
                heads.clear();
                tracing::warn!(%err, tries, "journal batch failed; trying again");
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
            Err(err) => {
                heads.clear();
                return Err(err);
            }
        }
    }
}
