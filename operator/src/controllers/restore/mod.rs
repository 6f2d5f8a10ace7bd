//! The restore controller: runs each Restore as a Job and follows it to Complete or Failed.

pub mod job;
pub mod pitr;
pub mod plan;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use std::sync::Arc;

use crate::api::Backup;
use crate::api::condition::{Condition, set_condition};
use crate::api::labels::{self, component};
use crate::api::restore::{Restore, RestorePhase, RestoreStatus};
use crate::api::{names, unsupported};
use crate::cluster::{Cluster, ClusterError, Event, EventType, Labels, ObjectKey};
use crate::controllers::jobs::owned_by;
use crate::controllers::{Action, MAX_STEPS, Settings};

use pitr::{Reach, reach};
use plan::{Observed, Step, plan};

/// Why a Restore reconcile failed; the controller loop retries with backoff.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error("failed to read Restore {key}")]
    Read {
        key: ObjectKey,
        #[source]
        source: ClusterError,
    },
    #[error("failed to update Restore {key}")]
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
    #[error("failed to list pods of Restore {key}")]
    ListPods {
        key: ObjectKey,
        #[source]
        source: ClusterError,
    },
    #[error("failed to list the Backups in the namespace of Restore {key}")]
    ListBackups {
        key: ObjectKey,
        #[source]
        source: ClusterError,
    },
    #[error("reconcile of Restore {key} made no progress after {steps} steps")]
    NoProgress { key: ObjectKey, steps: usize },
}

/// The selector of the pods of a Restore's Job.
pub fn pod_selector(restore_name: &str) -> Labels {
    Labels::from([
        (labels::RESTORE.to_string(), names::label_value(restore_name)),
        (labels::COMPONENT.to_string(), component::RESTORE.to_string()),
    ])
}

struct State {
    key: ObjectKey,
    restore: Restore,
    fresh: bool,
    job: Option<Job>,
    pods: Vec<Pod>,
    pods_fresh: bool,
    /// For a PITR restore, where its point stands once a live list of the Backups was made.
    pitr: Reach,
    backups_fresh: bool,
}

/// Reconciles one Restore, taken from the controller's cache.
pub async fn reconcile<C: Cluster>(
    cluster: &C,
    settings: &Settings,
    restore: Arc<Restore>,
) -> Result<Action, RestoreError> {
    let key = ObjectKey::of(&*restore);
    let job_key = ObjectKey::new(&key.namespace, names::job_name(component::RESTORE, &key.name));
    let job = cluster.cached::<Job>(job_key.borrowed()).map(|j| (*j).clone());
    let pods = cluster
        .cached_list::<Pod>(&key.namespace, &pod_selector(&key.name))
        .into_iter()
        .filter(|p| job.as_ref().is_some_and(|j| owned_by(p, j)))
        .map(|p| (*p).clone())
        .collect();
    let mut state = State {
        key,
        restore: (*restore).clone(),
        fresh: false,
        job,
        pods,
        pods_fresh: false,
        pitr: Reach::Unknown,
        backups_fresh: false,
    };
    let mut conflicts = 0;
    for _ in 0..MAX_STEPS {
        let now = cluster.now();
        let step = plan(&Observed {
            restore: &state.restore,
            restore_fresh: state.fresh,
            job: state.job.as_ref(),
            pods: state.pods.iter().collect(),
            pods_fresh: state.pods_fresh,
            now,
            settings,
            pitr: state.pitr.clone(),
            backups_fresh: state.backups_fresh,
        });
        let result = perform(cluster, settings, &mut state, step).await;
        match result {
            Ok(Some(action)) => return Ok(action),
            Ok(None) => {}
            Err(RestoreError::Write { source: ClusterError::Conflict { .. }, .. }) if conflicts < 3 => {
                conflicts += 1;
                if refresh(cluster, &mut state).await?.is_some() {
                    return Ok(Action::await_change());
                }
            }
            Err(RestoreError::Write { source: ClusterError::NotFound { .. }, .. }) => return Ok(Action::await_change()),
            Err(e) => return Err(e),
        }
    }
    Err(RestoreError::NoProgress { key: state.key, steps: MAX_STEPS })
}

/// Re-reads the Restore live; `Some(())` when it is gone.
async fn refresh<C: Cluster>(cluster: &C, state: &mut State) -> Result<Option<()>, RestoreError> {
    match cluster.get::<Restore>(&state.key).await {
        Ok(Some(r)) => {
            state.restore = Arc::unwrap_or_clone(r);
            state.fresh = true;
            Ok(None)
        }
        Ok(None) => Ok(Some(())),
        Err(source) => Err(RestoreError::Read { key: state.key.clone(), source }),
    }
}

async fn write_status<C: Cluster>(
    cluster: &C,
    state: &mut State,
    edit: impl FnOnce(&mut RestoreStatus),
) -> Result<(), RestoreError> {
    let mut r = state.restore.clone();
    edit(r.status.get_or_insert_with(Default::default));
    state.restore = Arc::unwrap_or_clone(
        cluster
            .replace_status(Arc::new(r))
            .await
            .map_err(|source| RestoreError::Write { key: state.key.clone(), source })?,
    );
    state.fresh = true;
    Ok(())
}

async fn perform<C: Cluster>(
    cluster: &C,
    settings: &Settings,
    state: &mut State,
    step: Step,
) -> Result<Option<Action>, RestoreError> {
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
                .map_err(|source| RestoreError::ListPods { key: state.key.clone(), source })?;
            let owned = pods.into_iter().filter(|p| state.job.as_ref().is_some_and(|j| owned_by(p, j)));
            state.pods = owned.map(Arc::unwrap_or_clone).collect();
            state.pods_fresh = true;
        }
        Step::ListBackups => {
            let backups = cluster
                .list::<Backup>(&state.key.namespace, &Labels::new())
                .await
                .map_err(|source| RestoreError::ListBackups { key: state.key.clone(), source })?;
            state.pitr = reach(&state.restore, &backups.iter().map(|b| &**b).collect::<Vec<_>>());
            state.backups_fresh = true;
        }
        Step::ReportUnsupported { message } => {
            write_status(cluster, state, |s| unsupported::record(&mut s.conditions, now, message.as_deref())).await?;
            if let Some(message) = message {
                let event = Event::about(&state.restore, EventType::Normal, unsupported::REASON, message);
                cluster.publish(event).await;
            }
        }
        Step::MarkInvalid { message } => {
            write_status(cluster, state, |s| {
                s.phase = Some(RestorePhase::Invalid);
                set_condition(&mut s.conditions, Condition::new("Invalid", now, Some("InvalidSpec"), Some(&message)));
            })
            .await?;
            cluster.publish(Event::about(&state.restore, EventType::Warning, "InvalidSpec", message)).await;
        }
        Step::CreateJob => {
            let job = job::job_for(&state.restore, settings);
            let name = job.metadata.name.clone().unwrap_or_default();
            match cluster.create(Arc::new(job)).await {
                Ok(created) => state.job = Some(Arc::unwrap_or_clone(created)),
                Err(ClusterError::AlreadyExists { .. }) => {
                    let key = ObjectKey::new(&state.key.namespace, &name);
                    state.job = cluster
                        .get::<Job>(&key)
                        .await
                        .map_err(|source| RestoreError::CreateJob { job: name, source })?
                        .map(Arc::unwrap_or_clone);
                    if state.job.is_none() {
                        return Ok(Some(Action::requeue(settings.resync)));
                    }
                }
                Err(source) => return Err(RestoreError::CreateJob { job: name, source }),
            }
        }
        Step::MarkScheduled => {
            let job = state.job.as_ref().and_then(|j| j.metadata.name.clone()).unwrap_or_default();
            write_status(cluster, state, |s| {
                s.phase = Some(RestorePhase::Scheduled);
                set_condition(&mut s.conditions, Condition::new("Scheduled", now, Some("JobCreated"), Some(&job)));
            })
            .await?;
            cluster
                .publish(Event::about(&state.restore, EventType::Normal, "Scheduled", format!("created Job {job}")))
                .await;
        }
        Step::MarkFailed { reason, message } => {
            write_status(cluster, state, |s| {
                s.phase = Some(RestorePhase::Failed);
                set_condition(&mut s.conditions, Condition::new("Failed", now, Some(&reason), Some(&message)));
            })
            .await?;
            let msg = format!("{reason}: {message}");
            cluster.publish(Event::about(&state.restore, EventType::Warning, "RestoreFailed", msg)).await;
        }
    }
    Ok(None)
}
