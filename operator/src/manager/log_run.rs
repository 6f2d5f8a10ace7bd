//! `backup-manager backup --mode=log --subcommand=CMD`: one `br log` command for a log Backup, reported in
//! `status.logSubCommandStatuses[CMD]` and in the whole status as TiDB Operator reports it. After `log-start` the
//! run stays and follows the task: `br log status` every interval, the checkpoint written to `logCheckpointTs`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tracing::{info, warn};

use crate::api::backup::{Backup, BackupPhase, BackupStatus};
use crate::api::condition::{Condition, set_condition};
use crate::api::kept::LogSubCommandStatus;
use crate::api::log_backup::{self, LogCommand};
use crate::api::time::to_k8s;
use crate::api::tso::Tso;
use crate::cluster::{Cluster, ObjectKey};

use super::args;
use super::report::{ManagerError, attempt_failed, read, update};
use super::tool::{LogTask, ProgressSink, Tool, ToolError, ToolJob, ToolReport};

/// How often the follower asks br for the task's checkpoint (TiDB Operator's tracker reads it every minute).
pub const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(60);
/// Consecutive failed `br log status` runs after which the follower exits (its Job fails and is started again).
pub const STATUS_ATTEMPTS: u32 = 5;

fn status(b: &mut Backup) -> &mut BackupStatus {
    b.status.get_or_insert_with(Default::default)
}

/// Records `phase` for `command`, with the failure's reason when `why` is given.
fn set_sub_phase<'a>(
    b: &'a mut Backup,
    command: LogCommand,
    phase: BackupPhase,
    now: DateTime<Utc>,
    why: Option<&'a str>,
) -> &'a mut LogSubCommandStatus {
    let reason = why.map(|_| failure_reason(command));
    log_backup::set_command_phase(status(b), command, phase, now, reason, why)
}

/// TiDB Operator's reason for a failed subcommand.
fn failure_reason(command: LogCommand) -> &'static str {
    match command {
        LogCommand::Start => "StartLogBackupFailed",
        LogCommand::Stop => "StopLogBackupFailed",
        LogCommand::Pause => "PauseLogBackupFailed",
        LogCommand::Resume => "ResumeLogBackupFailed",
        LogCommand::Truncate => "TruncateLogBackupFailed",
    }
}

/// Why this run must leave the Backup alone: not a log backup, finished, or being deleted (only a stop runs then).
fn superseded(b: &Backup, command: LogCommand) -> Result<(), String> {
    if !log_backup::is_log(&b.spec) {
        return Err("is not a log backup".into());
    }
    if b.metadata.deletion_timestamp.is_some() {
        return if command == LogCommand::Stop { Ok(()) } else { Err("is being deleted".into()) };
    }
    match b.phase() {
        Some(p @ (BackupPhase::Failed | BackupPhase::Invalid)) => Err(format!("is {p}")),
        Some(BackupPhase::Stopped) if command != LogCommand::Truncate => Err("is Stopped".into()),
        _ => Ok(()),
    }
}

fn refuse(key: &ObjectKey, why: String) -> ManagerError {
    ManagerError::Superseded { kind: "Backup", key: key.clone(), why }
}

/// Runs `command` for the log Backup `key`; for `log-start`, then follows the task until it is paused, stopped or
/// deleted, polling every `interval`.
pub async fn log_backup<C: Cluster, T: Tool>(
    cluster: &C,
    tool: &T,
    key: &ObjectKey,
    command: LogCommand,
    interval: Duration,
) -> Result<(), ManagerError> {
    let current = read::<C, Backup>(cluster, key).await?;
    superseded(&current, command).map_err(|why| refuse(key, why))?;
    let done = log_backup::in_sync(&current, command) && command != LogCommand::Truncate;
    if done {
        info!(%key, %command, "already in place; nothing to run");
    } else {
        run(cluster, tool, key, &current, command).await?;
    }
    if command == LogCommand::Start {
        follow(cluster, tool, key, interval).await?;
    }
    Ok(())
}

async fn run<C: Cluster, T: Tool>(
    cluster: &C,
    tool: &T,
    key: &ObjectKey,
    current: &Backup,
    command: LogCommand,
) -> Result<(), ManagerError> {
    let job = args::log_job(current, Some(command))?;
    let until = current.spec.log_truncate_until.clone();
    let started = cluster.now();
    let url = job.location.url();
    update::<C, Backup>(cluster, key, |b| {
        superseded(b, command)?;
        let s = set_sub_phase(b, command, BackupPhase::Running, started, None);
        s.time_started = Some(to_k8s(started));
        s.time_completed = None;
        if command == LogCommand::Truncate {
            s.log_truncating_until.clone_from(&until);
        }
        if command == LogCommand::Start {
            let s = status(b);
            s.phase = Some(BackupPhase::Running);
            s.time_started = Some(to_k8s(started));
            s.backup_path = Some(url.clone());
            set_condition(&mut s.conditions, Condition::new("Running", started, None, None));
        }
        Ok(())
    })
    .await?;
    let result = match command {
        LogCommand::Start => start(tool, current, &job).await,
        _ => {
            let (sink, _feed) = ProgressSink::channel();
            tool.run(&job, &sink).await.map(|_| LogTask::default())
        }
    };
    let now = cluster.now();
    match result {
        Ok(task) => {
            update::<C, Backup>(cluster, key, |b| record_success(b, command, &task, until.as_deref(), started, now))
                .await?;
            info!(%key, %command, "done");
            Ok(())
        }
        Err(source) => {
            warn!(%key, %command, error = %source, "failed");
            update::<C, Backup>(cluster, key, |b| {
                let why = source.to_string();
                set_sub_phase(b, command, BackupPhase::Failed, now, Some(&why));
                // As for a snapshot attempt, the controller decides between Retrying and Failed.
                if command == LogCommand::Start {
                    attempt_failed(&mut status(b).conditions, now, &source);
                }
                Ok(())
            })
            .await?;
            Err(ManagerError::Tool { key: key.clone(), source })
        }
    }
}

/// The whole status after `command` succeeded, as TiDB Operator maps each subcommand onto it.
fn record_success(
    b: &mut Backup,
    command: LogCommand,
    task: &LogTask,
    until: Option<&str>,
    started: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), String> {
    set_sub_phase(b, command, BackupPhase::Complete, now, None).time_completed = Some(to_k8s(now));
    let s = status(b);
    match command {
        LogCommand::Start => {
            let start = if task.start_ts > 0 { Tso(task.start_ts) } else { Tso::from_time(started) };
            s.commit_ts = Some(start.to_string());
            s.log_checkpoint_ts = Some(Tso(task.checkpoint.max(start.0)).to_string());
            s.time_synced = Some(to_k8s(now));
        }
        LogCommand::Stop => {
            s.phase = Some(BackupPhase::Stopped);
            s.time_completed = Some(to_k8s(now));
            set_condition(&mut s.conditions, Condition::new("Stopped", now, None, None));
        }
        LogCommand::Pause => {
            s.phase = Some(BackupPhase::Paused);
            set_condition(&mut s.conditions, Condition::new("Paused", now, None, None));
        }
        LogCommand::Resume => {
            s.phase = Some(BackupPhase::Running);
            set_condition(&mut s.conditions, Condition::new("Running", now, None, None));
        }
        LogCommand::Truncate => s.log_success_truncate_until = until.map(str::to_string),
    }
    Ok(())
}

/// `br log start`, unless an earlier attempt of this Backup started the task already (its pod died before it
/// could say so): a task of this name writing to this storage is taken as started. Then the start TSO br chose
/// (the spec's commitTs, or now) is read back from the task.
async fn start<T: Tool>(tool: &T, b: &Backup, job: &ToolJob) -> Result<LogTask, ToolError> {
    let url = job.location.url();
    let ours = |t: &LogTask| t.storage.is_empty() || t.storage.trim_end_matches('/') == url;
    match task_status(tool, b).await {
        Ok(Some(task)) if ours(&task) => {
            info!(task = %task.name, "the task exists already (an earlier attempt started it)");
            return Ok(task);
        }
        Ok(Some(task)) => {
            return Err(ToolError::Exited {
                tool: job.tool,
                code: 1,
                tail: format!(
                    "a log backup task named {} already runs, writing to {}, not {url}",
                    task.name, task.storage
                ),
            });
        }
        // No such task (br fails to find it, or lists none): start it.
        Ok(None) | Err(ToolError::Exited { .. }) => {}
        Err(e) => return Err(e),
    }
    let (sink, _feed) = ProgressSink::channel();
    tool.run(job, &sink).await?;
    task_status(tool, b).await.map(|t| t.unwrap_or_default())
}

/// `br log status` for the Backup's task: `None` when br lists no such task.
async fn task_status<T: Tool>(tool: &T, b: &Backup) -> Result<Option<LogTask>, ToolError> {
    let job = args::log_job(b, None)
        .map_err(|e| ToolError::Spawn { tool: super::tool::ToolKind::Br, reason: e.to_string() })?;
    let (sink, _feed) = ProgressSink::channel();
    let report: ToolReport = tool.run(&job, &sink).await?;
    let name = log_backup::task_name(b);
    Ok(report.log_tasks.unwrap_or_default().into_iter().find(|t| t.name == name))
}

/// Follows a running task: every `interval`, while the Backup is Running, its checkpoint goes to
/// `logCheckpointTs` (when it moved). Ends when the Backup is paused, stopped or deleted; a task br no longer
/// lists fails the Backup (`LogBackupTaskNotFound`), and [`STATUS_ATTEMPTS`] failed status runs in a row end the
/// run with an error (its Job then fails, and the controller starts another follower).
async fn follow<C: Cluster, T: Tool>(
    cluster: &C,
    tool: &T,
    key: &ObjectKey,
    interval: Duration,
) -> Result<(), ManagerError> {
    let mut failures = 0;
    loop {
        tool.pause(interval).await;
        let b = read::<C, Backup>(cluster, key).await?;
        if b.metadata.deletion_timestamp.is_some() || b.phase() != Some(BackupPhase::Running) {
            info!(%key, phase = ?b.phase(), "the log backup is no longer running; stop following it");
            return Ok(());
        }
        let task = match task_status(tool, &b).await {
            Ok(t) => t,
            Err(source @ ToolError::Stopped { .. }) => return Err(ManagerError::Tool { key: key.clone(), source }),
            Err(source) => {
                failures += 1;
                warn!(%key, error = %source, failures, "br log status failed");
                if failures >= STATUS_ATTEMPTS {
                    return Err(ManagerError::Tool { key: key.clone(), source });
                }
                continue;
            }
        };
        failures = 0;
        let now = cluster.now();
        let Some(task) = task else {
            let why = format!("br lists no log backup task named {}", log_backup::task_name(&b));
            update::<C, Backup>(cluster, key, |b| {
                let s = status(b);
                s.phase = Some(BackupPhase::Failed);
                set_condition(
                    &mut s.conditions,
                    Condition::new("Failed", now, Some("LogBackupTaskNotFound"), Some(&why)),
                );
                Ok(())
            })
            .await?;
            return Err(ManagerError::LogTaskGone { key: key.clone(), task: log_backup::task_name(&b) });
        };
        let known = b.status.as_ref().and_then(|s| s.log_checkpoint_ts.as_deref()).and_then(|t| Tso::parse(t).ok());
        if known.is_some_and(|k| k.0 >= task.checkpoint) {
            continue;
        }
        let written = update::<C, Backup>(cluster, key, |b| {
            if b.metadata.deletion_timestamp.is_some() || b.phase() != Some(BackupPhase::Running) {
                return Err("is no longer running".into());
            }
            let s = status(b);
            s.log_checkpoint_ts = Some(Tso(task.checkpoint).to_string());
            s.time_synced = Some(to_k8s(now));
            Ok(())
        })
        .await;
        match written {
            Ok(_) | Err(ManagerError::Superseded { .. }) => {}
            Err(e) => warn!(%key, error = %e, "failed to record the checkpoint"),
        }
    }
}
