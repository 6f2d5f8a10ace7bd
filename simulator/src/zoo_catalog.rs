//! The zoo's catalogue: each entry's name, the bug it reproduces, the controller it replaces and the invariant it
//! breaks. Scenarios and the command line name entries from here; `zoo` holds their reconciles.

use operator::cluster::Kind;

use crate::invariant_id::InvariantId;

/// A zoo entry's identity, in the order of [`ENTRIES`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ZooId {
    TidbV1ScheduleReset,
    Tidb4939GcDeletesUnfinished,
    Tidb5392MissedStartTimes,
    Tidb4778InvalidFinalizer,
    Tidb4099RunningDeleteLeavesData,
    Tidb4805KilledPodNoRetry,
    Tidb4980RetryBeforeStopped,
    Tidb5249DeletedLogBackupKeepsTask,
    Tidb6068MaxBackupsNeverTruncates,
    Tidb6320MaxBackupsDeletesLogBackup,
    AdoptsForeignBackup,
    GcStarvedByCreates,
    RetryStorm,
}

/// Which of the operator's controllers an entry replaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Replaces {
    Schedule,
    Backup,
}

impl Replaces {
    /// The kind the replaced controller reconciles.
    pub fn kind(self) -> Kind {
        match self {
            Replaces::Schedule => Kind::BackupSchedule,
            Replaces::Backup => Kind::Backup,
        }
    }
}

/// One zoo entry.
pub struct ZooEntry {
    /// Its identity (also its index in [`ENTRIES`]).
    pub id: ZooId,
    /// The name scenarios use in `controllers:`.
    pub name: &'static str,
    /// Where the bug is described.
    pub source: &'static str,
    pub summary: &'static str,
    pub replaces: Replaces,
    /// The invariant its bug breaks.
    pub breaks: InvariantId,
}

/// Every entry, in a fixed order (their index is their id).
pub const ENTRIES: &[ZooEntry] = &[
    ZooEntry {
        id: ZooId::TidbV1ScheduleReset,
        name: "tidb-v1-schedule-reset",
        source: "shared/seeds/003_0c552e2ffc67f06d.txt; pingcap/tidb-operator issue 4220",
        summary: "TiDB Operator v1's schedule controller: GC from a stale cache resets status.lastBackup",
        replaces: Replaces::Schedule,
        breaks: InvariantId::NoOverlap,
    },
    ZooEntry {
        id: ZooId::Tidb4939GcDeletesUnfinished,
        name: "tidb-4939-gc-deletes-unfinished",
        source: "pingcap/tidb-operator issues 4939 and 5148",
        summary: "GC by maxReservedTime deletes a Backup that has not finished",
        replaces: Replaces::Schedule,
        breaks: InvariantId::RetentionSafety,
    },
    ZooEntry {
        id: ZooId::Tidb5392MissedStartTimes,
        name: "tidb-5392-missed-start-times",
        source: "pingcap/tidb-operator issue 5392",
        summary: "after a long pause, \"too many missed start times\" and no Backup ever again",
        replaces: Replaces::Schedule,
        breaks: InvariantId::EventualProgress,
    },
    ZooEntry {
        id: ZooId::Tidb4778InvalidFinalizer,
        name: "tidb-4778-invalid-finalizer",
        source: "pingcap/tidb-operator issue 4778",
        summary: "deleting an Invalid Backup hangs on its finalizer",
        replaces: Replaces::Backup,
        breaks: InvariantId::EventualProgress,
    },
    ZooEntry {
        id: ZooId::Tidb4099RunningDeleteLeavesData,
        name: "tidb-4099-running-delete-leaves-data",
        source: "pingcap/tidb-operator issue 4099",
        summary: "deleting a running Backup releases it without cleaning what it wrote",
        replaces: Replaces::Backup,
        breaks: InvariantId::NoOrphanData,
    },
    ZooEntry {
        id: ZooId::Tidb4805KilledPodNoRetry,
        name: "tidb-4805-killed-pod-no-retry",
        source: "pingcap/tidb-operator issue 4805",
        summary: "a killed backup pod fails the Backup at once; its retry policy is never consulted",
        replaces: Replaces::Backup,
        breaks: InvariantId::RetriesHonoured,
    },
    ZooEntry {
        id: ZooId::Tidb4980RetryBeforeStopped,
        name: "tidb-4980-retry-before-stopped",
        source: "pingcap/tidb-operator issue 4980",
        summary: "a new backup pod starts while the previous one is still terminating: two writers",
        replaces: Replaces::Backup,
        breaks: InvariantId::OneWriter,
    },
    ZooEntry {
        id: ZooId::Tidb5249DeletedLogBackupKeepsTask,
        name: "tidb-5249-deleted-log-backup-keeps-task",
        source: "pingcap/tidb-operator issue 5249 (fixed by PR 5754)",
        summary: "deleting a log Backup removes it without stopping its log backup task",
        replaces: Replaces::Backup,
        breaks: InvariantId::LogTaskStopped,
    },
    ZooEntry {
        id: ZooId::Tidb6068MaxBackupsNeverTruncates,
        name: "tidb-6068-max-backups-never-truncates",
        source: "pingcap/tidb-operator issue 6068",
        summary: "a PITR schedule with only maxBackups deletes old snapshots but never truncates its log",
        replaces: Replaces::Schedule,
        breaks: InvariantId::LogTruncated,
    },
    ZooEntry {
        id: ZooId::Tidb6320MaxBackupsDeletesLogBackup,
        name: "tidb-6320-max-backups-deletes-log-backup",
        source: "pingcap/tidb-operator issue 6320",
        summary: "collection by maxBackups counts the log backup among the snapshots and deletes it, the oldest",
        replaces: Replaces::Schedule,
        breaks: InvariantId::LogBackupKept,
    },
    ZooEntry {
        id: ZooId::AdoptsForeignBackup,
        name: "adopts-foreign-backup",
        source: "round 2 schedule issue, defect 2 (this operator before the fix)",
        summary: "a Backup with no owner holding a tick's name passes as the schedule's own: endless creates",
        replaces: Replaces::Schedule,
        breaks: InvariantId::BoundedApiCost,
    },
    ZooEntry {
        id: ZooId::GcStarvedByCreates,
        name: "gc-starved-by-creates",
        source: "round 2 schedule issue, defect 3 (this operator before the fix); kubernetes CronJob controller test",
        summary: "a failed Backup create ends the reconcile, so expired Backups are never collected",
        replaces: Replaces::Schedule,
        breaks: InvariantId::GcNotStarved,
    },
    ZooEntry {
        id: ZooId::RetryStorm,
        name: "retry-storm",
        source: "round 2 schedule issue (the retry storm); kube-runtime's error backoff",
        summary: "a failed reconcile is retried every second, without backoff",
        replaces: Replaces::Schedule,
        breaks: InvariantId::BoundedApiCost,
    },
];

/// The entry named `name`.
pub fn find(name: &str) -> Option<usize> {
    ENTRIES.iter().position(|e| e.name == name)
}

/// The names, for error messages.
pub fn names() -> Vec<&'static str> {
    ENTRIES.iter().map(|e| e.name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_sits_at_the_index_of_its_id_and_names_are_unique() {
        for (i, e) in ENTRIES.iter().enumerate() {
            assert_eq!(e.id as usize, i, "{} is not at its id's index", e.name);
            assert_eq!(find(e.name), Some(i), "{} is found elsewhere", e.name);
        }
    }
}
