//! The kubelet: pod phases with seeded durations; stuck, failing and killed pods; the backup-manager process inside
//! a pod, run as a task; termination and removal of deleted pods.

use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting, ContainerStatus, Pod,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use operator::api::labels;
use operator::api::time::to_k8s;
use operator::cluster::{Kind, ObjectKey};
use std::time::Duration;

use crate::engine::{Actor, Event, Spawn, State, TaskOwner};
use crate::object::Obj;
use crate::rng::draw;
use crate::scenario::model::{FailMode, JobRole};

fn role_of(meta: &ObjectMeta) -> Option<JobRole> {
    meta.labels.as_ref().and_then(|l| l.get(labels::COMPONENT)).and_then(|c| JobRole::parse(c))
}

pub(crate) fn container(name: &str, state: ContainerState) -> ContainerStatus {
    ContainerStatus {
        name: name.into(),
        image: String::new(),
        image_id: String::new(),
        ready: false,
        restart_count: 0,
        state: Some(state),
        ..Default::default()
    }
}

pub(crate) fn waiting(reason: &str) -> ContainerState {
    ContainerState {
        waiting: Some(ContainerStateWaiting { reason: Some(reason.into()), message: None }),
        ..Default::default()
    }
}

impl State {
    fn write_pod(&mut self, pod: Pod, actor: Actor) {
        self.world.put_internal(Obj::wrap(pod), self.now);
        self.commit(&actor);
    }

    fn live_pod(&self, key: &ObjectKey, uid: &str) -> Option<std::sync::Arc<Pod>> {
        self.world.get(Kind::Pod, key).and_then(|o| o.get::<Pod>()).filter(|p| p.metadata.uid.as_deref() == Some(uid))
    }

    /// The kubelet tries to start a pod's container: it may be pinned by `podsStuck`; else it runs backup-manager.
    pub(crate) fn pod_start(&mut self, key: &ObjectKey, uid: &str) {
        let Some(pod) = self.live_pod(key, uid) else { return };
        if pod.metadata.deletion_timestamp.is_some()
            || pod.status.as_ref().and_then(|s| s.phase.as_deref()) != Some("Pending")
        {
            return;
        }
        let Some(role) = role_of(&pod.metadata) else { return };
        let container_name =
            pod.spec.as_ref().and_then(|s| s.containers.first()).map(|c| c.name.clone()).unwrap_or_default();
        if let Some((state, until)) = self.faults.pod_stuck(role, self.now) {
            if state.reason() != "ContainerCreating" {
                let mut p = (*pod).clone();
                p.status.get_or_insert_with(Default::default).container_statuses =
                    Some(vec![container(&container_name, waiting(state.reason()))]);
                self.write_pod(p, Actor::Kubelet);
            }
            if let Some(u) = until {
                let d = draw(&mut self.rngs.kubelet, self.timing.pod_start.lo, self.timing.pod_start.hi);
                self.at(u.plus(d), Event::PodStart { pod: key.clone(), uid: uid.to_string() });
            }
            return;
        }
        let mut p = (*pod).clone();
        let started = to_k8s(self.now_utc());
        let status = p.status.get_or_insert_with(Default::default);
        status.phase = Some("Running".into());
        status.start_time = Some(started.clone());
        status.container_statuses = Some(vec![container(
            &container_name,
            ContainerState { running: Some(ContainerStateRunning { started_at: Some(started) }), ..Default::default() },
        )]);
        self.write_pod(p, Actor::Kubelet);
        let annotations = pod.metadata.annotations.clone().unwrap_or_default();
        let Some(target_name) = annotations.get(labels::OWNER_NAME) else { return };
        let target = ObjectKey::new(key.namespace.clone(), target_name.clone());
        match self.faults.pod_failure(role, self.now, &mut self.rngs.kubelet) {
            Some(FailMode::Kill) => {
                let span = match role {
                    JobRole::Backup => self.timing.backup,
                    JobRole::Restore | JobRole::Compact => self.timing.restore,
                    JobRole::Clean => self.timing.clean,
                };
                let d = draw(&mut self.rngs.kubelet, Duration::from_secs(1), span.lo.max(Duration::from_secs(2)));
                self.after(d, Event::PodKill { pod: key.clone(), uid: uid.to_string() });
            }
            Some(FailMode::Fail) => {
                self.pod_processes.doom(&key.name);
            }
            None => {}
        }
        let pod_name = key.name.clone();
        let attempt = annotations.get(labels::ATTEMPT).and_then(|a| a.parse().ok());
        let log = pod
            .spec
            .as_ref()
            .and_then(|s| s.containers.first())
            .and_then(|c| c.args.as_ref())
            .and_then(|args| args.iter().find_map(|a| a.strip_prefix("--subcommand=")))
            .and_then(|c| c.parse().ok());
        let task = self.spawn(TaskOwner::Pod { key: key.clone(), uid: uid.to_string() }, |task| Spawn::Manager {
            task,
            pod: pod_name.clone(),
            role,
            target,
            attempt,
            log,
        });
        self.pod_processes.started(&key.name, task);
    }

    /// How long until the tool in `pod` fails, if `podFailures` doomed it (a point within `duration`).
    pub fn pod_fail_after(&mut self, pod: &str, duration: Duration) -> Option<Duration> {
        self.pod_processes.take_doom(pod).then(|| draw(&mut self.rngs.kubelet, Duration::ZERO, duration))
    }

    fn finish_pod(&mut self, key: &ObjectKey, uid: &str, code: i32, reason: &str, message: &str) {
        let Some(pod) = self.live_pod(key, uid) else { return };
        if let Some(task) = self.pod_processes.stopped(&key.name) {
            self.tasks.kill(task);
        }
        let mut p = (*pod).clone();
        let container_name =
            p.spec.as_ref().and_then(|s| s.containers.first()).map(|c| c.name.clone()).unwrap_or_default();
        let status = p.status.get_or_insert_with(Default::default);
        status.phase = Some(if code == 0 { "Succeeded" } else { "Failed" }.into());
        let tail: String = message.chars().rev().take(512).collect::<Vec<_>>().into_iter().rev().collect();
        status.container_statuses = Some(vec![container(
            &container_name,
            ContainerState {
                terminated: Some(ContainerStateTerminated {
                    exit_code: code,
                    reason: Some(reason.into()),
                    message: Some(tail).filter(|m| !m.is_empty()),
                    finished_at: Some(to_k8s(self.now_utc())),
                    ..Default::default()
                }),
                ..Default::default()
            },
        )]);
        self.write_pod(p, Actor::Kubelet);
    }

    /// backup-manager exited.
    pub(crate) fn pod_exit(&mut self, key: &ObjectKey, uid: &str, code: i32, message: &str) {
        self.pod_processes.stopped(&key.name);
        self.finish_pod(key, uid, code, if code == 0 { "Completed" } else { "Error" }, message);
    }

    /// `podFailures` with `mode: kill`: the container is killed (OOM, node loss).
    pub(crate) fn pod_kill(&mut self, key: &ObjectKey, uid: &str) {
        let running = self
            .live_pod(key, uid)
            .is_some_and(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"));
        if running {
            self.finish_pod(key, uid, 137, "OOMKilled", "the container was killed (simulated)");
        }
    }

    /// A pod got its deletionTimestamp: the kubelet stops its process and removes it after the grace period.
    pub(crate) fn pod_terminating(&mut self, pod: &Pod) {
        let key = ObjectKey::of(pod);
        if let Some(task) = self.pod_processes.stopped(&key.name) {
            self.tasks.kill(task);
        }
        let started = pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
        let d = if started {
            draw(&mut self.rngs.kubelet, self.timing.pod_termination.lo, self.timing.pod_termination.hi)
        } else {
            Duration::from_secs(1)
        };
        self.after(d, Event::PodRemove { pod: key, uid: pod.metadata.uid.clone().unwrap_or_default() });
    }

    pub(crate) fn pod_remove(&mut self, key: &ObjectKey, uid: &str) {
        if self.live_pod(key, uid).is_some() {
            self.world.remove(Kind::Pod, key, self.now);
            self.commit(&Actor::Kubelet);
        }
    }
}
