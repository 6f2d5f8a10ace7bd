//! `pitr-window`: a schedule's log never loses what its retained snapshots need. For every Complete snapshot the
//! schedule keeps that was taken while its log task ran, the log is not truncated past the snapshot's commitTs, so
//! the snapshot plus the log restore to every point from it to the log's checkpoint. Checked at every change of the
//! schedule's Backups (a truncation is reported by its Job's status write) and at the end.

use operator::api::log_backup;
use operator::api::tso::Tso;
use operator::api::{Backup, BackupPhase, BackupSchedule};
use operator::cluster::{Kind, ObjectKey};
use operator::manager::args::pd_address;
use std::collections::BTreeSet;

use super::{Ctx, Family, Hook, Liveness, PitrSchedules, owner_uid, schedule_backups, schedule_log_backups};
use crate::scenario::model::InvariantId;
use crate::world::Change;

#[derive(Default)]
pub struct PitrWindow {
    /// (log backup, snapshot) pairs already reported.
    reported: BTreeSet<(ObjectKey, ObjectKey)>,
    pitr: PitrSchedules,
}

/// A snapshot's commitTs, when it has a readable one.
pub fn commit_ts(b: &Backup) -> Option<Tso> {
    b.status.as_ref().and_then(|s| s.commit_ts.as_deref()).and_then(|t| Tso::parse(t).ok())
}

/// The schedule's retained Complete snapshots (not being deleted) with their commitTs.
pub fn retained<'a>(ctx: &Ctx<'a>, uid: &str) -> Vec<(Tso, &'a Backup)> {
    schedule_backups(ctx.world, uid)
        .into_iter()
        .filter(|b| b.phase() == Some(BackupPhase::Complete) && b.metadata.deletion_timestamp.is_none())
        .filter_map(|b| commit_ts(b).map(|ts| (ts, b)))
        .collect()
}

/// The log task of the log backup `log` on the simulated cluster, if it runs (or is paused).
pub fn task<'a>(ctx: &Ctx<'a>, log: &Backup) -> Option<&'a crate::log_tasks::LogTask> {
    let br = log.spec.br.as_deref()?;
    let pd = pd_address(br, log.metadata.namespace.as_deref().unwrap_or_default());
    ctx.log_tasks.get(&pd, &log_backup::task_name(log))
}

impl PitrWindow {
    fn check(&mut self, ctx: &Ctx, uid: &str) -> Vec<String> {
        let mut found = Vec::new();
        for log in schedule_log_backups(ctx.world, uid) {
            let Some(task) = task(ctx, log) else { continue };
            let Some(truncated) = task.truncated_until else { continue };
            for (ts, snapshot) in retained(ctx, uid) {
                let pair = (ObjectKey::of(log), ObjectKey::of(snapshot));
                if ts >= task.start && truncated > ts && self.reported.insert(pair.clone()) {
                    found.push(format!(
                        "log backup {} was truncated until {} ({}), past the commitTs {} of Backup {}, which is \
                         kept: restores from it to points before {} are lost",
                        pair.0,
                        truncated.0,
                        truncated.to_time().to_rfc3339(),
                        ts.0,
                        pair.1,
                        truncated.to_time().to_rfc3339()
                    ));
                }
            }
        }
        found
    }
}

impl Family for PitrWindow {
    fn id(&self) -> InvariantId {
        InvariantId::PitrWindow
    }

    fn hooks(&self) -> &'static [Hook] {
        &[Hook::Change]
    }

    fn on_change(&mut self, ctx: &Ctx, change: &Change) -> Vec<String> {
        if self.pitr.observe(change) || change.obj.kind() != Kind::Backup {
            return Vec::new();
        }
        let Some(b) = change.obj.view::<Backup>() else { return Vec::new() };
        match owner_uid(b).map(str::to_string).filter(|uid| self.pitr.contains(uid)) {
            Some(uid) => self.check(ctx, &uid),
            None => Vec::new(),
        }
    }

    fn at_end(&mut self, ctx: &Ctx, _liveness: Option<Liveness>) -> Vec<String> {
        let uids: Vec<String> = ctx
            .world
            .iter_kind(Kind::BackupSchedule)
            .filter_map(|o| o.get::<BackupSchedule>())
            .filter_map(|s| s.metadata.uid.clone())
            .collect();
        uids.iter().flat_map(|uid| self.check(ctx, uid)).collect()
    }
}
