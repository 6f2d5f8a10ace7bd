//! The backup controller's pure decisions, step by step through a Backup's life.

mod support;

use operator::api::{BackupPhase, CleanPolicy};
use operator::controllers::Settings;
use operator::controllers::backup::plan::{JobRole, Observed, Step, plan};
use std::time::Duration;
use support::builders::{BackupBuilder, JobBuilder, PodBuilder, t};

fn observe<'a>(
    backup: &'a operator::api::Backup,
    fresh: bool,
    job: Option<&'a k8s_openapi::api::batch::v1::Job>,
    pods: Vec<&'a k8s_openapi::api::core::v1::Pod>,
    now: chrono::DateTime<chrono::Utc>,
    settings: &'a Settings,
) -> Observed<'a> {
    Observed {
        backup,
        backup_fresh: fresh,
        job,
        pods,
        clean_job: None,
        clean_pods: vec![],
        pods_fresh: false,
        now,
        settings,
    }
}

#[test]
fn invalid_spec_is_recorded_once_and_nothing_runs() {
    let s = Settings::default();
    let b = BackupBuilder::new("demo").spec(|sp| sp.br.as_mut().unwrap().cluster.clear()).build();
    let Step::MarkInvalid { message } = plan(&observe(&b, false, None, vec![], t(0), &s)) else { panic!() };
    assert_eq!(message, "spec.br.cluster: must name the TidbCluster to back up");
    let mut recorded = b.clone();
    let status = recorded.status.get_or_insert_with(Default::default);
    status.phase = Some(BackupPhase::Invalid);
    operator::api::condition::set_condition(
        &mut status.conditions,
        operator::api::Condition::new("Invalid", t(0), Some("InvalidSpec"), Some(&message)),
    );
    assert_eq!(plan(&observe(&recorded, false, None, vec![], t(1), &s)), Step::Wait { requeue_after: None });
}

#[test]
fn finalizer_comes_before_the_job_when_data_must_be_cleaned() {
    let s = Settings::default();
    let b = BackupBuilder::new("demo").clean_policy(CleanPolicy::Delete).build();
    assert_eq!(plan(&observe(&b, false, None, vec![], t(0), &s)), Step::AddFinalizer);
    let b = BackupBuilder::new("demo").clean_policy(CleanPolicy::Delete).finalizer().build();
    assert_eq!(plan(&observe(&b, false, None, vec![], t(0), &s)), Step::CreateJob { attempt: 0 });
    let retain = BackupBuilder::new("demo").build();
    assert_eq!(
        plan(&observe(&retain, false, None, vec![], t(0), &s)),
        Step::CreateJob { attempt: 0 },
        "Retain needs no finalizer"
    );
}

#[test]
fn a_created_job_marks_the_backup_scheduled_then_waits_for_the_pod() {
    let s = Settings::default();
    let b = BackupBuilder::new("demo").build();
    let job = JobBuilder::backup(&b, 0).created(t(0)).build();
    assert_eq!(plan(&observe(&b, false, Some(&job), vec![], t(0), &s)), Step::MarkScheduled);
    let b = BackupBuilder::new("demo").phase(BackupPhase::Scheduled).build();
    let pod = PodBuilder::of(&job, t(0)).build();
    assert_eq!(
        plan(&observe(&b, false, Some(&job), vec![&pod], t(1), &s)),
        Step::Wait { requeue_after: Some(Duration::from_secs(540)) }
    );
}

#[test]
fn a_pod_stuck_in_container_creating_fails_the_attempt_and_schedules_a_retry() {
    let s = Settings::default();
    let b = BackupBuilder::new("demo").phase(BackupPhase::Scheduled).build();
    let job = JobBuilder::backup(&b, 0).created(t(0)).build();
    let pod = PodBuilder::of(&job, t(0)).build();
    assert_eq!(
        plan(&observe(&b, false, Some(&job), vec![&pod], t(10), &s)),
        Step::Refresh,
        "confirm live before failing"
    );
    let Step::RecordFailure { failure, retry_at } = plan(&observe(&b, true, Some(&job), vec![&pod], t(10), &s)) else {
        panic!()
    };
    assert_eq!(failure.reason, "PodStuck");
    assert!(failure.message.contains("ContainerCreating"), "{}", failure.message);
    assert_eq!(retry_at, Some(t(15)), "first retry after minRetryDuration (300s)");
}

#[test]
fn retries_wait_for_their_time_and_replace_the_old_job() {
    let s = Settings::default();
    let b = BackupBuilder::new("demo").retried(t(10), t(15)).build();
    let old = JobBuilder::backup(&b, 0).build();
    assert_eq!(
        plan(&observe(&b, false, Some(&old), vec![], t(11), &s)),
        Step::DeleteJob { role: JobRole::Backup, uid: Some("job-0".into()) }
    );
    assert_eq!(
        plan(&observe(&b, false, None, vec![], t(11), &s)),
        Step::Wait { requeue_after: Some(Duration::from_secs(240)) }
    );
    assert_eq!(plan(&observe(&b, false, None, vec![], t(15), &s)), Step::CreateJob { attempt: 1 });
    let new = JobBuilder::backup(&b, 1).created(t(15)).build();
    assert_eq!(plan(&observe(&b, false, Some(&new), vec![], t(15), &s)), Step::MarkScheduled);
}

#[test]
fn exhausted_retries_fail_the_backup_and_stop_its_job() {
    let s = Settings::default();
    let b =
        BackupBuilder::new("demo").retried(t(10), t(15)).retried(t(30), t(40)).phase(BackupPhase::Scheduled).build();
    let job = JobBuilder::backup(&b, 2).created(t(40)).failed().build();
    let Step::RecordFailure { retry_at, failure } = plan(&observe(&b, true, Some(&job), vec![], t(45), &s)) else {
        panic!()
    };
    assert_eq!(retry_at, None, "maxRetryTimes (2) reached");
    assert_eq!(failure.reason, "BackoffLimitExceeded");
    let failed = BackupBuilder::new("demo").phase(BackupPhase::Failed).build();
    let stuck = JobBuilder::backup(&failed, 0).build();
    assert_eq!(
        plan(&observe(&failed, false, Some(&stuck), vec![], t(50), &s)),
        Step::DeleteJob { role: JobRole::Backup, uid: Some("job-0".into()) }
    );
}

#[test]
fn deletion_stops_the_backup_then_cleans_then_releases() {
    let s = Settings::default();
    let running = BackupBuilder::new("demo")
        .clean_policy(CleanPolicy::Delete)
        .finalizer()
        .started(t(1))
        .phase(BackupPhase::Running)
        .deleting(t(5))
        .build();
    let job = JobBuilder::backup(&running, 0).build();
    let mut o = observe(&running, false, Some(&job), vec![], t(5), &s);
    assert_eq!(plan(&o), Step::DeleteJob { role: JobRole::Backup, uid: Some("job-0".into()) });
    o.job = None;
    assert_eq!(plan(&o), Step::Refresh);
    o.backup_fresh = true;
    assert_eq!(plan(&o), Step::ConfirmPodsGone);
    o.pods_fresh = true;
    assert_eq!(plan(&o), Step::CreateCleanJob);
    let clean = JobBuilder::clean(&running).created(t(6)).build();
    o.clean_job = Some(&clean);
    assert_eq!(plan(&o), Step::MarkCleaning);
    let done = JobBuilder::clean(&running).created(t(6)).succeeded().build();
    o.clean_job = Some(&done);
    assert_eq!(plan(&o), Step::RemoveFinalizer { cleaned: true });
}

#[test]
fn a_stuck_clean_job_is_reported_and_retried_never_wedged() {
    let s = Settings::default();
    let b = BackupBuilder::new("demo")
        .clean_policy(CleanPolicy::Delete)
        .finalizer()
        .complete(t(1))
        .phase(BackupPhase::Cleaning)
        .deleting(t(60))
        .build();
    let clean = JobBuilder::clean(&b).created(t(60)).build();
    let pod = PodBuilder::of(&clean, t(60)).build();
    let o = Observed {
        backup: &b,
        backup_fresh: true,
        job: None,
        pods: vec![],
        clean_job: Some(&clean),
        clean_pods: vec![&pod],
        pods_fresh: true,
        now: t(71),
        settings: &s,
    };
    let Step::MarkCleanFailed { failure } = plan(&o) else { panic!("{:?}", plan(&o)) };
    assert_eq!(failure.reason, "PodStuck");
    let failed = BackupBuilder::new("demo")
        .clean_policy(CleanPolicy::Delete)
        .finalizer()
        .complete(t(1))
        .phase(BackupPhase::CleanFailed)
        .deleting(t(60))
        .build();
    let o = Observed { backup: &failed, ..o };
    assert_eq!(plan(&o), Step::DeleteJob { role: JobRole::Clean, uid: Some("clean-job".into()) });
}

#[test]
fn a_backup_that_never_ran_is_released_without_cleaning() {
    let s = Settings::default();
    let b = BackupBuilder::new("demo")
        .clean_policy(CleanPolicy::Delete)
        .finalizer()
        .phase(BackupPhase::Scheduled)
        .deleting(t(5))
        .build();
    let o = Observed {
        backup: &b,
        backup_fresh: true,
        job: None,
        pods: vec![],
        clean_job: None,
        clean_pods: vec![],
        pods_fresh: false,
        now: t(5),
        settings: &s,
    };
    assert_eq!(plan(&o), Step::RemoveFinalizer { cleaned: false });
}

#[test]
fn on_failure_policy_cleans_only_failed_backups() {
    let s = Settings::default();
    let ok = BackupBuilder::new("demo")
        .clean_policy(CleanPolicy::OnFailure)
        .finalizer()
        .complete(t(1))
        .deleting(t(5))
        .build();
    let o = Observed {
        backup: &ok,
        backup_fresh: true,
        job: None,
        pods: vec![],
        clean_job: None,
        clean_pods: vec![],
        pods_fresh: true,
        now: t(5),
        settings: &s,
    };
    assert_eq!(plan(&o), Step::RemoveFinalizer { cleaned: false });
    let failed = BackupBuilder::new("demo")
        .clean_policy(CleanPolicy::OnFailure)
        .finalizer()
        .started(t(1))
        .phase(BackupPhase::Failed)
        .deleting(t(5))
        .build();
    let o = Observed { backup: &failed, ..o };
    assert_eq!(plan(&o), Step::CreateCleanJob);
}
