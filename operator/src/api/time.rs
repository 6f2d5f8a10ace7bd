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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_subsecond_precision() {
        let t = Utc.timestamp_opt(1_767_225_600, 123_456_789).unwrap();
        assert_eq!(from_k8s(&to_k8s(t)), t);
    }
}
