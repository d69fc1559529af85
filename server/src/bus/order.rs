//! One room's entries put back in `seq` order, whatever order Redis brings
//! them in: the next one is delivered at once (with every waiting one that
//! follows it), one past a gap waits while the gap is read from the store,
//! one at or below the head was delivered already and is dropped. At most
//! one read of the store is under way per room.
//!
//! Pure bookkeeping, no I/O: the feed ([`super::Feed`]) does what each
//! [`Step`] says, so the rules are tested here alone.

use app::messages::Seq;
use std::collections::BTreeMap;

/// Entries that arrived past a gap, and whether the gap is being read.
pub(super) struct Order<T> {
    waiting: BTreeMap<Seq, T>,
    filling: bool,
}

impl<T> Default for Order<T> {
    fn default() -> Self {
        Self {
            waiting: BTreeMap::new(),
            filling: false,
        }
    }
}

/// What the feed does next.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Step<T> {
    /// Deliver these now, in this order.
    pub deliver: Vec<(Seq, T)>,
    /// Read the store after the head, up to this `seq`, and offer what it
    /// has; then call [`Order::fill_done`].
    pub fill: Option<Seq>,
}

impl<T> Order<T> {
    /// Entry `seq` arrived while the feed's head (last delivered) is `head`.
    pub fn offer(&mut self, head: Seq, seq: Seq, frame: T) -> Step<T> {
        if seq <= head {
            return Step {
                deliver: vec![],
                fill: None,
            };
        }
        let mut deliver = vec![];
        if seq == head + 1 {
            deliver.push((seq, frame));
            let mut next = seq + 1;
            while let Some(frame) = self.waiting.remove(&next) {
                deliver.push((next, frame));
                next += 1;
            }
            // Anything left at or below the new head was delivered by a
            // read of the store meanwhile.
            let head = next - 1;
            self.waiting.retain(|&s, _| s > head);
        } else {
            self.waiting.insert(seq, frame);
        }
        let head = deliver.last().map_or(head, |(seq, _)| *seq);
        let fill = self.gap(head);
        Step { deliver, fill }
    }

    /// Starts reading the store up to `upto`, unless a read is under way or
    /// nothing is missing; the `seq` to read up to when it starts.
    pub fn start_fill(&mut self, head: Seq, upto: Seq) -> Option<Seq> {
        if self.filling || upto <= head {
            return None;
        }
        self.filling = true;
        Some(upto)
    }

    /// A read of the store ended (the head is `head` now): the next gap to
    /// read, if entries still wait past one.
    pub fn fill_done(&mut self, head: Seq) -> Option<Seq> {
        self.filling = false;
        self.gap(head)
    }

    /// The gap before the first waiting entry, if one should be read now.
    fn gap(&mut self, head: Seq) -> Option<Seq> {
        let first = *self.waiting.keys().next()?;
        self.start_fill(head, first - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivered(step: &Step<&'static str>) -> Vec<Seq> {
        step.deliver.iter().map(|(seq, _)| *seq).collect()
    }

    #[test]
    fn the_next_entry_goes_at_once_and_nothing_is_read() {
        let mut order = Order::default();
        let step = order.offer(4, 5, "five");
        assert_eq!(step.deliver, vec![(5, "five")]);
        assert_eq!(step.fill, None);
    }

    #[test]
    fn an_entry_at_or_below_the_head_is_dropped() {
        let mut order = Order::default();
        for seq in [3, 4] {
            let step = order.offer(4, seq, "again");
            assert!(step.deliver.is_empty() && step.fill.is_none(), "{seq}");
        }
    }

    #[test]
    fn an_entry_past_a_gap_waits_and_the_gap_is_read_once() {
        let mut order = Order::default();
        let step = order.offer(4, 7, "seven");
        assert!(step.deliver.is_empty());
        assert_eq!(step.fill, Some(6), "read 5 and 6 from the store");
        let step = order.offer(4, 9, "nine");
        assert!(step.deliver.is_empty());
        assert_eq!(step.fill, None, "one read at a time");

        // The read brings 5 and 6: 5, 6 and the waiting 7 go, 9 still waits.
        assert_eq!(delivered(&order.offer(4, 5, "five")), [5]);
        assert_eq!(delivered(&order.offer(5, 6, "six")), [6, 7]);
        // The read is done; the gap before 9 is read next.
        assert_eq!(order.fill_done(7), Some(8));
        assert_eq!(delivered(&order.offer(7, 8, "eight")), [8, 9]);
        assert_eq!(order.fill_done(9), None, "nothing waits any more");
    }

    #[test]
    fn an_entry_announced_after_the_store_delivered_it_is_not_delivered_twice() {
        let mut order = Order::default();
        assert_eq!(order.offer(1, 3, "three").fill, Some(2));
        // The read delivers 2 and the waiting 3; Redis's late 3 is old news.
        assert_eq!(delivered(&order.offer(1, 2, "two")), [2, 3]);
        assert!(order.offer(3, 3, "three").deliver.is_empty());
        assert_eq!(order.fill_done(3), None);
    }

    #[test]
    fn a_catch_up_read_starts_only_when_none_is_under_way_and_something_is_missing() {
        let mut order: Order<&str> = Order::default();
        assert_eq!(order.start_fill(10, 10), None, "nothing missing");
        assert_eq!(order.start_fill(10, 20), Some(20));
        assert_eq!(order.start_fill(10, 30), None, "one under way");
        assert_eq!(order.fill_done(20), None);
        assert_eq!(order.start_fill(20, 30), Some(30));
    }
}
