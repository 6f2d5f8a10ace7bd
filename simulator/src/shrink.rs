//! Shrinking: given a seed that violates an invariant, reduce the scenario (duration, faults, steps, fault windows,
//! lags and rates) while the same seed still violates the same invariant. Greedy delta debugging over the plan.

use std::time::Duration;

use crate::run::{RunOptions, run};
use crate::scenario::model::{FaultKind, InvariantId, Scenario, Span};
use crate::time::SimTime;

/// What shrinking did.
#[derive(Clone, Debug)]
pub struct Shrunk {
    pub scenario: Scenario,
    pub runs: usize,
    /// When the invariant broke in the shrunk scenario.
    pub violated_at: SimTime,
    pub message: String,
}

struct Shrinker {
    seed: u64,
    invariant: InvariantId,
    runs: usize,
    budget: usize,
}

/// Invariants judged only at the end (their violation time is the end of the run).
fn is_liveness(id: InvariantId) -> bool {
    matches!(id, InvariantId::EventualProgress | InvariantId::NoOrphanData)
}

impl Shrinker {
    /// Runs `s` and returns the violation of the invariant, if it still happens.
    fn violates(&mut self, s: &Scenario) -> Option<(SimTime, String)> {
        if self.runs >= self.budget {
            return None;
        }
        self.runs += 1;
        let report = run(s, RunOptions { seed: Some(self.seed), trace: None, timeline: false });
        report.violations.iter().find(|v| v.invariant == self.invariant).map(|v| (v.time, v.message.clone()))
    }

    /// Keeps `candidate` if it still violates.
    fn attempt(&mut self, best: &mut Scenario, last: &mut (SimTime, String), candidate: Scenario) -> bool {
        match self.violates(&candidate) {
            Some(v) => {
                *best = candidate;
                *last = v;
                true
            }
            None => false,
        }
    }
}

/// The notes of the steps that form multi-step actions, in the order they first appear.
fn actions(s: &Scenario) -> Vec<String> {
    let mut notes: Vec<String> = Vec::new();
    for step in &s.steps {
        if let Some(n) = &step.note
            && !notes.contains(n)
            && s.steps.iter().filter(|x| x.note.as_ref() == Some(n)).count() > 1
        {
            notes.push(n.clone());
        }
    }
    notes
}

/// How many actions a scenario's steps tell: each note once, each step without a note on its own.
pub fn action_count(s: &Scenario) -> usize {
    let mut notes = std::collections::BTreeSet::new();
    s.steps.iter().filter(|st| st.note.as_ref().is_none_or(|n| notes.insert(n.clone()))).count()
}

fn halve(d: Duration) -> Duration {
    Duration::from_millis((d.as_millis() / 2) as u64)
}

/// Shrinks `scenario` for `seed` and `invariant` within `budget` runs. Returns `None` if the seed does not violate
/// the invariant in the first place.
pub fn shrink(scenario: &Scenario, seed: u64, invariant: InvariantId, budget: usize) -> Option<Shrunk> {
    let mut sh = Shrinker { seed, invariant, runs: 0, budget };
    // A generated workload is shrunk as the steps and faults it drew, so the result reads as a story.
    let mut best = crate::generate::expanded(scenario, seed).into_owned();
    best.seed = seed;
    let mut last = sh.violates(&best)?;

    // 1. Cut the run to just after the violation (safety invariants only).
    if !is_liveness(invariant) {
        let start = SimTime::from_utc(best.start);
        // A minute after the violation, rounded up to a whole minute.
        let needed = Duration::from_secs((last.0.since(start).as_secs() / 60 + 2) * 60);
        if needed < best.duration {
            let mut c = best.clone();
            c.duration = needed;
            c.steps.retain(|s| s.at <= needed);
            sh.attempt(&mut best, &mut last, c);
        }
    }
    // Fewer copies of the objects: a bug seen among a thousand schedules often shows among one, or a few.
    if best.copies > 1 {
        let mut c = best.clone();
        c.copies = 1;
        if !sh.attempt(&mut best, &mut last, c) {
            while best.copies > 1 && sh.runs < sh.budget {
                let mut c = best.clone();
                c.copies = best.copies / 2;
                if !sh.attempt(&mut best, &mut last, c) {
                    break;
                }
            }
        }
    }
    // 2. Drop faults, then whole actions (the steps that share a note), then single steps, until none can go.
    loop {
        let mut changed = false;
        for i in (0..best.faults.len()).rev() {
            let mut c = best.clone();
            c.faults.remove(i);
            changed |= sh.attempt(&mut best, &mut last, c);
        }
        for note in actions(&best).into_iter().rev() {
            let mut c = best.clone();
            c.steps.retain(|s| s.note.as_ref() != Some(&note));
            changed |= sh.attempt(&mut best, &mut last, c);
        }
        for i in (0..best.steps.len()).rev() {
            let mut c = best.clone();
            c.steps.remove(i);
            changed |= sh.attempt(&mut best, &mut last, c);
        }
        if !changed || sh.runs >= sh.budget {
            break;
        }
    }
    // 3. Narrow what is left: shorter windows, smaller lags and rates.
    for i in 0..best.faults.len() {
        for _ in 0..6 {
            let f = &best.faults[i];
            let mut candidates = Vec::new();
            if let Some(u) = f.until
                && u.lo > f.from.hi
            {
                let mut c = best.clone();
                let len = u.lo - f.from.hi;
                c.faults[i].until = Some(Span::fixed(f.from.hi + halve(len)));
                candidates.push(c);
            }
            match &f.kind {
                FaultKind::InformerLag { controller, kinds, delay } if delay.hi > Duration::from_secs(1) => {
                    let mut c = best.clone();
                    let hi = halve(delay.hi).max(delay.lo.min(halve(delay.hi)));
                    c.faults[i].kind = FaultKind::InformerLag {
                        controller: *controller,
                        kinds: kinds.clone(),
                        delay: Span { lo: delay.lo.min(hi), hi },
                    };
                    candidates.push(c);
                }
                FaultKind::ApiErrors { verbs, kinds, actors, rate, error } if *rate > 0.01 => {
                    let mut c = best.clone();
                    c.faults[i].kind = FaultKind::ApiErrors {
                        verbs: verbs.clone(),
                        kinds: kinds.clone(),
                        actors: *actors,
                        rate: rate / 2.0,
                        error: *error,
                    };
                    candidates.push(c);
                }
                FaultKind::PodFailures { jobs, rate, mode } if *rate > 0.01 => {
                    let mut c = best.clone();
                    c.faults[i].kind = FaultKind::PodFailures { jobs: jobs.clone(), rate: rate / 2.0, mode: *mode };
                    candidates.push(c);
                }
                _ => {}
            }
            let mut progressed = false;
            for c in candidates {
                progressed |= sh.attempt(&mut best, &mut last, c);
            }
            if !progressed || sh.runs >= sh.budget {
                break;
            }
        }
    }
    Some(Shrunk { scenario: best, runs: sh.runs, violated_at: last.0, message: last.1 })
}
