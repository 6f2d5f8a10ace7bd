//! TiDB timestamps (TSO): physical milliseconds shifted left by 18 bits, with a logical counter below, and the
//! spellings of a point in time that log backups and PITR restores accept.

use std::fmt;
use std::sync::LazyLock;

use chrono::format::{Item, Parsed, StrftimeItems};
use chrono::{DateTime, TimeZone, Utc};

/// TiDB Operator's own spelling of a time (`2026-01-02 15:04:05`), its format read once: a schedule reads these
/// times on every reconcile, and reading the format each time was most of the cost.
static ZONELESS: LazyLock<Vec<Item<'static>>> =
    LazyLock::new(|| StrftimeItems::new("%Y-%m-%d %H:%M:%S").parse_to_owned().expect("a valid format"));

fn zoneless(v: &str) -> Option<DateTime<Utc>> {
    let mut parsed = Parsed::new();
    chrono::format::parse(&mut parsed, v, ZONELESS.iter()).ok()?;
    parsed.to_naive_datetime_with_offset(0).ok().map(|n| n.and_utc())
}

/// Bits of the logical counter below the physical milliseconds.
const LOGICAL_BITS: u32 = 18;

/// A TiDB timestamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tso(pub u64);

/// Why a string is not a point in time.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TsoError {
    #[error(
        "{value:?} is not a point in time: use a TSO (a decimal number), RFC 3339 (2026-01-02T15:04:05+08:00) or \
         \"2026-01-02 15:04:05\" with an optional zone offset (+0800; without one, UTC)"
    )]
    Unparsable { value: String },
    #[error("{value:?} is outside the range of TiDB timestamps")]
    OutOfRange { value: String },
}

impl Tso {
    /// The TSO of a wall-clock time (logical part 0), as TiDB's `GoTimeToTS`.
    pub fn from_time(t: DateTime<Utc>) -> Tso {
        Tso((t.timestamp_millis().max(0) as u64) << LOGICAL_BITS)
    }

    /// The wall-clock time of the physical part.
    pub fn to_time(self) -> DateTime<Utc> {
        let millis = (self.0 >> LOGICAL_BITS) as i64;
        Utc.timestamp_millis_opt(millis).single().unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// Reads a TSO or a time: a decimal TSO, RFC 3339, or `YYYY-MM-DD HH:MM:SS` with an optional numeric zone
    /// (`+0800`, `+08:00`, after a space or not). A time without a zone is read as UTC (TiDB Operator reads it in
    /// its own process's zone, which in its image is UTC; br requires a zone).
    pub fn parse(value: &str) -> Result<Tso, TsoError> {
        let v = value.trim();
        if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
            return v.parse::<u64>().map(Tso).map_err(|_| TsoError::OutOfRange { value: value.into() });
        }
        // The zoneless form (TiDB Operator's own, in every CompactBackup) is tried first when it fits: schedules
        // read these times on every reconcile.
        let plain = if v.len() == "YYYY-MM-DD HH:MM:SS".len() { zoneless(v) } else { None };
        let time = plain
            .or_else(|| DateTime::parse_from_rfc3339(v).ok().or_else(|| zoned(v)).map(|t| t.with_timezone(&Utc)))
            .or_else(|| zoneless(v))
            .ok_or_else(|| TsoError::Unparsable { value: value.into() })?;
        if time.timestamp_millis() < 0 {
            return Err(TsoError::OutOfRange { value: value.into() });
        }
        Ok(Tso::from_time(time))
    }
}

fn zoned(v: &str) -> Option<DateTime<chrono::FixedOffset>> {
    ["%Y-%m-%d %H:%M:%S%z", "%Y-%m-%d %H:%M:%S %z", "%Y-%m-%d %H:%M:%S%:z", "%Y-%m-%d %H:%M:%S %:z"]
        .iter()
        .find_map(|f| DateTime::parse_from_str(v, f).ok())
}

impl fmt::Display for Tso {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn every_documented_spelling_names_the_same_instant() {
        let want = Tso::from_time(Utc.with_ymd_and_hms(2022, 10, 10, 9, 21, 0).unwrap());
        for s in [
            "2022-10-10 17:21:00+0800",
            "2022-10-10 17:21:00 +0800",
            "2022-10-10 17:21:00+08:00",
            "2022-10-10T17:21:00+08:00",
            "2022-10-10T09:21:00Z",
            "2022-10-10 09:21:00",
        ] {
            assert_eq!(Tso::parse(s), Ok(want), "{s}");
        }
        assert_eq!(Tso::parse(&want.to_string()), Ok(want));
        assert_eq!(want.0 >> LOGICAL_BITS, 1_665_393_660_000);
    }

    #[test]
    fn garbage_and_negative_times_are_refused_by_name() {
        let e = Tso::parse("yesterday").unwrap_err();
        assert!(e.to_string().starts_with("\"yesterday\" is not a point in time"), "{e}");
        assert!(matches!(Tso::parse("1960-01-01T00:00:00Z"), Err(TsoError::OutOfRange { .. })));
        assert!(matches!(Tso::parse("99999999999999999999999"), Err(TsoError::OutOfRange { .. })));
        assert!(Tso::parse("").is_err());
    }

    proptest! {
        #[test]
        fn a_time_survives_the_round_trip_to_the_millisecond(ms in 0i64..4_102_444_800_000) {
            let t = Utc.timestamp_millis_opt(ms).unwrap();
            prop_assert_eq!(Tso::from_time(t).to_time(), t);
            prop_assert_eq!(Tso::parse(&crate::api::time::rfc3339(t)).unwrap().to_time().timestamp(), t.timestamp());
        }

        #[test]
        fn later_times_have_larger_tsos(a in 0i64..4_102_444_800_000, b in 0i64..4_102_444_800_000) {
            let (ta, tb) = (Utc.timestamp_millis_opt(a).unwrap(), Utc.timestamp_millis_opt(b).unwrap());
            prop_assert_eq!(a.cmp(&b), Tso::from_time(ta).cmp(&Tso::from_time(tb)));
        }
    }
}
