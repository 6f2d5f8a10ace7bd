//! A user edits a schedule's spec: a new cron or time zone, retention changed, swapped or removed, the template's
//! clean policy or storage prefix.

use serde_json::{Value, json};

use super::create_schedule::{CLEAN_POLICIES, CRONS, ZONES, retention};
use super::{Action, Draft};
use crate::scenario::model::Area;

pub const ACTION: Action = Action { name: "edit-schedule", area: Area::Schedules, weight: 3, draw };

fn draw(d: &mut Draft) {
    let at = d.when();
    let Some(known) = d.schedule_at(at) else { return };
    let key = known.key();
    let (what, spec) = match d.number(0, 5) {
        0 => ("changes the cron", json!({"schedule": d.pick(CRONS)})),
        1 => ("changes the time zone", json!({"timeZone": d.pick(ZONES)})),
        2 => {
            let mut spec = json!({"maxReservedTime": Value::Null, "maxBackups": Value::Null});
            retention(d, &mut spec);
            ("changes the retention", spec)
        }
        3 => {
            // The same numbers, the other field: "keep 3" becomes "keep 3h".
            let n = d.number(1, 4);
            if d.chance(0.5) {
                (
                    "swaps the retention to an age",
                    json!({"maxBackups": Value::Null, "maxReservedTime": format!("{n}h")}),
                )
            } else {
                ("swaps the retention to a count", json!({"maxReservedTime": Value::Null, "maxBackups": n}))
            }
        }
        4 => ("changes the clean policy", json!({"backupTemplate": {"cleanPolicy": d.pick(CLEAN_POLICIES)}})),
        _ => {
            let prefix = d.name("moved");
            ("moves the storage prefix", json!({"backupTemplate": {"s3": {"prefix": prefix}}}))
        }
    };
    let note = d.note(format!("a user {what} of BackupSchedule {key}"));
    d.patch_schedule(at, &note, &key, spec);
}
