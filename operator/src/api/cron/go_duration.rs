//! Go's `time.ParseDuration` spelling (`1h`, `1h30m`, `1.5h`, `90s`, `500ms`), as robfig/cron reads `@every`.

use std::time::Duration;

/// Why an `@every` duration was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GoDurationError {
    #[error("invalid duration {0:?} (expected Go's format, e.g. 1h, 1h30m, 1.5h, 90s)")]
    Syntax(String),
    #[error("missing unit in duration {0:?} (units are ns, us, ms, s, m, h)")]
    MissingUnit(String),
    #[error("unknown unit {unit:?} in duration {text:?} (units are ns, us, ms, s, m, h)")]
    UnknownUnit { text: String, unit: String },
    #[error("duration {0:?} overflows")]
    Overflow(String),
}

/// A parsed Go duration: its sign and magnitude in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GoDuration {
    pub negative: bool,
    pub magnitude: Duration,
}

fn unit_nanos(unit: &str) -> Option<u128> {
    Some(match unit {
        "ns" => 1,
        "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return None,
    })
}

/// Parses `[-+]?(digits[.digits]unit)+` or `0`, exactly as Go does (fractions are truncated to the nanosecond).
pub fn parse_go_duration(text: &str) -> Result<GoDuration, GoDurationError> {
    let syntax = || GoDurationError::Syntax(text.to_string());
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Ok(GoDuration { negative, magnitude: Duration::ZERO });
    }
    if rest.is_empty() {
        return Err(syntax());
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (int_part, after) = rest.split_at(int_len);
        let (frac_part, after) = match after.strip_prefix('.') {
            Some(f) => {
                let n = f.bytes().take_while(u8::is_ascii_digit).count();
                f.split_at(n)
            }
            None => ("", after),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(syntax());
        }
        let unit_len = after.find(|c: char| c == '.' || c.is_ascii_digit()).unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_len);
        if unit.is_empty() {
            return Err(GoDurationError::MissingUnit(text.to_string()));
        }
        let per_unit = unit_nanos(unit)
            .ok_or_else(|| GoDurationError::UnknownUnit { text: text.to_string(), unit: unit.to_string() })?;
        let overflow = || GoDurationError::Overflow(text.to_string());
        let whole: u128 = if int_part.is_empty() { 0 } else { int_part.parse().map_err(|_| overflow())? };
        let mut nanos = whole.checked_mul(per_unit).ok_or_else(overflow)?;
        let mut scale = per_unit;
        for digit in frac_part.bytes().take(30) {
            scale /= 10;
            nanos += u128::from(digit - b'0') * scale;
        }
        total = total.checked_add(nanos).ok_or_else(overflow)?;
        if total > i64::MAX as u128 {
            return Err(overflow());
        }
        rest = next;
    }
    let magnitude = Duration::new((total / 1_000_000_000) as u64, (total % 1_000_000_000) as u32);
    Ok(GoDuration { negative, magnitude })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Duration {
        let d = parse_go_duration(text).unwrap();
        assert!(!d.negative);
        d.magnitude
    }

    #[test]
    fn go_spellings_parse_as_go_reads_them() {
        assert_eq!(ok("1h"), Duration::from_secs(3600));
        assert_eq!(ok("1h30m"), Duration::from_secs(5400));
        assert_eq!(ok("1.5h"), Duration::from_secs(5400));
        assert_eq!(ok("90s"), Duration::from_secs(90));
        assert_eq!(ok("500ms"), Duration::from_millis(500));
        assert_eq!(ok("1h0m0s"), Duration::from_secs(3600));
        assert_eq!(ok(".5m"), Duration::from_secs(30));
        assert_eq!(ok("0"), Duration::ZERO);
        assert_eq!(ok("2\u{b5}s"), Duration::from_micros(2));
        assert!(parse_go_duration("-1h").unwrap().negative);
    }

    #[test]
    fn what_go_refuses_is_refused() {
        for bad in ["", "h", "1", "1d", "1 h", "1h 30m", ".h", "-", "1.h30"] {
            assert!(parse_go_duration(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(matches!(parse_go_duration("3d"), Err(GoDurationError::UnknownUnit { .. })));
        assert!(matches!(parse_go_duration("10"), Err(GoDurationError::MissingUnit(_))));
        assert!(matches!(parse_go_duration("9999999999h"), Err(GoDurationError::Overflow(_))));
    }
}
