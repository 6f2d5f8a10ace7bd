//! A user creates, before a schedule's tick, a Backup with the name that tick will use: with no owner and no labels,
//! labelled as this schedule's (but not owned by it), or labelled as another schedule's.

use operator::api::labels;
use operator::cluster::ObjectKey;
use serde_json::json;
use std::time::Duration;

use super::{Action, Draft, draft::storage};
use crate::scenario::model::Area;

pub const ACTION: Action = Action { name: "tick-name-taken", area: Area::Backups, weight: 2, draw };

fn draw(d: &mut Draft) {
    let at = d.when();
    let Some(known) = d.schedule_at(at) else { return };
    let lead = d.duration(Duration::from_secs(1), Duration::from_secs(3600));
    let Some(tick) = known.tick_after(d.start, at + lead) else { return };
    if tick > d.duration {
        return;
    }
    let namespace = known.key().namespace;
    let name = known.backup_name(d.start, tick);
    let key = ObjectKey::new(&namespace, &name);
    let mut metadata = json!({"name": name, "namespace": namespace});
    let whose = match d.number(0, 2) {
        0 => "with no owner",
        1 => {
            metadata["labels"] = json!({ labels::SCHEDULE: known.key().name });
            "labelled as this schedule's but not owned by it"
        }
        _ => {
            metadata["labels"] = json!({ labels::SCHEDULE: "someone-else" });
            "labelled as another schedule's"
        }
    };
    let note = d.note(format!("a user creates Backup {key}, {whose}, before the tick that takes its name"));
    let manifest = json!({
        "apiVersion": "pingcap.com/v1alpha1",
        "kind": "Backup",
        "metadata": metadata,
        "spec": {"br": {"cluster": "mycluster"}, "s3": storage(&d.name("taken"))},
    });
    d.create(at, &note, manifest);
}
