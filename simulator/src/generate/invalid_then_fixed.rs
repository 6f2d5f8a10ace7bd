//! A user writes a value of the right type that the schedule cannot use (Acto-style: the CRD's types accept it,
//! the meaning does not), and fixes it later.

use serde_json::{Value, json};
use std::time::Duration;

use super::{Action, Draft};
use crate::scenario::model::Area;

pub const ACTION: Action = Action { name: "invalid-then-fixed", area: Area::Schedules, weight: 2, draw };

fn draw(d: &mut Draft) {
    let (at, fixed) = d.window(Duration::from_secs(60), Duration::from_secs(3 * 3600));
    let Some(known) = d.schedule_at(at) else { return };
    let key = known.key();
    let spec = &known.schedule.spec;
    let (field, bad, good) = match d.number(0, 3) {
        0 => (
            "schedule",
            Value::from(d.pick(&["61 * * * *", "*/0 * * * *", "0 0 L * *", "@every 0s", "TZ=UTC 0 * * * *"])),
            Value::from(spec.schedule.clone()),
        ),
        1 => (
            "timeZone",
            Value::from(d.pick(&["Mars/Olympus", "UTC+8", ""])),
            spec.time_zone.clone().map_or(Value::Null, Value::from),
        ),
        2 => (
            "maxReservedTime",
            Value::from(d.pick(&["-1h", "3 days", "1x"])),
            spec.max_reserved_time.clone().map_or(Value::Null, Value::from),
        ),
        _ => ("maxBackups", Value::from(d.number(-5, -1)), spec.max_backups.map_or(Value::Null, Value::from)),
    };
    let note = d.note(format!("a user sets {field} of BackupSchedule {key} to {bad}, then fixes it"));
    d.patch_schedule(at, &note, &key, json!({ field: bad }));
    d.patch_schedule(fixed, &note, &key, json!({ field: good }));
}
