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

/// What a controller that runs one Job per object (a restore, a compaction) does next about that Job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Follow {
    /// List the Job's pods live: a pod is called stuck or missing only on a live list.
    ListPods,
    /// Read the object live: the end of an attempt is judged only on a fresh status (it may say Complete).
    Refresh,
    /// The attempt failed: its Job failed, its pod never started, or it succeeded without backup-manager reporting.
    Failed {
        reason: String,
        message: String,
    },
    /// The Job is there and its object has no state yet: record Scheduled.
    MarkScheduled,
    Wait {
        requeue_after: Option<Duration>,
    },
}

/// What one object's Job looks like to its controller.
#[derive(Clone, Debug)]
pub struct Sight<'a> {
    pub job: &'a Job,
    pub pods: &'a [&'a Pod],
    /// The pods come from a live list.
    pub pods_fresh: bool,
    /// The object comes from a live read or a write response in this reconcile.
    pub object_fresh: bool,
    /// The object has no state yet (Scheduled is still to be recorded).
    pub unscheduled: bool,
    /// What failed means when the Job succeeded but backup-manager reported nothing.
    pub unreported: &'a str,
    pub now: DateTime<Utc>,
    pub pod_start_timeout: Duration,
}

/// The next step about the Job in `s`: one rule for every controller that runs one Job per object.
pub fn follow(s: &Sight) -> Follow {
    match attempt_state(s.job, s.pods, s.now, s.pod_start_timeout) {
        AttemptState::Stuck { .. } if !s.pods_fresh => Follow::ListPods,
        AttemptState::Succeeded | AttemptState::Failed { .. } | AttemptState::Stuck { .. } if !s.object_fresh => {
            Follow::Refresh
        }
        AttemptState::Succeeded => Follow::Failed { reason: "StatusNotReported".into(), message: s.unreported.into() },
        AttemptState::Failed { reason, message } | AttemptState::Stuck { reason, message } => {
            Follow::Failed { reason, message }
        }
        AttemptState::Starting { .. } | AttemptState::Running if s.unscheduled => Follow::MarkScheduled,
        AttemptState::Starting { stuck_at } => Follow::Wait { requeue_after: Some(until(stuck_at, s.now)) },
        AttemptState::Running => Follow::Wait { requeue_after: None },
    }
}

/// Time left until `at`, as a requeue delay (at least one second, so a requeue never spins).
pub fn until(at: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    (at - now).to_std().unwrap_or_default().max(Duration::from_secs(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use k8s_openapi::api::batch::v1::{JobCondition, JobStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn job(condition: Option<&str>) -> Job {
        let conditions =
            condition.map(|c| vec![JobCondition { type_: c.into(), status: "True".into(), ..Default::default() }]);
        let created = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        Job {
            metadata: ObjectMeta {
                name: Some("j".into()),
                creation_timestamp: Some(crate::api::time::to_k8s(created)),
                ..Default::default()
            },
            status: Some(JobStatus { conditions, ..Default::default() }),
            ..Default::default()
        }
    }

    fn sight<'a>(job: &'a Job, minutes: i64, fresh: bool) -> Sight<'a> {
        Sight {
            job,
            pods: &[],
            pods_fresh: fresh,
            object_fresh: fresh,
            unscheduled: true,
            unreported: "no report",
            now: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::minutes(minutes),
            pod_start_timeout: Duration::from_secs(600),
        }
    }

    #[test]
    fn a_job_is_judged_over_only_on_live_reads_and_a_silent_success_is_a_failure() {
        let (none, done) = (job(None), job(Some("Complete")));
        assert_eq!(follow(&sight(&none, 1, false)), Follow::MarkScheduled);
        assert_eq!(follow(&sight(&none, 11, false)), Follow::ListPods, "no pod: stuck only on a live list");
        assert!(matches!(follow(&sight(&none, 11, true)), Follow::Failed { reason, .. } if reason == "PodNotCreated"));
        assert_eq!(follow(&sight(&done, 1, false)), Follow::Refresh, "its status may say Complete");
        let silent = Follow::Failed { reason: "StatusNotReported".into(), message: "no report".into() };
        assert_eq!(follow(&sight(&done, 1, true)), silent);
    }
}
