//! The schedule controller's decisions: status truth, the next Backup, garbage collection (pure, no I/O).
//!
//! The rule that makes this controller immune to TiDB Operator's schedule-reset bug: the cache may only be used to
//! decide that nothing needs doing. Creating a Backup, deleting one, or moving `status.lastBackup` happens only
//! after a live read in the same reconcile confirmed the facts it rests on.
//!
//! What this process itself confirmed earlier narrows which facts need a live read (see [`Observed::in_sync`]):
//! once a live read showed `status.lastBackup` naming the newest Backup and nothing was created since, a due tick
//! that the cache shows unblocked needs only the schedule read live (its pause and spec), not its Backups listed.

use chrono::{DateTime, Utc};
use std::time::Duration;

use crate::api::condition::find_condition;
use crate::api::cron::CronSchedule;
use crate::api::log_backup;
use crate::api::time::{from_k8s, opt_from_k8s};
use crate::api::tso::Tso;
use crate::api::{Backup, BackupSchedule, CompactBackup};
use crate::api::{unsupported, validation};
use crate::controllers::attempt::until;

use super::compaction::{Compaction, Range};
use super::next_run::{NextRun, next_run, next_tick};
use super::retention::{BackupInfo, Lifecycle, Retention, expired, next_expiry};
use super::template::tick_of;
use crate::api::names::scheduled_backup_name;

/// Everything the schedule controller knows when it decides.
#[derive(Clone, Debug)]
pub struct Observed<'a> {
    pub schedule: &'a BackupSchedule,
    /// The schedule's snapshot Backups.
    pub backups: Vec<&'a Backup>,
    /// The log backup the schedule keeps running (`log-<schedule>`), when one is seen.
    pub log_backup: Option<&'a Backup>,
    /// The schedule's CompactBackups (listed only when it compacts).
    pub compacts: Vec<&'a CompactBackup>,
    /// Schedule and Backups come from live reads (or write responses) in this reconcile, not from the cache.
    pub fresh: bool,
    /// The schedule (not necessarily its Backups) comes from a live read or a write response in this reconcile.
    pub schedule_live: bool,
    /// The newest of `backups` is the schedule's newest Backup: this reconcile created it.
    pub newest_known: bool,
    pub now: DateTime<Utc>,
    /// The anchor (see [`anchor`]) at which a live read in this process last found `status.lastBackup` naming the
    /// schedule's newest Backup, unless this process sent a create since. Only this controller creates the
    /// schedule's Backups, so while the anchor it sees is this one, the status it sees names the newest Backup
    /// there is: a Backup the cache shows is the one the status names, and no newer one hides behind the cache.
    pub in_sync: Option<DateTime<Utc>>,
    /// The due tick a live read in this process found blocked by the unfinished Backups the cache shows. Waiting on
    /// the cache is then safe, and each new due tick is looked at live once: a stalled watch never reports the
    /// blocking Backup's end, and a live look at each tick is what keeps garbage collection going meanwhile.
    pub confirmed_blocked: Option<DateTime<Utc>>,
    /// Steps that failed earlier in this reconcile: the plan moves past them, so a refused create never keeps
    /// expired Backups from being collected, nor a refused delete the next Backup from being created.
    pub failed: Failed,
    /// Backup creates the API server refused (an exhausted quota) that are not to be sent again yet: (name, until).
    /// A due tick whose create is among them is left alone until then (no live read for it, no create), while
    /// collection goes on.
    pub refused: Vec<(String, DateTime<Utc>)>,
}

/// Which kinds of write already failed in this reconcile.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Failed {
    pub create: bool,
    pub collect: bool,
    /// A create or update of the log backup.
    pub log: bool,
    /// A create or delete of a CompactBackup.
    pub compact: bool,
}

/// The status fields to write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusUpdate {
    pub last_backup: Option<String>,
    pub last_backup_time: Option<DateTime<Utc>>,
    pub all_backup_clean_time: Option<DateTime<Utc>>,
}

/// The one next step.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// Report the fields kept but not acted on in the `Unsupported` condition and an Event (`None`: remove it).
    ReportUnsupported {
        message: Option<String>,
    },
    /// Record the spec problems in a condition and a Warning event.
    MarkInvalid {
        message: String,
    },
    /// The spec was fixed: drop the Invalid condition.
    MarkValid,
    /// Read the schedule and list its Backups live.
    Refresh,
    /// Create the Backup for `run.tick`.
    CreateBackup {
        run: NextRun,
    },
    /// Bring `lastBackup`/`lastBackupTime`/`allBackupCleanTime` in line with the Backups that exist.
    SetStatus(StatusUpdate),
    /// Read the schedule live, not its Backups (the cache is in sync, see [`Observed::in_sync`]).
    ReadSchedule,
    /// A live read found the due `tick` blocked by the unfinished Backups: remember it for this process.
    ConfirmBlocked {
        tick: DateTime<Utc>,
    },
    /// Delete expired Backups (oldest first).
    DeleteBackups {
        names: Vec<String>,
    },
    /// Create the log backup from `logBackupTemplate`.
    CreateLogBackup,
    /// Name the log backup in `status.logBackup` and `status.logBackupStartTs`.
    RecordLogBackup {
        name: String,
        started: Option<DateTime<Utc>>,
    },
    /// Set the log backup's `logTruncateUntil` to `until`, the commitTs of `base`, the oldest retained snapshot.
    TruncateLog {
        name: String,
        until: Tso,
        base: String,
    },
    /// Record how far the log is compacted in `status.lastCompactProgress`.
    RecordCompactProgress {
        progress: DateTime<Utc>,
    },
    /// Name the newest CompactBackup in `lastCompact` and `lastCompactExecutionTs` (a status write lost after its
    /// create).
    RecordCompact {
        name: String,
        executed: DateTime<Utc>,
    },
    /// Create the CompactBackup for `range` (and name it in `lastCompact`, `lastCompactExecutionTs`).
    CreateCompact {
        range: Range,
    },
    /// Delete the CompactBackups retention removes.
    DeleteCompacts {
        names: Vec<String>,
    },
    Wait {
        requeue_after: Option<Duration>,
    },
}

/// Where a Backup stands for retention and overlap.
pub fn lifecycle(b: &Backup) -> Lifecycle {
    if b.metadata.deletion_timestamp.is_some() {
        return Lifecycle::Deleting;
    }
    match b.phase() {
        Some(crate::api::BackupPhase::Complete) => Lifecycle::Complete,
        _ if b.is_finished() => Lifecycle::Failed,
        _ => Lifecycle::Unfinished,
    }
}

/// (tick, creation time, name). The creation time stays a Kubernetes timestamp: it orders as its chrono time
/// would, without the conversion (which computes a calendar date).
fn order_key(b: &Backup) -> (Option<DateTime<Utc>>, Option<k8s_openapi::jiff::Timestamp>, Option<&str>) {
    (tick_of(b), b.metadata.creation_timestamp.as_ref().map(|t| t.0), b.metadata.name.as_deref())
}

/// The schedule's newest Backup (by tick, then creation time, then name), being deleted or not.
pub fn newest<'a>(backups: &[&'a Backup]) -> Option<&'a Backup> {
    // Each key once per Backup (parsing its tick annotation), not twice per comparison.
    backups.iter().copied().max_by_key(|b| order_key(b))
}

fn infos<'a>(backups: &[&'a Backup]) -> Vec<BackupInfo<'a>> {
    backups
        .iter()
        .map(|b| BackupInfo {
            name: b.metadata.name.as_deref().unwrap_or_default(),
            created: b.metadata.creation_timestamp.as_ref().map(from_k8s).unwrap_or(DateTime::<Utc>::MIN_UTC),
            lifecycle: lifecycle(b),
        })
        .collect()
}

/// The time after which the next tick runs: the newest Backup's tick or `lastBackupTime`, whichever is later, else
/// the schedule's creation. `newest` is the schedule's newest Backup (see [`newest`]), found once per reconcile.
pub fn anchor(schedule: &BackupSchedule, newest: Option<&Backup>) -> DateTime<Utc> {
    let status_time = schedule.status.as_ref().and_then(|s| opt_from_k8s(s.last_backup_time.as_ref()));
    let newest_tick = newest.and_then(tick_of);
    status_time
        .max(newest_tick)
        .or_else(|| opt_from_k8s(schedule.metadata.creation_timestamp.as_ref()))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// A Backup whose phase can no longer change into running: Complete or Failed, or finished and being deleted.
fn settled(b: &Backup) -> bool {
    matches!(b.phase(), Some(crate::api::BackupPhase::Complete | crate::api::BackupPhase::Failed))
        || (b.metadata.deletion_timestamp.is_some() && b.is_finished())
}

/// The anchor to remember as in sync (see [`Observed::in_sync`]): when this observation shows, from live reads or
/// this reconcile's own create, that `status.lastBackup` names the newest Backup (or is empty and none exists).
pub fn sync_point(o: &Observed) -> Option<DateTime<Utc>> {
    if !(o.fresh || (o.newest_known && o.schedule_live)) {
        return None;
    }
    let newest = newest(&o.backups);
    (o.schedule.last_backup() == newest.and_then(|b| b.metadata.name.as_deref())).then(|| anchor(o.schedule, newest))
}

/// The log backup: created once (while not paused) and named in the status. A create needs a live list: the cache
/// may hide the one that exists.
fn keep_log_backup(o: &Observed) -> Option<Step> {
    o.schedule.spec.log_backup_template.as_ref()?;
    let Some(log) = o.log_backup else {
        if o.schedule.paused() || o.failed.log {
            return None;
        }
        return Some(if o.fresh { Step::CreateLogBackup } else { Step::Refresh });
    };
    let status = o.schedule.status.as_ref();
    let recorded = status.and_then(|st| st.log_backup.as_deref());
    let started = opt_from_k8s(log.metadata.creation_timestamp.as_ref());
    let recorded_start = status.and_then(|st| opt_from_k8s(st.log_backup_start_ts.as_ref()));
    // A log backup deleted and created again keeps its name: its start tells them apart.
    if recorded != log.metadata.name.as_deref() || (started.is_some() && recorded_start != started) {
        return Some(Step::RecordLogBackup { name: log.metadata.name.clone().unwrap_or_default(), started });
    }
    None
}

/// Where the schedule's log backup may be truncated to: the commitTs of its oldest retained Complete snapshot, so
/// that every retained snapshot plus the log restores to any point after it (with `maxReservedTime` that snapshot is
/// the base kept past the reserved time; with only `maxBackups` it is the oldest of the count, which TiDB Operator's
/// #6068 never truncated to). Only forward, only past the task's start, and from a live list: a cache that misses the
/// oldest snapshot would truncate the log it needs.
pub fn truncation(o: &Observed) -> Option<(Tso, String)> {
    let log = o.log_backup.filter(|l| l.metadata.deletion_timestamp.is_none())?;
    let started = log_backup::started_at(log)?;
    let mut oldest: Option<(Tso, &Backup)> = None;
    for b in o.backups.iter().filter(|b| lifecycle(b) == Lifecycle::Complete) {
        // A snapshot whose commitTs cannot be read may be the oldest: nothing is truncated until it is gone.
        let ts = b.status.as_ref().and_then(|st| st.commit_ts.as_deref()).and_then(|t| Tso::parse(t).ok())?;
        // One taken before the task started has no log after it to replay: it does not hold the log back.
        if ts > started && oldest.is_none_or(|(o, _)| ts < o) {
            oldest = Some((ts, b));
        }
    }
    let (until, base) = oldest?;
    let current = log.spec.log_truncate_until.as_deref().and_then(|t| Tso::parse(t).ok());
    current.is_none_or(|c| until > c).then(|| (until, base.metadata.name.clone().unwrap_or_default()))
}

fn truncate_log(o: &Observed) -> Option<Step> {
    if o.failed.log {
        return None;
    }
    let (until, base) = truncation(o)?;
    if !o.fresh {
        return Some(Step::Refresh);
    }
    let name = o.log_backup?.metadata.name.clone().unwrap_or_default();
    Some(Step::TruncateLog { name, until, base })
}

/// The compaction of the log: its progress recorded (from what finished), expired CompactBackups removed, the next
/// one created when due (see [`super::compaction`]). Deletes and creates rest on a live list.
fn compact_log(o: &Observed, c: &Compaction) -> Option<Step> {
    o.schedule.compaction()?;
    if let Some(progress) = c.progress_to_record() {
        return Some(Step::RecordCompactProgress { progress });
    }
    if let Some((name, executed)) = c.unrecorded() {
        return Some(Step::RecordCompact { name, executed });
    }
    if o.failed.compact {
        return None;
    }
    let names = c.expired();
    if !names.is_empty() {
        if o.fresh {
            return Some(Step::DeleteCompacts { names });
        }
        // Expired CompactBackups are only records: they wait for a live list made for something else, for one
        // interval at most.
        if c.collect_at().is_some_and(|t| t <= o.now) {
            return Some(Step::Refresh);
        }
    }
    let range = c.due()?;
    Some(if o.fresh { Step::CreateCompact { range } } else { Step::Refresh })
}

/// Decides the next step for a schedule.
pub fn plan(o: &Observed) -> Step {
    let s = o.schedule;
    let conditions = s.status.as_ref().map_or(&None, |st| &st.conditions);
    if let Some(message) = unsupported::pending(conditions, &unsupported::schedule(s)) {
        return Step::ReportUnsupported { message };
    }
    let errors = validation::schedule(s);
    let invalid = find_condition(conditions, "Invalid").cloned();
    if !errors.is_empty() {
        let message = validation::summary(&errors);
        if invalid.and_then(|c| c.message) != Some(message.clone()) {
            return Step::MarkInvalid { message };
        }
    } else if invalid.is_some() {
        return Step::MarkValid;
    }

    // 1. Status truth: lastBackup names the newest Backup that exists, and is empty only if none does. It is a fact
    //    about the Backups, not the spec, so it is kept while the spec is invalid too (the Backup created just before
    //    a user broke the spec is still recorded).
    let last = s.last_backup();
    let last_time = s.status.as_ref().and_then(|st| opt_from_k8s(st.last_backup_time.as_ref()));
    let newest_backup = newest(&o.backups);
    match newest_backup {
        Some(n) if last != n.metadata.name.as_deref() => {
            if !o.fresh && !o.newest_known {
                return Step::Refresh;
            }
            return Step::SetStatus(StatusUpdate {
                last_backup: n.metadata.name.clone(),
                last_backup_time: last_time.max(tick_of(n)),
                all_backup_clean_time: None,
            });
        }
        None if last.is_some() => {
            if !o.fresh {
                return Step::Refresh;
            }
            return Step::SetStatus(StatusUpdate {
                last_backup: None,
                last_backup_time: last_time,
                all_backup_clean_time: Some(o.now),
            });
        }
        _ => {}
    }
    // Nothing below runs on an invalid spec: it waits for the user's fix.
    if !errors.is_empty() {
        return Step::Wait { requeue_after: None };
    }
    let Ok(cron) = CronSchedule::of(s) else {
        return Step::Wait { requeue_after: None };
    };
    if let Some(step) = keep_log_backup(o) {
        return step;
    }

    // 2. The next Backup, unless paused or one is still running (no overlap).
    let infos = infos(&o.backups);
    // A Backup being deleted still blocks the next one until it has finished or stopped: two tools never run
    // at once for one schedule.
    let running = o.backups.iter().any(|b| !b.is_finished());
    // A due tick is confirmed live even when a running Backup would block it: the cache that shows the running
    // Backup may be missing a newer one (and the status a write that failed).
    let anchor = anchor(s, newest_backup);
    let in_sync = o.in_sync == Some(anchor);
    let due = if s.paused() { None } else { next_run(&cron, anchor, o.now) };
    let schedule_name = s.metadata.name.as_deref().unwrap_or_default();
    let refused_until = due.as_ref().and_then(|run| {
        let name = scheduled_backup_name(schedule_name, run.tick);
        o.refused.iter().find(|(n, _)| *n == name).map(|(_, until)| *until)
    });
    let rule = Retention::of(s);
    let keep_base = s.spec.log_backup_template.is_some();
    let doomed = expired(&infos, rule, o.now, keep_base);
    if let Some(run) = due.filter(|_| refused_until.is_none()) {
        if running {
            if o.confirmed_blocked != Some(run.tick) {
                return if o.fresh { Step::ConfirmBlocked { tick: run.tick } } else { Step::Refresh };
            }
        } else if !o.failed.create {
            // In sync, the cached Backups hold the newest one, settled: only the pause and the spec need a live
            // read. Collection due as well needs them all listed: one refresh serves both.
            let cache_suffices = in_sync && doomed.is_empty() && o.backups.iter().all(|b| settled(b));
            if o.fresh || (cache_suffices && o.schedule_live) {
                return Step::CreateBackup { run };
            }
            return if cache_suffices { Step::ReadSchedule } else { Step::Refresh };
        }
    }

    // 3. Garbage collection (also while paused).
    if !doomed.is_empty() && !o.failed.collect {
        return if o.fresh { Step::DeleteBackups { names: doomed } } else { Step::Refresh };
    }

    // 4. The log backup keeps only what the retained snapshots need.
    if let Some(step) = truncate_log(o) {
        return step;
    }

    // 5. The log is compacted as far as it can be.
    let compaction = Compaction::new(s, o.log_backup, &o.compacts, o.now);
    if let Some(step) = compact_log(o, &compaction) {
        return step;
    }

    // 6. Look again at the next tick, the next expiry or the next compaction.
    let mut wake: Option<DateTime<Utc>> = next_expiry(&infos, rule, keep_base);
    wake = match (wake, compaction.wake()) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    wake = match (wake, refused_until) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    if !s.paused() {
        wake = match (wake, next_tick(&cron, o.now)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    Step::Wait { requeue_after: wake.map(|w| until(w, o.now)) }
}
