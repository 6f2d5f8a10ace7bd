//! A user creates a Backup the operator cannot run (its spec is refused: an Invalid Backup), and deletes it later.

use operator::cluster::{Kind, ObjectKey};
use serde_json::json;
use std::time::Duration;

use super::{
    Action, Draft, NAMESPACE,
    draft::{manifest, storage},
};
use crate::scenario::model::Area;

pub const ACTION: Action = Action { name: "invalid-backup", area: Area::Backups, weight: 2, draw };

fn draw(d: &mut Draft) {
    let at = d.when();
    let name = d.name("invalid");
    let key = ObjectKey::new(NAMESPACE, &name);
    let (what, spec) = match d.number(0, 2) {
        0 => ("with no tool", json!({"cleanPolicy": "Delete", "s3": storage(&name)})),
        1 => (
            "with a bad retry policy",
            json!({"cleanPolicy": "Delete", "br": {"cluster": "mycluster"}, "s3": storage(&name),
                   "backoffRetryPolicy": {"minRetryDuration": "soon"}}),
        ),
        _ => ("with no storage", json!({"cleanPolicy": "Delete", "br": {"cluster": "mycluster"}})),
    };
    let after = d.duration(Duration::from_secs(30), Duration::from_secs(1800));
    let note = d.note(format!(
        "a user creates Backup {key} {what} (Invalid), and deletes it {} later",
        operator::api::duration::format_duration(after)
    ));
    let manifest = manifest("Backup", &name, spec);
    d.create(at, &note, manifest);
    d.delete(at + after, &note, Kind::Backup, key);
}
