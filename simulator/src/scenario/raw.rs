//! Stage one of reading a scenario: the YAML as written, every value with its source position. Unknown keys are
//! rejected here (with their line). The JSON Schema of scenario files is generated from these types.

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer};
use std::borrow::Cow;

use super::tree::Tree;

/// A value with the line and column it was written at (1-based).
#[derive(Clone, Debug)]
pub struct Loc<T> {
    pub value: T,
    pub line: usize,
    pub col: usize,
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Loc<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = serde_saphyr::Spanned::<T>::deserialize(d)?;
        Ok(Loc { value: s.value, line: s.referenced.line() as usize, col: s.referenced.column() as usize })
    }
}

impl<T: JsonSchema> JsonSchema for Loc<T> {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        T::json_schema(generator)
    }
}

/// A scenario file.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(title = "Backup operator simulation scenario")]
pub struct RawScenario {
    /// Scenario name, as `sim run` prints it.
    pub name: Loc<String>,
    /// What the scenario shows, in a sentence or two.
    #[serde(default)]
    pub description: Option<Loc<String>>,
    /// Simulated start time, RFC 3339 (default 2026-01-01T00:00:00Z).
    #[serde(default)]
    pub start: Option<Loc<String>>,
    /// How long to simulate: `90s`, `10m`, `12h`, `30d`.
    pub duration: Loc<String>,
    /// The seed `sim run` uses (default 1); `sim explore` varies it.
    #[serde(default)]
    pub seed: Option<Loc<u64>>,
    /// `operator` (default) or the name of a zoo entry replacing the schedule controller.
    #[serde(default)]
    pub controllers: Option<Loc<String>>,
    /// Operator settings to override.
    #[serde(default)]
    pub operator: Option<Loc<RawOperator>>,
    /// Initial objects: plain Backup, Restore or BackupSchedule manifests.
    #[serde(default)]
    pub objects: Vec<Loc<Tree>>,
    /// Create the objects this many times (default 1, at most 10000), for worlds of many schedules: copy 1 is the
    /// objects as written (steps act on it), copy i >= 2 appends `-i` in four digits to each object's name
    /// (`demo-0002`), so each copy's Backups and their storage paths are its own.
    #[serde(default)]
    pub copies: Option<Loc<u32>>,
    /// User actions at simulated times.
    #[serde(default)]
    pub steps: Vec<Loc<RawStep>>,
    /// How long simulated work takes (ranges `a..b` are drawn per use).
    #[serde(default)]
    pub timing: Option<Loc<RawTiming>>,
    /// Faults to inject, each optionally within `from`/`until`.
    #[serde(default)]
    pub faults: Vec<Loc<RawFault>>,
    /// Actions drawn from the seed and added to `steps` and `faults` before the run: a generated workload.
    #[serde(default)]
    pub workload: Option<Loc<RawWorkload>>,
    /// What must hold (or be violated) for the scenario to pass.
    pub expect: Loc<RawExpect>,
    /// A canary's expectation must *fail*: it proves the harness checks something. `sim run` reports a canary
    /// whose expectation held as a failure.
    #[serde(default)]
    pub canary: Option<Loc<bool>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawOperator {
    /// A pod still Pending after this long fails its attempt (default 10m).
    #[serde(default)]
    pub pod_start_timeout: Option<Loc<String>>,
    /// Delay before a failed clean Job is retried (default 1m).
    #[serde(default)]
    pub clean_retry: Option<Loc<String>>,
}

/// One user action; exactly one of `patch`, `create`, `delete`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawStep {
    /// Offset from the start: `3h`.
    pub at: Loc<String>,
    /// A JSON merge patch of an object's `metadata` and `spec`.
    #[serde(default)]
    pub patch: Option<Loc<RawPatch>>,
    /// A manifest to create.
    #[serde(default)]
    pub create: Option<Loc<Tree>>,
    /// An object to delete.
    #[serde(default)]
    pub delete: Option<Loc<RawTarget>>,
    /// Delete every stored object under this URL prefix by hand (`s3://bucket/prefix`): data loss outside the
    /// operator's control.
    #[serde(default)]
    pub wipe_data: Option<Loc<String>>,
    /// Delete a namespace with everything in it (finalizers still hold objects until released).
    #[serde(default)]
    pub delete_namespace: Option<Loc<String>>,
    /// What this step is in the story. Steps with the same note are one action: shrinking keeps or drops them
    /// together.
    #[serde(default)]
    pub note: Option<Loc<String>>,
}

/// `workload:`: how many actions to draw from the seed, and from which areas of the vocabulary.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawWorkload {
    /// How many actions (default 6, at most 64).
    #[serde(default)]
    pub actions: Option<Loc<u32>>,
    /// `schedules`, `backups`, `cluster`, `faults` (default: all).
    #[serde(default)]
    pub areas: Vec<Loc<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawPatch {
    pub kind: Loc<String>,
    pub name: Loc<String>,
    #[serde(default)]
    pub namespace: Option<Loc<String>>,
    #[serde(default)]
    pub metadata: Option<Loc<Tree>>,
    #[serde(default)]
    pub spec: Option<Loc<Tree>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawTarget {
    pub kind: Loc<String>,
    pub name: Loc<String>,
    #[serde(default)]
    pub namespace: Option<Loc<String>>,
}

/// Durations or ranges (`1s..20s`) of simulated work.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawTiming {
    pub pod_start: Option<Loc<String>>,
    pub backup: Option<Loc<String>>,
    pub restore: Option<Loc<String>>,
    pub clean: Option<Loc<String>>,
    pub api_latency: Option<Loc<String>>,
    pub informer_lag: Option<Loc<String>>,
    pub job_controller: Option<Loc<String>>,
    pub gc: Option<Loc<String>>,
    pub pod_termination: Option<Loc<String>>,
    pub restart: Option<Loc<String>>,
}

/// A fault: one key naming its kind.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub enum RawFault {
    /// A controller's informer delivers late.
    InformerLag(RawInformerLag),
    /// A controller's watch delivers nothing for the window, then relists (410 Gone).
    WatchStall(RawWatchStall),
    /// Pods of the named Job roles stay Pending.
    PodsStuck(RawPodsStuck),
    /// Pods of the named Job roles fail or are killed.
    PodFailures(RawPodFailures),
    /// API requests fail.
    ApiErrors(RawApiErrors),
    /// The operator process restarts.
    OperatorRestart(RawOperatorRestart),
    /// The operator process is down for the window.
    OperatorDown(RawWindow),
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawWindow {
    /// Offset the fault starts at (default 0s); may be a range.
    #[serde(default)]
    pub from: Option<Loc<String>>,
    /// Offset the fault heals at, or `never` (default: the end of the run); may be a range.
    #[serde(default)]
    pub until: Option<Loc<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawInformerLag {
    /// `backup`, `restore` or `backup-schedule` (default: all).
    #[serde(default)]
    pub controller: Option<Loc<String>>,
    /// Watched kinds (default: all).
    #[serde(default)]
    pub kinds: Vec<Loc<String>>,
    /// The lag, a duration or range.
    pub delay: Loc<String>,
    #[serde(default)]
    pub from: Option<Loc<String>>,
    #[serde(default)]
    pub until: Option<Loc<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawWatchStall {
    #[serde(default)]
    pub controller: Option<Loc<String>>,
    #[serde(default)]
    pub kinds: Vec<Loc<String>>,
    #[serde(default)]
    pub from: Option<Loc<String>>,
    #[serde(default)]
    pub until: Option<Loc<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawPodsStuck {
    /// `ContainerCreating` (default), `ImagePullBackOff`, or `CreateContainerConfigError` (a Secret the pod needs is
    /// missing).
    #[serde(default)]
    pub state: Option<Loc<String>>,
    /// Job roles: `backup`, `restore`, `clean` (default: all); a single role may be written without brackets.
    #[serde(default)]
    pub jobs: Option<Loc<serde_json::Value>>,
    #[serde(default)]
    pub from: Option<Loc<String>>,
    #[serde(default)]
    pub until: Option<Loc<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawPodFailures {
    #[serde(default)]
    pub jobs: Option<Loc<serde_json::Value>>,
    /// Probability that a pod is doomed (default 1).
    #[serde(default)]
    pub rate: Option<Loc<f64>>,
    /// `fail` (the tool exits non-zero; default) or `kill` (the container is killed).
    #[serde(default)]
    pub mode: Option<Loc<String>>,
    #[serde(default)]
    pub from: Option<Loc<String>>,
    #[serde(default)]
    pub until: Option<Loc<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawApiErrors {
    /// `get`, `list`, `create`, `update`, `update-status`, `delete` (default: all).
    #[serde(default)]
    pub verbs: Vec<Loc<String>>,
    /// Kinds (default: all).
    #[serde(default)]
    pub kinds: Vec<Loc<String>>,
    /// `operator`, `manager` or `both` (default).
    #[serde(default)]
    pub actors: Option<Loc<String>>,
    /// Probability per matching request.
    pub rate: Loc<f64>,
    /// `Conflict`, `Transient` (before the write applied), `TransientAfterApply`, `Forbidden` (an exhausted
    /// ResourceQuota), or `Mixed` (default: the first three).
    #[serde(default)]
    pub error: Option<Loc<String>>,
    #[serde(default)]
    pub from: Option<Loc<String>>,
    #[serde(default)]
    pub until: Option<Loc<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawOperatorRestart {
    /// Offsets to restart at.
    #[serde(default)]
    pub at: Vec<Loc<String>>,
    /// Restart repeatedly, this far apart (a range is drawn per restart).
    #[serde(default)]
    pub every: Option<Loc<String>>,
    /// Crash right after a request of this verb on this kind is applied (a crash point between two writes).
    #[serde(default)]
    pub after_write: Option<Loc<RawAfterWrite>>,
    /// At most this many restarts.
    #[serde(default)]
    pub times: Option<Loc<u32>>,
    #[serde(default)]
    pub from: Option<Loc<String>>,
    #[serde(default)]
    pub until: Option<Loc<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawAfterWrite {
    pub verb: Loc<String>,
    pub kind: Loc<String>,
}

/// The expectation: `holds: [all]`, or invariants that must hold and/or be violated.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawExpect {
    /// Invariant names, or `all` (every invariant not listed under `violated`).
    #[serde(default)]
    pub holds: Vec<Loc<String>>,
    /// Invariants the run must violate (a zoo entry or a canary).
    #[serde(default)]
    pub violated: Vec<Loc<String>>,
    /// How long after the last fault heals the system must have converged (default 1h).
    #[serde(default)]
    pub grace: Option<Loc<String>>,
    /// Phases Backups or Restores must be in at the end (`{kind: Restore, name: r1, namespace: test1, phase: Failed}`).
    #[serde(default)]
    pub phases: Vec<Loc<RawPhase>>,
    /// Storage that must (or must not) hold data at the end: `{url: s3://backup/demo, present: true}`.
    #[serde(default)]
    pub data: Vec<Loc<RawData>>,
    /// `bounded-api-cost`'s budget: requests by one controller about one object within a window
    /// (default `{requests: 100, window: 10m}`).
    #[serde(default)]
    pub api_budget: Option<Loc<RawApiBudget>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawApiBudget {
    pub requests: Loc<u64>,
    pub window: Loc<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawData {
    pub url: Loc<String>,
    pub present: Loc<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawPhase {
    pub kind: Loc<String>,
    pub name: Loc<String>,
    #[serde(default)]
    pub namespace: Option<Loc<String>>,
    pub phase: Loc<String>,
}
