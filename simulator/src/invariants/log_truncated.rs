//! `log-truncated`: once the faults healed, a schedule's log holds nothing its retained snapshots do not need: it is
//! truncated up to the commitTs of the oldest retained Complete snapshot taken while the task ran (TiDB Operator's
//! #6068: with only `maxBackups` set the log was never truncated and grew without end). Judged at the end, against
//! the oldest snapshot the schedule kept at least the grace period before (and after the faults healed).

use operator::api::tso::Tso;
use operator::api::{Backup, BackupSchedule};
use operator::cluster::{Kind, ObjectKey};
use std::collections::BTreeMap;

use super::pitr_window::{retained, task};
use super::{Ctx, Family, Hook, Liveness, PitrSchedules, owner_uid, schedule_log_backups};
use crate::scenario::model::InvariantId;
use crate::time::SimTime;
use crate::world::Change;

#[derive(Default)]
pub struct LogTruncated {
    /// Schedule uid -> the commitTs the log may be truncated to, by when it may (one entry per move).
    wanted: BTreeMap<String, Vec<(SimTime, Tso)>>,
    pitr: PitrSchedules,
}

impl LogTruncated {
    /// The commitTs of the oldest retained snapshot of the schedule `uid` taken after its log task started.
    fn target(ctx: &Ctx, uid: &str) -> Option<(Tso, ObjectKey, Tso)> {
        let log = schedule_log_backups(ctx.world, uid).into_iter().find(|b| b.metadata.deletion_timestamp.is_none())?;
        let task = task(ctx, log)?;
        let oldest = retained(ctx, uid).into_iter().map(|(ts, _)| ts).filter(|ts| *ts > task.start).min()?;
        Some((oldest, ObjectKey::of(log), task.truncated_until.unwrap_or(task.start)))
    }
}

impl Family for LogTruncated {
    fn id(&self) -> InvariantId {
        InvariantId::LogTruncated
    }

    fn hooks(&self) -> &'static [Hook] {
        &[Hook::Change]
    }

    fn on_change(&mut self, ctx: &Ctx, change: &Change) -> Vec<String> {
        if self.pitr.observe(change) {
            return Vec::new();
        }
        let Some(b) = change.obj.view::<Backup>() else { return Vec::new() };
        let Some(uid) = owner_uid(b).map(str::to_string).filter(|uid| self.pitr.contains(uid)) else {
            return Vec::new();
        };
        if let Some((ts, _, _)) = Self::target(ctx, &uid) {
            let moves = self.wanted.entry(uid).or_default();
            if moves.last().is_none_or(|(_, last)| *last != ts) {
                moves.push((change.time, ts));
            }
        }
        Vec::new()
    }

    fn at_end(&mut self, ctx: &Ctx, liveness: Option<Liveness>) -> Vec<String> {
        let Some(l) = liveness else { return Vec::new() };
        let mut found = Vec::new();
        for s in ctx.world.iter_kind(Kind::BackupSchedule).filter_map(|o| o.get::<BackupSchedule>()) {
            let uid = s.metadata.uid.clone().unwrap_or_default();
            let Some(moves) = self.wanted.get(&uid) else { continue };
            let Some((now_wanted, log, truncated)) = Self::target(ctx, &uid) else { continue };
            let settled = moves.iter().filter(|(since, _)| l.end.since((*since).max(l.deadline)) > l.grace);
            let Some((since, wanted)) = settled.max_by_key(|(_, ts)| *ts).map(|(s, ts)| (*s, (*ts).min(now_wanted)))
            else {
                continue;
            };
            if truncated >= wanted {
                continue;
            }
            found.push(format!(
                "log backup {log} of BackupSchedule {} is truncated only until {} ({}), though its oldest kept \
                 snapshot has needed nothing before {} ({}) since {since}",
                ObjectKey::of(&*s),
                truncated.0,
                truncated.to_time().to_rfc3339(),
                wanted.0,
                wanted.to_time().to_rfc3339()
            ));
        }
        found
    }
}
