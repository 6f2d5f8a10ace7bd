//! The backup controller's pure decisions, step by step through a Backup's life.

mod support;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use operator::api::log_backup::{LogCommand, LogSubcommand};
use operator::api::{Backup, BackupPhase, CleanPolicy};
use operator::controllers::Settings;
use operator::controllers::backup::job::log_job_for;
use operator::controllers::backup::plan::{JobRole, LogStep, Observed, Step, plan};
use std::time::Duration;
use support::builders::{BackupBuilder, JobBuilder, PodBuilder, t};

/// A chainable observation: what the controller knows, starting from a cached Backup and nothing else.
struct Seen<'a>(Observed<'a>);

impl<'a> Seen<'a> {
    fn of(backup: &'a Backup, now: chrono::DateTime<chrono::Utc>, settings: &'a Settings) -> Self {
        Seen(Observed {
            backup,
            backup_fresh: false,
            job: None,
            pods: vec![],
            pods_fresh: false,
            clean_job: None,
            clean_pods: vec![],
            clean_pods_fresh: false,
            stop_job: None,
            never_had_job: false,
            now,
            settings,
        })
    }
    fn fresh(mut self) -> Self {
        self.0.backup_fresh = true;
        self
    }
    fn never_had_job(mut self) -> Self {
        self.0.never_had_job = true;
        self
    }
    fn job(mut self, job: &'a Job) -> Self {
        self.0.job = Some(job);
        self
    }
    fn pods(mut self, pods: Vec<&'a Pod>) -> Self {
        self.0.pods = pods;
        self
    }
    fn pods_live(mut self) -> Self {
        self.0.pods_fresh = true;
        self
    }
    fn clean(mut self, job: &'a Job, pods: Vec<&'a Pod>) -> Self {
        self.0.clean_job = Some(job);
        self.0.clean_pods = pods;
        self
    }
    fn stop(mut self, job: &'a Job) -> Self {
        self.0.stop_job = Some(job);
        self
    }
    fn clean_pods_live(mut self) -> Self {
        self.0.clean_pods_fresh = true;
        self
    }
    fn plan(&self) -> Step {
        plan(&self.0)
    }
}

#[test]
fn invalid_spec_is_recorded_once_and_nothing_runs() {
    let s = Settings::default();
    let b = BackupBuilder::new("demo").spec(|sp| sp.br.as_mut().unwrap().cluster.clear()).build();
    let Step::MarkInvalid { message } = Seen::of(&b, t(0), &s).plan() else { panic!() };
    assert_eq!(message, "spec.br.cluster: must name the TidbCluster to back up");
    let mut recorded = b.clone();
    let status = recorded.status.get_or_insert_with(Default::default);
    status.phase = Some(BackupPhase::Invalid);
    operator::api::condition::set_condition(
        &mut status.conditions,
        operator::api::Condition::new("Invalid", t(0), Some("InvalidSpec"), Some(&message)),
    );
    assert_eq!(Seen::of(&recorded, t(1), &s).plan(), Step::Wait { requeue_after: None });
}

#[test]
fn finalizer_comes_before_the_job_when_data_must_be_cleaned() {
    let s = Settings::default();
    let b = BackupBuilder::new("demo").clean_policy(CleanPolicy::Delete).build();
    assert_eq!(Seen::of(&b, t(0), &s).plan(), Step::AddFinalizer);
    let b = BackupBuilder::new("demo").clean_policy(CleanPolicy::Delete).finalizer().build();
    assert_eq!(Seen::of(&b, t(0), &s).fresh().plan(), Step::CreateJob { attempt: 0 });
    let retain = BackupBuilder::new("demo").build();
    assert_eq!(Seen::of(&retain, t(0), &s).fresh().plan(), Step::CreateJob { attempt: 0 }, "Retain needs no finalizer");
}

/// Regression (found by `sim explore` under informer lag): a stale cache showed a retry as due on a Backup that had
/// already failed, and the Job was created again.
/// Regression (TiDB Operator #4980's family, found by generated workloads with the one-writer oracle, seed 63): a
/// user deleted the running backup Job; its pod ran on for its termination grace while the controller created the
/// Job again at once, and the new pod wrote the same files alongside it.
#[test]
fn a_new_job_waits_until_no_pod_of_an_earlier_one_can_still_write() {
    let s = Settings::default();
    let b = BackupBuilder::new("demo").phase(BackupPhase::Running).build();
    let gone = JobBuilder::backup(&b, 0).build();
    let terminating = {
        let mut p = PodBuilder::of(&gone, t(0)).phase("Running").build();
        p.metadata.deletion_timestamp = Some(operator::api::time::to_k8s(t(3)));
        p
    };
    let seen = Seen::of(&b, t(3), &s).fresh();
    assert_eq!(seen.plan(), Step::ListPods { role: JobRole::Backup }, "a Job may have run: confirm no pod is left");
    let seen = seen.pods(vec![&terminating]).pods_live();
    assert_eq!(seen.plan(), Step::Wait { requeue_after: Some(Duration::from_secs(10)) });
    let seen = Seen::of(&b, t(4), &s).fresh().pods_live();
    assert_eq!(seen.plan(), Step::CreateJob { attempt: 0 }, "the pod is gone");
}

/// Regression (found by generated workloads, seed 2493): during a stalled watch the cache kept showing the pod of a
/// Job deleted long before, and every reconcile waited on it again (and re-sent the delete it had already done):
/// 101 requests in eight minutes. A pod in the cache is confirmed by a live list before anything waits on it.
#[test]
fn a_pod_only_the_cache_shows_is_listed_live_before_the_next_job_waits_on_it() {
    let s = Settings::default();
    let b = BackupBuilder::new("demo").phase(BackupPhase::Running).build();
    let gone = JobBuilder::backup(&b, 0).build();
    let stale = PodBuilder::of(&gone, t(0)).phase("Pending").build();
    let seen = Seen::of(&b, t(30), &s).fresh().pods(vec![&stale]);
    assert_eq!(seen.plan(), Step::ListPods { role: JobRole::Backup }, "not a wait on what only the cache shows");
    let seen = Seen::of(&b, t(30), &s).fresh().pods_live();
    assert_eq!(seen.plan(), Step::CreateJob { attempt: 0 }, "the live list shows no pod");
}

#[test]
fn a_job_is_created_only_after_a_live_read_of_the_backup() {
    let s = Settings::default();
    let b = BackupBuilder::new("demo").build();
    assert_eq!(Seen::of(&b, t(0), &s).plan(), Step::Refresh);
    assert_eq!(Seen::of(&b, t(0), &s).fresh().plan(), Step::CreateJob { attempt: 0 });
    let failed = BackupBuilder::new("demo").phase(BackupPhase::Failed).build();
    assert_eq!(Seen::of(&failed, t(0), &s).fresh().plan(), Step::Wait { requeue_after: None });
}

/// Issue 11 (API cost): a Backup born after the controller started, moments ago, with no Job create on record since,
/// never had an attempt; its first Job needs no live read. Anything else that may have run still does.
#[test]
fn a_first_job_needs_no_live_read_when_the_controller_remembers_creating_none() {
    let s = Settings::default();
    let b = BackupBuilder::new("demo").build();
    assert_eq!(Seen::of(&b, t(0), &s).never_had_job().plan(), Step::CreateJob { attempt: 0 });
    let retrying = BackupBuilder::new("demo").phase(BackupPhase::Retrying).retried(t(1), t(2)).build();
    assert_eq!(Seen::of(&retrying, t(5), &s).never_had_job().plan(), Step::Refresh, "an attempt already ran");
}

#[test]
fn a_created_job_marks_the_backup_scheduled_then_waits_for_the_pod() {
    let s = Settings::default();
    let b = BackupBuilder::new("demo").build();
    let job = JobBuilder::backup(&b, 0).created(t(0)).build();
    assert_eq!(Seen::of(&b, t(0), &s).job(&job).plan(), Step::MarkScheduled);
    let b = BackupBuilder::new("demo").phase(BackupPhase::Scheduled).build();
    let pod = PodBuilder::of(&job, t(0)).build();
    assert_eq!(
        Seen::of(&b, t(1), &s).job(&job).pods(vec![&pod]).plan(),
        Step::Wait { requeue_after: Some(Duration::from_secs(540)) }
    );
}

#[test]
fn a_pod_stuck_in_container_creating_fails_the_attempt_and_schedules_a_retry() {
    let s = Settings::default();
    let b = BackupBuilder::new("demo").phase(BackupPhase::Scheduled).build();
    let job = JobBuilder::backup(&b, 0).created(t(0)).build();
    let pod = PodBuilder::of(&job, t(0)).build();
    let seen = Seen::of(&b, t(10), &s).job(&job).pods(vec![&pod]);
    assert_eq!(seen.plan(), Step::ListPods { role: JobRole::Backup }, "the pod cache may be stale: list live");
    let seen = seen.pods_live();
    assert_eq!(seen.plan(), Step::Refresh, "confirm the Backup live before failing");
    let Step::RecordFailure { failure, retry_at } = seen.fresh().plan() else { panic!() };
    assert_eq!(failure.reason, "PodStuck");
    assert!(failure.message.contains("ContainerCreating"), "{}", failure.message);
    assert_eq!(retry_at, Some(t(15)), "first retry after minRetryDuration (300s)");
}

/// Regression (found by `sim explore` under informer lag): a pod missing from a lagging cache was called "not
/// created" while it ran the backup.
#[test]
fn a_pod_missing_from_the_cache_is_not_missing_until_a_live_list_says_so() {
    let s = Settings::default();
    let b = BackupBuilder::new("demo").phase(BackupPhase::Running).build();
    let job = JobBuilder::backup(&b, 0).created(t(0)).build();
    let running = PodBuilder::of(&job, t(0)).phase("Running").build();
    let seen = Seen::of(&b, t(12), &s).fresh().job(&job);
    assert_eq!(seen.plan(), Step::ListPods { role: JobRole::Backup });
    assert_eq!(seen.pods(vec![&running]).pods_live().plan(), Step::Wait { requeue_after: None });
}

#[test]
fn retries_wait_for_their_time_and_replace_the_old_job() {
    let s = Settings::default();
    let b = BackupBuilder::new("demo").retried(t(10), t(15)).build();
    let old = JobBuilder::backup(&b, 0).build();
    assert_eq!(
        Seen::of(&b, t(11), &s).job(&old).plan(),
        Step::DeleteJob { role: JobRole::Backup, uid: Some("job-0".into()) }
    );
    assert_eq!(Seen::of(&b, t(11), &s).plan(), Step::Wait { requeue_after: Some(Duration::from_secs(240)) });
    assert_eq!(Seen::of(&b, t(15), &s).fresh().plan(), Step::ListPods { role: JobRole::Backup }, "no old pod left?");
    assert_eq!(Seen::of(&b, t(15), &s).fresh().pods_live().plan(), Step::CreateJob { attempt: 1 });
    let new = JobBuilder::backup(&b, 1).created(t(15)).build();
    assert_eq!(Seen::of(&b, t(15), &s).job(&new).plan(), Step::MarkScheduled);
}

#[test]
fn exhausted_retries_fail_the_backup_and_stop_its_job() {
    let s = Settings::default();
    let b =
        BackupBuilder::new("demo").retried(t(10), t(15)).retried(t(30), t(40)).phase(BackupPhase::Scheduled).build();
    let job = JobBuilder::backup(&b, 2).created(t(40)).failed().build();
    let Step::RecordFailure { retry_at, failure } = Seen::of(&b, t(45), &s).fresh().job(&job).plan() else { panic!() };
    assert_eq!(retry_at, None, "maxRetryTimes (2) reached");
    assert_eq!(failure.reason, "BackoffLimitExceeded");
    let failed = BackupBuilder::new("demo").phase(BackupPhase::Failed).build();
    let stuck = JobBuilder::backup(&failed, 0).build();
    assert_eq!(
        Seen::of(&failed, t(50), &s).job(&stuck).plan(),
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
    assert_eq!(
        Seen::of(&running, t(5), &s).job(&job).plan(),
        Step::DeleteJob { role: JobRole::Backup, uid: Some("job-0".into()) }
    );
    assert_eq!(Seen::of(&running, t(5), &s).plan(), Step::Refresh);
    assert_eq!(Seen::of(&running, t(5), &s).fresh().plan(), Step::ListPods { role: JobRole::Backup });
    assert_eq!(Seen::of(&running, t(5), &s).fresh().pods_live().plan(), Step::CreateCleanJob);
    let clean = JobBuilder::clean(&running).created(t(6)).build();
    assert_eq!(Seen::of(&running, t(6), &s).fresh().pods_live().clean(&clean, vec![]).plan(), Step::MarkCleaning);
    let done = JobBuilder::clean(&running).created(t(6)).succeeded().build();
    assert_eq!(
        Seen::of(&running, t(7), &s).fresh().pods_live().clean(&done, vec![]).plan(),
        Step::RemoveFinalizer { cleaned: true }
    );
}

#[test]
fn cleaning_waits_while_the_stopped_backup_pod_may_still_write() {
    let s = Settings::default();
    let b =
        BackupBuilder::new("demo").clean_policy(CleanPolicy::Delete).finalizer().started(t(1)).deleting(t(5)).build();
    let job = JobBuilder::backup(&b, 0).build();
    let still_running = PodBuilder::of(&job, t(1)).phase("Running").build();
    assert_eq!(
        Seen::of(&b, t(5), &s).fresh().pods(vec![&still_running]).pods_live().plan(),
        Step::Wait { requeue_after: Some(Duration::from_secs(10)) }
    );
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
    let seen = Seen::of(&b, t(71), &s).fresh().pods_live().clean(&clean, vec![&pod]);
    assert_eq!(seen.plan(), Step::ListPods { role: JobRole::Clean });
    let Step::MarkCleanFailed { failure } = seen.clean_pods_live().plan() else { panic!() };
    assert_eq!(failure.reason, "PodStuck");
    let failed = BackupBuilder::new("demo")
        .clean_policy(CleanPolicy::Delete)
        .finalizer()
        .complete(t(1))
        .phase(BackupPhase::CleanFailed)
        .deleting(t(60))
        .build();
    let seen = Seen::of(&failed, t(71), &s).fresh().pods_live().clean(&clean, vec![&pod]).clean_pods_live();
    assert_eq!(seen.plan(), Step::DeleteJob { role: JobRole::Clean, uid: Some("clean-job".into()) });
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
    assert_eq!(Seen::of(&b, t(5), &s).fresh().plan(), Step::RemoveFinalizer { cleaned: false });
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
    assert_eq!(Seen::of(&ok, t(5), &s).fresh().pods_live().plan(), Step::RemoveFinalizer { cleaned: false });
    let failed = BackupBuilder::new("demo")
        .clean_policy(CleanPolicy::OnFailure)
        .finalizer()
        .started(t(1))
        .phase(BackupPhase::Failed)
        .deleting(t(5))
        .build();
    assert_eq!(Seen::of(&failed, t(5), &s).fresh().pods_live().plan(), Step::CreateCleanJob);
}

/// Records what a `ReportUnsupported` step writes, as the controller does.
fn with_unsupported_recorded(b: &Backup, message: Option<&str>) -> Backup {
    let mut recorded = b.clone();
    let status = recorded.status.get_or_insert_with(Default::default);
    operator::api::unsupported::record(&mut status.conditions, t(0), message);
    recorded
}

#[test]
fn tidb_fields_not_acted_on_are_reported_once_and_the_backup_still_runs() {
    // Issue 15: a Backup migrated from TiDB Operator keeps its fields; those we ignore are named, not refused.
    let s = Settings::default();
    let b = BackupBuilder::new("demo")
        .spec(|sp| {
            sp.clean_option = Some(Default::default());
            sp.use_kms = Some(true);
        })
        .build();
    let Step::ReportUnsupported { message: Some(message) } = Seen::of(&b, t(0), &s).plan() else { panic!() };
    assert_eq!(message, "kept as stored but not acted on by this operator: spec.cleanOption, spec.useKMS");
    let reported = with_unsupported_recorded(&b, Some(&message));
    assert_eq!(Seen::of(&reported, t(1), &s).fresh().never_had_job().plan(), Step::CreateJob { attempt: 0 });

    let mut fixed = reported.clone();
    fixed.spec.clean_option = None;
    fixed.spec.use_kms = None;
    assert_eq!(Seen::of(&fixed, t(2), &s).plan(), Step::ReportUnsupported { message: None });
    let cleared = with_unsupported_recorded(&fixed, None);
    assert_eq!(Seen::of(&cleared, t(3), &s).fresh().never_had_job().plan(), Step::CreateJob { attempt: 0 });
}

/// A log Backup of TiDB Operator's documentation, as the cache shows it after its finalizer was added.
fn log_backup(sub: Option<LogSubcommand>) -> Backup {
    BackupBuilder::new("log")
        .finalizer()
        .spec(|sp| {
            sp.backup_mode = Some("log".into());
            sp.log_subcommand = sub;
        })
        .build()
}

fn with_status(b: &Backup, f: impl FnOnce(&mut operator::api::BackupStatus)) -> Backup {
    let mut b = b.clone();
    f(b.status.get_or_insert_with(Default::default));
    b
}

fn log_job(b: &Backup, command: LogCommand, stop: bool) -> JobBuilder {
    JobBuilder::from(log_job_for(b, command, stop, &Settings::default())).uid(&format!("job-{command}")).created(t(0))
}

#[test]
fn a_log_backup_starts_its_task_with_a_finalizer_first_and_then_follows_it() {
    let s = Settings::default();
    let mut bare = log_backup(Some(LogSubcommand::Start));
    bare.metadata.finalizers = None;
    assert_eq!(Seen::of(&bare, t(0), &s).plan(), Step::AddFinalizer, "the task must be stopped before deletion");
    let b = log_backup(Some(LogSubcommand::Start));
    assert_eq!(Seen::of(&b, t(0), &s).plan(), Step::Refresh);
    assert_eq!(Seen::of(&b, t(0), &s).fresh().plan(), Step::Log(LogStep::CreateJob { command: LogCommand::Start }));
    let start = log_job(&b, LogCommand::Start, false).build();
    assert_eq!(
        Seen::of(&b, t(1), &s).job(&start).plan(),
        Step::Log(LogStep::MarkScheduled { command: LogCommand::Start })
    );
    // backup-manager started the task: the same Job stays to follow its checkpoint.
    let running = with_status(&b, |st| {
        st.phase = Some(BackupPhase::Running);
        st.commit_ts = Some("1000".into());
    });
    assert_eq!(Seen::of(&running, t(2), &s).job(&start).plan(), Step::Wait { requeue_after: None });
    // The follower failed: another starts a minute later, not at once.
    let failed = log_job(&b, LogCommand::Start, false).failed().build();
    let failed = with_finished_at(failed, t(3));
    assert_eq!(
        Seen::of(&running, t(3), &s).job(&failed).plan(),
        Step::Wait { requeue_after: Some(Duration::from_secs(60)) }
    );
    assert_eq!(
        Seen::of(&running, t(4), &s).job(&failed).plan(),
        Step::DeleteJob { role: JobRole::Backup, uid: Some("job-log-start".into()) }
    );
    assert_eq!(Seen::of(&running, t(4), &s).plan(), Step::Log(LogStep::CreateJob { command: LogCommand::Start }));
}

fn with_finished_at(mut job: Job, at: chrono::DateTime<chrono::Utc>) -> Job {
    job.status.get_or_insert_with(Default::default).completion_time = Some(operator::api::time::to_k8s(at));
    job
}

#[test]
fn pause_resume_and_truncate_each_run_their_own_job_once_the_task_exists() {
    let s = Settings::default();
    let running = with_status(&log_backup(Some(LogSubcommand::Pause)), |st| {
        st.phase = Some(BackupPhase::Running);
        st.commit_ts = Some("1000".into());
    });
    assert_eq!(
        Seen::of(&running, t(0), &s).fresh().plan(),
        Step::Log(LogStep::CreateJob { command: LogCommand::Pause })
    );
    // A pause asked before the task exists waits for it.
    let unstarted = log_backup(Some(LogSubcommand::Pause));
    assert_eq!(Seen::of(&unstarted, t(0), &s).fresh().plan(), Step::Wait { requeue_after: None });
    // Paused, then asked to start again: a resume.
    let mut paused = with_status(&running, |st| st.phase = Some(BackupPhase::Paused));
    paused.spec.log_subcommand = Some(LogSubcommand::Start);
    assert_eq!(
        Seen::of(&paused, t(1), &s).fresh().plan(),
        Step::Log(LogStep::CreateJob { command: LogCommand::Resume })
    );
    // Running with a truncation point beyond the start: truncate, and an earlier truncate Job is replaced.
    let mut truncating = with_status(&running, |st| {
        st.log_success_truncate_until = Some("1500".into());
        operator::api::log_backup::set_command_phase(st, LogCommand::Truncate, BackupPhase::Complete, t(0), None, None);
    });
    truncating.spec.log_subcommand = Some(LogSubcommand::Start);
    truncating.spec.log_truncate_until = Some("2000".into());
    let earlier = log_job(&truncating, LogCommand::Truncate, false).succeeded().build();
    assert_eq!(
        Seen::of(&truncating, t(2), &s).fresh().job(&earlier).plan(),
        Step::DeleteJob { role: JobRole::Backup, uid: Some("job-log-truncate".into()) }
    );
    assert_eq!(
        Seen::of(&truncating, t(2), &s).fresh().plan(),
        Step::Log(LogStep::CreateJob { command: LogCommand::Truncate })
    );
}

#[test]
fn a_failed_log_command_is_recorded_and_run_again_after_the_retry_delay() {
    let s = Settings::default();
    let running = with_status(&log_backup(Some(LogSubcommand::Stop)), |st| {
        st.phase = Some(BackupPhase::Running);
        st.commit_ts = Some("1000".into());
    });
    let failed = log_job(&running, LogCommand::Stop, false).failed().build();
    // The verdict rests on the Job read live: the cache may show the command's previous run under the same name.
    assert_eq!(Seen::of(&running, t(1), &s).fresh().job(&failed).plan(), Step::ListPods { role: JobRole::Backup });
    let Step::Log(LogStep::RecordFailure { command: LogCommand::Stop, .. }) =
        Seen::of(&running, t(1), &s).fresh().job(&failed).pods_live().plan()
    else {
        panic!()
    };
    let recorded = with_status(&running, |st| {
        operator::api::log_backup::set_command_phase(
            st,
            LogCommand::Stop,
            BackupPhase::Failed,
            t(1),
            Some("BackoffLimitExceeded"),
            Some("x"),
        );
    });
    let Step::Wait { requeue_after: Some(_) } = Seen::of(&recorded, t(1), &s).fresh().job(&failed).plan() else {
        panic!("waits for the retry delay")
    };
    assert_eq!(
        Seen::of(&recorded, t(2), &s).fresh().job(&failed).plan(),
        Step::DeleteJob { role: JobRole::Backup, uid: Some("job-log-stop".into()) }
    );
}

#[test]
fn deleting_a_running_log_backup_stops_its_task_before_anything_else_tidb_5249() {
    // TiDB Operator #5249: deleting the CR left the task running, and a new CR of the same name failed to start.
    let s = Settings::default();
    let b = with_status(&BackupBuilder::from(log_backup(None)).deleting(t(5)).build(), |st| {
        st.phase = Some(BackupPhase::Running);
        st.commit_ts = Some("1000".into());
        st.backup_path = Some("s3://backup/log".into());
    });
    assert_eq!(Seen::of(&b, t(5), &s).plan(), Step::Refresh);
    assert_eq!(Seen::of(&b, t(5), &s).fresh().plan(), Step::Log(LogStep::CreateStopJob));
    let stop = log_job(&b, LogCommand::Stop, true).build();
    assert_eq!(Seen::of(&b, t(5), &s).fresh().stop(&stop).plan(), Step::Wait { requeue_after: None });
    let failed = with_finished_at(log_job(&b, LogCommand::Stop, true).failed().build(), t(6));
    let Step::Log(LogStep::RetryStop { uid, .. }) = Seen::of(&b, t(8), &s).fresh().stop(&failed).plan() else {
        panic!()
    };
    assert_eq!(uid.as_deref(), Some("job-log-stop"));
    // Stopped: the follower is stopped and the finalizer goes (Retain keeps the log).
    let stopped = with_status(&b, |st| st.phase = Some(BackupPhase::Stopped));
    let follower = log_job(&b, LogCommand::Start, false).build();
    assert_eq!(
        Seen::of(&stopped, t(9), &s).fresh().job(&follower).plan(),
        Step::DeleteJob { role: JobRole::Backup, uid: Some("job-log-start".into()) }
    );
    assert_eq!(Seen::of(&stopped, t(9), &s).fresh().pods_live().plan(), Step::RemoveFinalizer { cleaned: false });
    // Stopped and cleaning: the phase moved on, the stop is not run (or marked) again.
    let cleaning = with_status(&stopped, |st| {
        operator::api::log_backup::set_command_phase(st, LogCommand::Stop, BackupPhase::Complete, t(9), None, None);
        st.phase = Some(BackupPhase::Cleaning);
    });
    let done = log_job(&b, LogCommand::Stop, true).succeeded().build();
    assert_ne!(Seen::of(&cleaning, t(10), &s).fresh().stop(&done).plan(), Step::Log(LogStep::MarkStopped));
    // A task that never started needs no stop.
    let never = BackupBuilder::from(log_backup(None)).deleting(t(5)).build();
    assert_eq!(Seen::of(&never, t(5), &s).fresh().plan(), Step::RemoveFinalizer { cleaned: false });
}
