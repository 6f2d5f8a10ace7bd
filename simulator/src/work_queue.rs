//! `WorkQueue`: one controller's work queue, as kube-runtime's: deduplicated by key, one reconcile per key at a time
//! (a trigger during it marks the key dirty, to run again when it ends), exponential backoff after errors.

use operator::cluster::ObjectKey;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::lookup::Lookup;
use crate::task_id::TaskId;
use crate::time::SimTime;

/// The first error backoff; it doubles per consecutive failure up to `MAX_BACKOFF`.
const BASE_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(300);

#[derive(Debug, Default)]
pub struct WorkQueue {
    /// Keys waiting for their reconcile, with when and the token of the event planned for it. Hashed: it holds a
    /// key per object waiting for a requeue (thousands in a large world) and is only looked up.
    scheduled: Lookup<ObjectKey, (SimTime, u64)>,
    running: BTreeMap<ObjectKey, TaskId>,
    /// Keys triggered while their reconcile ran.
    dirty: BTreeSet<ObjectKey>,
    /// Consecutive failed reconciles per key.
    failures: BTreeMap<ObjectKey, u32>,
    token: u64,
}

/// How a reconcile ended, for what comes next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Finished {
    /// It was triggered again while it ran: run it again now.
    pub dirty: bool,
    /// Consecutive failures of the key, this one included (0 after a success).
    pub failures: u32,
}

/// How long to wait before retrying after `failures` consecutive failures (at least one).
pub fn backoff(failures: u32) -> Duration {
    BASE_BACKOFF.saturating_mul(1u32.checked_shl(failures.saturating_sub(1)).unwrap_or(u32::MAX)).min(MAX_BACKOFF)
}

impl WorkQueue {
    /// Asks for `key` to be reconciled at `at` (the earlier request wins). Returns the token of the event to plan at
    /// `at`, or `None` when nothing is to be planned: a reconcile of the key is due earlier, or one is running and
    /// the request is for now (the key is then run again when it ends).
    /// The key is copied only when the queue keeps a new entry for it.
    pub fn request(&mut self, key: &ObjectKey, at: SimTime, now: SimTime) -> Option<u64> {
        if at <= now && self.running.contains_key(key) {
            if !self.dirty.contains(key) {
                self.dirty.insert(key.clone());
            }
            return None;
        }
        if self.scheduled.get(key).is_some_and(|(t, _)| *t <= at) {
            return None;
        }
        self.token += 1;
        match self.scheduled.get_mut(key) {
            Some(planned) => *planned = (at, self.token),
            None => {
                self.scheduled.insert(key.clone(), (at, self.token));
            }
        }
        Some(self.token)
    }

    /// The event with `token` for `key` is due: whether to start its reconcile now. A stale token (a later request
    /// replaced it) starts nothing; a key whose reconcile still runs is marked dirty instead.
    pub fn due(&mut self, key: &ObjectKey, token: u64) -> bool {
        match self.scheduled.get(key) {
            Some((_, t)) if *t == token => {
                self.scheduled.remove(key);
            }
            _ => return false,
        }
        if self.running.contains_key(key) {
            self.dirty.insert(key.clone());
            return false;
        }
        true
    }

    /// The reconcile of `key` runs as `task`.
    pub fn started(&mut self, key: ObjectKey, task: TaskId) {
        self.running.insert(key, task);
    }

    /// The reconcile `task` of `key` ended, successfully or not.
    pub fn finished(&mut self, key: &ObjectKey, task: TaskId, ok: bool) -> Finished {
        if self.running.get(key) == Some(&task) {
            self.running.remove(key);
        }
        let dirty = self.dirty.remove(key);
        let failures = if ok {
            self.failures.remove(key);
            0
        } else {
            let f = self.failures.entry(key.clone()).or_default();
            *f += 1;
            *f
        };
        Finished { dirty, failures }
    }

    /// The process died: everything is forgotten. Returns the reconciles that were running.
    pub fn forget(&mut self) -> Vec<TaskId> {
        let running = std::mem::take(&mut self.running).into_values().collect();
        self.scheduled.clear();
        self.dirty.clear();
        self.failures.clear();
        running
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: u64) -> SimTime {
        SimTime::default().plus(Duration::from_secs(s))
    }

    fn key() -> ObjectKey {
        ObjectKey::new("ns", "a")
    }

    #[test]
    fn the_earlier_request_wins_and_a_replaced_event_starts_nothing() {
        let mut q = WorkQueue::default();
        let late = q.request(&key(), t(10), t(0)).expect("planned");
        let early = q.request(&key(), t(5), t(0)).expect("an earlier request plans again");
        assert_eq!(q.request(&key(), t(7), t(0)), None, "a later request than the planned one is dropped");
        assert!(!q.due(&key(), late), "the replaced event is stale");
        assert!(q.due(&key(), early));
        assert!(!q.due(&key(), early), "an event starts its reconcile once");
    }

    #[test]
    fn a_trigger_during_a_reconcile_runs_it_again_when_it_ends() {
        let mut q = WorkQueue::default();
        let token = q.request(&key(), t(0), t(0)).expect("planned");
        assert!(q.due(&key(), token));
        q.started(key(), 7);
        assert_eq!(q.request(&key(), t(1), t(1)), None, "running: marked dirty, nothing planned");
        assert_eq!(q.finished(&key(), 7, true), Finished { dirty: true, failures: 0 });
        assert_eq!(q.finished(&key(), 7, true), Finished { dirty: false, failures: 0 }, "dirty is spent");
    }

    #[test]
    fn failures_count_up_until_a_success_and_backoff_doubles_to_five_minutes() {
        let mut q = WorkQueue::default();
        assert_eq!(q.finished(&key(), 1, false).failures, 1);
        assert_eq!(q.finished(&key(), 2, false).failures, 2);
        assert_eq!(q.finished(&key(), 3, true).failures, 0);
        assert_eq!(q.finished(&key(), 4, false).failures, 1);
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(4), Duration::from_secs(8));
        assert_eq!(backoff(10), Duration::from_secs(300));
        assert_eq!(backoff(40), Duration::from_secs(300), "no overflow");
    }

    #[test]
    fn a_crash_forgets_everything_and_returns_the_running_reconciles() {
        let mut q = WorkQueue::default();
        let token = q.request(&key(), t(0), t(0)).expect("planned");
        assert!(q.due(&key(), token));
        q.started(key(), 9);
        let _ = q.request(&ObjectKey::new("ns", "b"), t(5), t(0));
        assert_eq!(q.forget(), vec![9]);
        assert_eq!(q.finished(&key(), 9, false).failures, 1, "no failures remembered");
        assert!(q.request(&ObjectKey::new("ns", "b"), t(6), t(1)).is_some(), "no schedule remembered");
    }
}
