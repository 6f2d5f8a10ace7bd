//! A parsed `spec.schedule` + `spec.timeZone`: standard 5-field cron (seconds as an optional 6th, leading field).

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use std::cell::RefCell;
use std::collections::BTreeMap;

type Parsed = Result<CronSchedule, Vec<CronError>>;

thread_local! {
    /// Parsing is by far the costliest part of planning a schedule, and schedules rarely change: remember the last
    /// few parses (a pure function of its inputs, so the cache cannot change any result).
    static PARSED: RefCell<BTreeMap<(String, Option<String>), Parsed>> = const { RefCell::new(BTreeMap::new()) };
}

/// How many distinct (schedule, time zone) pairs are remembered per thread.
const PARSED_CAPACITY: usize = 256;

/// A schedule ready for `next_run`: the cron pattern and the zone its wall-clock times are read in.
#[derive(Clone, Debug)]
pub struct CronSchedule {
    cron: Cron,
    tz: Tz,
}

/// Why a schedule or time zone was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CronError {
    #[error("invalid cron expression {expr:?}: {reason} (expected 5 fields, e.g. \"*/10 * * * *\")")]
    Expression { expr: String, reason: String },
    #[error("cron expression {0:?} never fires")]
    NeverFires(String),
    #[error("unknown time zone {0:?} (expected an IANA name such as \"Europe/Paris\")")]
    TimeZone(String),
}

impl CronSchedule {
    /// Parses `expr` (5 fields, or 6 with leading seconds; POSIX weekdays 0-7, day-of-month OR day-of-week as
    /// Vixie cron, CronJob and TiDB Operator) in `time_zone` (IANA; UTC when absent).
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
        let parser = CronParser::builder().seconds(Seconds::Optional).year(Year::Disallowed).build();
        let cron = match parser.parse(expr.trim()) {
            Ok(cron) => Some(cron),
            Err(e) => {
                errors.push(CronError::Expression { expr: expr.to_string(), reason: e.to_string() });
                None
            }
        };
        if let (Some(cron), Some(tz)) = (cron, tz) {
            let probe = Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap().with_timezone(&tz);
            if cron.find_next_occurrence(&probe, false).is_err() {
                errors.push(CronError::NeverFires(expr.to_string()));
            } else {
                return Ok(CronSchedule { cron, tz });
            }
        }
        Err(errors)
    }

    /// The latest tick at or before `t`, if one exists.
    pub fn tick_at_or_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron.find_previous_occurrence(&t.with_timezone(&self.tz), true).ok().map(|d| d.with_timezone(&Utc))
    }

    /// The latest tick strictly before `t`, if one exists.
    pub fn tick_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron.find_previous_occurrence(&t.with_timezone(&self.tz), false).ok().map(|d| d.with_timezone(&Utc))
    }

    /// The first tick strictly after `t`, if one exists.
    pub fn tick_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron.find_next_occurrence(&t.with_timezone(&self.tz), false).ok().map(|d| d.with_timezone(&Utc))
    }
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
    fn time_zone_shifts_ticks() {
        let s = CronSchedule::parse("0 9 * * *", Some("Asia/Shanghai")).unwrap();
        assert_eq!(s.tick_after(t(0, 0)), Some(t(1, 0)));
    }
}
