//! Benchmark: the canonical simulated day (one schedule every 10 minutes, all faults on), one seed per iteration.
//! `cargo bench -p simulator` reports the time per seed; seeds/s = 1 / that time.

use criterion::{Criterion, criterion_group, criterion_main};

#[global_allocator]
static GLOBAL: simulator::allocator::Allocator = simulator::allocator::Allocator;
use simulator::run::{RunOptions, run};
use std::hint::black_box;

fn one_day(c: &mut Criterion) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/soak/one-day-all-faults.yaml");
    let scenario = simulator::scenario::load(std::path::Path::new(path)).expect("the canonical scenario is valid");
    let mut seed = 0u64;
    let mut group = c.benchmark_group("simulated-day");
    group.sample_size(20);
    group.bench_function("one-day-all-faults", |b| {
        b.iter(|| {
            seed += 1;
            black_box(run(&scenario, RunOptions { seed: Some(seed), trace: None, timeline: false }))
        })
    });
    group.finish();
}

criterion_group!(benches, one_day);
criterion_main!(benches);
