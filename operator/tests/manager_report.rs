//! backup-manager's status reporting (`manager::backup` and `manager::restore`) over a fake API, running the fake
//! tools as real child processes: Running, progress, Complete with the summary, AttemptFailed with the tool's last
//! words, Stopped on SIGTERM, conflict retries, and no secret in status.

mod support;

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use operator::api::condition::find_condition;
use operator::api::log_backup::LogCommand;
use operator::api::{Backup, BackupPhase, Restore, RestorePhase};
use operator::cluster::{Cluster, ClusterError, Deletion, Event, KeyRef, Labels, Object, ObjectKey, Precondition};
use operator::manager::credentials::{AWS_SECRET_ACCESS_KEY, Credentials, TIDB_PASSWORD};
use operator::manager::process::{ProcessTool, StopHandle, stop_signal};
use operator::manager::tool::{ProgressSink, Tool, ToolError, ToolJob, ToolReport};
use operator::manager::{self, ManagerError};
use support::builders::t;
use support::fake::FakeCluster;

fn fixture<K: serde::de::DeserializeOwned>(name: &str) -> K {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    serde_saphyr::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The real `ProcessTool` over the fake executables, told which way to behave through the tool's environment.
struct FakeTools {
    tool: ProcessTool,
    env: Vec<(String, String)>,
    stop: StopHandle,
    record: PathBuf,
}

impl FakeTools {
    fn new(mode: &str, credentials: Credentials, record: &Path) -> Self {
        let (stop, signal) = stop_signal();
        let tool =
            ProcessTool::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tools"), credentials, signal)
                .with_private_dir_parent(record);
        let env = vec![
            ("FAKE_TOOL_MODE".to_string(), mode.to_string()),
            ("FAKE_TOOL_RECORD".to_string(), record.display().to_string()),
        ];
        FakeTools { tool, env, stop, record: record.to_path_buf() }
    }

    /// Sets `name` in the tool's environment, as the Job's pod would.
    fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }
}

impl Tool for FakeTools {
    async fn pause(&self, d: Duration) {
        self.tool.pause(d).await
    }
    async fn run(&self, job: &ToolJob, progress: &ProgressSink) -> Result<ToolReport, ToolError> {
        let mut job = job.clone();
        job.env.extend(self.env.clone());
        self.tool.run(&job, progress).await
    }
}

/// The fake API, whose status writes fail with a conflict the first `conflicts` times.
struct Conflicting<'a> {
    inner: &'a FakeCluster,
    conflicts: Cell<u32>,
}

impl Cluster for Conflicting<'_> {
    fn now(&self) -> DateTime<Utc> {
        self.inner.now()
    }
    fn cached<K: Object>(&self, key: KeyRef<'_>) -> Option<Arc<K>> {
        self.inner.cached(key)
    }
    fn cached_list<K: Object>(&self, namespace: &str, selector: &Labels) -> Vec<Arc<K>> {
        self.inner.cached_list(namespace, selector)
    }
    async fn get<K: Object>(&self, key: &ObjectKey) -> Result<Option<Arc<K>>, ClusterError> {
        self.inner.get(key).await
    }
    async fn list<K: Object>(&self, namespace: &str, selector: &Labels) -> Result<Vec<Arc<K>>, ClusterError> {
        self.inner.list(namespace, selector).await
    }
    async fn create<K: Object>(&self, obj: Arc<K>) -> Result<Arc<K>, ClusterError> {
        self.inner.create(obj).await
    }
    async fn replace<K: Object>(&self, obj: Arc<K>) -> Result<Arc<K>, ClusterError> {
        self.inner.replace(obj).await
    }
    async fn replace_status<K: Object>(&self, obj: Arc<K>) -> Result<Arc<K>, ClusterError> {
        if self.conflicts.get() > 0 {
            self.conflicts.set(self.conflicts.get() - 1);
            return Err(ClusterError::Conflict {
                kind: K::KIND,
                key: ObjectKey::of(&*obj),
                message: "injected".into(),
            });
        }
        self.inner.replace_status(obj).await
    }
    async fn delete<K: Object>(&self, key: &ObjectKey, p: &Precondition) -> Result<Deletion<K>, ClusterError> {
        self.inner.delete(key, p).await
    }
    async fn publish(&self, event: Event) {
        self.inner.publish(event).await
    }
}

fn key_of<K: kube::Resource>(obj: &K) -> ObjectKey {
    ObjectKey::of(obj)
}

fn stored_backup(cluster: &FakeCluster, key: &ObjectKey) -> Backup {
    cluster.api_get::<Backup>(&key.namespace, &key.name).unwrap()
}

#[tokio::test]
async fn a_backup_goes_from_running_to_complete_with_the_tools_summary() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = FakeCluster::new(t(0));
    let backup: Backup = fixture("article-gcs-backup.yaml");
    let key = key_of(&backup);
    cluster.put(&backup);
    let report = manager::backup(&cluster, &FakeTools::new("success", Credentials::default(), dir.path()), &key, None)
        .await
        .unwrap();
    assert_eq!(report.size_bytes, Some(71010));
    let s = stored_backup(&cluster, &key).status.unwrap();
    assert_eq!(s.phase, Some(BackupPhase::Complete));
    assert_eq!(s.backup_path.as_deref(), Some("gcs://backup/test1-demo1"));
    assert_eq!((s.backup_size, s.backup_size_readable.as_deref()), (Some(71010), Some("69.3 KiB")));
    assert_eq!(s.commit_ts.as_deref(), Some("445790385398841347"));
    assert_eq!(s.time_taken.as_deref(), Some("4s"));
    let progress = s.progresses.unwrap();
    assert_eq!((progress[0].step.as_str(), progress[0].progress), ("Full Backup", 100.0));
    assert!(find_condition(&s.conditions, "Running").is_some() && find_condition(&s.conditions, "Complete").is_some());
    let writes = cluster.writes.borrow();
    assert_eq!(writes.first().map(String::as_str), Some("update-status Backup test1/demo-backup-gcp"));
    assert!(
        writes.iter().all(|w| w.starts_with("update-status Backup")),
        "backup-manager only writes status: {writes:?}"
    );
}

#[tokio::test]
async fn a_failed_attempt_records_the_tools_last_words_and_leaves_the_verdict_to_the_controller() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = FakeCluster::new(t(0));
    let backup: Backup = fixture("s3-br-backup.yaml");
    let key = key_of(&backup);
    cluster.put(&backup);
    let err = manager::backup(&cluster, &FakeTools::new("fail", Credentials::default(), dir.path()), &key, None)
        .await
        .unwrap_err();
    assert_eq!(err.exit_code(), 1);
    let s = stored_backup(&cluster, &key).status.unwrap();
    assert_eq!(s.phase, Some(BackupPhase::Running), "Retrying or Failed is the controller's call");
    let failed = find_condition(&s.conditions, "AttemptFailed").unwrap();
    assert_eq!(failed.reason.as_deref(), Some("ToolFailed"));
    let message = failed.message.as_deref().unwrap();
    assert!(message.starts_with("br exited with code 1: failed to backup: [BR:KV:ErrKVStorage]"), "{message}");
}

#[tokio::test]
async fn a_stopped_attempt_is_recorded_as_stopped_and_exits_143() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = FakeCluster::new(t(0));
    let backup: Backup = fixture("s3-br-backup.yaml");
    let key = key_of(&backup);
    cluster.put(&backup);
    let tools = FakeTools::new("hang", Credentials::default(), dir.path());
    let stopper = async {
        while !tools.record.join("hanging").exists() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tools.stop.stop();
    };
    let (result, ()) = tokio::join!(manager::backup(&cluster, &tools, &key, None), stopper);
    let err = result.unwrap_err();
    assert!(matches!(err, ManagerError::Tool { source: ToolError::Stopped { .. }, .. }), "{err}");
    assert_eq!(err.exit_code(), 143);
    let s = stored_backup(&cluster, &key).status.unwrap();
    assert_eq!(find_condition(&s.conditions, "AttemptFailed").unwrap().reason.as_deref(), Some("Stopped"));
}

#[tokio::test]
async fn status_writes_are_retried_after_conflicts() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeCluster::new(t(0));
    let backup: Backup = fixture("article-gcs-backup.yaml");
    let key = key_of(&backup);
    fake.put(&backup);
    let cluster = Conflicting { inner: &fake, conflicts: Cell::new(5) };
    manager::backup(&cluster, &FakeTools::new("success", Credentials::default(), dir.path()), &key, None)
        .await
        .unwrap();
    assert_eq!(cluster.conflicts.get(), 0);
    assert_eq!(stored_backup(&fake, &key).phase(), Some(BackupPhase::Complete));
}

#[tokio::test]
async fn a_new_attempt_forgets_the_failure_of_the_last_one() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = FakeCluster::new(t(0));
    let backup: Backup = fixture("article-gcs-backup.yaml");
    let key = key_of(&backup);
    cluster.put(&backup);
    manager::backup(&cluster, &FakeTools::new("fail", Credentials::default(), dir.path()), &key, None)
        .await
        .unwrap_err();
    manager::backup(&cluster, &FakeTools::new("success", Credentials::default(), dir.path()), &key, None)
        .await
        .unwrap();
    let s = stored_backup(&cluster, &key).status.unwrap();
    assert!(find_condition(&s.conditions, "AttemptFailed").is_none(), "{:?}", s.conditions);
    assert_eq!(s.progresses.unwrap().len(), 1);
}

#[tokio::test]
async fn a_complete_backup_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = FakeCluster::new(t(0));
    let mut backup: Backup = fixture("article-gcs-backup.yaml");
    backup.status = Some(operator::api::BackupStatus { phase: Some(BackupPhase::Complete), ..Default::default() });
    let key = key_of(&backup);
    cluster.put(&backup);
    manager::backup(&cluster, &FakeTools::new("fail", Credentials::default(), dir.path()), &key, None).await.unwrap();
    assert!(cluster.writes.borrow().is_empty());
    assert!(!dir.path().join("args").exists(), "the tool never ran");
}

#[tokio::test]
async fn an_import_reports_like_a_backup_and_lightning_gets_its_password_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = FakeCluster::new(t(0));
    let restore: Restore = fixture("lightning-restore.yaml");
    let key = key_of(&restore);
    cluster.put(&restore);
    let creds = Credentials::default().with(TIDB_PASSWORD, "restore-pw");
    manager::restore(&cluster, &FakeTools::new("success", creds, dir.path()), &key).await.unwrap();
    let s = cluster.api_get::<Restore>(&key.namespace, &key.name).unwrap().status.unwrap();
    assert_eq!(s.phase, Some(RestorePhase::Complete));
    assert_eq!(s.time_taken.as_deref(), Some("2m3s"));
    assert_eq!(s.progresses.unwrap()[0].step, "Import");
    let args = std::fs::read_to_string(dir.path().join("args")).unwrap();
    assert!(args.contains("-d=gcs://backup/test1-demo1\n") && args.contains("--config="), "{args}");
    assert!(std::fs::read_to_string(dir.path().join("config")).unwrap().contains("restore-pw"));
}

#[tokio::test]
async fn credentials_never_reach_the_status() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = FakeCluster::new(t(0));
    let backup: Backup = fixture("dumpling-backup.yaml");
    let key = key_of(&backup);
    cluster.put(&backup);
    let creds = Credentials::default().with(TIDB_PASSWORD, "tidb-pw-123").with(AWS_SECRET_ACCESS_KEY, "aws-secret-456");
    let tools = FakeTools::new("leak", creds, dir.path()).env(AWS_SECRET_ACCESS_KEY, "aws-secret-456");
    manager::backup(&cluster, &tools, &key, None).await.unwrap_err();
    let stored = serde_json::to_string(&stored_backup(&cluster, &key)).unwrap();
    assert!(
        stored.contains("using password ******") && stored.contains("the secret key ****** was refused"),
        "{stored}"
    );
    assert!(!stored.contains("tidb-pw-123") && !stored.contains("aws-secret-456"), "{stored}");
}

#[tokio::test]
async fn a_spec_no_command_line_can_be_built_from_exits_2_without_writing() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = FakeCluster::new(t(0));
    let mut backup: Backup = fixture("article-gcs-backup.yaml");
    backup.spec.backup_type = Some(operator::api::BackupType::Table);
    let key = key_of(&backup);
    cluster.put(&backup);
    let err = manager::backup(&cluster, &FakeTools::new("success", Credentials::default(), dir.path()), &key, None)
        .await
        .unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(
        err.to_string().contains("Backup test1/demo-backup-gcp is invalid: spec.br: db and table must be set"),
        "{err}"
    );
    assert!(cluster.writes.borrow().is_empty());
}

#[tokio::test]
async fn a_missing_backup_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = FakeCluster::new(t(0));
    let err = manager::backup(
        &cluster,
        &FakeTools::new("success", Credentials::default(), dir.path()),
        &ObjectKey::new("test1", "gone"),
        None,
    )
    .await
    .unwrap_err();
    assert_eq!((err.exit_code(), err.to_string().as_str()), (3, "Backup test1/gone does not exist"));
}

/// FakeTools whose pauses between checkpoint polls count, and after `polls` of them pause the Backup as a
/// `log-pause` Job would (so the follower ends).
struct PausingAfter<'a> {
    tools: FakeTools,
    cluster: &'a FakeCluster,
    key: ObjectKey,
    polls: Cell<u32>,
}

impl Tool for PausingAfter<'_> {
    async fn run(&self, job: &ToolJob, progress: &ProgressSink) -> Result<ToolReport, ToolError> {
        self.tools.run(job, progress).await
    }
    async fn pause(&self, _d: Duration) {
        if self.polls.get() == 0 {
            let mut b = stored_backup(self.cluster, &self.key);
            b.status.as_mut().unwrap().phase = Some(BackupPhase::Paused);
            self.cluster.api_put(&b);
            return;
        }
        self.polls.set(self.polls.get() - 1);
    }
}

/// The `br log` verbs run, in order.
fn log_commands(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("log-commands")).unwrap().lines().map(String::from).collect()
}

fn recorded_args(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("args")).unwrap().lines().map(String::from).collect()
}

#[tokio::test]
async fn a_log_start_starts_the_task_then_follows_its_checkpoint_until_the_backup_is_paused() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = FakeCluster::new(t(0));
    let backup: Backup = fixture("log-backup.yaml");
    let key = key_of(&backup);
    cluster.put(&backup);
    let tools = PausingAfter {
        tools: FakeTools::new("success", Credentials::default(), dir.path()),
        cluster: &cluster,
        key: key.clone(),
        polls: Cell::new(3),
    };
    manager::log_backup(&cluster, &tools, &key, LogCommand::Start, Duration::from_millis(1)).await.unwrap();
    let s = stored_backup(&cluster, &key).status.unwrap();
    assert_eq!(s.commit_ts.as_deref(), Some("445790385398841347"), "the start TSO br reports");
    assert_eq!(s.backup_path.as_deref(), Some("s3://my-bucket/my-log-backup-folder"));
    // The status read after the start and three polls, each a second further: the last checkpoint br reported.
    assert_eq!(s.log_checkpoint_ts.as_deref(), Some((445790385398841347u64 + 4 * 262144000).to_string().as_str()));
    assert!(s.time_synced.is_some());
    let start = &s.log_sub_command_statuses.as_ref().unwrap()["log-start"];
    assert_eq!((start.phase.as_deref(), start.command.as_deref()), (Some("Complete"), Some("log-start")));
    // A look for a task an earlier attempt started, the start, its start TSO read back, three polls.
    assert_eq!(log_commands(dir.path()), ["status", "start", "status", "status", "status", "status"]);
    assert_eq!(
        recorded_args(dir.path())[..4],
        ["log", "status", "--task-name=demo1-log-backup-s3", "--json"].map(String::from)
    );
    let writes = cluster.writes.borrow();
    assert!(writes.iter().all(|w| w.starts_with("update-status Backup")), "{writes:?}");
}

#[tokio::test]
async fn log_commands_are_reported_per_subcommand_as_tidb_operator_reports_them() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = FakeCluster::new(t(0));
    let mut backup: Backup = fixture("log-backup.yaml");
    backup.status = Some(operator::api::BackupStatus {
        phase: Some(BackupPhase::Running),
        commit_ts: Some("445790385398841347".into()),
        ..Default::default()
    });
    let key = key_of(&backup);
    cluster.put(&backup);
    std::fs::write(dir.path().join("log-task"), "demo1-log-backup-s3 445790385398841347 NORMAL 445790385398841347\n")
        .unwrap();
    let tools = FakeTools::new("success", Credentials::default(), dir.path());
    let run = |command| manager::log_backup(&cluster, &tools, &key, command, Duration::from_millis(1));
    let phase = || stored_backup(&cluster, &key).status.unwrap().phase;

    run(LogCommand::Pause).await.unwrap();
    assert_eq!(phase(), Some(BackupPhase::Paused));
    assert!(recorded_args(dir.path()).starts_with(&[
        "log".into(),
        "pause".into(),
        "--task-name=demo1-log-backup-s3".into()
    ]));
    run(LogCommand::Resume).await.unwrap();
    assert_eq!(phase(), Some(BackupPhase::Running));

    let mut b = stored_backup(&cluster, &key);
    b.spec.log_truncate_until = Some("2026-01-02 03:04:05+0800".into());
    cluster.api_put(&b);
    run(LogCommand::Truncate).await.unwrap();
    let s = stored_backup(&cluster, &key).status.unwrap();
    assert_eq!(s.log_success_truncate_until.as_deref(), Some("2026-01-02 03:04:05+0800"));
    assert_eq!(
        s.log_sub_command_statuses.as_ref().unwrap()["log-truncate"].log_truncating_until,
        s.log_success_truncate_until
    );
    let args = recorded_args(dir.path());
    assert_eq!(args[..4], ["log", "truncate", "--until=2026-01-02 03:04:05+0800", "-y"].map(String::from));

    run(LogCommand::Stop).await.unwrap();
    let s = stored_backup(&cluster, &key).status.unwrap();
    assert_eq!(s.phase, Some(BackupPhase::Stopped));
    assert!(s.time_completed.is_some());
    assert!(!dir.path().join("log-task").exists(), "br log stop ended the task");
    let subs: Vec<_> = s.log_sub_command_statuses.unwrap().into_iter().map(|(k, v)| (k, v.phase.unwrap())).collect();
    assert_eq!(
        subs,
        ["log-pause", "log-resume", "log-stop", "log-truncate"].map(|k| (k.to_string(), "Complete".to_string()))
    );
}

#[tokio::test]
async fn a_failed_log_start_records_brs_words_and_leaves_the_verdict_to_the_controller() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = FakeCluster::new(t(0));
    let backup: Backup = fixture("log-backup.yaml");
    let key = key_of(&backup);
    cluster.put(&backup);
    let tools = FakeTools::new("fail", Credentials::default(), dir.path());
    let err =
        manager::log_backup(&cluster, &tools, &key, LogCommand::Start, Duration::from_millis(1)).await.unwrap_err();
    assert_eq!(err.exit_code(), 1);
    let s = stored_backup(&cluster, &key).status.unwrap();
    assert_eq!(s.phase, Some(BackupPhase::Running), "Retrying or Failed is the controller's call");
    let failed = find_condition(&s.conditions, "AttemptFailed").unwrap();
    assert_eq!(failed.reason.as_deref(), Some("ToolFailed"));
    assert!(failed.message.as_deref().unwrap().contains("PD unavailable"), "{failed:?}");
    let start = &s.log_sub_command_statuses.as_ref().unwrap()["log-start"];
    let condition = find_condition(&start.conditions, "Failed").unwrap();
    assert_eq!(condition.reason.as_deref(), Some("StartLogBackupFailed"));
}

#[tokio::test]
async fn a_retried_log_start_takes_over_the_task_an_earlier_attempt_started() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = FakeCluster::new(t(0));
    let backup: Backup = fixture("log-backup.yaml");
    let key = key_of(&backup);
    cluster.put(&backup);
    // The earlier attempt's pod died after `br log start` and before it could write the status.
    std::fs::write(dir.path().join("log-task"), "demo1-log-backup-s3 445790385398841999 NORMAL 445790385398841999\n")
        .unwrap();
    let tools = PausingAfter {
        tools: FakeTools::new("success", Credentials::default(), dir.path()),
        cluster: &cluster,
        key: key.clone(),
        polls: Cell::new(0),
    };
    manager::log_backup(&cluster, &tools, &key, LogCommand::Start, Duration::from_millis(1)).await.unwrap();
    let s = stored_backup(&cluster, &key).status.unwrap();
    assert_eq!(s.commit_ts.as_deref(), Some("445790385398841999"), "the running task's start, not a new one");
    assert_eq!(log_commands(dir.path()), ["status"], "br log start never ran");
}

#[tokio::test]
async fn a_snapshot_run_of_a_log_backup_is_refused_rather_than_taking_a_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = FakeCluster::new(t(0));
    let backup: Backup = fixture("log-backup.yaml");
    let key = key_of(&backup);
    cluster.put(&backup);
    let tools = FakeTools::new("success", Credentials::default(), dir.path());
    let err = manager::backup(&cluster, &tools, &key, None).await.unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(
        err.to_string().contains("backup --mode=log") || format!("{err:?}").contains("backup --mode=log"),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_compaction_encodes_its_storage_with_br_then_compacts_with_tikv_ctl_and_reports_complete() {
    // Issue 15: `backup-manager compact` runs `br operator base64ify`, hands what it prints to tikv-ctl, and
    // reports the range compacted (TiDB Operator's states).
    let dir = tempfile::tempdir().unwrap();
    let cluster = FakeCluster::new(t(0));
    let mut compact: operator::api::CompactBackup = fixture("compact-backup.yaml");
    let storage = dir.path().join("log");
    compact.spec.storage = operator::api::StorageProvider {
        local: Some(Box::new(
            serde_json::from_value(serde_json::json!({
                "prefix": "log-2026-01-01t00-00-00",
                "volume": {"name": "nfs", "nfs": {"server": "nfs", "path": "/"}},
                "volumeMount": {"name": "nfs", "mountPath": storage.display().to_string()},
            }))
            .unwrap(),
        )),
        ..Default::default()
    };
    let key = key_of(&compact);
    cluster.put(&compact);
    let tools = FakeTools::new("success", Credentials::default(), dir.path());
    manager::compact(&cluster, &tools, &key).await.unwrap();
    let stored: operator::api::CompactBackup = cluster.api_get(&key.namespace, &key.name).unwrap();
    let s = stored.status.unwrap();
    assert_eq!(s.state.as_deref(), Some("Complete"));
    assert_eq!(s.end_ts, compact.end().map(|e| e.0.to_string()));
    let compacted = std::fs::read_to_string(dir.path().join("compacted-storage")).unwrap();
    assert_eq!(compacted.trim(), format!("local://{}/log-2026-01-01t00-00-00", storage.display()));
    let marker = format!("{}-{}", compact.start().unwrap().0, compact.end().unwrap().0);
    assert!(storage.join("log-2026-01-01t00-00-00/v1/compacted").join(marker).exists());
}

#[tokio::test]
async fn a_failed_compaction_attempt_is_retry_failed_with_the_tools_last_words() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = FakeCluster::new(t(0));
    let compact: operator::api::CompactBackup = fixture("compact-backup.yaml");
    let key = key_of(&compact);
    cluster.put(&compact);
    let err = manager::compact(&cluster, &FakeTools::new("fail", Credentials::default(), dir.path()), &key)
        .await
        .unwrap_err();
    assert_eq!(err.exit_code(), 1);
    let stored: operator::api::CompactBackup = cluster.api_get(&key.namespace, &key.name).unwrap();
    let s = stored.status.unwrap();
    assert_eq!(s.state.as_deref(), Some("RetryFailed"), "Failed is the controller's call, when the Job gives up");
    let message = s.message.unwrap();
    assert!(message.starts_with("tikv-ctl exited with code 1:") && message.contains("compaction failed"), "{message}");
}
