//! `log-compacted`: a schedule compacts its log one CompactBackup at a time; the progress it records
//! (`status.lastCompactProgress`) is compacted in storage, without a gap back to where compaction began (the log's
//! start, `minCompactStartTs` or the truncation point); and once the faults healed, compaction goes on: the progress
//! moves, or a CompactBackup created after the heal completes (where truncation keeps overtaking the progress, as
//! with snapshots every minute, there is nothing older left to compact and the progress stays).

use operator::api::compact::CompactBackup;
use operator::api::time::opt_from_k8s;
use operator::api::tso::Tso;
use operator::api::{Backup, BackupSchedule};
use operator::cluster::{Kind, ObjectKey};
use std::collections::BTreeMap;

use super::{Ctx, Family, Hook, Liveness, schedule_log_backups, schedule_owner_uid};
use crate::scenario::model::InvariantId;
use crate::time::SimTime;
use crate::world::{Change, ChangeType};

#[derive(Default)]
pub struct LogCompacted {
    /// Schedule uid -> each recorded progress and when it was recorded.
    progress: BTreeMap<String, Vec<(SimTime, Tso)>>,
    /// Schedule uid -> when its newest CompactBackup that completed was created.
    completed: BTreeMap<String, SimTime>,
}

fn unfinished(c: &CompactBackup) -> bool {
    c.metadata.deletion_timestamp.is_none() && !c.state().is_some_and(|s| s.is_final())
}

/// The compacted ranges under `url`, merged: (from, until) with no two touching.
fn compacted(ctx: &Ctx, url: &str) -> Vec<(Tso, Tso)> {
    let prefix = format!("{url}/v1/compacted/");
    let mut ranges: Vec<(Tso, Tso)> = ctx
        .storage
        .under(&prefix)
        .filter_map(|k| {
            let (from, until) = k.strip_prefix(&prefix)?.split_once('-')?;
            Some((Tso(from.parse().ok()?), Tso(until.parse().ok()?)))
        })
        .collect();
    ranges.sort();
    let mut merged: Vec<(Tso, Tso)> = Vec::new();
    for (from, until) in ranges {
        match merged.last_mut() {
            Some(last) if from <= last.1 => last.1 = last.1.max(until),
            _ => merged.push((from, until)),
        }
    }
    merged
}

/// Where the schedule's compaction begins: the log's start, `minCompactStartTs`, or the point the log is (asked to
/// be) truncated to, whichever is latest (a compaction never reaches below what is truncated).
fn floor(ctx: &Ctx, s: &BackupSchedule, log: &Backup) -> Option<Tso> {
    let started = opt_from_k8s(s.status.as_ref()?.log_backup_start_ts.as_ref())?;
    let mut floor = Tso::from_time(started);
    let min = s.spec.min_compact_start_ts.as_deref().and_then(|t| Tso::parse(t).ok());
    let asked = log.spec.log_truncate_until.as_deref().and_then(|t| Tso::parse(t).ok());
    let done = log
        .status
        .as_ref()
        .and_then(|st| st.backup_path.as_deref())
        .and_then(|url| ctx.log_tasks.writing_to(url).and_then(|t| t.truncated_until));
    for t in [min, asked, done].into_iter().flatten() {
        floor = floor.max(t);
    }
    Some(floor)
}

impl LogCompacted {
    /// A second unfinished CompactBackup of one schedule.
    fn one_at_a_time(ctx: &Ctx, c: &CompactBackup) -> Option<String> {
        let uid = schedule_owner_uid(&c.metadata)?.to_string();
        let others: Vec<String> = ctx
            .world
            .owned_by(Kind::CompactBackup, &uid)
            .filter_map(|o| o.get::<CompactBackup>())
            .filter(|o| o.metadata.name != c.metadata.name && unfinished(o))
            .map(|o| ObjectKey::of(&*o).to_string())
            .collect();
        (!others.is_empty()).then(|| {
            format!(
                "CompactBackup {} was created while {} of its schedule had not finished",
                ObjectKey::of(c),
                others.join(", ")
            )
        })
    }

    /// The progress `s` records, if storage does not hold it compacted back to where compaction began.
    fn progress_backed(ctx: &Ctx, s: &BackupSchedule, progress: Tso) -> Option<String> {
        let uid = s.metadata.uid.as_deref()?;
        let log = schedule_log_backups(ctx.world, uid).into_iter().find(|b| b.metadata.deletion_timestamp.is_none())?;
        let url = log.status.as_ref()?.backup_path.clone()?;
        let floor = floor(ctx, s, log)?;
        if progress <= floor {
            return None;
        }
        let ranges = compacted(ctx, &url);
        let covered = ranges.iter().find(|(from, until)| *from <= floor && *until >= progress);
        if covered.is_some() {
            return None;
        }
        let held: Vec<String> =
            ranges.iter().map(|(f, u)| format!("{}..{}", f.to_time().to_rfc3339(), u.to_time().to_rfc3339())).collect();
        Some(format!(
            "BackupSchedule {} records its log compacted until {}, but {url} holds compactions from {} only over [{}]",
            ObjectKey::of(s),
            progress.to_time().to_rfc3339(),
            floor.to_time().to_rfc3339(),
            held.join(", ")
        ))
    }
}

impl Family for LogCompacted {
    fn id(&self) -> InvariantId {
        InvariantId::LogCompacted
    }

    fn hooks(&self) -> &'static [Hook] {
        &[Hook::Change]
    }

    fn on_change(&mut self, ctx: &Ctx, change: &Change) -> Vec<String> {
        if let Some(c) = change.obj.view::<CompactBackup>() {
            if change.type_ == ChangeType::Added {
                return Self::one_at_a_time(ctx, c).into_iter().collect();
            }
            if c.state() == Some(operator::api::CompactState::Complete)
                && let Some(uid) = schedule_owner_uid(&c.metadata)
            {
                let created = super::created(&c.metadata);
                let newest = self.completed.entry(uid.to_string()).or_insert(created);
                *newest = (*newest).max(created);
            }
            return Vec::new();
        }
        let Some(s) = change.obj.view::<BackupSchedule>() else { return Vec::new() };
        if s.compaction().is_none() || change.type_ == ChangeType::Deleted {
            return Vec::new();
        }
        let Some(p) = s.status.as_ref().and_then(|st| opt_from_k8s(st.last_compact_progress.as_ref())) else {
            return Vec::new();
        };
        let p = Tso::from_time(p);
        let moves = self.progress.entry(s.metadata.uid.clone().unwrap_or_default()).or_default();
        if moves.last().is_some_and(|(_, last)| *last == p) {
            return Vec::new();
        }
        moves.push((change.time, p));
        Self::progress_backed(ctx, s, p).into_iter().collect()
    }

    fn at_end(&mut self, ctx: &Ctx, liveness: Option<Liveness>) -> Vec<String> {
        let Some(l) = liveness else { return Vec::new() };
        let mut found = Vec::new();
        for s in ctx.world.iter_kind(Kind::BackupSchedule).filter_map(|o| o.get::<BackupSchedule>()) {
            let Some(interval) =
                s.spec.compact_interval.as_deref().and_then(|i| operator::api::duration::parse_duration(i).ok())
            else {
                continue;
            };
            if s.compaction().is_none() || s.paused() || !operator::api::validation::schedule(&s).is_empty() {
                continue;
            }
            // Room for two intervals (one to come due, one to run) and a compaction's Job after the deadline.
            if l.end.since(l.deadline) <= interval * 2 + l.grace {
                continue;
            }
            let uid = s.metadata.uid.clone().unwrap_or_default();
            let moves = self.progress.get(&uid).map(Vec::as_slice).unwrap_or_default();
            if moves.iter().any(|(t, _)| *t > l.deadline) || self.completed.get(&uid).is_some_and(|t| *t > l.deadline) {
                continue;
            }
            // Caught up with what the log holds (a paused log holds no more): nothing to compact.
            let log =
                schedule_log_backups(ctx.world, &uid).into_iter().find(|b| b.metadata.deletion_timestamp.is_none());
            let checkpoint = log
                .as_ref()
                .and_then(|b| b.status.as_ref()?.log_checkpoint_ts.as_deref().and_then(|t| Tso::parse(t).ok()));
            let behind = |p: Tso| {
                checkpoint.is_some_and(|c| {
                    c.to_time() - p.to_time() > chrono::Duration::from_std(interval).unwrap_or_default()
                })
            };
            if !moves.last().map_or(checkpoint.is_some(), |(_, p)| behind(*p)) {
                continue;
            }
            let last = moves.last().map(|(_, p)| p.to_time().to_rfc3339()).unwrap_or_else(|| "never".into());
            found.push(format!(
                "BackupSchedule {}: its log compaction made no progress after the faults healed (last recorded: {last})",
                ObjectKey::of(&*s)
            ));
        }
        found
    }
}
