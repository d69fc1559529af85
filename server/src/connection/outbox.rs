//! The connection's outbound side: a queue bounded by bytes, and the writer
//! task that drains it into the socket.

use super::close::{CLOSE_SLOW, CloseReason};
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures::SinkExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::{mpsc, watch};

/// The connection's outbound queue, bounded by bytes, plus its close request.
#[derive(Clone)]
pub struct Outbox {
    queue: mpsc::UnboundedSender<Message>,
    queued_bytes: Arc<AtomicUsize>,
    budget: usize,
    close: Arc<watch::Sender<Option<CloseReason>>>,
    /// [`crate::metrics::FRAMES_OUT`], looked up once per connection rather
    /// than once per frame.
    frames_out: metrics::Counter,
}

/// The writer's ends of an [`Outbox`].
pub struct OutboxDrain {
    queued: mpsc::UnboundedReceiver<Message>,
    queued_bytes: Arc<AtomicUsize>,
    pub close: watch::Receiver<Option<CloseReason>>,
}

impl Outbox {
    /// An outbox holding at most `budget` bytes not yet written.
    pub fn new(budget: usize) -> (Self, OutboxDrain) {
        let (queue, queued) = mpsc::unbounded_channel();
        let (close, close_requested) = watch::channel(None);
        let queued_bytes = Arc::new(AtomicUsize::new(0));
        let outbox = Outbox {
            queue,
            queued_bytes: queued_bytes.clone(),
            budget,
            close: Arc::new(close),
            frames_out: metrics::counter!(crate::metrics::FRAMES_OUT),
        };
        let drain = OutboxDrain {
            queued,
            queued_bytes,
            close: close_requested,
        };
        (outbox, drain)
    }

    /// Queues a frame; a socket over its byte budget is closed as slow instead.
    pub fn push(&self, message: Message) -> bool {
        if self.close.borrow().is_some() {
            return false;
        }
        let size = message_size(&message);
        let queued = self.queued_bytes.fetch_add(size, Ordering::AcqRel) + size;
        if queued > self.budget {
            metrics::counter!(crate::metrics::SLOW_CLOSES).increment(1);
            self.close(CLOSE_SLOW);
            return false;
        }
        self.frames_out.increment(1);
        self.queue.send(message).is_ok()
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
pub async fn write(mut sink: futures::stream::SplitSink<WebSocket, Message>, drain: OutboxDrain) {
    let OutboxDrain {
        mut queued,
        queued_bytes,
        mut close,
    } = drain;
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
            next = queued.recv() => {
                let Some(first) = next else { return };
                let mut batch_bytes = message_size(&first);
                if sink.feed(first).await.is_err() {
                    return;
                }
                while let Ok(more) = queued.try_recv() {
                    batch_bytes += message_size(&more);
                    if sink.feed(more).await.is_err() {
                        return;
                    }
                }
                if sink.flush().await.is_err() {
                    return;
                }
                queued_bytes.fetch_sub(batch_bytes, Ordering::AcqRel);
            }
        }
    }
}
