//! The production controllers (kube-runtime watchers, reflectors and `KubeCluster`) run unchanged against a world
//! served over the Kubernetes API, in process and on a paused tokio clock, and keep the scenario's invariants.

use kube::runtime::events::Reporter;
use operator::controllers::Settings;
use operator::runtime::controllers::{self as runtime_controllers, Shared};
use operator::runtime::metrics::Metrics;
use simulator::apiserver::served::Served;
use simulator::apiserver::service::ApiService;
use simulator::run::{Report, RunOptions};
use std::path::Path;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

fn scenario(path: &str) -> simulator::scenario::model::Scenario {
    simulator::scenario::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)).expect("valid scenario")
}

/// Serves `path` to the production controllers until the scenario's end (simulated on the paused clock).
fn serve_to_production_controllers(path: &str, settings: Settings) -> Report {
    let scenario = scenario(path);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap();
    runtime.block_on(async {
        let (served, handle) = Served::new(&scenario, RunOptions { seed: None, trace: None, timeline: false });
        let client = kube::Client::new(ApiService::new(handle), "default");
        let shared = Shared {
            client,
            namespace: None,
            settings,
            concurrency: 4,
            metrics: Arc::new(Metrics::new(served.clock()())),
            reporter: Reporter { controller: "backup-operator".into(), instance: Some("served-test".into()) },
            clock: Some(served.clock()),
        };
        let stop = CancellationToken::new();
        let running = runtime_controllers::start(&shared, stop.clone());
        let controllers = tokio::spawn(running.controllers);
        let report = served.run(std::future::pending(), |v| eprintln!("violation: {v:?}")).await;
        stop.cancel();
        controllers.abort();
        report
    })
}

#[test]
fn production_controllers_keep_every_invariant_of_the_basic_schedule() {
    let path = "scenarios/schedule/basic.yaml";
    let report = serve_to_production_controllers(path, Settings::default());
    assert!(report.passed, "{:?}\n{:?}", report.failures, report.violations);
    // The same ticks gave the same Backups as the simulator's own operator: every one completed, expired ones went.
    let simulated = simulator::run::run(&scenario(path), RunOptions { seed: None, trace: None, timeline: false }).stats;
    let (got, want) = (&report.stats, &simulated);
    assert!(got.backups_created >= 30, "{} Backups created", got.backups_created);
    assert_eq!(got.backups_created, want.backups_created, "Backups created");
    assert!(got.backups_completed + 1 >= want.backups_completed, "{} Backups completed", got.backups_completed);
    assert!(got.backups_gone + 1 >= want.backups_gone, "retention deleted {} Backups", got.backups_gone);
    print!("{}", got.render());
}

#[test]
fn production_controllers_keep_every_invariant_of_the_canonical_day_with_faults() {
    // Lagging watches, API conflicts and timeouts, failing and stuck pods at the API layer; the operator restarts of
    // the scenario do not apply to a served operator.
    let report = serve_to_production_controllers("scenarios/soak/one-day-all-faults.yaml", Settings::default());
    assert!(report.passed, "{:?}\n{:?}", report.failures, report.violations);
    assert!(report.stats.backups_completed >= 100, "{} Backups completed", report.stats.backups_completed);
    print!("{}", report.stats.render());
}
