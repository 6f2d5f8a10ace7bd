//! What a reconcile asks of its controller loop when it ends: nothing, or to run again after a delay.

use std::time::Duration;

/// The result of a successful reconcile (kube-runtime's `Action`, without depending on the runtime).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Action {
    /// Reconcile again after this long even if nothing changes; `None` waits for a watch event.
    pub requeue_after: Option<Duration>,
}

impl Action {
    /// Run again after `d`.
    pub fn requeue(d: Duration) -> Self {
        Action { requeue_after: Some(d) }
    }

    /// Run again only when a watched object changes.
    pub fn await_change() -> Self {
        Action { requeue_after: None }
    }

    /// The earlier of two requests.
    pub fn min(self, other: Action) -> Action {
        match (self.requeue_after, other.requeue_after) {
            (Some(a), Some(b)) => Action::requeue(a.min(b)),
            (a, b) => Action { requeue_after: a.or(b) },
        }
    }
}
