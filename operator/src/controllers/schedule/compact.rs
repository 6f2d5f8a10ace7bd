//! The schedule's writes for compaction: creating the next CompactBackup (then naming it in the status), and
//! deleting the ones retention removes.

use crate::api::CompactBackup;
use crate::api::time::{rfc3339, to_k8s};
use crate::cluster::{Cluster, ClusterError, EventType, ObjectKey, Precondition};
use std::sync::Arc;

use super::compaction::Range;
use super::template::{belongs_to, compact_for, log_folder};
use super::{Next, ScheduleError, State, event, write_status};

/// Creates the CompactBackup for `range` (adopting the one an earlier attempt created) and records it in
/// `status.lastCompact` and `status.lastCompactExecutionTs`.
pub(super) async fn create<C: Cluster>(cluster: &C, state: &mut State, range: Range) -> Result<Next, ScheduleError> {
    let now = cluster.now();
    let status = state.schedule.status.as_ref();
    let started = status.and_then(|s| s.log_backup_start_ts.as_ref()).map(crate::api::time::from_k8s);
    let Some(started) = started else { return Ok(Next::Continue) };
    // The log backup's own folder: its start as the operator saw it then, not as the API server stamped it.
    let name = status.and_then(|s| s.log_backup.as_deref());
    let log = state.backups.iter().find(|b| name.is_some() && b.metadata.name.as_deref() == name);
    let folder = log_folder(log.map(|b| &**b), started);
    let Some(compact) = compact_for(&state.schedule, now, &folder, range.start, range.end) else {
        return Ok(Next::Continue);
    };
    let key = ObjectKey::of(&compact);
    let created = match cluster.create(Arc::new(compact)).await {
        Ok(c) => c,
        Err(ClusterError::AlreadyExists { .. }) => {
            let found = cluster
                .get::<CompactBackup>(&key)
                .await
                .map_err(|source| ScheduleError::WriteCompact { compact: key.clone(), source })?;
            match found {
                Some(c) if belongs_to(&*c, &state.schedule) => c,
                _ => {
                    state.failed.compact = true;
                    let msg = format!("CompactBackup {} exists and is not this schedule's; compaction waits", key.name);
                    event(cluster, state, EventType::Warning, "CompactNameTaken", msg).await;
                    return Ok(Next::Continue);
                }
            }
        }
        Err(source) => return Err(ScheduleError::WriteCompact { compact: key, source }),
    };
    state.compacts.retain(|c| c.metadata.name != created.metadata.name);
    state.compacts.push(created);
    let msg = format!(
        "created CompactBackup {} to compact the log from {} until {}",
        key.name,
        rfc3339(range.start.to_time()),
        rfc3339(range.end.to_time())
    );
    event(cluster, state, EventType::Normal, "CompactCreated", msg).await;
    let name = key.name.clone();
    write_status(cluster, state, |s| {
        s.last_compact = Some(name);
        s.last_compact_execution_ts = Some(to_k8s(now));
    })
    .await
}

/// Deletes the CompactBackups `names` (their compacted data stays: truncating the log removes it).
pub(super) async fn delete<C: Cluster>(
    cluster: &C,
    state: &mut State,
    names: &[String],
) -> Result<Next, ScheduleError> {
    for name in names {
        let key = ObjectKey::new(&state.key.namespace, name);
        let uid =
            state.compacts.iter().find(|c| c.metadata.name.as_ref() == Some(name)).and_then(|c| c.metadata.uid.clone());
        match cluster.delete::<CompactBackup>(&key, &Precondition { uid, resource_version: None }).await {
            Ok(_) | Err(ClusterError::NotFound { .. } | ClusterError::Conflict { .. }) => {
                state.compacts.retain(|c| c.metadata.name.as_ref() != Some(name));
            }
            Err(source) => return Err(ScheduleError::WriteCompact { compact: key, source }),
        }
    }
    let msg = format!("deleted {} expired CompactBackup(s): {}", names.len(), names.join(", "));
    event(cluster, state, EventType::Normal, "CompactsExpired", msg).await;
    Ok(Next::Continue)
}
