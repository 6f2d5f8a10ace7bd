//! `copies: N` stamps a scenario's objects N times: each copy's schedule runs on its own (its own Backups, its own
//! storage paths), every invariant holds across the copies, the run stays deterministic, and a shrink drops the
//! copies a violation does not need.

use simulator::cli::run_with_digest;
use simulator::run::{RunOptions, run};
use simulator::scenario::model::InvariantId;
use std::path::Path;
use std::time::Duration;

fn scale(copies: u32) -> simulator::scenario::model::Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/scale/thousand-schedules.yaml");
    let mut s = simulator::scenario::load(&path).expect("the scale scenario is valid");
    s.copies = copies;
    s
}

#[test]
fn each_copy_is_its_own_schedule_with_its_own_backups_and_every_invariant_holds() {
    let s = scale(12);
    let names: Vec<String> = s.stamped_objects().iter().map(|o| o.key().name).collect();
    let expected: Vec<String> =
        std::iter::once("demo".to_string()).chain((2..=12).map(|i| format!("demo-{i:04}"))).collect();
    assert_eq!(names, expected);
    let (report, a) = run_with_digest(&s, 5, 4);
    assert!(report.passed, "{:?}", report.failures);
    // Nine ticks (00:00 .. 01:20) for every copy, a few late or skipped behind a long Backup; the first Backups
    // expire after an hour and are collected.
    assert!(report.stats.backups_created >= 12 * 7, "created {}", report.stats.backups_created);
    assert!(report.stats.backups_gone >= 12, "collected {}", report.stats.backups_gone);
    let (_, b) = run_with_digest(&s, 5, 4);
    assert_eq!(a, b, "the same seed gives the same trace");
}

#[test]
fn a_shrink_drops_the_copies_a_violation_does_not_need() {
    let mut s = scale(8);
    s.controllers = simulator::scenario::model::Controllers::Zoo("tidb-4939-gc-deletes-unfinished".into());
    s.duration = Duration::from_secs(3 * 3600);
    s.timing.backup = simulator::scenario::model::Span::fixed(Duration::from_secs(90 * 60));
    let seed = (1..20)
        .find(|&seed| {
            run(&s, RunOptions { seed: Some(seed), trace: None, timeline: false })
                .violations
                .iter()
                .any(|v| v.invariant == InvariantId::RetentionSafety)
        })
        .expect("the zoo entry deletes an unfinished Backup among eight schedules");
    let shrunk = simulator::shrink::shrink(&s, seed, InvariantId::RetentionSafety, 40).expect("it violates");
    assert_eq!(shrunk.scenario.copies, 1, "one schedule shows the bug");
}
