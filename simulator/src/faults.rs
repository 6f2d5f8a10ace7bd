//! The fault plan of one run: the scenario's faults with their windows drawn from the seed, and the queries the
//! simulated components ask ("is this pod stuck now?", "does this request fail?").

use operator::cluster::{ClusterError, Kind, ObjectKey, Verb};
use rand::RngExt;

use crate::controller_id::ControllerId;
use crate::rng::{Stream, WorldRng, chance, draw};
use crate::scenario::model::{
    ApiActors, ApiErrorKind, FailMode, Fault, FaultKind, JobRole, Scenario, Span, StuckState,
};
use crate::time::SimTime;

/// One fault with a concrete window.
#[derive(Clone, Debug)]
pub struct ActiveFault {
    pub kind: FaultKind,
    pub from: SimTime,
    /// `None`: never heals.
    pub until: Option<SimTime>,
}

impl ActiveFault {
    pub fn active(&self, t: SimTime) -> bool {
        t >= self.from && self.until.is_none_or(|u| t < u)
    }
}

/// A watch stall: the named controller's informers of `kinds` deliver nothing in `[from, until)`, then relist.
#[derive(Clone, Debug)]
pub struct Stall {
    pub controller: Option<ControllerId>,
    pub kinds: Vec<Kind>,
    pub from: SimTime,
    pub until: Option<SimTime>,
}

impl Stall {
    /// True when the stall applies to `controller`'s informer of `kind`.
    pub fn covers(&self, controller: ControllerId, kind: Kind) -> bool {
        self.controller.is_none_or(|c| c == controller) && (self.kinds.is_empty() || self.kinds.contains(&kind))
    }
}

/// An injected API error decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InjectedError {
    Conflict,
    Transient,
    TransientAfterApply,
    /// Refused by policy: an exhausted ResourceQuota, an admission webhook.
    Forbidden,
}

impl InjectedError {
    /// The error a request gets *instead of* being applied (None: it is applied, then answered with a timeout).
    /// The one rule for in-process and served requests.
    pub fn refusal(self, verb: Verb, kind: Kind, key: &ObjectKey) -> Option<ClusterError> {
        let key = key.clone();
        match self {
            // A real API server answers a DELETE with 409 only when its precondition fails (it retries its own
            // storage conflicts), so an injected conflict on a delete is a timeout instead.
            InjectedError::Conflict if verb.is_write() && verb != Verb::Delete => {
                Some(ClusterError::Conflict { kind, key, message: "injected conflict".into() })
            }
            InjectedError::Conflict | InjectedError::Transient => {
                Some(ClusterError::Transient { verb, kind, key, message: "injected timeout before apply".into() })
            }
            InjectedError::Forbidden => Some(ClusterError::Forbidden {
                verb,
                kind,
                key,
                message: "exceeded quota (injected): the ResourceQuota of the namespace is exhausted".into(),
            }),
            InjectedError::TransientAfterApply => None,
        }
    }

    /// Whether the request is applied and then answered with a timeout.
    pub fn after_apply(self) -> bool {
        self == InjectedError::TransientAfterApply
    }
}

/// The faults of one run.
#[derive(Clone, Debug, Default)]
pub struct FaultPlan {
    pub faults: Vec<ActiveFault>,
    /// When every disruptive fault has healed (`None` if one never does); background faults (a bounded informer
    /// lag, a low error rate: [`FaultKind::is_background`]) need not heal.
    pub heal: Option<SimTime>,
}

/// A rule naming a controller applies to that controller's clients only; `None` is a client whose controller is not
/// known (a served request), which only rules naming no controller reach.
fn matches_controller(filter: &Option<ControllerId>, controller: Option<ControllerId>) -> bool {
    filter.is_none_or(|c| Some(c) == controller)
}

fn matches_kind(kinds: &[Kind], kind: Kind) -> bool {
    kinds.is_empty() || kinds.contains(&kind)
}

fn offset(start: SimTime, span: Span, rng: &mut Stream) -> SimTime {
    start.plus(draw(rng, span.lo, span.hi))
}

impl FaultPlan {
    /// Draws every window of the scenario's faults from the `faults` stream of the seed.
    pub fn resolve(scenario: &Scenario, rng: &WorldRng) -> FaultPlan {
        let mut stream = rng.stream("faults");
        let start = SimTime::from_utc(scenario.start);
        let end = start.plus(scenario.duration);
        let mut faults = Vec::new();
        for Fault { kind, from, until, .. } in &scenario.faults {
            let from_t = offset(start, *from, &mut stream);
            let until_t = until.map(|u| offset(start, u, &mut stream).max(from_t));
            faults.push(ActiveFault { kind: kind.clone(), from: from_t, until: until_t });
        }
        let mut heal = Some(start);
        for f in faults.iter().filter(|f| !f.kind.is_background()) {
            heal = match (heal, f.until) {
                (Some(h), Some(u)) => Some(h.max(u.min(end))),
                _ => None,
            };
        }
        FaultPlan { faults, heal }
    }

    /// The informer lag range for `controller` watching `kind` at `t`, if a fault sets one.
    pub fn informer_lag(&self, controller: Option<ControllerId>, kind: Kind, t: SimTime) -> Option<Span> {
        self.faults.iter().filter(|f| f.active(t)).find_map(|f| match &f.kind {
            FaultKind::InformerLag { controller: c, kinds, delay }
                if matches_controller(c, controller) && matches_kind(kinds, kind) =>
            {
                Some(*delay)
            }
            _ => None,
        })
    }

    /// Watch stalls, in the order of the scenario's faults.
    pub fn stalls(&self) -> Vec<Stall> {
        self.faults
            .iter()
            .filter_map(|f| match &f.kind {
                FaultKind::WatchStall { controller, kinds } => {
                    Some(Stall { controller: *controller, kinds: kinds.clone(), from: f.from, until: f.until })
                }
                _ => None,
            })
            .collect()
    }

    /// Whether a pod of `role` starting at `t` is pinned, where, and until when (`None`: forever).
    pub fn pod_stuck(&self, role: JobRole, t: SimTime) -> Option<(StuckState, Option<SimTime>)> {
        self.faults.iter().filter(|f| f.active(t)).find_map(|f| match &f.kind {
            FaultKind::PodsStuck { jobs, state } if jobs.is_empty() || jobs.contains(&role) => Some((*state, f.until)),
            _ => None,
        })
    }

    /// Whether a pod of `role` running at `t` fails, and how.
    pub fn pod_failure(&self, role: JobRole, t: SimTime, rng: &mut Stream) -> Option<FailMode> {
        self.faults.iter().filter(|f| f.active(t)).find_map(|f| match &f.kind {
            FaultKind::PodFailures { jobs, rate, mode }
                if (jobs.is_empty() || jobs.contains(&role)) && chance(rng, *rate) =>
            {
                Some(*mode)
            }
            _ => None,
        })
    }

    /// Whether a request by an operator controller (`manager` false) or backup-manager fails at `t`.
    pub fn api_error(
        &self,
        manager: bool,
        verb: Verb,
        kind: Kind,
        t: SimTime,
        rng: &mut Stream,
    ) -> Option<InjectedError> {
        self.faults.iter().filter(|f| f.active(t)).find_map(|f| match &f.kind {
            FaultKind::ApiErrors { verbs, kinds, actors, rate, error }
                if (verbs.is_empty() || verbs.contains(&verb))
                    && matches_kind(kinds, kind)
                    && match actors {
                        ApiActors::Operator => !manager,
                        ApiActors::Manager => manager,
                        ApiActors::Both => true,
                    }
                    && chance(rng, *rate) =>
            {
                Some(match error {
                    ApiErrorKind::Conflict => InjectedError::Conflict,
                    ApiErrorKind::Transient => InjectedError::Transient,
                    ApiErrorKind::TransientAfterApply => InjectedError::TransientAfterApply,
                    ApiErrorKind::Forbidden => InjectedError::Forbidden,
                    ApiErrorKind::Mixed => match rng.random_range(0..3) {
                        0 => InjectedError::Conflict,
                        1 => InjectedError::Transient,
                        _ => InjectedError::TransientAfterApply,
                    },
                })
            }
            _ => None,
        })
    }

    /// Crash times from `at` and `every` restarts, within `[start, end)`.
    pub fn restart_times(&self, scenario_start: SimTime, end: SimTime, rng: &mut Stream) -> Vec<SimTime> {
        let mut times = Vec::new();
        for f in &self.faults {
            if let FaultKind::OperatorRestart { at, every, times: limit, .. } = &f.kind {
                let mut mine: Vec<SimTime> = at.iter().map(|d| scenario_start.plus(*d)).collect();
                if let Some(span) = every {
                    let mut t = f.from.plus(draw(rng, span.lo, span.hi));
                    while t < end && f.until.is_none_or(|u| t < u) && span.hi.as_millis() > 0 {
                        mine.push(t);
                        t = t.plus(draw(rng, span.lo, span.hi).max(std::time::Duration::from_millis(1)));
                    }
                }
                mine.retain(|t| *t < end);
                if let Some(n) = limit {
                    mine.truncate(*n as usize);
                }
                times.extend(mine);
            }
        }
        times.sort();
        times
    }

    /// Indices of `afterWrite` restart faults matching a write of `verb` on `kind` at `t`.
    pub fn crash_after(&self, verb: Verb, kind: Kind, t: SimTime) -> Option<usize> {
        self.faults.iter().position(|f| {
            f.active(t) && matches!(&f.kind, FaultKind::OperatorRestart { after_write: Some((v, k)), .. } if *v == verb && *k == kind)
        })
    }

    /// Operator downtime windows.
    pub fn down_windows(&self) -> Vec<(SimTime, Option<SimTime>)> {
        self.faults.iter().filter(|f| matches!(f.kind, FaultKind::OperatorDown)).map(|f| (f.from, f.until)).collect()
    }
}
