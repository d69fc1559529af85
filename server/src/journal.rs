//! The journal: the one task that writes every room's log, committing many
//! entries per transaction (group commit).
//!
//! Callers enqueue a draft and wait for its outcome, or hand over a quick
//! closure the journal calls with it (a socket's ack). The journal takes
//! whatever is queued (up to [`MAX_BATCH`]), has the store number and write
//! them all in one transaction, and only after the commit publishes each entry
//! to its room's feed, in `seq` order, and answers its caller. So an ack always
//! follows a durable commit, broadcast order is `seq` order, and under load one
//! fsync covers hundreds of messages.
//!
//! A batch that fails for a passing reason (the database briefly locked or
//! unreachable) is tried again with backoff rather than lost; one that keeps
//! failing is answered with the error, and the journal goes on with the next.
//! A batch the database refuses for good is written again entry by entry, so
//! only the entry at fault is refused, not every one that shared its batch.
//! Health probes go through the same queue, so a stuck journal fails them.

use crate::bus::Feed;
use crate::store::{Appended, Draft, Refusal, Store, StoreError};
use app::messages::Seq;
use futures::FutureExt;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Most entries committed in one transaction.
const MAX_BATCH: usize = 2048;

/// The waits between tries of a failed batch double from this (7 tries, the
/// default, wait about 6 s in all, besides the database's own busy timeout).
const FIRST_RETRY: Duration = Duration::from_millis(100);

// Nearly every job is an append: boxing its draft would cost an allocation
// per message to shrink the rare probe.
#[allow(clippy::large_enum_variant)]
enum Job {
    Append {
        feed: Arc<Feed>,
        draft: Draft,
        done: Answer,
    },
    Probe(oneshot::Sender<Result<(), String>>),
}

/// The outcome of an entry, however it is committed or refused.
pub type Outcome = Result<Committed, StoreError>;

/// Who hears an entry's outcome once its batch is committed.
enum Answer {
    /// A caller waiting on a [`Commit`].
    Waiting(oneshot::Sender<Outcome>),
    /// A caller that does not wait, told on the journal's task: no task and
    /// channel of its own per message (a socket's ack is queued so).
    Then(Box<dyn FnOnce(Outcome) + Send>),
}

impl Answer {
    fn send(self, outcome: Outcome) {
        match self {
            Answer::Waiting(done) => {
                let _ = done.send(outcome);
            }
            // It runs on the journal's task: a panic in it must not stop
            // every room's writes (as it stayed in its own task before).
            Answer::Then(then) => {
                if std::panic::catch_unwind(AssertUnwindSafe(|| then(outcome))).is_err() {
                    tracing::error!("an entry's answer panicked; the journal goes on");
                }
            }
        }
    }
}

/// What became of an enqueued entry once its batch was committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Committed {
    /// Stored at this `seq` and published to its room.
    New(Seq),
    /// A resent message: the original's `seq`.
    Duplicate(Seq),
    /// An action its target does not allow.
    Refused(Refusal),
}

/// Handle to the journal task; cheap to clone.
#[derive(Clone)]
pub struct Journal {
    jobs: mpsc::UnboundedSender<Job>,
    /// Entries queued that the journal has not taken into a batch yet.
    queued: Arc<AtomicUsize>,
    /// Entries taken into batches so far.
    taken: Arc<AtomicU64>,
}

/// An enqueued entry's outcome, once its batch is committed.
pub struct Commit(oneshot::Receiver<Outcome>);

impl Commit {
    pub async fn outcome(self) -> Outcome {
        self.0.await.unwrap_or(Err(StoreError::JournalStopped))
    }
}

impl Journal {
    /// Starts the journal task on `store`; a failed batch is tried up to
    /// `tries` times before its callers are told.
    pub fn start(store: Store, tries: u32) -> Self {
        let (jobs, queue) = mpsc::unbounded_channel();
        let queued = Arc::new(AtomicUsize::new(0));
        let taken = Arc::new(AtomicU64::new(0));
        let counts = (queued.clone(), taken.clone());
        tokio::spawn(run(store, queue, tries.max(1), counts));
        Self {
            jobs,
            queued,
            taken,
        }
    }

    /// Entries taken into batches so far (written, or being written).
    pub fn taken(&self) -> u64 {
        self.taken.load(Ordering::Acquire)
    }

    /// Entries waiting for the journal to take them into a batch (the batch
    /// being written does not count): what a test waits on to know the
    /// next batch has formed, instead of sleeping.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }

    /// Queues a draft for `feed`'s room. Synchronous on purpose: callers
    /// enqueue while holding a room's membership lock, so notices keep the
    /// order of the changes.
    pub fn enqueue(&self, feed: &Arc<Feed>, draft: Draft) -> Commit {
        let (done, outcome) = oneshot::channel();
        self.queue(feed, draft, Answer::Waiting(done));
        Commit(outcome)
    }

    /// Like [`Journal::enqueue`], for a caller that does not wait: `then`
    /// runs on the journal's task once the batch is committed (after the
    /// entry is published), so it must be quick and must not block.
    pub fn enqueue_then(
        &self,
        feed: &Arc<Feed>,
        draft: Draft,
        then: impl FnOnce(Outcome) + Send + 'static,
    ) {
        self.queue(feed, draft, Answer::Then(Box::new(then)));
    }

    fn queue(&self, feed: &Arc<Feed>, draft: Draft, done: Answer) {
        let job = Job::Append {
            feed: feed.clone(),
            draft,
            done,
        };
        self.queued.fetch_add(1, Ordering::AcqRel);
        if let Err(mpsc::error::SendError(Job::Append { done, .. })) = self.jobs.send(job) {
            self.queued.fetch_sub(1, Ordering::AcqRel);
            done.send(Err(StoreError::JournalStopped));
        }
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

/// Who waits for an entry of the batch being written.
type Waiter = (Arc<Feed>, Answer);

async fn run(
    store: Store,
    mut queue: mpsc::UnboundedReceiver<Job>,
    tries: u32,
    (queued, taken): (Arc<AtomicUsize>, Arc<AtomicU64>),
) {
    let committed = metrics::counter!(crate::metrics::ENTRIES);
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        let appends = jobs
            .iter()
            .filter(|job| matches!(job, Job::Append { .. }))
            .count();
        queued.fetch_sub(appends, Ordering::AcqRel);
        taken.fetch_add(appends as u64, Ordering::AcqRel);
        let mut drafts = Vec::with_capacity(jobs.len());
        let mut waiters: Vec<Waiter> = Vec::with_capacity(jobs.len());
        let mut probes = vec![];
        for job in jobs.drain(..) {
            match job {
                Job::Append { feed, draft, done } => {
                    drafts.push(draft);
                    waiters.push((feed, done));
                }
                Job::Probe(done) => probes.push(done),
            }
        }
        if !drafts.is_empty() {
            let drafts: Arc<[Draft]> = drafts.into();
            metrics::histogram!(crate::metrics::BATCH_ENTRIES).record(drafts.len() as f64);
            match write_with_retries(&store, drafts.clone(), tries).await {
                Ok(outcomes) => answer(waiters, outcomes, &committed),
                // One entry the database will not take must not sink the
                // others that shared its batch: each is tried on its own.
                Err(err) if drafts.len() > 1 && !err.is_transient() => {
                    tracing::warn!(%err, entries = drafts.len(), "journal batch failed; writing its entries one by one");
                    for (draft, waiter) in drafts.iter().zip(waiters) {
                        let alone: Arc<[Draft]> = Arc::new([draft.clone()]);
                        match write_with_retries(&store, alone, 1).await {
                            Ok(outcomes) => answer(vec![waiter], outcomes, &committed),
                            Err(err) => give_up(vec![waiter], &err),
                        }
                    }
                }
                Err(err) => give_up(waiters, &err),
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

/// Publishes each new entry to its room, in `seq` order, then answers its
/// caller.
fn answer(waiters: Vec<Waiter>, outcomes: Vec<Appended>, committed: &metrics::Counter) {
    for ((feed, done), outcome) in waiters.into_iter().zip(outcomes) {
        let committed = match outcome {
            Appended::New(entry) => {
                committed.increment(1);
                let seq = entry.seq;
                feed.publish(entry);
                Committed::New(seq)
            }
            Appended::Duplicate(seq) => Committed::Duplicate(seq),
            Appended::Refused(refusal) => Committed::Refused(refusal),
        };
        done.send(Ok(committed));
    }
}

fn give_up(waiters: Vec<Waiter>, err: &StoreError) {
    tracing::error!(%err, entries = waiters.len(), "journal gave up on a batch");
    for (_, done) in waiters {
        done.send(Err(StoreError::Batch(err.to_string())));
    }
}

/// Writes one batch, trying again while the failure is a passing one. A
/// panic inside the store is caught and counts as a failed try, so the
/// journal task itself never dies.
async fn write_with_retries(
    store: &Store,
    drafts: Arc<[Draft]>,
    most: u32,
) -> Result<Vec<Appended>, StoreError> {
    let mut wait = FIRST_RETRY;
    let mut tries = 0;
    loop {
        tries += 1;
        let started = std::time::Instant::now();
        let attempt = AssertUnwindSafe(store.append(drafts.clone()))
            .catch_unwind()
            .await
            .unwrap_or_else(|_| Err(StoreError::Batch("the store panicked".into())));
        if attempt.is_ok() {
            metrics::histogram!(crate::metrics::BATCH_SECONDS).record(started.elapsed());
        } else {
            metrics::counter!(crate::metrics::BATCH_FAILURES).increment(1);
        }
        match attempt {
            Ok(outcomes) => return Ok(outcomes),
            Err(err) if tries < most && (err.is_transient() || tries == 1) => {
                tracing::warn!(%err, tries, "journal batch failed; trying again");
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
            Err(err) => return Err(err),
        }
    }
}
