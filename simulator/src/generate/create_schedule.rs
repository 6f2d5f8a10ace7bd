//! A user creates a BackupSchedule: a cron from the spellings users write (minutes, seconds, descriptors,
//! `@every`), sometimes a time zone, a retention by age or count (or both, or none), a clean policy, sometimes a
//! log backup for point-in-time recovery.

use serde_json::{Value, json};
use std::time::Duration;

use super::{
    Action, Draft, NAMESPACE,
    draft::{Variant, manifest, storage},
};
use crate::scenario::model::Area;

pub const ACTION: Action = Action { name: "create-schedule", area: Area::Schedules, weight: 3, draw };

/// Crons a user writes, from every few seconds to daily.
pub const CRONS: &[&str] = &[
    "*/10 * * * *",
    "*/5 * * * *",
    "*/1 * * * *",
    "0 * * * *",
    "0/20 * * * *",
    "5/15 * * * *",
    "*/30 * * * * *",
    "@hourly",
    "@every 45m",
    "@every 7m",
    "30 1 * * *",
    "0 */2 * * Mon-Fri",
];

/// Zones with and without daylight saving time.
pub const ZONES: &[&str] = &["UTC", "America/New_York", "Europe/Berlin", "Asia/Shanghai", "Australia/Lord_Howe"];

pub const CLEAN_POLICIES: &[&str] = &["Delete", "Retain", "OnFailure"];

fn draw(d: &mut Draft) {
    let when = d.when();
    at(d, when);
}

/// Creates a schedule at offset `at` (the generator's first schedule is made this way at 0s).
pub fn at(d: &mut Draft, at: Duration) {
    let name = d.name("sched");
    let spec = spec(d, &name);
    let note = d.note(format!("a user creates BackupSchedule {NAMESPACE}/{name}"));
    let manifest = manifest("BackupSchedule", &name, spec);
    d.create(at, &note, manifest);
}

/// A schedule's spec: a cron, maybe a time zone, a retention, a Backup template.
pub fn spec(d: &mut Draft, name: &str) -> Value {
    let mut spec = json!({
        "schedule": d.pick(CRONS),
        "backupTemplate": {
            "cleanPolicy": d.pick(CLEAN_POLICIES),
            "br": {"cluster": "mycluster"},
            "s3": storage(name),
        },
    });
    if d.chance(0.3) {
        spec["timeZone"] = Value::from(d.pick(ZONES));
    }
    retention(d, &mut spec);
    log_backup(d, &mut spec, name);
    spec
}

/// Sometimes a `logBackupTemplate` (point-in-time recovery): the schedule keeps a log backup running and truncates
/// it as it collects snapshots (TiDB Operator's #6068 and #6320 are about collection by count); half of those also
/// compact their log (`compactBackupTemplate`, `compactInterval`), as TiDB's integrated PITR schedule does.
fn log_backup(d: &mut Draft, spec: &mut Value, name: &str) {
    if !d.variant(Variant::LogBackup, 0.3) {
        return;
    }
    spec["logBackupTemplate"] = json!({
        "backupMode": "log",
        "cleanPolicy": d.variant_pick(Variant::LogBackup, CLEAN_POLICIES),
        "br": {"cluster": "mycluster"},
        "s3": storage(&format!("{name}-log")),
    });
    if d.variant(Variant::Compaction, 0.5) {
        spec["compactInterval"] = Value::from(d.variant_pick(Variant::Compaction, &["10m", "20m", "1h"]));
        spec["compactBackupTemplate"] = json!({
            "br": {"cluster": "mycluster"},
            "s3": storage(&format!("{name}-log")),
            "maxRetryTimes": d.variant_pick(Variant::Compaction, &[0, 2, 6]),
        });
    }
}

/// Sets a retention on `spec`: by age, by count, both (age wins), or none.
pub fn retention(d: &mut Draft, spec: &mut Value) {
    match d.number(0, 3) {
        0 => spec["maxReservedTime"] = Value::from(d.pick(&["30m", "1h", "3h", "25m"])),
        1 => spec["maxBackups"] = Value::from(d.number(1, 5)),
        2 => {
            spec["maxReservedTime"] = Value::from(d.pick(&["1h", "2h"]));
            spec["maxBackups"] = Value::from(d.number(1, 3));
        }
        _ => {}
    }
}
