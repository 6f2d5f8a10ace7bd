//! The restore controller's decisions (pure): validate, create the Job, follow it to Complete or Failed.

use chrono::{DateTime, Utc};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use std::time::Duration;

use crate::api::condition::find_condition;
use crate::api::restore::{Restore, RestorePhase};
use crate::api::{unsupported, validation};
use crate::controllers::Settings;
use crate::controllers::attempt::{Follow, Sight, follow};

use super::pitr::Reach;

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
    /// For a PITR restore: whether its point lies within what the namespace's Backups cover (see
    /// [`super::pitr::reach`]).
    pub pitr: Reach,
    /// `pitr` was judged on a live list of the Backups in this reconcile.
    pub backups_fresh: bool,
}

/// The one next step.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// Report the fields kept but not acted on in the `Unsupported` condition and an Event (`None`: remove it).
    ReportUnsupported {
        message: Option<String>,
    },
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
    /// List the namespace's Backups live (before refusing a PITR restore's point).
    ListBackups,
    Wait {
        requeue_after: Option<Duration>,
    },
}

/// Decides the next step for a Restore.
pub fn plan(o: &Observed) -> Step {
    if o.restore.metadata.deletion_timestamp.is_some() {
        return Step::Wait { requeue_after: None };
    }
    let conditions = o.restore.status.as_ref().map_or(&None, |s| &s.conditions);
    if let Some(message) = unsupported::pending(conditions, &unsupported::restore(o.restore)) {
        return Step::ReportUnsupported { message };
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
        // A PITR restore's point is checked against the Backups before any Job runs, on a live list (this
        // controller caches no Backups, and a cache could show an old checkpoint); outside, it is refused.
        if o.restore.is_pitr() && !o.backups_fresh {
            return Step::ListBackups;
        }
        if let Reach::Outside(message) = &o.pitr {
            return Step::MarkFailed { reason: "RestorePointOutOfRange".into(), message: message.clone() };
        }
        return Step::CreateJob;
    };
    let sight = Sight {
        job,
        pods: &o.pods,
        pods_fresh: o.pods_fresh,
        object_fresh: o.restore_fresh,
        unscheduled: matches!(o.restore.phase(), None | Some(RestorePhase::Invalid)),
        unreported: "the restore Job succeeded but backup-manager did not report the restore Complete",
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
    use crate::api::storage::{S3StorageProvider, StorageProvider};
    use crate::api::tools::BrConfig;
    use chrono::TimeZone;

    fn pitr_restore() -> Restore {
        let mut r = Restore::new("pitr", Default::default());
        r.spec.br = Some(Box::new(BrConfig { cluster: "demo1".into(), ..Default::default() }));
        r.spec.storage = StorageProvider {
            s3: Some(Box::new(S3StorageProvider {
                provider: "aws".into(),
                bucket: Some("b".into()),
                ..Default::default()
            })),
            ..Default::default()
        };
        r.spec.restore_mode = Some("pitr".into());
        r.spec.pitr_restored_ts = Some("2026-01-02 03:04:05+0000".into());
        r
    }

    #[test]
    fn a_pitr_restore_runs_within_reach_and_is_refused_outside_on_a_live_list() {
        // Issue 15: a PITR restore runs its Job when its point is covered; a point outside is refused (Failed, with
        // the range), judged on a live list of the Backups.
        let settings = Settings::default();
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let r = pitr_restore();
        let seen = |pitr, backups_fresh| Observed {
            restore: &r,
            restore_fresh: true,
            job: None,
            pods: vec![],
            pods_fresh: false,
            now,
            settings: &settings,
            pitr,
            backups_fresh,
        };
        assert_eq!(plan(&seen(Reach::Unknown, false)), Step::ListBackups);
        assert_eq!(plan(&seen(Reach::Within, true)), Step::CreateJob);
        assert_eq!(plan(&seen(Reach::Unknown, true)), Step::CreateJob, "a log made elsewhere: br decides");
        assert_eq!(
            plan(&seen(Reach::Outside("out".into()), true)),
            Step::MarkFailed { reason: "RestorePointOutOfRange".into(), message: "out".into() }
        );
    }
}
