//! The determinism contract: the same scenario, seed and code give a byte-identical trace; another seed does not.

use simulator::run::{RunOptions, run};
use simulator::trace::{SharedSink, WriterSink};
use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;

fn trace_of(path: &str, seed: u64) -> Vec<u8> {
    let scenario = simulator::scenario::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)).unwrap();
    let buf = Rc::new(RefCell::new(WriterSink(Vec::new())));
    run(&scenario, RunOptions { seed: Some(seed), trace: Some(Box::new(SharedSink(buf.clone()))) });
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
    let first = run(&scenario, RunOptions { seed: None, trace: None });
    let again = run(&scenario, RunOptions { seed: None, trace: None });
    assert!(first.passed);
    assert_eq!(first.violations, again.violations);
}
