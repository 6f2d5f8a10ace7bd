//! `api::cron` against an independent implementation, the `cron` crate, on every spelling both understand:
//! numbers, ranges, steps (`*/n`, `a-b/n`, `a/n`), lists and day names, with at most one day field restricted
//! (the `cron` crate always requires both day fields to match, robfig only when one of them is `*`).

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use operator::api::cron::CronSchedule;
use proptest::prelude::*;
use std::str::FromStr;

const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// One comma item of a numeric field in `min..=max`.
fn item(min: u32, max: u32) -> impl Strategy<Value = String> {
    let n = min..=max;
    prop_oneof![
        n.clone().prop_map(|v| v.to_string()),
        (n.clone(), n.clone()).prop_map(|(a, b)| format!("{}-{}", a.min(b), a.max(b))),
        (n.clone(), n.clone(), 1..=max.max(2)).prop_map(|(a, b, s)| format!("{}-{}/{s}", a.min(b), a.max(b))),
        (n.clone(), 1..=max.max(2)).prop_map(|(a, s)| format!("{a}/{s}")),
        (1..=max.max(2)).prop_map(|s| format!("*/{s}")),
    ]
}

fn field(min: u32, max: u32) -> impl Strategy<Value = String> {
    prop_oneof![
        1 => Just("*".to_string()),
        4 => prop::collection::vec(item(min, max), 1..=3).prop_map(|items| items.join(",")),
    ]
}

fn day_names() -> impl Strategy<Value = String> {
    let day = 0usize..7;
    let one = prop_oneof![
        day.clone().prop_map(|d| DAYS[d].to_string()),
        (day.clone(), day).prop_map(|(a, b)| format!("{}-{}", DAYS[a.min(b)], DAYS[a.max(b)])),
    ];
    prop::collection::vec(one, 1..=2).prop_map(|items| items.join(","))
}

/// (minute, hour, day-of-month, month, day-of-week) with at most one day field restricted.
fn expression() -> impl Strategy<Value = [String; 5]> {
    let days = prop_oneof![
        field(1, 31).prop_map(|dom| (dom, "*".to_string())),
        day_names().prop_map(|dow| ("*".to_string(), dow)),
    ];
    (field(0, 59), field(0, 23), days, field(1, 12)).prop_map(|(m, h, (dom, dow), mon)| [m, h, dom, mon, dow])
}

fn oracle_ticks(fields: &[String; 5], tz: Tz, from: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
    let text = format!("0 {}", fields.join(" "));
    let schedule = cron::Schedule::from_str(&text).unwrap_or_else(|e| panic!("oracle refused {text:?}: {e}"));
    schedule.after(&from.with_timezone(&tz)).take(n).map(|t| t.with_timezone(&Utc)).collect()
}

fn our_ticks(ours: &CronSchedule, from: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
    std::iter::successors(ours.tick_after(from), |t| ours.tick_after(*t)).take(n).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn ticks_agree_with_the_cron_crate(
        fields in expression(),
        zone in prop::sample::select(vec![Tz::UTC, Tz::Asia__Kolkata, Tz::Asia__Shanghai]),
        start_min in 0i64..(10 * 365 * 24 * 60),
    ) {
        let from = Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::minutes(start_min);
        // Day 31 of a month list without long months never fires: both refuse it (ours at parse time).
        let parsed = CronSchedule::parse(&fields.join(" "), Some(zone.name()));
        prop_assume!(parsed.is_ok());
        prop_assert_eq!(our_ticks(&parsed.unwrap(), from, 6), oracle_ticks(&fields, zone, from, 6), "{}", fields.join(" "));
    }

    #[test]
    fn the_previous_tick_is_the_one_before_the_next(fields in expression(), start_min in 0i64..(5 * 365 * 24 * 60)) {
        let from = Utc.with_ymd_and_hms(2022, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::minutes(start_min);
        let parsed = CronSchedule::parse(&fields.join(" "), None);
        prop_assume!(parsed.is_ok());
        let ours = parsed.unwrap();
        let next = ours.tick_after(from).unwrap();
        prop_assert!(ours.tick_before(next).is_none_or(|prev| prev <= from));
        prop_assert_eq!(ours.tick_at_or_before(next), Some(next));
    }
}

/// The spellings migrated manifests use, checked against the oracle at fixed times.
#[test]
fn robfig_only_spellings_mean_what_the_oracle_means() {
    let from = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    for (ours, oracle) in [
        ("0/15 * * * *", "0 0/15 * * * *"),
        ("5/15 * * * *", "0 5/15 * * * *"),
        ("* 1/2 * * *", "0 * 1/2 * * *"),
        ("0 0 * * Mon/2", "0 0 0 * * MON,WED,FRI"),
        ("@hourly", "0 0 * * * *"),
        ("@daily", "0 0 0 * * *"),
        ("@weekly", "0 0 0 * * SUN"),
        ("@monthly", "0 0 0 1 * *"),
        ("@yearly", "0 0 0 1 1 *"),
        ("0 9 * * 1-5", "0 0 9 * * MON-FRI"),
        ("0 0 ? * 0", "0 0 0 * * SUN"),
    ] {
        let fields: Vec<String> = ours.split_whitespace().map(str::to_string).collect();
        let ticks = {
            let s = CronSchedule::parse(ours, None).unwrap();
            std::iter::successors(s.tick_after(from), |t| s.tick_after(*t)).take(8).collect::<Vec<_>>()
        };
        let expected: Vec<_> = cron::Schedule::from_str(oracle).unwrap().after(&from).take(8).collect();
        assert_eq!(ticks, expected, "{ours} ({fields:?})");
    }
}
