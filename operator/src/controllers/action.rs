//! What a reconcile asks of its controller loop when it ends: nothing, or to run again after a delay.

use std::time::Duration;

/// The result of a successful reconcile (kube-runtime's `Action`, without depending on the runtime).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Action {
    /// Reconcile again after this long even if nothing changes; `None` waits for a watch event.
    pub requeue_after: Option<Duration>,
    /// The reconcile did not look at the object: its cache is behind the controller's own last write, so it waits
    /// for the watch event instead of planning on the past. Its outcome says nothing about the object's state.
    pub cache_behind: bool,
}

impl Action {
    /// Run again after `d`.
    pub fn requeue(d: Duration) -> Self {
        Action { requeue_after: Some(d), cache_behind: false }
    }

    /// Nothing done: the cache does not show this controller's own last write yet; run again after `d` at the latest.
    pub fn await_own_write(d: Duration) -> Self {
        Action { requeue_after: Some(d), cache_behind: true }
    }

    /// Run again after `d`, or only on a watch event when there is none (a plan's wait).
    pub fn after(d: Option<Duration>) -> Self {
        Action { requeue_after: d, cache_behind: false }
    }

    /// Run again only when a watched object changes.
    pub fn await_change() -> Self {
        Action { requeue_after: None, cache_behind: false }
    }

    /// The earlier of two requests (behind if either was).
    pub fn min(self, other: Action) -> Action {
        let requeue_after = match (self.requeue_after, other.requeue_after) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Action { requeue_after, cache_behind: self.cache_behind || other.cache_behind }
    }
}
