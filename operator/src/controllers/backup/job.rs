//! `job_for` and `clean_job_for`: the Jobs that run one backup attempt and the cleanup of a Backup's data.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::EnvVar;

/// Tells backup-manager which attempt it runs, so a pod of an attempt the controller gave up on never writes.
pub const ATTEMPT_ENV: &str = "BACKUP_ATTEMPT";

use crate::api::labels::{self, component};
use crate::api::log_backup::LogCommand;
use crate::api::{Backup, names};
use crate::cluster::Kind;
use crate::controllers::Settings;
use crate::controllers::jobs::{JobRequest, build_job, storage_env, storage_volumes, tidb_env};

fn base(backup: &Backup, role: &'static str) -> JobRequest {
    let name = backup.metadata.name.clone().unwrap_or_default();
    let namespace = backup.metadata.namespace.clone().unwrap_or_default();
    let spec = &backup.spec;
    let (volumes, mounts) = storage_volumes(&spec.storage);
    let mut env = storage_env(&spec.storage);
    env.extend(spec.env.clone().unwrap_or_default());
    JobRequest {
        role,
        name: names::job_name(role, &name),
        namespace,
        owner_kind: Some(Kind::Backup),
        owner_uid: backup.metadata.uid.clone().unwrap_or_default(),
        owner_label: labels::BACKUP,
        owner_name: name,
        env,
        resources: spec.resources.as_deref().cloned(),
        service_account: spec.service_account.clone(),
        image_pull_secrets: spec.image_pull_secrets.clone(),
        affinity: spec.affinity.as_deref().cloned(),
        tolerations: spec.tolerations.clone(),
        priority_class_name: spec.priority_class_name.clone(),
        pod_security_context: spec.pod_security_context.as_deref().cloned(),
        volumes,
        mounts,
        ..Default::default()
    }
}

/// The Job `backup-<name>` running `attempt` (0-based): `backup-manager backup` with br, else `export` with dumpling.
pub fn job_for(backup: &Backup, attempt: u32, settings: &Settings) -> Job {
    let mut req = base(backup, component::BACKUP);
    let ns_arg = format!("--namespace={}", req.namespace);
    let name_arg = format!("--backupName={}", req.owner_name);
    let spec = &backup.spec;
    let image =
        |default: &str| spec.tool_image.clone().filter(|s| !s.is_empty()).unwrap_or_else(|| default.to_string());
    if spec.uses_br() {
        req.args = vec!["backup".into(), ns_arg, name_arg];
        req.tool = Some(("br", image(&settings.br_image)));
    } else {
        req.args = vec!["export".into(), ns_arg, name_arg];
        req.tool = Some(("dumpling", image(&settings.dumpling_image)));
        req.env.extend(tidb_env(spec.from.as_deref()));
    }
    req.attempt = attempt;
    req.env.push(EnvVar { name: ATTEMPT_ENV.into(), value: Some(attempt.to_string()), ..Default::default() });
    build_job(req, settings)
}

/// The Job of a log Backup's `command`: `backup-<name>-<command>` (TiDB Operator's names).
pub fn log_job_name(backup: &str, command: LogCommand) -> String {
    names::job_name(component::BACKUP, &format!("{backup}-{command}"))
}

/// The Job that stops a log Backup's task before the Backup is deleted: `stop-<name>`.
pub fn stop_job_name(backup: &str) -> String {
    names::job_name(STOP, backup)
}

/// The role prefix of the stop Job's name.
const STOP: &str = "stop";

/// The Job running `backup-manager backup --mode=log --subcommand=<command>` for a log Backup (`stop` names the
/// deletion's stop Job instead of the spec's `log-stop` one).
pub fn log_job_for(backup: &Backup, command: LogCommand, stop: bool, settings: &Settings) -> Job {
    let mut req = base(backup, component::BACKUP);
    req.name = if stop { stop_job_name(&req.owner_name) } else { log_job_name(&req.owner_name, command) };
    req.args = vec![
        "backup".into(),
        format!("--namespace={}", req.namespace),
        format!("--backupName={}", req.owner_name),
        "--mode=log".into(),
        format!("--subcommand={command}"),
    ];
    let image = backup.spec.tool_image.clone().filter(|s| !s.is_empty()).unwrap_or_else(|| settings.br_image.clone());
    req.tool = Some(("br", image));
    build_job(req, settings)
}

/// The Job `clean-<name>`: `backup-manager clean`, which removes exactly this Backup's data from its storage.
pub fn clean_job_for(backup: &Backup, settings: &Settings) -> Job {
    let mut req = base(backup, component::CLEAN);
    req.args =
        vec!["clean".into(), format!("--namespace={}", req.namespace), format!("--backupName={}", req.owner_name)];
    build_job(req, settings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::BackupSpec;
    use crate::api::storage::{S3StorageProvider, StorageProvider};
    use crate::api::tools::BrConfig;

    fn backup() -> Backup {
        let mut b = Backup::new(
            "demo",
            BackupSpec {
                br: Some(Box::new(BrConfig { cluster: "mycluster".into(), ..Default::default() })),
                storage: StorageProvider {
                    s3: Some(Box::new(S3StorageProvider {
                        provider: "aws".into(),
                        bucket: Some("backup".into()),
                        secret_name: Some("s3-secret".into()),
                        ..Default::default()
                    })),
                    ..Default::default()
                },
                ..Default::default()
            },
        );
        b.metadata.namespace = Some("test1".into());
        b.metadata.uid = Some("uid-1".into());
        b
    }

    #[test]
    fn backup_job_runs_backup_manager_with_secret_references_only() {
        let job = job_for(&backup(), 2, &Settings::default());
        assert_eq!(job.metadata.name.as_deref(), Some("backup-demo"));
        let pod = job.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
        let c = &pod.containers[0];
        assert_eq!(c.args.as_ref().unwrap(), &["backup", "--namespace=test1", "--backupName=demo"]);
        for e in c.env.as_ref().unwrap() {
            if e.name.starts_with("AWS_") {
                assert!(e.value.is_none(), "{} must come from a secret reference", e.name);
                assert_eq!(e.value_from.as_ref().unwrap().secret_key_ref.as_ref().unwrap().name, "s3-secret");
            }
        }
        assert_eq!(job.metadata.annotations.as_ref().unwrap()[labels::ATTEMPT], "2");
        assert_eq!(job.spec.as_ref().unwrap().backoff_limit, Some(0));
        let owner = &job.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!((owner.kind.as_str(), owner.uid.as_str(), owner.controller), ("Backup", "uid-1", Some(true)));
    }

    #[test]
    fn job_pods_are_hardened() {
        let job = clean_job_for(&backup(), &Settings::default());
        let pod = job.spec.unwrap().template.spec.unwrap();
        let psc = pod.security_context.unwrap();
        assert_eq!(psc.run_as_non_root, Some(true));
        assert_eq!(psc.seccomp_profile.unwrap().type_, "RuntimeDefault");
        let sc = pod.containers[0].security_context.clone().unwrap();
        assert_eq!(sc.read_only_root_filesystem, Some(true));
        assert_eq!(sc.allow_privilege_escalation, Some(false));
        assert_eq!(sc.capabilities.unwrap().drop.unwrap(), ["ALL"]);
    }

    #[test]
    fn log_jobs_are_named_by_their_command_and_run_br_log() {
        let mut b = backup();
        b.spec.backup_mode = Some("log".into());
        let job = log_job_for(&b, LogCommand::Truncate, false, &Settings::default());
        assert_eq!(job.metadata.name.as_deref(), Some("backup-demo-log-truncate"));
        let c = &job.spec.as_ref().unwrap().template.spec.as_ref().unwrap().containers[0];
        assert_eq!(
            c.args.as_ref().unwrap(),
            &["backup", "--namespace=test1", "--backupName=demo", "--mode=log", "--subcommand=log-truncate"]
        );
        let stop = log_job_for(&b, LogCommand::Stop, true, &Settings::default());
        assert_eq!(stop.metadata.name.as_deref(), Some("stop-demo"));
    }

    #[test]
    fn dumpling_backups_export() {
        let mut b = backup();
        b.spec.br = None;
        b.spec.from = Some(Box::new(crate::api::TidbAccessConfig {
            host: "tidb".into(),
            secret_name: "pw".into(),
            ..Default::default()
        }));
        let job = job_for(&b, 0, &Settings::default());
        let c = &job.spec.unwrap().template.spec.unwrap().containers[0];
        assert_eq!(c.args.as_ref().unwrap()[0], "export");
        assert!(c.env.as_ref().unwrap().iter().any(|e| e.name == "TIDB_PASSWORD" && e.value.is_none()));
    }
}
