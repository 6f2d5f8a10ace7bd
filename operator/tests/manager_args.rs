//! backup-manager's command lines: golden (insta) dry-runs for every tool and storage provider, the documented
//! manifests, and the rules around them (subcommand must match the spec, secrets never shown, bad specs named).

use operator::api::storage::{
    AzblobStorageProvider, GcsStorageProvider, LocalStorageProvider, S3StorageProvider, StorageProvider,
};
use operator::api::tools::{BrConfig, DumplingConfig, TidbAccessConfig};
use operator::api::{BackupSpec, BackupType, RestoreSpec};
use operator::manager::dry_run::{DryRunError, Mode, render};
use operator::manager::tool::Operation;

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// One storage provider of each kind (and an S3-compatible store with an endpoint), each with its Secret.
fn providers() -> Vec<(&'static str, StorageProvider)> {
    let s3 = |provider: &str, endpoint: Option<&str>| StorageProvider {
        s3: Some(Box::new(S3StorageProvider {
            provider: provider.into(),
            region: Some("us-west-1".into()),
            endpoint: endpoint.map(Into::into),
            bucket: Some("backup".into()),
            prefix: Some("test1-demo1".into()),
            secret_name: Some("s3-secret".into()),
            storage_class: Some("STANDARD_IA".into()),
            ..Default::default()
        })),
        ..Default::default()
    };
    let gcs = StorageProvider {
        gcs: Some(Box::new(GcsStorageProvider {
            project_id: "gcp".into(),
            location: Some("us-west2".into()),
            bucket: Some("backup".into()),
            prefix: Some("test1-demo1".into()),
            secret_name: Some("gcp-secret".into()),
            object_acl: Some("private".into()),
            ..Default::default()
        })),
        ..Default::default()
    };
    let azblob = StorageProvider {
        azblob: Some(Box::new(AzblobStorageProvider {
            container: Some("my-container".into()),
            prefix: Some("my-folder".into()),
            secret_name: Some("azblob-secret".into()),
            access_tier: Some("Cool".into()),
            storage_account: Some("myaccount".into()),
            ..Default::default()
        })),
        ..Default::default()
    };
    let local: LocalStorageProvider = serde_json::from_value(serde_json::json!({
        "prefix": "backup-nfs",
        "volume": {"name": "nfs", "nfs": {"server": "192.168.0.2", "path": "/nfs"}},
        "volumeMount": {"name": "nfs", "mountPath": "/nfs"}
    }))
    .unwrap();
    vec![
        ("s3 (aws)", s3("aws", None)),
        ("s3 (ceph, endpoint)", s3("ceph", Some("http://10.0.0.1:30074"))),
        ("gcs", gcs),
        ("azblob", azblob),
        ("local", StorageProvider { local: Some(Box::new(local)), ..Default::default() }),
    ]
}

fn manifest<T: serde::Serialize>(kind: &str, spec: T) -> String {
    // JSON is YAML, so the serialized object is a valid manifest.
    serde_json::to_string_pretty(&serde_json::json!({
        "apiVersion": "pingcap.com/v1alpha1",
        "kind": kind,
        "metadata": {"name": "demo", "namespace": "test1"},
        "spec": spec,
    }))
    .unwrap()
}

fn br() -> BrConfig {
    BrConfig { cluster: "mycluster".into(), concurrency: Some(4), rate_limit: Some(128), ..Default::default() }
}

fn tidb() -> TidbAccessConfig {
    TidbAccessConfig {
        host: "demo-tidb".into(),
        port: Some(4000),
        user: Some("root".into()),
        secret_name: "tidb-secret".into(),
        ..Default::default()
    }
}

/// Every provider rendered for `mode`, one section per provider.
fn matrix(mode: Mode, spec_for: impl Fn(StorageProvider) -> String) -> String {
    let mut out = String::new();
    for (name, storage) in providers() {
        let text = spec_for(storage);
        let rendered = render(mode, "matrix.yaml", &text).unwrap_or_else(|e| panic!("{name}: {e}"));
        out.push_str(&format!("## {name}\n{rendered}\n"));
    }
    out
}

#[test]
fn br_backups_have_golden_command_lines_for_every_provider() {
    let out = matrix(Mode::Run(Operation::Backup), |storage| {
        manifest(
            "Backup",
            BackupSpec {
                br: Some(Box::new(br())),
                table_filter: Some(vec!["db1.*".into(), "!db1.tmp_*".into()]),
                storage,
                ..Default::default()
            },
        )
    });
    insta::assert_snapshot!(out);
}

#[test]
fn dumpling_exports_have_golden_command_lines_for_every_provider() {
    let out = matrix(Mode::Run(Operation::Export), |storage| {
        manifest(
            "Backup",
            BackupSpec {
                from: Some(Box::new(tidb())),
                dumpling: Some(DumplingConfig { options: Some(vec!["--threads=16".into()]), table_filter: None }),
                table_filter: Some(vec!["test.*".into()]),
                storage,
                ..Default::default()
            },
        )
    });
    insta::assert_snapshot!(out);
}

#[test]
fn br_restores_have_golden_command_lines_for_every_provider() {
    let out = matrix(Mode::Run(Operation::Restore), |storage| {
        manifest(
            "Restore",
            RestoreSpec {
                br: Some(Box::new(BrConfig { db: Some("sales".into()), on_line: Some(true), ..br() })),
                backup_type: Some(BackupType::Db),
                storage,
                ..Default::default()
            },
        )
    });
    insta::assert_snapshot!(out);
}

#[test]
fn pitr_restores_run_br_restore_point_to_a_tso() {
    // Issue 15: `restoreMode: pitr` runs `br restore point` from the log storage, over the snapshot storage if
    // named, to the point as a TSO (br reads TSOs; the spellings a user may write are converted here).
    let s3 = |prefix: &str| StorageProvider {
        s3: Some(Box::new(S3StorageProvider {
            provider: "aws".into(),
            bucket: Some("backup".into()),
            prefix: Some(prefix.into()),
            ..Default::default()
        })),
        ..Default::default()
    };
    let mut r = operator::api::Restore::new(
        "pitr",
        RestoreSpec {
            br: Some(Box::new(br())),
            restore_mode: Some("pitr".into()),
            pitr_restored_ts: Some("2026-01-01 02:50:00+0000".into()),
            pitr_full_backup_storage_provider: Some(Box::new(s3("snap"))),
            storage: s3("log"),
            ..Default::default()
        },
    );
    r.metadata.namespace = Some("test1".into());
    let job = operator::manager::args::restore_job(&r).expect("a valid pitr restore");
    let tso = operator::api::tso::Tso::parse("2026-01-01T02:50:00Z").unwrap().0;
    assert_eq!(job.args[..3], ["restore", "point", "--pd=mycluster-pd.test1:2379"]);
    assert!(job.args.contains(&"--storage=s3://backup/log".to_string()), "{:?}", job.args);
    assert!(job.args.contains(&"--full-backup-storage=s3://backup/snap".to_string()), "{:?}", job.args);
    assert!(job.args.contains(&format!("--restored-ts={tso}")), "{:?}", job.args);
}

#[test]
fn lightning_imports_have_golden_command_lines_for_every_provider() {
    let out = matrix(Mode::Run(Operation::Import), |storage| {
        manifest(
            "Restore",
            RestoreSpec { to: Some(tidb()), table_filter: Some(vec!["sales.*".into()]), storage, ..Default::default() },
        )
    });
    insta::assert_snapshot!(out);
}

#[test]
fn documented_manifests_render_as_golden_dry_runs() {
    let mut out = String::new();
    for (name, mode) in [
        ("article-gcs-backup.yaml", Mode::Run(Operation::Backup)),
        ("s3-br-backup.yaml", Mode::Run(Operation::Backup)),
        ("azblob-backup.yaml", Mode::Run(Operation::Backup)),
        ("local-backup.yaml", Mode::Run(Operation::Backup)),
        ("dumpling-backup.yaml", Mode::Run(Operation::Export)),
        ("br-restore.yaml", Mode::Run(Operation::Restore)),
        ("lightning-restore.yaml", Mode::Run(Operation::Import)),
        ("article-gcs-backup.yaml", Mode::Clean),
        ("local-backup.yaml", Mode::Clean),
    ] {
        let rendered = render(mode, name, &fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        out.push_str(&format!("## {mode:?} {name}\n{rendered}\n"));
    }
    insta::assert_snapshot!(out);
}

#[test]
fn the_articles_gcs_backup_is_a_br_full_backup_of_mycluster() {
    let out = render(Mode::Run(Operation::Backup), "article", &fixture("article-gcs-backup.yaml")).unwrap();
    let line = out.lines().next().unwrap();
    assert!(line.starts_with("br backup full "), "{line}");
    assert!(line.contains("--pd=mycluster-pd.test1:2379"), "{line}");
    assert!(line.contains("--storage=gcs://backup/test1-demo1"), "{line}");
}

#[test]
fn a_manifest_without_a_namespace_is_in_default_as_kubectl_would_apply_it() {
    let text = "apiVersion: pingcap.com/v1alpha1\nkind: Backup\nmetadata: {name: x}\nspec:\n  br: {cluster: c}\n  s3: {provider: aws, bucket: b, prefix: p}\n";
    let out = render(Mode::Run(Operation::Backup), "n.yaml", text).unwrap();
    assert!(out.starts_with("br backup full --pd=c-pd.default:2379 "), "{out}");
}

#[test]
fn the_subcommand_must_match_the_spec() {
    let err = render(Mode::Run(Operation::Export), "a.yaml", &fixture("article-gcs-backup.yaml")).unwrap_err();
    assert!(matches!(err, DryRunError::WrongSubcommand { actual: "backup", asked: "export", .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "a.yaml: test1/demo-backup-gcp is a backup job; run `backup-manager backup`, not `export`"
    );
    let err = render(Mode::Run(Operation::Restore), "a.yaml", &fixture("article-gcs-backup.yaml")).unwrap_err();
    assert!(err.to_string().contains("needs a Restore, found \"Backup\""), "{err}");
}

#[test]
fn bad_manifests_are_reported_with_the_field_and_the_problem() {
    let mode = Mode::Run(Operation::Backup);
    let err = render(mode, "b.yaml", "apiVersion: pingcap.com/v1alpha1\nkind: Backup\nmetadata: {name: x}\nspec:\n  br: {cluster: c, concurrency: lots}\n").unwrap_err();
    assert!(err.to_string().starts_with("b.yaml: spec.br.concurrency: invalid type"), "{err}");
    let err = render(mode, "b.yaml", "apiVersion: pingcap.com/v1alpha1\nkind: Backup\nmetadata: {name: x}\nspec:\n  backupType: db\n  br: {cluster: c}\n  s3: {provider: aws, bucket: b}\n").unwrap_err();
    assert!(err.to_string().contains("spec.br.db: must be set when backupType is db"), "{err}");
    let err = render(mode, "b.yaml", "kind: [").unwrap_err();
    assert!(err.to_string().starts_with("b.yaml: line 1"), "{err}");
}

#[test]
fn rclone_options_are_reported_and_tool_flags_among_them_are_passed() {
    let text = manifest(
        "Backup",
        BackupSpec {
            br: Some(Box::new(br())),
            storage: StorageProvider {
                s3: Some(Box::new(S3StorageProvider {
                    provider: "aws".into(),
                    bucket: Some("b".into()),
                    prefix: Some("p".into()),
                    options: Some(vec!["--s3.force-path-style=true".into(), "--s3-acl=private".into()]),
                    ..Default::default()
                })),
                ..Default::default()
            },
            ..Default::default()
        },
    );
    let out = render(Mode::Run(Operation::Backup), "o.yaml", &text).unwrap();
    let line = out.lines().next().unwrap();
    assert!(line.ends_with("--s3.provider=aws --s3.force-path-style=true"), "{line}");
    assert!(!line.contains("--s3-acl"), "{line}");
    assert!(out.contains("# warning: s3.options --s3-acl=private not passed"), "{out}");
}

#[test]
fn dry_runs_name_secrets_but_never_carry_values() {
    let out = render(Mode::Run(Operation::Export), "d.yaml", &fixture("dumpling-backup.yaml")).unwrap();
    let line = out.lines().next().unwrap();
    assert!(line.ends_with("'--password=******'"), "{line}");
    assert!(
        out.contains("# TIDB_PASSWORD (from Secret backup-demo1-tidb-secret, key password): passed as --password"),
        "{out}"
    );
    assert!(!out.contains("<Secret"), "placeholder values must not leak into the output: {out}");

    let inline = manifest(
        "Backup",
        BackupSpec {
            br: Some(Box::new(BrConfig { options: Some(vec!["--s3.secret-access-key=inline-secret".into()]), ..br() })),
            storage: providers().remove(0).1,
            ..Default::default()
        },
    );
    let out = render(Mode::Run(Operation::Backup), "i.yaml", &inline).unwrap();
    assert!(out.contains("--s3.secret-access-key=******") && !out.contains("inline-secret"), "{out}");
}
