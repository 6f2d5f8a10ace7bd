//! Counters of one run: API requests by verb, kind and actor, injected faults, and per-Backup lifecycle writes.

use operator::api::{Backup, labels};
use operator::cluster::{Kind, Verb};
use std::collections::BTreeMap;
use std::fmt::Write;

use crate::controller_id::ControllerId;
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
    /// Backup name -> writes to it and its Jobs and pods, by any actor, by stage.
    pub lives: BTreeMap<String, Life>,
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
        let life = slot(&mut self.lives, name);
        life.writes[life.stage as usize] += 1;
        life.by[writer as usize] += 1;
        if let Obj::Backup(b) = obj {
            if b.metadata.deletion_timestamp.is_some() || change.type_ == ChangeType::Deleted {
                life.stage = Stage::Deleting;
            } else if b.is_finished() {
                life.stage = life.stage.max(Stage::Kept);
            }
            life.gone |= change.type_ == ChangeType::Deleted;
        }
    }

    /// Average writes per stage over the Backups whose whole life was seen (created and gone), and their count.
    pub fn writes_per_life(&self) -> ([f64; 3], usize) {
        let full: Vec<&Life> = self.lives.values().filter(|l| l.gone).collect();
        let n = full.len().max(1) as f64;
        let mut avg = [0.0; 3];
        for l in &full {
            for (a, w) in avg.iter_mut().zip(l.writes) {
                *a += w as f64 / n;
            }
        }
        (avg, full.len())
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
        let full: Vec<&Life> = self.lives.values().filter(|l| l.gone).collect();
        let by = |w: Writer| full.iter().map(|l| l.by[w as usize]).sum::<u64>() as f64 / full.len().max(1) as f64;
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
