//! `schedule-status-truth`: between reconciles of a schedule, `status.lastBackup` names its newest existing
//! Backup, and is empty only if none exists.
//!
//! Checked when a schedule reconcile ends and at the end of the run. A `lastBackup` naming a Backup that was
//! deleted (by someone else) since is tolerated for the grace period: the controller may not have heard yet.

use operator::api::BackupSchedule;
use operator::cluster::{Kind, ObjectKey};

use super::{Ctx, Family, Hook, Liveness, created, schedule_backups};
use crate::lookup::Lookup;
use crate::scenario::model::InvariantId;
use crate::time::SimTime;
use crate::world::{Change, ChangeType};

#[derive(Default)]
pub struct StatusTruth {
    /// Every Backup ever seen: key -> (created, removed at). Hashed: a long run of a big world sees a hundred
    /// thousand, and each one created adds to it.
    seen: Lookup<ObjectKey, (SimTime, Option<SimTime>)>,
}

impl StatusTruth {
    fn check(&self, ctx: &Ctx, schedule: &BackupSchedule, tolerance: Option<std::time::Duration>) -> Option<String> {
        let uid = schedule.metadata.uid.as_deref()?;
        let ns = schedule.metadata.namespace.as_deref().unwrap_or_default();
        let name = schedule.metadata.name.as_deref().unwrap_or_default();
        let backups = schedule_backups(ctx.world, uid);
        let newest = backups.iter().max_by_key(|b| super::creation_order(&b.metadata));
        let last = schedule.status.as_ref().and_then(|s| s.last_backup.as_deref()).filter(|s| !s.is_empty());
        let newest_name = newest.and_then(|b| b.metadata.name.as_deref());
        match (last, newest_name) {
            (None, None) => None,
            (Some(l), Some(n)) if l == n => None,
            (None, Some(n)) => {
                Some(format!("BackupSchedule {ns}/{name}: status.lastBackup is empty but Backup {n} exists"))
            }
            (Some(l), newest) => {
                let key = ObjectKey::new(ns, l);
                if backups.iter().any(|b| b.metadata.name.as_deref() == Some(l)) {
                    return Some(format!(
                        "BackupSchedule {ns}/{name}: status.lastBackup names {l} but the newest Backup is {}",
                        newest.unwrap_or_default()
                    ));
                }
                // lastBackup was deleted: fine only if it was newer than every Backup that exists, and recently.
                let (born, removed) = self.seen.get(&key).copied().unwrap_or((SimTime::default(), None));
                if let Some(n) = newest.and_then(|n| backups.iter().find(|b| b.metadata.name.as_deref() == Some(n)))
                    && born < created(&n.metadata)
                {
                    return Some(format!(
                        "BackupSchedule {ns}/{name}: status.lastBackup names {l}, which is gone, while the newer Backup {} exists",
                        n.metadata.name.clone().unwrap_or_default()
                    ));
                }
                match (tolerance, removed) {
                    (Some(grace), Some(at)) if ctx.now.since(at) > grace => Some(format!(
                        "BackupSchedule {ns}/{name}: status.lastBackup still names {l}, deleted at {at}{}",
                        if newest.is_none() { " and no Backup exists" } else { "" }
                    )),
                    _ => None,
                }
            }
        }
    }
}

impl Family for StatusTruth {
    fn id(&self) -> InvariantId {
        InvariantId::ScheduleStatusTruth
    }

    fn hooks(&self) -> &'static [Hook] {
        &[Hook::Change, Hook::ScheduleReconcile]
    }

    fn on_change(&mut self, _ctx: &Ctx, change: &Change) -> Vec<String> {
        if change.obj.kind() == Kind::Backup {
            match change.type_ {
                ChangeType::Added => {
                    self.seen.insert(change.obj.key(), (created(change.obj.meta()), None));
                }
                ChangeType::Deleted => {
                    if let Some(entry) = self.seen.get_mut(&change.obj.key()) {
                        entry.1 = Some(change.time);
                    }
                }
                ChangeType::Modified => {}
            }
        }
        Vec::new()
    }

    fn after_schedule_reconcile(&mut self, ctx: &Ctx, key: &ObjectKey) -> Vec<String> {
        let Some(schedule) = ctx.world.get(Kind::BackupSchedule, key).and_then(|o| o.get::<BackupSchedule>()) else {
            return Vec::new();
        };
        self.check(ctx, &schedule, None).into_iter().collect()
    }

    fn at_end(&mut self, ctx: &Ctx, liveness: Option<Liveness>) -> Vec<String> {
        // At the end, the status is judged only if the system had the grace period to converge.
        let Some(l) = liveness else { return Vec::new() };
        let tolerance = Some(l.grace);
        ctx.world
            .iter_kind(Kind::BackupSchedule)
            .filter_map(|o| o.get::<BackupSchedule>())
            .filter_map(|s| self.check(ctx, &s, tolerance))
            .collect()
    }
}
