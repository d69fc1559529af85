//! A room's fan-out: every frame sent is read once by every subscription
//! that existed when it was sent, in order.
//!
//! Like `tokio::sync::broadcast`, with one difference that matters at tens
//! of thousands of quiet rooms: tokio's channel allocates all its slots when
//! it is made, so every room in memory paid for its whole backlog (512 slots
//! of 72 bytes, 3.7 KB a connection in rooms of 10) before anyone spoke.
//! Here the backlog is a queue that holds only the frames some subscription
//! has not read yet, up to a bound in bytes ([`Weigh`]: a frame's share of
//! memory, held once for all its readers); a subscription that falls further
//! behind than the bound is told how much it missed ([`Received::Lagged`]),
//! never skipped silently. The bound is bytes, not frames, because what a
//! reader may fall behind by is the byte budget people are promised
//! (`--send-queue-bytes`): a burst of a thousand small join notices is no
//! reason to drop anyone. An idle room's backlog is empty and gives its
//! memory back.
//!
//! Readers share a read lock: each takes a clone of the frame (a reference
//! count) and counts itself off it; only sending, subscribing, leaving and
//! dropping what everyone has read take the write lock.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use tokio::sync::Notify;

/// Queued frames kept allocated after a burst drains; more is given back.
const KEEP_CAPACITY: usize = 16;

/// What a frame costs the backlog, in bytes.
pub trait Weigh {
    fn weight(&self) -> usize;
}

/// The sending side; dropping it ends every subscription.
pub struct Fanout<T> {
    shared: Arc<Shared<T>>,
}

/// One reader of a [`Fanout`].
pub struct Subscription<T> {
    shared: Arc<Shared<T>>,
    /// Position of the next frame this subscription reads.
    next: u64,
}

/// What [`Subscription::recv`] gives.
#[derive(Debug, PartialEq, Eq)]
pub enum Received<T> {
    Frame(T),
    /// This many frames were dropped before this subscription read them;
    /// the next call goes on from the oldest frame still held.
    Lagged(u64),
    /// The fanout is gone and everything it sent was read.
    Closed,
}

struct Shared<T> {
    queue: RwLock<Queue<T>>,
    /// Bytes of unread frames held at most.
    bound: usize,
    wake: Notify,
    closed: AtomicBool,
}

struct Queue<T> {
    /// Position of `slots[0]`.
    first: u64,
    slots: VecDeque<Slot<T>>,
    /// The weights of `slots`, together.
    held_bytes: usize,
    subscriptions: usize,
}

struct Slot<T> {
    frame: T,
    weight: usize,
    /// Subscriptions that have not read this frame yet.
    unread: AtomicUsize,
}

impl<T: Clone + Weigh> Fanout<T> {
    /// A fanout that holds at most `bound` bytes of unread frames (always
    /// the newest frame, however big).
    pub fn new(bound: usize) -> Self {
        assert!(bound > 0, "a fanout needs room for one frame");
        Self {
            shared: Arc::new(Shared {
                queue: RwLock::new(Queue {
                    first: 0,
                    slots: VecDeque::new(),
                    held_bytes: 0,
                    subscriptions: 0,
                }),
                bound,
                wake: Notify::new(),
                closed: AtomicBool::new(false),
            }),
        }
    }

    /// Queues `frame` for every current subscription; with none, it is
    /// dropped at once (as with tokio's channel, that is not an error here).
    pub fn send(&self, frame: T) {
        {
            let mut queue = self.shared.write();
            if queue.subscriptions == 0 {
                return;
            }
            queue.drop_read();
            let weight = frame.weight();
            while !queue.slots.is_empty() && queue.held_bytes + weight > self.shared.bound {
                // The slowest subscriptions lose the oldest; they see `Lagged`.
                queue.pop_front();
            }
            let unread = AtomicUsize::new(queue.subscriptions);
            queue.held_bytes += weight;
            queue.slots.push_back(Slot {
                frame,
                weight,
                unread,
            });
        }
        self.shared.wake.notify_waiters();
    }

    /// A subscription that reads every frame sent from now on.
    pub fn subscribe(&self) -> Subscription<T> {
        let mut queue = self.shared.write();
        queue.subscriptions += 1;
        let next = queue.first + queue.slots.len() as u64;
        Subscription {
            shared: self.shared.clone(),
            next,
        }
    }

    /// Frames held because some subscription has not read them.
    #[cfg(test)]
    fn held(&self) -> usize {
        self.shared.write().slots.len()
    }
}

impl<T> Drop for Fanout<T> {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::Release);
        self.shared.wake.notify_waiters();
    }
}

impl<T: Clone + Weigh> Subscription<T> {
    /// The next frame, waiting for one if everything sent was read.
    pub async fn recv(&mut self) -> Received<T> {
        loop {
            let notified = self.shared.wake.notified();
            tokio::pin!(notified);
            // Registered before looking, so a send in between still wakes us.
            notified.as_mut().enable();
            if let Some(received) = next_of(&self.shared, &mut self.next) {
                return received;
            }
            notified.await;
        }
    }

    #[cfg(test)]
    fn try_recv(&mut self) -> Option<Received<T>> {
        next_of(&self.shared, &mut self.next)
    }
}

/// The frame at `next` (moving it on), or `None` if it was not sent yet.
fn next_of<T: Clone>(shared: &Shared<T>, next: &mut u64) -> Option<Received<T>> {
    // Read before looking at the queue: a frame sent before the close is in
    // the queue by then, so it is not missed.
    let closed = shared.closed.load(Ordering::Acquire);
    let (front_read, frame) = {
        let queue = shared.queue.read().expect("fanout lock");
        if *next < queue.first {
            let missed = queue.first - *next;
            *next = queue.first;
            return Some(Received::Lagged(missed));
        }
        let index = (*next - queue.first) as usize;
        let Some(slot) = queue.slots.get(index) else {
            return closed.then_some(Received::Closed);
        };
        *next += 1;
        let last_reader = slot.unread.fetch_sub(1, Ordering::AcqRel) == 1;
        (last_reader && index == 0, slot.frame.clone())
    };
    if front_read {
        shared.write().drop_read();
    }
    Some(Received::Frame(frame))
}

impl<T> Drop for Subscription<T> {
    fn drop(&mut self) {
        let mut queue = self.shared.write();
        queue.subscriptions -= 1;
        let from = self.next.saturating_sub(queue.first) as usize;
        for slot in queue.slots.iter().skip(from) {
            slot.unread.fetch_sub(1, Ordering::AcqRel);
        }
        queue.drop_read();
    }
}

impl<T> Shared<T> {
    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Queue<T>> {
        self.queue.write().expect("fanout lock")
    }
}

impl<T> Queue<T> {
    fn pop_front(&mut self) {
        if let Some(slot) = self.slots.pop_front() {
            self.held_bytes -= slot.weight;
            self.first += 1;
        }
    }

    /// Drops the frames at the front that every subscription has read, and
    /// gives back the memory a burst took once it has drained.
    fn drop_read(&mut self) {
        while self
            .slots
            .front()
            .is_some_and(|slot| slot.unread.load(Ordering::Acquire) == 0)
        {
            self.pop_front();
        }
        if self.slots.is_empty() && self.slots.capacity() > KEEP_CAPACITY {
            self.slots = VecDeque::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // In these tests a frame weighs one: the bound counts frames.
    impl Weigh for u32 {
        fn weight(&self) -> usize {
            1
        }
    }
    impl Weigh for i32 {
        fn weight(&self) -> usize {
            1
        }
    }
    impl Weigh for &str {
        fn weight(&self) -> usize {
            1
        }
    }
    // Except text, which weighs its bytes.
    impl Weigh for String {
        fn weight(&self) -> usize {
            self.len()
        }
    }

    #[test]
    fn the_bound_is_bytes_so_many_small_frames_fit_where_a_few_big_ones_do_not() {
        let text = |t: &str| t.to_owned();
        let fanout: Fanout<String> = Fanout::new(10);
        let mut slow = fanout.subscribe();
        for _ in 0..10 {
            fanout.send(text("a"));
        }
        assert_eq!(fanout.held(), 10, "ten one-byte frames fit in ten bytes");
        fanout.send(text("bbbbbb"));
        assert_eq!(slow.try_recv(), Some(Received::Lagged(6)));
        for _ in 0..4 {
            assert_eq!(slow.try_recv(), Some(Received::Frame(text("a"))));
        }
        assert_eq!(slow.try_recv(), Some(Received::Frame(text("bbbbbb"))));
        fanout.send(text("a frame bigger than the bound"));
        assert_eq!(
            slow.try_recv(),
            Some(Received::Frame(text("a frame bigger than the bound"))),
            "the newest frame is always held"
        );
    }

    #[test]
    fn every_subscription_reads_every_frame_in_order() {
        let fanout = Fanout::new(8);
        let (mut a, mut b) = (fanout.subscribe(), fanout.subscribe());
        for n in 1..=3 {
            fanout.send(n);
        }
        for sub in [&mut a, &mut b] {
            let got: Vec<_> = (0..3).filter_map(|_| sub.try_recv()).collect();
            assert_eq!(
                got,
                vec![Received::Frame(1), Received::Frame(2), Received::Frame(3)]
            );
            assert_eq!(sub.try_recv(), None, "nothing more was sent");
        }
        assert_eq!(fanout.held(), 0, "read by everyone, so let go");
    }

    #[test]
    fn a_subscription_sees_only_what_is_sent_after_it() {
        let fanout = Fanout::new(8);
        let mut early = fanout.subscribe();
        fanout.send("before");
        let mut late = fanout.subscribe();
        fanout.send("after");
        assert_eq!(late.try_recv(), Some(Received::Frame("after")));
        assert_eq!(early.try_recv(), Some(Received::Frame("before")));
        assert_eq!(early.try_recv(), Some(Received::Frame("after")));
    }

    #[test]
    fn one_too_far_behind_is_told_how_much_it_missed() {
        let fanout = Fanout::new(2);
        let mut slow = fanout.subscribe();
        let mut quick = fanout.subscribe();
        for n in 1..=5 {
            fanout.send(n);
            assert_eq!(quick.try_recv(), Some(Received::Frame(n)));
        }
        assert_eq!(slow.try_recv(), Some(Received::Lagged(3)));
        assert_eq!(slow.try_recv(), Some(Received::Frame(4)));
        assert_eq!(slow.try_recv(), Some(Received::Frame(5)));
        assert_eq!(fanout.held(), 0);
    }

    #[test]
    fn a_subscription_that_leaves_unread_frames_does_not_hold_them() {
        let fanout = Fanout::new(8);
        let mut stays = fanout.subscribe();
        let leaves = fanout.subscribe();
        fanout.send(1);
        fanout.send(2);
        drop(leaves);
        assert_eq!(stays.try_recv(), Some(Received::Frame(1)));
        assert_eq!(stays.try_recv(), Some(Received::Frame(2)));
        assert_eq!(fanout.held(), 0);
    }

    #[test]
    fn without_subscriptions_nothing_is_held() {
        let fanout = Fanout::new(8);
        fanout.send(1);
        assert_eq!(fanout.held(), 0);
    }

    #[tokio::test]
    async fn a_waiting_subscription_wakes_for_a_frame_and_for_the_close() {
        let fanout = Fanout::new(8);
        let mut sub = fanout.subscribe();
        let reader = tokio::spawn(async move {
            let first = sub.recv().await;
            let second = sub.recv().await;
            let third = sub.recv().await;
            (first, second, third)
        });
        tokio::task::yield_now().await;
        fanout.send(7);
        fanout.send(8);
        drop(fanout);
        assert_eq!(
            reader.await.unwrap(),
            (Received::Frame(7), Received::Frame(8), Received::Closed)
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_readers_on_threads_read_everything_exactly_once() {
        let fanout = Fanout::new(10_000);
        let readers: Vec<_> = (0..8)
            .map(|_| {
                let mut sub = fanout.subscribe();
                tokio::spawn(async move {
                    let mut got = Vec::new();
                    while let Received::Frame(n) = sub.recv().await {
                        got.push(n);
                    }
                    got
                })
            })
            .collect();
        for n in 0..5_000u32 {
            fanout.send(n);
            if n % 100 == 0 {
                tokio::task::yield_now().await;
            }
        }
        drop(fanout);
        for reader in readers {
            assert_eq!(reader.await.unwrap(), (0..5_000).collect::<Vec<_>>());
        }
    }
}
