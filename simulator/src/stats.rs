//! Counters of one run: API requests by verb, kind and actor, injected faults, and per-Backup lifecycle writes.

use operator::api::{Backup, labels};
use operator::cluster::{Kind, Verb};
use std::collections::BTreeMap;
use std::fmt::Write;

use crate::controller_id::ControllerId;
use crate::lookup::Lookup;
use crate::object::Obj;
use crate::world::{Change, ChangeType};

/// The operator's controllers, as actors in the counts.
const OPERATOR: [&str; 4] = [
    ControllerId::Backup.as_str(),
    ControllerId::Restore.as_str(),
    ControllerId::Compact.as_str(),
    ControllerId::Schedule.as_str(),
];

/// The stages of a Backup's life, for counting the writes each costs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// From creation (the tick) until Complete or Failed.
    #[default]
    Running,
    /// Finished, kept until garbage collection (or a user) deletes it.
    Kept,
    /// From the deletion request until the object is gone (stop, clean, finalizer).
    Deleting,
}

/// Who made a change, for splitting the writes of a Backup's life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Writer {
    /// The operator's controllers.
    Operator,
    /// backup-manager in the Jobs.
    Manager,
    /// Everyone else: the Job controller, the kubelet, the garbage collector, the user.
    Cluster,
}

/// Writes to one Backup and its Jobs and pods, by stage and by writer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Life {
    pub stage: Stage,
    pub writes: [u64; 3],
    /// The same writes by operator, backup-manager and cluster.
    pub by: [u64; 3],
    pub gone: bool,
}

/// The writes of the Backup lives seen whole: how many, and their writes by stage and by writer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Whole {
    pub lives: u64,
    pub writes: [u64; 3],
    pub by: [u64; 3],
}

/// The verbs of live reads (quorum reads from the API server, not the cache).
pub const LIVE_READS: [Verb; 2] = [Verb::Get, Verb::List];
/// The verbs of writes.
pub const WRITES: [Verb; 4] = [Verb::Create, Verb::Update, Verb::UpdateStatus, Verb::Delete];

/// Everything counted during a run (ordered maps: stable output).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// actor -> (verb, kind) -> requests (by actor first, so that counting one borrows the actor's name).
    pub requests: BTreeMap<String, BTreeMap<(Verb, Kind), u64>>,
    /// (actor, error class) -> errors returned.
    pub errors: BTreeMap<(String, &'static str), u64>,
    pub reconciles: BTreeMap<String, u64>,
    pub reconcile_errors: BTreeMap<String, u64>,
    /// Namespace -> Backup name -> writes to it and its Jobs and pods, by any actor, by stage (hashed: a long run of
    /// a big world sees a hundred thousand Backups, and every write to one, its Jobs or pods looks its life up).
    pub lives: Lookup<String, Lookup<String, Life>>,
    /// The writes of the lives seen whole (created and gone), summed as they come.
    pub whole: Whole,
    pub backups_created: u64,
    pub backups_completed: u64,
    pub backups_gone: u64,
    pub events_processed: u64,
}

/// The entry of `name` in `map`, made on first use (copying the name only then).
fn slot<'a, V: Default>(map: &'a mut BTreeMap<String, V>, name: &str) -> &'a mut V {
    if !map.contains_key(name) {
        map.insert(name.to_string(), V::default());
    }
    map.get_mut(name).expect("inserted above")
}

impl Stats {
    pub fn request(&mut self, actor: &str, verb: Verb, kind: Kind) {
        *slot(&mut self.requests, actor).entry((verb, kind)).or_default() += 1;
    }

    /// Counts one reconcile `controller` started.
    pub fn reconcile_started(&mut self, controller: &str) {
        *slot(&mut self.reconciles, controller) += 1;
    }

    /// Counts one reconcile of `controller` that ended in an error.
    pub fn reconcile_failed(&mut self, controller: &str) {
        *slot(&mut self.reconcile_errors, controller) += 1;
    }

    /// Accounts one world change.
    pub fn observe(&mut self, change: &Change, writer: Writer) {
        let obj = &change.obj;
        let name = match obj {
            Obj::Backup(b) => {
                match change.type_ {
                    ChangeType::Added => self.backups_created += 1,
                    ChangeType::Deleted => self.backups_gone += 1,
                    ChangeType::Modified => {
                        let was = change.old.as_ref().and_then(|o| o.get::<Backup>()).and_then(|o| o.phase());
                        if b.is_complete() && was != b.phase() {
                            self.backups_completed += 1;
                        }
                    }
                }
                b.metadata.name.as_deref().unwrap_or_default()
            }
            Obj::Job(_) | Obj::Pod(_) => {
                let owner = obj
                    .meta()
                    .annotations
                    .as_ref()
                    .and_then(|a| Some((a.get(labels::OWNER_KIND)?, a.get(labels::OWNER_NAME)?)));
                match owner {
                    Some((kind, name)) if kind == "Backup" => name.as_str(),
                    _ => return,
                }
            }
            _ => return,
        };
        // A Backup's Jobs and pods are in its namespace (an owner is never in another one).
        let namespace = obj.meta().namespace.as_deref().unwrap_or_default();
        if self.lives.get(namespace).is_none() {
            self.lives.insert(namespace.to_string(), Lookup::default());
        }
        let in_namespace = self.lives.get_mut(namespace).expect("inserted above");
        if in_namespace.get(name).is_none() {
            in_namespace.insert(name.to_string(), Life::default());
        }
        let life = in_namespace.get_mut(name).expect("inserted above");
        let (stage, was_gone) = (life.stage as usize, life.gone);
        life.writes[stage] += 1;
        life.by[writer as usize] += 1;
        if let Obj::Backup(b) = obj {
            if b.metadata.deletion_timestamp.is_some() || change.type_ == ChangeType::Deleted {
                life.stage = Stage::Deleting;
            } else if b.is_finished() {
                life.stage = life.stage.max(Stage::Kept);
            }
            life.gone |= change.type_ == ChangeType::Deleted;
        }
        if was_gone {
            // A write after the Backup is gone (its Jobs' and pods' deletions) still belongs to its life.
            self.whole.writes[stage] += 1;
            self.whole.by[writer as usize] += 1;
        } else if life.gone {
            self.whole.lives += 1;
            for i in 0..3 {
                self.whole.writes[i] += life.writes[i];
                self.whole.by[i] += life.by[i];
            }
        }
    }

    /// Average writes per stage over the Backups whose whole life was seen (created and gone), and their count.
    pub fn writes_per_life(&self) -> ([f64; 3], usize) {
        let n = self.whole.lives.max(1) as f64;
        (self.whole.writes.map(|w| w as f64 / n), self.whole.lives as usize)
    }

    /// The operator's requests with one of `verbs`, per Backup created.
    pub fn operator_requests_per_backup(&self, verbs: &[Verb]) -> f64 {
        let n: u64 = self
            .requests
            .iter()
            .filter(|(actor, _)| OPERATOR.contains(&actor.as_str()))
            .flat_map(|(_, counts)| counts)
            .filter(|((verb, _), _)| verbs.contains(verb))
            .map(|(_, n)| n)
            .sum();
        n as f64 / self.backups_created.max(1) as f64
    }

    /// Every request counted, by any actor.
    pub fn total_requests(&self) -> u64 {
        self.requests.values().flat_map(BTreeMap::values).sum()
    }

    /// Requests by verb and kind, over all actors.
    pub fn by_verb_kind(&self) -> BTreeMap<(Verb, Kind), u64> {
        let mut out = BTreeMap::new();
        for ((v, k), n) in self.requests.values().flatten() {
            *out.entry((*v, *k)).or_default() += n;
        }
        out
    }

    /// A human-readable table for `--stats`.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "API requests by actor, verb and kind:");
        for (actor, counts) in &self.requests {
            for ((verb, kind), n) in counts {
                let _ = writeln!(s, "  {actor:<16} {verb:<14} {kind:<15} {n:>8}");
            }
        }
        if !self.errors.is_empty() {
            let _ = writeln!(s, "API errors returned:");
            for ((actor, class), n) in &self.errors {
                let _ = writeln!(s, "  {actor:<16} {class:<14} {n:>8}");
            }
        }
        let _ = writeln!(s, "Reconciles (errors):");
        for (c, n) in &self.reconciles {
            let _ = writeln!(s, "  {c:<16} {n:>8} ({})", self.reconcile_errors.get(c).copied().unwrap_or(0));
        }
        let _ = writeln!(
            s,
            "Backups: {} created, {} completed, {} gone",
            self.backups_created, self.backups_completed, self.backups_gone
        );
        let _ = writeln!(
            s,
            "Operator requests per Backup created: live reads {:.1}, writes {:.1} (incl. those refused)",
            self.operator_requests_per_backup(&LIVE_READS),
            self.operator_requests_per_backup(&WRITES)
        );
        let ([running, kept, deleting], n) = self.writes_per_life();
        let by = |w: Writer| self.whole.by[w as usize] as f64 / self.whole.lives.max(1) as f64;
        let _ = writeln!(
            s,
            "Writes per Backup life (to the Backup, its Jobs and pods; {n} whole lives): tick->finished {running:.1}, finished->expired {kept:.1}, expired->gone {deleting:.1}, total {:.1} (operator {:.1}, backup-manager {:.1}, cluster {:.1})",
            running + kept + deleting,
            by(Writer::Operator),
            by(Writer::Manager),
            by(Writer::Cluster)
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::SimTime;
    use k8s_openapi::api::batch::v1::Job;
    use operator::api::{BackupPhase, BackupStatus};

    fn backup(phase: Option<BackupPhase>) -> Obj {
        backup_in("ns", phase)
    }

    fn backup_in(namespace: &str, phase: Option<BackupPhase>) -> Obj {
        let mut b = Backup::new("demo-1", Default::default());
        b.metadata.namespace = Some(namespace.into());
        b.status = Some(BackupStatus { phase, ..Default::default() });
        Obj::wrap(b)
    }

    fn job_of_demo() -> Obj {
        let mut job = Job::default();
        job.metadata.name = Some("backup-demo-1".into());
        job.metadata.namespace = Some("ns".into());
        job.metadata.annotations = Some(
            [(labels::OWNER_KIND.to_string(), "Backup".to_string()), (labels::OWNER_NAME.to_string(), "demo-1".into())]
                .into(),
        );
        Obj::wrap(job)
    }

    fn change(type_: ChangeType, obj: Obj) -> Change {
        Change { time: SimTime(0), type_, obj, old: None, rv: 1 }
    }

    #[test]
    fn a_life_counts_once_whole_with_the_writes_that_follow_its_backup_being_gone() {
        let mut stats = Stats::default();
        stats.observe(&change(ChangeType::Added, backup(None)), Writer::Operator);
        stats.observe(&change(ChangeType::Added, job_of_demo()), Writer::Operator);
        stats.observe(&change(ChangeType::Modified, backup(Some(BackupPhase::Complete))), Writer::Manager);
        assert_eq!(stats.writes_per_life(), ([0.0; 3], 0), "not whole while the Backup exists");
        stats.observe(&change(ChangeType::Deleted, backup(Some(BackupPhase::Complete))), Writer::Operator);
        stats.observe(&change(ChangeType::Deleted, job_of_demo()), Writer::Cluster);
        assert_eq!(stats.writes_per_life(), ([3.0, 1.0, 1.0], 1), "the Job's deletion after the Backup's is counted");
        assert_eq!(stats.whole.by, [3, 1, 1]);
    }

    #[test]
    fn backups_of_one_name_in_two_namespaces_live_two_lives() {
        let mut stats = Stats::default();
        for ns in ["a", "b"] {
            stats.observe(&change(ChangeType::Added, backup_in(ns, None)), Writer::Operator);
        }
        for ns in ["a", "b"] {
            stats.observe(&change(ChangeType::Deleted, backup_in(ns, None)), Writer::Operator);
        }
        assert_eq!(stats.writes_per_life(), ([2.0, 0.0, 0.0], 2), "each its own create and delete");
    }
}
