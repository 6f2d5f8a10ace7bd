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

use operator::cluster::own_writes::ReadYourWrites;
use operator::controllers::{Action, Settings};
use std::future::Future;
use std::pin::Pin;

use crate::client::SimClient;
use crate::object::Obj;
pub use crate::zoo_catalog::{ENTRIES, Replaces, ZooEntry, ZooId, find, names};

pub(crate) use operator::cluster::kube_cluster::error_chain as chain;

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
    let (c, s, o) = (client, settings, obj);
    match ENTRIES[index].id {
        ZooId::TidbV1ScheduleReset => {
            Box::pin(async move { tidb_v1_schedule_reset::sync(&c.into_inner(), schedule(&o)).await })
        }
        ZooId::Tidb4939GcDeletesUnfinished => Box::pin(tidb_4939_gc_deletes_unfinished::reconcile(c, s, schedule(&o))),
        ZooId::Tidb5392MissedStartTimes => Box::pin(tidb_5392_missed_start_times::reconcile(c, s, schedule(&o))),
        ZooId::Tidb4778InvalidFinalizer => Box::pin(tidb_4778_invalid_finalizer::reconcile(c, s, backup(&o))),
        ZooId::Tidb4099RunningDeleteLeavesData => {
            Box::pin(tidb_4099_running_delete_leaves_data::reconcile(c, s, backup(&o)))
        }
        ZooId::Tidb4805KilledPodNoRetry => Box::pin(tidb_4805_killed_pod_no_retry::reconcile(c, s, backup(&o))),
        ZooId::Tidb4980RetryBeforeStopped => Box::pin(tidb_4980_retry_before_stopped::reconcile(c, s, backup(&o))),
        ZooId::Tidb5249DeletedLogBackupKeepsTask => {
            Box::pin(tidb_5249_deleted_log_backup_keeps_task::reconcile(c, s, backup(&o)))
        }
        ZooId::Tidb6068MaxBackupsNeverTruncates => {
            Box::pin(tidb_6068_max_backups_never_truncates::reconcile(c, s, schedule(&o)))
        }
        ZooId::Tidb6320MaxBackupsDeletesLogBackup => {
            Box::pin(tidb_6320_max_backups_deletes_log_backup::reconcile(c, s, schedule(&o)))
        }
        ZooId::AdoptsForeignBackup => Box::pin(adopts_foreign_backup::reconcile(c, s, schedule(&o))),
        ZooId::GcStarvedByCreates => Box::pin(gc_starved_by_creates::reconcile(c, s, schedule(&o))),
        ZooId::RetryStorm => Box::pin(retry_storm::reconcile(c.into_inner(), s, schedule(&o))),
    }
}
