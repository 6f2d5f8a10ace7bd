//! The determinism contract: the same scenario, seed and code give a byte-identical trace; another seed does not.

use simulator::run::{RunOptions, run};
use simulator::trace::{SharedSink, WriterSink};
use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;

fn trace_of(path: &str, seed: u64) -> Vec<u8> {
    let scenario = simulator::scenario::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)).unwrap();
    let buf = Rc::new(RefCell::new(WriterSink(Vec::new())));
    run(&scenario, RunOptions { seed: Some(seed), trace: Some(Box::new(SharedSink(buf.clone()))), timeline: false });
    std::mem::take(&mut buf.borrow_mut().0)
}

#[test]
fn same_seed_gives_a_byte_identical_trace() {
    let a = trace_of("scenarios/soak/one-day-all-faults.yaml", 42);
    let b = trace_of("scenarios/soak/one-day-all-faults.yaml", 42);
    assert!(a.len() > 100_000, "the trace is substantial ({} bytes)", a.len());
    assert!(a == b, "two runs of seed 42 differ");
}

#[test]
fn different_seeds_give_different_traces() {
    let a = trace_of("scenarios/soak/one-day-all-faults.yaml", 1);
    let b = trace_of("scenarios/soak/one-day-all-faults.yaml", 2);
    assert!(a != b);
}

#[test]
fn the_zoo_reproduces_the_same_violation_from_its_seed() {
    let scenario = simulator::scenario::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/zoo/schedule-reset-stale-informer.yaml"),
    )
    .unwrap();
    let first = run(&scenario, RunOptions { seed: None, trace: None, timeline: false });
    let again = run(&scenario, RunOptions { seed: None, trace: None, timeline: false });
    assert!(first.passed);
    assert_eq!(first.violations, again.violations);
}

/// What makes a seed replay byte for byte holds for the code too: the reconcilers and the simulator's core never
/// read the wall clock, the environment, OS randomness or hash order. (A debugging `std::env::var` once slipped
/// into the schedule controller.) The CLI and the served mode, which paces itself by the wall clock, are the only
/// places allowed to; `lookup.rs` alone holds a hash map, hashed with a fixed seed and offering no iteration.
#[test]
fn reconcilers_and_the_simulator_core_read_no_clock_environment_randomness_or_hash_order() {
    const FORBIDDEN: [&str; 8] =
        ["std::env", "Utc::now", "SystemTime", "Instant::now", "thread_rng", "OsRng", "HashMap", "HashSet"];
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let allowed =
        ["simulator/src/cli/", "simulator/src/bin/", "simulator/src/apiserver/served.rs", "simulator/src/lookup.rs"];
    let mut found = Vec::new();
    let mut dirs = vec![root.join("operator/src/controllers"), root.join("simulator/src")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("source directory") {
            let path = entry.expect("directory entry").path();
            let rel = path.strip_prefix(&root).expect("under the root").to_string_lossy().replace('\\', "/");
            if allowed.iter().any(|a| rel.starts_with(a)) {
                continue;
            }
            if path.is_dir() {
                dirs.push(path);
            } else if rel.ends_with(".rs") {
                let text = std::fs::read_to_string(&path).expect("source file");
                for (n, line) in text.lines().enumerate() {
                    if let Some(word) = FORBIDDEN.iter().find(|w| line.contains(*w)) {
                        found.push(format!("{rel}:{}: {word}", n + 1));
                    }
                }
            }
        }
    }
    found.sort();
    assert!(found.is_empty(), "nondeterministic sources:\n{}", found.join("\n"));
}
