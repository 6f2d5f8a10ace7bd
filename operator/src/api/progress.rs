//! Step progress of a running tool (`status.progresses`), in TiDB Operator's shape: one entry per step.

use chrono::{DateTime, Utc};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::time::to_k8s;

/// How far one step of the tool has got.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    /// The tool's name for the step (`Full Backup`, `Checksum`, `Export`, `Import`).
    #[serde(default)]
    pub step: String,
    /// Percent done, from 0 to 100.
    #[serde(default)]
    pub progress: f64,
    /// When this step's progress was last written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
}

/// Records `percent` for `step` at `now`: updates that step's entry, or appends one (steps keep their order).
pub fn set_progress(list: &mut Option<Vec<Progress>>, step: &str, percent: f64, now: DateTime<Utc>) {
    let list = list.get_or_insert_with(Vec::new);
    let percent = percent.clamp(0.0, 100.0);
    match list.iter_mut().find(|p| p.step == step) {
        Some(p) => {
            p.progress = percent;
            p.last_transition_time = Some(to_k8s(now));
        }
        None => {
            list.push(Progress { step: step.to_string(), progress: percent, last_transition_time: Some(to_k8s(now)) })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_step_is_updated_in_place_and_new_steps_are_appended() {
        let t = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let mut list = None;
        set_progress(&mut list, "Full Backup", 10.0, t);
        set_progress(&mut list, "Full Backup", 55.5, t);
        set_progress(&mut list, "Checksum", 140.0, t);
        let list = list.unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!((list[0].step.as_str(), list[0].progress), ("Full Backup", 55.5));
        assert_eq!((list[1].step.as_str(), list[1].progress), ("Checksum", 100.0));
    }
}
