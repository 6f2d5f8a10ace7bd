//! Conversions between chrono times (used by every decision) and Kubernetes `metav1.Time` (jiff inside).

use chrono::{DateTime, TimeZone, Utc};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

/// Converts a chrono UTC time into a Kubernetes timestamp (nanosecond precision kept).
pub fn to_k8s(t: DateTime<Utc>) -> Time {
    let ts = Timestamp::new(t.timestamp(), t.timestamp_subsec_nanos() as i32)
        .expect("a chrono UTC time is always inside jiff's timestamp range");
    Time(ts)
}

/// Converts a Kubernetes timestamp into a chrono UTC time.
pub fn from_k8s(t: &Time) -> DateTime<Utc> {
    Utc.timestamp_opt(t.0.as_second(), t.0.subsec_nanosecond() as u32)
        .single()
        .expect("a jiff timestamp is always representable in chrono")
}

/// `from_k8s` for an optional field.
pub fn opt_from_k8s(t: Option<&Time>) -> Option<DateTime<Utc>> {
    t.map(from_k8s)
}

/// Formats a time the way Kubernetes serializes `metav1.Time` (RFC 3339, seconds, `Z`).
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Parses an RFC 3339 time into UTC: the form [`rfc3339`] writes (`2026-01-01T00:10:00Z`) directly, any other
/// through chrono. Schedule decisions read every Backup's tick annotation on every reconcile, and chrono's general
/// parser was most of their cost; the two paths agree on every input (tested against chrono as the oracle).
pub fn parse_rfc3339(text: &str) -> Option<DateTime<Utc>> {
    written(text).or_else(|| DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&Utc)))
}

/// `YYYY-MM-DDTHH:MM:SSZ` exactly, else `None` (chrono then decides, leap seconds and offsets included).
fn written(text: &str) -> Option<DateTime<Utc>> {
    let b = text.as_bytes();
    let layout = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':'), (19, b'Z')];
    if b.len() != 20 || layout.iter().any(|&(i, c)| b[i] != c) {
        return None;
    }
    let num = |from: usize, to: usize| {
        b[from..to].iter().try_fold(0u32, |n, c| c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0')))
    };
    let date = chrono::NaiveDate::from_ymd_opt(i32::try_from(num(0, 4)?).ok()?, num(5, 7)?, num(8, 10)?)?;
    Some(date.and_hms_opt(num(11, 13)?, num(14, 16)?, num(17, 19)?)?.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn by_chrono(text: &str) -> Option<DateTime<Utc>> {
        DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&Utc))
    }

    #[test]
    fn the_written_form_parses_directly_and_every_other_form_as_chrono_parses_it() {
        let t = Utc.timestamp_opt(1_767_226_200, 0).unwrap();
        assert_eq!(written(&rfc3339(t)), Some(t));
        for other in
            ["2026-01-01T00:10:00.5Z", "2026-01-01t00:10:00z", "2026-01-01T01:10:00+01:00", "2016-12-31T23:59:60Z"]
        {
            assert_eq!(written(other), None, "{other}");
            assert_eq!(parse_rfc3339(other), by_chrono(other), "{other}");
        }
        assert_eq!(parse_rfc3339("2026-02-30T00:00:00Z"), None);
    }

    proptest! {
        #[test]
        fn parsing_agrees_with_chrono_on_times_as_written(secs in -62_135_596_800i64..253_402_300_799) {
            let t = Utc.timestamp_opt(secs, 0).unwrap();
            prop_assert_eq!(parse_rfc3339(&rfc3339(t)), Some(t));
        }

        #[test]
        fn parsing_agrees_with_chrono_on_near_misses(text in "[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}[Zz+]") {
            prop_assert_eq!(parse_rfc3339(&text), by_chrono(&text));
        }

        #[test]
        fn parsing_agrees_with_chrono_on_any_text(text in "\\PC{0,24}") {
            prop_assert_eq!(parse_rfc3339(&text), by_chrono(&text));
        }
    }

    #[test]
    fn round_trip_keeps_subsecond_precision() {
        let t = Utc.timestamp_opt(1_767_225_600, 123_456_789).unwrap();
        assert_eq!(from_k8s(&to_k8s(t)), t);
    }
}
