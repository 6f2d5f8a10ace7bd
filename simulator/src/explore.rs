//! Exploration: many seeds of a scenario, in parallel threads, each seed deterministic; reports the seeds whose run
//! violated an invariant and how fast seeds went by.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::run::{RunOptions, run};
use crate::scenario::model::{InvariantId, Scenario};
use crate::time::SimTime;

/// A seed whose run violated something.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub seed: u64,
    /// The first violation of each invariant: (time, message).
    pub first: BTreeMap<InvariantId, (SimTime, String)>,
}

impl Finding {
    /// The invariant violated earliest.
    pub fn earliest(&self) -> (InvariantId, SimTime, &str) {
        let (id, (t, m)) = self.first.iter().min_by_key(|(id, (t, _))| (*t, **id)).expect("a finding has a violation");
        (*id, *t, m)
    }
}

/// What exploring one scenario found.
#[derive(Clone, Debug, Default)]
pub struct Exploration {
    pub seeds: u64,
    /// Seeds with violations, by seed.
    pub findings: Vec<Finding>,
    /// Simulated time over all seeds.
    pub simulated: Duration,
}

/// Runs seeds `start .. start + count` of `scenario` on `jobs` threads. `on_done` is called after each seed (from a
/// worker thread) with the number of seeds done and of findings so far, for progress displays.
pub fn explore(
    scenario: &Scenario,
    start: u64,
    count: u64,
    jobs: usize,
    on_done: &(dyn Fn(u64, u64) + Sync),
) -> Exploration {
    let next = AtomicU64::new(0);
    let done = AtomicU64::new(0);
    let found = AtomicU64::new(0);
    let findings = Mutex::new(Vec::new());
    let simulated_ms = AtomicU64::new(0);
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        break;
                    }
                    let seed = start + i;
                    let report = run(scenario, RunOptions { seed: Some(seed), trace: None });
                    simulated_ms.fetch_add(report.simulated.as_millis() as u64, Ordering::Relaxed);
                    if !report.violations.is_empty() {
                        let mut first = BTreeMap::new();
                        for v in &report.violations {
                            first.entry(v.invariant).or_insert((v.time, v.message.clone()));
                        }
                        findings.lock().expect("no worker panics while holding the lock").push(Finding { seed, first });
                        found.fetch_add(1, Ordering::Relaxed);
                    }
                    let d = done.fetch_add(1, Ordering::Relaxed) + 1;
                    on_done(d, found.load(Ordering::Relaxed));
                }
            });
        }
    });
    let mut findings = findings.into_inner().expect("workers finished");
    findings.sort_by_key(|f| f.seed);
    Exploration { seeds: count, findings, simulated: Duration::from_millis(simulated_ms.into_inner()) }
}
