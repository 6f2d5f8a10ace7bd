//! `log-backup-kept`: a schedule's garbage collection and retention never delete its log backup (TiDB Operator's
//! #6320: collection by `maxBackups` counted it among the snapshots and deleted it, the oldest); and once the faults
//! healed, every schedule with a `logBackupTemplate` that is not paused has its log backup.

use operator::api::log_backup;
use operator::api::validation;
use operator::api::{Backup, BackupSchedule};
use operator::cluster::{Kind, ObjectKey};

use super::{Ctx, Family, Hook, Liveness, SpecEdits, owner_uid, schedule_log_backups};
use crate::controller_id::ControllerId;
use crate::scenario::model::InvariantId;
use crate::world::{Change, ChangeType};

#[derive(Default)]
pub struct LogBackupKept {
    spec_changed: SpecEdits,
}

impl Family for LogBackupKept {
    fn id(&self) -> InvariantId {
        InvariantId::LogBackupKept
    }

    fn hooks(&self) -> &'static [Hook] {
        &[Hook::Change]
    }

    fn on_change(&mut self, ctx: &Ctx, change: &Change) -> Vec<String> {
        if self.spec_changed.observe(change) || change.obj.kind() != Kind::Backup {
            return Vec::new();
        }
        if ctx.actor != ControllerId::Schedule.as_str() {
            return Vec::new();
        }
        let Some(old) = change.old.as_ref().and_then(|o| o.get::<Backup>()) else { return Vec::new() };
        let Some(new) = change.obj.view::<Backup>() else { return Vec::new() };
        let deletion_started = old.metadata.deletion_timestamp.is_none()
            && (change.type_ == ChangeType::Deleted || new.metadata.deletion_timestamp.is_some());
        if !deletion_started || !log_backup::is_log(&old.spec) || owner_uid(&old).is_none() {
            return Vec::new();
        }
        vec![format!(
            "the schedule controller deleted log backup {}, which its schedule keeps running",
            ObjectKey::of(&*old)
        )]
    }

    fn at_end(&mut self, ctx: &Ctx, liveness: Option<Liveness>) -> Vec<String> {
        let Some(l) = liveness else { return Vec::new() };
        let mut found = Vec::new();
        for s in ctx.world.iter_kind(Kind::BackupSchedule).filter_map(|o| o.get::<BackupSchedule>()) {
            let uid = s.metadata.uid.clone().unwrap_or_default();
            let settled = self.spec_changed.last(&uid).is_none_or(|t| l.end.since(t.max(l.deadline)) > l.grace);
            if s.spec.log_backup_template.is_none()
                || s.paused()
                || s.metadata.deletion_timestamp.is_some()
                || ctx.world.is_terminating(s.metadata.namespace.as_deref().unwrap_or_default())
                || !validation::schedule(&s).is_empty()
                || !settled
            {
                continue;
            }
            let kept = schedule_log_backups(ctx.world, &uid);
            if !kept.iter().any(|b| b.metadata.deletion_timestamp.is_none()) {
                found.push(format!(
                    "BackupSchedule {} has a logBackupTemplate and no log backup, {} after the faults healed",
                    ObjectKey::of(&*s),
                    operator::api::duration::format_duration(l.end.since(l.heal))
                ));
            }
        }
        found
    }
}
