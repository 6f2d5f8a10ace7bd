//! A world served over the Kubernetes API: the scenario's objects, steps, kubelet, Jobs, simulated backup-manager,
//! storage, faults and invariants run on tokio time, while clients outside the simulator (the production operator,
//! kubectl) do the reconciling. On a paused tokio clock this is simulated time; on a real one, wall time.

use std::future::Future;
use std::pin::pin;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

use super::handler::ApiReply;
use super::request::ApiRequest;
use super::watch::Watches;
use crate::engine::Engine;
use crate::invariants::Violation;
use crate::run::{Report, RunOptions, build_state, finish};
use crate::scenario::model::{FaultKind, Scenario};
use crate::time::SimTime;

/// A request on its way to the world, with where to send the answer.
pub struct Incoming {
    pub request: ApiRequest,
    pub reply: oneshot::Sender<ApiReply>,
}

/// Sends requests to a served world (cheap to clone; `Send`).
#[derive(Clone)]
pub struct ApiHandle {
    tx: mpsc::UnboundedSender<Incoming>,
}

impl ApiHandle {
    /// Asks the world; `None` if it has stopped.
    pub async fn call(&self, request: ApiRequest) -> Option<ApiReply> {
        let (reply, answer) = oneshot::channel();
        self.tx.send(Incoming { request, reply }).ok()?;
        answer.await.ok()
    }
}

/// The served world, to be driven by [`Served::run`] on a tokio `LocalSet` (the engine is single-threaded).
pub struct Served {
    engine: Engine,
    rx: mpsc::UnboundedReceiver<Incoming>,
    scenario: Scenario,
    origin: tokio::time::Instant,
    start: SimTime,
    end: SimTime,
}

impl Served {
    /// Builds the world of `scenario` without the simulator's own operator: the operator is whoever calls the API.
    pub fn new(scenario: &Scenario, options: RunOptions) -> (Served, ApiHandle) {
        let mut state = build_state(scenario, options, false);
        let floor = state.world.resource_version();
        state.outside = Some(Box::new(Watches::new(floor)));
        for (i, f) in state.faults.faults.iter().enumerate() {
            if matches!(f.kind, FaultKind::OperatorRestart { .. } | FaultKind::OperatorDown) {
                let now = state.now;
                state.trace.record(
                    now,
                    "faults",
                    "ignored",
                    format_args!("{}#{i}", f.kind.name()),
                    format_args!("the served operator runs outside the simulator"),
                );
            }
        }
        let (start, end) = (state.start, state.end);
        let (tx, rx) = mpsc::unbounded_channel();
        let engine = Engine::new(state, Box::new(crate::run::build));
        let served = Served { engine, rx, scenario: scenario.clone(), origin: tokio::time::Instant::now(), start, end };
        (served, ApiHandle { tx })
    }

    fn now(&self) -> SimTime {
        self.start.plus(self.origin.elapsed()).min(self.end)
    }

    fn instant(&self, t: SimTime) -> tokio::time::Instant {
        self.origin + t.since(self.start)
    }

    /// Runs until the scenario's duration has passed on the tokio clock or `stop` resolves; `on_violation` hears of
    /// each violation as it is found. Returns the report (with liveness judged at the end).
    pub async fn run(mut self, stop: impl Future<Output = ()>, mut on_violation: impl FnMut(&Violation)) -> Report {
        let mut stop = pin!(stop);
        let mut reported = 0;
        loop {
            let now = self.now();
            self.engine.advance_to(now);
            let violations = self.engine.violations();
            for v in &violations[reported..] {
                on_violation(v);
            }
            reported = violations.len();
            if now >= self.end {
                break;
            }
            let wake = self.engine.next_time().map(|t| t.min(self.end)).unwrap_or(self.end);
            let sleep = tokio::time::sleep_until(self.instant(wake));
            tokio::select! {
                biased;
                () = &mut stop => break,
                incoming = self.rx.recv() => match incoming {
                    Some(Incoming { request, reply }) => {
                        let now = self.now();
                        self.engine.advance_to(now);
                        let answer = self.engine.with_state(|st| st.api(&request));
                        let _ = reply.send(answer);
                    }
                    None => tokio::time::sleep_until(self.instant(wake)).await,
                },
                () = sleep => {}
            }
        }
        let now = self.now();
        self.engine.advance_to(now);
        finish(&self.engine, &self.scenario, now)
    }

    /// The world's clock as the operator's reconcilers read it: the scenario's start plus the tokio time elapsed.
    pub fn clock(&self) -> operator::cluster::kube_cluster::Clock {
        let (origin, start) = (self.origin, self.start);
        std::sync::Arc::new(move || start.plus(origin.elapsed()).to_utc())
    }

    /// How long the scenario runs.
    pub fn duration(&self) -> Duration {
        self.end.since(self.start)
    }
}
