//! The validated scenario: every field typed, every duration parsed, every manifest a real object.

use chrono::{DateTime, Utc};
use operator::cluster::{Kind, ObjectKey, Verb};
use std::path::PathBuf;
use std::time::Duration;

use crate::controller_id::ControllerId;
use crate::object::Obj;

/// A duration range `a..b` (a fixed duration is `a..a`); a value is drawn per use from the seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub lo: Duration,
    pub hi: Duration,
}

impl Span {
    pub const fn fixed(d: Duration) -> Span {
        Span { lo: d, hi: d }
    }
    pub const fn secs(lo: u64, hi: u64) -> Span {
        Span { lo: Duration::from_secs(lo), hi: Duration::from_secs(hi) }
    }
    pub const fn millis(lo: u64, hi: u64) -> Span {
        Span { lo: Duration::from_millis(lo), hi: Duration::from_millis(hi) }
    }
}

/// How long simulated work takes. Defaults are realistic for a small TiDB cluster on a healthy Kubernetes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timing {
    /// Pod scheduling, image pull and container start.
    pub pod_start: Span,
    /// A br backup or dumpling export.
    pub backup: Span,
    /// A br restore or lightning import.
    pub restore: Span,
    /// Deleting a backup's data.
    pub clean: Span,
    /// One API round trip.
    pub api_latency: Span,
    /// Watch delivery to an informer when no fault applies.
    pub informer_lag: Span,
    /// The Job controller's reaction to a Job or pod change.
    pub job_controller: Span,
    /// The garbage collector's reaction to an owner's removal.
    pub gc: Span,
    /// A pod's graceful termination.
    pub pod_termination: Span,
    /// From a crash to the new operator process listing its caches.
    pub restart: Span,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            pod_start: Span::secs(1, 20),
            backup: Span::secs(120, 900),
            restore: Span::secs(180, 1200),
            clean: Span::secs(10, 120),
            api_latency: Span::millis(2, 30),
            informer_lag: Span::millis(5, 200),
            job_controller: Span::millis(50, 1000),
            gc: Span::millis(100, 3000),
            pod_termination: Span::secs(1, 30),
            restart: Span::secs(5, 40),
        }
    }
}

/// Which schedule controller runs: the operator's own, or a zoo entry (the backup and restore controllers are
/// always the operator's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Controllers {
    Operator,
    Zoo(String),
}

/// The most copies of a scenario's objects.
pub const MAX_COPIES: u32 = 10_000;

impl Scenario {
    /// The objects to create, every copy of them: copy 1 as written, copy i >= 2 with `-iiii` appended to each name
    /// (an object named by `generateName` gets its own name anyway).
    pub fn stamped_objects(&self) -> Vec<Obj> {
        let mut out = self.objects.clone();
        for i in 2..=self.copies {
            out.extend(self.objects.iter().map(|o| {
                o.with_meta(|m| {
                    if let Some(name) = m.name.as_mut() {
                        name.push_str(&format!("-{i:04}"));
                    }
                })
            }));
        }
        out
    }
}

impl Controllers {
    pub fn name(&self) -> &str {
        match self {
            Controllers::Operator => "operator",
            Controllers::Zoo(name) => name,
        }
    }
}

/// The Job roles faults can target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum JobRole {
    Backup,
    Restore,
    Clean,
    Compact,
}

impl JobRole {
    pub fn parse(s: &str) -> Option<JobRole> {
        match s {
            "backup" => Some(JobRole::Backup),
            "restore" => Some(JobRole::Restore),
            "clean" => Some(JobRole::Clean),
            "compact" => Some(JobRole::Compact),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            JobRole::Backup => "backup",
            JobRole::Restore => "restore",
            JobRole::Clean => "clean",
            JobRole::Compact => "compact",
        }
    }
}

/// Where a stuck pod is pinned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StuckState {
    ContainerCreating,
    ImagePullBackOff,
    /// A Secret (or ConfigMap) the pod's containers reference is missing: the kubelet cannot build their config.
    CreateContainerConfigError,
}

impl StuckState {
    pub const ALL: [StuckState; 3] =
        [StuckState::ContainerCreating, StuckState::ImagePullBackOff, StuckState::CreateContainerConfigError];

    /// The pod's waiting reason, as the kubelet reports it (also the scenario spelling).
    pub fn reason(self) -> &'static str {
        match self {
            StuckState::ContainerCreating => "ContainerCreating",
            StuckState::ImagePullBackOff => "ImagePullBackOff",
            StuckState::CreateContainerConfigError => "CreateContainerConfigError",
        }
    }
}

/// How pods fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailMode {
    /// The tool exits non-zero part way through.
    Fail,
    /// The container is killed (OOM, node loss) part way through.
    Kill,
}

/// Which API error is injected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiErrorKind {
    Conflict,
    /// A timeout before the server applied the request.
    Transient,
    /// A timeout after the server applied the request (the client cannot tell the difference).
    TransientAfterApply,
    /// Refused by policy, as an exhausted ResourceQuota refuses creates (`403 Forbidden`).
    Forbidden,
    /// Each of the first three with equal probability.
    Mixed,
}

/// The actors API faults can target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiActors {
    /// The operator's controllers.
    Operator,
    /// backup-manager inside the Jobs.
    Manager,
    Both,
}

/// A fault and what it targets.
#[derive(Clone, Debug, PartialEq)]
pub enum FaultKind {
    InformerLag {
        controller: Option<ControllerId>,
        kinds: Vec<Kind>,
        delay: Span,
    },
    WatchStall {
        controller: Option<ControllerId>,
        kinds: Vec<Kind>,
    },
    PodsStuck {
        jobs: Vec<JobRole>,
        state: StuckState,
    },
    PodFailures {
        jobs: Vec<JobRole>,
        rate: f64,
        mode: FailMode,
    },
    ApiErrors {
        verbs: Vec<Verb>,
        kinds: Vec<Kind>,
        actors: ApiActors,
        rate: f64,
        error: ApiErrorKind,
    },
    /// Restarts at `at` offsets, every `every`, and/or right after each `afterWrite` request is applied.
    OperatorRestart {
        at: Vec<Duration>,
        every: Option<Span>,
        after_write: Option<(Verb, Kind)>,
        times: Option<u32>,
    },
    OperatorDown,
}

/// The longest informer lag that still counts as normal operation.
pub const BACKGROUND_LAG: Duration = Duration::from_secs(60);
/// The highest API error rate that still counts as normal operation.
pub const BACKGROUND_ERROR_RATE: f64 = 0.1;

impl FaultKind {
    /// Whether this fault is normal operation rather than a disruption that must heal: an informer lag of at most
    /// [`BACKGROUND_LAG`], or conflicts and timeouts at a rate of at most [`BACKGROUND_ERROR_RATE`]. Liveness is
    /// judged while these persist (after the disruptive faults heal), as a production cluster never is free of them.
    pub fn is_background(&self) -> bool {
        match self {
            FaultKind::InformerLag { delay, .. } => delay.hi <= BACKGROUND_LAG,
            FaultKind::ApiErrors { rate, error, .. } => {
                *rate <= BACKGROUND_ERROR_RATE && *error != ApiErrorKind::Forbidden
            }
            _ => false,
        }
    }

    /// The name used in scenario files.
    pub fn name(&self) -> &'static str {
        match self {
            FaultKind::InformerLag { .. } => "informerLag",
            FaultKind::WatchStall { .. } => "watchStall",
            FaultKind::PodsStuck { .. } => "podsStuck",
            FaultKind::PodFailures { .. } => "podFailures",
            FaultKind::ApiErrors { .. } => "apiErrors",
            FaultKind::OperatorRestart { .. } => "operatorRestart",
            FaultKind::OperatorDown => "operatorDown",
        }
    }
}

/// A fault with its window (offsets from the start). `until: None` means it never heals.
#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    pub kind: FaultKind,
    pub from: Span,
    pub until: Option<Span>,
    /// The line of the fault in its file (for shrunk scenarios and messages).
    pub line: usize,
}

/// A user action at a simulated time.
#[derive(Clone, Debug)]
pub enum StepAction {
    /// A JSON merge patch of the object's metadata and spec.
    Patch {
        kind: Kind,
        key: ObjectKey,
        patch: serde_json::Value,
    },
    Create(Obj),
    Delete {
        kind: Kind,
        key: ObjectKey,
    },
    /// Delete stored objects under a URL prefix.
    WipeData {
        url: String,
    },
    /// Delete a namespace: every object in it is deleted, as the namespace controller does (finalizers still hold
    /// an object until its controller releases it).
    DeleteNamespace {
        namespace: String,
    },
}

#[derive(Clone, Debug)]
pub struct Step {
    pub at: Duration,
    pub action: StepAction,
    /// What the step is in the story; steps with the same note are one action (shrinking keeps or drops them
    /// together).
    pub note: Option<String>,
}

/// The parts of the generator's vocabulary a workload draws from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Area {
    /// Schedules created, edited (valid and invalid values), paused and deleted.
    Schedules,
    /// Backups and Restores by hand, deletions at awkward moments, names that collide, Jobs and pods deleted.
    Backups,
    /// Cluster conditions as windows: creates refused, a node that never starts pods, a failing tool.
    Cluster,
    /// The operator's own faults: informer lag, watch stalls, restarts, API errors.
    Faults,
}

impl Area {
    pub const ALL: [Area; 4] = [Area::Schedules, Area::Backups, Area::Cluster, Area::Faults];

    pub fn as_str(self) -> &'static str {
        match self {
            Area::Schedules => "schedules",
            Area::Backups => "backups",
            Area::Cluster => "cluster",
            Area::Faults => "faults",
        }
    }

    pub fn parse(s: &str) -> Option<Area> {
        Area::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// `workload:`: actions drawn from the run's seed, added to the scenario's own steps and faults before it runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Workload {
    /// How many actions to draw.
    pub actions: u32,
    /// Which parts of the vocabulary to draw from.
    pub areas: Vec<Area>,
}

impl Default for Workload {
    fn default() -> Self {
        Workload { actions: 6, areas: Area::ALL.to_vec() }
    }
}

pub use crate::invariant_id::InvariantId;

/// What the run must show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expect {
    /// Invariants that must hold (`[all]` is every one not listed in `violated`).
    pub holds: Vec<InvariantId>,
    /// Invariants that must be violated (the harness must catch the bug).
    pub violated: Vec<InvariantId>,
    /// How long after the last fault heals the system must have converged (liveness).
    pub grace: Duration,
    /// Backups and Restores that must end in a phase.
    pub phases: Vec<PhaseExpectation>,
    /// Storage prefixes that must (`true`) or must not (`false`) hold objects at the end.
    pub data: Vec<(String, bool)>,
    /// `bounded-api-cost`: at most this many requests by one controller about one object within a window.
    pub api_budget: ApiBudget,
}

/// `expect.apiBudget`: a controller's requests about one object, at most `requests` within any `window`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ApiBudget {
    pub requests: u64,
    pub window: Duration,
}

impl Default for ApiBudget {
    /// Generous for retries with backoff under faults; far below a retry storm (one request every few seconds).
    fn default() -> Self {
        ApiBudget { requests: 100, window: Duration::from_secs(600) }
    }
}

/// `expect.phases[]`: the object must exist at the end with this status phase.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhaseExpectation {
    pub kind: Kind,
    pub key: ObjectKey,
    pub phase: String,
}

/// Operator settings a scenario may override.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OperatorOverrides {
    pub pod_start_timeout: Option<Duration>,
    pub clean_retry: Option<Duration>,
}

/// A scenario ready to run.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    pub path: Option<PathBuf>,
    pub start: DateTime<Utc>,
    pub duration: Duration,
    pub seed: u64,
    pub controllers: Controllers,
    pub objects: Vec<Obj>,
    /// How many times the objects are created (copy i >= 2 with `-iiii` appended to each name).
    pub copies: u32,
    pub steps: Vec<Step>,
    pub timing: Timing,
    pub faults: Vec<Fault>,
    /// Actions to draw from the seed before the run (`sim explore --generate` adds the default one).
    pub workload: Option<Workload>,
    pub expect: Expect,
    pub operator: OperatorOverrides,
    /// The expectation must fail (a harness self-test).
    pub canary: bool,
}
