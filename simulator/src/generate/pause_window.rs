//! A user pauses a schedule and resumes it later, for minutes or for most of a day.

use serde_json::json;
use std::time::Duration;

use super::{Action, Draft};
use crate::scenario::model::Area;

pub const ACTION: Action = Action { name: "pause-window", area: Area::Schedules, weight: 3, draw };

fn draw(d: &mut Draft) {
    let (at, resume) = d.window(Duration::from_secs(5 * 60), Duration::from_secs(8 * 3600));
    let Some(known) = d.schedule_at(at) else { return };
    let key = known.key();
    let note = d.note(format!("a user pauses BackupSchedule {key}, then resumes it"));
    d.patch_schedule(at, &note, &key, json!({"pause": true}));
    d.patch_schedule(resume, &note, &key, json!({"pause": false}));
}
