//! `retention-safety`: the schedule's garbage collection never deletes a Backup younger than `maxReservedTime`,
//! never more than `maxBackups` asks, never the newest Complete one, never one that has not finished, and never
//! one that no schedule owns.
//!
//! Judged at the moment a deletion by the schedule controller starts, against the world as it was just before. A
//! user's edit of the retention rule that lands while a reconcile acts on the rule it read (between its read and
//! its delete, a few round trips) is a race every controller has: such a deletion may follow the rule as it was.

use operator::api::duration::format_duration;
use operator::api::{Backup, BackupPhase, BackupSchedule};
use operator::cluster::Kind;
use operator::controllers::schedule::retention::Retention;
use std::collections::BTreeMap;
use std::time::Duration;

use super::{Ctx, Family, Hook, created, owner_uid, schedule_backups, schedule_of, unfinished};
use crate::controller_id::ControllerId;
use crate::scenario::model::{InvariantId, Scenario};
use crate::time::SimTime;
use crate::world::{Change, ChangeType};

/// The round trips a schedule reconcile may make between reading its schedule and deleting a Backup (the live reads,
/// a create, a status write, the deletes before this one).
const ROUND_TRIPS_IN_A_RECONCILE: u32 = 8;

pub struct RetentionSafety {
    /// Schedule uid -> the rule before its last change, and when it changed.
    replaced: BTreeMap<String, (Retention, SimTime)>,
    /// How long before a deletion the rule it follows may have been replaced.
    race: Duration,
}

impl RetentionSafety {
    pub fn new(scenario: &Scenario) -> Self {
        let race = scenario.timing.api_latency.hi * 2 * ROUND_TRIPS_IN_A_RECONCILE;
        RetentionSafety { replaced: BTreeMap::new(), race }
    }

    fn observe_schedule(&mut self, change: &Change) {
        let Some(new) = change.obj.view::<BackupSchedule>() else { return };
        let Some(old) = change.old.as_ref().and_then(|o| o.get::<BackupSchedule>()) else { return };
        let uid = new.metadata.uid.clone().unwrap_or_default();
        if change.type_ == ChangeType::Deleted {
            self.replaced.remove(&uid);
        } else if Retention::of(&old) != Retention::of(new) {
            self.replaced.insert(uid, (Retention::of(&old), change.time));
        }
    }

    /// The rule a deletion at `now` may have followed besides the current one: the one a user just replaced.
    fn raced(&self, uid: &str, now: SimTime) -> Option<Retention> {
        let (rule, at) = self.replaced.get(uid)?;
        (now.since(*at) <= self.race).then_some(*rule)
    }
}

/// What `rule` says against deleting `old` (`age` old) while `remaining` other Backups of its schedule stay: its age
/// rule, then its count rule.
fn against(rule: Retention, name: &str, age: Duration, remaining: usize) -> [Option<String>; 2] {
    match rule {
        Retention::Age(max_age) if age < max_age => [
            Some(format!(
                "deleted Backup {name} aged {}, younger than maxReservedTime {}",
                format_duration(age),
                format_duration(max_age)
            )),
            None,
        ],
        Retention::Count(max) if remaining < max as usize => {
            [None, Some(format!("deleted Backup {name}, leaving {remaining} Backups where maxBackups is {max}"))]
        }
        _ => [None, None],
    }
}

impl Family for RetentionSafety {
    fn id(&self) -> InvariantId {
        InvariantId::RetentionSafety
    }

    fn hooks(&self) -> &'static [Hook] {
        &[Hook::Change]
    }

    fn on_change(&mut self, ctx: &Ctx, change: &Change) -> Vec<String> {
        if change.obj.kind() == Kind::BackupSchedule {
            self.observe_schedule(change);
            return Vec::new();
        }
        let collector = ctx.actor == ControllerId::Schedule.as_str();
        if change.obj.kind() != Kind::Backup || !(collector || ctx.actor == "operator") {
            return Vec::new();
        }
        let Some(old) = change.old.as_ref().and_then(|o| o.get::<Backup>()) else { return Vec::new() };
        let Some(new) = change.obj.view::<Backup>() else { return Vec::new() };
        let deletion_started = old.metadata.deletion_timestamp.is_none()
            && (change.type_ == ChangeType::Deleted || new.metadata.deletion_timestamp.is_some());
        if !deletion_started {
            return Vec::new();
        }
        let name = old.metadata.name.clone().unwrap_or_default();
        // Served runs know only "operator" for whatever client deletes (a user's kubectl too): the two rules about
        // which Backups collection may pick at all are judged where the schedule controller is known.
        if collector && owner_uid(&old).is_none() {
            return vec![format!("deleted Backup {name}, which no schedule owns")];
        }
        let Some(schedule) = schedule_of(ctx.world, &old) else { return Vec::new() };
        if collector && unfinished(&old) {
            return vec![format!(
                "deleted Backup {name} before it finished (phase {})",
                old.phase().map(|p| p.to_string()).unwrap_or_else(|| "none".into())
            )];
        }
        let age = ctx.now.since(created(&old.metadata));
        // The others as they stand now (this deletion applied), plus this one as it was.
        let uid = schedule.metadata.uid.clone().unwrap_or_default();
        let others: Vec<_> =
            schedule_backups(ctx.world, &uid).into_iter().filter(|b| b.metadata.name != old.metadata.name).collect();
        let remaining = others.iter().filter(|b| b.metadata.deletion_timestamp.is_none()).count();
        let mut rule = against(Retention::of(&schedule), &name, age, remaining);
        if rule.iter().any(Option::is_some)
            && self
                .raced(&uid, ctx.now)
                .is_some_and(|was| against(was, &name, age, remaining).iter().all(Option::is_none))
        {
            rule = [None, None];
        }
        let newer_complete = others.iter().any(|b| {
            b.metadata.deletion_timestamp.is_none()
                && b.phase() == Some(BackupPhase::Complete)
                && (created(&b.metadata), b.metadata.name.clone()) > (created(&old.metadata), old.metadata.name.clone())
        });
        let newest = (old.phase() == Some(BackupPhase::Complete) && !newer_complete)
            .then(|| format!("deleted Backup {name}, the newest Complete Backup of its schedule"));
        let [too_young, too_few] = rule;
        let found: Vec<String> = [too_young, newest, too_few].into_iter().flatten().collect();
        found
    }
}
