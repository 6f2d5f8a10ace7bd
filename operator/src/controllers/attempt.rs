//! Where one Job attempt stands, read from the Job and its pods: starting, running, stuck, failed or succeeded.

use chrono::{DateTime, Utc};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use std::time::Duration;

use crate::api::time::{from_k8s, opt_from_k8s};

/// The state of a Job attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttemptState {
    /// No pod is running yet; if nothing changes the attempt is stuck at `stuck_at`.
    Starting {
        stuck_at: DateTime<Utc>,
    },
    Running,
    Succeeded,
    /// The Job failed (its pod failed, or a deadline passed).
    Failed {
        reason: String,
        message: String,
    },
    /// The pod has not started within the pod start timeout.
    Stuck {
        reason: String,
        message: String,
    },
}

impl AttemptState {
    pub fn is_over(&self) -> bool {
        matches!(self, AttemptState::Succeeded | AttemptState::Failed { .. } | AttemptState::Stuck { .. })
    }
}

fn job_condition<'a>(job: &'a Job, type_: &str) -> Option<&'a k8s_openapi::api::batch::v1::JobCondition> {
    job.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == type_ && c.status == "True")
}

/// True when the Job has finished (Complete or Failed condition).
pub fn job_finished(job: &Job) -> bool {
    job_condition(job, "Complete").is_some() || job_condition(job, "Failed").is_some()
}

/// How a finished Job ended: `Some(Ok)` Complete, `Some(Err(message))` Failed, `None` still running.
pub fn job_outcome(job: &Job) -> Option<Result<(), String>> {
    if job_condition(job, "Complete").is_some() {
        return Some(Ok(()));
    }
    let name = job.metadata.name.clone().unwrap_or_default();
    job_condition(job, "Failed").map(|c| Err(c.message.clone().unwrap_or_else(|| format!("Job {name} failed"))))
}

/// When the Job finished (its completion time, else the time of its Complete or Failed condition).
pub fn job_finished_at(job: &Job) -> Option<DateTime<Utc>> {
    let status = job.status.as_ref()?;
    opt_from_k8s(status.completion_time.as_ref()).or_else(|| {
        let c = job_condition(job, "Failed").or_else(|| job_condition(job, "Complete"))?;
        opt_from_k8s(c.last_transition_time.as_ref())
    })
}

/// Why the pod is waiting (`ContainerCreating`, `ImagePullBackOff`, ...), from its container statuses.
fn waiting_reason(pod: &Pod) -> String {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|cs| cs.iter().find_map(|c| c.state.as_ref()?.waiting.as_ref()?.reason.clone()))
        .unwrap_or_else(|| "Pending".to_string())
}

/// The last meaningful words of a failed pod: its container's termination reason and message.
fn termination(pod: &Pod) -> Option<String> {
    let status = pod.status.as_ref()?;
    let term = status.container_statuses.as_ref()?.iter().find_map(|c| c.state.as_ref()?.terminated.clone())?;
    let reason = term.reason.unwrap_or_default();
    let msg = term.message.unwrap_or_default();
    let mut out = format!("exit code {}", term.exit_code);
    for part in [reason, msg] {
        if !part.is_empty() {
            out.push_str(", ");
            out.push_str(&part);
        }
    }
    Some(out)
}

fn human(d: Duration) -> String {
    crate::api::duration::format_duration(d)
}

/// Reads the attempt from the Job and its pods (any order) at `now`.
pub fn attempt_state(job: &Job, pods: &[&Pod], now: DateTime<Utc>, pod_start_timeout: Duration) -> AttemptState {
    let job_name = job.metadata.name.clone().unwrap_or_default();
    if job_condition(job, "Complete").is_some() {
        return AttemptState::Succeeded;
    }
    if let Some(c) = job_condition(job, "Failed") {
        let detail = pods.iter().find_map(|p| termination(p)).unwrap_or_default();
        let base = c.message.clone().unwrap_or_else(|| format!("Job {job_name} failed"));
        let message = if detail.is_empty() { base } else { format!("{base}: {detail}") };
        return AttemptState::Failed { reason: c.reason.clone().unwrap_or_else(|| "JobFailed".into()), message };
    }
    let timeout = chrono::Duration::from_std(pod_start_timeout).unwrap_or(chrono::Duration::MAX);
    let newest = pods
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .max_by_key(|p| (opt_from_k8s(p.metadata.creation_timestamp.as_ref()), p.metadata.name.clone()));
    match newest {
        None => {
            let created = opt_from_k8s(job.metadata.creation_timestamp.as_ref()).unwrap_or(now);
            if now - created >= timeout {
                AttemptState::Stuck {
                    reason: "PodNotCreated".into(),
                    message: format!("no pod of Job {job_name} exists after {}", human(pod_start_timeout)),
                }
            } else {
                AttemptState::Starting { stuck_at: created + timeout }
            }
        }
        Some(pod) => {
            let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("Pending");
            match phase {
                "Pending" => {
                    let since = pod.metadata.creation_timestamp.as_ref().map(from_k8s).unwrap_or(now);
                    if now - since >= timeout {
                        let pod_name = pod.metadata.name.clone().unwrap_or_default();
                        let why = waiting_reason(pod);
                        AttemptState::Stuck {
                            reason: "PodStuck".into(),
                            message: format!("pod {pod_name} has waited in {why} for {}", human(pod_start_timeout)),
                        }
                    } else {
                        AttemptState::Starting { stuck_at: since + timeout }
                    }
                }
                // Succeeded or Failed pods: the Job controller has not concluded yet; wait for it.
                _ => AttemptState::Running,
            }
        }
    }
}

/// Time left until `at`, as a requeue delay (at least one second, so a requeue never spins).
pub fn until(at: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    (at - now).to_std().unwrap_or_default().max(Duration::from_secs(1))
}
