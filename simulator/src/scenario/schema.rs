//! Strict field validation of objects against their structural schemas (the CRDs' `openAPIV3Schema`, and
//! Kubernetes' own `ObjectMeta` for metadata), as the API server does with `fieldValidation=Strict`: an unknown or
//! mistyped field is an error naming its path.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use operator::cluster::Kind;
use serde_json::Value;
use std::sync::OnceLock;

use super::tree::Seg;

/// One problem: where (a path from the object's root) and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemaProblem {
    pub path: Vec<Seg>,
    pub problem: String,
}

/// The schema of a kind's objects, with `metadata` as Kubernetes' `ObjectMeta`; None for kinds without one here.
pub fn of_kind(kind: Kind) -> Option<&'static Value> {
    static SCHEMAS: OnceLock<[Value; 4]> = OnceLock::new();
    let [backup, restore, schedule, compact] = SCHEMAS.get_or_init(|| {
        let meta = object_meta();
        let crds = operator::api::crd::installed();
        [Kind::Backup, Kind::Restore, Kind::BackupSchedule, Kind::CompactBackup].map(|kind| {
            let crd = crds.iter().find(|c| c.spec.names.kind == kind.as_str()).expect("a CRD of each kind");
            crd_schema(crd, &meta)
        })
    });
    match kind {
        Kind::Backup => Some(backup),
        Kind::Restore => Some(restore),
        Kind::BackupSchedule => Some(schedule),
        Kind::CompactBackup => Some(compact),
        _ => None,
    }
}

/// The schema of one top-level field (`metadata`, `spec`) of a kind's objects.
pub fn of_field(kind: Kind, field: &str) -> Option<&'static Value> {
    of_kind(kind)?.get("properties")?.get(field)
}

/// The schema of `crd`'s objects: the CRDs as installed (`operator/deploy/crds.yaml`, equal to the generated ones).
fn crd_schema(crd: &CustomResourceDefinition, meta: &Value) -> Value {
    let props = crd.spec.versions[0].schema.as_ref().and_then(|s| s.open_api_v3_schema.clone());
    let mut schema = serde_json::to_value(props).expect("a CRD schema serializes");
    if let Some(p) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        p.insert("metadata".into(), meta.clone());
        p.entry("apiVersion").or_insert_with(|| serde_json::json!({"type": "string"}));
        p.entry("kind").or_insert_with(|| serde_json::json!({"type": "string"}));
    }
    schema
}

fn object_meta() -> Value {
    let generator =
        schemars::generate::SchemaSettings::openapi3().with(|s| s.inline_subschemas = true).into_generator();
    generator.into_root_schema_for::<ObjectMeta>().to_value()
}

/// Every problem of `value` against `schema`.
/// Required fields are not checked, so a JSON merge patch is checked the same way (its `null`s delete fields).
pub fn check(value: &Value, schema: &Value) -> Vec<SchemaProblem> {
    let mut out = Vec::new();
    walk(value, schema, &mut Vec::new(), &mut out);
    out
}

fn types(schema: &Value) -> Vec<&str> {
    match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).filter(|t| *t != "null").collect(),
        _ => Vec::new(),
    }
}

fn flag(schema: &Value, name: &str) -> bool {
    schema.get(name).and_then(Value::as_bool).unwrap_or(false)
}

fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) => format!("string {s:?}"),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "a map".into(),
    }
}

fn fits(v: &Value, ty: &str) -> bool {
    match ty {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        _ => true,
    }
}

fn walk(v: &Value, schema: &Value, path: &mut Vec<Seg>, out: &mut Vec<SchemaProblem>) {
    // A null is pruned by the API server (or, in a merge patch, deletes the field).
    if v.is_null() {
        return;
    }
    let push = |out: &mut Vec<SchemaProblem>, path: &[Seg], problem: String| {
        out.push(SchemaProblem { path: path.to_vec(), problem })
    };
    if flag(schema, "x-kubernetes-int-or-string") {
        if !(v.is_string() || v.is_i64() || v.is_u64()) {
            push(out, path, format!("must be an integer or a string, got {}", describe(v)));
        }
        return;
    }
    let tys = types(schema);
    if !tys.is_empty() && !tys.iter().any(|t| fits(v, t)) {
        push(out, path, format!("must be of type {}, got {}", tys.join(" or "), describe(v)));
        return;
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array)
        && !options.contains(v)
    {
        let list: Vec<String> = options.iter().map(Value::to_string).collect();
        push(out, path, format!("unsupported value {v}: must be one of {}", list.join(", ")));
    }
    match v {
        Value::Object(map) => {
            let props = schema.get("properties").and_then(Value::as_object);
            let extra = schema.get("additionalProperties");
            let open = flag(schema, "x-kubernetes-preserve-unknown-fields")
                || matches!(extra, Some(Value::Bool(true)))
                || (props.is_none() && extra.is_none());
            for (key, child) in map {
                path.push(Seg::Key(key.clone()));
                match (props.and_then(|p| p.get(key)), extra) {
                    (Some(s), _) => walk(child, s, path, out),
                    (None, Some(s)) if s.is_object() => walk(child, s, path, out),
                    _ if open => {}
                    _ => push(out, path, "unknown field".into()),
                }
                path.pop();
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    path.push(Seg::Index(i));
                    walk(item, item_schema, path, out);
                    path.pop();
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::tree::path_suffix;
    use serde_json::json;

    fn problems(kind: Kind, v: Value) -> Vec<String> {
        check(&v, of_kind(kind).unwrap())
            .into_iter()
            .map(|p| format!("{}: {}", path_suffix(&p.path), p.problem))
            .collect()
    }

    #[test]
    fn a_misspelt_field_is_an_unknown_field() {
        let v = json!({"apiVersion": "pingcap.com/v1alpha1", "kind": "BackupSchedule",
            "metadata": {"name": "demo", "labelz": {}},
            "spec": {"schedule": "*/10 * * * *", "maxReservedTme": "1h", "maxBackups": "three",
                     "backupTemplate": {"br": {"cluster": "c", "clusterNamespce": "x"}}}});
        assert_eq!(
            problems(Kind::BackupSchedule, v),
            vec![
                ".metadata.labelz: unknown field",
                ".spec.backupTemplate.br.clusterNamespce: unknown field",
                ".spec.maxBackups: must be of type integer, got string \"three\"",
                ".spec.maxReservedTme: unknown field",
            ]
        );
    }

    #[test]
    fn every_stored_field_of_a_full_manifest_is_known() {
        let v = json!({"apiVersion": "pingcap.com/v1alpha1", "kind": "Backup",
            "metadata": {"name": "b", "namespace": "n", "labels": {"a": "b"}, "annotations": {"x": "y"},
                         "ownerReferences": [{"apiVersion": "v1", "kind": "K", "name": "o", "uid": "u"}]},
            "spec": {"cleanPolicy": "Delete", "br": {"cluster": "c"},
                     "s3": {"provider": "aws", "bucket": "b", "prefix": "p", "secretName": "s"}},
            "status": {"phase": "Complete"}});
        assert_eq!(problems(Kind::Backup, v), Vec::<String>::new());
    }
}
