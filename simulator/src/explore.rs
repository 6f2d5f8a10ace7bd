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

/// Which seeds to explore, and how.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    pub start: u64,
    pub count: u64,
    pub jobs: usize,
    /// Stop taking seeds after the first violating one. Seeds are taken in order, so every seed below a violating
    /// one still runs to its end: the lowest violating seed found is the first there is.
    pub first: bool,
    /// Count only seeds that violate this invariant (a zoo entry's bug; other violations are not findings).
    pub wanted: Option<InvariantId>,
}

/// Runs seeds `start .. start + count` of `scenario` on `jobs` threads. `on_done` is called after each seed (from a
/// worker thread) with the number of seeds done and of findings so far, for progress displays.
pub fn explore(scenario: &Scenario, options: &Options, on_done: &(dyn Fn(u64, u64) + Sync)) -> Exploration {
    let Options { start, count, jobs, first: stop_at_first, wanted } = *options;
    let stop = std::sync::atomic::AtomicBool::new(false);
    let next = AtomicU64::new(0);
    let done = AtomicU64::new(0);
    let found = AtomicU64::new(0);
    let findings = Mutex::new(Vec::new());
    let simulated_ms = AtomicU64::new(0);
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            scope.spawn(|| {
                loop {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= count {
                        break;
                    }
                    let seed = start + i;
                    let report = run(scenario, RunOptions { seed: Some(seed), trace: None, timeline: false });
                    simulated_ms.fetch_add(report.simulated.as_millis() as u64, Ordering::Relaxed);
                    let counts = wanted.is_none_or(|id| report.violations.iter().any(|v| v.invariant == id));
                    if !report.violations.is_empty() && counts {
                        let mut first = BTreeMap::new();
                        for v in &report.violations {
                            first.entry(v.invariant).or_insert((v.time, v.message.clone()));
                        }
                        findings.lock().expect("no worker panics while holding the lock").push(Finding { seed, first });
                        found.fetch_add(1, Ordering::Relaxed);
                        if stop_at_first {
                            stop.store(true, Ordering::SeqCst);
                        }
                    }
                    let d = done.fetch_add(1, Ordering::Relaxed) + 1;
                    on_done(d, found.load(Ordering::Relaxed));
                }
            });
        }
    });
    let mut findings = findings.into_inner().expect("workers finished");
    findings.sort_by_key(|f| f.seed);
    let seeds = done.into_inner();
    Exploration { seeds, findings, simulated: Duration::from_millis(simulated_ms.into_inner()) }
}
