//! `next_run`: which cron tick a schedule should back up now. No catch-up; cost independent of missed ticks.

use chrono::{DateTime, Utc};

use crate::api::cron::CronSchedule;

/// The tick to back up now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NextRun {
    pub tick: DateTime<Utc>,
    /// The first tick after the anchor, when earlier ticks than `tick` were passed over (they are not caught up).
    pub first_skipped: Option<DateTime<Utc>>,
}

/// The latest tick `t` with `anchor < t <= now`, if any. `anchor` is the tick of the schedule's newest Backup
/// (or its creation time before the first one). Only the latest missed tick runs, as CronJob and TiDB Operator do;
/// a schedule paused for a year costs three cron searches, like one paused for an hour.
pub fn next_run(cron: &CronSchedule, anchor: DateTime<Utc>, now: DateTime<Utc>) -> Option<NextRun> {
    let tick = cron.tick_at_or_before(now)?;
    if tick <= anchor {
        return None;
    }
    let first_skipped = cron.tick_before(tick).filter(|prev| *prev > anchor).and_then(|_| cron.tick_after(anchor));
    Some(NextRun { tick, first_skipped })
}

/// The first tick strictly after `now` (when to look again).
pub fn next_tick(cron: &CronSchedule, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    cron.tick_after(now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn t(m: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::minutes(m)
    }

    fn every_10() -> CronSchedule {
        CronSchedule::parse("*/10 * * * *", None).unwrap()
    }

    #[test]
    fn runs_the_latest_tick_after_the_anchor() {
        assert_eq!(next_run(&every_10(), t(0), t(5)), None);
        assert_eq!(next_run(&every_10(), t(0), t(10)), Some(NextRun { tick: t(10), first_skipped: None }));
        assert_eq!(next_run(&every_10(), t(0), t(12)), Some(NextRun { tick: t(10), first_skipped: None }));
        assert_eq!(next_run(&every_10(), t(10), t(19)), None);
    }

    #[test]
    fn missed_ticks_are_skipped_not_caught_up() {
        let run = next_run(&every_10(), t(0), t(65)).unwrap();
        assert_eq!(run, NextRun { tick: t(60), first_skipped: Some(t(10)) });
    }

    #[test]
    fn a_year_of_missed_ticks_costs_the_same() {
        let run = next_run(&every_10(), t(0), t(365 * 24 * 60 + 3)).unwrap();
        assert_eq!(run.tick, t(365 * 24 * 60));
        assert_eq!(run.first_skipped, Some(t(10)));
    }

    #[test]
    fn dst_spring_forward_runs_the_shifted_tick_once() {
        // 02:30 does not exist in New York on 2026-03-08; the tick happens at 03:00 EDT (07:00 UTC).
        let cron = CronSchedule::parse("30 2 * * *", Some("America/New_York")).unwrap();
        let anchor = Utc.with_ymd_and_hms(2026, 3, 7, 7, 30, 0).unwrap();
        let now = Utc.with_ymd_and_hms(2026, 3, 8, 12, 0, 0).unwrap();
        let run = next_run(&cron, anchor, now).unwrap();
        assert_eq!(run.tick, Utc.with_ymd_and_hms(2026, 3, 8, 7, 0, 0).unwrap());
        assert_eq!(run.first_skipped, None);
    }

    proptest! {
        #[test]
        fn never_after_now_and_always_after_the_anchor(
            anchor_min in 0i64..200_000,
            gap_min in 0i64..200_000,
            expr in prop::sample::select(vec!["*/10 * * * *", "0 * * * *", "15 3 * * 1-5", "0 0 1 * *", "*/7 2-5 * * *"]),
        ) {
            let cron = CronSchedule::parse(expr, Some("Europe/Paris")).unwrap();
            let anchor = t(anchor_min);
            let now = t(anchor_min + gap_min);
            if let Some(run) = next_run(&cron, anchor, now) {
                prop_assert!(run.tick <= now);
                prop_assert!(run.tick > anchor);
                // It is the latest such tick: the next one is in the future.
                prop_assert!(next_tick(&cron, run.tick).is_none_or(|n| n > now));
                if let Some(first) = run.first_skipped {
                    prop_assert!(first > anchor && first < run.tick);
                }
            } else {
                prop_assert!(cron.tick_at_or_before(now).is_none_or(|tick| tick <= anchor));
            }
        }
    }
}
