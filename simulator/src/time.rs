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
