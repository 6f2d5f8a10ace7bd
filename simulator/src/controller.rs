//! `Controller`: one controller of the simulated operator process: what it reconciles, the informers it watches, its
//! work queue and its memory of its own writes.

use operator::cluster::Kind;

use crate::controller_id::ControllerId;
use crate::time::SimTime;
use crate::work_queue::WorkQueue;

/// What a controller runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reconciler {
    Backup,
    Restore,
    Compact,
    Schedule,
    /// A zoo entry in place of one of the operator's controllers (by index in the zoo).
    Zoo(usize),
}

/// One controller of the operator process.
pub struct Controller {
    pub id: ControllerId,
    pub reconciler: Reconciler,
    pub main: Kind,
    /// Watched kinds and their informers (the main kind first).
    pub watches: Vec<(Kind, usize)>,
    pub queue: WorkQueue,
    /// The process's memory of its own writes (read-your-own-writes); a restarted operator starts without it.
    pub own_writes: std::sync::Arc<operator::cluster::own_writes::OwnWrites>,
}

impl Controller {
    /// A controller whose process starts at `now`.
    pub fn new(id: ControllerId, reconciler: Reconciler, main: Kind, now: SimTime) -> Self {
        Controller {
            id,
            reconciler,
            main,
            watches: Vec::new(),
            queue: WorkQueue::default(),
            own_writes: operator::cluster::own_writes::OwnWrites::new(now.to_utc()),
        }
    }

    pub fn informer_for(&self, kind: Kind) -> Option<usize> {
        self.watches.iter().find(|(k, _)| *k == kind).map(|(_, i)| *i)
    }

    /// What the controller of `main` watches (its own kind first), as production wires them.
    pub fn watched_kinds(main: Kind) -> &'static [Kind] {
        match main {
            Kind::Backup => &[Kind::Backup, Kind::Job, Kind::Pod],
            Kind::Restore => &[Kind::Restore, Kind::Job, Kind::Pod],
            Kind::CompactBackup => &[Kind::CompactBackup, Kind::Job, Kind::Pod],
            _ => &[Kind::BackupSchedule, Kind::Backup, Kind::CompactBackup],
        }
    }
}
