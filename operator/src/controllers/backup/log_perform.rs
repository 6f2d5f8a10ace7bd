//! The writes of a log Backup's steps: its command Jobs, their status entries and Events, the stop on deletion.

use k8s_openapi::api::batch::v1::Job;

use crate::api::backup::BackupPhase;
use crate::api::condition::{Condition, set_condition};
use crate::api::duration::format_duration;
use crate::api::log_backup::{self, LogCommand};
use crate::cluster::{Cluster, ClusterError, EventType, ObjectKey, Precondition};
use crate::controllers::{Action, Settings};

use super::plan::LogStep;
use super::{
    BackupError, Next, State, create_job, event, follow_created_job, job, mark_scheduled, name_of, remove_finalizer,
    write_meta, write_status,
};

/// Performs a log step (the other steps are the snapshot Backup's, in `mod.rs`).
pub(super) async fn perform<C: Cluster>(
    cluster: &C,
    settings: &Settings,
    state: &mut State,
    step: LogStep,
) -> Result<Next, BackupError> {
    let now = cluster.now();
    match step {
        LogStep::CreateJob { command } => {
            let job = job::log_job_for(&state.backup, command, false, settings);
            let created = Box::pin(create_job(cluster, state, job)).await?;
            Ok(follow_created_job(state, created, settings))
        }
        LogStep::MarkScheduled { command } => {
            let job = name_of(&state.job);
            let next = write_status(cluster, state, |s| {
                log_backup::set_command_phase(s, command, BackupPhase::Scheduled, now, Some("JobCreated"), Some(&job));
                if command == LogCommand::Start {
                    mark_scheduled(s, &job, now);
                }
            })
            .await?;
            event(cluster, state, EventType::Normal, "Scheduled", format!("created Job {job} for {command}")).await;
            Ok(next)
        }
        LogStep::RecordFailure { command, failure } => {
            let f = failure.clone();
            // The point this failure is about: a pod that never ran did not record it, and the pause before the
            // next run holds only for the same point.
            let until = (command == LogCommand::Truncate).then(|| state.backup.spec.log_truncate_until.clone());
            let next = write_status(cluster, state, |s| {
                let sub = log_backup::set_command_phase(
                    s,
                    command,
                    BackupPhase::Failed,
                    now,
                    Some(&f.reason),
                    Some(&f.message),
                );
                if let Some(until) = until {
                    sub.log_truncating_until = until;
                }
            })
            .await?;
            let msg = format!(
                "{command} failed: {}: {}; retrying in {}",
                failure.reason,
                failure.message,
                format_duration(settings.clean_retry)
            );
            event(cluster, state, EventType::Warning, "LogBackupFailed", msg).await;
            Ok(next)
        }
        LogStep::MarkStopped => {
            write_status(cluster, state, |s| {
                log_backup::set_command_phase(s, LogCommand::Stop, BackupPhase::Complete, now, None, None);
                s.phase = Some(BackupPhase::Stopped);
                set_condition(&mut s.conditions, Condition::new("Stopped", now, None, None));
            })
            .await
        }
        LogStep::CreateStopJob => {
            let job = job::log_job_for(&state.backup, LogCommand::Stop, true, settings);
            match Box::pin(create_job(cluster, state, job)).await {
                Ok(Some(created)) => {
                    state.stop_job = Some(created);
                    Ok(Next::Continue)
                }
                Ok(None) => Ok(Next::Done(Action::requeue(settings.resync))),
                // The namespace is being terminated: its Backups must not wedge it.
                Err(BackupError::CreateJob { source: ClusterError::Forbidden { message, .. }, .. }) => {
                    let task = log_backup::task_name(&state.backup);
                    let msg =
                        format!("cannot create the stop Job ({message}); the log backup task {task} may still run");
                    event(cluster, state, EventType::Warning, "StopSkipped", msg).await;
                    state.backup = write_meta(cluster, state, remove_finalizer).await?;
                    Ok(Next::Done(Action::await_change()))
                }
                Err(e) => Err(e),
            }
        }
        LogStep::RetryStop { uid, message } => {
            let name = name_of(&state.stop_job);
            let task = log_backup::task_name(&state.backup);
            let key = ObjectKey::new(&state.key.namespace, &name);
            match cluster.delete::<Job>(&key, &Precondition { uid, resource_version: None }).await {
                // Said once, by the reconcile that removed the failed Job (a stale cache may show it again).
                Ok(_) => {
                    let msg = format!(
                        "Job {name} failed: {message}; the log backup task {task} may still run, so the Backup stays \
                         until it is stopped (retrying now; remove the finalizer to give up)"
                    );
                    event(cluster, state, EventType::Warning, "StopFailed", msg).await;
                }
                Err(ClusterError::NotFound { .. } | ClusterError::Conflict { .. }) => {}
                Err(source) => return Err(BackupError::DeleteJob { job: name, source }),
            }
            state.stop_job = None;
            Ok(Next::Done(Action::requeue(settings.resync.min(std::time::Duration::from_secs(10)))))
        }
    }
}
