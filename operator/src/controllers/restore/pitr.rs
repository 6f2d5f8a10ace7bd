//! `reach`: whether a point-in-time restore's point lies where the Backups in its namespace say a restore can reach:
//! from the snapshot it names (or the log's start) to the log's checkpoint (pure).

use crate::api::log_backup::{self, started_at};
use crate::api::restore::Restore;
use crate::api::time::rfc3339;
use crate::api::tso::Tso;
use crate::api::{Backup, BackupPhase};

/// What the Backups this operator knows of say about a PITR restore's point.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reach {
    /// Not a PITR restore, or no log Backup here writes to its storage (a log made elsewhere): br decides.
    Unknown,
    /// Within what the log (and the snapshot under it) covers.
    Within,
    /// Outside: the message says what can be restored.
    Outside(String),
}

fn ts(value: Option<&str>) -> Option<Tso> {
    value.and_then(|v| Tso::parse(v).ok())
}

/// A point, and why it is where it is: `2026-01-01T02:31:51Z (TSO 463269976247894016, the commitTs of Backup x)`.
fn spell(t: Tso, why: &str) -> String {
    let why = if why.is_empty() { String::new() } else { format!(", {why}") };
    format!("{} (TSO {}{why})", rfc3339(t.to_time()), t.0)
}

/// Where the log Backup writing to the restore's storage, and the snapshot Backup whose data is at
/// `pitrFullBackupStorageProvider`, let the restore reach.
pub fn reach(restore: &Restore, backups: &[&Backup]) -> Reach {
    let (true, Some(point)) = (restore.is_pitr(), restore.restored_ts()) else { return Reach::Unknown };
    let Some(url) = restore.spec.storage.location().map(|l| l.url()) else { return Reach::Unknown };
    let same = |b: &&&Backup| b.spec.storage.location().is_some_and(|l| l.url() == url);
    let Some(log) = backups.iter().filter(|b| log_backup::is_log(&b.spec)).find(same) else { return Reach::Unknown };
    let log_name = log.metadata.name.as_deref().unwrap_or_default();
    let Some(start) = started_at(log) else {
        return Reach::Outside(format!("log Backup {log_name} has not started: nothing can be restored from it yet"));
    };
    let status = log.status.as_ref();
    let truncated = ts(status.and_then(|s| s.log_success_truncate_until.as_deref()));
    let checkpoint = ts(status.and_then(|s| s.log_checkpoint_ts.as_deref())).unwrap_or(start);
    let (log_from, log_why) = match truncated.filter(|t| *t > start) {
        Some(t) => (t, format!("where log Backup {log_name} was truncated to")),
        None => (start, format!("the start of log Backup {log_name}")),
    };
    let (from, base) = match full_backup(restore, backups) {
        Some((snapshot, Some(at))) if at < log_from => {
            return Reach::Outside(format!(
                "the log begins at {}, after the commitTs of Backup {snapshot}, {}: no point can be restored from \
                 that snapshot with it",
                spell(log_from, &log_why),
                spell(at, "")
            ));
        }
        Some((snapshot, Some(at))) => (at, format!("the commitTs of Backup {snapshot}")),
        _ => (log_from, log_why),
    };
    if point >= from && point <= checkpoint {
        return Reach::Within;
    }
    Reach::Outside(format!(
        "spec.pitrRestoredTs {} is outside what can be restored: from {} to {}",
        spell(point, ""),
        spell(from, &base),
        spell(checkpoint, &format!("the checkpoint of log Backup {log_name}"))
    ))
}

/// The Complete snapshot Backup whose data `pitrFullBackupStorageProvider` names, with its commitTs if readable.
fn full_backup(restore: &Restore, backups: &[&Backup]) -> Option<(String, Option<Tso>)> {
    let url = restore.spec.pitr_full_backup_storage_provider.as_deref()?.location()?.url();
    let snapshot = backups.iter().find(|b| {
        !log_backup::is_log(&b.spec)
            && b.phase() == Some(BackupPhase::Complete)
            && b.spec.storage.location().is_some_and(|l| l.url() == url)
    })?;
    let at = ts(snapshot.status.as_ref().and_then(|s| s.commit_ts.as_deref()));
    Some((snapshot.metadata.name.clone().unwrap_or_default(), at))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::BackupSpec;
    use crate::api::storage::{S3StorageProvider, StorageProvider};
    use crate::api::tools::BrConfig;
    use chrono::TimeZone;

    fn s3(prefix: &str) -> StorageProvider {
        StorageProvider {
            s3: Some(Box::new(S3StorageProvider {
                provider: "aws".into(),
                bucket: Some("b".into()),
                prefix: Some(prefix.into()),
                ..Default::default()
            })),
            ..Default::default()
        }
    }

    fn at(h: u32) -> Tso {
        Tso::from_time(chrono::Utc.with_ymd_and_hms(2026, 1, 1, h, 0, 0).unwrap())
    }

    fn log(start: u32, truncated: Option<u32>, checkpoint: u32) -> Backup {
        let mut b = Backup::new(
            "log",
            BackupSpec { backup_mode: Some("log".into()), storage: s3("log"), ..Default::default() },
        );
        let st = b.status.get_or_insert_with(Default::default);
        st.commit_ts = Some(at(start).0.to_string());
        st.log_success_truncate_until = truncated.map(|t| at(t).0.to_string());
        st.log_checkpoint_ts = Some(at(checkpoint).0.to_string());
        b
    }

    fn snapshot(h: u32) -> Backup {
        let mut b = Backup::new("snap", BackupSpec { storage: s3("snap"), ..Default::default() });
        let st = b.status.get_or_insert_with(Default::default);
        st.phase = Some(BackupPhase::Complete);
        st.commit_ts = Some(at(h).0.to_string());
        b
    }

    fn restore(point: &str, full: bool) -> Restore {
        let mut r = Restore::new("r", Default::default());
        r.spec.br = Some(Box::new(BrConfig { cluster: "c".into(), ..Default::default() }));
        r.spec.storage = s3("log");
        r.spec.restore_mode = Some("pitr".into());
        r.spec.pitr_restored_ts = Some(point.into());
        r.spec.pitr_full_backup_storage_provider = full.then(|| Box::new(s3("snap")));
        r
    }

    #[test]
    fn a_point_between_the_snapshot_and_the_checkpoint_is_within_reach() {
        let (l, s) = (log(1, None, 9), snapshot(3));
        assert_eq!(reach(&restore("2026-01-01T05:00:00Z", true), &[&l, &s]), Reach::Within);
        assert_eq!(reach(&restore("2026-01-01T09:00:00Z", true), &[&l, &s]), Reach::Within);
    }

    #[test]
    fn a_point_before_the_snapshot_or_after_the_checkpoint_is_refused_with_the_range() {
        let (l, s) = (log(1, None, 9), snapshot(3));
        let Reach::Outside(message) = reach(&restore("2026-01-01T02:00:00Z", true), &[&l, &s]) else { panic!() };
        assert!(message.contains("from 2026-01-01T03:00:00Z (TSO "), "{message}");
        assert!(message.contains(", the commitTs of Backup snap) to 2026-01-01T09:00:00Z (TSO "), "{message}");
        assert!(message.ends_with(", the checkpoint of log Backup log)"), "{message}");
        assert!(matches!(reach(&restore("2026-01-01T10:00:00Z", true), &[&l, &s]), Reach::Outside(_)));
    }

    #[test]
    fn a_log_truncated_past_the_snapshot_cannot_restore_from_it() {
        let (l, s) = (log(1, Some(4), 9), snapshot(3));
        let Reach::Outside(message) = reach(&restore("2026-01-01T05:00:00Z", true), &[&l, &s]) else { panic!() };
        assert!(
            message.contains("where log Backup log was truncated to), after the commitTs of Backup snap"),
            "{message}"
        );
    }

    #[test]
    fn without_a_snapshot_the_log_alone_bounds_the_point_and_an_unknown_log_is_left_to_br() {
        let l = log(1, Some(4), 9);
        assert!(matches!(reach(&restore("2026-01-01T03:00:00Z", false), &[&l]), Reach::Outside(_)));
        assert_eq!(reach(&restore("2026-01-01T05:00:00Z", false), &[&l]), Reach::Within);
        assert_eq!(reach(&restore("2026-01-01T05:00:00Z", false), &[]), Reach::Unknown);
    }
}
