//! The compact controller: runs each CompactBackup as a Job and follows it to Complete or Failed.

pub mod job;
pub mod plan;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use std::sync::Arc;

use crate::api::compact::{CompactBackup, CompactState, CompactStatus};
use crate::api::condition::{Condition, set_condition};
use crate::api::labels::{self, component};
use crate::api::{names, unsupported};
use crate::cluster::{Cluster, ClusterError, Event, EventType, Labels, ObjectKey, Precondition};
use crate::controllers::jobs::owned_by;
use crate::controllers::{Action, MAX_STEPS, Settings};

use plan::{Observed, Step, plan};

/// Why a CompactBackup reconcile failed; the controller loop retries with backoff.
#[derive(Debug, thiserror::Error)]
pub enum CompactError {
    #[error("failed to read CompactBackup {key}")]
    Read {
        key: ObjectKey,
        #[source]
        source: ClusterError,
    },
    #[error("failed to update CompactBackup {key}")]
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
    #[error("failed to list pods of CompactBackup {key}")]
    ListPods {
        key: ObjectKey,
        #[source]
        source: ClusterError,
    },
    #[error("reconcile of CompactBackup {key} made no progress after {steps} steps")]
    NoProgress { key: ObjectKey, steps: usize },
}

/// The selector of the pods of a CompactBackup's Job.
pub fn pod_selector(compact_name: &str) -> Labels {
    Labels::from([
        (labels::COMPACT.to_string(), names::label_value(compact_name)),
        (labels::COMPONENT.to_string(), component::COMPACT.to_string()),
    ])
}

struct State {
    key: ObjectKey,
    compact: CompactBackup,
    fresh: bool,
    job: Option<Job>,
    pods: Vec<Pod>,
    pods_fresh: bool,
}

/// Reconciles one CompactBackup, taken from the controller's cache.
pub async fn reconcile<C: Cluster>(
    cluster: &C,
    settings: &Settings,
    compact: Arc<CompactBackup>,
) -> Result<Action, CompactError> {
    let key = ObjectKey::of(&*compact);
    let job_key = ObjectKey::new(&key.namespace, names::job_name(component::COMPACT, &key.name));
    // A cache that does not show this controller's own latest write (the status, the Job) would plan on the past.
    let own = [
        cluster.awaiting_own_write::<CompactBackup>(key.borrowed()),
        cluster.awaiting_own_write::<Job>(job_key.borrowed()),
    ];
    if let Some(until) = own.into_iter().flatten().max() {
        return Ok(Action::await_own_write(crate::controllers::attempt::until(until, cluster.now())));
    }
    let job = cluster.cached::<Job>(job_key.borrowed()).map(|j| (*j).clone());
    let pods = cluster
        .cached_list::<Pod>(&key.namespace, &pod_selector(&key.name))
        .into_iter()
        .filter(|p| job.as_ref().is_some_and(|j| owned_by(p, j)))
        .map(|p| (*p).clone())
        .collect();
    let mut state = State { key, compact: (*compact).clone(), fresh: false, job, pods, pods_fresh: false };
    let mut conflicts = 0;
    for _ in 0..MAX_STEPS {
        let step = plan(&Observed {
            compact: &state.compact,
            compact_fresh: state.fresh,
            job: state.job.as_ref(),
            pods: state.pods.iter().collect(),
            pods_fresh: state.pods_fresh,
            now: cluster.now(),
            settings,
        });
        match perform(cluster, settings, &mut state, step).await {
            Ok(Some(action)) => return Ok(action),
            Ok(None) => {}
            Err(CompactError::Write { source: ClusterError::Conflict { .. }, .. }) if conflicts < 3 => {
                conflicts += 1;
                if refresh(cluster, &mut state).await?.is_some() {
                    return Ok(Action::await_change());
                }
            }
            Err(CompactError::Write { source: ClusterError::NotFound { .. }, .. }) => return Ok(Action::await_change()),
            Err(e) => return Err(e),
        }
    }
    Err(CompactError::NoProgress { key: state.key, steps: MAX_STEPS })
}

/// Re-reads the CompactBackup live; `Some(())` when it is gone.
async fn refresh<C: Cluster>(cluster: &C, state: &mut State) -> Result<Option<()>, CompactError> {
    match cluster.get::<CompactBackup>(&state.key).await {
        Ok(Some(c)) => {
            state.compact = Arc::unwrap_or_clone(c);
            state.fresh = true;
            Ok(None)
        }
        Ok(None) => Ok(Some(())),
        Err(source) => Err(CompactError::Read { key: state.key.clone(), source }),
    }
}

async fn write_status<C: Cluster>(
    cluster: &C,
    state: &mut State,
    edit: impl FnOnce(&mut CompactStatus),
) -> Result<(), CompactError> {
    let mut c = state.compact.clone();
    edit(c.status.get_or_insert_with(Default::default));
    state.compact = Arc::unwrap_or_clone(
        cluster
            .replace_status(Arc::new(c))
            .await
            .map_err(|source| CompactError::Write { key: state.key.clone(), source })?,
    );
    state.fresh = true;
    Ok(())
}

async fn perform<C: Cluster>(
    cluster: &C,
    settings: &Settings,
    state: &mut State,
    step: Step,
) -> Result<Option<Action>, CompactError> {
    let now = cluster.now();
    match step {
        Step::Wait { requeue_after } => return Ok(Some(Action::after(requeue_after))),
        Step::Refresh => {
            if refresh(cluster, state).await?.is_some() {
                return Ok(Some(Action::await_change()));
            }
        }
        Step::ListPods => {
            let pods = cluster
                .list::<Pod>(&state.key.namespace, &pod_selector(&state.key.name))
                .await
                .map_err(|source| CompactError::ListPods { key: state.key.clone(), source })?;
            let owned = pods.into_iter().filter(|p| state.job.as_ref().is_some_and(|j| owned_by(p, j)));
            state.pods = owned.map(Arc::unwrap_or_clone).collect();
            state.pods_fresh = true;
        }
        Step::ReportUnsupported { message } => {
            write_status(cluster, state, |s| unsupported::record(&mut s.conditions, now, message.as_deref())).await?;
            if let Some(message) = message {
                let event = Event::about(&state.compact, EventType::Normal, unsupported::REASON, message);
                cluster.publish(event).await;
            }
        }
        Step::MarkInvalid { message } => {
            write_status(cluster, state, |s| {
                s.state = Some(CompactState::Failed.to_string());
                s.message = Some(message.clone());
                set_condition(&mut s.conditions, Condition::new("Invalid", now, Some("InvalidSpec"), Some(&message)));
            })
            .await?;
            cluster.publish(Event::about(&state.compact, EventType::Warning, "InvalidSpec", message)).await;
        }
        Step::CreateJob => return create_job(cluster, settings, state).await,
        Step::MarkScheduled => {
            let job = state.job.as_ref().and_then(|j| j.metadata.name.clone()).unwrap_or_default();
            write_status(cluster, state, |s| s.state = Some(CompactState::Scheduled.to_string())).await?;
            let event = Event::about(&state.compact, EventType::Normal, "Scheduled", format!("created Job {job}"));
            cluster.publish(event).await;
        }
        Step::MarkFailed { reason, message } => {
            let msg = format!("{reason}: {message}");
            write_status(cluster, state, |s| {
                s.state = Some(CompactState::Failed.to_string());
                s.message = Some(msg.clone());
            })
            .await?;
            cluster.publish(Event::about(&state.compact, EventType::Warning, "CompactFailed", msg)).await;
        }
        Step::DeleteJob => {
            let Some(job) = state.job.take() else { return Ok(None) };
            let key = ObjectKey::of(&job);
            let precondition = Precondition { uid: job.metadata.uid.clone(), resource_version: None };
            match cluster.delete::<Job>(&key, &precondition).await {
                Ok(_) | Err(ClusterError::NotFound { .. }) => {}
                Err(source) => return Err(CompactError::DeleteJob { job: key.name, source }),
            }
        }
    }
    Ok(None)
}

/// Creates the Job (or adopts it when it exists already); `Some` to end the reconcile.
async fn create_job<C: Cluster>(
    cluster: &C,
    settings: &Settings,
    state: &mut State,
) -> Result<Option<Action>, CompactError> {
    let job = job::job_for(&state.compact, settings);
    let name = job.metadata.name.clone().unwrap_or_default();
    match cluster.create(Arc::new(job)).await {
        Ok(created) => state.job = Some(Arc::unwrap_or_clone(created)),
        Err(ClusterError::AlreadyExists { .. }) => {
            let key = ObjectKey::new(&state.key.namespace, &name);
            state.job = cluster
                .get::<Job>(&key)
                .await
                .map_err(|source| CompactError::CreateJob { job: name, source })?
                .map(Arc::unwrap_or_clone);
            if state.job.is_none() {
                return Ok(Some(Action::requeue(settings.resync)));
            }
        }
        Err(source) => return Err(CompactError::CreateJob { job: name, source }),
    }
    Ok(None)
}
