//! The history a timeline draws, gathered from the run's changes and trace records as they happen: each object's
//! life and states, fault windows, the operator's downtime, writes, user steps and violations.

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use operator::api::labels;
use std::collections::BTreeMap;

use crate::object::Obj;
use crate::time::SimTime;
use crate::world::{Change, ChangeType};

/// What kind of life a lane draws.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LifeKind {
    Schedule,
    Backup,
    Restore,
    Compact,
    Pod,
}

/// Who wrote: the operator's controllers, backup-manager, the user, or the cluster (kubelet, Job controller, GC).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Writer {
    Operator,
    Manager,
    User,
    Cluster,
}

impl Writer {
    /// The writer class of a trace actor name.
    pub fn of(actor: &str) -> Writer {
        match actor {
            "user" => Writer::User,
            "kubelet" | "job-controller" | "gc" => Writer::Cluster,
            a if a.starts_with("manager/") => Writer::Manager,
            _ => Writer::Operator,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Writer::Operator => "operator",
            Writer::Manager => "manager",
            Writer::User => "user",
            Writer::Cluster => "cluster",
        }
    }
}

/// One object's life, from creation to deletion: the states it went through and who wrote it.
#[derive(Clone, Debug)]
pub struct Life {
    pub kind: LifeKind,
    /// `namespace/name`.
    pub key: String,
    pub uid: String,
    pub created: SimTime,
    /// Each state and when it began, in order (consecutive states differ).
    pub states: Vec<(SimTime, String)>,
    pub gone: Option<SimTime>,
    pub writes: Vec<(SimTime, Writer)>,
    /// A Backup's schedule (`namespace/name`); a pod's Backup or Restore (its uid).
    pub owner: Option<String>,
    /// A pod's role (`backup`, `clean`, `restore`).
    pub role: Option<String>,
    /// A schedule's spec over time: when it changed, the cron expression, its time zone and whether it was paused.
    pub specs: Vec<ScheduleSpec>,
}

/// A BackupSchedule's spec from a point in time on.
#[derive(Clone, Debug, PartialEq)]
pub struct ScheduleSpec {
    pub from: SimTime,
    pub cron: String,
    pub time_zone: Option<String>,
    pub paused: bool,
    pub created: SimTime,
}

/// A window of time, open while `until` is `None`.
#[derive(Clone, Debug, PartialEq)]
pub struct Window {
    pub from: SimTime,
    pub until: Option<SimTime>,
    pub what: String,
}

/// A moment: a user step or an invariant violation.
#[derive(Clone, Debug, PartialEq)]
pub struct Moment {
    pub at: SimTime,
    pub what: String,
    pub detail: String,
}

/// Everything the timeline draws.
#[derive(Clone, Debug, Default)]
pub struct History {
    pub lives: Vec<Life>,
    /// Live objects: (kind, uid) -> index in `lives`.
    by_uid: BTreeMap<(LifeKind, String), usize>,
    /// A Job (`namespace/name`) -> its owner's uid.
    job_owner: BTreeMap<String, String>,
    /// Fault windows by fault (`podsStuck#4`), in order of their start.
    pub faults: BTreeMap<String, Vec<Window>>,
    /// The operator process's downtime (`what`: why it went down).
    pub downtime: Vec<Window>,
    pub steps: Vec<Moment>,
    pub violations: Vec<Moment>,
}

fn key(meta: &ObjectMeta) -> String {
    format!("{}/{}", meta.namespace.as_deref().unwrap_or(""), meta.name.as_deref().unwrap_or(""))
}

fn owner_of(meta: &ObjectMeta, kind: &str) -> Option<String> {
    meta.owner_references.as_ref()?.iter().find(|r| r.kind == kind).map(|r| r.name.clone())
}

/// A pod's state as `kubectl get pods` shows it: the waiting reason of a pending pod (`ContainerCreating`), its
/// phase otherwise, `Terminating` once it is being deleted.
pub fn pod_state(pod: &Pod) -> String {
    if pod.metadata.deletion_timestamp.is_some() {
        return "Terminating".into();
    }
    let status = pod.status.as_ref();
    let phase = status.and_then(|s| s.phase.as_deref()).unwrap_or("Pending");
    if phase == "Pending" {
        let waiting = status
            .and_then(|s| s.container_statuses.as_ref())
            .and_then(|c| c.first())
            .and_then(|c| c.state.as_ref())
            .and_then(|s| s.waiting.as_ref())
            .and_then(|w| w.reason.clone());
        if let Some(reason) = waiting {
            return reason;
        }
    }
    phase.to_string()
}

/// The state an object's bar shows: its phase (`New` before it has one), `Deleting` once it is being deleted unless
/// its phase says more (Cleaning, Clean, CleanFailed), `active` or `paused` for a schedule.
fn state_of(obj: &Obj) -> Option<(LifeKind, String)> {
    let deleting = obj.meta().deletion_timestamp.is_some();
    Some(match obj {
        Obj::Backup(b) => {
            let phase = b.phase().map(|p| p.as_str().to_string());
            let state = match phase.as_deref() {
                Some(p @ ("Cleaning" | "Clean" | "CleanFailed")) => p.to_string(),
                _ if deleting => "Deleting".into(),
                Some(p) => p.to_string(),
                None => "New".into(),
            };
            (LifeKind::Backup, state)
        }
        Obj::Restore(r) => {
            let state = match r.phase() {
                _ if deleting => "Deleting".into(),
                Some(p) => p.as_str().to_string(),
                None => "New".into(),
            };
            (LifeKind::Restore, state)
        }
        Obj::Schedule(s) => {
            let paused = s.spec.pause.unwrap_or(false);
            (
                LifeKind::Schedule,
                if deleting {
                    "Deleting"
                } else if paused {
                    "paused"
                } else {
                    "active"
                }
                .into(),
            )
        }
        Obj::Compact(c) => {
            let state = match c.state() {
                _ if deleting => "Deleting".into(),
                Some(s) => s.as_str().to_string(),
                None => "New".into(),
            };
            (LifeKind::Compact, state)
        }
        Obj::Pod(p) => (LifeKind::Pod, pod_state(p)),
        Obj::Job(_) => return None,
    })
}

impl History {
    /// Records one change of the world, made by `actor` (a trace actor name).
    pub fn change(&mut self, actor: &str, change: &Change) {
        let t = change.time;
        if let Obj::Job(job) = &change.obj {
            if change.type_ == ChangeType::Added
                && let Some(r) = job.metadata.owner_references.as_ref().and_then(|r| r.first())
            {
                self.job_owner.insert(key(&job.metadata), r.uid.clone());
            }
            return;
        }
        let Some((kind, state)) = state_of(&change.obj) else { return };
        let meta = change.obj.meta();
        let uid = meta.uid.clone().unwrap_or_default();
        let index = match self.by_uid.get(&(kind, uid.clone())) {
            Some(i) => *i,
            None => {
                self.lives.push(self.new_life(kind, &change.obj, uid.clone(), t));
                self.by_uid.insert((kind, uid.clone()), self.lives.len() - 1);
                self.lives.len() - 1
            }
        };
        let life = &mut self.lives[index];
        if life.states.last().is_none_or(|(_, s)| *s != state) {
            life.states.push((t, state));
        }
        if kind != LifeKind::Pod {
            life.writes.push((t, Writer::of(actor)));
        }
        if let Obj::Schedule(s) = &change.obj {
            let spec = ScheduleSpec {
                from: t,
                cron: s.spec.schedule.clone(),
                time_zone: s.spec.time_zone.clone(),
                paused: s.spec.pause.unwrap_or(false),
                created: life.created,
            };
            let same = life
                .specs
                .last()
                .is_some_and(|l| (&l.cron, &l.time_zone, l.paused) == (&spec.cron, &spec.time_zone, spec.paused));
            if !same {
                life.specs.push(spec);
            }
        }
        if change.type_ == ChangeType::Deleted {
            life.gone = Some(t);
            self.by_uid.remove(&(kind, uid));
        }
    }

    fn new_life(&self, kind: LifeKind, obj: &Obj, uid: String, t: SimTime) -> Life {
        let meta = obj.meta();
        let ns = meta.namespace.as_deref().unwrap_or("");
        let owner = match obj {
            Obj::Backup(_) | Obj::Compact(_) => owner_of(meta, "BackupSchedule")
                .or_else(|| meta.labels.as_ref().and_then(|l| l.get(labels::SCHEDULE)).cloned())
                .map(|s| format!("{ns}/{s}")),
            Obj::Pod(_) => owner_of(meta, "Job").and_then(|job| self.job_owner.get(&format!("{ns}/{job}")).cloned()),
            _ => None,
        };
        let role = match obj {
            Obj::Pod(_) => meta.labels.as_ref().and_then(|l| l.get(labels::COMPONENT)).cloned(),
            _ => None,
        };
        Life {
            kind,
            key: key(meta),
            uid,
            created: t,
            states: Vec::new(),
            gone: None,
            writes: Vec::new(),
            owner,
            role,
            specs: Vec::new(),
        }
    }

    /// Records one trace record: fault edges, operator crashes and starts, user actions and violations.
    pub fn record(&mut self, t: SimTime, actor: &str, action: &str, object: &str, detail: &str) {
        match (actor, action) {
            ("faults", "fault-start") => {
                self.faults.entry(object.to_string()).or_default().push(Window {
                    from: t,
                    until: None,
                    what: object.to_string(),
                });
            }
            ("faults", "fault-end") => {
                if let Some(w) = self.faults.get_mut(object).and_then(|w| w.last_mut()) {
                    w.until = Some(t);
                }
            }
            ("operator", "crash") => {
                self.downtime.push(Window { from: t, until: None, what: detail.to_string() });
            }
            ("operator", "start") => {
                if let Some(w) = self.downtime.last_mut().filter(|w| w.until.is_none()) {
                    w.until = Some(t);
                }
            }
            ("checker", "violation") => {
                self.violations.push(Moment { at: t, what: object.to_string(), detail: detail.to_string() })
            }
            ("user", _) => {
                self.steps.push(Moment { at: t, what: format!("{action} {object}"), detail: detail.to_string() })
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{ContainerState, ContainerStateWaiting, ContainerStatus, PodStatus};

    fn pod(phase: &str, waiting: Option<&str>) -> Pod {
        Pod {
            status: Some(PodStatus {
                phase: Some(phase.into()),
                container_statuses: waiting.map(|w| {
                    vec![ContainerStatus {
                        state: Some(ContainerState {
                            waiting: Some(ContainerStateWaiting { reason: Some(w.into()), ..Default::default() }),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }]
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_pending_pod_shows_its_waiting_reason_as_kubectl_does() {
        assert_eq!(pod_state(&pod("Pending", Some("ContainerCreating"))), "ContainerCreating");
        assert_eq!(pod_state(&pod("Pending", None)), "Pending");
        assert_eq!(pod_state(&pod("Running", None)), "Running");
        let mut deleting = pod("Running", None);
        deleting.metadata.deletion_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH));
        assert_eq!(pod_state(&deleting), "Terminating");
    }

    #[test]
    fn fault_and_downtime_windows_close_at_their_end_records() {
        let mut h = History::default();
        h.record(SimTime(10), "faults", "fault-start", "podsStuck#1", "");
        h.record(SimTime(20), "operator", "crash", "process", "operatorRestart");
        h.record(SimTime(25), "operator", "start", "process", "epoch=2");
        h.record(SimTime(30), "faults", "fault-end", "podsStuck#1", "");
        h.record(SimTime(40), "checker", "violation", "no-overlap", "two at once");
        assert_eq!(
            h.faults["podsStuck#1"],
            vec![Window { from: SimTime(10), until: Some(SimTime(30)), what: "podsStuck#1".into() }]
        );
        assert_eq!(
            h.downtime,
            vec![Window { from: SimTime(20), until: Some(SimTime(25)), what: "operatorRestart".into() }]
        );
        assert_eq!(h.violations[0].what, "no-overlap");
    }
}
