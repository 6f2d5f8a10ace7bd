//! The harness has teeth: every zoo entry is caught by its own story and, without it, by generated workloads from
//! a fixed seed range; the operator passes the same stories and seeds cleanly; and every invariant is shown broken
//! by some canary or zoo story (a checker that never fires is indistinguishable from one that does not check).

use simulator::explore::{Options, explore};
use simulator::run::{RunOptions, run};
use simulator::scenario::model::{Controllers, InvariantId, Scenario};
use simulator::zoo::ENTRIES;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn scenarios(folder: &str) -> Vec<(PathBuf, Scenario)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios").join(folder);
    let (files, problems) = simulator::cli::scenario_files(&[dir]);
    assert!(problems.is_empty(), "{problems:?}");
    files.into_iter().map(|f| (f.clone(), simulator::scenario::load(&f).expect("a valid scenario"))).collect()
}

/// Generated seeds every zoo entry must be caught within (each is caught by seed 23 or earlier today).
const SEEDS: u64 = 30;

#[test]
fn every_zoo_story_catches_its_entry_and_the_operator_passes_the_same_story_cleanly() {
    let mut covered = BTreeSet::new();
    for (path, story) in scenarios("zoo") {
        let Controllers::Zoo(entry) = &story.controllers else { panic!("{}: not a zoo entry", path.display()) };
        covered.insert(entry.clone());
        let caught = run(&story, RunOptions { seed: None, trace: None, timeline: false });
        assert!(caught.passed, "{}: {:?}", path.display(), caught.failures);
        let mut twin = story.clone();
        twin.controllers = Controllers::Operator;
        let clean = run(&twin, RunOptions { seed: None, trace: None, timeline: false });
        assert!(clean.violations.is_empty(), "{} with the operator: {:?}", path.display(), clean.violations);
    }
    let missing: Vec<_> = ENTRIES.iter().map(|e| e.name).filter(|n| !covered.contains(*n)).collect();
    assert!(missing.is_empty(), "zoo entries without a story under scenarios/zoo: {missing:?}");
}

#[test]
fn generated_workloads_catch_every_zoo_entry_within_thirty_seeds() {
    for entry in ENTRIES {
        let mut s = simulator::generate::base();
        s.controllers = Controllers::Zoo(entry.name.to_string());
        let options = Options { start: 1, count: SEEDS, jobs: 2, first: true, wanted: Some(entry.breaks) };
        let found = explore(&s, &options, &|_, _| {});
        assert!(!found.findings.is_empty(), "{} was not caught in seeds 1..={SEEDS} ({})", entry.name, entry.breaks);
    }
}

#[test]
fn the_operator_breaks_nothing_on_the_seeds_that_catch_the_zoo() {
    let options = Options { start: 1, count: SEEDS, jobs: 2, first: false, wanted: None };
    let found = explore(&simulator::generate::base(), &options, &|_, _| {});
    let shown: Vec<_> = found.findings.iter().map(|f| (f.seed, f.earliest().0, f.earliest().2.to_string())).collect();
    assert!(shown.is_empty(), "{shown:?}");
}

#[test]
fn every_invariant_is_shown_broken_by_a_canary_or_a_zoo_story() {
    let mut broken = BTreeSet::new();
    for (path, s) in scenarios("harness").into_iter().chain(scenarios("zoo")) {
        let report = run(&s, RunOptions { seed: None, trace: None, timeline: false });
        assert!(report.passed, "{}: {:?}", path.display(), report.failures);
        broken.extend(report.counts.keys().copied());
    }
    let never: Vec<_> = InvariantId::ALL.iter().filter(|id| !broken.contains(id)).collect();
    assert!(never.is_empty(), "invariants no canary or zoo story breaks: {never:?}");
}
