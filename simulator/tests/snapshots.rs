//! Every scenario under `scenarios/` runs at its seed and must meet its expectation; its trace digest (SHA-256,
//! line count, first and last lines) and outcome are an insta snapshot under `snapshots/`. Review changes with
//! `cargo insta review`.

use simulator::cli::{display_name, run_with_digest, scenario_files};
use std::fmt::Write;
use std::path::PathBuf;

/// Lines kept from each end of a trace.
const KEEP: usize = 12;

#[test]
fn every_scenario_meets_its_expectation_and_matches_its_snapshot() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let (files, problems) = scenario_files(&[root.join("scenarios")]);
    assert!(problems.is_empty(), "{problems:?}");
    // Worlds of a thousand schedules are for the release build: CI's `sim run scenarios/` checks their expectations
    // and its exploration runs their seeds; `copies_stamp_...` below covers them here, in small.
    let files: Vec<_> = files.into_iter().filter(|f| !f.starts_with(root.join("scenarios/scale"))).collect();
    assert!(files.len() >= 5, "found only {} scenarios", files.len());
    let mut failures = Vec::new();
    for path in files {
        let scenario = simulator::scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let (report, digest) = run_with_digest(&scenario, scenario.seed, KEEP);
        if !report.passed {
            failures.push(format!("{}: {}", path.display(), report.failures.join("; ")));
        }
        let mut snap = String::new();
        let _ = writeln!(snap, "scenario: {}", scenario.name);
        let _ = writeln!(snap, "seed: {}", report.seed);
        let _ = writeln!(snap, "passed: {}", report.passed);
        for (id, n) in &report.counts {
            let first = report.violations.iter().find(|v| v.invariant == *id).expect("kept");
            let _ = writeln!(snap, "violated: {id} x{n}, first at {}: {}", first.time, first.message);
        }
        if let Some(why) = &report.liveness_skipped {
            let _ = writeln!(snap, "liveness not judged: {why}");
        }
        let s = &report.stats;
        let requests: u64 = s.total_requests();
        let _ = writeln!(
            snap,
            "backups: {} created, {} completed, {} gone; {requests} API requests",
            s.backups_created, s.backups_completed, s.backups_gone
        );
        let _ = writeln!(snap, "trace: {} lines, sha256 {}", digest.lines, digest.sha256);
        let _ = writeln!(snap, "--- first lines");
        for l in &digest.head {
            let _ = writeln!(snap, "{l}");
        }
        let _ = writeln!(snap, "--- last lines");
        for l in &digest.tail {
            let _ = writeln!(snap, "{l}");
        }
        let name = display_name(&path).replace('/', "__");
        insta::with_settings!({ snapshot_path => root.join("snapshots"), prepend_module_to_snapshot => false, omit_expression => true }, {
            insta::assert_snapshot!(name, snap);
        });
    }
    assert!(failures.is_empty(), "scenarios failed their expectations:\n{}", failures.join("\n"));
}
