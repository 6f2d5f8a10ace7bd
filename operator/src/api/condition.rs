//! Status conditions shared by Backup, Restore and BackupSchedule (TiDB Operator's condition shape).

use chrono::{DateTime, Utc};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::time::to_k8s;

/// Whether a condition holds.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub enum ConditionStatus {
    #[default]
    True,
    False,
    Unknown,
}

/// One observation about the object: `type` is the phase or fact it is about.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    #[serde(rename = "type")]
    pub type_: String,
    pub status: ConditionStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    // TiDB Operator records the log subcommand a condition is about; kept as stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
}

impl Condition {
    /// A `True` condition of `type_` observed at `now`.
    pub fn new(type_: &str, now: DateTime<Utc>, reason: Option<&str>, message: Option<&str>) -> Self {
        Condition {
            type_: type_.to_string(),
            status: ConditionStatus::True,
            last_transition_time: Some(to_k8s(now)),
            reason: reason.map(str::to_string),
            message: message.map(str::to_string),
            command: None,
        }
    }
}

/// Replaces the condition of the same type (or appends it). The transition time is kept when neither the status,
/// the reason nor the message changed, so re-asserting a fact is not a transition.
pub fn set_condition(conditions: &mut Option<Vec<Condition>>, new: Condition) {
    let list = conditions.get_or_insert_with(Vec::new);
    match list.iter_mut().find(|c| c.type_ == new.type_) {
        Some(old) if old.status == new.status && old.reason == new.reason && old.message == new.message => {}
        Some(old) => *old = new,
        None => list.push(new),
    }
}

/// Removes the condition of `type_`, if present.
pub fn remove_condition(conditions: &mut Option<Vec<Condition>>, type_: &str) {
    if let Some(list) = conditions {
        list.retain(|c| c.type_ != type_);
    }
}

/// The condition of `type_`, if present.
pub fn find_condition<'a>(conditions: &'a Option<Vec<Condition>>, type_: &str) -> Option<&'a Condition> {
    conditions.as_ref()?.iter().find(|c| c.type_ == type_)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn reasserting_a_condition_keeps_its_transition_time() {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let t1 = Utc.with_ymd_and_hms(2026, 1, 1, 1, 0, 0).unwrap();
        let mut conds = None;
        set_condition(&mut conds, Condition::new("Invalid", t0, Some("BadSpec"), Some("x")));
        set_condition(&mut conds, Condition::new("Invalid", t1, Some("BadSpec"), Some("x")));
        assert_eq!(conds.as_ref().unwrap().len(), 1);
        assert_eq!(find_condition(&conds, "Invalid").unwrap().last_transition_time, Some(to_k8s(t0)));
        set_condition(&mut conds, Condition::new("Invalid", t1, Some("BadSpec"), Some("y")));
        assert_eq!(find_condition(&conds, "Invalid").unwrap().last_transition_time, Some(to_k8s(t1)));
        remove_condition(&mut conds, "Invalid");
        assert_eq!(find_condition(&conds, "Invalid"), None);
        remove_condition(&mut None, "Invalid");
    }
}
