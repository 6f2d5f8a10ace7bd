//! Chainable builders for the objects reconcilers see.

use chrono::{DateTime, TimeZone, Utc};
use k8s_openapi::api::batch::v1::{Job, JobCondition, JobStatus};
use k8s_openapi::api::core::v1::{ContainerState, ContainerStateWaiting, ContainerStatus, Pod, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use operator::api::backup::BackoffRetryRecord;
use operator::api::compact::{CompactBackup, CompactSpec, CompactStatus};
use operator::api::labels::{self, FINALIZER};
use operator::api::storage::{S3StorageProvider, StorageProvider};
use operator::api::time::{opt_from_k8s, to_k8s};
use operator::api::tools::BrConfig;
use operator::api::{
    Backup, BackupPhase, BackupSchedule, BackupScheduleSpec, BackupScheduleStatus, BackupSpec, BackupStatus,
    CleanPolicy,
};
use operator::controllers::Settings;
use operator::controllers::backup::job::{clean_job_for, job_for};
use operator::controllers::schedule::template::{backup_for, compact_for, log_backup_for};

pub const NS: &str = "test1";

/// 2026-01-01T00:00:00Z plus `m` minutes.
pub fn t(m: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::minutes(m)
}

pub fn br_template() -> BackupSpec {
    BackupSpec {
        br: Some(Box::new(BrConfig { cluster: "mycluster".into(), ..Default::default() })),
        storage: StorageProvider {
            s3: Some(Box::new(S3StorageProvider {
                provider: "aws".into(),
                bucket: Some("backup".into()),
                prefix: Some("test1-demo1".into()),
                secret_name: Some("s3-secret".into()),
                ..Default::default()
            })),
            ..Default::default()
        },
        ..Default::default()
    }
}

pub struct BackupBuilder(Backup);

impl BackupBuilder {
    pub fn new(name: &str) -> Self {
        let mut b = Backup::new(name, br_template());
        b.metadata.namespace = Some(NS.into());
        b.metadata.uid = Some(format!("uid-{name}"));
        b.metadata.resource_version = Some("1".into());
        b.metadata.creation_timestamp = Some(to_k8s(t(0)));
        BackupBuilder(b)
    }
    /// The Backup `schedule` creates for `tick` (created at the tick).
    pub fn scheduled(schedule: &BackupSchedule, tick: DateTime<Utc>) -> Self {
        let mut b = backup_for(schedule, tick);
        let name = b.metadata.name.clone().unwrap();
        b.metadata.uid = Some(format!("uid-{name}"));
        b.metadata.resource_version = Some("1".into());
        b.metadata.creation_timestamp = Some(to_k8s(tick));
        BackupBuilder(b)
    }
    /// The log backup `schedule` keeps running, created at `at` and started (its task's start TSO is `at`'s).
    pub fn schedule_log(schedule: &BackupSchedule, at: DateTime<Utc>) -> Self {
        let mut b = log_backup_for(schedule, at).expect("the schedule has a logBackupTemplate");
        let name = b.metadata.name.clone().unwrap();
        b.metadata.uid = Some(format!("uid-{name}"));
        b.metadata.resource_version = Some("1".into());
        b.metadata.creation_timestamp = Some(to_k8s(at));
        BackupBuilder(b).phase(BackupPhase::Running).commit_ts(at)
    }
    /// `status.commitTs`: the TSO of `at`.
    pub fn commit_ts(mut self, at: DateTime<Utc>) -> Self {
        self.status().commit_ts = Some(operator::api::tso::Tso::from_time(at).0.to_string());
        self
    }
    pub fn created(mut self, at: DateTime<Utc>) -> Self {
        self.0.metadata.creation_timestamp = Some(to_k8s(at));
        self
    }
    pub fn phase(mut self, p: BackupPhase) -> Self {
        self.status().phase = Some(p);
        self
    }
    pub fn started(mut self, at: DateTime<Utc>) -> Self {
        self.status().time_started = Some(to_k8s(at));
        self
    }
    pub fn complete(self, at: DateTime<Utc>) -> Self {
        let mut s = self.started(at).phase(BackupPhase::Complete);
        s.status().backup_path = Some("s3://backup/x".into());
        s
    }
    pub fn clean_policy(mut self, p: CleanPolicy) -> Self {
        self.0.spec.clean_policy = Some(p);
        self
    }
    pub fn finalizer(mut self) -> Self {
        self.0.metadata.finalizers = Some(vec![FINALIZER.into()]);
        self
    }
    pub fn deleting(mut self, at: DateTime<Utc>) -> Self {
        self.0.metadata.deletion_timestamp = Some(to_k8s(at));
        self
    }
    pub fn retried(mut self, detected: DateTime<Utc>, expected: DateTime<Utc>) -> Self {
        let records = self.status().backoff_retry_status.get_or_insert_with(Vec::new);
        records.push(BackoffRetryRecord {
            retry_num: records.len() as i32 + 1,
            detect_failed_at: Some(to_k8s(detected)),
            expected_retry_at: Some(to_k8s(expected)),
            ..Default::default()
        });
        self.phase(BackupPhase::Retrying)
    }
    pub fn spec(mut self, f: impl FnOnce(&mut BackupSpec)) -> Self {
        f(&mut self.0.spec);
        self
    }
    fn status(&mut self) -> &mut BackupStatus {
        self.0.status.get_or_insert_with(Default::default)
    }
    pub fn build(self) -> Backup {
        self.0
    }
}

pub struct ScheduleBuilder(BackupSchedule);

impl ScheduleBuilder {
    pub fn new(name: &str) -> Self {
        let mut s = BackupSchedule::new(
            name,
            BackupScheduleSpec {
                schedule: "*/10 * * * *".into(),
                max_reserved_time: Some("1h".into()),
                backup_template: Box::new(br_template()),
                ..Default::default()
            },
        );
        s.spec.backup_template.clean_policy = Some(CleanPolicy::Delete);
        s.metadata.namespace = Some(NS.into());
        s.metadata.uid = Some(format!("uid-{name}"));
        s.metadata.resource_version = Some("1".into());
        s.metadata.creation_timestamp = Some(to_k8s(t(0)));
        ScheduleBuilder(s)
    }
    pub fn cron(mut self, expr: &str) -> Self {
        self.0.spec.schedule = expr.into();
        self
    }
    pub fn max_reserved_time(mut self, d: Option<&str>) -> Self {
        self.0.spec.max_reserved_time = d.map(Into::into);
        self
    }
    /// A `logBackupTemplate`: the Backup template's storage, in log mode.
    pub fn log_template(mut self) -> Self {
        let mut log = br_template();
        log.backup_mode = Some("log".into());
        self.0.spec.log_backup_template = Some(Box::new(log));
        self
    }
    /// Compaction every `interval` (with a log backup template if it has none): the template's storage.
    pub fn compaction(mut self, interval: &str) -> Self {
        if self.0.spec.log_backup_template.is_none() {
            self = self.log_template();
        }
        let spec = CompactSpec { storage: br_template().storage, br: br_template().br, ..Default::default() };
        self.0.spec.compact_backup_template = Some(Box::new(spec));
        self.0.spec.compact_interval = Some(interval.into());
        self
    }
    /// `status.logBackup` and `status.logBackupStartTs`: the schedule's log backup, started at `at`.
    pub fn log_recorded(mut self, at: DateTime<Utc>) -> Self {
        let name = format!("log-{}", self.0.metadata.name.clone().unwrap_or_default());
        let s = self.0.status.get_or_insert_with(BackupScheduleStatus::default);
        s.log_backup = Some(name);
        s.log_backup_start_ts = Some(to_k8s(at));
        self
    }
    pub fn max_backups(mut self, n: i32) -> Self {
        self.0.spec.max_backups = Some(n);
        self
    }
    pub fn paused(mut self, p: bool) -> Self {
        self.0.spec.pause = Some(p);
        self
    }
    pub fn last_backup(mut self, name: &str, tick: DateTime<Utc>) -> Self {
        let s = self.0.status.get_or_insert_with(BackupScheduleStatus::default);
        s.last_backup = Some(name.into());
        s.last_backup_time = Some(to_k8s(tick));
        self
    }
    pub fn spec(mut self, f: impl FnOnce(&mut BackupScheduleSpec)) -> Self {
        f(&mut self.0.spec);
        self
    }
    pub fn build(self) -> BackupSchedule {
        self.0
    }
}

/// A CompactBackup of `schedule` over `from`..`to` (created at `from`), in `state` (none: new).
pub fn compact_of(
    schedule: &BackupSchedule,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    state: Option<&str>,
) -> CompactBackup {
    use operator::api::tso::Tso;
    let started = schedule.status.as_ref().and_then(|s| opt_from_k8s(s.log_backup_start_ts.as_ref())).unwrap_or(from);
    let folder = operator::controllers::schedule::template::log_folder(None, started);
    let mut c =
        compact_for(schedule, from, &folder, Tso::from_time(from), Tso::from_time(to)).expect("the schedule compacts");
    let name = c.metadata.name.clone().unwrap();
    c.metadata.uid = Some(format!("uid-{name}"));
    c.metadata.resource_version = Some("1".into());
    c.metadata.creation_timestamp = Some(to_k8s(from));
    c.status = state.map(|s| CompactStatus { state: Some(s.into()), ..Default::default() });
    c
}

pub struct JobBuilder(Job);

impl From<Job> for JobBuilder {
    fn from(job: Job) -> Self {
        JobBuilder(job)
    }
}

impl From<Backup> for BackupBuilder {
    fn from(b: Backup) -> Self {
        BackupBuilder(b)
    }
}

impl JobBuilder {
    /// The backup Job for `attempt` of `backup`, as the controller creates it.
    pub fn backup(backup: &Backup, attempt: u32) -> Self {
        JobBuilder(job_for(backup, attempt, &Settings::default())).uid(&format!("job-{attempt}"))
    }
    /// The Job of a CompactBackup, as the compact controller creates it.
    pub fn compact(compact: &CompactBackup) -> Self {
        JobBuilder(operator::controllers::compact::job::job_for(compact, &Settings::default())).uid("compact-job")
    }
    pub fn clean(backup: &Backup) -> Self {
        JobBuilder(clean_job_for(backup, &Settings::default())).uid("clean-job")
    }
    pub fn uid(mut self, uid: &str) -> Self {
        self.0.metadata.uid = Some(uid.into());
        self
    }
    pub fn created(mut self, at: DateTime<Utc>) -> Self {
        self.0.metadata.creation_timestamp = Some(to_k8s(at));
        self
    }
    fn condition(mut self, type_: &str, reason: &str) -> Self {
        self.0.status.get_or_insert_with(JobStatus::default).conditions.get_or_insert_with(Vec::new).push(
            JobCondition {
                type_: type_.into(),
                status: "True".into(),
                reason: Some(reason.into()),
                message: Some(format!("Job has reached {reason}")),
                ..Default::default()
            },
        );
        self
    }
    pub fn succeeded(self) -> Self {
        self.condition("Complete", "Completed")
    }
    pub fn failed(self) -> Self {
        self.condition("Failed", "BackoffLimitExceeded")
    }
    pub fn build(self) -> Job {
        self.0
    }
}

pub struct PodBuilder(Pod);

impl PodBuilder {
    /// A pod of `job`, Pending in ContainerCreating since `at`.
    pub fn of(job: &Job, at: DateTime<Utc>) -> Self {
        let template = job.spec.as_ref().unwrap().template.metadata.clone().unwrap();
        let name = format!("{}-abcde", job.metadata.name.clone().unwrap());
        let pod = Pod {
            metadata: ObjectMeta {
                name: Some(name),
                namespace: job.metadata.namespace.clone(),
                labels: template.labels,
                annotations: template.annotations,
                creation_timestamp: Some(to_k8s(at)),
                owner_references: Some(vec![OwnerReference {
                    api_version: "batch/v1".into(),
                    kind: "Job".into(),
                    name: job.metadata.name.clone().unwrap(),
                    uid: job.metadata.uid.clone().unwrap(),
                    controller: Some(true),
                    ..Default::default()
                }]),
                ..Default::default()
            },
            spec: None,
            status: Some(PodStatus {
                phase: Some("Pending".into()),
                container_statuses: Some(vec![ContainerStatus {
                    name: "backup".into(),
                    state: Some(ContainerState {
                        waiting: Some(ContainerStateWaiting {
                            reason: Some("ContainerCreating".into()),
                            message: None,
                        }),
                        ..Default::default()
                    }),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
        };
        PodBuilder(pod)
    }
    pub fn phase(mut self, phase: &str) -> Self {
        self.0.status.as_mut().unwrap().phase = Some(phase.into());
        self
    }
    pub fn build(self) -> Pod {
        self.0
    }
}

/// Labels a scheduled Backup carries, for asserting selection.
pub fn schedule_label(name: &str) -> (String, String) {
    (labels::SCHEDULE.to_string(), name.to_string())
}
