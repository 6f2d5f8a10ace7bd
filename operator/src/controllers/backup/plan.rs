//! The backup controller's decisions: from what was observed, the one next step to take (pure, no I/O).

use chrono::{DateTime, Utc};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use std::time::Duration;

use crate::api::backup::{Backup, BackupPhase, CleanPolicy};
use crate::api::condition::find_condition;
use crate::api::labels::FINALIZER;
use crate::api::log_backup::{self, LogCommand};
use crate::api::time::opt_from_k8s;
use crate::api::{unsupported, validation};
use crate::controllers::Settings;
use crate::controllers::attempt::{AttemptState, attempt_state, job_finished, until};
use crate::controllers::jobs::job_attempt;

use super::log_plan;
use super::retry::retry_at;

/// Everything the backup controller knows when it decides.
#[derive(Clone, Debug)]
pub struct Observed<'a> {
    pub backup: &'a Backup,
    /// The Backup came from a live read or a write response in this reconcile (not from the cache).
    pub backup_fresh: bool,
    /// `backup-<name>`, if seen.
    pub job: Option<&'a Job>,
    /// Pods of `job`.
    pub pods: Vec<&'a Pod>,
    /// `clean-<name>`, if seen.
    pub clean_job: Option<&'a Job>,
    /// Pods of `clean_job`.
    pub clean_pods: Vec<&'a Pod>,
    /// `stop-<name>`, which stops a log backup's task on deletion, if seen.
    pub stop_job: Option<&'a Job>,
    /// `pods` came from a live list in this reconcile: needed before declaring a pod stuck or missing ("not in the
    /// cache" never means "not there") and before cleaning, which must not race a writer.
    pub pods_fresh: bool,
    /// `clean_pods` came from a live list in this reconcile.
    pub clean_pods_fresh: bool,
    /// This controller's memory proves it never sent a create of the Backup's Job: it was running when the Backup
    /// was born, moments ago (see `own_writes`). No attempt can have started then, nor any pod have run, and only
    /// backup-manager in such a pod or this controller writes the Backup's status: the first Job needs no live read.
    pub never_had_job: bool,
    pub now: DateTime<Utc>,
    pub settings: &'a Settings,
}

/// Which of a Backup's two Jobs a step is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobRole {
    /// `backup-<name>`, the Job of the current attempt.
    Backup,
    /// `clean-<name>`, which deletes the data.
    Clean,
}

/// How an attempt ended badly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub reason: String,
    pub message: String,
}

/// The one next step.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// Report the fields kept but not acted on in the `Unsupported` condition and an Event (`None`: remove it).
    ReportUnsupported { message: Option<String> },
    /// Record the spec problems in status (phase Invalid) and a Warning event; nothing runs until it is fixed.
    MarkInvalid { message: String },
    /// Add the finalizer before any data can be written, so it is always cleaned per policy.
    AddFinalizer,
    /// Create the Job `backup-<name>` for `attempt`.
    CreateJob { attempt: u32 },
    /// The Job of the current attempt exists: phase Scheduled.
    MarkScheduled,
    /// The attempt failed: phase Retrying (with the retry due at `retry_at`) or, without retries left, Failed.
    RecordFailure { failure: Failure, retry_at: Option<DateTime<Utc>> },
    /// Delete a Job (background propagation takes its pods).
    DeleteJob { role: JobRole, uid: Option<String> },
    /// Read the Backup live before acting on what the cache shows.
    Refresh,
    /// List a Job's pods live (before calling a pod stuck or missing, and before cleaning).
    ListPods { role: JobRole },
    /// Create the clean Job `clean-<name>`.
    CreateCleanJob,
    /// The clean Job runs: phase Cleaning.
    MarkCleaning,
    /// The clean Job failed or is stuck: phase CleanFailed and a Warning event; it is retried.
    MarkCleanFailed { failure: Failure },
    /// Remove the finalizer: the data was cleaned, or the policy keeps it, or nothing was ever written.
    RemoveFinalizer { cleaned: bool },
    /// A step of a log Backup (`backupMode: log`).
    Log(LogStep),
    /// Nothing to do now; look again after this long (or on the next watch event).
    Wait { requeue_after: Option<Duration> },
}

/// The steps of a log Backup, beside the snapshot Backup's (whose deletion steps it shares).
#[derive(Clone, Debug, PartialEq)]
pub enum LogStep {
    /// Create the Job `backup-<name>-<command>` of a log Backup.
    CreateJob { command: LogCommand },
    /// The Job of a log command exists: its status entry (and, for the start, the Backup's phase) is Scheduled.
    MarkScheduled { command: LogCommand },
    /// A log command other than the start failed (the start is retried per the retry policy, as a snapshot
    /// attempt): recorded in its status entry with a Warning, and run again after `cleanRetry`.
    RecordFailure { command: LogCommand, failure: Failure },
    /// The log task is stopped (it never started, or the stop Job succeeded without reporting it): phase Stopped.
    MarkStopped,
    /// Create the Job `stop-<name>` that stops a deleted log Backup's task.
    CreateStopJob,
    /// The stop Job failed: a Warning, and it is deleted to run again.
    RetryStop { uid: Option<String>, message: String },
}

/// True when the Backup's data must be deleted with it (decided at deletion time from the final phase).
pub fn clean_needed(backup: &Backup) -> bool {
    match backup.spec.clean_policy() {
        CleanPolicy::Retain => false,
        CleanPolicy::Delete => true,
        CleanPolicy::OnFailure => {
            matches!(backup.phase(), Some(BackupPhase::Failed)) || {
                // A CleanFailed/Cleaning phase hides the original outcome; the Failed condition keeps it.
                find_condition(&status_conditions(backup), "Failed").is_some()
            }
        }
    }
}

fn status_conditions(backup: &Backup) -> Option<Vec<crate::api::Condition>> {
    backup.status.as_ref().and_then(|s| s.conditions.clone())
}

/// True when a policy other than Retain is set, so a finalizer must guard the data, or for a log backup, whose
/// task must be stopped before the Backup goes.
pub fn finalizer_needed(backup: &Backup) -> bool {
    backup.spec.clean_policy() != CleanPolicy::Retain || log_backup::is_log(&backup.spec)
}

fn has_finalizer(backup: &Backup) -> bool {
    backup.metadata.finalizers.as_ref().is_some_and(|f| f.iter().any(|x| x == FINALIZER))
}

/// True when some attempt may have written data: backup-manager records `timeStarted` before running the tool.
fn may_have_data(backup: &Backup) -> bool {
    backup.status.as_ref().is_some_and(|s| s.time_started.is_some() || s.backup_path.is_some())
}

/// How often a deletion re-checks that the stopped backup pod is gone.
const POD_GONE_POLL: Duration = Duration::from_secs(10);

/// True when a pod of the backup Job could still write data: it runs, or it is pending and not being deleted.
fn may_still_write(pod: &Pod) -> bool {
    match pod.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("Pending") {
        "Running" => true,
        "Pending" => pod.metadata.deletion_timestamp.is_none(),
        _ => false,
    }
}

fn wait(d: Option<Duration>) -> Step {
    Step::Wait { requeue_after: d }
}

/// Decides the next step for a Backup.
pub fn plan(o: &Observed) -> Step {
    if o.backup.metadata.deletion_timestamp.is_some() {
        return plan_deletion(o);
    }
    let conditions = o.backup.status.as_ref().map_or(&None, |s| &s.conditions);
    if let Some(message) = unsupported::pending(conditions, &unsupported::backup(o.backup)) {
        return Step::ReportUnsupported { message };
    }
    let errors = validation::backup(o.backup);
    if !errors.is_empty() {
        let message = validation::summary(&errors);
        let recorded = find_condition(&status_conditions(o.backup), "Invalid").and_then(|c| c.message.clone());
        if o.backup.phase() == Some(BackupPhase::Invalid) && recorded.as_deref() == Some(message.as_str()) {
            return wait(None);
        }
        return Step::MarkInvalid { message };
    }
    if log_backup::is_log(&o.backup.spec) {
        if !has_finalizer(o.backup) {
            return Step::AddFinalizer;
        }
        return log_plan::plan(o);
    }
    match o.backup.phase() {
        Some(BackupPhase::Complete) => return wait(None),
        Some(BackupPhase::Failed) => {
            // Stop a Job that can no longer help (for example a pod stuck in ContainerCreating).
            return match o.job {
                Some(job) if !job_finished(job) && job.metadata.deletion_timestamp.is_none() => {
                    Step::DeleteJob { role: JobRole::Backup, uid: job.metadata.uid.clone() }
                }
                _ => wait(None),
            };
        }
        _ => {}
    }
    if finalizer_needed(o.backup) && !has_finalizer(o.backup) {
        return Step::AddFinalizer;
    }
    let records = o.backup.retry_records();
    let attempt = records.len() as u32;
    let Some(job) = o.job else {
        if let Some(last) = records.last()
            && last.real_retry_at.is_none()
            && let Some(due) = opt_from_k8s(last.expected_retry_at.as_ref())
            && due > o.now
        {
            return wait(Some(until(due, o.now)));
        }
        // A stale cache may show an attempt that already ended (or a Backup that already failed): confirm first.
        if !o.backup_fresh && (!o.never_had_job || attempt > 0) {
            return Step::Refresh;
        }
        // One writer: a pod of an earlier Job (deleted by a user, or by this controller for a retry) runs on while
        // it terminates, and a new attempt started now would write the same files at the same time. Once a Job
        // may have run, that no pod is left is confirmed live ("not in the cache" never means "not there").
        // The cache may show a pod long gone as well (a stalled watch): the wait is decided on the live list.
        let ran_before = attempt > 0 || !matches!(o.backup.phase(), None | Some(BackupPhase::Invalid));
        if ran_before && !o.pods_fresh {
            return Step::ListPods { role: JobRole::Backup };
        }
        if o.pods.iter().any(|p| may_still_write(p)) {
            return wait(Some(POD_GONE_POLL));
        }
        return Step::CreateJob { attempt };
    };
    if job.metadata.deletion_timestamp.is_some() {
        return wait(Some(o.settings.resync));
    }
    let job_attempt = job_attempt(job);
    if job_attempt < attempt {
        return Step::DeleteJob { role: JobRole::Backup, uid: job.metadata.uid.clone() };
    }
    if job_attempt > attempt && !o.backup_fresh {
        return Step::Refresh;
    }
    let needs_scheduled = matches!(o.backup.phase(), None | Some(BackupPhase::Invalid) | Some(BackupPhase::Retrying));
    match attempt_state(job, &o.pods, o.now, o.settings.pod_start_timeout) {
        // backup-manager reports Complete before its pod exits: a cache that shows the Job done but not the Backup
        // is most likely behind. Give the Backup's own event a moment before paying for a live read.
        AttemptState::Succeeded if !o.backup_fresh => match report_due(job) {
            Some(due) if due > o.now => wait(Some(until(due, o.now))),
            _ => Step::Refresh,
        },
        AttemptState::Succeeded => Step::RecordFailure {
            failure: Failure {
                reason: "StatusNotReported".into(),
                message: format!(
                    "Job {} succeeded but backup-manager did not report the backup Complete",
                    job.metadata.name.clone().unwrap_or_default()
                ),
            },
            retry_at: retry_at(o.backup.spec.retry_policy(), records, o.now),
        },
        AttemptState::Stuck { .. } if !o.pods_fresh => Step::ListPods { role: JobRole::Backup },
        AttemptState::Failed { .. } | AttemptState::Stuck { .. } if !o.backup_fresh => Step::Refresh,
        AttemptState::Failed { reason, message } | AttemptState::Stuck { reason, message } => {
            let message = attempt_failure_message(o.backup, message);
            Step::RecordFailure {
                failure: Failure { reason, message },
                retry_at: retry_at(o.backup.spec.retry_policy(), records, o.now),
            }
        }
        AttemptState::Starting { .. } | AttemptState::Running if needs_scheduled => Step::MarkScheduled,
        AttemptState::Starting { stuck_at } => wait(Some(until(stuck_at, o.now))),
        AttemptState::Running => wait(None),
    }
}

/// How long after a Job's completion the Backup's status may still be on its way to the cache.
const REPORT_GRACE: Duration = Duration::from_secs(30);

/// Until when to wait for backup-manager's report of a Job that completed.
fn report_due(job: &Job) -> Option<DateTime<Utc>> {
    let done = opt_from_k8s(job.status.as_ref()?.completion_time.as_ref())?;
    Some(done + chrono::Duration::from_std(REPORT_GRACE).unwrap_or_default())
}

/// backup-manager records why the tool failed in an `AttemptFailed` condition; prefer its words.
fn attempt_failure_message(backup: &Backup, job_message: String) -> String {
    match find_condition(&status_conditions(backup), "AttemptFailed").and_then(|c| c.message.clone()) {
        Some(tool) if !tool.is_empty() && !job_message.contains(&tool) => format!("{job_message}: {tool}"),
        _ => job_message,
    }
}

fn plan_deletion(o: &Observed) -> Step {
    if !has_finalizer(o.backup) {
        return wait(None);
    }
    if log_backup::is_log(&o.backup.spec)
        && let Some(step) = log_plan::plan_stop(o)
    {
        return step;
    }
    // Stop the backup first: cleaning while the tool still writes would leave data behind.
    if let Some(job) = o.job {
        if job.metadata.deletion_timestamp.is_none() && !job_finished(job) {
            return Step::DeleteJob { role: JobRole::Backup, uid: job.metadata.uid.clone() };
        }
        if job.metadata.deletion_timestamp.is_some() {
            return wait(Some(o.settings.resync));
        }
    }
    // A clean Job of this Backup exists: its state decides, and a running one needs nothing (the cache suffices to
    // wait; live reads are for the decisions that start a clean or release the finalizer without one).
    if let Some(clean) = o.clean_job {
        return plan_clean_job(o, clean);
    }
    if !o.backup_fresh {
        return Step::Refresh;
    }
    if !clean_needed(o.backup) || !may_have_data(o.backup) {
        return Step::RemoveFinalizer { cleaned: false };
    }
    if !o.pods_fresh {
        return Step::ListPods { role: JobRole::Backup };
    }
    if o.pods.iter().any(|p| may_still_write(p)) {
        return wait(Some(POD_GONE_POLL));
    }
    if o.backup.phase() == Some(BackupPhase::CleanFailed)
        && let Some(failed_at) = find_condition(&status_conditions(o.backup), "CleanFailed")
            .and_then(|c| opt_from_k8s(c.last_transition_time.as_ref()))
    {
        let due = failed_at + chrono::Duration::from_std(o.settings.clean_retry).unwrap_or_default();
        if due > o.now {
            return wait(Some(until(due, o.now)));
        }
    }
    Step::CreateCleanJob
}

/// The deletion's clean Job exists: follow it to the end, retry it when it failed or hangs.
fn plan_clean_job(o: &Observed, clean: &Job) -> Step {
    let phase = o.backup.phase();
    if clean.metadata.deletion_timestamp.is_some() {
        return wait(Some(o.settings.resync));
    }
    match attempt_state(clean, &o.clean_pods, o.now, o.settings.pod_start_timeout) {
        AttemptState::Succeeded => Step::RemoveFinalizer { cleaned: true },
        AttemptState::Stuck { .. } if !o.clean_pods_fresh => Step::ListPods { role: JobRole::Clean },
        AttemptState::Failed { reason, message } | AttemptState::Stuck { reason, message } => {
            if phase == Some(BackupPhase::CleanFailed) {
                Step::DeleteJob { role: JobRole::Clean, uid: clean.metadata.uid.clone() }
            } else {
                Step::MarkCleanFailed { failure: Failure { reason, message } }
            }
        }
        // backup-manager writes Clean when it is done: never move back from it.
        AttemptState::Starting { .. } | AttemptState::Running
            if !matches!(phase, Some(BackupPhase::Cleaning | BackupPhase::Clean)) =>
        {
            Step::MarkCleaning
        }
        AttemptState::Starting { stuck_at } => wait(Some(until(stuck_at, o.now))),
        AttemptState::Running => wait(None),
    }
}
