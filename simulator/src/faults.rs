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

/// A watch stall: the named controller's informers of `kinds` deliver nothing in `[from, until)`, then relist.
#[derive(Clone, Debug)]
pub struct Stall {
    pub controller: Option<ControllerId>,
    pub kinds: Vec<Kind>,
    pub from: SimTime,
    pub until: Option<SimTime>,
}

impl Stall {
    /// True when the stall applies to `controller`'s watch of `kind` (`None`: a served client's, which only a stall
    /// naming no controller reaches).
    pub fn covers(&self, controller: Option<ControllerId>, kind: Kind) -> bool {
        matches_controller(&self.controller, controller) && matches_kind(&self.kinds, kind)
    }

    /// True while the stall is on at `t`.
    pub fn on_at(&self, t: SimTime) -> bool {
        within(t, self.from, self.until)
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
    /// Every fault, in the scenario's order, with its window (names, edges and heal are read from these).
    pub faults: Vec<ActiveFault>,
    /// When every disruptive fault has healed (`None` if one never does); background faults (a bounded informer
    /// lag, a low error rate: [`FaultKind::is_background`]) need not heal.
    pub heal: Option<SimTime>,
    /// The same faults as typed rules, one list per question, resolved once: a question reads only its own rules.
    rules: Rules,
}

/// A rule with its window.
#[derive(Clone, Debug)]
struct Ruled<T> {
    from: SimTime,
    until: Option<SimTime>,
    rule: T,
}

impl<T> Ruled<T> {
    fn active(&self, t: SimTime) -> bool {
        within(t, self.from, self.until)
    }
}

#[derive(Clone, Debug)]
struct Lag {
    controller: Option<ControllerId>,
    kinds: Vec<Kind>,
    delay: Span,
}

#[derive(Clone, Debug)]
struct ApiErrors {
    verbs: Vec<Verb>,
    kinds: Vec<Kind>,
    actors: ApiActors,
    rate: f64,
    error: ApiErrorKind,
}

#[derive(Clone, Debug)]
struct Stuck {
    jobs: Vec<JobRole>,
    state: StuckState,
}

#[derive(Clone, Debug)]
struct Failures {
    jobs: Vec<JobRole>,
    rate: f64,
    mode: FailMode,
}

/// A restart right after a write of this verb on this kind, at most `left` more times.
#[derive(Clone, Debug)]
struct CrashAfter {
    verb: Verb,
    kind: Kind,
    left: u32,
}

#[derive(Clone, Debug, Default)]
struct Rules {
    lags: Vec<Ruled<Lag>>,
    api_errors: Vec<Ruled<ApiErrors>>,
    stuck: Vec<Ruled<Stuck>>,
    failures: Vec<Ruled<Failures>>,
    crash_after: Vec<Ruled<CrashAfter>>,
    stalls: Vec<Stall>,
    down: Vec<(SimTime, Option<SimTime>)>,
}

impl Rules {
    fn of(faults: &[ActiveFault]) -> Rules {
        let mut r = Rules::default();
        for f in faults {
            let (from, until) = (f.from, f.until);
            match f.kind.clone() {
                FaultKind::InformerLag { controller, kinds, delay } => {
                    r.lags.push(Ruled { from, until, rule: Lag { controller, kinds, delay } })
                }
                FaultKind::ApiErrors { verbs, kinds, actors, rate, error } => {
                    r.api_errors.push(Ruled { from, until, rule: ApiErrors { verbs, kinds, actors, rate, error } })
                }
                FaultKind::PodsStuck { jobs, state } => {
                    r.stuck.push(Ruled { from, until, rule: Stuck { jobs, state } })
                }
                FaultKind::PodFailures { jobs, rate, mode } => {
                    r.failures.push(Ruled { from, until, rule: Failures { jobs, rate, mode } })
                }
                FaultKind::WatchStall { controller, kinds } => r.stalls.push(Stall { controller, kinds, from, until }),
                FaultKind::OperatorRestart { after_write: Some((verb, kind)), times, .. } => {
                    let left = times.unwrap_or(u32::MAX);
                    r.crash_after.push(Ruled { from, until, rule: CrashAfter { verb, kind, left } })
                }
                FaultKind::OperatorRestart { after_write: None, .. } => {}
                FaultKind::OperatorDown => r.down.push((from, until)),
            }
        }
        r
    }
}

/// The lag of one watch: the `informerLag` rules that reach it, in the scenario's order, and its default.
#[derive(Clone, Debug)]
pub struct WatchLag {
    rules: Vec<Ruled<Span>>,
    default: Span,
}

impl WatchLag {
    /// A watch no `informerLag` fault reaches.
    pub fn fixed(default: Span) -> WatchLag {
        WatchLag { rules: Vec::new(), default }
    }

    /// The lag at `t`: the first of its rules active then, else the default.
    pub fn at(&self, t: SimTime) -> Span {
        self.rules.iter().find(|r| r.active(t)).map_or(self.default, |r| r.rule)
    }
}

/// Whether `t` falls in the window `[from, until)` (`None`: never ends).
fn within(t: SimTime, from: SimTime, until: Option<SimTime>) -> bool {
    t >= from && until.is_none_or(|u| t < u)
}

/// A rule naming a controller applies to that controller's clients only; `None` is a client whose controller is not
/// known (a served request), which only rules naming no controller reach.
fn matches_controller(filter: &Option<ControllerId>, controller: Option<ControllerId>) -> bool {
    filter.is_none_or(|c| Some(c) == controller)
}

fn matches_kind(kinds: &[Kind], kind: Kind) -> bool {
    kinds.is_empty() || kinds.contains(&kind)
}

fn matches_role(jobs: &[JobRole], role: JobRole) -> bool {
    jobs.is_empty() || jobs.contains(&role)
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
        let rules = Rules::of(&faults);
        FaultPlan { faults, heal, rules }
    }

    /// The `informerLag` rules that reach a watch by `controller` (`None`: a served client) of `kind`, bound to it
    /// when it is built; `default` is the scenario's timing.
    pub fn watch_lag(&self, controller: Option<ControllerId>, kind: Kind, default: Span) -> WatchLag {
        let rules = self
            .rules
            .lags
            .iter()
            .filter(|r| matches_controller(&r.rule.controller, controller) && matches_kind(&r.rule.kinds, kind))
            .map(|r| Ruled { from: r.from, until: r.until, rule: r.rule.delay })
            .collect();
        WatchLag { rules, default }
    }

    /// Watch stalls, in the order of the scenario's faults.
    pub fn stalls(&self) -> &[Stall] {
        &self.rules.stalls
    }

    /// Whether a pod of `role` starting at `t` is pinned, where, and until when (`None`: forever).
    pub fn pod_stuck(&self, role: JobRole, t: SimTime) -> Option<(StuckState, Option<SimTime>)> {
        self.rules
            .stuck
            .iter()
            .find(|r| r.active(t) && matches_role(&r.rule.jobs, role))
            .map(|r| (r.rule.state, r.until))
    }

    /// Whether a pod of `role` running at `t` fails, and how (each active rule reaching it draws its chance).
    pub fn pod_failure(&self, role: JobRole, t: SimTime, rng: &mut Stream) -> Option<FailMode> {
        self.rules
            .failures
            .iter()
            .filter(|r| r.active(t) && matches_role(&r.rule.jobs, role))
            .find(|r| chance(rng, r.rule.rate))
            .map(|r| r.rule.mode)
    }

    /// Whether a request by an operator controller (`manager` false) or backup-manager fails at `t`: the one rule for
    /// in-process and served requests.
    pub fn api_error(
        &self,
        manager: bool,
        verb: Verb,
        kind: Kind,
        t: SimTime,
        rng: &mut Stream,
    ) -> Option<InjectedError> {
        let reaches = |r: &ApiErrors| {
            (r.verbs.is_empty() || r.verbs.contains(&verb))
                && matches_kind(&r.kinds, kind)
                && match r.actors {
                    ApiActors::Operator => !manager,
                    ApiActors::Manager => manager,
                    ApiActors::Both => true,
                }
        };
        let hit = self
            .rules
            .api_errors
            .iter()
            .filter(|r| r.active(t) && reaches(&r.rule))
            .find(|r| chance(rng, r.rule.rate))?;
        Some(match hit.rule.error {
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

    /// Whether a write of `verb` on `kind` at `t` crashes the operator: the first active `afterWrite` restart fault
    /// matching it does, if it has times left (it uses one).
    pub fn crash_after(&mut self, verb: Verb, kind: Kind, t: SimTime) -> bool {
        let rule =
            self.rules.crash_after.iter_mut().find(|r| r.active(t) && r.rule.verb == verb && r.rule.kind == kind);
        match rule {
            Some(r) if r.rule.left > 0 => {
                r.rule.left -= 1;
                true
            }
            _ => false,
        }
    }

    /// Operator downtime windows.
    pub fn down_windows(&self) -> &[(SimTime, Option<SimTime>)] {
        &self.rules.down
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn plan(faults: &str) -> (FaultPlan, SimTime) {
        let text = format!("name: t\nduration: 10h\nexpect: {{holds: [all]}}\nfaults:\n{faults}");
        let scenario = crate::scenario::parse(&text, "t.yaml").unwrap_or_else(|e| panic!("{e}"));
        let plan = FaultPlan::resolve(&scenario, &WorldRng::new(1));
        (plan, SimTime::from_utc(scenario.start))
    }

    fn at(start: SimTime, h: u64) -> SimTime {
        start.plus(Duration::from_secs(h * 3600))
    }

    #[test]
    fn a_lag_rule_reaches_only_the_controller_and_kinds_it_names_within_its_window() {
        let (plan, start) = plan(
            "  - informerLag: {controller: backup-schedule, kinds: [Backup], delay: 30s..40s, from: 1h, until: 2h}\n",
        );
        let default = Span { lo: Duration::from_millis(1), hi: Duration::from_millis(2) };
        let lag = |c, k, h| plan.watch_lag(c, k, default).at(at(start, h));
        let named = Some(ControllerId::Schedule);
        assert_eq!(lag(named, Kind::Backup, 1).hi, Duration::from_secs(40));
        assert_eq!(lag(named, Kind::Backup, 0), default, "before its window");
        assert_eq!(lag(named, Kind::Backup, 2), default, "its window is over");
        assert_eq!(lag(named, Kind::Job, 1), default, "a kind it does not name");
        assert_eq!(lag(Some(ControllerId::Backup), Kind::Backup, 1), default, "another controller");
        assert_eq!(lag(None, Kind::Backup, 1), default, "a served client: the rule names a controller");
    }

    #[test]
    fn each_question_reads_its_own_rules_and_a_certain_error_always_fires() {
        let (plan, start) = plan(
            "  - apiErrors: {rate: 1.0, error: Conflict, verbs: [create], kinds: [Backup]}\n  - podsStuck: {jobs: [backup], from: 1h, until: 3h}\n  - operatorDown: {from: 4h, until: 5h}\n",
        );
        let mut rng = WorldRng::new(1).stream("t");
        let t = at(start, 1);
        assert_eq!(plan.api_error(false, Verb::Create, Kind::Backup, t, &mut rng), Some(InjectedError::Conflict));
        assert_eq!(plan.api_error(false, Verb::Get, Kind::Backup, t, &mut rng), None, "a verb it does not name");
        assert!(plan.pod_stuck(JobRole::Backup, t).is_some_and(|(_, until)| until == Some(at(start, 3))));
        assert_eq!(plan.pod_stuck(JobRole::Clean, t), None);
        assert_eq!(plan.pod_failure(JobRole::Backup, t, &mut rng), None, "no podFailures rule");
        assert_eq!(plan.down_windows(), &[(at(start, 4), Some(at(start, 5)))]);
        assert!(plan.stalls().is_empty());
    }

    #[test]
    fn an_after_write_restart_fires_on_its_write_at_most_its_times() {
        let (mut plan, start) =
            plan("  - operatorRestart: {afterWrite: {verb: create, kind: Backup}, times: 2, from: 1h}\n");
        let t = at(start, 1);
        assert!(!plan.crash_after(Verb::Create, Kind::Backup, at(start, 0)), "before its window");
        assert!(!plan.crash_after(Verb::Update, Kind::Backup, t), "another verb");
        assert!(plan.crash_after(Verb::Create, Kind::Backup, t));
        assert!(plan.crash_after(Verb::Create, Kind::Backup, t));
        assert!(!plan.crash_after(Verb::Create, Kind::Backup, t), "its two times are used");
    }
}
