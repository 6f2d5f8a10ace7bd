//! `gc-not-starved`: an expired Backup is deleted within a bound of expiring, even while new Backups cannot be
//! created (a failing create must never keep garbage collection waiting: under an object-count ResourceQuota that
//! is a deadlock). Judged after every schedule reconcile, failed or not, and at the end of the run; time when the
//! operator was down, its other requests failed beyond the background rate, or its watch of Backups was stalled does
//! not count.

use operator::api::duration::format_duration;
use operator::api::validation;
use operator::api::{Backup, BackupSchedule};
use operator::cluster::{Kind, ObjectKey, Verb};
use operator::controllers::schedule::retention::Retention;
use std::collections::BTreeSet;
use std::time::Duration;

use super::{Ctx, Family, Hook, Liveness, SpecEdits, created, creation_order, schedule_owner_uid};
use crate::controller_id::ControllerId;
use crate::faults::FaultPlan;
use crate::lookup::Lookup;
use crate::object::Obj;
use crate::scenario::model::{FaultKind, InvariantId};
use crate::time::SimTime;
use crate::world::{Change, ChangeType};

/// How long after expiring a Backup may still be waiting for its delete request.
pub const GC_BOUND: Duration = Duration::from_secs(15 * 60);

pub struct GcNotStarved {
    /// Windows in which the operator could not be expected to delete: it was down, its requests other than
    /// creates failed beyond the background rate, or its watch of Backups was stalled.
    excused: Vec<(SimTime, Option<SimTime>)>,
    /// Backup uid -> when it finished (Complete or Failed). By uid: looked up for every Backup of a schedule after
    /// each of its reconciles, without building a key.
    finished: Lookup<String, SimTime>,
    /// A new retention rule starts its own clock.
    spec_changed: SpecEdits,
    /// Backups already reported (once each).
    reported: BTreeSet<ObjectKey>,
    /// Schedule uid -> whether its spec at this generation is one the operator accepts (validated once per spec).
    valid: Lookup<String, (Option<i64>, bool)>,
    /// Schedule uid -> until when a check can find nothing new, as the last one left it: every Backup then overdue
    /// was reported or excused (for good: an excuse covers any later instant too), and the next falls due after
    /// this. Any change to the schedule or to one of its Backups forgets it. A schedule is checked after each of its
    /// reconciles (every half minute or so, each a pass over its Backups): most would find nothing.
    quiet_until: Lookup<String, SimTime>,
}

impl GcNotStarved {
    pub fn new(plan: &FaultPlan) -> Self {
        let excused = plan
            .faults
            .iter()
            .filter(|f| match &f.kind {
                FaultKind::OperatorDown => true,
                // Errors beyond the background rate on anything but creates: the reconciles that would collect
                // fail too, and backoff spaces them (refused creates alone are what this oracle is about).
                FaultKind::ApiErrors { verbs, .. } => {
                    !f.kind.is_background() && (verbs.is_empty() || verbs.iter().any(|v| *v != Verb::Create))
                }
                // The schedule controller's watch of Backups is stalled: it cannot see the completion that makes
                // an older Backup expire (only a live read could, and nothing prompts one).
                FaultKind::WatchStall { controller, kinds } => {
                    controller.is_none_or(|c| c == ControllerId::Schedule)
                        && (kinds.is_empty() || kinds.contains(&Kind::Backup))
                }
                _ => false,
            })
            .map(|f| (f.from, f.until))
            .collect();
        GcNotStarved {
            excused,
            finished: Lookup::default(),
            valid: Lookup::default(),
            spec_changed: SpecEdits::default(),
            reported: BTreeSet::new(),
            quiet_until: Lookup::default(),
        }
    }

    /// Forgets what the last check of the schedule that `change` is about (itself, or one of its Backups, before or
    /// after the change) found. A write that leaves alone all a check reads disturbs nothing: of a Backup, its
    /// schedule and whether it finished, completed or is being deleted (most are progress and condition writes); of
    /// a schedule, its spec (the generation) and whether it is being deleted (its status writes are not).
    fn disturbed(&mut self, change: &Change) {
        if change.type_ == ChangeType::Modified
            && let Some(old) = &change.old
            && same_for_collection(old, &change.obj)
        {
            return;
        }
        let objects = std::iter::once(&change.obj).chain(change.old.as_ref());
        for o in objects {
            let uid = match o.kind() {
                Kind::BackupSchedule => o.meta().uid.as_deref(),
                Kind::Backup => schedule_owner_uid(o.meta()),
                _ => None,
            };
            if let Some(uid) = uid {
                self.quiet_until.remove(uid);
            }
        }
    }

    /// When `b` finished, if it has.
    fn finished_at(&self, b: &Backup) -> Option<SimTime> {
        self.finished.get(b.metadata.uid.as_deref()?).copied()
    }

    fn excused_between(&self, from: SimTime, to: SimTime) -> bool {
        self.excused.iter().any(|(a, b)| *a <= to && b.is_none_or(|b| b > from))
    }

    /// When `b` became garbage under the schedule's rule, if it has.
    /// `newer_base`: with a log backup, the earliest time a newer Complete Backup was old enough to be the base of
    /// point-in-time restores in `b`'s place (see `retention::expired`); `rule`: the schedule's retention.
    fn expired_at(
        &self,
        s: &BackupSchedule,
        b: &Backup,
        newer: (&[SimTime], Option<SimTime>),
        rule: Retention,
    ) -> Option<SimTime> {
        let (newer_complete, newer_base) = newer;
        let finished = self.finished_at(b)?;
        let rule_since = self.spec_changed.last(s.metadata.uid.as_deref()?).unwrap_or_default();
        let due = match rule {
            // Never the newest Complete one: it expires only once a newer one completed.
            Retention::Age(age) if s.spec.log_backup_template.is_some() && b.is_complete() => {
                created(&b.metadata).plus(age).max(newer_base?)
            }
            Retention::Age(age) => created(&b.metadata).plus(age).max(*newer_complete.first()?),
            Retention::Count(n) => *newer_complete.get(usize::try_from(n).ok()?.checked_sub(1)?)?,
            Retention::KeepAll => return None,
        };
        Some(due.max(finished).max(rule_since))
    }

    /// Whether the operator accepts `schedule`'s spec, validated once per generation (a spec change bumps it).
    fn accepted(&mut self, uid: &str, schedule: &BackupSchedule) -> bool {
        let generation = schedule.metadata.generation;
        match self.valid.get(uid) {
            Some((g, ok)) if *g == generation => *ok,
            _ => {
                let ok = validation::schedule(schedule).is_empty();
                self.valid.insert(uid.to_string(), (generation, ok));
                ok
            }
        }
    }

    fn check(&mut self, ctx: &Ctx, schedule: &BackupSchedule) -> Vec<String> {
        // A spec the operator refuses runs nothing, collection included, until it is fixed (and the fix starts the
        // retention clock again).
        let Some(uid) = schedule.metadata.uid.as_deref() else { return Vec::new() };
        if self.quiet_until.get(uid).is_some_and(|t| ctx.now <= *t) {
            return Vec::new();
        }
        if schedule.metadata.deletion_timestamp.is_some() || !self.accepted(uid, schedule) {
            return Vec::new();
        }
        // Each Backup's place in creation order read once, not at every comparison.
        let mut ordered: Vec<_> = ctx.world.schedule_backups(uid).map(|b| (creation_order(&b.metadata), b)).collect();
        ordered.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out = Vec::new();
        // Newest first, keeping the finish times of the Complete Backups seen so far (the newer ones) sorted: one
        // pass, not one per Backup. The messages are reversed at the end, oldest Backup first.
        let mut newer_complete: Vec<SimTime> = Vec::new();
        let mut newer_base: Option<SimTime> = None;
        let rule = Retention::of(schedule);
        let mut quiet = SimTime(i64::MAX);
        for (_, b) in ordered.iter().rev() {
            let due = match b.metadata.deletion_timestamp {
                None => self.expired_at(schedule, b, (&newer_complete, newer_base), rule),
                Some(_) => None,
            };
            if b.is_complete()
                && let Some(t) = self.finished_at(b)
            {
                newer_complete.insert(newer_complete.partition_point(|x| *x <= t), t);
                if let Retention::Age(age) = rule {
                    let base_from = t.max(created(&b.metadata).plus(age));
                    newer_base = Some(newer_base.map_or(base_from, |n| n.min(base_from)));
                }
            }
            let Some(due) = due else { continue };
            let deadline = due.plus(GC_BOUND);
            if ctx.now <= deadline {
                quiet = quiet.min(deadline);
                continue;
            }
            if self.excused_between(due, ctx.now) {
                continue;
            }
            let key = ObjectKey::of(&**b);
            if self.reported.insert(key.clone()) {
                out.push(format!(
                    "Backup {key} of BackupSchedule {}/{} expired at {due} and is still not being deleted at {} \
                     (more than {} later)",
                    key.namespace,
                    schedule.metadata.name.as_deref().unwrap_or_default(),
                    ctx.now,
                    format_duration(GC_BOUND)
                ));
            }
        }
        self.quiet_until.insert(uid.to_string(), quiet);
        out.reverse();
        out
    }
}

/// Whether two versions of a Backup or a schedule look the same to a check (uids, names and creation times never
/// change): a Backup with the same schedule and the same answers to whether it finished, completed and is being
/// deleted; a schedule with the same generation and the same answer to whether it is being deleted.
fn same_for_collection(old: &Obj, new: &Obj) -> bool {
    let deleting = |o: &Obj| o.meta().deletion_timestamp.is_some();
    if deleting(old) != deleting(new) {
        return false;
    }
    match (old.view::<Backup>(), new.view::<Backup>()) {
        (Some(old), Some(new)) => {
            schedule_owner_uid(&old.metadata) == schedule_owner_uid(&new.metadata)
                && old.is_finished() == new.is_finished()
                && old.is_complete() == new.is_complete()
        }
        _ => {
            old.kind() == Kind::BackupSchedule
                && new.kind() == Kind::BackupSchedule
                && old.meta().generation == new.meta().generation
        }
    }
}

impl Family for GcNotStarved {
    fn id(&self) -> InvariantId {
        InvariantId::GcNotStarved
    }

    fn hooks(&self) -> &'static [Hook] {
        &[Hook::Change, Hook::ScheduleAttempt]
    }

    fn on_change(&mut self, _ctx: &Ctx, change: &Change) -> Vec<String> {
        self.disturbed(change);
        if self.spec_changed.observe(change) {
            return Vec::new();
        }
        let Some(b) = change.obj.view::<Backup>() else { return Vec::new() };
        let Some(uid) = b.metadata.uid.as_deref() else { return Vec::new() };
        if change.type_ == ChangeType::Deleted {
            // Gone for good: a Backup created later under the same name starts its own clock (and the maps stay
            // the size of the world, not of its history).
            self.finished.remove(uid);
            self.reported.remove(&ObjectKey::of(b));
        } else if b.is_finished() && self.finished.get(uid).is_none() {
            self.finished.insert(uid.to_string(), change.time);
        }
        Vec::new()
    }

    fn after_schedule_attempt(&mut self, ctx: &Ctx, key: &ObjectKey) -> Vec<String> {
        match ctx.world.get(Kind::BackupSchedule, key).and_then(|o| o.get::<BackupSchedule>()) {
            Some(s) => self.check(ctx, &s),
            None => Vec::new(),
        }
    }

    fn at_end(&mut self, ctx: &Ctx, _liveness: Option<Liveness>) -> Vec<String> {
        let schedules: Vec<_> =
            ctx.world.iter_kind(Kind::BackupSchedule).filter_map(|o| o.get::<BackupSchedule>()).collect();
        schedules.iter().flat_map(|s| self.check(ctx, s)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
    use operator::api::{BackupPhase, BackupStatus};

    fn backup(phase: Option<BackupPhase>, size: Option<&str>) -> Obj {
        let owner = OwnerReference { kind: "BackupSchedule".into(), uid: "s-1".into(), ..Default::default() };
        let mut b = Backup::new("demo-1", Default::default());
        b.metadata = ObjectMeta {
            name: Some("demo-1".into()),
            namespace: Some("ns".into()),
            uid: Some("b-1".into()),
            owner_references: Some(vec![owner]),
            ..Default::default()
        };
        b.status = Some(BackupStatus { phase, backup_size_readable: size.map(Into::into), ..Default::default() });
        Obj::wrap(b)
    }

    fn modified(old: Obj, obj: Obj) -> Change {
        Change { time: SimTime(1), type_: ChangeType::Modified, obj, old: Some(old), rv: 2 }
    }

    #[test]
    fn a_backup_write_that_changes_nothing_a_check_reads_keeps_the_schedules_quiet_time() {
        let mut family = GcNotStarved::new(&FaultPlan::default());
        family.quiet_until.insert("s-1".into(), SimTime(100));
        let running = || backup(Some(BackupPhase::Running), None);
        family.disturbed(&modified(running(), backup(Some(BackupPhase::Running), Some("1 MiB"))));
        assert_eq!(family.quiet_until.get("s-1"), Some(&SimTime(100)), "a progress write is not a disturbance");
        family.disturbed(&modified(running(), backup(Some(BackupPhase::Complete), Some("1 MiB"))));
        assert_eq!(family.quiet_until.get("s-1"), None, "a completion changes what expires when");
    }

    #[test]
    fn a_schedules_status_write_keeps_its_quiet_time_and_a_spec_change_does_not() {
        let schedule = |generation: i64, last: Option<&str>| {
            let mut s = BackupSchedule::new("demo", Default::default());
            s.metadata.uid = Some("s-1".into());
            s.metadata.generation = Some(generation);
            s.status =
                Some(operator::api::BackupScheduleStatus { last_backup: last.map(Into::into), ..Default::default() });
            Obj::wrap(s)
        };
        let mut family = GcNotStarved::new(&FaultPlan::default());
        family.quiet_until.insert("s-1".into(), SimTime(100));
        family.disturbed(&modified(schedule(1, None), schedule(1, Some("demo-1"))));
        assert_eq!(family.quiet_until.get("s-1"), Some(&SimTime(100)), "lastBackup is not read by the check");
        family.disturbed(&modified(schedule(1, Some("demo-1")), schedule(2, Some("demo-1"))));
        assert_eq!(family.quiet_until.get("s-1"), None, "a new spec may hold a new retention rule");
    }
}
