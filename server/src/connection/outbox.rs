//! The connection's outbound side: a queue bounded by bytes, and the writer
//! task that drains it into the socket.

use super::close::{CLOSE_SLOW, CloseReason};
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures::SinkExt;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{Notify, watch};

/// Bursts above this many frames leave the writer's buffer to be freed
/// rather than kept: an idle socket should hold no queue at all.
const KEPT_CAPACITY: usize = 32;

/// Frames not yet written. A plain deque, not a tokio channel: a channel
/// allocates a block of 32 slots (1.5 KiB) up front for every socket, and
/// most sockets are idle.
struct Queue {
    frames: Mutex<VecDeque<Message>>,
    ready: Notify,
    bytes: AtomicUsize,
    /// Set when the writer has stopped (the socket failed): pushing then
    /// fails, as sending to a dropped channel did, so forwarders stop.
    writer_gone: AtomicBool,
}

/// Marks the writer gone however [`write`] returns.
struct WriterGone<'a>(&'a Queue);

impl Drop for WriterGone<'_> {
    fn drop(&mut self) {
        self.0.writer_gone.store(true, Ordering::Release);
    }
}

/// The connection's outbound queue, bounded by bytes, plus its close request.
#[derive(Clone)]
pub struct Outbox {
    queue: Arc<Queue>,
    budget: usize,
    close: Arc<watch::Sender<Option<CloseReason>>>,
    /// [`crate::metrics::FRAMES_OUT`], looked up once per connection rather
    /// than once per frame.
    frames_out: metrics::Counter,
}

/// The writer's ends of an [`Outbox`].
pub struct OutboxDrain {
    queue: Arc<Queue>,
    pub close: watch::Receiver<Option<CloseReason>>,
}

impl Outbox {
    /// An outbox holding at most `budget` bytes not yet written.
    pub fn new(budget: usize) -> (Self, OutboxDrain) {
        let queue = Arc::new(Queue {
            frames: Mutex::new(VecDeque::new()),
            ready: Notify::new(),
            bytes: AtomicUsize::new(0),
            writer_gone: AtomicBool::new(false),
        });
        let (close, close_requested) = watch::channel(None);
        let outbox = Outbox {
            queue: queue.clone(),
            budget,
            close: Arc::new(close),
            frames_out: metrics::counter!(crate::metrics::FRAMES_OUT),
        };
        let drain = OutboxDrain {
            queue,
            close: close_requested,
        };
        (outbox, drain)
    }

    /// Queues a frame; a socket over its byte budget is closed as slow instead.
    pub fn push(&self, message: Message) -> bool {
        if self.close.borrow().is_some() || self.queue.writer_gone.load(Ordering::Acquire) {
            return false;
        }
        let size = message_size(&message);
        let queued = self.queue.bytes.fetch_add(size, Ordering::AcqRel) + size;
        if queued > self.budget {
            metrics::counter!(crate::metrics::SLOW_CLOSES).increment(1);
            self.close(CLOSE_SLOW);
            return false;
        }
        self.frames_out.increment(1);
        self.queue
            .frames
            .lock()
            .expect("outbox lock")
            .push_back(message);
        // Stores a permit if the writer is busy, so no frame waits unseen.
        self.queue.ready.notify_one();
        true
    }

    /// Asks for the connection to end with `reason` (the first request wins).
    pub fn close(&self, reason: CloseReason) {
        self.close.send_if_modified(|current| {
            if current.is_none() {
                *current = Some(reason);
                true
            } else {
                false
            }
        });
    }

    pub fn closing(&self) -> Option<CloseReason> {
        *self.close.borrow()
    }
}

fn message_size(message: &Message) -> usize {
    match message {
        Message::Text(text) => text.len(),
        Message::Binary(bytes) | Message::Ping(bytes) | Message::Pong(bytes) => bytes.len(),
        Message::Close(_) => 0,
    }
}

/// Writes queued frames, feed-then-flush so a burst costs one flush; a close
/// request jumps the queue.
///
/// Not an `async fn`, which would keep a second copy of its arguments in the
/// task's state for as long as the socket lives.
pub fn write(
    mut sink: futures::stream::SplitSink<WebSocket, Message>,
    drain: OutboxDrain,
) -> impl Future<Output = ()> + Send + 'static {
    let OutboxDrain { queue, mut close } = drain;
    async move {
        let _gone = WriterGone(&queue);
        // Swapped with the shared deque, so frames are written without the lock.
        let mut batch = VecDeque::new();
        loop {
            tokio::select! {
                biased;
                requested = async { close.wait_for(Option::is_some).await.ok().and_then(|r| *r) } => {
                    let Some(reason) = requested else { return };
                    let _ = sink
                        .send(Message::Close(Some(CloseFrame {
                            code: reason.code,
                            reason: Utf8Bytes::from_static(reason.reason),
                        })))
                        .await;
                    return;
                }
                () = queue.ready.notified() => {
                    std::mem::swap(&mut batch, &mut *queue.frames.lock().expect("outbox lock"));
                    if batch.is_empty() {
                        continue;
                    }
                    let mut batch_bytes = 0;
                    for frame in batch.drain(..) {
                        batch_bytes += message_size(&frame);
                        if sink.feed(frame).await.is_err() {
                            return;
                        }
                    }
                    if sink.flush().await.is_err() {
                        return;
                    }
                    queue.bytes.fetch_sub(batch_bytes, Ordering::AcqRel);
                    if batch.capacity() > KEPT_CAPACITY {
                        batch = VecDeque::new();
                    }
                }
            }
        }
    }
}
