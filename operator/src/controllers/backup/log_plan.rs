//! The backup controller's decisions for a log Backup (`backupMode: log`): one Job per `br log` command the spec
//! asks for, a follower that keeps the checkpoint current while the task runs, and on deletion a stop of the task
//! before anything else (TiDB Operator's #5249: a deleted CR left its task running).

use chrono::{DateTime, Utc};
use k8s_openapi::api::batch::v1::Job;
use std::time::Duration;

use crate::api::backup::{Backup, BackupPhase};
use crate::api::log_backup::{self, LogCommand};
use crate::api::time::opt_from_k8s;
use crate::controllers::attempt::{AttemptState, attempt_state, job_finished_at, job_outcome, until};

use super::plan::{Failure, JobRole, LogStep, Observed, Step};
use super::retry::retry_at;

/// How long after a follower's failure another one starts (TiDB Operator polls the checkpoint every minute).
pub const FOLLOWER_RESTART: Duration = Duration::from_secs(60);

fn wait(d: Option<Duration>) -> Step {
    Step::Wait { requeue_after: d }
}

/// The Job that runs `command`, when the observed one is it (the cache may hold an earlier command's Job).
pub fn job_for_command<'a>(o: &Observed<'a>, command: LogCommand) -> Option<&'a Job> {
    let name = super::job::log_job_name(&o.backup.metadata.name.clone().unwrap_or_default(), command);
    o.job.filter(|j| j.metadata.name.as_deref() == Some(name.as_str()))
}

/// The recorded phase of `command` in `logSubCommandStatuses`.
fn sub_phase(b: &Backup, command: LogCommand) -> Option<&str> {
    b.status.as_ref()?.log_sub_command_statuses.as_ref()?.get(command.as_str())?.phase.as_deref()
}

/// When `command` last failed, if its status says it did (for truncation: for the same `logTruncateUntil`).
fn failed_at(b: &Backup, command: LogCommand) -> Option<DateTime<Utc>> {
    let s = b.status.as_ref()?.log_sub_command_statuses.as_ref()?.get(command.as_str())?;
    if s.phase.as_deref() != Some("Failed") {
        return None;
    }
    if command == LogCommand::Truncate && s.log_truncating_until != b.spec.log_truncate_until {
        return None;
    }
    let c = s.conditions.as_ref()?.iter().find(|c| c.type_ == "Failed")?;
    crate::api::time::opt_from_k8s(c.last_transition_time.as_ref())
}

/// Decides the next step for a log Backup that is valid and not being deleted.
pub fn plan(o: &Observed) -> Step {
    if o.backup.phase() == Some(BackupPhase::Failed) {
        return wait(None);
    }
    let command = log_backup::command(o.backup);
    if log_backup::in_sync(o.backup, command) {
        return match command {
            LogCommand::Start if o.backup.phase() == Some(BackupPhase::Running) => follower(o),
            _ => wait(None),
        };
    }
    let started = log_backup::started_at(o.backup).is_some();
    if command != LogCommand::Start && !started {
        // Nothing to stop, pause, resume or truncate before the task exists.
        return if command == LogCommand::Stop { Step::Log(LogStep::MarkStopped) } else { wait(None) };
    }
    // A failed command is run again after a pause (the start follows the Backup's retry policy instead).
    if let Some(at) = failed_at(o.backup, command).filter(|_| command != LogCommand::Start) {
        let due = at + chrono::Duration::from_std(o.settings.clean_retry).unwrap_or_default();
        if due > o.now {
            return wait(Some(until(due, o.now)));
        }
    }
    if command == LogCommand::Start
        && o.backup.phase() == Some(BackupPhase::Retrying)
        && let Some(step) = start_retry(o)
    {
        return step;
    }
    let Some(job) = job_for_command(o, command) else {
        return if o.backup_fresh { Step::Log(LogStep::CreateJob { command }) } else { Step::Refresh };
    };
    if job.metadata.deletion_timestamp.is_some() {
        return wait(Some(o.settings.resync));
    }
    let recorded = command != LogCommand::Start && matches!(sub_phase(o.backup, command), Some("Complete" | "Failed"));
    let failed = |failure| match command {
        LogCommand::Start => {
            let records = o.backup.retry_records();
            Step::RecordFailure { failure, retry_at: retry_at(o.backup.spec.retry_policy(), records, o.now) }
        }
        _ => Step::Log(LogStep::RecordFailure { command, failure }),
    };
    match attempt_state(job, &o.pods, o.now, o.settings.pod_start_timeout) {
        // An earlier run of the same command (paused before, truncated to another point, failed): run it again.
        s if s.is_over() && recorded && o.backup_fresh => {
            Step::DeleteJob { role: JobRole::Backup, uid: job.metadata.uid.clone() }
        }
        s if s.is_over() && !o.backup_fresh => Step::Refresh,
        // The Job and its pods read live first: the cache may still show the previous run of this command.
        s if s.is_over() && !o.pods_fresh => Step::ListPods { role: JobRole::Backup },
        AttemptState::Succeeded => failed(Failure {
            reason: "StatusNotReported".into(),
            message: format!("Job {} succeeded but backup-manager did not report {command}", name(job)),
        }),
        AttemptState::Failed { reason, message } | AttemptState::Stuck { reason, message } => {
            failed(Failure { reason, message })
        }
        AttemptState::Starting { .. } | AttemptState::Running
            if !matches!(sub_phase(o.backup, command), Some("Scheduled" | "Running")) =>
        {
            Step::Log(LogStep::MarkScheduled { command })
        }
        AttemptState::Starting { stuck_at } => wait(Some(until(stuck_at, o.now))),
        AttemptState::Running => wait(None),
    }
}

/// The start failed and a retry is due per the Backup's retry policy: wait for it, remove the failed Job, start
/// again (`None`: the retry's Job runs; follow it like any).
fn start_retry(o: &Observed) -> Option<Step> {
    let due = o.backup.retry_records().last().and_then(|r| opt_from_k8s(r.expected_retry_at.as_ref()));
    if let Some(due) = due.filter(|d| *d > o.now) {
        return Some(wait(Some(until(due, o.now))));
    }
    let Some(job) = job_for_command(o, LogCommand::Start) else {
        return Some(if o.backup_fresh {
            Step::Log(LogStep::CreateJob { command: LogCommand::Start })
        } else {
            Step::Refresh
        });
    };
    if job.metadata.deletion_timestamp.is_some() {
        return Some(wait(Some(o.settings.resync)));
    }
    job_outcome(job).map(|_| Step::DeleteJob { role: JobRole::Backup, uid: job.metadata.uid.clone() })
}

fn name(job: &Job) -> String {
    job.metadata.name.clone().unwrap_or_default()
}

/// The task runs: the `log-start` Job follows its checkpoint. One that ended is started again (after
/// [`FOLLOWER_RESTART`] when it failed; at once when it ended because the task was paused and is resumed now).
fn follower(o: &Observed) -> Step {
    let Some(job) = job_for_command(o, LogCommand::Start) else {
        return Step::Log(LogStep::CreateJob { command: LogCommand::Start });
    };
    if job.metadata.deletion_timestamp.is_some() {
        return wait(Some(o.settings.resync));
    }
    match job_outcome(job) {
        None => wait(None),
        Some(Ok(())) => Step::DeleteJob { role: JobRole::Backup, uid: job.metadata.uid.clone() },
        Some(Err(_)) => {
            let due = job_finished_at(job).unwrap_or(o.now)
                + chrono::Duration::from_std(FOLLOWER_RESTART).unwrap_or_default();
            if due > o.now {
                wait(Some(until(due, o.now)))
            } else {
                Step::DeleteJob { role: JobRole::Backup, uid: job.metadata.uid.clone() }
            }
        }
    }
}

/// Deleting a log Backup: stop its task first (unless it never started or is stopped already); the rest of the
/// deletion (the follower, the data per `cleanPolicy`, the finalizer) is the snapshot Backup's.
pub fn plan_stop(o: &Observed) -> Option<Step> {
    // Once stopped, the phase moves on (Cleaning, Clean); the stop's own status entry remembers it.
    let stopped =
        o.backup.phase() == Some(BackupPhase::Stopped) || sub_phase(o.backup, LogCommand::Stop) == Some("Complete");
    if stopped || log_backup::started_at(o.backup).is_none() {
        return None;
    }
    let Some(job) = o.stop_job else {
        return Some(if o.backup_fresh { Step::Log(LogStep::CreateStopJob) } else { Step::Refresh });
    };
    if job.metadata.deletion_timestamp.is_some() {
        return Some(wait(Some(o.settings.resync)));
    }
    Some(match job_outcome(job) {
        None => wait(None),
        Some(_) if !o.backup_fresh => Step::Refresh,
        // Stopped, but the status says otherwise (backup-manager could not write it): the task is stopped.
        Some(Ok(())) => Step::Log(LogStep::MarkStopped),
        Some(Err(message)) => {
            let due = job_finished_at(job).unwrap_or(o.now)
                + chrono::Duration::from_std(o.settings.clean_retry).unwrap_or_default();
            if due > o.now {
                wait(Some(until(due, o.now)))
            } else {
                Step::Log(LogStep::RetryStop { uid: job.metadata.uid.clone(), message })
            }
        }
    })
}
