//! Invariant checkers, one family per file, fed by the simulation's events: world changes, the end of each
//! schedule reconcile, storage deletions, and the end of the run (where liveness is judged).

mod bounded_api_cost;
mod eventual_progress;
mod gc_not_starved;
mod log_backup_kept;
mod log_compacted;
mod log_task_stopped;
mod log_truncated;
mod no_lost_data;
mod no_orphan_data;
mod no_overlap;
mod one_per_tick;
mod one_writer;
mod pause_respected;
mod pitr_window;
mod retain_keeps_data;
mod retention_safety;
mod retries_honoured;
mod status_truth;

pub use crate::schedule_backups::schedule_owner_uid;
use operator::api::log_backup;
use operator::api::{Backup, BackupSchedule};
use operator::cluster::{Kind, ObjectKey, Verb};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::controller_id::ControllerId;
use crate::faults::FaultPlan;
use crate::log_tasks::LogTasks;
use crate::scenario::model::{InvariantId, Scenario};
use crate::storage::Storage;
use crate::time::SimTime;
use crate::trace::Trace;
use crate::world::{Change, World};

/// One broken invariant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub invariant: InvariantId,
    pub time: SimTime,
    pub message: String,
}

/// What a checker sees at each event.
pub struct Ctx<'a> {
    pub world: &'a World,
    pub storage: &'a Storage,
    /// The TiDB clusters' log backup tasks (empty where a hook does not need them).
    pub log_tasks: &'a LogTasks,
    pub now: SimTime,
    /// The actor that caused the change (`backup-schedule`, `user`, `gc`, ...).
    pub actor: &'a str,
}

/// The liveness window: faults healed at `heal`, the system had until `deadline` (= heal + grace) to converge,
/// and the run ended at `end`.
#[derive(Clone, Copy, Debug)]
pub struct Liveness {
    pub heal: SimTime,
    pub deadline: SimTime,
    pub end: SimTime,
    pub grace: Duration,
}

/// The hooks a family may answer (`at_end` is asked of every family).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hook {
    Change,
    ScheduleReconcile,
    ScheduleAttempt,
    Request,
    StorageDelete,
}

impl Hook {
    pub const ALL: [Hook; 5] =
        [Hook::Change, Hook::ScheduleReconcile, Hook::ScheduleAttempt, Hook::Request, Hook::StorageDelete];
}

/// One family of invariants. Each hook returns the violations it found.
pub trait Family {
    fn id(&self) -> InvariantId;
    /// The hooks it answers: the checker asks only these (each request and change would otherwise call every
    /// family's empty default). A hook left out here is never called, and the family's canary or zoo story stops
    /// breaking it (`simulator/tests/teeth.rs` fails).
    fn hooks(&self) -> &'static [Hook] {
        &Hook::ALL
    }
    fn on_change(&mut self, _ctx: &Ctx, _change: &Change) -> Vec<String> {
        Vec::new()
    }
    fn after_schedule_reconcile(&mut self, _ctx: &Ctx, _schedule: &ObjectKey) -> Vec<String> {
        Vec::new()
    }
    /// After every schedule reconcile, whether it succeeded or failed.
    fn after_schedule_attempt(&mut self, _ctx: &Ctx, _schedule: &ObjectKey) -> Vec<String> {
        Vec::new()
    }
    /// Each API request a controller of the operator sends (when it reaches the API server).
    fn on_request(&mut self, _ctx: &Ctx, _controller: &str, _verb: Verb, _kind: Kind, _key: &ObjectKey) -> Vec<String> {
        Vec::new()
    }
    fn on_storage_delete(&mut self, _ctx: &Ctx, _url: &str) -> Vec<String> {
        Vec::new()
    }
    /// At the end of the run; `liveness` is set when every fault healed early enough to judge convergence.
    fn at_end(&mut self, _ctx: &Ctx, _liveness: Option<Liveness>) -> Vec<String> {
        Vec::new()
    }
}

/// All families, and the violations found so far (every one, in order; the first is what a run reports).
pub struct Checker {
    families: Vec<Box<dyn Family>>,
    /// For each hook (by `Hook as usize`), the families that answer it, in the families' order.
    answering: [Vec<usize>; Hook::ALL.len()],
    pub violations: Vec<Violation>,
    /// Violations per invariant (beyond the first few, only counted).
    pub counts: BTreeMap<InvariantId, u64>,
    pub heal: Option<SimTime>,
    pub grace: Duration,
    /// Why liveness was not judged, when it was not.
    pub liveness_skipped: Option<String>,
}

/// How many violations of one invariant are kept with their message.
const KEEP_PER_INVARIANT: u64 = 5;

impl Checker {
    pub fn new(scenario: &Scenario, plan: &FaultPlan) -> Checker {
        let heal = plan.heal;
        let families: Vec<Box<dyn Family>> = vec![
            Box::new(status_truth::StatusTruth::default()),
            Box::new(no_overlap::NoOverlap::default()),
            Box::new(one_per_tick::OnePerTick::default()),
            Box::new(retention_safety::RetentionSafety::new(scenario)),
            Box::new(no_lost_data::NoLostData::default()),
            Box::new(no_orphan_data::NoOrphanData::default()),
            Box::new(eventual_progress::EventualProgress::new(scenario)),
            Box::new(gc_not_starved::GcNotStarved::new(plan)),
            Box::new(bounded_api_cost::BoundedApiCost::new(scenario.expect.api_budget)),
            Box::new(pause_respected::PauseRespected::new(scenario)),
            Box::new(retain_keeps_data::RetainKeepsData::default()),
            Box::new(retries_honoured::RetriesHonoured),
            Box::new(one_writer::OneWriter::default()),
            Box::new(log_task_stopped::LogTaskStopped),
            Box::new(log_backup_kept::LogBackupKept::default()),
            Box::new(pitr_window::PitrWindow::default()),
            Box::new(log_truncated::LogTruncated::default()),
            Box::new(log_compacted::LogCompacted::default()),
        ];
        let answering =
            Hook::ALL.map(|hook| (0..families.len()).filter(|&i| families[i].hooks().contains(&hook)).collect());
        Checker {
            families,
            answering,
            violations: Vec::new(),
            counts: BTreeMap::new(),
            heal,
            grace: scenario.expect.grace,
            liveness_skipped: None,
        }
    }

    fn record(&mut self, id: InvariantId, now: SimTime, messages: Vec<String>, trace: &mut Trace) {
        for message in messages {
            let n = self.counts.entry(id).or_default();
            *n += 1;
            if *n <= KEEP_PER_INVARIANT {
                trace.record(now, "checker", "violation", format_args!("{id}"), format_args!("{message}"));
                self.violations.push(Violation { invariant: id, time: now, message });
            }
        }
    }

    /// Asks the families that answer `hook` (every family, for `None`: the end of the run).
    fn each(
        &mut self,
        hook: Option<Hook>,
        now: SimTime,
        trace: &mut Trace,
        mut f: impl FnMut(&mut dyn Family) -> Vec<String>,
    ) {
        let n = hook.map_or(self.families.len(), |h| self.answering[h as usize].len());
        for j in 0..n {
            let i = hook.map_or(j, |h| self.answering[h as usize][j]);
            let found = f(self.families[i].as_mut());
            if !found.is_empty() {
                let id = self.families[i].id();
                self.record(id, now, found, trace);
            }
        }
    }

    pub fn on_change(
        &mut self,
        world: &World,
        stores: (&Storage, &LogTasks),
        change: &Change,
        actor: &str,
        trace: &mut Trace,
    ) {
        let (storage, log_tasks) = stores;
        let ctx = Ctx { world, storage, log_tasks, now: change.time, actor };
        self.each(Some(Hook::Change), change.time, trace, |f| f.on_change(&ctx, change));
    }

    pub fn after_schedule_reconcile(&mut self, world: &World, key: &ObjectKey, now: SimTime, trace: &mut Trace) {
        let (storage, log_tasks) = (Storage::default(), LogTasks::default());
        let ctx = Ctx { world, storage: &storage, log_tasks: &log_tasks, now, actor: ControllerId::Schedule.as_str() };
        self.each(Some(Hook::ScheduleReconcile), now, trace, |f| f.after_schedule_reconcile(&ctx, key));
    }

    /// After any schedule reconcile, successful or not.
    pub fn after_schedule_attempt(&mut self, world: &World, key: &ObjectKey, now: SimTime, trace: &mut Trace) {
        let (storage, log_tasks) = (Storage::default(), LogTasks::default());
        let ctx = Ctx { world, storage: &storage, log_tasks: &log_tasks, now, actor: ControllerId::Schedule.as_str() };
        self.each(Some(Hook::ScheduleAttempt), now, trace, |f| f.after_schedule_attempt(&ctx, key));
    }

    /// A request by one of the operator's controllers.
    #[allow(clippy::too_many_arguments)]
    pub fn on_request(
        &mut self,
        world: &World,
        controller: &str,
        verb: Verb,
        kind: Kind,
        key: &ObjectKey,
        now: SimTime,
        trace: &mut Trace,
    ) {
        let (storage, log_tasks) = (Storage::default(), LogTasks::default());
        let ctx = Ctx { world, storage: &storage, log_tasks: &log_tasks, now, actor: controller };
        self.each(Some(Hook::Request), now, trace, |f| f.on_request(&ctx, controller, verb, kind, key));
    }

    /// `actor` deleted stored objects under `url` (`user` for a scenario's own wipe).
    pub fn on_storage_delete(&mut self, world: &World, actor: &str, url: &str, now: SimTime, trace: &mut Trace) {
        let (storage, log_tasks) = (Storage::default(), LogTasks::default());
        let ctx = Ctx { world, storage: &storage, log_tasks: &log_tasks, now, actor };
        self.each(Some(Hook::StorageDelete), now, trace, |f| f.on_storage_delete(&ctx, url));
    }

    /// Final checks; liveness is judged only if every fault healed at least `grace` before `end`.
    pub fn at_end(&mut self, world: &World, stores: (&Storage, &LogTasks), end: SimTime, trace: &mut Trace) {
        let (storage, log_tasks) = stores;
        let liveness = match self.heal {
            Some(heal) if heal.plus(self.grace) <= end => {
                Some(Liveness { heal, deadline: heal.plus(self.grace), end, grace: self.grace })
            }
            Some(heal) => {
                self.liveness_skipped = Some(format!(
                    "the last fault heals at {heal}, and {} of grace ends after the run ({end})",
                    operator::api::duration::format_duration(self.grace)
                ));
                None
            }
            None => {
                self.liveness_skipped = Some("a fault never heals".into());
                None
            }
        };
        let ctx = Ctx { world, storage, log_tasks, now: end, actor: "checker" };
        self.each(None, end, trace, |f| f.at_end(&ctx, liveness));
    }

    /// Whether `id` was violated.
    pub fn violated(&self, id: InvariantId) -> bool {
        self.counts.contains_key(&id)
    }
}

/// When each schedule's spec last changed (its creation counts): a user's edit restarts the clocks that liveness
/// checks run on, like a healed fault.
#[derive(Debug, Default)]
pub struct SpecEdits(BTreeMap<String, SimTime>);

impl SpecEdits {
    /// Notes a schedule change; true when `change` was about a schedule.
    pub fn observe(&mut self, change: &Change) -> bool {
        let Some(s) = change.obj.view::<BackupSchedule>() else { return false };
        let old = change.old.as_ref().and_then(|o| o.get::<BackupSchedule>());
        if old.is_none_or(|o| o.spec != s.spec) {
            self.0.insert(s.metadata.uid.clone().unwrap_or_default(), change.time);
        }
        true
    }

    /// When the spec of the schedule with `uid` last changed.
    pub fn last(&self, uid: &str) -> Option<SimTime> {
        self.0.get(uid).copied()
    }
}

/// The schedules that have a `logBackupTemplate`, by uid, as their changes go by: families about log backups skip
/// every other schedule's Backups without looking at the world.
#[derive(Debug, Default)]
pub struct PitrSchedules(std::collections::BTreeSet<String>);

impl PitrSchedules {
    /// Notes a schedule change; true when `change` was about a schedule.
    pub fn observe(&mut self, change: &Change) -> bool {
        let Some(s) = change.obj.view::<BackupSchedule>() else { return false };
        let uid = s.metadata.uid.clone().unwrap_or_default();
        if s.spec.log_backup_template.is_some() && change.type_ != crate::world::ChangeType::Deleted {
            self.0.insert(uid);
        } else {
            self.0.remove(&uid);
        }
        true
    }

    pub fn contains(&self, uid: &str) -> bool {
        self.0.contains(uid)
    }
}

/// The snapshot Backups owned by the schedule with `uid`, from the world, by key (its log backup is not one of them).
pub fn schedule_backups<'a>(world: &'a World, uid: &str) -> Vec<&'a Backup> {
    world.schedule_backups(uid).collect()
}

/// The log backups owned by the schedule with `uid` (one, unless something went wrong), from the world, by key.
pub fn schedule_log_backups<'a>(world: &'a World, uid: &str) -> Vec<&'a Backup> {
    world.schedule_log_backups(uid).collect()
}

/// The uid of a Backup's controlling BackupSchedule, if any.
pub fn owner_uid(b: &Backup) -> Option<&str> {
    schedule_owner_uid(&b.metadata)
}

/// The schedule owning the snapshot Backup `b`, from the world (`None` for a log backup).
pub fn schedule_of(world: &World, b: &Backup) -> Option<Arc<BackupSchedule>> {
    if log_backup::is_log(&b.spec) {
        return None;
    }
    let owner = b.metadata.owner_references.as_ref()?.iter().find(|r| r.kind == "BackupSchedule")?;
    let key = ObjectKey::new(b.metadata.namespace.clone().unwrap_or_default(), owner.name.clone());
    world
        .get(Kind::BackupSchedule, &key)
        .and_then(|o| o.get::<BackupSchedule>())
        .filter(|s| s.metadata.uid.as_deref() == Some(owner.uid.as_str()))
}

/// Unfinished: not Complete or Failed (nor past them into cleaning, nor Invalid), whether or not being deleted.
pub fn unfinished(b: &Backup) -> bool {
    !b.is_finished()
}

/// Creation time in simulated time.
pub fn created(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> SimTime {
    meta.creation_timestamp.as_ref().map(SimTime::from_k8s).unwrap_or_default()
}

/// Objects in the order of their creation: time, then name (a key that borrows the name, so sorting copies none).
pub fn creation_order(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> (SimTime, Option<&str>) {
    (created(meta), meta.name.as_deref())
}

/// Deletion time in simulated time.
pub fn deleted_at(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> Option<SimTime> {
    meta.deletion_timestamp.as_ref().map(SimTime::from_k8s)
}

/// The data location URL of a Backup.
pub fn data_url(b: &Backup) -> Option<String> {
    b.spec.storage.location().map(|l| l.url())
}
