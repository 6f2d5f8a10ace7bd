//! `expired`: which of a schedule's Backups garbage collection deletes, by `maxReservedTime` or `maxBackups`.

use chrono::{DateTime, Utc};
use std::time::Duration;

use crate::api::BackupSchedule;
use crate::api::duration::parse_duration;

/// Where a Backup stands, for retention.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lifecycle {
    /// Not finished: never deleted by retention.
    Unfinished,
    Complete,
    Failed,
    /// Already being deleted: neither counted nor deleted again.
    Deleting,
}

/// One Backup as retention sees it (its name borrowed from the Backup).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupInfo<'a> {
    pub name: &'a str,
    /// Creation time (TiDB Operator measures age from it).
    pub created: DateTime<Utc>,
    pub lifecycle: Lifecycle,
}

/// The retention rule of a schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retention {
    /// `maxReservedTime`: delete finished Backups at least this old. Wins over a count.
    Age(Duration),
    /// `maxBackups`: keep the newest N (0 keeps all).
    Count(u32),
    KeepAll,
}

impl Retention {
    /// The rule of `schedule`'s spec: the one reading of `maxReservedTime` and `maxBackups` that the schedule
    /// controller acts on and the simulator's oracles judge by (a `maxReservedTime` that does not parse is no rule;
    /// validation refuses such a spec).
    pub fn of(schedule: &BackupSchedule) -> Retention {
        let age = schedule.spec.max_reserved_time.as_deref().and_then(|s| parse_duration(s).ok());
        Retention::from_spec(age, schedule.spec.max_backups)
    }

    /// The rule from the spec fields (already validated): `maxReservedTime` wins over `maxBackups`.
    pub fn from_spec(max_reserved_time: Option<Duration>, max_backups: Option<i32>) -> Retention {
        match (max_reserved_time, max_backups) {
            (Some(age), _) => Retention::Age(age),
            (None, Some(n)) if n > 0 => Retention::Count(n as u32),
            _ => Retention::KeepAll,
        }
    }
}

fn newest_first<'i, 'a>(backups: &'i [BackupInfo<'a>]) -> Vec<&'i BackupInfo<'a>> {
    let mut live: Vec<&BackupInfo> = backups.iter().filter(|b| b.lifecycle != Lifecycle::Deleting).collect();
    live.sort_by(|a, b| (b.created, &b.name).cmp(&(a.created, &a.name)));
    live
}

/// The names to delete, oldest first. Never an unfinished Backup, never the newest Complete one, never one younger
/// than `maxReservedTime`, never more than the count asks, never one already being deleted. With `keep_base` (the
/// schedule keeps a log backup), age retention also keeps the newest Complete Backup older than `maxReservedTime`:
/// a restore to a point just inside the reserved time starts from it and replays the log.
pub fn expired(backups: &[BackupInfo], retention: Retention, now: DateTime<Utc>, keep_base: bool) -> Vec<String> {
    let live = newest_first(backups);
    let newest_complete = live.iter().find(|b| b.lifecycle == Lifecycle::Complete).map(|b| b.name);
    let deletable = |b: &&BackupInfo| {
        matches!(b.lifecycle, Lifecycle::Complete | Lifecycle::Failed) && Some(b.name) != newest_complete
    };
    let mut out: Vec<String> = match retention {
        Retention::KeepAll => Vec::new(),
        Retention::Age(age) => {
            let age = chrono::Duration::from_std(age).unwrap_or(chrono::Duration::MAX);
            let old = |b: &&BackupInfo| now - b.created >= age;
            let base = live.iter().copied().filter(|b| keep_base && b.lifecycle == Lifecycle::Complete).find(old);
            let base = base.map(|b| b.name);
            live.iter()
                .copied()
                .filter(deletable)
                .filter(old)
                .filter(|b| Some(b.name) != base)
                .map(|b| b.name.to_string())
                .collect()
        }
        Retention::Count(n) => {
            live.iter().copied().skip(n as usize).filter(deletable).map(|b| b.name.to_string()).collect()
        }
    };
    out.reverse();
    out
}

/// When the next finished Backup expires by age (for the requeue); `None` for count retention. With `keep_base` (see
/// [`expired`]) a Complete Backup expires when a newer Complete one is old enough to be the base in its place.
pub fn next_expiry(backups: &[BackupInfo], retention: Retention, keep_base: bool) -> Option<DateTime<Utc>> {
    let Retention::Age(age) = retention else {
        return None;
    };
    let age = chrono::Duration::from_std(age).ok()?;
    let live = newest_first(backups);
    let completes: Vec<&BackupInfo> = live.iter().copied().filter(|b| b.lifecycle == Lifecycle::Complete).collect();
    let failed = live.iter().filter(|b| b.lifecycle == Lifecycle::Failed).map(|b| b.created);
    // Each Complete Backup but the oldest: once it is old enough, the next older one is no longer needed (as the
    // newest Complete one without a base to keep; as the base with one).
    let replacing = completes.iter().take(completes.len().saturating_sub(1));
    let complete = if keep_base {
        replacing.map(|b| b.created).collect::<Vec<_>>()
    } else {
        completes.iter().skip(1).map(|b| b.created).collect()
    };
    failed.chain(complete).map(|c| c + age).min()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn t(m: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::minutes(m)
    }

    fn b(name: &str, m: i64, lifecycle: Lifecycle) -> BackupInfo<'_> {
        BackupInfo { name, created: t(m), lifecycle }
    }

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn age_deletes_old_finished_backups_but_keeps_the_newest_complete() {
        let backups = [
            b("a", 0, Lifecycle::Complete),
            b("b", 10, Lifecycle::Failed),
            b("c", 20, Lifecycle::Complete),
            b("d", 30, Lifecycle::Unfinished),
        ];
        // At 3h everything is old: the unfinished one and the newest Complete survive.
        assert_eq!(expired(&backups, Retention::Age(HOUR), t(180), false), ["a", "b"]);
        assert_eq!(expired(&backups, Retention::Age(HOUR), t(65), false), ["a"]);
    }

    #[test]
    fn count_keeps_the_newest_n_and_skips_backups_being_deleted() {
        let backups = [
            b("a", 0, Lifecycle::Complete),
            b("b", 10, Lifecycle::Complete),
            b("c", 20, Lifecycle::Deleting),
            b("d", 30, Lifecycle::Complete),
        ];
        assert_eq!(expired(&backups, Retention::Count(2), t(40), false), ["a"]);
        assert_eq!(expired(&backups, Retention::from_spec(None, Some(0)), t(40), false), Vec::<String>::new());
    }

    #[test]
    fn max_reserved_time_wins_over_max_backups() {
        assert_eq!(Retention::from_spec(Some(HOUR), Some(3)), Retention::Age(HOUR));
        assert_eq!(Retention::from_spec(None, Some(3)), Retention::Count(3));
        assert_eq!(Retention::from_spec(None, Some(0)), Retention::KeepAll);
    }

    #[test]
    fn a_schedules_rule_reads_max_reserved_time_first_and_an_unparsable_one_as_none() {
        use crate::api::BackupScheduleSpec;
        let schedule = |age: Option<&str>, count: Option<i32>| {
            let spec = BackupScheduleSpec {
                max_reserved_time: age.map(String::from),
                max_backups: count,
                ..Default::default()
            };
            BackupSchedule::new("demo", spec)
        };
        assert_eq!(Retention::of(&schedule(Some("1h"), Some(3))), Retention::Age(HOUR));
        assert_eq!(Retention::of(&schedule(None, Some(3))), Retention::Count(3));
        assert_eq!(Retention::of(&schedule(Some("soon"), Some(3))), Retention::Count(3));
        assert_eq!(Retention::of(&schedule(Some("soon"), None)), Retention::KeepAll);
    }

    #[test]
    fn next_expiry_ignores_the_protected_backup() {
        let backups = [b("a", 0, Lifecycle::Complete), b("b", 10, Lifecycle::Complete)];
        assert_eq!(next_expiry(&backups, Retention::Age(HOUR), false), Some(t(60)));
    }

    fn lifecycle() -> impl Strategy<Value = Lifecycle> {
        prop::sample::select(vec![Lifecycle::Unfinished, Lifecycle::Complete, Lifecycle::Failed, Lifecycle::Deleting])
    }

    #[test]
    fn with_a_log_backup_age_keeps_the_newest_expired_complete_backup_as_the_base() {
        let backups = [
            b("a", 0, Lifecycle::Complete),
            b("b", 10, Lifecycle::Failed),
            b("c", 20, Lifecycle::Complete),
            b("d", 100, Lifecycle::Complete),
        ];
        // At 1h30 a, b and c are older than an hour: c is the base for restores to 0h30..now, a and b go.
        assert_eq!(expired(&backups, Retention::Age(HOUR), t(90), true), ["a", "b"]);
        assert_eq!(expired(&backups, Retention::Age(HOUR), t(90), false), ["a", "b", "c"]);
        // c stops being needed when d is old enough to be the base.
        assert_eq!(next_expiry(&backups[2..], Retention::Age(HOUR), true), Some(t(160)));
        assert_eq!(next_expiry(&backups[2..], Retention::Age(HOUR), false), Some(t(80)));
    }

    proptest! {
        /// When nothing is due for deletion now, the next expiry is in the future: a requeue at it never spins.
        #[test]
        fn the_next_expiry_is_when_something_becomes_due(
            all in prop::collection::vec((0i64..1000, lifecycle()), 0..12),
            age_min in 1i64..600,
            keep_base in any::<bool>(),
            now_min in 0i64..2000,
        ) {
            let names: Vec<String> = (0..all.len()).map(|i| format!("b{i:02}")).collect();
            let full: Vec<BackupInfo> = all.iter().zip(&names).map(|((m, l), name)| b(name, *m, *l)).collect();
            let rule = Retention::Age(Duration::from_secs(age_min as u64 * 60));
            let now = t(now_min);
            if expired(&full, rule, now, keep_base).is_empty() {
                let next = next_expiry(&full, rule, keep_base);
                prop_assert!(next.is_none_or(|n| n > now), "next expiry {:?} is not after {}", next, now);
                if let Some(n) = next {
                    prop_assert!(!expired(&full, rule, n, keep_base).is_empty(), "nothing expires at {}", n);
                }
            }
        }

        /// Whatever subset of the schedule's Backups a (stale) cache lists, what `expired` picks from it never
        /// breaks a rule about the full set.
        #[test]
        fn never_deletes_what_the_rules_protect(
            all in prop::collection::vec((0i64..1000, lifecycle()), 0..25),
            in_cache in prop::collection::vec(any::<bool>(), 25),
            age_min in 1i64..600,
            count in 0u32..8,
            use_age in any::<bool>(),
            keep_base in any::<bool>(),
            now_min in 0i64..2000,
        ) {
            let names: Vec<String> = (0..all.len()).map(|i| format!("b{i:02}")).collect();
            let full: Vec<BackupInfo> = all.iter().zip(&names).map(|((m, l), name)| b(name, *m, *l)).collect();
            let cache: Vec<BackupInfo> = full.iter().zip(&in_cache).filter(|(_, keep)| **keep).map(|(x, _)| x.clone()).collect();
            let retention = if use_age { Retention::Age(Duration::from_secs(age_min as u64 * 60)) } else { Retention::Count(count) };
            let now = t(now_min);
            let doomed = expired(&cache, retention, now, keep_base);
            let true_newest_complete = newest_first(&full).into_iter().find(|x| x.lifecycle == Lifecycle::Complete).map(|x| x.name);
            for name in &doomed {
                let x = full.iter().find(|x| x.name == name).unwrap();
                prop_assert!(matches!(x.lifecycle, Lifecycle::Complete | Lifecycle::Failed), "{} is {:?}", name, x.lifecycle);
                prop_assert!(Some(name.as_str()) != true_newest_complete, "deleted the newest Complete {}", name);
                if let Retention::Age(age) = retention {
                    let age = chrono::Duration::from_std(age).unwrap();
                    prop_assert!(now - x.created >= age, "{} is too young", name);
                    // The base a point-in-time restore starts from: the newest Complete Backup old enough to expire.
                    let base = newest_first(&full).into_iter().find(|x| x.lifecycle == Lifecycle::Complete && now - x.created >= age);
                    prop_assert!(!keep_base || base.is_none_or(|b| b.name != name), "deleted the base {}", name);
                }
            }
            if let Retention::Count(n) = retention {
                let live = full.iter().filter(|x| x.lifecycle != Lifecycle::Deleting).count();
                prop_assert!(doomed.len() <= live.saturating_sub(n as usize), "deleted {} of {} with maxBackups {}", doomed.len(), live, n);
            }
        }
    }
}
