//! Core v1 Events as a view of the stored events.k8s.io/v1 Events, as the API server keeps one storage for both:
//! the operator's Recorder writes events.k8s.io, and `kubectl get events` reads them through core v1.

use serde_json::{Map, Value};

/// Field names that differ: (events.k8s.io/v1, core v1). Everything else keeps its name.
const RENAMED: &[(&str, &str)] = &[
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("reportingController", "reportingComponent"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
];

fn rename(v: &Value, api_version: &str, from_events_api: bool) -> Value {
    let Some(fields) = v.as_object() else { return v.clone() };
    let mut out = Map::new();
    for (k, val) in fields {
        let renamed = RENAMED
            .iter()
            .find(|(events, core)| if from_events_api { k == events } else { k == core })
            .map(|(events, core)| if from_events_api { *core } else { *events });
        out.insert(renamed.unwrap_or(k).to_string(), val.clone());
    }
    out.insert("apiVersion".into(), Value::String(api_version.into()));
    out.insert("kind".into(), Value::String("Event".into()));
    Value::Object(out)
}

/// A stored events.k8s.io/v1 Event as core v1 serves it.
pub fn to_core(event: &Value) -> Value {
    let mut core = rename(event, "v1", true);
    if core.get("source").is_none()
        && let Some(component) = event.get("reportingController")
    {
        core["source"] = serde_json::json!({"component": component});
    }
    core
}

/// A core v1 Event in the stored events.k8s.io/v1 form.
pub fn from_core(core: &Value) -> Value {
    let mut event = rename(core, "events.k8s.io/v1", false);
    if event.get("reportingController").is_none()
        && let Some(component) = core["source"]["component"].as_str()
    {
        event["reportingController"] = Value::String(component.into());
    }
    event
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_recorded_event_reads_as_a_core_event_and_back() {
        let stored = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": "demo.1", "namespace": "test1"}, "regarding": {"kind": "Backup", "name": "demo"},
            "note": "created Job backup-demo", "reason": "JobCreated", "type": "Normal",
            "reportingController": "backup-operator", "reportingInstance": "pod-1", "action": "Create",
            "eventTime": "2026-01-01T00:00:00.000000Z"});
        let core = to_core(&stored);
        assert_eq!(core["apiVersion"], "v1");
        assert_eq!(core["involvedObject"]["name"], "demo");
        assert_eq!(core["message"], "created Job backup-demo");
        assert_eq!(core["source"]["component"], "backup-operator");
        assert_eq!(core["reason"], "JobCreated");
        let back = from_core(&core);
        let mut without_source = back.clone();
        without_source.as_object_mut().unwrap().remove("deprecatedSource");
        assert_eq!(without_source, stored);
    }
}
