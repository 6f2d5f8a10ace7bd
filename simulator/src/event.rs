//! `Event`: everything that can happen at a point in simulated time, as the agenda holds it.

use operator::cluster::{Kind, ObjectKey};

use crate::task_id::{ReqId, TaskId};

/// Everything that can happen at a point in simulated time.
#[derive(Clone, Debug)]
pub enum Event {
    /// An API request reaches the server.
    ApiArrive(ReqId),
    /// A task's timer fires.
    Wake(TaskId),
    /// An informer delivers what is due.
    Deliver(usize),
    /// A controller's key is due for reconciliation (stale if `token` moved on).
    Reconcile {
        controller: usize,
        key: ObjectKey,
        token: u64,
    },
    JobSync(ObjectKey),
    JobDeadline {
        job: ObjectKey,
        uid: String,
    },
    PodStart {
        pod: ObjectKey,
        uid: String,
    },
    PodKill {
        pod: ObjectKey,
        uid: String,
    },
    PodRemove {
        pod: ObjectKey,
        uid: String,
    },
    GcDelete {
        owner_uid: String,
    },
    /// The garbage collector's work on an owner deleted with `Orphan` (or else `Foreground`) propagation.
    GcPropagate {
        kind: Kind,
        key: ObjectKey,
        uid: String,
        orphan: bool,
    },
    Step(usize),
    OperatorCrash {
        reason: String,
    },
    OperatorStart,
    StallStart(usize),
    StallEnd(usize),
    FaultEdge {
        index: usize,
        starts: bool,
    },
    /// Something is due on a watch of a client outside the simulated cluster.
    Watch(WatchDue),
}

/// What is due on a watch of a client outside the simulated cluster (the watch is the client's number).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchDue {
    /// Changes whose lag is over.
    Changes(u64),
    /// The watch times out.
    Timeout(u64),
    /// A bookmark.
    Bookmark(u64),
}
