//! What the operator costs the API server, measured on `scenarios/schedule/basic.yaml` (a schedule every 10 minutes
//! keeping one hour, six hours, seed 7): the bounds issue 11 set, kept from creeping back.

use simulator::run::{RunOptions, run};
use simulator::stats::{LIVE_READS, WRITES};
use std::path::Path;

fn basic() -> simulator::run::Report {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/schedule/basic.yaml");
    let scenario = simulator::scenario::load(&path).expect("the basic scenario is valid");
    run(&scenario, RunOptions { seed: None, trace: None, timeline: false })
}

/// Issue 11: 27 writes per Backup life and about 16 live reads per Backup before; at most 14 and 5 after.
#[test]
fn a_basic_schedule_costs_at_most_five_live_reads_and_fourteen_writes_per_backup() {
    let report = basic();
    assert!(report.passed, "{:?}", report.failures);
    assert!(report.stats.backups_created >= 30, "created {}", report.stats.backups_created);
    let reads = report.stats.operator_requests_per_backup(&LIVE_READS);
    let writes = report.stats.operator_requests_per_backup(&WRITES);
    assert!(reads <= 5.0, "live reads per Backup: {reads:.2}\n{}", report.stats.render());
    assert!(writes <= 14.0, "writes per Backup: {writes:.2}\n{}", report.stats.render());
}
