//! The hardened Job every backup, clean and restore runs in: backup-manager plus the tool copied in by an init
//! container, credentials only through secret references, owned by its Backup or Restore.

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Affinity, Capabilities, Container, EmptyDirVolumeSource, EnvVar, EnvVarSource, LocalObjectReference,
    PodSecurityContext, PodSpec, PodTemplateSpec, ResourceRequirements, SeccompProfile, SecretKeySelector,
    SecurityContext, Toleration, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use std::collections::BTreeMap;

use crate::api::labels;
use crate::api::storage::StorageProvider;
use crate::api::tools::TidbAccessConfig;
use crate::cluster::Kind;

use super::Settings;

/// Where the init container copies the tool binary for backup-manager to run.
pub const TOOLS_DIR: &str = "/var/lib/backup-tools";
/// The uid/gid Job pods run as when the user gave no `podSecurityContext`.
pub const RUN_AS: i64 = 65532;

/// What differs between the Jobs; everything else is shared hardening.
#[derive(Clone, Debug, Default)]
pub struct JobRequest {
    /// `backup`, `clean` or `restore` (the component label).
    pub role: &'static str,
    pub name: String,
    pub namespace: String,
    pub owner_kind: Option<Kind>,
    pub owner_name: String,
    pub owner_uid: String,
    /// Label identifying the owner (`tidb.pingcap.com/backup` or `.../restore`).
    pub owner_label: &'static str,
    pub attempt: u32,
    /// Arguments of backup-manager (`backup --namespace=... --backupName=...`).
    pub args: Vec<String>,
    /// The tool to copy in (`br`, `dumpling`, `tidb-lightning`) and the image it comes from; none for clean.
    pub tool: Option<(&'static str, String)>,
    /// A second tool from another image (`tikv-ctl` beside br, for compactions).
    pub second_tool: Option<(&'static str, String)>,
    /// Pods the Job may fail before it fails (0 unless the owner's spec asks: the controllers retry themselves).
    pub backoff_limit: i32,
    pub env: Vec<EnvVar>,
    pub resources: Option<ResourceRequirements>,
    pub service_account: Option<String>,
    pub image_pull_secrets: Option<Vec<LocalObjectReference>>,
    pub affinity: Option<Affinity>,
    pub tolerations: Option<Vec<Toleration>>,
    pub priority_class_name: Option<String>,
    pub pod_security_context: Option<PodSecurityContext>,
    pub volumes: Vec<Volume>,
    pub mounts: Vec<VolumeMount>,
}

fn secret_env(name: &str, secret: &str, key: &str, optional: bool) -> EnvVar {
    EnvVar {
        name: name.into(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector { name: secret.into(), key: key.into(), optional: Some(optional) }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Environment that gives the tool its storage credentials, as references to the user's Secret (never values).
pub fn storage_env(storage: &StorageProvider) -> Vec<EnvVar> {
    let mut env = Vec::new();
    if let Some(secret) = storage.s3.as_ref().and_then(|s| s.secret_name.as_deref()) {
        env.push(secret_env("AWS_ACCESS_KEY_ID", secret, "access_key", false));
        env.push(secret_env("AWS_SECRET_ACCESS_KEY", secret, "secret_key", false));
    }
    if let Some(secret) = storage.gcs.as_ref().and_then(|s| s.secret_name.as_deref()) {
        env.push(secret_env("GCS_SERVICE_ACCOUNT_JSON_KEY", secret, "credentials", false));
    }
    if let Some(secret) = storage.azblob.as_ref().and_then(|s| s.secret_name.as_deref()) {
        env.push(secret_env("AZURE_STORAGE_ACCOUNT", secret, "AZURE_STORAGE_ACCOUNT", true));
        env.push(secret_env("AZURE_STORAGE_KEY", secret, "AZURE_STORAGE_KEY", true));
        env.push(secret_env("AZURE_STORAGE_SAS_TOKEN", secret, "AZURE_STORAGE_SAS_TOKEN", true));
    }
    env
}

/// The TiDB password for dumpling (`from`) or lightning (`to`), from the Secret's `password` key.
pub fn tidb_env(access: Option<&TidbAccessConfig>) -> Vec<EnvVar> {
    access
        .filter(|a| !a.secret_name.is_empty())
        .map(|a| vec![secret_env("TIDB_PASSWORD", &a.secret_name, "password", false)])
        .unwrap_or_default()
}

/// The volume and mount of a `local` storage provider.
pub fn storage_volumes(storage: &StorageProvider) -> (Vec<Volume>, Vec<VolumeMount>) {
    match &storage.local {
        Some(local) => (vec![local.volume.clone()], vec![local.volume_mount.clone()]),
        None => (Vec::new(), Vec::new()),
    }
}

fn hardened_container() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        read_only_root_filesystem: Some(true),
        run_as_non_root: Some(true),
        capabilities: Some(Capabilities { drop: Some(vec!["ALL".into()]), ..Default::default() }),
        seccomp_profile: Some(SeccompProfile { type_: "RuntimeDefault".into(), ..Default::default() }),
        ..Default::default()
    }
}

fn default_pod_security() -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(RUN_AS),
        run_as_group: Some(RUN_AS),
        fs_group: Some(RUN_AS),
        seccomp_profile: Some(SeccompProfile { type_: "RuntimeDefault".into(), ..Default::default() }),
        ..Default::default()
    }
}

/// The pod security context: the user's `podSecurityContext` with the hardening it lacks filled in. The pod always
/// runs as non-root with a seccomp profile; without a user or group of their own, as [`RUN_AS`] (so tool images whose
/// default user is root still start). The user's `fsGroup` is left alone (it decides volume ownership).
pub fn pod_security(user: Option<PodSecurityContext>) -> PodSecurityContext {
    let Some(mut ctx) = user else { return default_pod_security() };
    ctx.run_as_non_root = Some(true);
    ctx.run_as_user.get_or_insert(RUN_AS);
    ctx.run_as_group.get_or_insert(RUN_AS);
    if ctx.seccomp_profile.is_none() {
        ctx.seccomp_profile = Some(SeccompProfile { type_: "RuntimeDefault".into(), ..Default::default() });
    }
    ctx
}

fn empty_dir(name: &str) -> Volume {
    Volume { name: name.into(), empty_dir: Some(EmptyDirVolumeSource::default()), ..Default::default() }
}

fn mount(name: &str, path: &str) -> VolumeMount {
    VolumeMount { name: name.into(), mount_path: path.into(), ..Default::default() }
}

/// Builds the Job. `backoffLimit` is 0: retries are the operator's (per `backoffRetryPolicy`), not the Job's.
pub fn build_job(req: JobRequest, settings: &Settings) -> Job {
    let mut job_labels = BTreeMap::new();
    job_labels.insert(labels::COMPONENT.to_string(), req.role.to_string());
    job_labels.insert(labels::MANAGED_BY.to_string(), labels::MANAGED_BY_VALUE.to_string());
    job_labels.insert(labels::INSTANCE.to_string(), crate::api::names::label_value(&req.owner_name));
    job_labels.insert(req.owner_label.to_string(), crate::api::names::label_value(&req.owner_name));
    let mut annotations = BTreeMap::new();
    annotations.insert(labels::ATTEMPT.to_string(), req.attempt.to_string());
    annotations.insert(labels::OWNER_NAME.to_string(), req.owner_name.clone());
    if let Some(kind) = req.owner_kind {
        annotations.insert(labels::OWNER_KIND.to_string(), kind.as_str().to_string());
    }

    let mut volumes = vec![empty_dir("tools"), empty_dir("tmp")];
    volumes.extend(req.volumes);
    let mut mounts = vec![mount("tools", TOOLS_DIR), mount("tmp", "/tmp")];
    mounts.extend(req.mounts);

    let copy = |name: String, (binary, image): &(&str, String)| Container {
        name,
        image: Some(image.clone()),
        command: Some(vec!["/bin/sh".into(), "-c".into()]),
        args: Some(vec![format!("cp /{binary} {TOOLS_DIR}/{binary}")]),
        volume_mounts: Some(vec![mount("tools", TOOLS_DIR)]),
        security_context: Some(hardened_container()),
        ..Default::default()
    };
    let init_containers = req.tool.as_ref().map(|tool| {
        let mut copies = vec![copy("copy-tool".into(), tool)];
        copies.extend(req.second_tool.as_ref().map(|t| copy(format!("copy-{}", t.0), t)));
        copies
    });
    let mut env = vec![EnvVar { name: "BACKUP_TOOLS_DIR".into(), value: Some(TOOLS_DIR.into()), ..Default::default() }];
    env.extend(req.env);

    let owner_refs = req.owner_kind.map(|kind| {
        vec![OwnerReference {
            api_version: format!("{}/{}", crate::api::GROUP, crate::api::VERSION),
            kind: kind.as_str().into(),
            name: req.owner_name.clone(),
            uid: req.owner_uid.clone(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }]
    });

    Job {
        metadata: ObjectMeta {
            name: Some(req.name.clone()),
            namespace: Some(req.namespace.clone()),
            labels: Some(job_labels.clone()),
            annotations: Some(annotations.clone()),
            owner_references: owner_refs,
            ..Default::default()
        },
        spec: Some(JobSpec {
            backoff_limit: Some(req.backoff_limit),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(job_labels),
                    annotations: Some(annotations),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    restart_policy: Some("Never".into()),
                    service_account_name: req.service_account,
                    automount_service_account_token: Some(true),
                    image_pull_secrets: req.image_pull_secrets,
                    affinity: req.affinity,
                    tolerations: req.tolerations,
                    priority_class_name: req.priority_class_name,
                    security_context: Some(pod_security(req.pod_security_context)),
                    init_containers,
                    containers: vec![Container {
                        name: req.role.into(),
                        image: Some(settings.manager_image.clone()),
                        args: Some(req.args),
                        env: Some(env),
                        resources: req.resources,
                        volume_mounts: Some(mounts),
                        security_context: Some(hardened_container()),
                        ..Default::default()
                    }],
                    volumes: Some(volumes),
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        status: None,
    }
}

/// The attempt a Job runs (0 when it carries no annotation).
pub fn job_attempt(job: &Job) -> u32 {
    job.metadata.annotations.as_ref().and_then(|a| a.get(labels::ATTEMPT)).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// True when `pod` is owned by `job` (by uid).
pub fn owned_by(pod: &k8s_openapi::api::core::v1::Pod, job: &Job) -> bool {
    let Some(uid) = job.metadata.uid.as_deref() else {
        return false;
    };
    pod.metadata.owner_references.as_ref().is_some_and(|refs| refs.iter().any(|r| r.uid == uid))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::storage::{AzblobStorageProvider, GcsStorageProvider, S3StorageProvider};

    fn job_with(psc: Option<PodSecurityContext>) -> Job {
        let req = JobRequest {
            role: "backup",
            name: "backup-demo".into(),
            namespace: "test1".into(),
            owner_kind: Some(Kind::Backup),
            owner_name: "demo".into(),
            owner_uid: "uid-1".into(),
            owner_label: labels::BACKUP,
            tool: Some(("br", "pingcap/br:v8.5.2".into())),
            pod_security_context: psc,
            ..Default::default()
        };
        build_job(req, &Settings::default())
    }

    #[test]
    fn a_users_pod_security_context_cannot_weaken_the_hardening() {
        let user = PodSecurityContext {
            run_as_non_root: Some(false),
            fs_group: Some(2000),
            seccomp_profile: None,
            ..Default::default()
        };
        let pod = job_with(Some(user)).spec.unwrap().template.spec.unwrap();
        let psc = pod.security_context.unwrap();
        assert_eq!(psc.run_as_non_root, Some(true));
        assert_eq!((psc.run_as_user, psc.run_as_group, psc.fs_group), (Some(RUN_AS), Some(RUN_AS), Some(2000)));
        assert_eq!(psc.seccomp_profile.unwrap().type_, "RuntimeDefault");
        for c in pod.init_containers.unwrap().iter().chain(pod.containers.iter()) {
            let sc = c.security_context.clone().unwrap();
            assert_eq!(sc.run_as_non_root, Some(true), "{}", c.name);
            assert_eq!(sc.read_only_root_filesystem, Some(true), "{}", c.name);
            assert_eq!(sc.allow_privilege_escalation, Some(false), "{}", c.name);
            assert_eq!(sc.capabilities.unwrap().drop.unwrap(), ["ALL"], "{}", c.name);
            assert_eq!(sc.seccomp_profile.unwrap().type_, "RuntimeDefault", "{}", c.name);
        }
    }

    #[test]
    fn a_users_own_user_and_seccomp_profile_are_kept() {
        let localhost = SeccompProfile { type_: "Localhost".into(), localhost_profile: Some("br.json".into()) };
        let user = PodSecurityContext {
            run_as_user: Some(1000),
            seccomp_profile: Some(localhost.clone()),
            ..Default::default()
        };
        let psc = job_with(Some(user)).spec.unwrap().template.spec.unwrap().security_context.unwrap();
        assert_eq!((psc.run_as_user, psc.run_as_group, psc.fs_group), (Some(1000), Some(RUN_AS), None));
        assert_eq!(psc.seccomp_profile, Some(localhost));
    }

    #[test]
    fn storage_credentials_are_only_secret_references() {
        let storage = StorageProvider {
            s3: Some(Box::new(S3StorageProvider { secret_name: Some("s3".into()), ..Default::default() })),
            gcs: Some(Box::new(GcsStorageProvider { secret_name: Some("gcs".into()), ..Default::default() })),
            azblob: Some(Box::new(AzblobStorageProvider { secret_name: Some("az".into()), ..Default::default() })),
            ..Default::default()
        };
        let env = storage_env(&storage);
        assert_eq!(env.len(), 6);
        for e in env {
            assert!(e.value.is_none(), "{} carries a value", e.name);
            assert!(e.value_from.unwrap().secret_key_ref.is_some());
        }
    }
}
