//! TiDB Operator issues 4939 and 5148, from their reports: the schedule's garbage collection by `maxReservedTime`
//! picks Backups by creation time alone, so a Backup still running (a big cluster, a slow pod) that is older than
//! the reserved time is deleted before it finishes. Here: our schedule reconcile, then that collection.

use operator::api::duration::parse_duration;
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
    let Some(reserved) = schedule.spec.max_reserved_time.as_deref().and_then(|s| parse_duration(s).ok()) else {
        return Ok(action);
    };
    let reserved = chrono::Duration::from_std(reserved).unwrap_or(chrono::Duration::MAX);
    let key = ObjectKey::of(&*schedule);
    let now = client.now();
    // The report's collection lists from the informer's cache.
    let listed = client.cached_list::<Backup>(&key.namespace, &schedule_selector(&key.name));
    // Snapshots only: the reports predate schedules with a log backup.
    let snapshots = listed.iter().filter(|b| !operator::api::log_backup::is_log(&b.spec));
    for b in snapshots.filter(|b| belongs_to(&***b, &schedule) && b.metadata.deletion_timestamp.is_none()) {
        let born = opt_from_k8s(b.metadata.creation_timestamp.as_ref()).unwrap_or(now);
        if !b.is_finished() && born + reserved <= now {
            client.delete::<Backup>(&ObjectKey::of(&**b), &Precondition::default()).await.map_err(|e| e.to_string())?;
        }
    }
    Ok(action)
}
