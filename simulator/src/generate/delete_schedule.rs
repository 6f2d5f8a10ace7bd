//! A user deletes a schedule; the garbage collector then deletes the Backups it owns.

use operator::cluster::Kind;

use super::{Action, Draft};
use crate::scenario::model::Area;

pub const ACTION: Action = Action { name: "delete-schedule", area: Area::Schedules, weight: 1, draw };

fn draw(d: &mut Draft) {
    let at = d.when();
    let Some(known) = d.schedule_at(at) else { return };
    let key = known.key();
    let note = d.note(format!("a user deletes BackupSchedule {key}"));
    d.delete(at, &note, Kind::BackupSchedule, key);
}
