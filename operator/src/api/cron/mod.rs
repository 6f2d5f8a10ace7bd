//! A parsed `spec.schedule` + `spec.timeZone`, with the meaning robfig/cron gives it (CronJob, TiDB Operator).
//!
//! [`spelling`] reads the text exactly as robfig/cron's standard parser does; calendar schedules are then searched
//! with croner in the schedule's IANA time zone, `@every` schedules count periods from the schedule's origin (its
//! creation). Daylight saving time: a wall-clock time skipped by a spring-forward runs once, at the first instant
//! after the gap; a time repeated by a fall-back runs once, at its first occurrence (see docs/production.md).

pub mod go_duration;
pub mod span;
pub mod spelling;

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::api::BackupSchedule;
use crate::api::time::opt_from_k8s;
use span::{Ask, Spans};
use spelling::Spelling;

type Parsed = Result<CronSchedule, Vec<CronError>>;

thread_local! {
    /// Parsing is by far the costliest part of planning a schedule, and schedules rarely change: remember the last
    /// few parses (a pure function of its inputs, so the cache cannot change any result).
    static PARSED: RefCell<BTreeMap<(String, Option<String>), Parsed>> = const { RefCell::new(BTreeMap::new()) };
}

/// How many distinct (schedule, time zone) pairs are remembered per thread.
const PARSED_CAPACITY: usize = 256;

/// A schedule ready for `next_run`.
#[derive(Clone, Debug)]
pub struct CronSchedule {
    ticks: Ticks,
}

#[derive(Clone, Debug)]
enum Ticks {
    /// A calendar pattern and the zone its wall-clock times are read in.
    Calendar(Calendar),
    /// `@every period`: the ticks are `origin + k * period` for k >= 1.
    Every { period: chrono::Duration, origin: DateTime<Utc> },
}

/// Why a schedule or time zone was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CronError {
    #[error("invalid cron expression {expr:?}: {reason}")]
    Expression { expr: String, reason: String },
    #[error("cron expression {0:?} never fires")]
    NeverFires(String),
    #[error("unknown time zone {0:?} (expected an IANA name such as \"Europe/Paris\")")]
    TimeZone(String),
}

impl CronSchedule {
    /// Parses `expr` as robfig/cron's standard parser does (5 fields, or 6 with leading seconds; descriptors and
    /// `@every`) in `time_zone` (IANA; UTC when absent). `@every` counts from the Unix epoch until
    /// [`CronSchedule::from_origin`] sets the origin; [`CronSchedule::of`] does both for a BackupSchedule.
    pub fn parse(expr: &str, time_zone: Option<&str>) -> Result<Self, Vec<CronError>> {
        let key = (expr.to_string(), time_zone.map(str::to_string));
        if let Some(hit) = PARSED.with(|c| c.borrow().get(&key).cloned()) {
            return hit;
        }
        let parsed = Self::parse_uncached(expr, time_zone);
        PARSED.with(|c| {
            let mut c = c.borrow_mut();
            if c.len() >= PARSED_CAPACITY {
                c.clear();
            }
            c.insert(key, parsed.clone());
        });
        parsed
    }

    /// The schedule of a BackupSchedule: `@every` counts from its creation (whole seconds), as CronJob and
    /// TiDB Operator count from the object's creation.
    pub fn of(schedule: &BackupSchedule) -> Result<Self, Vec<CronError>> {
        let parsed = Self::parse(&schedule.spec.schedule, schedule.spec.time_zone.as_deref())?;
        let origin = opt_from_k8s(schedule.metadata.creation_timestamp.as_ref()).unwrap_or(DateTime::UNIX_EPOCH);
        Ok(parsed.from_origin(origin))
    }

    /// The same schedule with `@every` counted from `origin` (truncated to the second); calendar schedules ignore it.
    pub fn from_origin(mut self, origin: DateTime<Utc>) -> Self {
        if let Ticks::Every { origin: o, .. } = &mut self.ticks {
            *o = DateTime::from_timestamp(origin.timestamp(), 0).unwrap_or(origin);
        }
        self
    }

    fn parse_uncached(expr: &str, time_zone: Option<&str>) -> Result<Self, Vec<CronError>> {
        let mut errors = Vec::new();
        let tz = match time_zone.map(str::trim).filter(|s| !s.is_empty()) {
            None => Some(Tz::UTC),
            Some(name) => match name.parse::<Tz>() {
                Ok(tz) => Some(tz),
                Err(_) => {
                    errors.push(CronError::TimeZone(name.to_string()));
                    None
                }
            },
        };
        let spelling = spelling::parse(expr)
            .map_err(|e| errors.push(CronError::Expression { expr: expr.to_string(), reason: e.to_string() }))
            .ok();
        match (spelling, tz) {
            (Some(Spelling::Every(period)), Some(_)) => Ok(CronSchedule { ticks: Ticks::every(period) }),
            (Some(Spelling::Calendar(fields)), Some(tz)) => {
                let parser = CronParser::builder().seconds(Seconds::Required).year(Year::Disallowed).build();
                let cron = parser
                    .parse(&fields.croner_pattern())
                    .map_err(|e| vec![CronError::Expression { expr: expr.to_string(), reason: e.to_string() }])?;
                let probe = Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap().with_timezone(&tz);
                if cron.find_next_occurrence(&probe, false).is_err() {
                    return Err(vec![CronError::NeverFires(expr.to_string())]);
                }
                let spans = is_utc(tz).then(Arc::default);
                Ok(CronSchedule { ticks: Ticks::Calendar(Calendar { cron: Arc::new(cron), tz, spans }) })
            }
            _ => Err(errors),
        }
    }

    /// The latest tick at or before `t`, if one exists.
    pub fn tick_at_or_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.ticks {
            Ticks::Calendar(calendar) => calendar.tick(Ask::AtOrBefore, t),
            Ticks::Every { period, origin } => {
                let k = periods(*origin, *period, t)?;
                (k >= 1).then(|| nth(*origin, *period, k))
            }
        }
    }

    /// The latest tick strictly before `t`, if one exists.
    pub fn tick_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.ticks {
            Ticks::Calendar(calendar) => calendar.tick(Ask::Before, t),
            Ticks::Every { .. } => self.tick_at_or_before(t - chrono::Duration::nanoseconds(1)),
        }
    }

    /// The first tick strictly after `t`, if one exists.
    pub fn tick_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.ticks {
            Ticks::Calendar(calendar) => calendar.tick(Ask::After, t),
            Ticks::Every { period, origin } => {
                Some(nth(*origin, *period, periods(*origin, *period, t).unwrap_or(0) + 1))
            }
        }
    }
}

/// A calendar pattern searched with croner. Shared: a schedule is parsed once and handed out of the parse cache at
/// every reconcile, which then copies pointers, not the pattern or the ticks already found.
#[derive(Clone, Debug)]
struct Calendar {
    cron: Arc<Cron>,
    tz: Tz,
    /// Consecutive ticks already found (UTC schedules only, see [`span`]).
    spans: Option<Arc<Spans>>,
}

impl Calendar {
    /// The tick `ask` names at `t`: remembered, else searched, remembering it with its neighbour.
    fn tick(&self, ask: Ask, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let Some(spans) = &self.spans else { return self.search(ask, t) };
        if let Some(known) = spans.answer(ask, t) {
            return Some(known);
        }
        let found = self.search(ask, t)?;
        let pair = match ask {
            Ask::After => self.search(Ask::Before, found).map(|lo| (lo, found)),
            Ask::AtOrBefore | Ask::Before => self.search(Ask::After, found).map(|hi| (found, hi)),
        };
        if let Some((lo, hi)) = pair {
            spans.remember(lo, hi);
        }
        Some(found)
    }

    /// croner's answer.
    fn search(&self, ask: Ask, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = t.with_timezone(&self.tz);
        let found = match ask {
            Ask::AtOrBefore => self.cron.find_previous_occurrence(&local, true),
            Ask::Before => self.cron.find_previous_occurrence(&local, false),
            Ask::After => self.cron.find_next_occurrence(&local, false),
        };
        found.ok().map(|d| d.with_timezone(&Utc))
    }
}

/// True for the zones that are UTC under another name (no daylight saving, no offset).
fn is_utc(tz: Tz) -> bool {
    matches!(tz, Tz::UTC | Tz::Etc__UTC | Tz::GMT | Tz::Etc__GMT | Tz::Universal | Tz::Etc__Universal | Tz::Zulu)
}

impl Ticks {
    fn every(period: Duration) -> Self {
        let secs = i64::try_from(period.as_secs()).unwrap_or(i64::MAX / 2);
        Ticks::Every { period: chrono::Duration::seconds(secs.max(1)), origin: DateTime::UNIX_EPOCH }
    }
}

/// How many whole periods fit between `origin` and `t` (None before the origin).
fn periods(origin: DateTime<Utc>, period: chrono::Duration, t: DateTime<Utc>) -> Option<i64> {
    let elapsed = (t - origin).num_milliseconds();
    (elapsed >= 0).then(|| elapsed / period.num_milliseconds().max(1))
}

/// The `k`-th tick after `origin` (the end of time when it is beyond what a date can hold).
fn nth(origin: DateTime<Utc>, period: chrono::Duration, k: i64) -> DateTime<Utc> {
    period
        .num_seconds()
        .checked_mul(k)
        .and_then(chrono::Duration::try_seconds)
        .and_then(|d| origin.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, h, m, 0).unwrap()
    }

    #[test]
    fn five_and_six_fields_parse() {
        let five = CronSchedule::parse("*/10 * * * *", None).unwrap();
        assert_eq!(five.tick_at_or_before(t(0, 25)), Some(t(0, 20)));
        assert_eq!(five.tick_at_or_before(t(0, 20)), Some(t(0, 20)));
        assert_eq!(five.tick_before(t(0, 20)), Some(t(0, 10)));
        let six = CronSchedule::parse("*/30 * * * * *", None).unwrap();
        assert_eq!(six.tick_after(t(0, 0)), Some(t(0, 0) + chrono::Duration::seconds(30)));
    }

    #[test]
    fn sunday_is_zero_as_in_posix_cron() {
        let s = CronSchedule::parse("0 2 * * 0", None).unwrap();
        // 2026-01-04 is a Sunday.
        assert_eq!(s.tick_after(t(0, 0)), Some(Utc.with_ymd_and_hms(2026, 1, 4, 2, 0, 0).unwrap()));
    }

    #[test]
    fn bad_expressions_and_zones_are_all_reported() {
        let errs = CronSchedule::parse("61 * * *", Some("Mars/Olympus")).unwrap_err();
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(matches!(CronSchedule::parse("0 0 31 2 *", None).unwrap_err()[0], CronError::NeverFires(_)));
        assert!(CronSchedule::parse("* * * * * * *", None).is_err(), "a year field is not accepted");
    }

    #[test]
    fn robfig_spellings_that_were_refused_now_parse() {
        let s = CronSchedule::parse("5/15 * * * *", None).unwrap();
        assert_eq!(s.tick_after(t(0, 0)), Some(t(0, 5)));
        assert_eq!(s.tick_after(t(0, 50)), Some(t(1, 5)));
        let s = CronSchedule::parse("0 * * * Mon/2", None).unwrap();
        // 2026-01-01 is a Thursday; Mon/2 is Monday, Wednesday, Friday.
        assert_eq!(s.tick_after(t(0, 0)), Some(Utc.with_ymd_and_hms(2026, 1, 2, 0, 0, 0).unwrap()));
        assert!(CronSchedule::parse("0 0 * * 7", None).is_err(), "robfig's day-of-week is 0-6");
    }

    #[test]
    fn both_day_fields_restricted_means_either_and_a_star_means_the_other() {
        // 2026-01-01 is a Thursday: "1st of the month or Monday" runs on the 1st, then Monday the 5th.
        let either = CronSchedule::parse("0 0 1 * 1", None).unwrap();
        assert_eq!(either.tick_after(t(0, 0)), Some(Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap()));
        // A stepped day-of-month is restricted in robfig v3, so the same rule applies.
        let stepped = CronSchedule::parse("0 0 */10 * 1", None).unwrap();
        assert_eq!(stepped.tick_after(t(0, 0)), Some(Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap()));
        let only_monday = CronSchedule::parse("0 0 * * 1", None).unwrap();
        assert_eq!(only_monday.tick_after(t(0, 0)), Some(Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap()));
    }

    #[test]
    fn every_counts_whole_periods_from_the_origin() {
        let origin = Utc.with_ymd_and_hms(2026, 1, 1, 0, 7, 30).unwrap();
        let s = CronSchedule::parse("@every 1h", Some("Asia/Tokyo")).unwrap().from_origin(origin);
        let first = origin + chrono::Duration::hours(1);
        assert_eq!(s.tick_at_or_before(origin), None);
        assert_eq!(s.tick_after(origin - chrono::Duration::days(1)), Some(first));
        assert_eq!(s.tick_after(origin), Some(first));
        assert_eq!(s.tick_at_or_before(first), Some(first));
        assert_eq!(s.tick_before(first), None);
        assert_eq!(s.tick_at_or_before(first + chrono::Duration::minutes(59)), Some(first));
        assert_eq!(s.tick_after(first), Some(first + chrono::Duration::hours(1)));
        // Every second for a century: more periods than an i32 holds.
        let s = CronSchedule::parse("@every 1s", None).unwrap().from_origin(origin);
        let later = origin + chrono::Duration::days(36_500);
        assert_eq!(s.tick_at_or_before(later), Some(later));
    }

    #[test]
    fn dst_fall_back_runs_a_repeated_time_once() {
        // 01:30 happens twice in New York on 2026-11-01 (05:30 and 06:30 UTC); it runs at the first.
        let s = CronSchedule::parse("30 1 * * *", Some("America/New_York")).unwrap();
        let day_before = Utc.with_ymd_and_hms(2026, 10, 31, 12, 0, 0).unwrap();
        let first = s.tick_after(day_before).unwrap();
        assert_eq!(first, Utc.with_ymd_and_hms(2026, 11, 1, 5, 30, 0).unwrap());
        assert_eq!(s.tick_after(first).unwrap(), Utc.with_ymd_and_hms(2026, 11, 2, 6, 30, 0).unwrap());
    }

    /// The same schedule with nothing remembered: every answer is croner's search.
    fn searching(s: &CronSchedule) -> CronSchedule {
        match &s.ticks {
            Ticks::Calendar(c) => CronSchedule { ticks: Ticks::Calendar(Calendar { spans: None, ..c.clone() }) },
            Ticks::Every { .. } => s.clone(),
        }
    }

    #[test]
    fn only_utc_schedules_remember_ticks() {
        let remembers = |tz: Option<&str>| match CronSchedule::parse("0 * * * *", tz).unwrap().ticks {
            Ticks::Calendar(c) => c.spans.is_some(),
            Ticks::Every { .. } => unreachable!(),
        };
        assert!(remembers(None) && remembers(Some("Etc/UTC")));
        assert!(!remembers(Some("America/New_York")) && !remembers(Some("Asia/Shanghai")));
    }

    proptest::proptest! {
        /// The remembered ticks answer every question exactly as croner's search does, whatever the order of the
        /// questions, on whole seconds, instants between them, and ticks themselves.
        #[test]
        fn remembered_ticks_answer_as_croner_searches(
            pattern in proptest::sample::select(vec![
                "*/10 * * * *", "0 * * * *", "5/15 * * * *", "30 2 * * *", "0 0 1 * 1", "*/30 * * * * *",
                "0 0 29 2 *", "15 10 * * 1-5", "@hourly", "@daily", "0 */7 * * *", "59 23 31 * *",
            ]),
            questions in proptest::collection::vec((0..3u8, 0..(4 * 24 * 3600 * 1000i64), 0..3u8), 1..60),
        ) {
            let remembering = CronSchedule::parse(pattern, None).unwrap();
            let direct = searching(&remembering);
            let base = Utc.with_ymd_and_hms(2026, 2, 26, 0, 0, 0).unwrap();
            for (ask, ms, shape) in questions {
                // Anywhere; on a whole minute (often a tick); a fraction of a second after a whole minute.
                let ms = match shape {
                    0 => ms,
                    1 => ms - ms % 60_000,
                    _ => ms - ms % 60_000 + ms % 1000,
                };
                let t = base + chrono::Duration::milliseconds(ms);
                let (got, want) = match ask {
                    0 => (remembering.tick_at_or_before(t), direct.tick_at_or_before(t)),
                    1 => (remembering.tick_before(t), direct.tick_before(t)),
                    _ => (remembering.tick_after(t), direct.tick_after(t)),
                };
                proptest::prop_assert_eq!(got, want, "{} question {} at {}", pattern, ask, t);
            }
        }
    }

    #[test]
    fn time_zone_shifts_ticks() {
        let s = CronSchedule::parse("0 9 * * *", Some("Asia/Shanghai")).unwrap();
        assert_eq!(s.tick_after(t(0, 0)), Some(t(1, 0)));
    }
}
