//! TiDB Operator issue 6320, from its report: with `maxBackups` set, the schedule's collection counts every Backup
//! the schedule owns, the log backup included, and deletes the oldest beyond the count; the log backup, created
//! first, is the oldest ("the log backup CR is deleted during the third snapshot backup" with `maxBackups: 3`).
//! Here: our schedule reconcile, then that collection.

use operator::api::time::opt_from_k8s;
use operator::api::{Backup, BackupSchedule};
use operator::cluster::{Cluster, ObjectKey, Precondition};
use operator::controllers::schedule::template::{belongs_to, schedule_selector};
use operator::controllers::{Action, Settings};
use std::sync::Arc;

pub async fn reconcile<C: Cluster>(
    client: C,
    settings: Settings,
    schedule: Arc<BackupSchedule>,
) -> Result<Action, String> {
    let action = operator::controllers::schedule::reconcile(&client, &settings, schedule.clone())
        .await
        .map_err(|e| super::chain(&e))?;
    let Some(max) = schedule.spec.max_backups.filter(|n| *n > 0 && schedule.spec.max_reserved_time.is_none()) else {
        return Ok(action);
    };
    let key = ObjectKey::of(&*schedule);
    let mut listed: Vec<Arc<Backup>> = client
        .list::<Backup>(&key.namespace, &schedule_selector(&key.name))
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|b| belongs_to(&**b, &schedule) && b.metadata.deletion_timestamp.is_none())
        .collect();
    listed.sort_by_key(|b| (opt_from_k8s(b.metadata.creation_timestamp.as_ref()), b.metadata.name.clone()));
    let excess = listed.len().saturating_sub(max as usize);
    for b in listed.iter().take(excess).filter(|b| finished_or_log(b)) {
        client.delete::<Backup>(&ObjectKey::of(&**b), &Precondition::default()).await.map_err(|e| e.to_string())?;
    }
    Ok(action)
}

/// The report's collection skips running snapshots but takes the log backup, which never finishes.
fn finished_or_log(b: &Backup) -> bool {
    b.is_finished() || operator::api::log_backup::is_log(&b.spec)
}
