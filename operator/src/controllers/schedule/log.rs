//! The schedule's writes to its log backup: creating it from `logBackupTemplate`, and moving its `logTruncateUntil`
//! (the backup controller runs the `br log truncate` Job that follows).

use crate::api::Backup;
use crate::api::time::rfc3339;
use crate::api::tso::Tso;
use crate::cluster::{Cluster, ClusterError, EventType, ObjectKey};
use std::sync::Arc;

use super::template::{belongs_to, log_backup_for};
use super::{Next, ScheduleError, State, event};

/// Creates the log backup, or adopts the one an earlier attempt created. A Backup of that name that is not the
/// schedule's is left alone, with a Warning: the schedule runs its snapshots without a log backup.
pub(super) async fn create<C: Cluster>(cluster: &C, state: &mut State) -> Result<Next, ScheduleError> {
    let Some(backup) = log_backup_for(&state.schedule, cluster.now()) else {
        return Ok(Next::Continue);
    };
    let key = ObjectKey::of(&backup);
    let created = match cluster.create(Arc::new(backup)).await {
        Ok(b) => {
            let msg = format!("created log backup {}, kept running for point-in-time restores", key.name);
            event(cluster, state, EventType::Normal, "LogBackupCreated", msg).await;
            b
        }
        Err(ClusterError::AlreadyExists { .. }) => {
            let found = cluster
                .get::<Backup>(&key)
                .await
                .map_err(|source| ScheduleError::WriteLogBackup { backup: key.clone(), source })?;
            match found {
                Some(b) if belongs_to(&*b, &state.schedule) => b,
                Some(_) => {
                    state.failed.log = true;
                    let msg = format!(
                        "Backup {} exists and is not owned by this schedule; no log backup runs until it is renamed \
                         or deleted",
                        key.name
                    );
                    event(cluster, state, EventType::Warning, "LogBackupNameTaken", msg).await;
                    return Ok(Next::Continue);
                }
                // Gone again between the two requests: the next reconcile looks afresh.
                None => {
                    state.failed.log = true;
                    return Ok(Next::Continue);
                }
            }
        }
        Err(source) => return Err(ScheduleError::WriteLogBackup { backup: key, source }),
    };
    state.backups.retain(|x| x.metadata.name != created.metadata.name);
    state.backups.push(created);
    Ok(Next::Continue)
}

/// Sets the log backup's `logTruncateUntil` to `until`, the commitTs of the oldest retained snapshot `base`.
pub(super) async fn truncate<C: Cluster>(
    cluster: &C,
    state: &mut State,
    name: &str,
    until: Tso,
    base: &str,
) -> Result<Next, ScheduleError> {
    let key = ObjectKey::new(&state.key.namespace, name);
    let Some(slot) = state.backups.iter().position(|b| b.metadata.name.as_deref() == Some(name)) else {
        return Ok(Next::Continue);
    };
    let mut log = (*state.backups[slot]).clone();
    log.spec.log_truncate_until = Some(until.0.to_string());
    let updated = match cluster.replace(Arc::new(log)).await {
        Ok(updated) => updated,
        Err(ClusterError::NotFound { .. }) => {
            state.backups.remove(slot);
            return Ok(Next::Continue);
        }
        Err(source) => return Err(ScheduleError::WriteLogBackup { backup: key, source }),
    };
    state.backups[slot] = updated;
    let msg = format!(
        "truncating log backup {name} until {} ({}), the commitTs of Backup {base}, the oldest snapshot kept",
        until.0,
        rfc3339(until.to_time())
    );
    event(cluster, state, EventType::Normal, "LogTruncateRequested", msg).await;
    Ok(Next::Continue)
}
