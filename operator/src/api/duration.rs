//! Go-style duration strings (`90s`, `30m`, `72h`, `1h30m`) as used by `maxReservedTime` and the retry policy.

use std::time::Duration;

/// Why a duration string was rejected; the message reads after the field path ("maxReservedTime: ...").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("duration is empty")]
    Empty,
    #[error("negative duration {0:?} is not allowed")]
    Negative(String),
    #[error("cannot parse duration {text:?}: {reason} (expected e.g. 90s, 30m, 72h, 1h30m)")]
    Unparseable { text: String, reason: String },
}

/// Parses a non-negative duration such as `90s`, `10m`, `72h`, `1h30m` or `2d`.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(DurationError::Empty);
    }
    if trimmed.starts_with('-') {
        return Err(DurationError::Negative(text.to_string()));
    }
    humantime::parse_duration(trimmed)
        .map_err(|e| DurationError::Unparseable { text: text.to_string(), reason: e.to_string() })
}

/// Formats a duration the way a user would write it (`1h30m`, `90s`, `1s500ms`, `0ms`); it parses back exactly
/// (to the millisecond).
pub fn format_duration(d: Duration) -> String {
    Shown(d).to_string()
}

/// A duration displayed as [`format_duration`] writes it, formatted only when displayed (a trace that is off
/// never pays for it).
#[derive(Clone, Copy, Debug)]
pub struct Shown(pub Duration);

impl std::fmt::Display for Shown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut secs = self.0.as_secs();
        let millis = self.0.subsec_millis();
        if secs == 0 {
            return write!(f, "{millis}ms");
        }
        for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
            if secs >= size {
                write!(f, "{}{unit}", secs / size)?;
                secs %= size;
            }
        }
        if millis > 0 {
            write!(f, "{millis}ms")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_style_durations() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("72h"), Ok(Duration::from_secs(259_200)));
        assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(172_800)));
    }

    #[test]
    fn rejects_negative_empty_and_garbage() {
        assert!(matches!(parse_duration("-1h"), Err(DurationError::Negative(_))));
        assert_eq!(parse_duration(" "), Err(DurationError::Empty));
        let err = parse_duration("soon").unwrap_err().to_string();
        assert!(err.contains("\"soon\""), "{err}");
    }

    #[test]
    fn formats_compactly() {
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format_duration(Duration::from_secs(90_061)), "1d1h1m1s");
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1s500ms");
    }

    proptest::proptest! {
        #[test]
        fn formatted_durations_parse_back(ms in 0u64..100_000_000_000) {
            let d = Duration::from_millis(ms);
            proptest::prop_assert_eq!(parse_duration(&format_duration(d)), Ok(d));
        }
    }
}
