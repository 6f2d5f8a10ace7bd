//! The change bus: every change the world records goes, in order, to the informers, the Job controller, the
//! kubelet, the garbage collector, the invariants, the stats and (for built-in actors) the trace.

use k8s_openapi::api::core::v1::Pod;
use std::time::Duration;

use crate::engine::{Actor, Event, State};
use crate::object::Obj;
use crate::rng::draw;
use crate::world::ChangeType;

fn phase(p: &Pod) -> Option<&str> {
    p.status.as_ref().and_then(|s| s.phase.as_deref())
}

impl State {
    /// Routes the world's pending changes, made by `actor`.
    pub(crate) fn commit(&mut self, actor: &Actor) {
        let changes = self.world.take_changes();
        if changes.is_empty() {
            return;
        }
        let name = self.actor_name(actor);
        for change in changes {
            if self.trace.enabled() && matches!(actor, Actor::Kubelet | Actor::JobController | Actor::Gc | Actor::User)
            {
                let verb = match change.type_ {
                    ChangeType::Added => "create",
                    ChangeType::Modified => "update",
                    ChangeType::Deleted => "delete",
                };
                let o = &change.obj;
                self.trace.record(
                    self.now,
                    &name,
                    verb,
                    format_args!("{} {}", o.kind(), o.key()),
                    format_args!("rv={}", change.rv),
                );
            }
            self.trace.change(&name, &change);
            self.informers_on_change(&change);
            self.with_outside(|o, st| o.changed(st, &change));
            self.checker.on_change(&self.world, (&self.storage, &self.log_tasks), &change, &name, &mut self.trace);
            let writer = match actor {
                Actor::Controller(_) | Actor::External => crate::stats::Writer::Operator,
                Actor::Manager(_) => crate::stats::Writer::Manager,
                _ => crate::stats::Writer::Cluster,
            };
            self.stats.observe(&change, writer);
            let jc =
                |st: &mut State| draw(&mut st.rngs.kubelet, st.timing.job_controller.lo, st.timing.job_controller.hi);
            match (&change.obj, change.type_) {
                (Obj::Job(job), ChangeType::Added) => {
                    let d = jc(self);
                    self.after(d, Event::JobSync(change.obj.key()));
                    if let Some(secs) = job.spec.as_ref().and_then(|s| s.active_deadline_seconds) {
                        let uid = job.metadata.uid.clone().unwrap_or_default();
                        self.after(
                            Duration::from_secs(secs.max(0) as u64),
                            Event::JobDeadline { job: change.obj.key(), uid },
                        );
                    }
                }
                (Obj::Pod(pod), ChangeType::Modified) => {
                    let old = change.old.as_ref().and_then(|o| o.get::<Pod>());
                    let newly_deleting = pod.metadata.deletion_timestamp.is_some()
                        && old.as_ref().is_some_and(|o| o.metadata.deletion_timestamp.is_none());
                    if newly_deleting {
                        self.pod_terminating(pod);
                    }
                    let ended = matches!(phase(pod), Some("Succeeded" | "Failed"))
                        && old.as_ref().is_some_and(|o| phase(o) != phase(pod));
                    if ended && let Some(job) = State::pod_job(pod) {
                        let d = jc(self);
                        self.after(d, Event::JobSync(job));
                    }
                }
                (Obj::Pod(pod), ChangeType::Deleted) => {
                    if let Some(job) = State::pod_job(pod) {
                        let d = jc(self);
                        self.after(d, Event::JobSync(job));
                    }
                }
                _ => {}
            }
            if change.type_ == ChangeType::Deleted
                && let Some(uid) = change.obj.meta().uid.clone()
            {
                let d = draw(&mut self.rngs.kubelet, self.timing.gc.lo, self.timing.gc.hi);
                self.after(d, Event::GcDelete { owner_uid: uid });
            }
        }
    }

    /// Writes an object into simulated storage (a tool's output).
    pub fn storage_put(&mut self, pod: &str, key: String, size: u64) {
        self.trace.record(self.now, &format!("manager/{pod}"), "storage-put", format_args!("{key}"), format_args!(""));
        self.storage.put(key, size);
    }

    /// Deletes a backup's prefix from simulated storage (clean); returns how many objects went.
    pub fn storage_delete(&mut self, pod: &str, url: &str) -> usize {
        self.storage_delete_by(&format!("manager/{pod}"), url)
    }

    /// Deletes everything under `url/`, by `actor` (a clean, or a user's `wipeData` step).
    pub fn storage_delete_by(&mut self, actor: &str, url: &str) -> usize {
        let gone = self.storage.delete_under(url);
        self.trace.record(
            self.now,
            actor,
            "storage-delete",
            format_args!("{url}/"),
            format_args!("{} objects", gone.len()),
        );
        self.checker.on_storage_delete(&self.world, actor, url, self.now, &mut self.trace);
        gone.len()
    }
}
