//! `Lagged`: what one watch will deliver, in order, each item a lag after its change: the one delivery rule of the
//! simulator's informers and of the watches it serves over HTTP.

use std::collections::VecDeque;
use std::time::Duration;

use crate::time::SimTime;

/// Items waiting to be delivered, oldest first. An item is due `lag` after it was queued but never before the one
/// queued ahead of it: a watch delivers changes in the order they happened, as the API server's watch cache does.
#[derive(Debug)]
pub struct Lagged<T> {
    queue: VecDeque<(SimTime, T)>,
    /// When the last queued item is due.
    last_at: SimTime,
    /// Whether a delivery event is planned.
    planned: bool,
}

impl<T> Lagged<T> {
    /// An empty queue whose items are due no earlier than `since`.
    pub fn new(since: SimTime) -> Self {
        Lagged { queue: VecDeque::new(), last_at: since, planned: false }
    }

    /// Queues `item` `lag` after `now` (or with the item ahead of it, if that one is due later). Returns when to plan
    /// a delivery event, unless one is planned already.
    #[must_use]
    pub fn push(&mut self, now: SimTime, lag: Duration, item: T) -> Option<SimTime> {
        let at = self.last_at.max(now.plus(lag));
        self.last_at = at;
        self.queue.push_back((at, item));
        (!std::mem::replace(&mut self.planned, true)).then_some(at)
    }

    /// The planned delivery event has come: nothing is planned any more.
    pub fn arrived(&mut self) {
        self.planned = false;
    }

    /// The oldest item, if it is due at `now`.
    pub fn pop_due(&mut self, now: SimTime) -> Option<T> {
        if self.queue.front().is_some_and(|(at, _)| *at <= now) {
            self.queue.pop_front().map(|(_, item)| item)
        } else {
            None
        }
    }

    /// After taking what was due: when to plan the next delivery event, if anything is left.
    #[must_use]
    pub fn replan(&mut self) -> Option<SimTime> {
        let at = self.queue.front().map(|(at, _)| *at)?;
        self.planned = true;
        Some(at)
    }

    /// Drops everything queued (a stall, a relist, the process died); a planned event will find nothing.
    pub fn clear(&mut self) {
        self.queue.clear();
        self.planned = false;
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(ms: u64) -> SimTime {
        SimTime::default().plus(Duration::from_millis(ms))
    }

    #[test]
    fn a_short_lag_never_overtakes_a_long_one_and_one_event_is_planned_at_a_time() {
        let mut q = Lagged::new(t(0));
        assert_eq!(q.push(t(0), Duration::from_millis(50), "a"), Some(t(50)));
        assert_eq!(q.push(t(10), Duration::from_millis(5), "b"), None, "an event is planned already");
        q.arrived();
        assert_eq!(q.pop_due(t(49)), None);
        assert_eq!(q.pop_due(t(50)), Some("a"));
        assert_eq!(q.pop_due(t(50)), Some("b"), "b waited for a, then is due with it");
        assert_eq!(q.replan(), None);
        assert_eq!(q.push(t(60), Duration::ZERO, "c"), Some(t(60)), "nothing planned: the push plans");
    }

    #[test]
    fn a_cleared_queue_plans_again_on_the_next_push() {
        let mut q = Lagged::new(t(0));
        assert!(q.push(t(0), Duration::from_millis(5), 1).is_some());
        q.clear();
        assert!(q.is_empty());
        assert_eq!(q.push(t(1), Duration::from_millis(1), 2), Some(t(5)), "still after what was queued before");
    }

    proptest! {
        #[test]
        fn items_come_out_in_the_order_they_went_in_never_before_their_lag(
            pushes in proptest::collection::vec((0u64..100, 0u64..100), 1..40),
        ) {
            let mut q = Lagged::new(t(0));
            let mut now = 0;
            let mut due_at = Vec::new();
            for (i, (gap, lag)) in pushes.iter().enumerate() {
                now += gap;
                let _ = q.push(t(now), Duration::from_millis(*lag), i);
                due_at.push(now + lag);
            }
            let mut out = Vec::new();
            for clock in 0..=now + 100 {
                while let Some(i) = q.pop_due(t(clock)) {
                    prop_assert!(clock >= due_at[i], "item {} out at {} before its lag ends at {}", i, clock, due_at[i]);
                    out.push(i);
                }
            }
            prop_assert_eq!(out, (0..pushes.len()).collect::<Vec<_>>());
        }
    }
}
