//! `job_for`: the Job `compact-<name>` that runs one compaction: backup-manager `compact` with br (to encode the
//! storage) and tikv-ctl (`compact-log-backup`) copied in.

use k8s_openapi::api::batch::v1::Job;

use crate::api::labels::{self, component};
use crate::api::{CompactBackup, names};
use crate::cluster::Kind;
use crate::controllers::Settings;
use crate::controllers::jobs::{JobRequest, build_job, storage_env, storage_volumes};

/// The Job for `compact`: its pods may fail `maxRetryTimes` times (TiDB Operator's backoff limit) before it fails.
pub fn job_for(compact: &CompactBackup, settings: &Settings) -> Job {
    let name = compact.metadata.name.clone().unwrap_or_default();
    let namespace = compact.metadata.namespace.clone().unwrap_or_default();
    let spec = &compact.spec;
    let (volumes, mounts) = storage_volumes(&spec.storage);
    let mut env = storage_env(&spec.storage);
    env.extend(spec.env.clone().unwrap_or_default());
    let image = |set: &Option<String>, default: &str| {
        set.clone().filter(|s| !s.is_empty()).unwrap_or_else(|| default.to_string())
    };
    let req = JobRequest {
        role: component::COMPACT,
        name: names::job_name(component::COMPACT, &name),
        args: vec!["compact".into(), format!("--namespace={namespace}"), format!("--resourceName={name}")],
        namespace,
        owner_kind: Some(Kind::CompactBackup),
        owner_uid: compact.metadata.uid.clone().unwrap_or_default(),
        owner_label: labels::COMPACT,
        owner_name: name,
        tool: Some(("br", image(&spec.tool_image, &settings.br_image))),
        second_tool: Some(("tikv-ctl", image(&spec.tikv_image, &settings.tikv_image))),
        backoff_limit: compact.max_retry_times().max(0),
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
