//! Writes a scenario back as YAML (for shrunk scenarios): the same format `sim run` reads, so it replays exactly.

use operator::api::duration::format_duration;
use serde_json::{Map, Value, json};

use super::model::*;
use crate::object::Obj;

fn span(s: Span) -> Value {
    if s.lo == s.hi {
        Value::String(format_duration(s.lo))
    } else {
        Value::String(format!("{}..{}", format_duration(s.lo), format_duration(s.hi)))
    }
}

fn manifest(o: &Obj) -> Value {
    let mut v = match o {
        Obj::Backup(a) => serde_json::to_value(&**a),
        Obj::Restore(a) => serde_json::to_value(&**a),
        Obj::Schedule(a) => serde_json::to_value(&**a),
        Obj::Compact(a) => serde_json::to_value(&**a),
        Obj::Job(a) => serde_json::to_value(&**a),
        Obj::Pod(a) => serde_json::to_value(&**a),
    }
    .expect("objects serialize");
    if let Some(m) = v.as_object_mut() {
        m.remove("status");
    }
    v
}

fn fault(f: &Fault) -> Value {
    let mut body = Map::new();
    let names =
        |v: &[operator::cluster::Kind]| Value::Array(v.iter().map(|k| Value::String(k.as_str().into())).collect());
    let roles = |v: &[JobRole]| Value::Array(v.iter().map(|r| Value::String(r.as_str().into())).collect());
    match &f.kind {
        FaultKind::InformerLag { controller, kinds, delay } => {
            if let Some(c) = controller {
                body.insert("controller".into(), c.as_str().into());
            }
            if !kinds.is_empty() {
                body.insert("kinds".into(), names(kinds));
            }
            body.insert("delay".into(), span(*delay));
        }
        FaultKind::WatchStall { controller, kinds } => {
            if let Some(c) = controller {
                body.insert("controller".into(), c.as_str().into());
            }
            if !kinds.is_empty() {
                body.insert("kinds".into(), names(kinds));
            }
        }
        FaultKind::PodsStuck { jobs, state } => {
            body.insert("state".into(), state.reason().into());
            if !jobs.is_empty() {
                body.insert("jobs".into(), roles(jobs));
            }
        }
        FaultKind::PodFailures { jobs, rate, mode } => {
            if !jobs.is_empty() {
                body.insert("jobs".into(), roles(jobs));
            }
            body.insert("rate".into(), json!(rate));
            body.insert("mode".into(), if *mode == FailMode::Kill { "kill" } else { "fail" }.into());
        }
        FaultKind::ApiErrors { verbs, kinds, actors, rate, error } => {
            if !verbs.is_empty() {
                body.insert(
                    "verbs".into(),
                    Value::Array(verbs.iter().map(|v| Value::String(v.as_str().into())).collect()),
                );
            }
            if !kinds.is_empty() {
                body.insert("kinds".into(), names(kinds));
            }
            body.insert(
                "actors".into(),
                match actors {
                    ApiActors::Operator => "operator",
                    ApiActors::Manager => "manager",
                    ApiActors::Both => "both",
                }
                .into(),
            );
            body.insert("rate".into(), json!(rate));
            body.insert(
                "error".into(),
                match error {
                    ApiErrorKind::Conflict => "Conflict",
                    ApiErrorKind::Transient => "Transient",
                    ApiErrorKind::TransientAfterApply => "TransientAfterApply",
                    ApiErrorKind::Forbidden => "Forbidden",
                    ApiErrorKind::Mixed => "Mixed",
                }
                .into(),
            );
        }
        FaultKind::OperatorRestart { at, every, after_write, times } => {
            if !at.is_empty() {
                body.insert("at".into(), Value::Array(at.iter().map(|d| Value::String(format_duration(*d))).collect()));
            }
            if let Some(e) = every {
                body.insert("every".into(), span(*e));
            }
            if let Some((verb, kind)) = after_write {
                body.insert("afterWrite".into(), json!({"verb": verb.as_str(), "kind": kind.as_str()}));
            }
            if let Some(t) = times {
                body.insert("times".into(), json!(t));
            }
        }
        FaultKind::OperatorDown => {}
    }
    if f.from != Span::fixed(std::time::Duration::ZERO) {
        body.insert("from".into(), span(f.from));
    }
    body.insert("until".into(), f.until.map(span).unwrap_or_else(|| "never".into()));
    json!({ f.kind.name(): Value::Object(body) })
}

fn step(s: &Step) -> Value {
    let mut v = action(s);
    if let (Some(note), Some(m)) = (&s.note, v.as_object_mut()) {
        m.insert("note".into(), note.clone().into());
    }
    v
}

fn action(s: &Step) -> Value {
    let at = Value::String(format_duration(s.at));
    match &s.action {
        StepAction::Patch { kind, key, patch } => {
            let mut p = json!({"kind": kind.as_str(), "name": key.name, "namespace": key.namespace});
            if let (Some(obj), Some(patch)) = (p.as_object_mut(), patch.as_object()) {
                obj.extend(patch.clone());
            }
            json!({"at": at, "patch": p})
        }
        StepAction::Create(o) => json!({"at": at, "create": manifest(o)}),
        StepAction::Delete { kind, key } => {
            json!({"at": at, "delete": {"kind": kind.as_str(), "name": key.name, "namespace": key.namespace}})
        }
        StepAction::WipeData { url } => json!({"at": at, "wipeData": url}),
        StepAction::DeleteNamespace { namespace } => json!({"at": at, "deleteNamespace": namespace}),
    }
}

/// The top level in the order people read a scenario (maps inside are written sorted).
#[derive(serde::Serialize)]
struct Doc<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a String>,
    start: String,
    duration: String,
    seed: u64,
    controllers: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    operator: Option<Value>,
    objects: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    copies: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    steps: Vec<Value>,
    timing: Value,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    faults: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    workload: Option<Value>,
    expect: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    canary: Option<bool>,
}

/// The scenario as a YAML document, headed by `comment` lines.
pub fn to_yaml(s: &Scenario, comment: &str) -> String {
    let t = &s.timing;
    let timing = json!({
        "podStart": span(t.pod_start), "backup": span(t.backup), "restore": span(t.restore), "clean": span(t.clean),
        "apiLatency": span(t.api_latency), "informerLag": span(t.informer_lag), "jobController": span(t.job_controller),
        "gc": span(t.gc), "podTermination": span(t.pod_termination), "restart": span(t.restart),
    });
    let mut op = Map::new();
    if let Some(d) = s.operator.pod_start_timeout {
        op.insert("podStartTimeout".into(), format_duration(d).into());
    }
    if let Some(d) = s.operator.clean_retry {
        op.insert("cleanRetry".into(), format_duration(d).into());
    }
    let mut expect = Map::new();
    let ids = |v: &[InvariantId]| Value::Array(v.iter().map(|i| Value::String(i.as_str().into())).collect());
    if !s.expect.holds.is_empty() {
        expect.insert("holds".into(), ids(&s.expect.holds));
    }
    if !s.expect.violated.is_empty() {
        expect.insert("violated".into(), ids(&s.expect.violated));
    }
    expect.insert("grace".into(), format_duration(s.expect.grace).into());
    if s.expect.api_budget != ApiBudget::default() {
        let b = s.expect.api_budget;
        expect.insert("apiBudget".into(), json!({"requests": b.requests, "window": format_duration(b.window)}));
    }
    if !s.expect.data.is_empty() {
        expect.insert(
            "data".into(),
            Value::Array(s.expect.data.iter().map(|(url, present)| json!({"url": url, "present": present})).collect()),
        );
    }
    if !s.expect.phases.is_empty() {
        let phases = s.expect.phases.iter().map(
            |p| json!({"kind": p.kind.as_str(), "name": p.key.name, "namespace": p.key.namespace, "phase": p.phase}),
        );
        expect.insert("phases".into(), Value::Array(phases.collect()));
    }
    let doc = Doc {
        name: &s.name,
        description: (!s.description.is_empty()).then_some(&s.description),
        start: s.start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        duration: format_duration(s.duration),
        seed: s.seed,
        controllers: s.controllers.name(),
        operator: (!op.is_empty()).then_some(Value::Object(op)),
        objects: s.objects.iter().map(manifest).collect(),
        copies: (s.copies != 1).then_some(s.copies),
        steps: s.steps.iter().map(step).collect(),
        timing,
        faults: s.faults.iter().map(fault).collect(),
        workload: s
            .workload
            .as_ref()
            .map(|w| json!({"actions": w.actions, "areas": w.areas.iter().map(|a| a.as_str()).collect::<Vec<_>>()})),
        expect: Value::Object(expect),
        canary: s.canary.then_some(true),
    };
    let body = serde_saphyr::to_string(&doc).expect("a scenario serializes");
    let mut out = String::new();
    for line in comment.lines() {
        out.push_str("# ");
        out.push_str(line);
        out.push('\n');
    }
    out.push_str(&body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scenario_survives_a_write_and_read_round_trip() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
        let (files, _) = crate::cli::scenario_files(&[root]);
        assert!(!files.is_empty());
        for path in files {
            let s = crate::scenario::load(&path).unwrap();
            let text = to_yaml(&s, "round trip");
            let back = crate::scenario::parse(&text, "written.yaml")
                .unwrap_or_else(|e| panic!("{}:\n{e}\n{text}", path.display()));
            let plan = |f: &[Fault]| f.iter().map(|f| (f.kind.clone(), f.from, f.until)).collect::<Vec<_>>();
            assert_eq!(plan(&back.faults), plan(&s.faults), "{}", path.display());
            assert_eq!(back.timing, s.timing);
            assert_eq!(back.expect, s.expect);
            assert_eq!((back.start, back.duration, back.seed), (s.start, s.duration, s.seed));
            assert_eq!(back.objects.len(), s.objects.len());
            assert_eq!(back.steps.len(), s.steps.len());
            assert_eq!(back.workload, s.workload);
            let notes = |v: &[Step]| v.iter().map(|s| s.note.clone()).collect::<Vec<_>>();
            assert_eq!(notes(&back.steps), notes(&s.steps));
        }
    }
}
