//! The backup controller: runs each Backup as a Job, follows it to Complete or Failed (retrying per
//! `backoffRetryPolicy`), and on deletion stops the Job and cleans the data per `cleanPolicy`.
//!
//! When the namespace is being terminated, the API server refuses to create the clean Job (Forbidden). The
//! controller then publishes a `CleanSkipped` Warning naming the data left in storage and removes its finalizer,
//! so namespace deletion is never wedged; the data is retained, never silently lost track of.

pub mod job;
mod log_perform;
pub mod log_plan;
pub mod plan;
pub mod retry;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use std::sync::Arc;

use crate::api::backup::{BackoffRetryRecord, Backup, BackupPhase, BackupStatus};
use crate::api::condition::{Condition, set_condition};
use crate::api::labels::{self, FINALIZER, component};
use crate::api::log_backup::{self, LOG_COMMANDS, LogCommand};
use crate::api::time::to_k8s;
use crate::api::{names, unsupported};
use crate::cluster::{Cluster, ClusterError, Event, EventType, KeyRef, Labels, ObjectKey, Precondition};
use crate::controllers::jobs::owned_by;
use crate::controllers::{Action, MAX_STEPS, Settings};

use plan::{JobRole, Observed, Step, plan};

/// Why a Backup reconcile failed; the controller loop retries with backoff.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("failed to read Backup {key}")]
    Read {
        key: ObjectKey,
        #[source]
        source: ClusterError,
    },
    #[error("failed to update Backup {key}")]
    Write {
        key: ObjectKey,
        #[source]
        source: ClusterError,
    },
    #[error("failed to create Job {job}")]
    CreateJob {
        job: String,
        #[source]
        source: ClusterError,
    },
    #[error("failed to delete Job {job}")]
    DeleteJob {
        job: String,
        #[source]
        source: ClusterError,
    },
    #[error("failed to list pods of Backup {key}")]
    ListPods {
        key: ObjectKey,
        #[source]
        source: ClusterError,
    },
    #[error("reconcile of Backup {key} made no progress after {steps} steps")]
    NoProgress { key: ObjectKey, steps: usize },
}

/// The selector of the pods of one role's Job of a Backup.
pub fn pod_selector(backup_name: &str, role: &str) -> Labels {
    let mut selector = pods_selector(backup_name);
    selector.insert(labels::COMPONENT.to_string(), role.to_string());
    selector
}

/// The selector of the pods of every Job of a Backup (whatever their role).
fn pods_selector(backup_name: &str) -> Labels {
    Labels::from([(labels::BACKUP.to_string(), names::label_value(backup_name))])
}

/// Whether `pod` belongs to the Job of `role` (its component label, as [`pod_selector`] selects).
fn has_role(pod: &Pod, role: &str) -> bool {
    pod.metadata.labels.as_ref().and_then(|l| l.get(labels::COMPONENT)).is_some_and(|c| c == role)
}

/// What this reconcile has seen so far, refreshed by live reads and write responses.
struct State {
    key: ObjectKey,
    /// Shared with the cache until this reconcile writes it.
    backup: Arc<Backup>,
    backup_fresh: bool,
    job: Option<Arc<Job>>,
    pods: Vec<Arc<Pod>>,
    pods_fresh: bool,
    clean_job: Option<Arc<Job>>,
    clean_pods: Vec<Arc<Pod>>,
    clean_pods_fresh: bool,
    /// `stop-<name>` of a log Backup being deleted.
    stop_job: Option<Arc<Job>>,
    /// The name `job` was looked up by (a log Backup's Job follows the command it asks for).
    job_for: String,
    never_had_job: bool,
}

fn owned_job(job: Option<Arc<Job>>, backup: &Backup) -> Option<Arc<Job>> {
    let job = job?;
    let uid = backup.metadata.uid.as_deref();
    let owner_uid = job.metadata.owner_references.as_ref().and_then(|r| r.first()).map(|r| r.uid.as_str());
    (uid.is_none() || owner_uid == uid).then_some(job)
}

impl State {
    fn from_cache<C: Cluster>(cluster: &C, backup: Arc<Backup>, jobs: JobNames) -> State {
        let key = ObjectKey::of(&*backup);
        let name = &key.name;
        let JobNames { backup: job_for, clean: clean_name } = jobs;
        let job = owned_job(cluster.cached::<Job>(KeyRef::new(&key.namespace, &job_for)), &backup);
        let clean_job = owned_job(cluster.cached::<Job>(KeyRef::new(&key.namespace, &clean_name)), &backup);
        // The pods of both roles in one read of the cache, told apart by their component label.
        let of_backup = cluster.cached_list::<Pod>(&key.namespace, &pods_selector(name));
        let pods_of = |role: &str, job: &Option<Arc<Job>>| -> Vec<Arc<Pod>> {
            let mine = |p: &&Arc<Pod>| has_role(p, role) && job.as_ref().is_none_or(|j| owned_by(p, j));
            of_backup.iter().filter(mine).cloned().collect()
        };
        let pods = pods_of(component::BACKUP, &job);
        let clean_pods = pods_of(component::CLEAN, &clean_job);
        let stop_job = log_backup::is_log(&backup.spec)
            .then(|| {
                let stop_name = job::stop_job_name(name);
                owned_job(cluster.cached::<Job>(KeyRef::new(&key.namespace, &stop_name)), &backup)
            })
            .flatten();
        let born = backup.metadata.creation_timestamp.as_ref().map(crate::api::time::from_k8s);
        let never_had_job =
            born.is_some_and(|born| cluster.sent_no_create_since::<Job>(KeyRef::new(&key.namespace, &job_for), born));
        State {
            key,
            backup,
            backup_fresh: false,
            job,
            pods,
            pods_fresh: false,
            clean_job,
            clean_pods,
            clean_pods_fresh: false,
            stop_job,
            job_for,
            never_had_job,
        }
    }

    /// A log Backup's Job of interest follows its status (the command it asks for now); after a write or a live
    /// read changed that, the cached Job of the new command is looked up.
    fn follow_log_command<C: Cluster>(&mut self, cluster: &C) {
        if !log_backup::is_log(&self.backup.spec) {
            return;
        }
        let name = backup_job_name(&self.backup);
        if name == self.job_for {
            return;
        }
        self.job = owned_job(cluster.cached::<Job>(KeyRef::new(&self.key.namespace, &name)), &self.backup);
        self.pods = cluster
            .cached_list::<Pod>(&self.key.namespace, &pod_selector(&self.key.name, component::BACKUP))
            .into_iter()
            .filter(|p| self.job.as_ref().is_some_and(|j| owned_by(p, j)))
            .collect();
        self.pods_fresh = false;
        self.job_for = name;
    }

    fn observed<'a>(&'a self, now: chrono::DateTime<chrono::Utc>, settings: &'a Settings) -> Observed<'a> {
        Observed {
            backup: &self.backup,
            backup_fresh: self.backup_fresh,
            job: self.job.as_deref(),
            pods: self.pods.iter().map(|p| &**p).collect(),
            clean_job: self.clean_job.as_deref(),
            clean_pods: self.clean_pods.iter().map(|p| &**p).collect(),
            stop_job: self.stop_job.as_deref(),
            pods_fresh: self.pods_fresh,
            clean_pods_fresh: self.clean_pods_fresh,
            never_had_job: self.never_had_job,
            now,
            settings,
        }
    }

    fn job_name(&self, role: JobRole) -> String {
        match role {
            JobRole::Backup => backup_job_name(&self.backup),
            JobRole::Clean => names::job_name(component::CLEAN, &self.key.name),
        }
    }
}

/// The name of a Backup's Job of role Backup: `backup-<name>`; for a log Backup, the Job of the command it asks
/// for now (`backup-<name>-log-truncate`), and while it is deleted, its follower (`backup-<name>-log-start`).
fn backup_job_name(backup: &Backup) -> String {
    let name = backup.metadata.name.as_deref().unwrap_or_default();
    if !log_backup::is_log(&backup.spec) {
        return names::job_name(component::BACKUP, name);
    }
    let command =
        if backup.metadata.deletion_timestamp.is_some() { LogCommand::Start } else { log_backup::command(backup) };
    job::log_job_name(name, command)
}

/// What a write outcome means for the loop.
enum Next {
    Continue,
    Done(Action),
}

/// Reconciles one Backup, taken from the controller's cache.
pub async fn reconcile<C: Cluster>(
    cluster: &C,
    settings: &Settings,
    backup: Arc<Backup>,
) -> Result<Action, BackupError> {
    let jobs = JobNames::of(&backup);
    if let Some(wait) = awaiting_own_writes(cluster, &backup, &jobs) {
        return Ok(Action::await_own_write(wait));
    }
    let mut state = State::from_cache(cluster, backup, jobs);
    let mut conflicts = 0;
    for _ in 0..MAX_STEPS {
        state.follow_log_command(cluster);
        let now = cluster.now();
        let step = plan(&state.observed(now, settings));
        tracing::debug!(backup = %state.key, ?step, "planned");
        let result = perform(cluster, settings, &mut state, step).await;
        match result {
            Ok(Next::Continue) => {}
            Ok(Next::Done(action)) => return Ok(action),
            Err(BackupError::Write { source: ClusterError::Conflict { .. }, .. }) if conflicts < 3 => {
                conflicts += 1;
                if let Next::Done(action) = refresh(cluster, &mut state).await? {
                    return Ok(action);
                }
            }
            Err(BackupError::Write { source: ClusterError::NotFound { .. }, .. }) => return Ok(Action::await_change()),
            Err(e) => return Err(e),
        }
    }
    Err(BackupError::NoProgress { key: state.key, steps: MAX_STEPS })
}

/// How long to wait when the cache does not show this controller's own latest write of the Backup or one of its
/// Jobs yet: whatever it would decide now, it would decide on the past (and pay live reads to find that out).
/// The write's watch event triggers the next reconcile; the requeue only bounds the wait.
fn awaiting_own_writes<C: Cluster>(cluster: &C, backup: &Backup, jobs: &JobNames) -> Option<std::time::Duration> {
    let key = KeyRef::of(backup);
    let job = |name: &str| cluster.awaiting_own_write::<Job>(KeyRef::new(key.namespace, name));
    let firsts = [cluster.awaiting_own_write::<Backup>(key), job(&jobs.backup), job(&jobs.clean)];
    let mut until = firsts.into_iter().flatten().max();
    // A log Backup's command Jobs keep their names from one run to the next (a truncation to a later point deletes
    // the last one and creates it anew): a cache still showing the deleted run must not be judged as this one.
    if log_backup::is_log(&backup.spec) {
        let command_jobs = LOG_COMMANDS.iter().map(|c| job::log_job_name(key.name, *c));
        let others = [names::job_name(component::BACKUP, key.name)].into_iter().chain(command_jobs);
        until = until.max(others.chain([job::stop_job_name(key.name)]).filter_map(|n| job(&n)).max());
    }
    Some(crate::controllers::attempt::until(until?, cluster.now()))
}

/// The names of a Backup's Jobs a reconcile looks at first, made once: the Job of role Backup (for a log Backup, of
/// the command it asks for now: see [`backup_job_name`]) and the clean Job.
struct JobNames {
    backup: String,
    clean: String,
}

impl JobNames {
    fn of(backup: &Backup) -> JobNames {
        let name = backup.metadata.name.as_deref().unwrap_or_default();
        JobNames { backup: backup_job_name(backup), clean: names::job_name(component::CLEAN, name) }
    }
}

async fn refresh<C: Cluster>(cluster: &C, state: &mut State) -> Result<Next, BackupError> {
    match cluster.get::<Backup>(&state.key).await {
        Ok(Some(b)) => {
            state.backup = b;
            state.backup_fresh = true;
            Ok(Next::Continue)
        }
        Ok(None) => Ok(Next::Done(Action::await_change())),
        Err(source) => Err(BackupError::Read { key: state.key.clone(), source }),
    }
}

async fn write_status<C: Cluster>(
    cluster: &C,
    state: &mut State,
    edit: impl FnOnce(&mut BackupStatus),
) -> Result<Next, BackupError> {
    let mut b = (*state.backup).clone();
    edit(b.status.get_or_insert_with(Default::default));
    match cluster.replace_status(Arc::new(b)).await {
        Ok(updated) => {
            state.backup = updated;
            state.backup_fresh = true;
            Ok(Next::Continue)
        }
        Err(source) => Err(BackupError::Write { key: state.key.clone(), source }),
    }
}

async fn write_meta<C: Cluster>(
    cluster: &C,
    state: &mut State,
    edit: impl FnOnce(&mut Backup),
) -> Result<Arc<Backup>, BackupError> {
    let mut b = (*state.backup).clone();
    edit(&mut b);
    cluster.replace(Arc::new(b)).await.map_err(|source| BackupError::Write { key: state.key.clone(), source })
}

async fn event<C: Cluster>(cluster: &C, state: &State, type_: EventType, reason: &'static str, message: String) {
    cluster.publish(Event::about(&*state.backup, type_, reason, message)).await;
}

/// Creates `job`, adopting an existing Job of the same name when it belongs to this Backup.
async fn create_job<C: Cluster>(cluster: &C, state: &State, job: Job) -> Result<Option<Arc<Job>>, BackupError> {
    let name = job.metadata.name.clone().unwrap_or_default();
    match cluster.create(Arc::new(job)).await {
        Ok(created) => Ok(Some(created)),
        Err(ClusterError::AlreadyExists { .. }) => {
            let key = ObjectKey::new(&state.key.namespace, &name);
            let existing =
                cluster.get::<Job>(&key).await.map_err(|source| BackupError::CreateJob { job: name, source })?;
            // A Job left by an earlier Backup of the same name is garbage collected; wait for it.
            Ok(owned_job(existing, &state.backup))
        }
        Err(source) => Err(BackupError::CreateJob { job: name, source }),
    }
}

async fn perform<C: Cluster>(
    cluster: &C,
    settings: &Settings,
    state: &mut State,
    step: Step,
) -> Result<Next, BackupError> {
    let now = cluster.now();
    match step {
        Step::Wait { requeue_after } => Ok(Next::Done(Action::after(requeue_after))),
        Step::Refresh => refresh(cluster, state).await,
        Step::ReportUnsupported { message } => {
            let next =
                write_status(cluster, state, |s| unsupported::record(&mut s.conditions, now, message.as_deref()))
                    .await?;
            if let Some(message) = message {
                event(cluster, state, EventType::Normal, unsupported::REASON, message).await;
            }
            Ok(next)
        }
        Step::MarkInvalid { message } => {
            let msg = message.clone();
            let next = write_status(cluster, state, |s| {
                s.phase = Some(BackupPhase::Invalid);
                set_condition(&mut s.conditions, Condition::new("Invalid", now, Some("InvalidSpec"), Some(&msg)));
            })
            .await?;
            event(cluster, state, EventType::Warning, "InvalidSpec", message).await;
            Ok(next)
        }
        Step::AddFinalizer => {
            state.backup = write_meta(cluster, state, |b| {
                b.metadata.finalizers.get_or_insert_with(Vec::new).push(FINALIZER.into())
            })
            .await?;
            state.backup_fresh = true;
            Ok(Next::Continue)
        }
        Step::CreateJob { attempt } => {
            // Boxed: a Job is kilobytes, and inline its future would size (and be copied with) every reconcile.
            let created = Box::pin(create_job(cluster, state, job::job_for(&state.backup, attempt, settings))).await?;
            Ok(follow_created_job(state, created, settings))
        }
        Step::MarkScheduled => {
            let job = name_of(&state.job);
            let attempt = state.backup.retry_records().len();
            let next = write_status(cluster, state, |s| mark_scheduled(s, &job, now)).await?;
            let what = if attempt == 0 { String::new() } else { format!(" (retry {attempt})") };
            event(cluster, state, EventType::Normal, "Scheduled", format!("created Job {job}{what}")).await;
            Ok(next)
        }
        Step::RecordFailure { failure, retry_at } => {
            let retry_num = state.backup.retry_records().len() as i32 + 1;
            let f = failure.clone();
            let next = write_status(cluster, state, |s| match retry_at {
                Some(due) => {
                    s.phase = Some(BackupPhase::Retrying);
                    s.backoff_retry_status.get_or_insert_with(Vec::new).push(BackoffRetryRecord {
                        retry_num,
                        detect_failed_at: Some(to_k8s(now)),
                        expected_retry_at: Some(to_k8s(due)),
                        real_retry_at: None,
                        retry_reason: Some(f.reason.clone()),
                        original_reason: Some(f.message.clone()),
                    });
                    set_condition(
                        &mut s.conditions,
                        Condition::new("Retrying", now, Some(&f.reason), Some(&f.message)),
                    );
                }
                None => {
                    s.phase = Some(BackupPhase::Failed);
                    set_condition(&mut s.conditions, Condition::new("Failed", now, Some(&f.reason), Some(&f.message)));
                }
            })
            .await?;
            match retry_at {
                Some(due) => {
                    let msg = format!(
                        "{}: {}; retry {retry_num} at {}",
                        failure.reason,
                        failure.message,
                        crate::api::time::rfc3339(due)
                    );
                    event(cluster, state, EventType::Warning, "BackupRetrying", msg).await;
                }
                None => {
                    let msg = format!("{}: {}", failure.reason, failure.message);
                    event(cluster, state, EventType::Warning, "BackupFailed", msg).await;
                }
            }
            Ok(next)
        }
        Step::DeleteJob { role, uid } => {
            let name = state.job_name(role);
            let key = ObjectKey::new(&state.key.namespace, &name);
            let pre = Precondition { uid, resource_version: None };
            let left = match cluster.delete::<Job>(&key, &pre).await {
                Ok(_) | Err(ClusterError::NotFound { .. }) => None,
                // The Job of that name is not the one the cache shows (a stalled watch missed a retry's new Job):
                // look at the one that is there instead of taking it for gone.
                Err(ClusterError::Conflict { .. }) => {
                    cluster.get::<Job>(&key).await.map_err(|source| BackupError::DeleteJob { job: name, source })?
                }
                Err(source) => return Err(BackupError::DeleteJob { job: name, source }),
            };
            let left = owned_job(left, &state.backup);
            match role {
                JobRole::Backup => {
                    state.job = left;
                    state.pods_fresh = false;
                }
                JobRole::Clean => {
                    state.clean_job = left;
                    state.clean_pods.clear();
                    state.clean_pods_fresh = false;
                }
            }
            Ok(Next::Continue)
        }
        Step::ListPods { role } => {
            let (component, mut job) = match role {
                JobRole::Backup => (component::BACKUP, state.job.clone()),
                JobRole::Clean => (component::CLEAN, state.clean_job.clone()),
            };
            // A log command's Job keeps its name from one run to the next: a cache that still shows the last run
            // would be judged as this one. Its verdict rests on the Job read live too.
            if let (JobRole::Backup, Some(held), true) = (role, &job, log_backup::is_log(&state.backup.spec)) {
                let key = ObjectKey::of(&**held);
                let live = cluster.get::<Job>(&key).await;
                let live = live.map_err(|source| BackupError::ListPods { key: state.key.clone(), source })?;
                job = live;
                state.job.clone_from(&job);
            }
            let pods: Vec<Arc<Pod>> = cluster
                .list::<Pod>(&state.key.namespace, &pod_selector(&state.key.name, component))
                .await
                .map_err(|source| BackupError::ListPods { key: state.key.clone(), source })?
                .into_iter()
                .filter(|p| job.as_ref().is_none_or(|j| owned_by(p, j)))
                .collect();
            match role {
                JobRole::Backup => {
                    state.pods = pods;
                    state.pods_fresh = true;
                }
                JobRole::Clean => {
                    state.clean_pods = pods;
                    state.clean_pods_fresh = true;
                }
            }
            Ok(Next::Continue)
        }
        Step::CreateCleanJob => {
            match Box::pin(create_job(cluster, state, job::clean_job_for(&state.backup, settings))).await {
                Ok(Some(created)) => {
                    state.clean_job = Some(created);
                    state.clean_pods.clear();
                    Ok(Next::Continue)
                }
                Ok(None) => Ok(Next::Done(Action::requeue(settings.resync))),
                Err(BackupError::CreateJob { source: ClusterError::Forbidden { message, .. }, .. }) => {
                    let path = state.backup.status.as_ref().and_then(|s| s.backup_path.clone()).unwrap_or_default();
                    let msg = format!("cannot create the clean Job ({message}); the data at {path} is retained");
                    event(cluster, state, EventType::Warning, "CleanSkipped", msg).await;
                    state.backup = write_meta(cluster, state, remove_finalizer).await?;
                    Ok(Next::Done(Action::await_change()))
                }
                Err(e) => Err(e),
            }
        }
        Step::MarkCleaning => {
            let job = name_of(&state.clean_job);
            let next = write_status(cluster, state, |s| {
                s.phase = Some(BackupPhase::Cleaning);
                set_condition(&mut s.conditions, Condition::new("Cleaning", now, Some("CleanJobCreated"), Some(&job)));
            })
            .await?;
            event(
                cluster,
                state,
                EventType::Normal,
                "Cleaning",
                format!("created Job {job} to delete the backup data"),
            )
            .await;
            Ok(next)
        }
        Step::MarkCleanFailed { failure } => {
            let f = failure.clone();
            let next = write_status(cluster, state, |s| {
                s.phase = Some(BackupPhase::CleanFailed);
                // Always a new transition time: the retry delay counts from the latest failure.
                let conds = s.conditions.get_or_insert_with(Vec::new);
                conds.retain(|c| c.type_ != "CleanFailed");
                conds.push(Condition::new("CleanFailed", now, Some(&f.reason), Some(&f.message)));
            })
            .await?;
            let msg = format!(
                "{}: {}; retrying in {}",
                failure.reason,
                failure.message,
                crate::api::duration::format_duration(settings.clean_retry)
            );
            event(cluster, state, EventType::Warning, "CleanFailed", msg).await;
            Ok(next)
        }
        // Boxed: inline, the log steps' futures would size (and be copied with) every reconcile's.
        Step::Log(step) => Box::pin(log_perform::perform(cluster, settings, state, step)).await,
        Step::RemoveFinalizer { cleaned } => {
            if cleaned {
                let path = state.backup.status.as_ref().and_then(|s| s.backup_path.clone()).unwrap_or_default();
                event(cluster, state, EventType::Normal, "Cleaned", format!("deleted the backup data at {path}")).await;
            }
            state.backup = write_meta(cluster, state, remove_finalizer).await?;
            Ok(Next::Done(Action::await_change()))
        }
    }
}

/// The name of a Job the reconcile holds, for Events and conditions (empty when none).
fn name_of(job: &Option<Arc<Job>>) -> String {
    job.as_ref().and_then(|j| j.metadata.name.clone()).unwrap_or_default()
}

/// The Backup's Job was created (or one of this Backup's adopted): it is the one followed from now on, its pods
/// not yet seen. `None` (a Job of that name left by another Backup): look again later.
fn follow_created_job(state: &mut State, created: Option<Arc<Job>>, settings: &Settings) -> Next {
    match created {
        Some(created) => {
            state.job = Some(created);
            state.pods.clear();
            state.pods_fresh = false;
            Next::Continue
        }
        None => Next::Done(Action::requeue(settings.resync)),
    }
}

/// Phase Scheduled for the attempt whose Job `job` was created; a retry records when it really started.
fn mark_scheduled(s: &mut BackupStatus, job: &str, now: chrono::DateTime<chrono::Utc>) {
    if s.phase == Some(BackupPhase::Retrying)
        && let Some(last) = s.backoff_retry_status.as_mut().and_then(|r| r.last_mut())
    {
        last.real_retry_at = Some(to_k8s(now));
    }
    s.phase = Some(BackupPhase::Scheduled);
    set_condition(&mut s.conditions, Condition::new("Scheduled", now, Some("JobCreated"), Some(job)));
}

fn remove_finalizer(b: &mut Backup) {
    if let Some(f) = b.metadata.finalizers.as_mut() {
        f.retain(|x| x != FINALIZER);
    }
}
