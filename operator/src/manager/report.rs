//! The three jobs of backup-manager (backup/export, restore/import, clean) as status-reporting runs over the
//! `Cluster` trait, with the tool and the storage behind seams.

use chrono::{DateTime, Utc};

use crate::api::backup::{Backup, BackupPhase, BackupStatus};
use crate::api::condition::{Condition, set_condition};
use crate::api::restore::{Restore, RestorePhase, RestoreStatus};
use crate::api::time::to_k8s;
use crate::cluster::{Cluster, ClusterError, Object, ObjectKey};

use super::args::{self, ArgsError};
use super::store::{BackupStore, StoreError, check_cleanable};
use super::tool::{Tool, ToolError, ToolReport};

/// How many times a status write is retried after a conflict or a transient error (each retry re-reads first).
const WRITE_ATTEMPTS: usize = 8;

/// Why a backup-manager run failed; it exits non-zero so the Job records the failure.
#[derive(Debug, thiserror::Error)]
pub enum ManagerError {
    #[error("{kind} {key} does not exist")]
    Missing { kind: &'static str, key: ObjectKey },
    #[error("failed to read {kind} {key}")]
    Read {
        kind: &'static str,
        key: ObjectKey,
        #[source]
        source: ClusterError,
    },
    #[error("failed to update the status of {kind} {key}")]
    Write {
        kind: &'static str,
        key: ObjectKey,
        #[source]
        source: ClusterError,
    },
    #[error(transparent)]
    Args(#[from] ArgsError),
    #[error("the tool failed for {key}")]
    Tool {
        key: ObjectKey,
        #[source]
        source: ToolError,
    },
    #[error("failed to clean the data of Backup {key}")]
    Clean {
        key: ObjectKey,
        #[source]
        source: StoreError,
    },
    /// The object moved on (finished, being deleted, or a later attempt): this run leaves it alone.
    #[error("{kind} {key} {why}; leaving it alone")]
    Superseded { kind: &'static str, key: ObjectKey, why: String },
}

/// Reads `key` live, retrying transient errors.
async fn read<C: Cluster, K: Object>(cluster: &C, key: &ObjectKey) -> Result<K, ManagerError> {
    let kind = K::KIND.as_str();
    let mut last = None;
    for _ in 0..WRITE_ATTEMPTS {
        match cluster.get::<K>(key).await {
            Ok(Some(obj)) => return Ok(obj),
            Ok(None) => return Err(ManagerError::Missing { kind, key: key.clone() }),
            Err(e @ ClusterError::Transient { .. }) => last = Some(e),
            Err(source) => return Err(ManagerError::Read { kind, key: key.clone(), source }),
        }
    }
    Err(ManagerError::Read { kind, key: key.clone(), source: last.expect("at least one attempt") })
}

/// Applies `edit` to the live object's status and writes it, re-reading and re-applying after a conflict or a
/// transient error (the edit sets fields, so applying it twice is harmless). The edit refuses (`Err(why)`) when
/// the live object has moved on, so a late or stale run never overwrites a newer state.
async fn update<C: Cluster, K: Object>(
    cluster: &C,
    key: &ObjectKey,
    edit: impl Fn(&mut K) -> Result<(), String>,
) -> Result<K, ManagerError> {
    let kind = K::KIND.as_str();
    let mut last = None;
    for _ in 0..WRITE_ATTEMPTS {
        let mut obj: K = read(cluster, key).await?;
        edit(&mut obj).map_err(|why| ManagerError::Superseded { kind, key: key.clone(), why })?;
        match cluster.replace_status(&obj).await {
            Ok(updated) => return Ok(updated),
            Err(e @ (ClusterError::Conflict { .. } | ClusterError::Transient { .. })) => last = Some(e),
            Err(source) => return Err(ManagerError::Write { kind, key: key.clone(), source }),
        }
    }
    Err(ManagerError::Write { kind, key: key.clone(), source: last.expect("at least one attempt") })
}

fn backup_status(b: &mut Backup) -> &mut BackupStatus {
    b.status.get_or_insert_with(Default::default)
}

/// `1.5 GiB`-style sizes for `backupSizeReadable`.
pub fn readable_size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut size = bytes as f64;
    let mut unit = 0;
    while size >= 1024.0 && unit + 1 < UNITS.len() {
        size /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{size:.1} {}", UNITS[unit]) }
}

fn attempt_failed(conditions: &mut Option<Vec<Condition>>, now: DateTime<Utc>, err: &ToolError) {
    let conds = conditions.get_or_insert_with(Vec::new);
    conds.retain(|c| c.type_ != "AttemptFailed");
    conds.push(Condition::new("AttemptFailed", now, Some("ToolFailed"), Some(&err.to_string())));
}

/// Why this run must leave a Backup alone, if it must: it is finished, being deleted, or on a later attempt than
/// `attempt` (the controller gave up on this one).
fn backup_superseded(b: &Backup, attempt: Option<u32>) -> Result<(), String> {
    if b.metadata.deletion_timestamp.is_some() {
        return Err("is being deleted".into());
    }
    if b.is_finished() {
        return Err(format!("is already {}", b.phase().map(|p| p.to_string()).unwrap_or_default()));
    }
    let current = b.retry_records().len();
    match attempt {
        Some(a) if (a as usize) < current => Err(format!("is on attempt {current}, not {a}")),
        _ => Ok(()),
    }
}

/// `backup-manager backup|export`: Running (recorded before the tool can write), the tool, then Complete with the
/// summary, or an `AttemptFailed` condition with the tool's last words. `attempt` is the attempt this Job runs
/// (`BACKUP_ATTEMPT`); a Backup that moved on is left alone, and one already Complete is not run again.
pub async fn backup<C: Cluster, T: Tool>(
    cluster: &C,
    tool: &T,
    key: &ObjectKey,
    attempt: Option<u32>,
) -> Result<ToolReport, ManagerError> {
    let current: Backup = read(cluster, key).await?;
    if current.is_complete() {
        return Ok(ToolReport::default());
    }
    backup_superseded(&current, attempt).map_err(|why| ManagerError::Superseded {
        kind: "Backup",
        key: key.clone(),
        why,
    })?;
    let job = args::backup_job(&current)?;
    let url = job.location.url();
    let started = cluster.now();
    update::<C, Backup>(cluster, key, |b| {
        backup_superseded(b, attempt)?;
        let s = backup_status(b);
        s.phase = Some(BackupPhase::Running);
        s.time_started = Some(to_k8s(started));
        s.backup_path = Some(url.clone());
        set_condition(&mut s.conditions, Condition::new("Running", started, None, None));
        Ok(())
    })
    .await?;
    match tool.run(&job).await {
        Ok(report) => {
            let done = cluster.now();
            update::<C, Backup>(cluster, key, |b| {
                if b.is_complete() {
                    return Ok(()); // written by an earlier try of this same update
                }
                backup_superseded(b, attempt)?;
                let s = backup_status(b);
                s.phase = Some(BackupPhase::Complete);
                s.time_completed = Some(to_k8s(done));
                s.backup_size = report.size_bytes.map(|n| n as i64);
                s.backup_size_readable = report.size_bytes.map(readable_size);
                s.commit_ts.clone_from(&report.commit_ts);
                set_condition(&mut s.conditions, Condition::new("Complete", done, None, None));
                Ok(())
            })
            .await?;
            Ok(report)
        }
        Err(source) => {
            let now = cluster.now();
            update::<C, Backup>(cluster, key, |b| {
                backup_superseded(b, attempt)?;
                attempt_failed(&mut backup_status(b).conditions, now, &source);
                Ok(())
            })
            .await?;
            Err(ManagerError::Tool { key: key.clone(), source })
        }
    }
}

fn restore_status(r: &mut Restore) -> &mut RestoreStatus {
    r.status.get_or_insert_with(Default::default)
}

fn restore_superseded(r: &Restore) -> Result<(), String> {
    if r.metadata.deletion_timestamp.is_some() {
        return Err("is being deleted".into());
    }
    if r.is_finished() {
        return Err(format!("is already {}", r.phase().map(|p| p.to_string()).unwrap_or_default()));
    }
    Ok(())
}

/// `backup-manager restore|import`: Running, the tool, then Complete, or an `AttemptFailed` condition.
pub async fn restore<C: Cluster, T: Tool>(cluster: &C, tool: &T, key: &ObjectKey) -> Result<ToolReport, ManagerError> {
    let current: Restore = read(cluster, key).await?;
    if current.phase() == Some(RestorePhase::Complete) {
        return Ok(ToolReport::default());
    }
    restore_superseded(&current).map_err(|why| ManagerError::Superseded { kind: "Restore", key: key.clone(), why })?;
    let job = args::restore_job(&current)?;
    let started = cluster.now();
    update::<C, Restore>(cluster, key, |r| {
        restore_superseded(r)?;
        let s = restore_status(r);
        s.phase = Some(RestorePhase::Running);
        s.time_started = Some(to_k8s(started));
        set_condition(&mut s.conditions, Condition::new("Running", started, None, None));
        Ok(())
    })
    .await?;
    match tool.run(&job).await {
        Ok(report) => {
            let done = cluster.now();
            update::<C, Restore>(cluster, key, |r| {
                if r.phase() == Some(RestorePhase::Complete) {
                    return Ok(());
                }
                restore_superseded(r)?;
                let s = restore_status(r);
                s.phase = Some(RestorePhase::Complete);
                s.time_completed = Some(to_k8s(done));
                s.commit_ts.clone_from(&report.commit_ts);
                set_condition(&mut s.conditions, Condition::new("Complete", done, None, None));
                Ok(())
            })
            .await?;
            Ok(report)
        }
        Err(source) => {
            let now = cluster.now();
            update::<C, Restore>(cluster, key, |r| {
                restore_superseded(r)?;
                attempt_failed(&mut restore_status(r).conditions, now, &source);
                Ok(())
            })
            .await?;
            Err(ManagerError::Tool { key: key.clone(), source })
        }
    }
}

/// `backup-manager clean`: deletes exactly the Backup's prefix, then reports Clean (or CleanFailed with the reason).
/// It refuses to touch the data of a Backup that is not being deleted.
pub async fn clean<C: Cluster, S: BackupStore>(cluster: &C, store: &S, key: &ObjectKey) -> Result<u64, ManagerError> {
    let current: Backup = read(cluster, key).await?;
    if current.metadata.deletion_timestamp.is_none() {
        let why = "is not being deleted; refusing to delete its data".to_string();
        return Err(ManagerError::Superseded { kind: "Backup", key: key.clone(), why });
    }
    let location = current.spec.storage.location().ok_or_else(|| {
        ManagerError::Args(ArgsError::NoStorage {
            kind: "Backup",
            name: key.name.clone(),
            reason: "no provider is set",
        })
    })?;
    let result = match check_cleanable(&location) {
        Ok(()) => store.delete_prefix(&location).await,
        Err(e) => Err(e),
    };
    let now = cluster.now();
    match result {
        Ok(deleted) => {
            let msg = format!("deleted {deleted} object(s) under {}", location.url());
            update::<C, Backup>(cluster, key, |b| {
                let s = backup_status(b);
                s.phase = Some(BackupPhase::Clean);
                set_condition(&mut s.conditions, Condition::new("Clean", now, Some("DataDeleted"), Some(&msg)));
                Ok(())
            })
            .await?;
            Ok(deleted)
        }
        Err(source) => {
            let msg = source.to_string();
            update::<C, Backup>(cluster, key, |b| {
                let s = backup_status(b);
                s.phase = Some(BackupPhase::CleanFailed);
                let conds = s.conditions.get_or_insert_with(Vec::new);
                conds.retain(|c| c.type_ != "CleanFailed");
                conds.push(Condition::new("CleanFailed", now, Some("StorageError"), Some(&msg)));
                Ok(())
            })
            .await?;
            Err(ManagerError::Clean { key: key.clone(), source })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::readable_size;

    #[test]
    fn sizes_read_like_tidb_operator_shows_them() {
        assert_eq!(readable_size(512), "512 B");
        assert_eq!(readable_size(1536), "1.5 KiB");
        assert_eq!(readable_size(3 * 1024 * 1024 * 1024), "3.0 GiB");
    }
}
