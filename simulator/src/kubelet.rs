//! The built-in machinery around the operator: the Job controller (pods per Job, backoffLimit,
//! activeDeadlineSeconds), the kubelet (pod phases with seeded durations; stuck, failing and killed pods; the
//! backup-manager process inside), and the garbage collector (background deletion of dependents).

use k8s_openapi::api::batch::v1::{Job, JobCondition, JobStatus};
use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting, ContainerStatus, Pod,
    PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use operator::api::labels;
use operator::api::time::to_k8s;
use operator::cluster::{Kind, ObjectKey, Precondition};
use operator::controllers::attempt::job_finished;
use std::time::Duration;

use crate::engine::{Actor, Event, Spawn, State, TaskOwner};
use crate::object::Obj;
use crate::rng::{draw, suffix};
use crate::scenario::model::{FailMode, JobRole};
use crate::world::Subresource;

fn job_of(pod: &Pod) -> Option<String> {
    pod.metadata.owner_references.as_ref()?.iter().find(|r| r.kind == "Job").map(|r| r.name.clone())
}

fn role_of(meta: &ObjectMeta) -> Option<JobRole> {
    meta.labels.as_ref().and_then(|l| l.get(labels::COMPONENT)).and_then(|c| JobRole::parse(c))
}

fn container(name: &str, state: ContainerState) -> ContainerStatus {
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

fn waiting(reason: &str) -> ContainerState {
    ContainerState {
        waiting: Some(ContainerStateWaiting { reason: Some(reason.into()), message: None }),
        ..Default::default()
    }
}

impl State {
    fn pods_of(&self, job: &Job) -> Vec<std::sync::Arc<Pod>> {
        let ns = job.metadata.namespace.as_deref().unwrap_or_default();
        let uid = job.metadata.uid.as_deref().unwrap_or_default();
        self.world.owned_by(Kind::Pod, uid).filter(|o| o.key().namespace == ns).filter_map(|o| o.get::<Pod>()).collect()
    }

    fn write_job(&mut self, job: Job) {
        self.world.put_internal(Obj::wrap(job), self.now);
        self.commit(&Actor::JobController);
    }

    fn write_pod(&mut self, pod: Pod, actor: Actor) {
        self.world.put_internal(Obj::wrap(pod), self.now);
        self.commit(&actor);
    }

    /// The Job controller's sync of one Job: create its pod, or record its outcome.
    pub(crate) fn job_sync(&mut self, key: &ObjectKey) {
        let Some(job) = self.world.get(Kind::Job, key).and_then(|o| o.get::<Job>()) else { return };
        if job.metadata.deletion_timestamp.is_some() || job_finished(&job) {
            return;
        }
        let pods = self.pods_of(&job);
        let phase = |p: &Pod| p.status.as_ref().and_then(|s| s.phase.clone()).unwrap_or_default();
        let live: Vec<_> = pods.iter().filter(|p| p.metadata.deletion_timestamp.is_none()).collect();
        let active = live.iter().filter(|p| matches!(phase(p).as_str(), "Pending" | "Running")).count() as i32;
        let succeeded = pods.iter().any(|p| phase(p) == "Succeeded");
        let previously_failed = job.status.as_ref().and_then(|s| s.failed).unwrap_or(0);
        let failed_now = pods.iter().filter(|p| phase(p) == "Failed").count() as i32;
        let failed = previously_failed.max(failed_now);
        let backoff_limit = job.spec.as_ref().and_then(|s| s.backoff_limit).unwrap_or(6);
        if !succeeded && failed <= backoff_limit && active > 0 {
            return;
        }
        let now = to_k8s(self.now.to_utc());
        let original = job;
        let mut job = (*original).clone();
        let status = job.status.get_or_insert_with(JobStatus::default);
        if succeeded {
            status.succeeded = Some(1);
            status.active = Some(0);
            status.completion_time = Some(now.clone());
            status.conditions.get_or_insert_with(Vec::new).push(JobCondition {
                type_: "Complete".into(),
                status: "True".into(),
                last_transition_time: Some(now),
                ..Default::default()
            });
            self.write_job(job);
        } else if failed > backoff_limit {
            status.failed = Some(failed);
            status.active = Some(0);
            status.conditions.get_or_insert_with(Vec::new).push(JobCondition {
                type_: "Failed".into(),
                status: "True".into(),
                reason: Some("BackoffLimitExceeded".into()),
                message: Some("Job has reached the specified backoff limit".into()),
                last_transition_time: Some(now),
                ..Default::default()
            });
            self.write_job(job);
        } else {
            status.failed = Some(failed).filter(|f| *f > 0);
            status.active = Some(1);
            if status.start_time.is_none() {
                status.start_time = Some(now);
            }
            self.write_job(job);
            // The pod comes from the spec, which the status write did not touch.
            self.create_pod(&original);
        }
    }

    fn create_pod(&mut self, job: &Job) {
        let template = job.spec.as_ref().map(|s| &s.template);
        let meta = template.and_then(|t| t.metadata.as_ref());
        let job_name = job.metadata.name.clone().unwrap_or_default();
        let mut pod_labels = meta.and_then(|m| m.labels.clone()).unwrap_or_default();
        // The labels kube-controller-manager's Job controller puts on its pods (both generations of them).
        let uid = job.metadata.uid.clone().unwrap_or_default();
        for (key, value) in [
            ("job-name", &job_name),
            ("batch.kubernetes.io/job-name", &job_name),
            ("controller-uid", &uid),
            ("batch.kubernetes.io/controller-uid", &uid),
        ] {
            pod_labels.insert(key.into(), value.clone());
        }
        let name = format!("{job_name}-{}", suffix(&mut self.rngs.jobs, 5));
        let pod_spec = template.and_then(|t| t.spec.clone());
        let container_name =
            pod_spec.as_ref().and_then(|s| s.containers.first()).map(|c| c.name.clone()).unwrap_or_default();
        let pod = Pod {
            metadata: ObjectMeta {
                name: Some(name),
                generate_name: Some(format!("{job_name}-")),
                namespace: job.metadata.namespace.clone(),
                labels: Some(pod_labels),
                annotations: meta.and_then(|m| m.annotations.clone()),
                owner_references: Some(vec![OwnerReference {
                    api_version: "batch/v1".into(),
                    kind: "Job".into(),
                    name: job_name,
                    uid: job.metadata.uid.clone().unwrap_or_default(),
                    controller: Some(true),
                    block_owner_deletion: Some(true),
                }]),
                ..Default::default()
            },
            spec: pod_spec,
            status: Some(PodStatus {
                phase: Some("Pending".into()),
                container_statuses: Some(vec![container(&container_name, waiting("ContainerCreating"))]),
                ..Default::default()
            }),
        };
        match self.world.create(Obj::wrap(pod), self.now) {
            Ok(created) => {
                self.commit(&Actor::JobController);
                let d = draw(&mut self.rngs.kubelet, self.timing.pod_start.lo, self.timing.pod_start.hi);
                self.after(
                    d,
                    Event::PodStart { pod: created.key(), uid: created.meta().uid.clone().unwrap_or_default() },
                );
            }
            Err(e) => {
                let key = ObjectKey::of(job);
                self.trace.record(
                    self.now,
                    "job-controller",
                    "create",
                    format_args!("Pod for Job {key}"),
                    format_args!("-> {e}"),
                );
            }
        }
    }

    /// `activeDeadlineSeconds` passed: the Job fails and its pods are deleted.
    pub(crate) fn job_deadline(&mut self, key: &ObjectKey, uid: &str) {
        let Some(job) = self.world.get(Kind::Job, key).and_then(|o| o.get::<Job>()) else { return };
        if job.metadata.uid.as_deref() != Some(uid) || job_finished(&job) {
            return;
        }
        for pod in self.pods_of(&job) {
            let _ = self.world.delete(Kind::Pod, &ObjectKey::of(&*pod), &Precondition::default(), self.now);
            self.commit(&Actor::JobController);
        }
        let mut job = (*job).clone();
        let status = job.status.get_or_insert_with(JobStatus::default);
        status.active = Some(0);
        status.conditions.get_or_insert_with(Vec::new).push(JobCondition {
            type_: "Failed".into(),
            status: "True".into(),
            reason: Some("DeadlineExceeded".into()),
            message: Some("Job was active longer than specified deadline".into()),
            last_transition_time: Some(to_k8s(self.now.to_utc())),
            ..Default::default()
        });
        self.write_job(job);
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
        let started = to_k8s(self.now.to_utc());
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
                self.pod_fates.insert(key.name.clone());
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
        self.pod_tasks.insert(key.name.clone(), task);
    }

    /// How long until the tool in `pod` fails, if `podFailures` doomed it (a point within `duration`).
    pub fn pod_fail_after(&mut self, pod: &str, duration: Duration) -> Option<Duration> {
        self.pod_fates.remove(pod).then(|| draw(&mut self.rngs.kubelet, Duration::ZERO, duration))
    }

    fn finish_pod(&mut self, key: &ObjectKey, uid: &str, code: i32, reason: &str, message: &str) {
        let Some(pod) = self.live_pod(key, uid) else { return };
        if let Some(task) = self.pod_tasks.remove(&key.name) {
            self.kill(task);
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
                    finished_at: Some(to_k8s(self.now.to_utc())),
                    ..Default::default()
                }),
                ..Default::default()
            },
        )]);
        self.write_pod(p, Actor::Kubelet);
    }

    /// backup-manager exited.
    pub(crate) fn pod_exit(&mut self, key: &ObjectKey, uid: &str, code: i32, message: &str) {
        self.pod_tasks.remove(&key.name);
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
        if let Some(task) = self.pod_tasks.remove(&key.name) {
            self.kill(task);
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

    /// The garbage collector deletes the dependents of an owner that is gone (background propagation).
    pub(crate) fn gc_delete(&mut self, owner_uid: &str) {
        for (kind, key) in self.world.dependents(owner_uid) {
            let gone_owner = self.world.get(kind, &key).is_some_and(|o| {
                o.meta().owner_references.as_ref().is_some_and(|refs| refs.iter().any(|r| r.uid == owner_uid))
            });
            if gone_owner {
                let _ = self.world.delete(kind, &key, &Precondition::default(), self.now);
                self.commit(&Actor::Gc);
            }
        }
    }

    /// Orphan propagation: the dependents lose their reference to the owner, then the owner's `orphan` finalizer
    /// goes. Foreground: the dependents are deleted, and once none is left the owner's `foregroundDeletion`
    /// finalizer goes (looked at again after another collector delay while some remain).
    pub(crate) fn gc_propagate(&mut self, kind: Kind, key: &ObjectKey, uid: &str, orphan: bool) {
        if self.world.get(kind, key).is_none_or(|o| o.meta().uid.as_deref() != Some(uid)) {
            return;
        }
        for (dependent_kind, dependent) in self.world.dependents(uid) {
            let Some(o) = self.world.get(dependent_kind, &dependent).cloned() else { continue };
            if orphan {
                let released = o.with_meta(|m| {
                    if let Some(refs) = m.owner_references.as_mut() {
                        refs.retain(|r| r.uid != uid);
                    }
                    m.owner_references.take_if(|refs| refs.is_empty());
                });
                let _ = self.world.update(released, Subresource::Main, self.now);
            } else {
                let _ = self.world.delete(dependent_kind, &dependent, &Precondition::default(), self.now);
            }
        }
        self.commit(&Actor::Gc);
        if !orphan && !self.world.dependents(uid).is_empty() {
            let d = draw(&mut self.rngs.kubelet, self.timing.gc.lo, self.timing.gc.hi);
            self.after(d, Event::GcPropagate { kind, key: key.clone(), uid: uid.to_string(), orphan });
            return;
        }
        let finalizer = if orphan { "orphan" } else { "foregroundDeletion" };
        let Some(owner) = self.world.get(kind, key).cloned() else { return };
        let released = owner.with_meta(|m| {
            if let Some(f) = m.finalizers.as_mut() {
                f.retain(|x| x != finalizer);
            }
        });
        let _ = self.world.update(released, Subresource::Main, self.now);
        self.commit(&Actor::Gc);
    }

    /// The Job a pod belongs to, as a key.
    pub(crate) fn pod_job(pod: &Pod) -> Option<ObjectKey> {
        Some(ObjectKey::new(pod.metadata.namespace.clone().unwrap_or_default(), job_of(pod)?))
    }
}
