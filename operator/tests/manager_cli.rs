//! The `backup-manager` binary as users and Jobs run it: `--dry-run --from-file`, exit codes, one-line errors.

use std::path::Path;
use std::process::{Command, Output};

const SECRETS: [(&str, &str); 4] = [
    ("GCS_SERVICE_ACCOUNT_JSON_KEY", "{\"type\":\"service_account\",\"private_key\":\"gcs-private-key-1\"}"),
    ("AWS_SECRET_ACCESS_KEY", "aws-secret-key-2"),
    ("AZURE_STORAGE_KEY", "azure-key-3"),
    ("TIDB_PASSWORD", "tidb-password-4"),
];

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name).display().to_string()
}

/// Runs backup-manager with `args`, the credentials above in its environment, and no way to reach a cluster.
fn backup_manager(args: &[&str]) -> Output {
    let home = tempfile::tempdir().unwrap();
    Command::new(env!("CARGO_BIN_EXE_backup-manager"))
        .args(args)
        .envs(SECRETS)
        .env("KUBECONFIG", home.path().join("no-kubeconfig"))
        .env("HOME", home.path())
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("KUBERNETES_SERVICE_PORT")
        .output()
        .unwrap()
}

fn text(o: &Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

fn assert_no_secrets(out: &str) {
    for (name, value) in SECRETS {
        assert!(!out.contains(value), "{name}'s value leaked: {out}");
    }
    assert!(!out.contains("gcs-private-key-1"));
}

#[test]
fn the_articles_gcs_backup_dry_run_prints_a_br_full_backup_line_without_secrets() {
    let o = backup_manager(&["backup", "--dry-run", "--from-file", &fixture("article-gcs-backup.yaml")]);
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stderr}");
    let line = stdout.lines().next().unwrap();
    assert!(line.starts_with("br backup full "), "{line}");
    assert!(line.contains("--pd=mycluster-pd.test1:2379"), "{line}");
    assert!(line.contains("gcs://backup/test1-demo1"), "{line}");
    assert!(stdout.contains("# GCS_SERVICE_ACCOUNT_JSON_KEY (from Secret gcp-secret, key credentials)"), "{stdout}");
    assert_no_secrets(&stdout);
    assert_no_secrets(&stderr);
}

#[test]
fn every_subcommand_dry_runs_its_documented_manifest_without_secrets() {
    for (sub, file) in [
        ("export", "dumpling-backup.yaml"),
        ("restore", "br-restore.yaml"),
        ("import", "lightning-restore.yaml"),
        ("clean", "s3-br-backup.yaml"),
    ] {
        let o = backup_manager(&[sub, "--dry-run", "--from-file", &fixture(file)]);
        let (stdout, stderr) = text(&o);
        assert!(o.status.success(), "{sub}: {stderr}");
        assert!(!stdout.is_empty());
        assert_no_secrets(&stdout);
    }
}

#[test]
fn a_log_backup_dry_runs_each_br_log_command_and_refuses_a_snapshot_run() {
    let file = fixture("log-backup.yaml");
    let o = backup_manager(&["backup", "--mode=log", "--dry-run", "--from-file", &file]);
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stderr}");
    let line = stdout.lines().next().unwrap();
    assert!(line.starts_with("br log start --task-name=demo1-log-backup-s3 --pd=demo1-pd.test1:2379 "), "{line}");
    assert!(line.contains("--storage=s3://my-bucket/my-log-backup-folder"), "{line}");
    let o = backup_manager(&["backup", "--subcommand=log-truncate", "--dry-run", "--from-file", &file]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("spec.logTruncateUntil: must be set to truncate the log"), "{}", text(&o).1);
    let o = backup_manager(&["backup", "--subcommand=log-pause", "--dry-run", "--from-file", &file]);
    assert!(text(&o).0.starts_with("br log pause --task-name=demo1-log-backup-s3 "), "{:?}", text(&o));
    let o = backup_manager(&["backup", "--dry-run", "--from-file", &file]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("is a backup --mode=log job"), "{}", text(&o).1);
    let o = backup_manager(&["backup", "--subcommand=log-bogus", "--dry-run", "--from-file", &file]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("\"log-bogus\" is not a log subcommand"), "{}", text(&o).1);
}

#[test]
fn dry_run_problems_are_one_line_and_exit_2() {
    let o = backup_manager(&["backup", "--dry-run", "--from-file", "/nonexistent/backup.yaml"]);
    let (_, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("backup-manager: cannot read /nonexistent/backup.yaml: "), "{stderr}");

    let o = backup_manager(&["export", "--dry-run", "--from-file", &fixture("article-gcs-backup.yaml")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("is a backup job; run `backup-manager backup`, not `export`"), "{}", text(&o).1);
}

#[test]
fn without_a_cluster_backup_manager_fails_in_one_line_with_exit_3() {
    let o = backup_manager(&["backup", "--namespace=test1", "--backupName=demo"]);
    let (_, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(3), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let last = stderr.lines().last().unwrap();
    assert!(last.starts_with("backup-manager: cannot load a Kubernetes client configuration"), "{stderr}");
    assert_no_secrets(&stderr);
}

#[test]
fn missing_names_are_usage_errors() {
    let o = backup_manager(&["restore", "--namespace=test1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("--restoreName"), "{}", text(&o).1);
}
