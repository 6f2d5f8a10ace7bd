//! A user deletes the Job (or, by deleting the Job's pods, the running attempt) of a schedule's Backup while it runs.

use operator::api::names::job_name;
use operator::cluster::{Kind, ObjectKey};
use std::time::Duration;

use super::{Action, Draft};
use crate::scenario::model::Area;

pub const ACTION: Action = Action { name: "delete-job", area: Area::Backups, weight: 2, draw };

fn draw(d: &mut Draft) {
    let at = d.when();
    let Some(known) = d.schedule_at(at) else { return };
    let Some(tick) = known.tick_after(d.start, at.max(known.since)) else { return };
    let after = d.duration(Duration::from_secs(2), Duration::from_secs(600));
    if tick + after > d.duration {
        return;
    }
    let backup = known.backup_name(d.start, tick);
    let key = ObjectKey::new(known.key().namespace, job_name("backup", &backup));
    let note = d.note(format!(
        "a user deletes Job {key} {} after the tick of Backup {backup}",
        operator::api::duration::format_duration(after)
    ));
    d.delete(tick + after, &note, Kind::Job, key);
}
