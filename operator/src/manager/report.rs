//! The three jobs of backup-manager (backup/export, restore/import, clean) as status-reporting runs over the
//! `Cluster` trait, with the tool and the storage behind seams.

use chrono::{DateTime, Utc};
use std::sync::Arc;
use tracing::{info, warn};

use crate::api::backup::{Backup, BackupPhase, BackupStatus};
use crate::api::condition::{Condition, remove_condition, set_condition};
use crate::api::duration::format_duration;
use crate::api::progress::set_progress;
use crate::api::restore::{Restore, RestorePhase, RestoreStatus};
use crate::api::time::to_k8s;
use crate::cluster::{Cluster, ClusterError, Object, ObjectKey};

use super::args::{self, ArgsError};
use super::store::{BackupStore, StoreError, check_cleanable};
use super::tool::{ProgressSink, Tool, ToolError, ToolJob, ToolProgress, ToolReport};

/// How many times a status write is retried after a conflict or a transient error (each retry re-reads first).
const WRITE_ATTEMPTS: usize = 8;
/// Progress of an unchanged step is written at most this often.
pub const PROGRESS_INTERVAL: chrono::TimeDelta = chrono::TimeDelta::seconds(30);

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
    /// br no longer lists the log backup's task (stopped outside the operator): the Backup is marked Failed.
    #[error("the log backup task {task} of Backup {key} is gone")]
    LogTaskGone { key: ObjectKey, task: String },
    /// The object moved on (finished, being deleted, or on a later attempt): this run leaves it alone.
    #[error("{kind} {key} {why}; leaving it alone")]
    Superseded { kind: &'static str, key: ObjectKey, why: String },
}

impl ManagerError {
    /// The process exit code: 1 when the tool or the clean failed (recorded in status), 2 for a spec no command
    /// line can be built from, 3 when the object cannot be read or written, 4 when the object moved on and nothing
    /// was done, 143 when stopped by SIGTERM.
    pub fn exit_code(&self) -> u8 {
        match self {
            ManagerError::Tool { source: ToolError::Stopped { .. }, .. } => 143,
            ManagerError::Tool { .. } | ManagerError::Clean { .. } | ManagerError::LogTaskGone { .. } => 1,
            ManagerError::Args(_) => 2,
            ManagerError::Missing { .. } | ManagerError::Read { .. } | ManagerError::Write { .. } => 3,
            ManagerError::Superseded { .. } => 4,
        }
    }
}

/// Reads `key` live, retrying transient errors.
pub(super) async fn read<C: Cluster, K: Object>(cluster: &C, key: &ObjectKey) -> Result<Arc<K>, ManagerError> {
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
pub(super) async fn update<C: Cluster, K: Object>(
    cluster: &C,
    key: &ObjectKey,
    edit: impl Fn(&mut K) -> Result<(), String>,
) -> Result<Arc<K>, ManagerError> {
    let kind = K::KIND.as_str();
    let mut last = None;
    for _ in 0..WRITE_ATTEMPTS {
        let mut obj = Arc::unwrap_or_clone(read::<C, K>(cluster, key).await?);
        edit(&mut obj).map_err(|why| ManagerError::Superseded { kind, key: key.clone(), why })?;
        match cluster.replace_status(Arc::new(obj)).await {
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

pub(super) fn attempt_failed(conditions: &mut Option<Vec<Condition>>, now: DateTime<Utc>, err: &ToolError) {
    let conds = conditions.get_or_insert_with(Vec::new);
    conds.retain(|c| c.type_ != "AttemptFailed");
    conds.push(Condition::new("AttemptFailed", now, Some(err.reason()), Some(&err.to_string())));
}

/// A new attempt starts clean: an earlier attempt's failure is not left to be mistaken for its own.
fn forget_earlier_attempt(conditions: &mut Option<Vec<Condition>>) {
    remove_condition(conditions, "AttemptFailed");
}

/// The last progress written, to pace the next write.
#[derive(Clone, Debug, PartialEq)]
pub struct WrittenProgress {
    pub step: String,
    pub percent: f64,
    pub at: DateTime<Utc>,
}

/// True when `new` is worth a status write: the first report, a new step, reaching 100%, or a change after
/// [`PROGRESS_INTERVAL`].
pub fn progress_due(last: Option<&WrittenProgress>, new: &ToolProgress, now: DateTime<Utc>) -> bool {
    let Some(last) = last else { return true };
    last.step != new.step
        || (new.percent >= 100.0 && last.percent < 100.0)
        || (new.percent != last.percent && now - last.at >= PROGRESS_INTERVAL)
}

/// Runs the tool while writing its progress into the object's status (best effort: a failed progress write is
/// logged and the run goes on).
pub(super) async fn run_tool<C: Cluster, T: Tool, K: Object>(
    cluster: &C,
    tool: &T,
    key: &ObjectKey,
    job: &ToolJob,
    record: fn(&mut K, &ToolProgress, DateTime<Utc>) -> Result<(), String>,
) -> Result<ToolReport, ToolError> {
    let (sink, mut feed) = ProgressSink::channel();
    let run = async move {
        let sink = sink;
        tool.run(job, &sink).await
    };
    let write = async {
        let mut last: Option<WrittenProgress> = None;
        while let Some(p) = feed.next().await {
            let now = cluster.now();
            if !progress_due(last.as_ref(), &p, now) {
                continue;
            }
            match update::<C, K>(cluster, key, |o| record(o, &p, now)).await {
                Ok(_) => last = Some(WrittenProgress { step: p.step.clone(), percent: p.percent, at: now }),
                Err(e) => warn!(%key, error = %e, "failed to record progress"),
            }
        }
    };
    let (result, ()) = futures::future::join(run, write).await;
    result
}

fn record_backup_progress(b: &mut Backup, p: &ToolProgress, now: DateTime<Utc>) -> Result<(), String> {
    if b.is_finished() {
        return Err("is already finished".into());
    }
    set_progress(&mut backup_status(b).progresses, &p.step, p.percent, now);
    Ok(())
}

fn record_restore_progress(r: &mut Restore, p: &ToolProgress, now: DateTime<Utc>) -> Result<(), String> {
    restore_superseded(r)?;
    set_progress(&mut restore_status(r).progresses, &p.step, p.percent, now);
    Ok(())
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

fn restore_superseded(r: &Restore) -> Result<(), String> {
    if r.metadata.deletion_timestamp.is_some() {
        return Err("is being deleted".into());
    }
    if r.is_finished() {
        return Err(format!("is already {}", r.phase().map(|p| p.to_string()).unwrap_or_default()));
    }
    Ok(())
}

/// The tool's own time if it said, else the time between the two status writes.
fn time_taken(report: &ToolReport, started: DateTime<Utc>, done: DateTime<Utc>) -> String {
    let measured = (done - started).to_std().unwrap_or_default();
    // Whole seconds, as TiDB Operator shows it.
    format_duration(std::time::Duration::from_secs(report.time_taken.unwrap_or(measured).as_secs()))
}

/// `backup-manager backup|export`: Running (recorded before the tool can write), the tool, then Complete with the
/// summary, or an `AttemptFailed` condition with the tool's last words. `attempt` is the attempt this Job runs
/// (`BACKUP_ATTEMPT`): a Backup that moved on (finished, being deleted, a later attempt) is left alone, and one
/// already Complete is not run again.
pub async fn backup<C: Cluster, T: Tool>(
    cluster: &C,
    tool: &T,
    key: &ObjectKey,
    attempt: Option<u32>,
) -> Result<ToolReport, ManagerError> {
    let current = read::<C, Backup>(cluster, key).await?;
    if current.is_complete() {
        info!(%key, "the Backup is already Complete; nothing to do");
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
        s.progresses = None;
        forget_earlier_attempt(&mut s.conditions);
        set_condition(&mut s.conditions, Condition::new("Running", started, None, None));
        Ok(())
    })
    .await?;
    match run_tool(cluster, tool, key, &job, record_backup_progress).await {
        Ok(report) => {
            let done = cluster.now();
            let taken = time_taken(&report, started, done);
            update::<C, Backup>(cluster, key, |b| {
                if b.is_complete() {
                    return Ok(()); // written by an earlier try of this same update
                }
                backup_superseded(b, attempt)?;
                let s = backup_status(b);
                s.phase = Some(BackupPhase::Complete);
                s.time_completed = Some(to_k8s(done));
                s.time_taken = Some(taken.clone());
                s.backup_size = report.size_bytes.map(|n| n as i64);
                s.backup_size_readable = report.size_bytes.map(readable_size);
                s.commit_ts.clone_from(&report.commit_ts);
                set_condition(&mut s.conditions, Condition::new("Complete", done, None, None));
                Ok(())
            })
            .await?;
            info!(%key, size = ?report.size_bytes, commit_ts = ?report.commit_ts, %taken, "the backup is complete");
            Ok(report)
        }
        Err(source) => {
            let now = cluster.now();
            warn!(%key, error = %source, "the backup attempt failed");
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

/// `backup-manager restore|import`: Running, the tool, then Complete, or an `AttemptFailed` condition.
pub async fn restore<C: Cluster, T: Tool>(cluster: &C, tool: &T, key: &ObjectKey) -> Result<ToolReport, ManagerError> {
    let current = read::<C, Restore>(cluster, key).await?;
    if current.phase() == Some(RestorePhase::Complete) {
        info!(%key, "the Restore is already Complete; nothing to do");
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
        s.progresses = None;
        forget_earlier_attempt(&mut s.conditions);
        set_condition(&mut s.conditions, Condition::new("Running", started, None, None));
        Ok(())
    })
    .await?;
    match run_tool(cluster, tool, key, &job, record_restore_progress).await {
        Ok(report) => {
            let done = cluster.now();
            let taken = time_taken(&report, started, done);
            update::<C, Restore>(cluster, key, |r| {
                if r.phase() == Some(RestorePhase::Complete) {
                    return Ok(());
                }
                restore_superseded(r)?;
                let s = restore_status(r);
                s.phase = Some(RestorePhase::Complete);
                s.time_completed = Some(to_k8s(done));
                s.time_taken = Some(taken.clone());
                s.commit_ts.clone_from(&report.commit_ts);
                set_condition(&mut s.conditions, Condition::new("Complete", done, None, None));
                Ok(())
            })
            .await?;
            info!(%key, commit_ts = ?report.commit_ts, %taken, "the restore is complete");
            Ok(report)
        }
        Err(source) => {
            let now = cluster.now();
            warn!(%key, error = %source, "the restore attempt failed");
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
    let current = read::<C, Backup>(cluster, key).await?;
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
            info!(%key, "{msg}");
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
            warn!(%key, error = %msg, "the clean failed");
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
    use super::*;
    use chrono::TimeZone;

    fn p(step: &str, percent: f64) -> ToolProgress {
        ToolProgress { step: step.into(), percent }
    }

    #[test]
    fn progress_is_written_on_new_steps_on_completion_and_otherwise_at_most_every_interval() {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let last = WrittenProgress { step: "Full Backup".into(), percent: 10.0, at: t0 };
        assert!(progress_due(None, &p("Full Backup", 1.0), t0));
        assert!(!progress_due(Some(&last), &p("Full Backup", 20.0), t0 + chrono::TimeDelta::seconds(5)));
        assert!(progress_due(Some(&last), &p("Full Backup", 20.0), t0 + PROGRESS_INTERVAL));
        assert!(!progress_due(Some(&last), &p("Full Backup", 10.0), t0 + PROGRESS_INTERVAL));
        assert!(progress_due(Some(&last), &p("Checksum", 0.0), t0));
        assert!(progress_due(Some(&last), &p("Full Backup", 100.0), t0));
    }

    #[test]
    fn time_taken_prefers_the_tools_own_measure() {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let t1 = t0 + chrono::TimeDelta::seconds(300);
        let told = ToolReport { time_taken: Some(std::time::Duration::from_secs(252)), ..Default::default() };
        assert_eq!(time_taken(&told, t0, t1), "4m12s");
        assert_eq!(time_taken(&ToolReport::default(), t0, t1), "5m");
    }

    #[test]
    fn exit_codes_tell_failures_apart() {
        let key = ObjectKey::new("ns", "b");
        let stopped = ManagerError::Tool {
            key: key.clone(),
            source: ToolError::Stopped { tool: super::super::tool::ToolKind::Br },
        };
        assert_eq!(stopped.exit_code(), 143);
        assert_eq!(ManagerError::Missing { kind: "Backup", key }.exit_code(), 3);
    }

    #[test]
    fn sizes_read_like_tidb_operator_shows_them() {
        assert_eq!(readable_size(512), "512 B");
        assert_eq!(readable_size(1536), "1.5 KiB");
        assert_eq!(readable_size(3 * 1024 * 1024 * 1024), "3.0 GiB");
    }
}
