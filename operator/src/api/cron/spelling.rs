//! robfig/cron's standard spelling of a schedule (the parser behind CronJob and TiDB Operator), read field by field.
//!
//! Accepted: 5 fields (minute hour day-of-month month day-of-week), or 6 with a leading seconds field; in each field
//! `*`, `?`, numbers, names (`jan`..`dec`, `sun`..`sat`, any case), ranges `a-b`, steps `*/n`, `a-b/n` and `a/n`
//! (meaning `a-max/n`), and comma lists; the descriptors `@yearly` `@annually` `@monthly` `@weekly` `@daily`
//! `@midnight` `@hourly` and `@every <go duration>`. Day-of-week is 0-6 (Sunday 0). As in robfig/cron v3, a day field
//! counts as unrestricted only when it is `*` or `?` (`*/1` too): when both day fields are restricted a day matching
//! either runs (Vixie cron), otherwise both must match.

use std::time::Duration;

use super::go_duration::parse_go_duration;

/// One cron field: its name in messages and its bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldKind {
    pub name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MONTHS: &[&str] = &["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const DAYS: &[&str] = &["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

pub const SECOND: FieldKind = FieldKind { name: "second", min: 0, max: 59, names: &[] };
pub const MINUTE: FieldKind = FieldKind { name: "minute", min: 0, max: 59, names: &[] };
pub const HOUR: FieldKind = FieldKind { name: "hour", min: 0, max: 23, names: &[] };
pub const DAY_OF_MONTH: FieldKind = FieldKind { name: "day-of-month", min: 1, max: 31, names: &[] };
pub const MONTH: FieldKind = FieldKind { name: "month", min: 1, max: 12, names: MONTHS };
pub const DAY_OF_WEEK: FieldKind = FieldKind { name: "day-of-week", min: 0, max: 6, names: DAYS };

/// A field's set of values, and whether it was written as `*` / `?` (unrestricted, for the day-matching rule).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    pub bits: u64,
    pub star: bool,
}

impl Field {
    /// The values in the set, ascending.
    pub fn values(self) -> impl Iterator<Item = u32> {
        (0..64).filter(move |v| self.bits & (1 << v) != 0)
    }

    /// The field as croner reads it with the same meaning: `*` when unrestricted, else the explicit list.
    fn croner(self) -> String {
        if self.star { "*".to_string() } else { self.values().map(|v| v.to_string()).collect::<Vec<_>>().join(",") }
    }
}

/// A calendar schedule: one set per field (seconds default to `{0}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fields {
    pub second: Field,
    pub minute: Field,
    pub hour: Field,
    pub day_of_month: Field,
    pub month: Field,
    pub day_of_week: Field,
}

impl Fields {
    /// The same schedule as a 6-field croner pattern (its default day rule matches robfig's, see the module doc).
    pub fn croner_pattern(&self) -> String {
        [self.second, self.minute, self.hour, self.day_of_month, self.month, self.day_of_week]
            .map(Field::croner)
            .join(" ")
    }
}

/// What a schedule spelling means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Spelling {
    Calendar(Fields),
    /// `@every d`: every `d` (whole seconds, at least one) after the schedule's origin.
    Every(Duration),
}

/// Why a spelling was refused: the field (when one is to blame) and the problem.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SpellingError {
    #[error("empty schedule")]
    Empty,
    #[error("expected 5 fields (minute hour day-of-month month day-of-week) or 6 with leading seconds, found {0}")]
    FieldCount(usize),
    #[error("{field} field {text:?}: {problem}")]
    Field { field: &'static str, text: String, problem: String },
    #[error(
        "unknown descriptor {0:?} (known: @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly, @every <duration>)"
    )]
    Descriptor(String),
    #[error("@every {text:?}: {problem}")]
    Every { text: String, problem: String },
    #[error("TZ= and CRON_TZ= are not supported in spec.schedule (as in CronJob): use spec.timeZone")]
    TimeZonePrefix,
}

/// Reads a schedule spelling.
pub fn parse(expr: &str) -> Result<Spelling, SpellingError> {
    let expr = expr.trim();
    if expr.starts_with("TZ=") || expr.starts_with("CRON_TZ=") {
        return Err(SpellingError::TimeZonePrefix);
    }
    if expr.starts_with('@') {
        return descriptor(expr);
    }
    let parts: Vec<&str> = expr.split_whitespace().collect();
    let (second, rest) = match parts.len() {
        0 => return Err(SpellingError::Empty),
        5 => (Field { bits: 1, star: false }, &parts[..]),
        6 => (field(parts[0], SECOND)?, &parts[1..]),
        n => return Err(SpellingError::FieldCount(n)),
    };
    Ok(Spelling::Calendar(Fields {
        second,
        minute: field(rest[0], MINUTE)?,
        hour: field(rest[1], HOUR)?,
        day_of_month: field(rest[2], DAY_OF_MONTH)?,
        month: field(rest[3], MONTH)?,
        day_of_week: field(rest[4], DAY_OF_WEEK)?,
    }))
}

fn descriptor(expr: &str) -> Result<Spelling, SpellingError> {
    let fixed = match expr {
        "@yearly" | "@annually" => "0 0 1 1 *",
        "@monthly" => "0 0 1 * *",
        "@weekly" => "0 0 * * 0",
        "@daily" | "@midnight" => "0 0 * * *",
        "@hourly" => "0 * * * *",
        _ => {
            let Some(text) = expr.strip_prefix("@every ") else {
                return Err(SpellingError::Descriptor(expr.to_string()));
            };
            return every(text.trim());
        }
    };
    parse(fixed)
}

/// `@every d`: robfig rounds anything under a second up to one second and drops fractions of a second. A zero or
/// negative period (which robfig silently turns into one second) is refused: for backups it is always a mistake.
fn every(text: &str) -> Result<Spelling, SpellingError> {
    let d =
        parse_go_duration(text).map_err(|e| SpellingError::Every { text: text.to_string(), problem: e.to_string() })?;
    if d.negative || d.magnitude.is_zero() {
        return Err(SpellingError::Every { text: text.to_string(), problem: "the period must be positive".into() });
    }
    Ok(Spelling::Every(Duration::from_secs(d.magnitude.as_secs().max(1))))
}

/// One field: comma-separated ranges, empty items ignored (as robfig does).
pub fn field(text: &str, kind: FieldKind) -> Result<Field, SpellingError> {
    let mut out = Field { bits: 0, star: false };
    for item in text.split(',').filter(|s| !s.is_empty()) {
        let (bits, star) = range(item, kind).map_err(|problem| SpellingError::Field {
            field: kind.name,
            text: text.to_string(),
            problem,
        })?;
        out.bits |= bits;
        out.star |= star;
    }
    if out.bits == 0 {
        return Err(SpellingError::Field { field: kind.name, text: text.to_string(), problem: "no values".into() });
    }
    Ok(out)
}

/// `*`, `?`, `n`, `a-b`, each with an optional `/step`; `n/step` means `n-max/step`.
fn range(item: &str, kind: FieldKind) -> Result<(u64, bool), String> {
    let mut slash = item.split('/');
    let span = slash.next().unwrap_or_default();
    let step = slash.next();
    if slash.next().is_some() {
        return Err(format!("too many slashes in {item:?}"));
    }
    let mut hyphen = span.split('-');
    let low = hyphen.next().unwrap_or_default();
    let high = hyphen.next();
    let (mut start, mut end, mut star) = if low == "*" || low == "?" {
        // robfig ignores what follows a `*` or `?` before the step.
        (kind.min, kind.max, true)
    } else {
        if hyphen.next().is_some() {
            return Err(format!("too many hyphens in {item:?}"));
        }
        let start = value(low, kind)?;
        (start, high.map(|h| value(h, kind)).transpose()?.unwrap_or(start), false)
    };
    let step = match step {
        None => 1,
        Some(s) => {
            let step = number(s)?;
            if high.is_none() && !star {
                end = kind.max;
            }
            if step > 1 {
                star = false;
            }
            step
        }
    };
    if start < kind.min {
        return Err(format!("{start} is below the minimum {}", kind.min));
    }
    if end > kind.max {
        return Err(format!("{end} is above the maximum {}", kind.max));
    }
    if start > end {
        return Err(format!("range start {start} is after its end {end}"));
    }
    if step == 0 {
        return Err("the step must be a positive number".into());
    }
    let mut bits = 0u64;
    while start <= end {
        bits |= 1 << start;
        start = match start.checked_add(step) {
            Some(next) => next,
            None => break,
        };
    }
    Ok((bits, star))
}

fn value(text: &str, kind: FieldKind) -> Result<u32, String> {
    let lower = text.to_ascii_lowercase();
    if let Some(i) = kind.names.iter().position(|n| *n == lower) {
        return Ok(i as u32 + kind.min);
    }
    number(text)
}

fn number(text: &str) -> Result<u32, String> {
    let digits = text.strip_prefix('+').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{text:?} is not a number"));
    }
    digits.parse().map_err(|_| format!("{text:?} is out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn calendar(expr: &str) -> Fields {
        match parse(expr).unwrap() {
            Spelling::Calendar(f) => f,
            other => panic!("{expr}: {other:?}"),
        }
    }

    fn values(f: Field) -> Vec<u32> {
        f.values().collect()
    }

    #[test]
    fn single_number_steps_run_to_the_field_maximum() {
        assert_eq!(values(calendar("0/15 * * * *").minute), vec![0, 15, 30, 45]);
        assert_eq!(values(calendar("5/15 * * * *").minute), vec![5, 20, 35, 50]);
        assert_eq!(values(calendar("* 1/2 * * *").hour), (1..24).step_by(2).collect::<Vec<_>>());
        assert_eq!(values(calendar("0 0 * * Mon/2").day_of_week), vec![1, 3, 5]);
        assert_eq!(values(calendar("0 0 * JUN/3 *").month), vec![6, 9, 12]);
    }

    #[test]
    fn star_means_unrestricted_only_without_a_real_step() {
        assert!(calendar("* * * * *").day_of_month.star);
        assert!(calendar("* * ? * *").day_of_month.star);
        assert!(calendar("* * */1 * *").day_of_month.star);
        assert!(!calendar("* * */2 * *").day_of_month.star);
        assert!(!calendar("* * 1-31 * *").day_of_month.star);
        assert_eq!(calendar("* * * * *").croner_pattern(), "0 * * * * *");
        assert_eq!(calendar("0 3 */10 * 1").croner_pattern(), "0 0 3 1,11,21,31 * 1");
    }

    #[test]
    fn names_and_lists_read_as_robfig_reads_them() {
        let f = calendar("0 9 1,15 jan-MAR,dec mon-fri");
        assert_eq!(values(f.month), vec![1, 2, 3, 12]);
        assert_eq!(values(f.day_of_week), vec![1, 2, 3, 4, 5]);
        assert_eq!(values(calendar("1,,2 * * * *").minute), vec![1, 2]);
        assert_eq!(values(calendar("+5 * * * *").minute), vec![5]);
    }

    #[test]
    fn descriptors_and_every() {
        assert_eq!(calendar("@weekly"), calendar("0 0 * * 0"));
        assert_eq!(calendar("@annually"), calendar("0 0 1 1 *"));
        assert_eq!(parse("@every 1h").unwrap(), Spelling::Every(Duration::from_secs(3600)));
        assert_eq!(parse("@every 1.5s").unwrap(), Spelling::Every(Duration::from_secs(1)));
        assert_eq!(parse("@every 200ms").unwrap(), Spelling::Every(Duration::from_secs(1)));
    }

    #[test]
    fn what_robfig_refuses_is_refused_naming_the_field() {
        let cases = [
            ("", "empty schedule"),
            ("* * * *", "found 4"),
            ("* * * * * * *", "found 7"),
            ("60 * * * *", "minute field \"60\": 60 is above the maximum 59"),
            ("* 24 * * *", "hour field"),
            ("* * 0 * *", "day-of-month field \"0\": 0 is below the minimum 1"),
            ("* * * 13 *", "month field"),
            ("* * * * 7", "day-of-week field \"7\": 7 is above the maximum 6"),
            ("5-1 * * * *", "range start 5 is after its end 1"),
            ("*/0 * * * *", "the step must be a positive number"),
            ("1-2-3 * * * *", "too many hyphens"),
            ("*/2/3 * * * *", "too many slashes"),
            ("L * * * *", "\"L\" is not a number"),
            ("* * * * 1#2", "is not a number"),
            ("* * * * foo", "\"foo\" is not a number"),
            ("@reboot", "unknown descriptor"),
            ("@every", "unknown descriptor"),
            ("@every 1d", "unknown unit"),
            ("@every 0s", "must be positive"),
            ("@every -1h", "must be positive"),
            ("TZ=UTC 0 * * * *", "use spec.timeZone"),
            ("CRON_TZ=Asia/Tokyo 0 * * * *", "use spec.timeZone"),
        ];
        for (expr, wanted) in cases {
            let err = parse(expr).expect_err(expr).to_string();
            assert!(err.contains(wanted), "{expr:?}: {err:?} should contain {wanted:?}");
        }
    }
}
