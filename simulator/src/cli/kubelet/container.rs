//! `Launch`: what the test kubelet runs for a pod's container (program, arguments, environment), decided from the
//! pod and the Secrets and ConfigMaps it references, as a real kubelet would: `envFrom` first, `env` over it,
//! `$(VAR)` references expanded, a missing reference refusing the start with `CreateContainerConfigError`.

use k8s_openapi::api::core::v1::{Container, EnvVar, Pod};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The data of the Secrets and ConfigMaps a pod references, by name (a missing name was not found).
#[derive(Clone, Debug, Default)]
pub struct Sources {
    pub secrets: BTreeMap<String, BTreeMap<String, String>>,
    pub config_maps: BTreeMap<String, BTreeMap<String, String>>,
}

/// Where the kubelet puts what the image would have held.
#[derive(Clone, Debug)]
pub struct Host {
    /// The image's entrypoint (`backup-manager`).
    pub program: PathBuf,
    /// What the `copy-tool` init container would have copied into the tools volume.
    pub tools: PathBuf,
    /// The pod's own directory: its `/tmp`, its ServiceAccount kubeconfig, its log.
    pub pod_dir: PathBuf,
    /// Extra environment given on the command line (`FAKE_TOOL_MODE=...`).
    pub extra_env: Vec<(String, String)>,
}

/// The process the kubelet starts for a pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Launch {
    pub container: String,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
    /// `terminationMessagePolicy: FallbackToLogsOnError`: a failed container's message is its log's tail.
    pub fallback_to_logs: bool,
}

/// Why a container cannot start; the message is the kubelet's.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("pod {pod} has {count} containers; the test kubelet runs pods of one container")]
    Containers { pod: String, count: usize },
    #[error(
        "container {container} of pod {pod} sets a command ({command}); the test kubelet runs only the image's entrypoint"
    )]
    Command { pod: String, container: String, command: String },
    #[error("secret \"{0}\" not found")]
    SecretNotFound(String),
    #[error("configmap \"{0}\" not found")]
    ConfigMapNotFound(String),
    #[error("couldn't find key {key} in {kind} {namespace}/{name}")]
    KeyNotFound { kind: &'static str, namespace: String, name: String, key: String },
    #[error("env {name} of container {container}: {what} is not supported by the test kubelet")]
    Unsupported { container: String, name: String, what: String },
}

/// The names of the Secrets and ConfigMaps the pod's containers read their environment from.
pub fn referenced(pod: &Pod) -> (Vec<String>, Vec<String>) {
    let (mut secrets, mut maps) = (Vec::new(), Vec::new());
    for c in containers(pod) {
        for from in c.env_from.iter().flatten() {
            secrets.extend(from.secret_ref.iter().map(|r| r.name.clone()));
            maps.extend(from.config_map_ref.iter().map(|r| r.name.clone()));
        }
        for v in c.env.iter().flatten().filter_map(|e| e.value_from.as_ref()) {
            secrets.extend(v.secret_key_ref.iter().map(|r| r.name.clone()));
            maps.extend(v.config_map_key_ref.iter().map(|r| r.name.clone()));
        }
    }
    for list in [&mut secrets, &mut maps] {
        list.sort();
        list.dedup();
    }
    (secrets, maps)
}

fn containers(pod: &Pod) -> impl Iterator<Item = &Container> {
    pod.spec.iter().flat_map(|s| s.containers.iter())
}

fn pod_name(pod: &Pod) -> String {
    format!(
        "{}/{}",
        pod.metadata.namespace.as_deref().unwrap_or_default(),
        pod.metadata.name.as_deref().unwrap_or_default()
    )
}

/// What to run for `pod`. The image's tools and scratch space are the host's: `BACKUP_TOOLS_DIR` is the kubelet's
/// tools, `TMPDIR` and `HOME` the pod's directory, `KUBECONFIG` its ServiceAccount's kubeconfig there.
pub fn plan(pod: &Pod, sources: &Sources, host: &Host) -> Result<Launch, ConfigError> {
    let all: Vec<&Container> = containers(pod).collect();
    let [c] = all.as_slice() else {
        return Err(ConfigError::Containers { pod: pod_name(pod), count: all.len() });
    };
    if let Some(command) = c.command.as_ref().filter(|c| !c.is_empty()) {
        return Err(ConfigError::Command { pod: pod_name(pod), container: c.name.clone(), command: command.join(" ") });
    }
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    let mut env = BTreeMap::new();
    for from in c.env_from.iter().flatten() {
        let prefix = from.prefix.clone().unwrap_or_default();
        if let Some(r) = &from.secret_ref {
            match sources.secrets.get(&r.name) {
                Some(data) => env.extend(data.iter().map(|(k, v)| (format!("{prefix}{k}"), v.clone()))),
                None if r.optional == Some(true) => {}
                None => return Err(ConfigError::SecretNotFound(r.name.clone())),
            }
        }
        if let Some(r) = &from.config_map_ref {
            match sources.config_maps.get(&r.name) {
                Some(data) => env.extend(data.iter().map(|(k, v)| (format!("{prefix}{k}"), v.clone()))),
                None if r.optional == Some(true) => {}
                None => return Err(ConfigError::ConfigMapNotFound(r.name.clone())),
            }
        }
    }
    for var in c.env.iter().flatten() {
        if let Some(value) = env_value(var, pod, &ns, &c.name, sources, &env)? {
            env.insert(var.name.clone(), value);
        }
    }
    let dir = host.pod_dir.display().to_string();
    env.insert("BACKUP_TOOLS_DIR".into(), host.tools.display().to_string());
    env.insert("TMPDIR".into(), Path::new(&dir).join("tmp").display().to_string());
    env.insert("HOME".into(), dir.clone());
    env.insert("KUBECONFIG".into(), Path::new(&dir).join("kubeconfig").display().to_string());
    env.entry("PATH".into()).or_insert_with(|| "/usr/local/bin:/usr/bin:/bin".into());
    env.extend(host.extra_env.iter().cloned());
    let args = c.args.iter().flatten().map(|a| expand(a, &env)).collect();
    Ok(Launch {
        container: c.name.clone(),
        program: host.program.clone(),
        args,
        env,
        fallback_to_logs: c.termination_message_policy.as_deref() == Some("FallbackToLogsOnError"),
    })
}

/// One `env` entry's value (`None`: an optional reference that is absent, so the variable is not set).
fn env_value(
    var: &EnvVar,
    pod: &Pod,
    ns: &str,
    container: &str,
    sources: &Sources,
    so_far: &BTreeMap<String, String>,
) -> Result<Option<String>, ConfigError> {
    let Some(from) = &var.value_from else {
        return Ok(Some(expand(var.value.as_deref().unwrap_or_default(), so_far)));
    };
    let key_of =
        |kind: &'static str, data: Option<&BTreeMap<String, String>>, name: &str, key: &str, optional| match data
            .map(|d| d.get(key))
        {
            Some(Some(v)) => Ok(Some(v.clone())),
            _ if optional == Some(true) => Ok(None),
            None if kind == "Secret" => Err(ConfigError::SecretNotFound(name.to_string())),
            None => Err(ConfigError::ConfigMapNotFound(name.to_string())),
            Some(None) => Err(ConfigError::KeyNotFound {
                kind,
                namespace: ns.to_string(),
                name: name.to_string(),
                key: key.to_string(),
            }),
        };
    if let Some(r) = &from.secret_key_ref {
        return key_of("Secret", sources.secrets.get(&r.name), &r.name, &r.key, r.optional);
    }
    if let Some(r) = &from.config_map_key_ref {
        return key_of("ConfigMap", sources.config_maps.get(&r.name), &r.name, &r.key, r.optional);
    }
    let unsupported =
        |what: String| ConfigError::Unsupported { container: container.into(), name: var.name.clone(), what };
    let Some(field) = &from.field_ref else {
        return Err(unsupported("resourceFieldRef or fileKeyRef".into()));
    };
    let meta = &pod.metadata;
    let value = match field.field_path.as_str() {
        "metadata.name" => meta.name.clone(),
        "metadata.namespace" => meta.namespace.clone(),
        "metadata.uid" => meta.uid.clone(),
        "spec.serviceAccountName" => pod.spec.as_ref().and_then(|s| s.service_account_name.clone()),
        "spec.nodeName" => pod.spec.as_ref().and_then(|s| s.node_name.clone()),
        "status.podIP" | "status.hostIP" => Some("127.0.0.1".into()),
        other => return Err(unsupported(format!("fieldRef {other}"))),
    };
    Ok(Some(value.unwrap_or_default()))
}

/// Kubernetes' `$(VAR)` expansion: a defined variable is replaced, an undefined reference kept as written, and
/// `$$` is a literal `$`.
pub fn expand(text: &str, env: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(end) = after.strip_prefix('(').and_then(|a| a.find(')')) {
            let name = &after[1..=end];
            match env.get(name) {
                Some(v) => out.push_str(v),
                None => out.push_str(&rest[i..i + end + 3]),
            }
            rest = &after[end + 2..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(container: serde_json::Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "backup-demo-x1", "namespace": "test1", "uid": "u-1"},
            "spec": {"serviceAccountName": "tidb-backup-manager", "containers": [container]}
        }))
        .unwrap()
    }

    fn host() -> Host {
        Host {
            program: "/bin/backup-manager".into(),
            tools: "/tools".into(),
            pod_dir: "/k/test1/backup-demo-x1".into(),
            extra_env: vec![("FAKE_TOOL_MODE".into(), "fail".into())],
        }
    }

    fn sources() -> Sources {
        let mut s = Sources::default();
        s.secrets.insert("s3-secret".into(), [("access_key".into(), "AK".into())].into());
        s.config_maps.insert("settings".into(), [("LEVEL".into(), "debug".into())].into());
        s
    }

    #[test]
    fn a_job_container_runs_the_entrypoint_with_its_args_and_the_hosts_tools_and_scratch() {
        let p = pod(json!({
            "name": "backup", "image": "backup-manager:0.1.0",
            "args": ["backup", "--namespace=test1", "--backupName=$(NAME)"],
            "terminationMessagePolicy": "FallbackToLogsOnError",
            "env": [
                {"name": "BACKUP_TOOLS_DIR", "value": "/var/lib/backup-tools"},
                {"name": "NAME", "value": "demo"},
                {"name": "AWS_ACCESS_KEY_ID", "valueFrom": {"secretKeyRef": {"name": "s3-secret", "key": "access_key"}}},
                {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
            ],
            "envFrom": [{"configMapRef": {"name": "settings"}, "prefix": "CM_"}]
        }));
        let launch = plan(&p, &sources(), &host()).unwrap();
        assert_eq!(launch.program, PathBuf::from("/bin/backup-manager"));
        assert_eq!(launch.args, ["backup", "--namespace=test1", "--backupName=demo"]);
        assert_eq!(launch.env["BACKUP_TOOLS_DIR"], "/tools");
        assert_eq!(launch.env["AWS_ACCESS_KEY_ID"], "AK");
        assert_eq!(launch.env["POD"], "backup-demo-x1");
        assert_eq!(launch.env["CM_LEVEL"], "debug");
        assert_eq!(launch.env["TMPDIR"], "/k/test1/backup-demo-x1/tmp");
        assert_eq!(launch.env["KUBECONFIG"], "/k/test1/backup-demo-x1/kubeconfig");
        assert_eq!(launch.env["FAKE_TOOL_MODE"], "fail");
        assert!(launch.fallback_to_logs);
        assert_eq!(referenced(&p), (vec!["s3-secret".to_string()], vec!["settings".to_string()]));
    }

    #[test]
    fn a_missing_secret_or_key_refuses_the_start_with_the_kubelets_words_unless_optional() {
        let missing = pod(json!({"name": "backup", "env": [
            {"name": "K", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "k"}}}]}));
        assert_eq!(plan(&missing, &sources(), &host()).unwrap_err().to_string(), "secret \"nope\" not found");
        let no_key = pod(json!({"name": "backup", "env": [
            {"name": "K", "valueFrom": {"secretKeyRef": {"name": "s3-secret", "key": "secret_key"}}}]}));
        assert_eq!(
            plan(&no_key, &sources(), &host()).unwrap_err().to_string(),
            "couldn't find key secret_key in Secret test1/s3-secret"
        );
        let optional = pod(json!({"name": "backup", "env": [
            {"name": "K", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "k", "optional": true}}}]}));
        assert!(!plan(&optional, &sources(), &host()).unwrap().env.contains_key("K"));
    }

    #[test]
    fn a_pod_with_a_command_or_several_containers_is_not_run() {
        let command = pod(json!({"name": "sh", "command": ["/bin/sh", "-c", "true"]}));
        assert!(matches!(plan(&command, &sources(), &host()), Err(ConfigError::Command { .. })));
        let mut two = pod(json!({"name": "a"}));
        let second = two.spec.as_ref().unwrap().containers[0].clone();
        two.spec.as_mut().unwrap().containers.push(second);
        assert!(matches!(plan(&two, &sources(), &host()), Err(ConfigError::Containers { count: 2, .. })));
    }

    #[test]
    fn expansion_replaces_defined_variables_keeps_undefined_ones_and_unescapes_dollars() {
        let env: BTreeMap<String, String> = [("A".to_string(), "x".to_string())].into();
        assert_eq!(expand("$(A)-$(B)-$$(A)-$-$(", &env), "x-$(B)-$(A)-$-$(");
    }
}
