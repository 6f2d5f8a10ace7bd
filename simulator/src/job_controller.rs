//! The Job controller, as kube-controller-manager runs it for the operator's Jobs: a pod per Job at a time,
//! `backoffLimit`, `activeDeadlineSeconds`, and the Job's conditions from its pods' phases.

use k8s_openapi::api::batch::v1::{Job, JobCondition, JobStatus};
use k8s_openapi::api::core::v1::{Pod, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use operator::api::time::to_k8s;
use operator::cluster::{Kind, ObjectKey, Precondition};
use operator::controllers::attempt::job_finished;

use crate::engine::{Actor, Event, State};
use crate::kubelet::{container, waiting};
use crate::object::Obj;
use crate::rng::{draw, suffix};

fn job_of(pod: &Pod) -> Option<String> {
    pod.metadata.owner_references.as_ref()?.iter().find(|r| r.kind == "Job").map(|r| r.name.clone())
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
        let now = to_k8s(self.now_utc());
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
            last_transition_time: Some(to_k8s(self.now_utc())),
            ..Default::default()
        });
        self.write_job(job);
    }

    /// The Job a pod belongs to, as a key.
    pub(crate) fn pod_job(pod: &Pod) -> Option<ObjectKey> {
        Some(ObjectKey::new(pod.metadata.namespace.clone().unwrap_or_default(), job_of(pod)?))
    }
}
