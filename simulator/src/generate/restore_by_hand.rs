//! A user backs up by hand and restores from it later, sometimes before the Backup finished.

use operator::cluster::ObjectKey;
use serde_json::json;
use std::time::Duration;

use super::{
    Action, Draft, NAMESPACE,
    draft::{manifest, storage},
};
use crate::scenario::model::Area;

pub const ACTION: Action = Action { name: "restore-by-hand", area: Area::Backups, weight: 1, draw };

fn draw(d: &mut Draft) {
    let at = d.when();
    let backup = d.name("source");
    let restore = d.name("restore");
    let after = d.duration(Duration::from_secs(60), Duration::from_secs(3 * 3600));
    let note = d.note(format!(
        "a user backs up to Backup {} and restores it {} later",
        ObjectKey::new(NAMESPACE, &backup),
        operator::api::duration::format_duration(after)
    ));
    let spec = json!({"cleanPolicy": "Retain", "br": {"cluster": "mycluster"}, "s3": storage(&backup)});
    d.create(at, &note, manifest("Backup", &backup, spec));
    let spec = json!({"br": {"cluster": "target", "clusterNamespace": NAMESPACE}, "s3": storage(&backup)});
    d.create(at + after, &note, manifest("Restore", &restore, spec));
}
