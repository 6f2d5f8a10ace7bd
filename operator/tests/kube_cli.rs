//! The `backup-operator` binary: its help documents `run`, `crd` and the flags; a bad kubeconfig or an unreachable
//! API server ends it within seconds with one clear line and a non-zero exit, never a panic or a hang.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// A test's own folder, its HOME and where it writes kubeconfigs: removed when the test ends, passed or failed.
struct Scratch(tempfile::TempDir);

impl Scratch {
    fn new() -> Self {
        Scratch(tempfile::Builder::new().prefix("backup-operator-cli-").tempdir().unwrap())
    }

    fn operator(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_backup-operator"));
        for var in ["KUBECONFIG", "RUST_LOG", "WATCH_NAMESPACE", "POD_NAMESPACE", "POD_NAME", "KUBERNETES_SERVICE_HOST"]
        {
            cmd.env_remove(var);
        }
        cmd.env("HOME", self.0.path());
        cmd
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Runs `run` with `args` (metrics on an ephemeral port) and returns its output and how long it took.
    fn run(&self, args: &[&str]) -> (Output, Duration) {
        let started = Instant::now();
        let out =
            self.operator().arg("run").arg("--metrics-addr=127.0.0.1:0").args(args).output().expect("the binary runs");
        (out, started.elapsed())
    }
}

fn kubeconfig(server: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: test\nclusters:\n- name: test\n  cluster:\n    server: {server}\n\
         contexts:\n- name: test\n  context:\n    cluster: test\n    user: test\nusers:\n- name: test\n  user:\n    token: abc\n"
    )
}

/// The one line on stderr (asserting there is exactly one) and the exit.
fn one_line_failure(out: &Output, took: Duration) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "must fail: {stderr}");
    assert_eq!(out.status.code(), Some(1), "exit code: {stderr}");
    assert!(took < Duration::from_secs(8), "took {took:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let lines: Vec<_> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line, got:\n{stderr}");
    assert!(lines[0].starts_with("backup-operator: error: "), "{stderr}");
    lines[0].to_string()
}

#[test]
fn help_documents_the_subcommands_and_the_flags() {
    let s = Scratch::new();
    let out = s.operator().arg("--help").output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success());
    for word in ["run", "crd", "--version", "--namespace", "--metrics-addr", "--log-format", "--leader-elect"] {
        assert!(help.contains(word), "--help lacks {word}:\n{help}");
    }
    let out = s.operator().args(["run", "--help"]).output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--kubeconfig",
        "--context",
        "--connect-timeout",
        "--namespace",
        "--concurrency",
        "--metrics-addr",
        "--log-format",
        "--log-level",
        "--leader-elect",
        "--lease-name",
        "--lease-namespace",
        "--lease-duration",
        "--identity",
        "--manager-image",
        "--br-image",
        "--dumpling-image",
        "--lightning-image",
        "--tikv-image",
        "--pod-start-timeout",
        "--clean-retry",
        "--resync",
        "--shutdown-timeout",
    ] {
        assert!(help.contains(flag), "run --help lacks {flag}:\n{help}");
    }
}

#[test]
fn version_and_crd_print_and_exit_zero() {
    let s = Scratch::new();
    let out = s.operator().arg("--version").output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), format!("backup-operator {}", env!("CARGO_PKG_VERSION")));
    let out = s.operator().arg("crd").output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), operator::api::crd::crds_yaml());
}

#[test]
fn a_missing_kubeconfig_fails_in_one_line_naming_the_file() {
    let s = Scratch::new();
    let (out, took) = s.run(&["--kubeconfig", "/nonexistent/kubeconfig"]);
    let line = one_line_failure(&out, took);
    assert!(line.contains("/nonexistent/kubeconfig") && line.contains("No such file"), "{line}");
}

#[test]
fn a_malformed_kubeconfig_fails_in_one_line() {
    let s = Scratch::new();
    let path = s.write("garbage.yaml", "apiVersion: v1\nkind: Config\nclusters: [this is: not, a list of clusters\n");
    let (out, took) = s.run(&["--kubeconfig", path.to_str().unwrap()]);
    let line = one_line_failure(&out, took);
    assert!(line.contains("kubeconfig"), "{line}");
}

#[test]
fn an_unknown_context_fails_in_one_line() {
    let s = Scratch::new();
    let path = s.write("ctx.yaml", &kubeconfig("https://127.0.0.1:1"));
    let (out, took) = s.run(&["--kubeconfig", path.to_str().unwrap(), "--context", "nope"]);
    let line = one_line_failure(&out, took);
    assert!(line.contains("nope"), "{line}");
}

#[test]
fn an_unreachable_api_server_fails_in_one_line_within_the_connect_timeout() {
    let s = Scratch::new();
    let path = s.write("refused.yaml", &kubeconfig("https://127.0.0.1:1"));
    let (out, took) = s.run(&["--kubeconfig", path.to_str().unwrap(), "--connect-timeout=2s"]);
    let line = one_line_failure(&out, took);
    assert!(line.contains("https://127.0.0.1:1"), "{line}");
}

#[test]
fn an_api_server_that_never_answers_fails_at_the_connect_timeout() {
    let s = Scratch::new();
    // A listener that accepts and never replies.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let path = s.write("silent.yaml", &kubeconfig(&format!("http://{addr}")));
    let (out, took) = s.run(&["--kubeconfig", path.to_str().unwrap(), "--connect-timeout=1s"]);
    let line = one_line_failure(&out, took);
    assert!(line.contains("within 1s"), "{line}");
    drop(listener);
}

#[test]
fn bad_flags_fail_before_connecting() {
    let s = Scratch::new();
    let (out, took) = s.run(&["--lease-duration=1s"]);
    let line = one_line_failure(&out, took);
    assert!(line.contains("--lease-duration"), "{line}");
    let out = s.operator().args(["run", "--log-format=xml"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "clap usage error");
}

#[test]
fn the_top_level_help_summarises_every_flag_of_run() {
    let s = Scratch::new();
    use clap::Args;
    let help = String::from_utf8(s.operator().arg("--help").output().unwrap().stdout).unwrap();
    let run = operator::runtime::RunArgs::augment_args(clap::Command::new("run"));
    for arg in run.get_arguments() {
        if let Some(long) = arg.get_long() {
            assert!(help.contains(&format!("--{long}")), "backup-operator --help does not mention --{long}:\n{help}");
        }
    }
}
