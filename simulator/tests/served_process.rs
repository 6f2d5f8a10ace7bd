//! `sim serve` with the real `backup-operator run` binary in another process, over HTTP on loopback, in wall-clock
//! time: leader election through the served Lease, Backups of a five-second schedule completing, and the scenario's
//! invariants holding when the serve ends.

use kube::api::{Api, ListParams};
use operator::api::{Backup, BackupPhase};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Kills the child when the test ends, however it ends.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The `backup-operator` binary of this build profile (built now if this test runs without the operator's tests).
fn backup_operator() -> PathBuf {
    let sim = PathBuf::from(env!("CARGO_BIN_EXE_sim"));
    let dir = sim.parent().expect("the binary's folder");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build.current_dir(workspace()).args(["build", "-q", "-p", "operator", "--bin", "backup-operator"]);
    if dir.ends_with("release") {
        build.arg("--release");
    }
    let status = build.status().expect("cargo runs");
    assert!(status.success(), "building backup-operator failed");
    dir.join(format!("backup-operator{}", std::env::consts::EXE_SUFFIX))
}

#[test]
fn backup_operator_binary_runs_a_schedule_against_sim_serve() {
    let operator_bin = backup_operator();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let scenario = workspace().join("scenarios/serve/seconds-schedule.yaml");
    let mut serve = Command::new(env!("CARGO_BIN_EXE_sim"))
        .args(["serve", scenario.to_str().unwrap(), "--for", "40s", "--kubeconfig", kubeconfig.to_str().unwrap()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("sim serve starts");
    let stdout = serve.stdout.take().unwrap();
    let serve = Guard(serve);
    let (lines_tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let mut seen = Vec::new();
    let mut next_line = |timeout: Duration| {
        let line = lines.recv_timeout(timeout).ok();
        if let Some(l) = &line {
            seen.push(l.clone());
        }
        line
    };
    while !next_line(Duration::from_secs(20)).expect("sim serve prints its address").starts_with("serving ") {}
    let served_at = Instant::now();

    let operator = Command::new(&operator_bin)
        .args(["run", "--kubeconfig", kubeconfig.to_str().unwrap(), "--metrics-addr", "127.0.0.1:0"])
        .args(["--lease-namespace", "default", "--identity", "served-test", "--log-level", "warn"])
        .spawn()
        .expect("backup-operator starts");
    let _operator = Guard(operator);

    // Meanwhile, a client of our own watches the Backups complete.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let complete = runtime.block_on(async {
        let config = kube::Config::from_custom_kubeconfig(
            kube::config::Kubeconfig::read_from(&kubeconfig).unwrap(),
            &Default::default(),
        )
        .await
        .unwrap();
        let client = kube::Client::try_from(config).unwrap();
        let backups: Api<Backup> = Api::namespaced(client.clone(), "test1");
        let began = Instant::now();
        loop {
            let list = backups.list(&ListParams::default()).await.expect("the served API lists Backups");
            let complete = list
                .items
                .iter()
                .filter(|b| b.status.as_ref().and_then(|s| s.phase) == Some(BackupPhase::Complete))
                .count();
            if complete >= 3 || began.elapsed() > Duration::from_secs(35) {
                let lease: Api<k8s_openapi::api::coordination::v1::Lease> = Api::namespaced(client, "default");
                let holder = lease.get("backup-operator").await.ok().and_then(|l| l.spec?.holder_identity);
                assert_eq!(holder.as_deref(), Some("served-test"), "the operator holds the served leader Lease");
                return complete;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });
    assert!(complete >= 3, "only {complete} Backups completed within 35s");

    // The serve ends after its 40s with the scenario's verdict (allow it 20s more for a loaded machine).
    let verdict = loop {
        let left = (served_at + Duration::from_secs(60)).saturating_duration_since(Instant::now());
        match next_line(left) {
            Some(l) if l.starts_with("PASS ") || l.starts_with("FAIL ") => break l,
            Some(_) => {}
            None => panic!("sim serve printed no verdict; it printed:\n{}", seen.join("\n")),
        }
    };
    assert!(verdict.starts_with("PASS "), "{}", seen.join("\n"));
    assert!(!seen.iter().any(|l| l.starts_with("VIOLATION")), "{}", seen.join("\n"));
    drop(serve);
}
