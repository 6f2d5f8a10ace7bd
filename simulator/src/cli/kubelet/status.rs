//! The pod statuses the test kubelet reports, as a real kubelet words them: waiting on its configuration, running,
//! and terminated with the container's exit code (the phase the Job controller counts).

use k8s_openapi::api::core::v1::Pod;
use serde_json::{Value, json};

/// How a container ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exit {
    /// The exit code, or 128 + the signal that killed the process.
    pub code: i32,
    /// The termination message (the log's tail under `FallbackToLogsOnError`), if any.
    pub message: Option<String>,
}

fn condition(kind: &str, ok: bool, now: &str) -> Value {
    json!({"type": kind, "status": if ok { "True" } else { "False" }, "lastTransitionTime": now})
}

fn image(pod: &Pod, container: &str) -> String {
    let spec = pod.spec.as_ref();
    let all = spec.into_iter().flat_map(|s| s.containers.iter().chain(s.init_containers.iter().flatten()));
    all.filter(|c| c.name == container).find_map(|c| c.image.clone()).unwrap_or_default()
}

/// Init containers are done before the main one starts: the tool they copy is the kubelet's.
fn init_statuses(pod: &Pod, started: &str) -> Value {
    let inits = pod.spec.iter().flat_map(|s| s.init_containers.iter().flatten());
    Value::Array(
        inits
            .map(|c| {
                json!({
                    "name": c.name, "image": c.image.clone().unwrap_or_default(), "imageID": "",
                    "ready": true, "restartCount": 0, "started": false,
                    "state": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": started, "finishedAt": started}}
                })
            })
            .collect(),
    )
}

fn patch(phase: &str, conditions: Vec<Value>, inits: Value, container: Value, started: &str) -> Value {
    let mut status = json!({
        "phase": phase,
        "conditions": conditions,
        "containerStatuses": [container],
        "hostIP": "127.0.0.1",
        "podIP": "127.0.0.1",
        "podIPs": [{"ip": "127.0.0.1"}],
        "startTime": started,
    });
    if inits.as_array().is_some_and(|a| !a.is_empty()) {
        status["initContainerStatuses"] = inits;
    }
    json!({"status": status})
}

/// The container cannot start yet (`CreateContainerConfigError`, `ContainerCreating`): the pod stays Pending.
pub fn waiting(pod: &Pod, container: &str, reason: &str, message: &str, now: &str) -> Value {
    let state = json!({
        "name": container, "image": image(pod, container), "imageID": "", "ready": false, "restartCount": 0,
        "started": false, "state": {"waiting": {"reason": reason, "message": message}}
    });
    let conditions = vec![condition("PodScheduled", true, now), condition("Ready", false, now)];
    patch("Pending", conditions, json!([]), state, now)
}

/// The container's process runs.
pub fn running(pod: &Pod, container: &str, started: &str) -> Value {
    let state = json!({
        "name": container, "image": image(pod, container), "imageID": "", "containerID": format!("sim://{container}"),
        "ready": true, "restartCount": 0, "started": true, "state": {"running": {"startedAt": started}}
    });
    let conditions = ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"]
        .iter()
        .map(|k| condition(k, true, started))
        .collect();
    patch("Running", conditions, init_statuses(pod, started), state, started)
}

/// The process ended: `Succeeded` on exit code 0, else `Failed` (the Job pods' restartPolicy is Never).
pub fn terminated(pod: &Pod, container: &str, started: &str, now: &str, exit: &Exit) -> Value {
    let ok = exit.code == 0;
    let mut term = json!({
        "exitCode": exit.code, "reason": if ok { "Completed" } else { "Error" },
        "startedAt": started, "finishedAt": now, "containerID": format!("sim://{container}")
    });
    if let Some(m) = &exit.message {
        term["message"] = json!(m);
    }
    let state = json!({
        "name": container, "image": image(pod, container), "imageID": "", "containerID": format!("sim://{container}"),
        "ready": false, "restartCount": 0, "started": false, "state": {"terminated": term}
    });
    let conditions = vec![
        condition("PodReadyToStartContainers", false, now),
        condition("Initialized", true, started),
        condition("Ready", false, now),
        condition("ContainersReady", false, now),
        condition("PodScheduled", true, started),
    ];
    patch(if ok { "Succeeded" } else { "Failed" }, conditions, init_statuses(pod, started), state, started)
}

/// The exit code of a finished process as a kubelet reports it: 128 + the signal when killed by one.
pub fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod() -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "ns"},
            "spec": {
                "initContainers": [{"name": "copy-tool", "image": "br:v8"}],
                "containers": [{"name": "backup", "image": "backup-manager:0.1.0"}]
            }
        }))
        .unwrap()
    }

    #[test]
    fn exit_code_zero_succeeds_and_anything_else_fails_with_the_code_and_message() {
        let t = "2026-01-01T00:00:00Z";
        let ok = terminated(&pod(), "backup", t, t, &Exit { code: 0, message: None });
        assert_eq!(ok["status"]["phase"], "Succeeded");
        assert_eq!(ok["status"]["containerStatuses"][0]["state"]["terminated"]["reason"], "Completed");
        let failed = terminated(&pod(), "backup", t, t, &Exit { code: 3, message: Some("api down".into()) });
        assert_eq!(failed["status"]["phase"], "Failed");
        let term = &failed["status"]["containerStatuses"][0]["state"]["terminated"];
        assert_eq!((term["exitCode"].clone(), term["message"].clone()), (json!(3), json!("api down")));
        assert_eq!(failed["status"]["initContainerStatuses"][0]["state"]["terminated"]["exitCode"], 0);
    }

    #[test]
    fn a_running_pod_names_its_image_and_is_ready() {
        let r = running(&pod(), "backup", "2026-01-01T00:00:00Z");
        assert_eq!(r["status"]["phase"], "Running");
        assert_eq!(r["status"]["containerStatuses"][0]["image"], "backup-manager:0.1.0");
        assert_eq!(r["status"]["containerStatuses"][0]["ready"], true);
    }

    #[test]
    fn a_waiting_pod_stays_pending_with_the_reason() {
        let w =
            waiting(&pod(), "backup", "CreateContainerConfigError", "secret \"s\" not found", "2026-01-01T00:00:00Z");
        assert_eq!(w["status"]["phase"], "Pending");
        assert_eq!(w["status"]["containerStatuses"][0]["state"]["waiting"]["reason"], "CreateContainerConfigError");
    }
}
