//! Liveness and readiness: what `/healthz` and `/readyz` answer in each stage of the process.
//!
//! A standby replica (waiting for the Lease) is ready: it is ready to take over, and a rolling update must be able
//! to make progress while the old leader still holds the Lease. The leader is ready once its caches have synced.
//! A replica that is shutting down is no longer ready. Liveness only says the process still serves HTTP.

use std::sync::atomic::{AtomicU8, Ordering};

/// Where the process stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Stage {
    /// Waiting for the leader Lease.
    Standby = 0,
    /// Leading; the controllers' caches are still being listed.
    Syncing = 1,
    /// Leading with synced caches.
    Running = 2,
    /// SIGTERM received, or leadership lost.
    Stopping = 3,
}

impl Stage {
    fn from_u8(v: u8) -> Stage {
        match v {
            0 => Stage::Standby,
            1 => Stage::Syncing,
            2 => Stage::Running,
            _ => Stage::Stopping,
        }
    }

    /// True when `/readyz` answers 200.
    pub fn is_ready(self) -> bool {
        matches!(self, Stage::Standby | Stage::Running)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Standby => "standby",
            Stage::Syncing => "syncing",
            Stage::Running => "running",
            Stage::Stopping => "stopping",
        }
    }
}

/// The process's stage, shared between the supervisor and the HTTP server.
#[derive(Debug, Default)]
pub struct Health {
    stage: AtomicU8,
}

impl Health {
    pub fn stage(&self) -> Stage {
        Stage::from_u8(self.stage.load(Ordering::Acquire))
    }

    pub fn set(&self, stage: Stage) {
        self.stage.store(stage as u8, Ordering::Release);
    }

    /// Moves from `Syncing` to `Running` (and nowhere else: a late sync never revives a stopping process).
    pub fn synced(&self) {
        let _ = self.stage.compare_exchange(
            Stage::Syncing as u8,
            Stage::Running as u8,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standby_and_running_are_ready_syncing_and_stopping_are_not() {
        let h = Health::default();
        assert_eq!(h.stage(), Stage::Standby);
        assert!(h.stage().is_ready());
        h.set(Stage::Syncing);
        assert!(!h.stage().is_ready());
        h.synced();
        assert_eq!(h.stage(), Stage::Running);
        h.set(Stage::Stopping);
        h.synced();
        assert_eq!(h.stage(), Stage::Stopping);
        assert!(!h.stage().is_ready());
    }
}
