//! The bug zoo: known-buggy controller logic, each entry written from the public description of its bug, run on the
//! same simulated world as the real controllers. An entry is either a re-implementation of another operator's
//! controller or ours with exactly the reported defect (through a [`lens::Lens`] or a step in front of our
//! reconcile). Each has a story under `scenarios/zoo/` that must catch it, the operator passes the same story, and
//! generated workloads must catch every entry without its story (`simulator/tests/zoo_teeth.rs`).

mod adopts_foreign_backup;
mod gc_starved_by_creates;
pub mod lens;
mod retry_storm;
mod tidb_4099_running_delete_leaves_data;
mod tidb_4778_invalid_finalizer;
mod tidb_4805_killed_pod_no_retry;
mod tidb_4939_gc_deletes_unfinished;
mod tidb_4980_retry_before_stopped;
mod tidb_5249_deleted_log_backup_keeps_task;
mod tidb_5392_missed_start_times;
mod tidb_6068_max_backups_never_truncates;
mod tidb_6320_max_backups_deletes_log_backup;
pub mod tidb_v1_schedule_reset;

use operator::cluster::Kind;
use operator::cluster::own_writes::ReadYourWrites;
use operator::controllers::{Action, Settings};
use std::future::Future;
use std::pin::Pin;

use crate::client::SimClient;
use crate::object::Obj;
use crate::scenario::model::InvariantId;

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
    /// The name scenarios use in `controllers:`.
    pub name: &'static str,
    /// Where the bug is described.
    pub source: &'static str,
    pub summary: &'static str,
    pub replaces: Replaces,
    /// The invariant its bug breaks.
    pub breaks: InvariantId,
    /// Its reconcile.
    pub run: fn(Client, Settings, Obj) -> ZooFuture,
}

/// Every entry, in a fixed order (their index is their id).
pub const ENTRIES: &[ZooEntry] = &[
    ZooEntry {
        name: "tidb-v1-schedule-reset",
        source: "shared/seeds/003_0c552e2ffc67f06d.txt; pingcap/tidb-operator issue 4220",
        summary: "TiDB Operator v1's schedule controller: GC from a stale cache resets status.lastBackup",
        replaces: Replaces::Schedule,
        breaks: InvariantId::NoOverlap,
        run: |c, _, o| Box::pin(async move { tidb_v1_schedule_reset::sync(&c.into_inner(), schedule(&o)).await }),
    },
    ZooEntry {
        name: "tidb-4939-gc-deletes-unfinished",
        source: "pingcap/tidb-operator issues 4939 and 5148",
        summary: "GC by maxReservedTime deletes a Backup that has not finished",
        replaces: Replaces::Schedule,
        breaks: InvariantId::RetentionSafety,
        run: |c, s, o| Box::pin(tidb_4939_gc_deletes_unfinished::reconcile(c, s, schedule(&o))),
    },
    ZooEntry {
        name: "tidb-5392-missed-start-times",
        source: "pingcap/tidb-operator issue 5392",
        summary: "after a long pause, \"too many missed start times\" and no Backup ever again",
        replaces: Replaces::Schedule,
        breaks: InvariantId::EventualProgress,
        run: |c, s, o| Box::pin(tidb_5392_missed_start_times::reconcile(c, s, schedule(&o))),
    },
    ZooEntry {
        name: "tidb-4778-invalid-finalizer",
        source: "pingcap/tidb-operator issue 4778",
        summary: "deleting an Invalid Backup hangs on its finalizer",
        replaces: Replaces::Backup,
        breaks: InvariantId::EventualProgress,
        run: |c, s, o| Box::pin(tidb_4778_invalid_finalizer::reconcile(c, s, backup(&o))),
    },
    ZooEntry {
        name: "tidb-4099-running-delete-leaves-data",
        source: "pingcap/tidb-operator issue 4099",
        summary: "deleting a running Backup releases it without cleaning what it wrote",
        replaces: Replaces::Backup,
        breaks: InvariantId::NoOrphanData,
        run: |c, s, o| Box::pin(tidb_4099_running_delete_leaves_data::reconcile(c, s, backup(&o))),
    },
    ZooEntry {
        name: "tidb-4805-killed-pod-no-retry",
        source: "pingcap/tidb-operator issue 4805",
        summary: "a killed backup pod fails the Backup at once; its retry policy is never consulted",
        replaces: Replaces::Backup,
        breaks: InvariantId::RetriesHonoured,
        run: |c, s, o| Box::pin(tidb_4805_killed_pod_no_retry::reconcile(c, s, backup(&o))),
    },
    ZooEntry {
        name: "tidb-4980-retry-before-stopped",
        source: "pingcap/tidb-operator issue 4980",
        summary: "a new backup pod starts while the previous one is still terminating: two writers",
        replaces: Replaces::Backup,
        breaks: InvariantId::OneWriter,
        run: |c, s, o| Box::pin(tidb_4980_retry_before_stopped::reconcile(c, s, backup(&o))),
    },
    ZooEntry {
        name: "tidb-5249-deleted-log-backup-keeps-task",
        source: "pingcap/tidb-operator issue 5249 (fixed by PR 5754)",
        summary: "deleting a log Backup removes it without stopping its log backup task",
        replaces: Replaces::Backup,
        breaks: InvariantId::LogTaskStopped,
        run: |c, s, o| Box::pin(tidb_5249_deleted_log_backup_keeps_task::reconcile(c, s, backup(&o))),
    },
    ZooEntry {
        name: "tidb-6068-max-backups-never-truncates",
        source: "pingcap/tidb-operator issue 6068",
        summary: "a PITR schedule with only maxBackups deletes old snapshots but never truncates its log",
        replaces: Replaces::Schedule,
        breaks: InvariantId::LogTruncated,
        run: |c, s, o| Box::pin(tidb_6068_max_backups_never_truncates::reconcile(c, s, schedule(&o))),
    },
    ZooEntry {
        name: "tidb-6320-max-backups-deletes-log-backup",
        source: "pingcap/tidb-operator issue 6320",
        summary: "collection by maxBackups counts the log backup among the snapshots and deletes it, the oldest",
        replaces: Replaces::Schedule,
        breaks: InvariantId::LogBackupKept,
        run: |c, s, o| Box::pin(tidb_6320_max_backups_deletes_log_backup::reconcile(c, s, schedule(&o))),
    },
    ZooEntry {
        name: "adopts-foreign-backup",
        source: "round 2 schedule issue, defect 2 (this operator before the fix)",
        summary: "a Backup with no owner holding a tick's name passes as the schedule's own: endless creates",
        replaces: Replaces::Schedule,
        breaks: InvariantId::BoundedApiCost,
        run: |c, s, o| Box::pin(adopts_foreign_backup::reconcile(c, s, schedule(&o))),
    },
    ZooEntry {
        name: "gc-starved-by-creates",
        source: "round 2 schedule issue, defect 3 (this operator before the fix); kubernetes CronJob controller test",
        summary: "a failed Backup create ends the reconcile, so expired Backups are never collected",
        replaces: Replaces::Schedule,
        breaks: InvariantId::GcNotStarved,
        run: |c, s, o| Box::pin(gc_starved_by_creates::reconcile(c, s, schedule(&o))),
    },
    ZooEntry {
        name: "retry-storm",
        source: "round 2 schedule issue (the retry storm); kube-runtime's error backoff",
        summary: "a failed reconcile is retried every second, without backoff",
        replaces: Replaces::Schedule,
        breaks: InvariantId::BoundedApiCost,
        run: |c, s, o| Box::pin(retry_storm::reconcile(c.into_inner(), s, schedule(&o))),
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

pub(crate) use crate::run::chain;

type Client = ReadYourWrites<SimClient>;
type ZooFuture = Pin<Box<dyn Future<Output = Result<Action, String>>>>;

fn schedule(obj: &Obj) -> std::sync::Arc<operator::api::BackupSchedule> {
    obj.get().expect("a schedule entry reconciles BackupSchedules")
}

fn backup(obj: &Obj) -> std::sync::Arc<operator::api::Backup> {
    obj.get().expect("a backup entry reconciles Backups")
}

/// Runs entry `index`'s reconcile of `obj` (a BackupSchedule or a Backup, as the entry replaces).
pub fn reconcile(index: usize, client: Client, settings: Settings, obj: Obj) -> ZooFuture {
    (ENTRIES[index].run)(client, settings, obj)
}
