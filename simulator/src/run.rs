//! One simulation run: builds the world, the operator process and the fault plan from a scenario and a seed, runs
//! it to the end, judges the invariants and the scenario's expectations, and reports.

use operator::api::{Backup, BackupSchedule, CompactBackup, Restore};
use operator::controllers::Settings;
use operator::manager;
use std::rc::Rc;
use std::time::Duration;

use crate::client::{SimClient, SimStore, SimTool};
use crate::controller::{Controller, Reconciler};
use crate::controller_id::ControllerId;
use crate::engine::{Actor, Engine, Event, Shared, Spawn, State, TaskFuture, TaskId, TaskOutput};
use crate::informer::Informer;
use crate::invariants::Violation;
use crate::scenario::model::{Controllers, InvariantId, JobRole, Scenario};
use crate::stats::Stats;
use crate::trace::{Trace, TraceSink};
use crate::zoo;
use operator::api::labels::component;
use operator::cluster::Kind;
use operator::cluster::kube_cluster::error_chain;
use operator::cluster::own_writes::ReadYourWrites;

/// What a run reports.
#[derive(Clone, Debug)]
pub struct Report {
    pub scenario: String,
    pub seed: u64,
    /// Every violation kept, in order.
    pub violations: Vec<Violation>,
    /// Violations per invariant.
    pub counts: std::collections::BTreeMap<InvariantId, u64>,
    /// Why liveness was not judged, if it was not.
    pub liveness_skipped: Option<String>,
    /// Whether the scenario's expectation held.
    pub passed: bool,
    /// What the expectation missed (`expected no-overlap to be violated`...).
    pub failures: Vec<String>,
    pub stats: Stats,
    pub trace_lines: u64,
    pub simulated: Duration,
    /// The run's timeline page (HTML), when it was asked for.
    pub timeline: Option<String>,
}

impl Report {
    /// The first violation of an invariant the scenario required to hold.
    pub fn first_unexpected(&self, expected_violated: &[InvariantId]) -> Option<&Violation> {
        self.violations.iter().find(|v| !expected_violated.contains(&v.invariant))
    }
}

/// Run settings beyond the scenario.
pub struct RunOptions {
    /// Overrides the scenario's seed.
    pub seed: Option<u64>,
    /// Where trace lines go (`None`: nowhere, fastest).
    pub trace: Option<Box<dyn TraceSink>>,
    /// Gather the run's timeline and render it into the report.
    pub timeline: bool,
}

fn settings_for(scenario: &Scenario) -> Settings {
    let mut s = Settings::default();
    if let Some(d) = scenario.operator.pod_start_timeout {
        s.pod_start_timeout = d;
    }
    if let Some(d) = scenario.operator.clean_retry {
        s.clean_retry = d;
    }
    s
}

/// Builds the future for a spawned task.
pub fn build(shared: &Rc<Shared>, spawn: Spawn) -> (TaskId, TaskFuture) {
    match spawn {
        Spawn::Reconcile { task, controller, obj } => {
            let (reconciler, settings, own_writes) = {
                let st = shared.state.borrow();
                let c = &st.controllers[controller];
                (c.reconciler, st.settings.clone(), c.own_writes.clone())
            };
            let client = ReadYourWrites::new(SimClient::new(shared.clone(), Actor::Controller(controller)), own_writes);
            let fut: TaskFuture = match reconciler {
                Reconciler::Backup => {
                    let b = obj.get::<Backup>().expect("backup controller");
                    Box::pin(async move {
                        TaskOutput::Reconciled(
                            operator::controllers::backup::reconcile(&client, &settings, b)
                                .await
                                .map_err(|e| error_chain(&e)),
                        )
                    })
                }
                Reconciler::Restore => {
                    let r = obj.get::<Restore>().expect("restore controller");
                    Box::pin(async move {
                        TaskOutput::Reconciled(
                            operator::controllers::restore::reconcile(&client, &settings, r)
                                .await
                                .map_err(|e| error_chain(&e)),
                        )
                    })
                }
                Reconciler::Compact => {
                    let c = obj.get::<CompactBackup>().expect("compact controller");
                    Box::pin(async move {
                        TaskOutput::Reconciled(
                            operator::controllers::compact::reconcile(&client, &settings, c)
                                .await
                                .map_err(|e| error_chain(&e)),
                        )
                    })
                }
                Reconciler::Schedule => {
                    let s = obj.get::<BackupSchedule>().expect("schedule controller");
                    Box::pin(async move {
                        TaskOutput::Reconciled(
                            operator::controllers::schedule::reconcile(&client, &settings, s)
                                .await
                                .map_err(|e| error_chain(&e)),
                        )
                    })
                }
                Reconciler::Zoo(index) => {
                    let fut = zoo::reconcile(index, client, (*settings).clone(), obj);
                    Box::pin(async move { TaskOutput::Reconciled(fut.await) })
                }
            };
            (task, fut)
        }
        Spawn::Manager { task, pod, role, target, attempt, log } => {
            let client = SimClient::new(shared.clone(), Actor::Manager(pod.clone()));
            let shared = shared.clone();
            let fut: TaskFuture = Box::pin(async move {
                let result: Result<(), manager::ManagerError> = match (role, log) {
                    (JobRole::Backup, Some(command)) => {
                        let interval = manager::log_run::CHECKPOINT_INTERVAL;
                        manager::log_backup(&client, &SimTool { shared, pod }, &target, command, interval).await
                    }
                    (JobRole::Backup, None) => {
                        manager::backup(&client, &SimTool { shared, pod }, &target, attempt).await.map(|_| ())
                    }
                    (JobRole::Restore, _) => {
                        manager::restore(&client, &SimTool { shared, pod }, &target).await.map(|_| ())
                    }
                    (JobRole::Compact, _) => {
                        manager::compact(&client, &SimTool { shared, pod }, &target).await.map(|_| ())
                    }
                    (JobRole::Clean, _) => {
                        manager::clean(&client, &SimStore { shared, pod }, &target).await.map(|_| ())
                    }
                };
                match result {
                    Ok(()) => TaskOutput::Exited { code: 0, message: String::new() },
                    Err(e) => TaskOutput::Exited { code: 1, message: error_chain(&e) },
                }
            });
            (task, fut)
        }
    }
}

fn add_controller(st: &mut State, id: ControllerId, reconciler: Reconciler, main: Kind) {
    let c = st.controllers.len();
    let kinds = Controller::watched_kinds(main);
    let mut ctl = Controller::new(id, reconciler, kinds[0], st.now);
    for kind in kinds {
        let i = st.informers.len();
        let rng = st.world_rng.stream(&format!("informer/{id}/{kind}"));
        let lag = st.faults.watch_lag(Some(id), *kind, st.timing.informer_lag);
        let informer = Informer::new(c, id, *kind, lag, rng);
        // Each controller watches only its own Jobs and pods, by the same selector as in production.
        let informer = match (id, kind) {
            (ControllerId::Backup, Kind::Job | Kind::Pod) => informer.selecting(component::OF_BACKUP_CONTROLLER),
            (ControllerId::Restore, Kind::Job | Kind::Pod) => informer.selecting(component::OF_RESTORE_CONTROLLER),
            (ControllerId::Compact, Kind::Job | Kind::Pod) => informer.selecting(component::OF_COMPACT_CONTROLLER),
            _ => informer,
        };
        st.informers.push(informer);
        ctl.watches.push((*kind, i));
    }
    st.controllers.push(ctl);
}

/// Runs `scenario` once.
pub fn run(scenario: &Scenario, options: RunOptions) -> Report {
    let state = build_state(scenario, options, true);
    let engine = Engine::new(state, Box::new(build));
    engine.run();
    let end = engine.shared.state.borrow().end;
    finish(&engine, scenario, end)
}

/// The world of `scenario` at its start: objects created, steps, faults and (with `with_operator`) the simulated
/// operator process scheduled.
pub fn build_state(scenario: &Scenario, options: RunOptions, with_operator: bool) -> State {
    let seed = options.seed.unwrap_or(scenario.seed);
    let scenario = &*crate::generate::expanded(scenario, seed);
    let enabled = options.trace.is_some();
    let sink = options.trace.unwrap_or_else(|| Box::new(crate::trace::NullSink));
    let scenario_rc = Rc::new(scenario.clone());
    let mut trace = Trace::new(sink, enabled);
    if options.timeline {
        trace.attach_timeline();
    }
    let mut st = State::new(scenario_rc, seed, trace, settings_for(scenario));
    st.trace.record(st.now, "sim", "seed", format_args!("{seed}"), format_args!("scenario={}", scenario.name));

    if with_operator {
        let zoo = match &scenario.controllers {
            Controllers::Operator => None,
            Controllers::Zoo(name) => zoo::find(name).map(|i| (i, zoo::ENTRIES[i].replaces)),
        };
        let (backup, schedule) = match zoo {
            None => (Reconciler::Backup, Reconciler::Schedule),
            Some((i, zoo::Replaces::Backup)) => (Reconciler::Zoo(i), Reconciler::Schedule),
            Some((i, zoo::Replaces::Schedule)) => (Reconciler::Backup, Reconciler::Zoo(i)),
        };
        add_controller(&mut st, ControllerId::Backup, backup, Kind::Backup);
        add_controller(&mut st, ControllerId::Restore, Reconciler::Restore, Kind::Restore);
        add_controller(&mut st, ControllerId::Compact, Reconciler::Compact, Kind::CompactBackup);
        add_controller(&mut st, ControllerId::Schedule, schedule, Kind::BackupSchedule);
    }

    for obj in &scenario.stamped_objects() {
        if let Err(e) = st.world.create(obj.clone(), st.now) {
            st.trace.record(
                st.now,
                "user",
                "create-failed",
                format_args!("{} {}", obj.kind(), obj.key()),
                format_args!("{e}"),
            );
        }
        st.commit(&Actor::User);
    }
    for (i, step) in scenario.steps.iter().enumerate() {
        let t = st.start.plus(step.at);
        st.at(t, Event::Step(i));
    }
    for (i, stall) in st.faults.stalls().to_vec().into_iter().enumerate() {
        st.at(stall.from, Event::StallStart(i));
        if let Some(u) = stall.until {
            st.at(u, Event::StallEnd(i));
        }
    }
    for i in 0..st.faults.faults.len() {
        let (from, until) = (st.faults.faults[i].from, st.faults.faults[i].until);
        st.at(from, Event::FaultEdge { index: i, starts: true });
        if let Some(u) = until.filter(|u| *u <= st.end) {
            st.at(u, Event::FaultEdge { index: i, starts: false });
        }
    }
    let (start, end) = (st.start, st.end);
    let mut restart_rng = st.world_rng.stream("restarts");
    for t in st.faults.restart_times(start, end, &mut restart_rng).into_iter().filter(|_| with_operator) {
        st.at(t, Event::OperatorCrash { reason: "operatorRestart".into() });
    }
    if with_operator {
        for (from, until) in st.faults.down_windows().to_vec() {
            st.at(from, Event::OperatorCrash { reason: "operatorDown".into() });
            if let Some(u) = until {
                st.at(u, Event::OperatorStart);
            }
        }
        st.at(start, Event::OperatorStart);
    }
    st
}

/// Judges the end of a run at `end`: final invariant checks, then the scenario's expectations.
pub fn finish(engine: &Engine, scenario: &Scenario, end: crate::time::SimTime) -> Report {
    let shared = engine.shared.clone();
    let mut st = shared.state.borrow_mut();
    st.now = end;
    let start = st.start;
    let State { checker, world, storage, log_tasks, trace, world_rng, .. } = &mut *st;
    checker.at_end(world, (storage, log_tasks), end, trace);
    let expect = &scenario.expect;
    let mut failures = Vec::new();
    for id in &expect.violated {
        if !checker.violated(*id) {
            failures.push(format!("expected {id} to be violated, but it held"));
        }
    }
    for p in &expect.phases {
        let phase = world.get(p.kind, &p.key).and_then(|o| match o {
            crate::object::Obj::Backup(b) => b.phase().map(|x| x.to_string()),
            crate::object::Obj::Restore(r) => r.phase().map(|x| x.to_string()),
            crate::object::Obj::Compact(c) => c.state().map(|x| x.to_string()),
            _ => None,
        });
        match phase {
            Some(ph) if ph == p.phase => {}
            Some(ph) => failures.push(format!("{} {} ended in phase {ph}, expected {}", p.kind, p.key, p.phase)),
            None if world.get(p.kind, &p.key).is_some() => {
                failures.push(format!("{} {} ended with no phase, expected {}", p.kind, p.key, p.phase))
            }
            None => {
                failures.push(format!("{} {} does not exist at the end, expected phase {}", p.kind, p.key, p.phase))
            }
        }
    }
    for (url, present) in &expect.data {
        let n = storage.under(url).count();
        if *present && n == 0 {
            failures.push(format!("no data under {url}/ at the end, expected some"));
        } else if !*present && n > 0 {
            failures.push(format!("{n} object(s) remain under {url}/ at the end, expected none"));
        }
    }
    for id in &expect.holds {
        if checker.violated(*id) {
            let v = checker.violations.iter().find(|v| v.invariant == *id).expect("counted violations are kept");
            failures.push(format!("{id} violated at {}: {}", v.time, v.message));
        }
    }
    let passed = if scenario.canary {
        if failures.is_empty() {
            failures.push("canary: its expectation held, so the harness checked nothing".into());
            false
        } else {
            true
        }
    } else {
        failures.is_empty()
    };
    let timeline = trace.take_timeline().map(|t| {
        let verdict = match (passed, scenario.canary) {
            (true, true) => "PASS: the canary failed as it must".to_string(),
            (true, false) if !expect.violated.is_empty() => {
                let ids: Vec<String> = expect.violated.iter().map(|i| i.to_string()).collect();
                format!("PASS: violated as expected ({})", ids.join(", "))
            }
            (true, false) => "PASS: every expectation held".to_string(),
            (false, _) => "FAIL".to_string(),
        };
        let header = crate::timeline::Header {
            scenario: &scenario.name,
            seed: world_rng.seed(),
            start,
            end,
            verdict: &verdict,
            failures: &failures,
        };
        t.render(&header)
    });
    let report = Report {
        scenario: scenario.name.clone(),
        seed: world_rng.seed(),
        violations: checker.violations.clone(),
        counts: checker.counts.clone(),
        liveness_skipped: checker.liveness_skipped.clone(),
        passed,
        failures,
        stats: st.stats.clone(),
        trace_lines: st.trace.lines,
        simulated: end.since(st.start),
        timeline,
    };
    let trace = std::mem::replace(&mut st.trace, Trace::new(Box::new(crate::trace::NullSink), false));
    drop(st);
    let _ = trace.into_sink();
    report
}
