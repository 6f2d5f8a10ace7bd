//! Counters of one run: API requests by verb, kind and actor, injected faults, and per-Backup lifecycle writes.

use operator::cluster::{Kind, Verb};
use std::collections::BTreeMap;
use std::fmt::Write;

/// Everything counted during a run (ordered maps: stable output).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// (actor, verb, kind) -> requests.
    pub requests: BTreeMap<(String, Verb, Kind), u64>,
    /// (actor, error class) -> errors returned.
    pub errors: BTreeMap<(String, &'static str), u64>,
    pub reconciles: BTreeMap<String, u64>,
    pub reconcile_errors: BTreeMap<String, u64>,
    /// Backup name -> writes to it or its Jobs and pods, by any actor.
    pub backup_writes: BTreeMap<String, u64>,
    pub backups_created: u64,
    pub backups_completed: u64,
    pub backups_gone: u64,
    pub events_processed: u64,
}

impl Stats {
    pub fn request(&mut self, actor: &str, verb: Verb, kind: Kind) {
        *self.requests.entry((actor.to_string(), verb, kind)).or_default() += 1;
    }

    /// Requests by verb and kind, over all actors.
    pub fn by_verb_kind(&self) -> BTreeMap<(Verb, Kind), u64> {
        let mut out = BTreeMap::new();
        for ((_, v, k), n) in &self.requests {
            *out.entry((*v, *k)).or_default() += n;
        }
        out
    }

    /// A human-readable table for `--stats`.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "API requests by actor, verb and kind:");
        for ((actor, verb, kind), n) in &self.requests {
            let _ = writeln!(s, "  {actor:<16} {verb:<14} {kind:<15} {n:>8}");
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
        let total: u64 = self.backup_writes.values().sum();
        let per = if self.backups_created == 0 { 0.0 } else { total as f64 / self.backups_created as f64 };
        let _ = writeln!(
            s,
            "Backups: {} created, {} completed, {} gone; {total} writes to Backups and their Jobs and pods ({per:.1} per Backup)",
            self.backups_created, self.backups_completed, self.backups_gone
        );
        s
    }
}
