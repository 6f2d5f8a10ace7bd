//! Virtual time: milliseconds since the Unix epoch, advanced only by the event queue.

use chrono::{DateTime, TimeZone, Utc};
use std::time::Duration;

/// A point in simulated time (milliseconds since the Unix epoch).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimTime(pub i64);

impl SimTime {
    pub fn from_utc(t: DateTime<Utc>) -> SimTime {
        SimTime(t.timestamp_millis())
    }

    /// A Kubernetes timestamp (whole milliseconds, as `from_utc` of the same instant; without going through a
    /// calendar date, which is most of the cost of converting one).
    pub fn from_k8s(t: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time) -> SimTime {
        SimTime(t.0.as_millisecond())
    }

    pub fn to_utc(self) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(self.0).single().expect("simulated time stays within chrono's range")
    }

    /// The time `d` later (saturating).
    pub fn plus(self, d: Duration) -> SimTime {
        SimTime(self.0.saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)))
    }

    /// How long after `earlier` this is (zero if it is not after).
    pub fn since(self, earlier: SimTime) -> Duration {
        Duration::from_millis(u64::try_from(self.0 - earlier.0).unwrap_or(0))
    }

    /// RFC 3339 with milliseconds, as trace lines print it.
    pub fn stamp(self) -> String {
        self.to_utc().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    }
}

impl std::fmt::Display for SimTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.stamp())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kubernetes_timestamp_converts_as_its_utc_time_does() {
        for (secs, nanos) in [(0, 0), (1_767_225_600, 0), (1_767_225_600, 999_999), (1_767_225_600, 123_456_789)] {
            let utc = Utc.timestamp_opt(secs, nanos).single().unwrap();
            let k8s = operator::api::time::to_k8s(utc);
            assert_eq!(SimTime::from_k8s(&k8s), SimTime::from_utc(utc), "{utc}");
        }
    }
}
