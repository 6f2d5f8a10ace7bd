//! `ProcessTool` against fake br, dumpling and tidb-lightning executables (tests/fixtures/tools) that print what
//! the real tools print and fail the way they fail: exit codes, panics, output cut mid-line, hanging until
//! SIGTERM, ignoring SIGTERM, echoing their credentials.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use operator::api::storage::{ProviderKind, StorageLocation};
use operator::manager::credentials::{AWS_SECRET_ACCESS_KEY, Credentials, GCS_SERVICE_ACCOUNT_JSON_KEY, TIDB_PASSWORD};
use operator::manager::process::{ProcessTool, StopHandle, stop_signal};
use operator::manager::tool::{
    Operation, PasswordInput, ProgressSink, Tool, ToolError, ToolJob, ToolKind, ToolProgress, ToolReport,
};

fn fake_tools() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tools")
}

/// A job for the fake `tool` in `mode`, recording what it received into `record`.
struct JobBuilder(ToolJob);

impl JobBuilder {
    fn new(tool: ToolKind, operation: Operation, mode: &str, record: &Path) -> Self {
        JobBuilder(ToolJob {
            tool,
            operation,
            location: StorageLocation { kind: ProviderKind::S3, root: "backup".into(), prefix: "demo".into() },
            args: match tool {
                ToolKind::Br => vec![operation.subcommand().into(), "full".into(), "--pd=demo-pd.test1:2379".into()],
                _ => vec!["--host=demo-tidb".into()],
            },
            env: vec![
                ("FAKE_TOOL_MODE".into(), mode.into()),
                ("FAKE_TOOL_RECORD".into(), record.display().to_string()),
            ],
            password: None,
            warnings: Vec::new(),
        })
    }
    fn password(mut self, p: PasswordInput) -> Self {
        self.0.password = Some(p);
        self
    }
    fn gcs(mut self) -> Self {
        self.0.location.kind = ProviderKind::Gcs;
        self
    }
    fn build(self) -> ToolJob {
        self.0
    }
}

/// A tool over the fake executables with `credentials`; private files go under `private`.
fn tool(credentials: Credentials, private: &Path) -> (ProcessTool, StopHandle) {
    let (handle, stop) = stop_signal();
    let t = ProcessTool::new(fake_tools(), credentials, stop).with_private_dir_parent(private);
    (t, handle)
}

async fn run(tool: &ProcessTool, job: &ToolJob) -> (Result<ToolReport, ToolError>, Option<ToolProgress>) {
    let (sink, mut feed) = ProgressSink::channel();
    let result = tool.run(job, &sink).await;
    drop(sink);
    let mut last = None;
    while let Some(p) = feed.next().await {
        last = Some(p);
    }
    (result, last)
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}")).trim_end().to_string()
}

#[tokio::test]
async fn a_successful_br_backup_reports_its_summary_and_its_last_progress() {
    let dir = tempfile::tempdir().unwrap();
    let (t, _h) = tool(Credentials::default(), dir.path());
    let (result, progress) =
        run(&t, &JobBuilder::new(ToolKind::Br, Operation::Backup, "success", dir.path()).build()).await;
    let report = result.unwrap();
    assert_eq!(report.size_bytes, Some(71010));
    assert_eq!(report.commit_ts.as_deref(), Some("445790385398841347"));
    assert_eq!(report.time_taken, Some(Duration::from_nanos(4_715_509_333)));
    assert_eq!(progress, Some(ToolProgress { step: "Full Backup".into(), percent: 100.0 }));
}

#[tokio::test]
async fn dumpling_and_lightning_summaries_are_read_too() {
    let dir = tempfile::tempdir().unwrap();
    let (t, _h) = tool(Credentials::default(), dir.path());
    let (result, progress) =
        run(&t, &JobBuilder::new(ToolKind::Dumpling, Operation::Export, "success", dir.path()).build()).await;
    assert_eq!(result.unwrap().size_bytes, Some(161_070_000));
    assert_eq!(progress.unwrap().step, "Export");
    let (result, _) =
        run(&t, &JobBuilder::new(ToolKind::Lightning, Operation::Import, "success", dir.path()).build()).await;
    assert_eq!(result.unwrap().time_taken, Some(Duration::from_millis(123_500)));
}

#[tokio::test]
async fn each_failing_tool_reports_its_exit_code_and_last_error_lines() {
    let dir = tempfile::tempdir().unwrap();
    let (t, _h) = tool(Credentials::default(), dir.path());
    let cases = [
        (ToolKind::Br, Operation::Backup, "failed to backup: [BR:KV:ErrKVStorage]tikv storage occur I/O error"),
        (ToolKind::Dumpling, Operation::Export, "dump failed: sql: SHOW CREATE TABLE `test`.`t`: Error 1146"),
        (ToolKind::Lightning, Operation::Import, "tidb lightning encountered error: [Lightning:Restore:ErrEncodeKV]"),
    ];
    for (kind, op, expected) in cases {
        let (result, _) = run(&t, &JobBuilder::new(kind, op, "fail", dir.path()).build()).await;
        match result {
            Err(ToolError::Exited { tool, code: 1, tail }) => {
                assert_eq!(tool, kind);
                assert!(tail.contains(expected), "{kind}: {tail}");
                assert!(!tail.contains("progress"), "{kind}: progress is noise: {tail}");
            }
            other => panic!("{kind}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_crashing_tool_reports_the_panic() {
    let dir = tempfile::tempdir().unwrap();
    let (t, _h) = tool(Credentials::default(), dir.path());
    let (result, progress) =
        run(&t, &JobBuilder::new(ToolKind::Br, Operation::Backup, "crash", dir.path()).build()).await;
    let Err(ToolError::Exited { code: 2, tail, .. }) = result else { panic!("{result:?}") };
    assert!(tail.contains("panic: runtime error: invalid memory address"), "{tail}");
    assert_eq!(progress.map(|p| p.percent), Some(50.0), "progress before the crash still counts");
}

#[tokio::test]
async fn a_tool_killed_mid_line_reports_the_signal_and_its_partial_output() {
    let dir = tempfile::tempdir().unwrap();
    let (t, _h) = tool(Credentials::default(), dir.path());
    let (result, _) = run(&t, &JobBuilder::new(ToolKind::Br, Operation::Backup, "truncated", dir.path()).build()).await;
    let Err(ToolError::Exited { code, tail, .. }) = result else { panic!("{result:?}") };
    assert_eq!(code, 128 + 9, "killed by SIGKILL");
    assert!(tail.contains("step=\"Full Back"), "the cut line is kept: {tail}");
}

/// Waits until the fake tool says it hangs, then asks it to stop.
async fn stop_when_hanging(record: &Path, handle: &StopHandle) {
    let hanging = record.join("hanging");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !hanging.exists() {
        assert!(Instant::now() < deadline, "the fake tool never started hanging");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    handle.stop();
}

#[tokio::test]
async fn a_stop_request_sends_sigterm_and_the_run_ends_as_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let (t, handle) = tool(Credentials::default(), dir.path());
    let job = JobBuilder::new(ToolKind::Br, Operation::Backup, "hang", dir.path()).build();
    let started = Instant::now();
    let ((result, _), ()) = tokio::join!(run(&t, &job), stop_when_hanging(dir.path(), &handle));
    assert_eq!(result, Err(ToolError::Stopped { tool: ToolKind::Br }));
    assert!(dir.path().join("got-sigterm").exists(), "the tool got SIGTERM");
    assert!(started.elapsed() < Duration::from_secs(10), "it stopped without waiting for the grace period");
}

#[tokio::test]
async fn a_tool_that_ignores_sigterm_is_killed_after_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let (t, handle) = tool(Credentials::default(), dir.path());
    let t = t.with_grace(Duration::from_millis(300));
    let job = JobBuilder::new(ToolKind::Dumpling, Operation::Export, "stubborn", dir.path()).build();
    let started = Instant::now();
    let ((result, _), ()) = tokio::join!(run(&t, &job), stop_when_hanging(dir.path(), &handle));
    assert_eq!(result, Err(ToolError::Stopped { tool: ToolKind::Dumpling }));
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn a_stop_requested_before_the_start_never_spawns_the_tool() {
    let dir = tempfile::tempdir().unwrap();
    let (t, handle) = tool(Credentials::default(), dir.path());
    handle.stop();
    let (result, _) = run(&t, &JobBuilder::new(ToolKind::Br, Operation::Backup, "success", dir.path()).build()).await;
    assert_eq!(result, Err(ToolError::Stopped { tool: ToolKind::Br }));
    assert!(!dir.path().join("args").exists());
}

#[tokio::test]
async fn dumpling_gets_the_password_only_in_its_own_argv_never_in_its_environment() {
    let dir = tempfile::tempdir().unwrap();
    let (t, _h) = tool(Credentials::default().with(TIDB_PASSWORD, "tidb-pw-123"), dir.path());
    let job = JobBuilder::new(ToolKind::Dumpling, Operation::Export, "success", dir.path())
        .password(PasswordInput::Flag)
        .build();
    run(&t, &job).await.0.unwrap();
    assert_eq!(read(dir.path(), "args"), "--host=demo-tidb\n--password=tidb-pw-123");
    assert!(!read(dir.path(), "env-names").lines().any(|n| n == TIDB_PASSWORD));
}

#[tokio::test]
async fn lightning_reads_the_password_from_a_private_file_removed_after_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let private = tempfile::tempdir().unwrap();
    let (t, _h) = tool(Credentials::default().with(TIDB_PASSWORD, "p\"w"), private.path());
    let job = JobBuilder::new(ToolKind::Lightning, Operation::Import, "success", dir.path())
        .password(PasswordInput::ConfigFile)
        .build();
    run(&t, &job).await.0.unwrap();
    let config: toml::Table = toml::from_str(&read(dir.path(), "config")).unwrap();
    assert_eq!(config["tidb"]["password"].as_str(), Some("p\"w"));
    assert_eq!(read(dir.path(), "config-mode"), "600");
    assert_eq!(read(dir.path(), "private-dir-mode"), "700");
    assert!(!read(dir.path(), "args").contains("p\"w"));
    assert!(!Path::new(&read(dir.path(), "config-path")).exists(), "the config file is removed");
    assert_eq!(std::fs::read_dir(private.path()).unwrap().count(), 0, "the private directory is removed");
}

#[tokio::test]
async fn a_gcs_key_reaches_the_tool_as_a_private_file_not_as_a_variable() {
    let dir = tempfile::tempdir().unwrap();
    let (t, _h) =
        tool(Credentials::default().with(GCS_SERVICE_ACCOUNT_JSON_KEY, "{\"type\":\"service_account\"}"), dir.path());
    run(&t, &JobBuilder::new(ToolKind::Br, Operation::Backup, "success", dir.path()).gcs().build()).await.0.unwrap();
    assert_eq!(read(dir.path(), "gcs-key"), "{\"type\":\"service_account\"}");
    assert_eq!(read(dir.path(), "gcs-key-mode"), "600");
    let env = read(dir.path(), "env-names");
    assert!(env.lines().any(|n| n == "GOOGLE_APPLICATION_CREDENTIALS"));
    assert!(!env.lines().any(|n| n == GCS_SERVICE_ACCOUNT_JSON_KEY));
}

#[tokio::test]
async fn credentials_a_tool_prints_are_masked_in_the_failure_message() {
    let dir = tempfile::tempdir().unwrap();
    let creds = Credentials::default().with(TIDB_PASSWORD, "tidb-pw-123").with(AWS_SECRET_ACCESS_KEY, "aws/secret+key");
    let (t, _h) = tool(creds, dir.path());
    let mut job = JobBuilder::new(ToolKind::Dumpling, Operation::Export, "leak", dir.path())
        .password(PasswordInput::Flag)
        .build();
    // In a Job the tool inherits the key from the pod's environment.
    job.env.push((AWS_SECRET_ACCESS_KEY.into(), "aws/secret+key".into()));
    let (result, _) = run(&t, &job).await;
    let message = result.unwrap_err().to_string();
    assert!(!message.contains("tidb-pw-123") && !message.contains("aws/secret+key"), "{message}");
    assert!(message.contains("access denied (using password ******)"), "{message}");
    assert!(message.contains("the secret key ****** was refused"), "{message}");
}

#[tokio::test]
async fn a_missing_tool_binary_is_reported_as_not_started() {
    let dir = tempfile::tempdir().unwrap();
    let (handle, stop) = stop_signal();
    let t =
        ProcessTool::new(dir.path().join("no-tools"), Credentials::default(), stop).with_private_dir_parent(dir.path());
    let (result, _) = run(&t, &JobBuilder::new(ToolKind::Br, Operation::Backup, "success", dir.path()).build()).await;
    let err = result.unwrap_err();
    assert_eq!(err.reason(), "ToolNotStarted");
    assert!(err.to_string().contains("no-tools/br"), "{err}");
    drop(handle);
}

#[tokio::test]
async fn a_job_for_another_subcommand_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (t, _h) = tool(Credentials::default(), dir.path());
    let t = t.expecting(Operation::Export);
    let (result, _) = run(&t, &JobBuilder::new(ToolKind::Br, Operation::Backup, "success", dir.path()).build()).await;
    let err = result.unwrap_err();
    assert_eq!(
        err.to_string(),
        "failed to start br: backup-manager was started as `export`, but the spec asks for `backup`"
    );
    assert!(!dir.path().join("args").exists(), "the tool never ran");
}

#[tokio::test]
async fn br_jobs_built_from_a_spec_tell_br_to_log_to_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let (t, _h) = tool(Credentials::default(), dir.path());
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/article-gcs-backup.yaml"))
            .unwrap();
    let backup: operator::api::Backup = serde_saphyr::from_str(&text).unwrap();
    let mut job = operator::manager::args::backup_job(&backup).unwrap();
    job.env.extend(JobBuilder::new(ToolKind::Br, Operation::Backup, "success", dir.path()).build().env);
    run(&t, &job).await.0.unwrap();
    assert_eq!(read(dir.path(), "br-log-to-term"), "1");
    assert!(
        read(dir.path(), "args")
            .starts_with("backup\nfull\n--pd=mycluster-pd.test1:2379\n--storage=gcs://backup/test1-demo1")
    );
}
