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
const POINTS: [&str; 3] = ["between the snapshot and the restore", "before the snapshot", "past the log's checkpoint"];

fn draw(d: &mut Draft) {
    let at = d.when();
    let (log, snapshot, restore) = (d.name("pitr-log"), d.name("pitr-snapshot"), d.name("pitr-restore"));
    let snapshot_at = at + d.duration(Duration::from_secs(60), Duration::from_secs(3600));
    // The restore comes while the run lasts, with time left to judge it.
    let restore_at =
        (snapshot_at + d.duration(Duration::from_secs(60), Duration::from_secs(3 * 3600))).min(d.duration * 4 / 5);
    let restore_at = restore_at.max(snapshot_at + Duration::from_secs(60));
    let which = d.pick(&POINTS);
    let point = match which {
        "between the snapshot and the restore" => snapshot_at + (restore_at - snapshot_at) / 2,
        "before the snapshot" => at + (snapshot_at - at) / 2,
        _ => restore_at + Duration::from_secs(3600),
    };
    let ts = d.start + chrono::Duration::from_std(point).unwrap_or_default();
    let ts = ts.format("%Y-%m-%d %H:%M:%S+0000").to_string();
    let key = |name: &str| ObjectKey::new(NAMESPACE, name);
    let since = |t: Duration| operator::api::duration::format_duration(t - at);
    let note = d.note(format!(
        "a user starts log Backup {}, snapshots to Backup {} at +{}, and at +{} restores to {ts} ({which}) with \
         Restore {}",
        key(&log),
        key(&snapshot),
        since(snapshot_at),
        since(restore_at),
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
