//! A workload being drawn: the seed's stream, the schedules the story knows so far, and the steps and faults the
//! actions add. Actions only call these helpers, so every action reads as a few lines of story.

use chrono::{DateTime, Utc};
use operator::api::BackupSchedule;
use operator::api::cron::CronSchedule;
use operator::cluster::{Kind, ObjectKey};
use rand::RngExt;
use serde_json::{Value, json};
use std::time::Duration;

use crate::object::Obj;
use crate::rng::{Stream, WorldRng, draw};
use crate::scenario::model::{Fault, FaultKind, Scenario, Span, Step, StepAction};

/// A schedule the story created (or the scenario started with), as it was created.
#[derive(Clone, Debug)]
pub struct Known {
    pub schedule: BackupSchedule,
    /// When it exists from (offset from the start).
    pub since: Duration,
}

impl Known {
    pub fn key(&self) -> ObjectKey {
        ObjectKey::of(&self.schedule)
    }

    /// The schedule's first tick strictly after offset `after`, as an offset, if its cron parses.
    pub fn tick_after(&self, start: DateTime<Utc>, after: Duration) -> Option<Duration> {
        let cron = CronSchedule::of(&self.schedule).ok()?;
        let t = cron.tick_after(start + chrono::Duration::from_std(after).ok()?)?;
        (t - start).to_std().ok()
    }

    /// The name the schedule gives the Backup of the tick at offset `tick`.
    pub fn backup_name(&self, start: DateTime<Utc>, tick: Duration) -> String {
        let t = start + chrono::Duration::from_std(tick).unwrap_or_default();
        operator::api::names::scheduled_backup_name(self.schedule.metadata.name.as_deref().unwrap_or_default(), t)
    }
}

/// A variant added to an action after its vocabulary settled, each drawn from a stream of its own: drawing one never
/// moves the main stream nor another variant's, so a seed's actions and earlier variants stay the ones it always drew.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// A schedule's log backup (`logBackupTemplate`).
    LogBackup,
    /// A PITR schedule's compaction (`compactBackupTemplate`, `compactInterval`).
    Compaction,
}

impl Variant {
    fn stream(self) -> &'static str {
        match self {
            Variant::LogBackup => "workload-variants",
            Variant::Compaction => "workload-compactions",
        }
    }
}

/// The state of one drawing.
pub struct Draft {
    rng: Stream,
    /// The variants' streams, in [`Variant`] order.
    variants: [Stream; 2],
    pub start: DateTime<Utc>,
    pub duration: Duration,
    pub schedules: Vec<Known>,
    pub steps: Vec<Step>,
    pub faults: Vec<Fault>,
    /// The number of the action being drawn (names and notes carry it, so they never collide).
    pub action: usize,
    /// The vocabulary name of the action being drawn (notes carry it).
    pub kind: &'static str,
    /// How long backups take, when an action changed it.
    pub backup_time: Option<Span>,
}

/// The namespace generated objects live in unless they join a scenario's schedule.
pub const NAMESPACE: &str = "gen";

impl Draft {
    /// A draft drawing from `world`'s `workload` stream and the variants' streams.
    pub fn new(scenario: &Scenario, world: &WorldRng) -> Draft {
        let schedules = scenario
            .objects
            .iter()
            .filter_map(|o| o.get::<BackupSchedule>())
            .map(|s| Known { schedule: (*s).clone(), since: Duration::ZERO })
            .collect();
        Draft {
            rng: world.stream("workload"),
            variants: [Variant::LogBackup, Variant::Compaction].map(|v| world.stream(v.stream())),
            start: scenario.start,
            duration: scenario.duration,
            schedules,
            steps: Vec::new(),
            faults: Vec::new(),
            action: 0,
            kind: "",
            backup_time: None,
        }
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p.clamp(0.0, 1.0))
    }

    /// True with probability `p`, from `variant`'s stream (see [`Variant`]).
    pub fn variant(&mut self, variant: Variant, p: f64) -> bool {
        self.variants[variant as usize].random_bool(p.clamp(0.0, 1.0))
    }

    /// One of `items`, uniformly, from `variant`'s stream.
    pub fn variant_pick<T: Clone>(&mut self, variant: Variant, items: &[T]) -> T {
        items[self.variants[variant as usize].random_range(0..items.len())].clone()
    }

    /// One of `items`, uniformly.
    pub fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.rng.random_range(0..items.len())].clone()
    }

    /// A whole number in `lo..=hi`.
    pub fn number(&mut self, lo: i64, hi: i64) -> i64 {
        self.rng.random_range(lo..=hi.max(lo))
    }

    /// A duration in `lo..=hi`, in whole seconds.
    pub fn duration(&mut self, lo: Duration, hi: Duration) -> Duration {
        Duration::from_secs(draw(&mut self.rng, lo, hi).as_secs())
    }

    /// When something happens: somewhere in the first 60% of the run, so what follows is seen and judged.
    pub fn when(&mut self) -> Duration {
        self.duration(Duration::ZERO, self.duration * 3 / 5)
    }

    /// A window starting at a drawn time, lasting `lo..=hi`, healed by 70% of the run (liveness is judged after).
    pub fn window(&mut self, lo: Duration, hi: Duration) -> (Duration, Duration) {
        let from = self.when();
        let until = (from + self.duration(lo, hi)).min(self.duration * 7 / 10).max(from + Duration::from_secs(1));
        (from, until)
    }

    /// A schedule the story knows that exists at `at`, if any.
    pub fn schedule_at(&mut self, at: Duration) -> Option<Known> {
        let alive: Vec<Known> = self.schedules.iter().filter(|k| k.since <= at).cloned().collect();
        (!alive.is_empty()).then(|| self.pick(&alive))
    }

    /// A fresh object name for this action.
    pub fn name(&self, what: &str) -> String {
        format!("{what}-{}", self.action)
    }

    /// The story line shared by the steps of this action.
    pub fn note(&self, text: impl std::fmt::Display) -> String {
        format!("action {} ({}): {text}", self.action, self.kind)
    }

    pub fn step(&mut self, at: Duration, note: &str, action: StepAction) {
        self.steps.push(Step { at, action, note: Some(note.to_string()) });
    }

    /// A JSON merge patch of a schedule's spec.
    pub fn patch_schedule(&mut self, at: Duration, note: &str, key: &ObjectKey, spec: Value) {
        self.patch(at, note, Kind::BackupSchedule, key, spec);
    }

    /// A JSON merge patch of an object's spec.
    pub fn patch(&mut self, at: Duration, note: &str, kind: Kind, key: &ObjectKey, spec: Value) {
        let patch = json!({ "spec": spec });
        self.step(at, note, StepAction::Patch { kind, key: key.clone(), patch });
    }

    pub fn delete(&mut self, at: Duration, note: &str, kind: Kind, key: ObjectKey) {
        self.step(at, note, StepAction::Delete { kind, key });
    }

    /// Creates `manifest` (a Backup, Restore or BackupSchedule as JSON); a schedule joins the known ones.
    pub fn create(&mut self, at: Duration, note: &str, manifest: Value) {
        let obj = match manifest["kind"].as_str() {
            Some("BackupSchedule") => serde_json::from_value::<BackupSchedule>(manifest).map(|s| {
                self.schedules.push(Known { schedule: s.clone(), since: at });
                Obj::wrap(s)
            }),
            Some("Restore") => serde_json::from_value::<operator::api::Restore>(manifest).map(Obj::wrap),
            _ => serde_json::from_value::<operator::api::Backup>(manifest).map(Obj::wrap),
        }
        .expect("the vocabulary writes well-formed manifests");
        self.step(at, note, StepAction::Create(obj));
    }

    /// A fault over `[from, until)`.
    pub fn fault(&mut self, kind: FaultKind, from: Duration, until: Duration) {
        self.faults.push(Fault { kind, from: Span::fixed(from), until: Some(Span::fixed(until)), line: 0 });
    }
}

/// A manifest of `kind` named `name` in the generated namespace.
pub fn manifest(kind: &str, name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "pingcap.com/v1alpha1",
        "kind": kind,
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": spec,
    })
}

/// The storage of a generated Backup: its own prefix in the test bucket.
pub fn storage(prefix: &str) -> Value {
    json!({"provider": "aws", "bucket": "backup", "prefix": prefix, "secretName": "s3-secret"})
}
