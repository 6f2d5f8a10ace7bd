//! A user runs a log backup by hand: pauses and resumes it, truncates its log, stops it (with `logSubcommand` or
//! the legacy `logStop`), and often deletes it, running or not.

use operator::cluster::{Kind, ObjectKey};
use serde_json::json;
use std::time::Duration;

use super::create_schedule::CLEAN_POLICIES;
use super::{
    Action, Draft, NAMESPACE,
    draft::{manifest, storage},
};
use crate::scenario::model::Area;

pub const ACTION: Action = Action { name: "log-backup", area: Area::Backups, weight: 1, draw };

fn draw(d: &mut Draft) {
    let at = d.when();
    let name = d.name("log");
    let key = ObjectKey::new(NAMESPACE, &name);
    let policy = d.pick(CLEAN_POLICIES);
    let spec =
        json!({"backupMode": "log", "cleanPolicy": policy, "br": {"cluster": "mycluster"}, "s3": storage(&name)});
    let mut story = vec![format!("a user starts log Backup {key} (cleanPolicy {policy})")];
    let after = |d: &mut Draft, lo: u64, hi: u64| d.duration(Duration::from_secs(lo), Duration::from_secs(hi));
    let mut edits = Vec::new();
    let mut t = at;
    if d.chance(0.4) {
        t += after(d, 60, 3600);
        edits.push((t, json!({"logSubcommand": "log-pause"}), "pauses it".to_string()));
        t += after(d, 60, 3600);
        edits.push((t, json!({"logSubcommand": "log-start"}), "resumes it".to_string()));
    }
    if d.chance(0.4) {
        t += after(d, 600, 3 * 3600);
        let until = d.start + chrono::Duration::from_std(at + (t - at) / 2).unwrap_or_default();
        let until = until.format("%Y-%m-%d %H:%M:%S+0000").to_string();
        edits.push((t, json!({"logTruncateUntil": until}), format!("truncates its log to {until}")));
    }
    if d.chance(0.3) {
        t += after(d, 60, 3600);
        let stop = if d.chance(0.5) { json!({"logSubcommand": "log-stop"}) } else { json!({"logStop": true}) };
        edits.push((t, stop, "stops it".to_string()));
    }
    let delete_at = d.chance(0.7).then(|| t + after(d, 1, 2 * 3600));
    // Everything happens while the run lasts, with time left to judge it.
    let last = d.duration * 4 / 5;
    edits.retain(|(when, _, _)| *when <= last);
    let delete_at = delete_at.filter(|when| *when <= last);
    for (when, _, what) in &edits {
        story.push(format!("{what} at +{}", operator::api::duration::format_duration(*when - at)));
    }
    if let Some(when) = delete_at {
        story.push(format!("deletes it at +{}", operator::api::duration::format_duration(when - at)));
    }
    let note = d.note(story.join(", "));
    d.create(at, &note, manifest("Backup", &name, spec));
    for (when, patch, _) in edits {
        d.patch(when, &note, Kind::Backup, &key, patch);
    }
    if let Some(when) = delete_at {
        d.delete(when, &note, Kind::Backup, key);
    }
}
