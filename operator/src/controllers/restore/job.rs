//! `job_for`: the Job `restore-<name>` that runs one restore (br `restore`, or lightning `import`).

use k8s_openapi::api::batch::v1::Job;

use crate::api::labels::{self, component};
use crate::api::{Restore, names};
use crate::cluster::Kind;
use crate::controllers::Settings;
use crate::controllers::jobs::{JobRequest, build_job, storage_env, storage_volumes, tidb_env};

/// The Job for `restore`.
pub fn job_for(restore: &Restore, settings: &Settings) -> Job {
    let name = restore.metadata.name.clone().unwrap_or_default();
    let namespace = restore.metadata.namespace.clone().unwrap_or_default();
    let spec = &restore.spec;
    let (volumes, mounts) = storage_volumes(&spec.storage);
    let mut env = storage_env(&spec.storage);
    let image =
        |default: &str| spec.tool_image.clone().filter(|s| !s.is_empty()).unwrap_or_else(|| default.to_string());
    let (verb, tool) = if spec.br.is_some() {
        ("restore", ("br", image(&settings.br_image)))
    } else {
        env.extend(tidb_env(spec.to.as_ref()));
        ("import", ("tidb-lightning", image(&settings.lightning_image)))
    };
    env.extend(spec.env.clone().unwrap_or_default());
    let req = JobRequest {
        role: component::RESTORE,
        name: names::job_name(component::RESTORE, &name),
        args: vec![verb.into(), format!("--namespace={namespace}"), format!("--restoreName={name}")],
        namespace,
        owner_kind: Some(Kind::Restore),
        owner_uid: restore.metadata.uid.clone().unwrap_or_default(),
        owner_label: labels::RESTORE,
        owner_name: name,
        tool: Some(tool),
        second_tool: None,
        backoff_limit: 0,
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
        attempt: 0,
    };
    build_job(req, settings)
}
