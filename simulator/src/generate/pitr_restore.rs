//! A user runs a log backup and a snapshot by hand, then restores to a point in time from them: a point they cover,
//! one before the snapshot, or one past the log's checkpoint (both refused before any Job runs), sometimes before
//! the snapshot has finished.

use operator::cluster::ObjectKey;
use serde_json::json;
use std::time::Duration;

use super::{
    Action, Draft, NAMESPACE,
    draft::{manifest, storage},
};
use crate::scenario::model::Area;

pub const ACTION: Action = Action { name: "pitr-restore", area: Area::Backups, weight: 1, draw };

/// Where the restore point falls, relative to what the backups cover.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Point {
    /// Between the snapshot and the restore: restorable once the snapshot is Complete.
    Covered,
    /// Before the snapshot: no full backup to start from.
    BeforeSnapshot,
    /// An hour past the restore: beyond anything the log's checkpoint can have reached.
    PastCheckpoint,
}

impl Point {
    const ALL: [Point; 3] = [Point::Covered, Point::BeforeSnapshot, Point::PastCheckpoint];

    fn describe(self) -> &'static str {
        match self {
            Point::Covered => "between the snapshot and the restore",
            Point::BeforeSnapshot => "before the snapshot",
            Point::PastCheckpoint => "past the log's checkpoint",
        }
    }

    /// The restore point for a log started at `at`, a snapshot at `snapshot_at` and a restore at `restore_at`.
    fn at(self, at: Duration, snapshot_at: Duration, restore_at: Duration) -> Duration {
        match self {
            Point::Covered => snapshot_at + (restore_at - snapshot_at) / 2,
            Point::BeforeSnapshot => at + (snapshot_at - at) / 2,
            Point::PastCheckpoint => restore_at + Duration::from_secs(3600),
        }
    }
}

fn draw(d: &mut Draft) {
    let at = d.when();
    let (log, snapshot, restore) = (d.name("pitr-log"), d.name("pitr-snapshot"), d.name("pitr-restore"));
    let snapshot_at = at + d.duration(Duration::from_secs(60), Duration::from_secs(3600));
    // The restore comes while the run lasts, with time left to judge it.
    let restore_at =
        (snapshot_at + d.duration(Duration::from_secs(60), Duration::from_secs(3 * 3600))).min(d.duration * 4 / 5);
    let restore_at = restore_at.max(snapshot_at + Duration::from_secs(60));
    let which = d.pick(&Point::ALL);
    let point = which.at(at, snapshot_at, restore_at);
    let ts = d.start + chrono::Duration::from_std(point).unwrap_or_default();
    let ts = ts.format("%Y-%m-%d %H:%M:%S+0000").to_string();
    let key = |name: &str| ObjectKey::new(NAMESPACE, name);
    let since = |t: Duration| operator::api::duration::format_duration(t - at);
    let note = d.note(format!(
        "a user starts log Backup {}, snapshots to Backup {} at +{}, and at +{} restores to {ts} ({}) with \
         Restore {}",
        key(&log),
        key(&snapshot),
        since(snapshot_at),
        since(restore_at),
        which.describe(),
        key(&restore)
    ));
    let br = json!({"cluster": "mycluster"});
    let spec = json!({"backupMode": "log", "cleanPolicy": "Retain", "br": br, "s3": storage(&log)});
    d.create(at, &note, manifest("Backup", &log, spec));
    let spec = json!({"cleanPolicy": "Retain", "br": br, "s3": storage(&snapshot)});
    d.create(snapshot_at, &note, manifest("Backup", &snapshot, spec));
    let spec = json!({
        "restoreMode": "pitr",
        "pitrRestoredTs": ts,
        "br": {"cluster": "target", "clusterNamespace": NAMESPACE},
        "s3": storage(&log),
        "pitrFullBackupStorageProvider": {"s3": storage(&snapshot)},
    });
    d.create(restore_at, &note, manifest("Restore", &restore, spec));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_point_falls_where_it_says_relative_to_the_snapshot_and_the_restore() {
        let (at, snapshot, restore) = (Duration::from_secs(100), Duration::from_secs(700), Duration::from_secs(1900));
        let covered = Point::Covered.at(at, snapshot, restore);
        assert!(snapshot < covered && covered < restore);
        let before = Point::BeforeSnapshot.at(at, snapshot, restore);
        assert!(at < before && before < snapshot);
        assert!(Point::PastCheckpoint.at(at, snapshot, restore) > restore);
        let described: std::collections::BTreeSet<_> = Point::ALL.iter().map(|p| p.describe()).collect();
        assert_eq!(described.len(), Point::ALL.len(), "each point reads differently in the scenario's notes");
    }
}
