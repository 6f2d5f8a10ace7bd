//! A user creates a Backup by hand, and sometimes deletes it: while it runs, once it finished, or while it cleans.

use operator::cluster::{Kind, ObjectKey};
use serde_json::json;
use std::time::Duration;

use super::create_schedule::CLEAN_POLICIES;
use super::{
    Action, Draft, NAMESPACE,
    draft::{manifest, storage},
};
use crate::scenario::model::Area;

pub const ACTION: Action = Action { name: "backup-by-hand", area: Area::Backups, weight: 3, draw };

fn draw(d: &mut Draft) {
    let at = d.when();
    let name = d.name("manual");
    let policy = d.pick(CLEAN_POLICIES);
    let mut spec = json!({"cleanPolicy": policy, "br": {"cluster": "mycluster"}, "s3": storage(&name)});
    if d.chance(0.3) {
        spec["backoffRetryPolicy"] = json!({"maxRetryTimes": d.number(1, 3), "minRetryDuration": "30s"});
    }
    let key = ObjectKey::new(NAMESPACE, &name);
    // Deleted after: under a minute (starting), a few minutes (running), an hour (finished, or cleaning by then).
    let delete_after = match d.number(0, 3) {
        0 => Some(d.duration(Duration::from_secs(1), Duration::from_secs(60))),
        1 => Some(d.duration(Duration::from_secs(60), Duration::from_secs(600))),
        2 => Some(d.duration(Duration::from_secs(1800), Duration::from_secs(5400))),
        _ => None,
    };
    let story = match delete_after {
        Some(after) => format!(
            "a user creates Backup {key} (cleanPolicy {policy}) and deletes it {} later",
            operator::api::duration::format_duration(after)
        ),
        None => format!("a user creates Backup {key} (cleanPolicy {policy})"),
    };
    let note = d.note(story);
    let manifest = manifest("Backup", &name, spec);
    d.create(at, &note, manifest);
    if let Some(after) = delete_after {
        d.delete(at + after, &note, Kind::Backup, key);
    }
}
