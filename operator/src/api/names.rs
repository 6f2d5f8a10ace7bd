//! Kubernetes name and label-value rules, and deterministic shortening of names that would break them.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

/// Longest object name (DNS-1123 subdomain).
pub const MAX_NAME: usize = 253;
/// Longest label value, and longest Job name (a Job's name becomes its pods' `job-name` label).
pub const MAX_LABEL_VALUE: usize = 63;
/// Hex digits of the hash suffix added when shortening.
const HASH_LEN: usize = 10;

/// Why a name or label value is not acceptable.
pub fn dns1123_subdomain_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("must not be empty".into());
    }
    if name.len() > MAX_NAME {
        return Some(format!("must be at most {MAX_NAME} characters, got {}", name.len()));
    }
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.';
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    if !name.chars().all(ok_char) {
        return Some(format!("{name:?} must consist of lower case alphanumeric characters, '-' or '.'"));
    }
    if !name.starts_with(alnum) || !name.ends_with(alnum) {
        return Some(format!("{name:?} must start and end with an alphanumeric character"));
    }
    None
}

/// Why `value` is not a valid label value, if it is not.
pub fn label_value_problem(value: &str) -> Option<String> {
    if value.is_empty() {
        return None;
    }
    if value.len() > MAX_LABEL_VALUE {
        return Some(format!("must be at most {MAX_LABEL_VALUE} characters, got {}", value.len()));
    }
    let ok_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.';
    if !value.chars().all(ok_char)
        || !value.starts_with(|c: char| c.is_ascii_alphanumeric())
        || !value.ends_with(|c: char| c.is_ascii_alphanumeric())
    {
        return Some(format!("{value:?} must be alphanumeric with '-', '_' or '.' inside"));
    }
    None
}

/// `name` if it fits in `max` characters, else a prefix of it plus `-` and a hash of the whole name, so distinct
/// long names stay distinct and the same name always shortens the same way.
pub fn shorten(name: &str, max: usize) -> String {
    shorten_owned(name.to_string(), max)
}

/// [`shorten`] of a name already owned: one that fits is returned as it is, not copied.
fn shorten_owned(name: String, max: usize) -> String {
    if name.len() <= max {
        return name;
    }
    let digest = Sha256::digest(name.as_bytes());
    let hash: String = digest
        .iter()
        .flat_map(|b| [b >> 4, b & 0xf])
        .take(HASH_LEN)
        .map(|n| char::from_digit(n as u32, 16).unwrap())
        .collect();
    let keep = max.saturating_sub(HASH_LEN + 1);
    let cut = name.char_indices().map(|(i, _)| i).take_while(|&i| i <= keep).last().unwrap_or(0);
    let head = name[..cut].trim_end_matches(['-', '.', '_']);
    if head.is_empty() { hash } else { format!("{head}-{hash}") }
}

/// A name that is also a valid label value.
pub fn label_value(name: &str) -> String {
    shorten(name, MAX_LABEL_VALUE)
}

/// The Job name for `role` (`backup`, `clean`, `restore`) of the object `name`: `backup-<name>`, shortened to 63.
pub fn job_name(role: &str, name: &str) -> String {
    // Joined by hand, not `format!`: every reconcile of a Backup names its Jobs.
    let mut joined = String::with_capacity(role.len() + 1 + name.len());
    joined.push_str(role);
    joined.push('-');
    joined.push_str(name);
    shorten_owned(joined, MAX_LABEL_VALUE)
}

/// The Backup a schedule creates for `tick`: `<schedule>-<yyyy-mm-dd>t<hh-mm-ss>` (TiDB Operator's format), the
/// schedule part shortened so the whole name is a valid label value.
pub fn scheduled_backup_name(schedule: &str, tick: DateTime<Utc>) -> String {
    let stamp = stamp(tick);
    let room = MAX_LABEL_VALUE - stamp.len() - 1;
    format!("{}-{stamp}", shorten(schedule, room))
}

/// The log backup a schedule keeps running: `log-<schedule>` (TiDB Operator's name; one per schedule).
pub fn schedule_log_backup_name(schedule: &str) -> String {
    format!("log-{schedule}")
}

/// The storage folder of a schedule's log backup started at `at`: `log-<yyyy-mm-dd>t<hh-mm-ss>` (TiDB Operator's),
/// so a log backup started again never writes into an earlier one's log.
pub fn log_backup_folder(at: DateTime<Utc>) -> String {
    format!("log-{}", stamp(at))
}

/// The CompactBackup a schedule creates at `at`: `compact-<schedule>-<yyyy-mm-dd>t<hh-mm-ss>` (TiDB Operator's
/// format), the schedule part shortened so the whole name is a valid label value.
pub fn scheduled_compact_name(schedule: &str, at: DateTime<Utc>) -> String {
    let stamp = stamp(at);
    let room = MAX_LABEL_VALUE - stamp.len() - "compact--".len();
    format!("compact-{}-{stamp}", shorten(schedule, room))
}

/// TiDB Operator's time in names: `<yyyy-mm-dd>t<hh-mm-ss>`, UTC.
fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dt%H-%M-%S").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    #[test]
    fn short_names_are_kept() {
        assert_eq!(job_name("backup", "demo"), "backup-demo");
        assert_eq!(label_value("demo"), "demo");
    }

    #[test]
    fn scheduled_name_matches_tidb_format() {
        let tick = Utc.with_ymd_and_hms(2026, 1, 1, 0, 10, 0).unwrap();
        assert_eq!(scheduled_backup_name("demo", tick), "demo-2026-01-01t00-10-00");
    }

    #[test]
    fn long_schedule_names_are_shortened_deterministically() {
        let tick = Utc.with_ymd_and_hms(2026, 1, 1, 0, 10, 0).unwrap();
        let long = "a".repeat(200);
        let a = scheduled_backup_name(&long, tick);
        assert_eq!(a, scheduled_backup_name(&long, tick));
        assert!(a.len() <= MAX_LABEL_VALUE, "{a}");
        assert!(dns1123_subdomain_problem(&a).is_none());
        assert_ne!(a, scheduled_backup_name(&format!("{long}b"), tick));
    }

    proptest! {
        #[test]
        fn shortened_names_fit_and_stay_valid(name in "[a-z0-9]([a-z0-9-]{0,250}[a-z0-9])?") {
            let job = job_name("backup", &name);
            prop_assert!(job.len() <= MAX_LABEL_VALUE);
            prop_assert!(dns1123_subdomain_problem(&job).is_none(), "{}", job);
            prop_assert!(label_value_problem(&label_value(&name)).is_none());
        }
    }
}
