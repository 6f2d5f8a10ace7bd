//! What kube-apiserver fills in when a Job or a Pod is created (its defaulting, and a Job's generated selector and
//! labels), so that what the world stores, and served clients read, is what a real cluster would store.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Container, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use std::collections::BTreeMap;

/// The Job's defaults; `uid` is the one the store just gave it.
pub fn job(job: &mut Job, uid: &str) {
    let name = job.metadata.name.clone().unwrap_or_default();
    let spec = job.spec.get_or_insert_with(Default::default);
    if spec.manual_selector != Some(true) {
        spec.manual_selector = Some(false);
        if spec.selector.is_none() {
            let match_labels = BTreeMap::from([("batch.kubernetes.io/controller-uid".to_string(), uid.to_string())]);
            spec.selector = Some(LabelSelector { match_labels: Some(match_labels), ..Default::default() });
        }
        let labels =
            spec.template.metadata.get_or_insert_with(Default::default).labels.get_or_insert_with(BTreeMap::new);
        for key in ["controller-uid", "batch.kubernetes.io/controller-uid"] {
            labels.insert(key.into(), uid.into());
        }
        for key in ["job-name", "batch.kubernetes.io/job-name"] {
            labels.insert(key.into(), name.clone());
        }
    }
    if spec.completions.is_none() && spec.parallelism.is_none() {
        spec.completions = Some(1);
    }
    spec.parallelism.get_or_insert(1);
    spec.backoff_limit.get_or_insert(6);
    spec.completion_mode.get_or_insert_with(|| "NonIndexed".into());
    spec.suspend.get_or_insert(false);
    if spec.pod_replacement_policy.is_none() {
        let policy = if spec.pod_failure_policy.is_some() { "Failed" } else { "TerminatingOrFailed" };
        spec.pod_replacement_policy = Some(policy.into());
    }
    if let Some(pod) = spec.template.spec.as_mut() {
        pod_spec(pod);
    }
    if job.metadata.labels.as_ref().is_none_or(BTreeMap::is_empty) {
        job.metadata.labels = spec.template.metadata.as_ref().and_then(|m| m.labels.clone());
    }
    job.status.get_or_insert_with(Default::default);
}

/// A pod spec's defaults (a Pod's, or a Job's template).
pub fn pod_spec(spec: &mut PodSpec) {
    spec.dns_policy.get_or_insert_with(|| "ClusterFirst".into());
    spec.restart_policy.get_or_insert_with(|| "Always".into());
    spec.scheduler_name.get_or_insert_with(|| "default-scheduler".into());
    spec.security_context.get_or_insert_with(Default::default);
    spec.termination_grace_period_seconds.get_or_insert(30);
    for c in spec.containers.iter_mut().chain(spec.init_containers.iter_mut().flatten()) {
        container(c);
    }
    for v in spec.volumes.iter_mut().flatten() {
        if let Some(s) = v.secret.as_mut() {
            s.default_mode.get_or_insert(0o644);
        }
        if let Some(c) = v.config_map.as_mut() {
            c.default_mode.get_or_insert(0o644);
        }
    }
}

fn container(c: &mut Container) {
    if c.image_pull_policy.is_none() {
        c.image_pull_policy =
            Some(if pulls_always(c.image.as_deref().unwrap_or_default()) { "Always" } else { "IfNotPresent" }.into());
    }
    c.resources.get_or_insert_with(Default::default);
    c.termination_message_path.get_or_insert_with(|| "/dev/termination-log".into());
    c.termination_message_policy.get_or_insert_with(|| "File".into());
    for p in c.ports.iter_mut().flatten() {
        p.protocol.get_or_insert_with(|| "TCP".into());
    }
    for e in c.env.iter_mut().flatten() {
        if let Some(f) = e.value_from.as_mut().and_then(|v| v.field_ref.as_mut()) {
            f.api_version.get_or_insert_with(|| "v1".into());
        }
    }
}

/// An image without a tag, or tagged `latest`, is pulled every time; one with a tag or a digest only when absent.
fn pulls_always(image: &str) -> bool {
    if image.contains('@') {
        return false;
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        Some((_, tag)) => tag == "latest",
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_minimal_job_gets_what_kube_apiserver_stores() {
        let mut j: Job = serde_json::from_value(json!({
            "metadata": {"name": "j"},
            "spec": {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never",
                     "containers": [{"name": "main", "image": "busybox"}]}}}
        }))
        .unwrap();
        job(&mut j, "u");
        let v = serde_json::to_value(&j).unwrap();
        let labels = json!({"batch.kubernetes.io/controller-uid": "u", "batch.kubernetes.io/job-name": "j",
                            "controller-uid": "u", "job-name": "j"});
        assert_eq!(v["metadata"]["labels"], labels);
        assert_eq!(v["spec"]["selector"], json!({"matchLabels": {"batch.kubernetes.io/controller-uid": "u"}}));
        assert_eq!(
            (&v["spec"]["backoffLimit"], &v["spec"]["completions"], &v["spec"]["parallelism"]),
            (&json!(0), &json!(1), &json!(1))
        );
        assert_eq!(v["spec"]["podReplacementPolicy"], "TerminatingOrFailed");
        assert_eq!(v["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"], "Always");
        assert_eq!(v["spec"]["template"]["spec"]["terminationGracePeriodSeconds"], 30);
        assert_eq!(v["status"], json!({}));
    }

    #[test]
    fn only_untagged_and_latest_images_are_always_pulled() {
        assert!(pulls_always("busybox") && pulls_always("ghcr.io/x/y:latest") && pulls_always("localhost:5000/y"));
        assert!(!pulls_always("pingcap/br:v8.5.0") && !pulls_always("y@sha256:abc"));
    }
}
