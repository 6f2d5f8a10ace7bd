//! Every field TiDB Operator's v1alpha1 CRDs define survives ours (issue 15: a drop-in replacement never loses a
//! user's data): a manifest setting all of them is not pruned by our CRD schemas, and comes back unchanged from the
//! operator's types, which every write of the operator goes through.
//!
//! The field list is `tests/fixtures/tidb-operator-fields.txt`, generated from TiDB Operator's CRDs by
//! `scripts/tidb-fields.py`.

use operator::api::crd::crds;
use operator::api::{Backup, BackupSchedule, CompactBackup, Restore};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

const FIELDS: &str = include_str!("fixtures/tidb-operator-fields.txt");

/// One step of a path: a field, the (one) item of a list, the (one) entry of a map.
#[derive(Clone, Copy, Debug)]
enum Seg<'a> {
    Field(&'a str),
    Item,
    Entry,
}

fn segments(path: &str) -> Vec<Seg<'_>> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let name = part.trim_end_matches(['[', ']', '{', '}']);
        out.push(Seg::Field(name));
        let mut rest = &part[name.len()..];
        while !rest.is_empty() {
            out.push(if rest.starts_with("[]") { Seg::Item } else { Seg::Entry });
            rest = &rest[2..];
        }
    }
    out
}

/// The fields of each kind: (path, type).
fn fields() -> BTreeMap<&'static str, Vec<(&'static str, &'static str)>> {
    let mut out: BTreeMap<_, Vec<_>> = BTreeMap::new();
    for line in FIELDS.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let cols: Vec<&str> = line.split(' ').collect();
        assert_eq!(cols.len(), 3, "tidb-operator-fields.txt: {line:?}: expected kind, path and type");
        out.entry(cols[0]).or_default().push((cols[1], cols[2]));
    }
    out
}

/// Our CRD schema of `kind`.
fn schema_of(kind: &str) -> Value {
    let crd = crds().into_iter().find(|c| c.spec.names.kind == kind).expect("a CRD for each kind");
    serde_json::to_value(crd.spec.versions[0].schema.as_ref().unwrap().open_api_v3_schema.as_ref().unwrap()).unwrap()
}

/// Our schema's node at `segs`, if our schema describes it (None inside an object kept as it is).
fn node<'a>(mut schema: &'a Value, segs: &[Seg]) -> Option<&'a Value> {
    for seg in segs {
        schema = match seg {
            Seg::Field(name) => schema.get("properties")?.get(*name)?,
            Seg::Item => schema.get("items")?,
            Seg::Entry => schema.get("additionalProperties")?,
        };
    }
    Some(schema)
}

/// A representative value of each field whose schema is a Kubernetes type.
fn kubernetes_value(field: &str) -> Value {
    match field {
        "additionalVolumes" => json!([{"name": "extra", "emptyDir": {"sizeLimit": "1Gi"}}]),
        "additionalVolumeMounts" => json!([{"name": "extra", "mountPath": "/extra", "readOnly": true}]),
        "affinity" => json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}]}}}),
        "env" => {
            json!([{"name": "A", "value": "b"}, {"name": "C", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}])
        }
        "imagePullSecrets" => json!([{"name": "registry"}]),
        "podSecurityContext" => json!({"runAsUser": 1000, "fsGroup": 2000}),
        "resources" => json!({"limits": {"cpu": "1"}, "requests": {"memory": "1Gi"}}),
        "tolerations" => json!([{"key": "dedicated", "operator": "Equal", "value": "backup", "effect": "NoSchedule"}]),
        "volume" => json!({"name": "nfs", "nfs": {"server": "nfs.example", "path": "/backups"}}),
        "volumeMount" => json!({"name": "nfs", "mountPath": "/backups"}),
        other => panic!("no representative value for the Kubernetes-typed field {other}"),
    }
}

/// A value for the field at `segs` of TiDB type `ty`; where our schema allows only some values, the last of them
/// (the TiDB Operator values our types keep without acting on them come last).
fn value(ty: &str, segs: &[Seg], ours: Option<&Value>) -> Value {
    if let Some(options) = ours.and_then(|s| s.get("enum")).and_then(Value::as_array) {
        return options.iter().rev().find(|v| !v.is_null()).cloned().expect("an enum has a value");
    }
    match ty {
        "string" => json!("x"),
        "date-time" => json!("2026-01-02T03:04:05Z"),
        "integer" => json!(7),
        "number" => json!(0.5),
        "boolean" => json!(true),
        "kubernetes" => match segs.last() {
            Some(Seg::Field(name)) => kubernetes_value(name),
            _ => panic!("a Kubernetes-typed field is named"),
        },
        other => panic!("tidb-operator-fields.txt: unknown type {other}"),
    }
}

/// Sets `v` at `segs` in `root`, creating the objects and one-item lists on the way.
fn set(root: &mut Value, segs: &[Seg], v: Value) {
    let mut at = root;
    for (i, seg) in segs.iter().enumerate() {
        let last = i + 1 == segs.len();
        let next = || if last { Value::Null } else { Value::Object(Map::new()) };
        at = match seg {
            Seg::Field(name) => at.as_object_mut().unwrap().entry(*name).or_insert_with(next),
            Seg::Entry => at.as_object_mut().unwrap().entry("k").or_insert_with(next),
            Seg::Item => {
                if !at.is_array() {
                    *at = Value::Array(Vec::new());
                }
                let list = at.as_array_mut().unwrap();
                if list.is_empty() {
                    list.push(next());
                }
                &mut list[0]
            }
        };
        if !last && at.is_null() {
            *at = Value::Object(Map::new());
        }
    }
    *at = v;
}

/// The manifest of `kind` setting every TiDB Operator field.
fn manifest(kind: &str, fields: &[(&str, &str)], schema: &Value) -> Value {
    let mut m = json!({"apiVersion": "pingcap.com/v1alpha1", "kind": kind,
        "metadata": {"name": "every-field", "namespace": "tidb"}});
    for (path, ty) in fields {
        let segs = segments(path);
        let v = value(ty, &segs, node(schema, &segs));
        set(&mut m, &segs, v);
    }
    m
}

/// What the API server prunes from `v` under `schema` (structural schema pruning), by path.
fn pruned(v: &Value, schema: &Value, path: &str, out: &mut Vec<String>) {
    if schema.get("x-kubernetes-preserve-unknown-fields").and_then(Value::as_bool) == Some(true)
        && schema.get("properties").is_none()
    {
        return;
    }
    match v {
        Value::Object(map) => {
            let props = schema.get("properties").and_then(Value::as_object);
            let extra = schema.get("additionalProperties").filter(|s| s.is_object());
            for (key, child) in map {
                let at = format!("{path}.{key}");
                match (props.and_then(|p| p.get(key)), extra) {
                    (Some(s), _) | (None, Some(s)) => pruned(child, s, &at, out),
                    _ if path.is_empty() && ["apiVersion", "kind", "metadata"].contains(&key.as_str()) => {}
                    _ if schema.get("x-kubernetes-preserve-unknown-fields").and_then(Value::as_bool) == Some(true) => {}
                    _ => out.push(at),
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                pruned(item, schema.get("items").unwrap_or(&Value::Null), &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// The paths where `a` and `b` differ.
fn differences(a: &Value, b: &Value, path: &str, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for key in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
                let at = format!("{path}.{key}");
                differences(x.get(key).unwrap_or(&Value::Null), y.get(key).unwrap_or(&Value::Null), &at, out);
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                differences(p, q, &format!("{path}[{i}]"), out);
            }
        }
        _ if a != b => out.push(format!("{path}: {a} became {b}")),
        _ => {}
    }
}

fn through_our_types<K: DeserializeOwned + Serialize>(kind: &str, m: &Value) -> Value {
    let object: K = serde_json::from_value(m.clone()).unwrap_or_else(|e| panic!("{kind}: our type refuses it: {e}"));
    serde_json::to_value(object).unwrap()
}

#[test]
fn every_tidb_operator_field_survives_our_crd_schemas_and_our_writes() {
    let fields = fields();
    assert_eq!(fields.keys().copied().collect::<Vec<_>>(), ["Backup", "BackupSchedule", "CompactBackup", "Restore"]);
    for (kind, list) in &fields {
        assert!(list.len() > 50, "{kind}: only {} fields listed", list.len());
        let schema = schema_of(kind);
        let m = manifest(kind, list, &schema);

        let mut lost = Vec::new();
        pruned(&m, &schema, "", &mut lost);
        assert!(lost.is_empty(), "{kind}: our CRD schema prunes TiDB Operator's fields: {lost:#?}");

        let back = match *kind {
            "Backup" => through_our_types::<Backup>(kind, &m),
            "Restore" => through_our_types::<Restore>(kind, &m),
            "CompactBackup" => through_our_types::<CompactBackup>(kind, &m),
            _ => through_our_types::<BackupSchedule>(kind, &m),
        };
        let mut changed = Vec::new();
        differences(&m, &back, "", &mut changed);
        assert!(changed.is_empty(), "{kind}: our types change or drop TiDB Operator's fields: {changed:#?}");
    }
}

#[test]
fn the_check_would_see_a_pruned_field() {
    // The oracle can fail: a field our schema does not define is reported, at its path.
    let schema = schema_of("Backup");
    let m = json!({"spec": {"br": {"cluster": "c", "notATidbField": 1}}});
    let mut lost = Vec::new();
    pruned(&m, &schema, "", &mut lost);
    assert_eq!(lost, [".spec.br.notATidbField"]);
}
