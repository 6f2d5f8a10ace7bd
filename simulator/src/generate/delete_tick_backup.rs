//! A user deletes the Backup of one of a schedule's ticks: just after the tick (starting or running), or later
//! (finished, or being cleaned).

use operator::cluster::{Kind, ObjectKey};
use std::time::Duration;

use super::{Action, Draft};
use crate::scenario::model::Area;

pub const ACTION: Action = Action { name: "delete-tick-backup", area: Area::Backups, weight: 3, draw };

fn draw(d: &mut Draft) {
    let at = d.when();
    let Some(known) = d.schedule_at(at) else { return };
    let Some(tick) = known.tick_after(d.start, at.max(known.since)) else { return };
    let after = match d.number(0, 2) {
        0 => d.duration(Duration::from_secs(5), Duration::from_secs(90)),
        1 => d.duration(Duration::from_secs(90), Duration::from_secs(900)),
        _ => d.duration(Duration::from_secs(900), Duration::from_secs(3 * 3600)),
    };
    if tick + after > d.duration {
        return;
    }
    let key = ObjectKey::new(known.key().namespace, known.backup_name(d.start, tick));
    let note = d.note(format!(
        "a user deletes Backup {key} {} after its tick",
        operator::api::duration::format_duration(after)
    ));
    d.delete(tick + after, &note, Kind::Backup, key);
}
