//! The restore controller's decisions (pure): validate, create the Job, follow it to Complete or Failed.

use chrono::{DateTime, Utc};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use std::time::Duration;

use crate::api::condition::find_condition;
use crate::api::restore::{Restore, RestorePhase};
use crate::api::validation;
use crate::controllers::Settings;
use crate::controllers::attempt::{AttemptState, attempt_state, until};

/// Everything the restore controller knows when it decides.
#[derive(Clone, Debug)]
pub struct Observed<'a> {
    pub restore: &'a Restore,
    /// The Restore came from a live read or a write response in this reconcile.
    pub restore_fresh: bool,
    pub job: Option<&'a Job>,
    pub pods: Vec<&'a Pod>,
    /// `pods` came from a live list (needed before calling a pod stuck or missing).
    pub pods_fresh: bool,
    pub now: DateTime<Utc>,
    pub settings: &'a Settings,
}

/// The one next step.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    MarkInvalid {
        message: String,
    },
    CreateJob,
    MarkScheduled,
    /// The Job failed, or its pod never started: phase Failed (restores are not retried: a half-applied restore
    /// needs a human).
    MarkFailed {
        reason: String,
        message: String,
    },
    Refresh,
    /// List the Job's pods live.
    ListPods,
    Wait {
        requeue_after: Option<Duration>,
    },
}

/// Decides the next step for a Restore.
pub fn plan(o: &Observed) -> Step {
    if o.restore.metadata.deletion_timestamp.is_some() {
        return Step::Wait { requeue_after: None };
    }
    let errors = validation::restore(o.restore);
    if !errors.is_empty() {
        let message = validation::summary(&errors);
        let conds = o.restore.status.as_ref().and_then(|s| s.conditions.clone());
        let recorded = find_condition(&conds, "Invalid").and_then(|c| c.message.clone());
        if o.restore.phase() == Some(RestorePhase::Invalid) && recorded.as_deref() == Some(message.as_str()) {
            return Step::Wait { requeue_after: None };
        }
        return Step::MarkInvalid { message };
    }
    if matches!(o.restore.phase(), Some(RestorePhase::Complete | RestorePhase::Failed)) {
        return Step::Wait { requeue_after: None };
    }
    let Some(job) = o.job else {
        return Step::CreateJob;
    };
    let needs_scheduled = matches!(o.restore.phase(), None | Some(RestorePhase::Invalid));
    match attempt_state(job, &o.pods, o.now, o.settings.pod_start_timeout) {
        AttemptState::Stuck { .. } if !o.pods_fresh => Step::ListPods,
        AttemptState::Succeeded | AttemptState::Failed { .. } | AttemptState::Stuck { .. } if !o.restore_fresh => {
            Step::Refresh
        }
        AttemptState::Succeeded => Step::MarkFailed {
            reason: "StatusNotReported".into(),
            message: "the restore Job succeeded but backup-manager did not report the restore Complete".into(),
        },
        AttemptState::Failed { reason, message } | AttemptState::Stuck { reason, message } => {
            Step::MarkFailed { reason, message }
        }
        AttemptState::Starting { .. } | AttemptState::Running if needs_scheduled => Step::MarkScheduled,
        AttemptState::Starting { stuck_at } => Step::Wait { requeue_after: Some(until(stuck_at, o.now)) },
        AttemptState::Running => Step::Wait { requeue_after: None },
    }
}
