//! A user deletes a schedule's namespace with everything in it, late in the run.

use std::time::Duration;

use super::{Action, Draft};
use crate::scenario::model::{Area, StepAction};

pub const ACTION: Action = Action { name: "delete-namespace", area: Area::Backups, weight: 1, draw };

fn draw(d: &mut Draft) {
    let at = d.duration(d.duration / 3, d.duration * 3 / 5).max(Duration::from_secs(60));
    let Some(known) = d.schedule_at(at) else { return };
    let namespace = known.key().namespace;
    let note = d.note(format!("a user deletes namespace {namespace} with everything in it"));
    d.step(at, &note, StepAction::DeleteNamespace { namespace });
}
