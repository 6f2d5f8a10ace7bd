//! The schedule's compaction of its log backup (pure): how far the log is compacted, when the next CompactBackup is
//! due and over which range, and which CompactBackups retention removes. TiDB Operator's rules, made safe:
//!
//! - **Progress** (`status.lastCompactProgress`) is the end of a contiguous run of Complete compactions from where
//!   compaction began (the log's start, `minCompactStartTs`, or the point the log is truncated to): a compaction
//!   that failed moves nothing, and one whose range starts past the progress leaves a gap, so it moves nothing either.
//! - **One at a time**: no CompactBackup is created while one of the schedule's is unfinished, judged on a live list.
//! - **The range** starts at the progress and ends at most three intervals later, never past the log's checkpoint
//!   (`logCheckpointTs`, what the log holds); a log younger than one interval is not compacted yet.
//! - **Pace**: one compaction per `compactInterval` (since `lastCompactExecutionTs`).
//! - **Retention** follows the schedule's: with `maxReservedTime`, finished CompactBackups whose range ended before
//!   it, oldest first; with `maxBackups`, finished ones past that count, newest kept. Compacted data is never deleted
//!   here: truncating the log removes it.

use chrono::{DateTime, SubsecRound, Utc};
use std::time::Duration;

use crate::api::compact::{CompactBackup, CompactState};
use crate::api::duration::parse_duration;
use crate::api::time::opt_from_k8s;
use crate::api::tso::Tso;
use crate::api::{Backup, BackupSchedule};

/// What the schedule's compaction needs to know, from the plan's observation (each CompactBackup's times read
/// once: a schedule reconciles on every checkpoint its log backup reports).
#[derive(Clone, Debug)]
pub struct Compaction<'a> {
    schedule: &'a BackupSchedule,
    log_backup: Option<&'a Backup>,
    compacts: Vec<Seen<'a>>,
    now: DateTime<Utc>,
}

/// One CompactBackup, its times read.
#[derive(Clone, Debug)]
struct Seen<'a> {
    name: Option<&'a str>,
    created: Option<DateTime<Utc>>,
    state: Option<CompactState>,
    deleting: bool,
    start: Option<Tso>,
    end: Option<Tso>,
    /// Where it leaves the log compacted to, when finished ([`CompactBackup::progress`]).
    progress: Option<Tso>,
}

impl Seen<'_> {
    fn finished(&self) -> bool {
        self.state.is_some_and(CompactState::is_final)
    }
}

/// The next CompactBackup's range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    pub start: Tso,
    pub end: Tso,
}

/// The interval, when compaction is on and it can be read.
fn interval(s: &BackupSchedule) -> Option<Duration> {
    s.compaction()?;
    parse_duration(s.spec.compact_interval.as_deref()?).ok().filter(|d| !d.is_zero())
}

/// A time as TiDB Operator keeps it in the range and the status: whole seconds (the later of two spellings of one
/// moment never looks ahead of the other).
fn seconds(t: Tso) -> Tso {
    Tso::from_time(t.to_time().trunc_subsecs(0))
}

impl<'a> Compaction<'a> {
    pub fn new(
        schedule: &'a BackupSchedule,
        log_backup: Option<&'a Backup>,
        compacts: &[&'a CompactBackup],
        now: DateTime<Utc>,
    ) -> Self {
        let compacts = if schedule.compaction().is_some() {
            compacts
                .iter()
                .map(|c| Seen {
                    name: c.metadata.name.as_deref(),
                    created: opt_from_k8s(c.metadata.creation_timestamp.as_ref()),
                    state: c.state(),
                    deleting: c.metadata.deletion_timestamp.is_some(),
                    start: c.start(),
                    end: c.end(),
                    progress: c.progress(),
                })
                .collect()
        } else {
            Vec::new()
        };
        Compaction { schedule, log_backup, compacts, now }
    }

    /// The log backup the status names, when it is the one seen and not being deleted, with its start.
    fn log(&self) -> Option<(&Backup, DateTime<Utc>)> {
        let status = self.schedule.status.as_ref()?;
        let log = self.log_backup.filter(|l| l.metadata.deletion_timestamp.is_none())?;
        (status.log_backup.as_deref() == log.metadata.name.as_deref()).then_some(())?;
        let started = opt_from_k8s(status.log_backup_start_ts.as_ref())?;
        Some((log, started))
    }

    /// Where compaction begins and stands before the compactions seen are counted: the recorded progress, else the
    /// log's start; never before `minCompactStartTs` nor before the point the log is truncated to.
    fn floor(&self) -> Option<Tso> {
        let (log, started) = self.log()?;
        let status = self.schedule.status.as_ref()?;
        let recorded = opt_from_k8s(status.last_compact_progress.as_ref()).filter(|p| *p >= started);
        let mut floor = Tso::from_time(recorded.unwrap_or(started));
        let min = self.schedule.spec.min_compact_start_ts.as_deref().and_then(|t| Tso::parse(t).ok());
        let truncated = log.spec.log_truncate_until.as_deref().and_then(|t| Tso::parse(t).ok());
        for bound in [min, truncated].into_iter().flatten() {
            floor = floor.max(seconds(bound));
        }
        Some(floor)
    }

    /// How far the log is compacted: the floor, carried forward by every Complete compaction that starts at or
    /// before it (in the order of their starts).
    pub fn progress(&self) -> Option<Tso> {
        let mut progress = self.floor()?;
        let mut done: Vec<(Tso, Tso)> = self
            .compacts
            .iter()
            .filter(|c| c.state == Some(CompactState::Complete))
            .filter_map(|c| Some((c.start?, c.progress?)))
            .collect();
        done.sort();
        for (start, end) in done {
            if start <= progress && end > progress {
                progress = end;
            }
        }
        Some(progress)
    }

    /// The progress to record, when a compaction carried it past where compaction begins and ahead of
    /// `status.lastCompactProgress`.
    pub fn progress_to_record(&self) -> Option<DateTime<Utc>> {
        interval(self.schedule)?;
        let progress = self.progress()?;
        if progress <= self.floor()? {
            return None;
        }
        let progress = progress.to_time();
        let status = self.schedule.status.as_ref()?;
        let recorded = opt_from_k8s(status.last_compact_progress.as_ref());
        recorded.is_none_or(|r| progress > r).then_some(progress)
    }

    /// Whether an unfinished CompactBackup of the schedule is seen (which blocks the next one).
    pub fn running(&self) -> bool {
        self.compacts.iter().any(|c| !c.finished())
    }

    /// The newest CompactBackup seen: its name and when it was created.
    fn newest(&self) -> Option<(&'a str, DateTime<Utc>)> {
        let newest = self.compacts.iter().max_by_key(|c| (c.created, c.name))?;
        Some((newest.name?, newest.created?))
    }

    /// The newest CompactBackup, when the status does not name it yet (its status write failed): (name, created).
    /// Forward only: a cache that misses the newest one never moves the status back.
    pub fn unrecorded(&self) -> Option<(String, DateTime<Utc>)> {
        interval(self.schedule)?;
        let (newest, created) = self.newest()?;
        let status = self.schedule.status.as_ref();
        let recorded = status.and_then(|s| opt_from_k8s(s.last_compact_execution_ts.as_ref()));
        let named = status.and_then(|s| s.last_compact.as_deref());
        (named != Some(newest) && recorded.is_none_or(|r| created > r)).then(|| (newest.to_string(), created))
    }

    /// When the pace allows the next compaction: one interval after the last one started (as the status records it,
    /// or as the newest CompactBackup shows when the status write was lost).
    fn paced_at(&self) -> Option<DateTime<Utc>> {
        let recorded = self.schedule.status.as_ref().and_then(|s| opt_from_k8s(s.last_compact_execution_ts.as_ref()));
        let last = recorded.max(self.newest().map(|(_, t)| t));
        Some(last? + chrono::Duration::from_std(interval(self.schedule)?).ok()?)
    }

    /// The next CompactBackup's range, if one is due now (the paused schedule compacts nothing).
    pub fn due(&self) -> Option<Range> {
        let span = chrono::Duration::from_std(interval(self.schedule)?).ok()?;
        if self.schedule.paused() || self.running() || self.paced_at().is_some_and(|t| self.now < t) {
            return None;
        }
        let (log, started) = self.log()?;
        let checkpoint = log.status.as_ref()?.log_checkpoint_ts.as_deref().and_then(|t| Tso::parse(t).ok())?;
        let checkpoint = seconds(checkpoint);
        let start = self.progress()?;
        if start >= checkpoint {
            return None;
        }
        let furthest = Tso::from_time(start.to_time() + span * 3);
        let end = furthest.min(checkpoint);
        // A log younger than one interval is not compacted yet.
        if end.to_time() - started < span {
            return None;
        }
        Some(Range { start, end })
    }

    /// When expired CompactBackups are removed on their own: one interval after the oldest expired (until then they
    /// go with the next live list the schedule makes anyway, which the next compaction's creation brings).
    pub fn collect_at(&self) -> Option<DateTime<Utc>> {
        let span = chrono::Duration::from_std(interval(self.schedule)?).ok()?;
        let age = self.schedule.spec.max_reserved_time.as_deref().and_then(|a| parse_duration(a).ok())?;
        let age = chrono::Duration::from_std(age).ok()?;
        let finished = self.compacts.iter().filter(|c| c.finished());
        finished.filter_map(|c| c.end).map(|e| e.to_time() + age + span).min()
    }

    /// When to look again: the pace's next slot, or when expired CompactBackups are removed on their own, whichever
    /// is first and in the future.
    pub fn wake(&self) -> Option<DateTime<Utc>> {
        interval(self.schedule)?;
        [self.paced_at(), self.collect_at()].into_iter().flatten().filter(|t| *t > self.now).min()
    }

    /// The finished CompactBackups retention removes, oldest first.
    pub fn expired(&self) -> Vec<String> {
        let s = &self.schedule.spec;
        let mut all: Vec<&Seen> = self.compacts.iter().filter(|c| !c.deleting).collect();
        all.sort_by_key(|c| (c.created, c.name));
        let doomed: Vec<&Seen> = if let Some(age) = s.max_reserved_time.as_deref() {
            let Ok(age) = parse_duration(age) else { return Vec::new() };
            let Ok(age) = chrono::Duration::from_std(age) else { return Vec::new() };
            let horizon = Tso::from_time(self.now - age);
            all.into_iter().take_while(|c| c.finished() && c.end.is_some_and(|e| e < horizon)).collect()
        } else if let Some(max) = s.max_backups.filter(|m| *m > 0) {
            let keep = usize::try_from(max).unwrap_or(usize::MAX);
            let excess = all.len().saturating_sub(keep);
            all.into_iter().take(excess).filter(|c| c.finished()).collect()
        } else {
            Vec::new()
        };
        doomed.into_iter().filter_map(|c| c.name.map(String::from)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::compact::{CompactSpec, CompactStatus};
    use crate::api::schedule::{BackupScheduleSpec, BackupScheduleStatus};
    use crate::api::time::to_k8s;
    use crate::api::{BackupSpec, BackupStatus};
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn at(h: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap() + chrono::Duration::hours(h)
    }

    fn schedule(progress: Option<i64>, last_exec: Option<i64>) -> BackupSchedule {
        let spec = BackupScheduleSpec {
            schedule: "0 * * * *".into(),
            max_reserved_time: Some("72h".into()),
            log_backup_template: Some(Box::new(BackupSpec::default())),
            compact_backup_template: Some(Box::new(CompactSpec::default())),
            compact_interval: Some("1h".into()),
            ..Default::default()
        };
        let mut s = BackupSchedule::new("pitr", spec);
        s.status = Some(BackupScheduleStatus {
            log_backup: Some("log-pitr".into()),
            log_backup_start_ts: Some(to_k8s(at(0))),
            last_compact_progress: progress.map(|h| to_k8s(at(h))),
            last_compact_execution_ts: last_exec.map(|h| to_k8s(at(h))),
            ..Default::default()
        });
        s
    }

    fn log(checkpoint_h: i64) -> Backup {
        let mut b = Backup::new("log-pitr", BackupSpec::default());
        b.status = Some(BackupStatus {
            log_checkpoint_ts: Some(Tso::from_time(at(checkpoint_h)).0.to_string()),
            ..Default::default()
        });
        b
    }

    fn compact(name: &str, from_h: i64, to_h: i64, state: &str) -> CompactBackup {
        let spec = CompactSpec {
            start_ts: Some(Tso::from_time(at(from_h)).0.to_string()),
            end_ts: Some(Tso::from_time(at(to_h)).0.to_string()),
            ..Default::default()
        };
        let mut c = CompactBackup::new(name, spec);
        c.metadata.creation_timestamp = Some(to_k8s(at(from_h)));
        c.status = Some(CompactStatus { state: Some(state.into()), ..Default::default() });
        c
    }

    fn range(from_h: i64, to_h: i64) -> Range {
        Range { start: Tso::from_time(at(from_h)), end: Tso::from_time(at(to_h)) }
    }

    #[test]
    fn the_first_compaction_waits_for_one_interval_of_log_then_covers_up_to_three_intervals() {
        let s = schedule(None, None);
        let c = |checkpoint, now| {
            let log = log(checkpoint);
            Compaction::new(&s, Some(&log), &[], at(now)).due()
        };
        assert_eq!(c(0, 0), None, "nothing logged yet");
        assert_eq!(c(2, 2), Some(range(0, 2)), "up to the checkpoint");
        assert_eq!(c(10, 10), Some(range(0, 3)), "at most three intervals");
    }

    #[test]
    fn one_compaction_runs_at_a_time_once_per_interval() {
        let log = log(10);
        let running = compact("c1", 0, 3, "Running");
        let s = schedule(None, Some(9));
        let blocked = [&running];
        let c = Compaction::new(&s, Some(&log), &blocked, at(10));
        assert_eq!(c.due(), None, "one is running");
        let c = Compaction::new(&s, Some(&log), &[], at(9));
        assert_eq!(c.due(), None, "within the interval of the last");
        assert_eq!(c.wake(), Some(at(10)));
    }

    #[test]
    fn progress_follows_contiguous_complete_compactions_only() {
        let log = log(20);
        let s = schedule(None, None);
        let (a, b, gap) =
            (compact("a", 0, 3, "Complete"), compact("b", 3, 6, "Complete"), compact("g", 8, 9, "Complete"));
        let failed = compact("f", 6, 8, "Failed");
        let seen = [&gap, &b, &failed, &a];
        let c = Compaction::new(&s, Some(&log), &seen, at(20));
        assert_eq!(c.progress(), Some(Tso::from_time(at(6))), "the failed range and the gap after it stop progress");
        assert_eq!(c.progress_to_record(), Some(at(6)));
        assert_eq!(c.due(), Some(range(6, 9)), "the failed range is compacted again");
    }

    #[test]
    fn a_truncated_log_is_compacted_only_from_its_truncation_point() {
        let mut log = log(20);
        log.spec.log_truncate_until = Some(Tso::from_time(at(5)).0.to_string());
        let s = schedule(Some(1), None);
        let c = Compaction::new(&s, Some(&log), &[], at(20));
        assert_eq!(c.due(), Some(range(5, 8)));
    }

    #[test]
    fn retention_removes_finished_compactions_only() {
        let log = log(100);
        let s = schedule(None, None);
        let (old, running, new) =
            (compact("old", 0, 3, "Complete"), compact("run", 3, 6, "Running"), compact("new", 6, 9, "Complete"));
        let seen = [&new, &running, &old];
        let c = Compaction::new(&s, Some(&log), &seen, at(90));
        assert_eq!(c.expired(), ["old"], "the running one stops the walk, the newer one waits for it");
    }

    proptest! {
        #[test]
        fn a_due_range_never_passes_the_checkpoint_nor_starts_behind_the_progress(
            checkpoint in 0i64..200,
            progress in proptest::option::of(0i64..200),
            done in proptest::collection::vec((0i64..200, 1i64..12, prop::bool::ANY), 0..8),
        ) {
            let log = log(checkpoint);
            let s = schedule(progress, None);
            let compacts: Vec<CompactBackup> = done
                .iter()
                .enumerate()
                .map(|(i, (from, len, ok))| compact(&format!("c{i}"), *from, from + len, if *ok { "Complete" } else { "Failed" }))
                .collect();
            let refs: Vec<&CompactBackup> = compacts.iter().collect();
            let c = Compaction::new(&s, Some(&log), &refs, at(300));
            if let Some(r) = c.due() {
                prop_assert!(r.end <= Tso::from_time(at(checkpoint)));
                prop_assert!(r.start < r.end);
                prop_assert_eq!(Some(r.start), c.progress());
                prop_assert!(r.start >= Tso::from_time(at(progress.unwrap_or(0))));
            }
        }
    }
}
