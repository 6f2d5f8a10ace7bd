//! The compact controller's decisions (pure): validate, create the Job, follow it to Complete or Failed.

use chrono::{DateTime, Utc};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use std::time::Duration;

use crate::api::compact::{CompactBackup, CompactState};
use crate::api::{unsupported, validation};
use crate::controllers::Settings;
use crate::controllers::attempt::{Follow, Sight, follow, job_finished};

/// Everything the compact controller knows when it decides.
#[derive(Clone, Debug)]
pub struct Observed<'a> {
    pub compact: &'a CompactBackup,
    /// The CompactBackup came from a live read or a write response in this reconcile.
    pub compact_fresh: bool,
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
    /// Report the fields kept but not acted on in the `Unsupported` condition and an Event (`None`: remove it).
    ReportUnsupported {
        message: Option<String>,
    },
    /// The spec cannot run: state Failed with the problems (TiDB Operator's verdict), an `Invalid` condition.
    MarkInvalid {
        message: String,
    },
    CreateJob,
    MarkScheduled,
    /// The Job failed (its backoff limit spent), or its pod never started: state Failed. The schedule that made it
    /// runs the same range again in a new CompactBackup.
    MarkFailed {
        reason: String,
        message: String,
    },
    /// A Failed compaction's Job still runs (a pod stuck Pending): delete it, so nothing works for it any more.
    DeleteJob,
    Refresh,
    ListPods,
    Wait {
        requeue_after: Option<Duration>,
    },
}

/// The problems of `compact`, as one message (none when it can run).
fn invalid(compact: &CompactBackup) -> Option<String> {
    let errors = validation::compact(compact);
    (!errors.is_empty()).then(|| validation::summary(&errors))
}

/// Decides the next step for a CompactBackup.
pub fn plan(o: &Observed) -> Step {
    let c = o.compact;
    if c.metadata.deletion_timestamp.is_some() {
        return Step::Wait { requeue_after: None };
    }
    let conditions = c.status.as_ref().map_or(&None, |s| &s.conditions);
    if let Some(message) = unsupported::pending(conditions, &unsupported::compact(c)) {
        return Step::ReportUnsupported { message };
    }
    match c.state() {
        Some(CompactState::Complete) => return Step::Wait { requeue_after: None },
        Some(CompactState::Failed) => {
            return match o.job {
                Some(job) if !job_finished(job) && job.metadata.deletion_timestamp.is_none() => Step::DeleteJob,
                _ => Step::Wait { requeue_after: None },
            };
        }
        _ => {}
    }
    if let Some(message) = invalid(c) {
        return Step::MarkInvalid { message };
    }
    let Some(job) = o.job else {
        return Step::CreateJob;
    };
    let sight = Sight {
        job,
        pods: &o.pods,
        pods_fresh: o.pods_fresh,
        object_fresh: o.compact_fresh,
        unscheduled: c.state().is_none(),
        unreported: "the compact Job succeeded but backup-manager did not report the compaction Complete",
        now: o.now,
        pod_start_timeout: o.settings.pod_start_timeout,
    };
    match follow(&sight) {
        Follow::ListPods => Step::ListPods,
        Follow::Refresh => Step::Refresh,
        Follow::Failed { reason, message } => Step::MarkFailed { reason, message },
        Follow::MarkScheduled => Step::MarkScheduled,
        Follow::Wait { requeue_after } => Step::Wait { requeue_after },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::compact::{CompactSpec, CompactStatus};
    use crate::api::storage::{S3StorageProvider, StorageProvider};
    use chrono::TimeZone;
    use k8s_openapi::api::batch::v1::{JobCondition, JobStatus};

    fn compact(state: Option<&str>) -> CompactBackup {
        let spec = CompactSpec {
            storage: StorageProvider {
                s3: Some(Box::new(S3StorageProvider {
                    provider: "aws".into(),
                    bucket: Some("b".into()),
                    ..Default::default()
                })),
                ..Default::default()
            },
            start_ts: Some("2026-01-01 00:00:00".into()),
            end_ts: Some("2026-01-01 03:00:00".into()),
            ..Default::default()
        };
        let mut c = CompactBackup::new("c", spec);
        c.status = Some(CompactStatus { state: state.map(Into::into), ..Default::default() });
        c
    }

    fn failed_job() -> Job {
        let condition = JobCondition {
            type_: "Failed".into(),
            status: "True".into(),
            reason: Some("BackoffLimitExceeded".into()),
            ..Default::default()
        };
        Job {
            status: Some(JobStatus { conditions: Some(vec![condition]), ..Default::default() }),
            ..Default::default()
        }
    }

    fn observe<'a>(c: &'a CompactBackup, job: Option<&'a Job>, settings: &'a Settings, fresh: bool) -> Observed<'a> {
        let now = Utc.with_ymd_and_hms(2026, 1, 2, 0, 0, 0).unwrap();
        Observed { compact: c, compact_fresh: fresh, job, pods: vec![], pods_fresh: false, now, settings }
    }

    #[test]
    fn a_compaction_runs_its_job_and_fails_only_when_the_job_spent_its_retries_on_a_live_read() {
        let settings = Settings::default();
        let c = compact(None);
        assert_eq!(plan(&observe(&c, None, &settings, false)), Step::CreateJob);
        let job = failed_job();
        assert_eq!(plan(&observe(&c, Some(&job), &settings, false)), Step::Refresh);
        assert!(matches!(
            plan(&observe(&c, Some(&job), &settings, true)),
            Step::MarkFailed { reason, .. } if reason == "BackoffLimitExceeded"
        ));
    }

    #[test]
    fn a_range_that_cannot_be_read_fails_the_compaction_with_the_field_named() {
        let settings = Settings::default();
        let mut c = compact(None);
        c.spec.end_ts = Some("yesterday".into());
        let Step::MarkInvalid { message } = plan(&observe(&c, None, &settings, false)) else { panic!() };
        assert!(message.starts_with("spec.endTs: "), "{message}");
    }

    #[test]
    fn a_finished_compaction_waits_and_a_failed_one_leaves_no_running_job() {
        let settings = Settings::default();
        let running = Job::default();
        let c = compact(Some("Complete"));
        assert_eq!(plan(&observe(&c, Some(&running), &settings, false)), Step::Wait { requeue_after: None });
        let c = compact(Some("Failed"));
        assert_eq!(plan(&observe(&c, Some(&running), &settings, false)), Step::DeleteJob);
        let done = failed_job();
        assert_eq!(plan(&observe(&c, Some(&done), &settings, false)), Step::Wait { requeue_after: None });
    }
}
