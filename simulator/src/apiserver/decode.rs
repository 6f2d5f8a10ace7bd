//! A write's body decoded as kube-apiserver decodes it: JSON to the typed object and back, the kind, name and
//! labels validated with the API server's messages, type errors and missing fields read as causes, unknown fields
//! warned about or refused.

use operator::api::{Backup, BackupSchedule, Restore};
use operator::cluster::{Kind, Labels};
use serde_json::Value;

use super::request::{ApiRequest, Target};
use super::status::{self, Cause};
use crate::object::Obj;

/// The JSON of a typed object, as the API serves it.
pub fn to_json(o: &Obj) -> Value {
    match o {
        Obj::Backup(a) => serde_json::to_value(&**a),
        Obj::Restore(a) => serde_json::to_value(&**a),
        Obj::Schedule(a) => serde_json::to_value(&**a),
        Obj::Compact(a) => serde_json::to_value(&**a),
        Obj::Job(a) => serde_json::to_value(&**a),
        Obj::Pod(a) => serde_json::to_value(&**a),
    }
    .unwrap_or(Value::Null)
}

/// A typed object from request JSON.
pub fn from_json(kind: Kind, v: Value) -> Result<Obj, String> {
    fn typed<K: operator::cluster::Object>(v: Value) -> Result<Obj, String> {
        serde_path_to_error::deserialize::<_, K>(v).map(Obj::wrap).map_err(|e| format!("{}: {}", e.path(), e.inner()))
    }
    match kind {
        Kind::Backup => typed::<Backup>(v),
        Kind::Restore => typed::<Restore>(v),
        Kind::BackupSchedule => typed::<BackupSchedule>(v),
        Kind::CompactBackup => typed::<operator::api::CompactBackup>(v),
        Kind::Job => typed::<k8s_openapi::api::batch::v1::Job>(v),
        Kind::Pod => typed::<k8s_openapi::api::core::v1::Pod>(v),
    }
}

/// The cause in a `field: problem` message (the world's and the decoder's), with serde's type errors and missing
/// fields read as the API server states them.
pub fn cause_of(message: &str) -> Cause {
    let Some((field, problem)) = message.split_once(": ").filter(|(f, _)| !f.contains(' ')) else {
        return Cause { field: String::new(), reason: "FieldValueInvalid", message: message.into() };
    };
    if let Some(c) = status::type_cause(field, problem) {
        return c;
    }
    if let Some(missing) = problem.strip_prefix("missing field `").and_then(|m| m.strip_suffix('`')) {
        let path = if field == "." || field.is_empty() { missing.to_string() } else { format!("{field}.{missing}") };
        return Cause::required(path, "");
    }
    let (reason, problem) = match problem.strip_prefix("Forbidden: ") {
        Some(_) => ("FieldValueForbidden", problem),
        None => ("FieldValueInvalid", problem),
    };
    Cause { field: field.into(), reason, message: problem.into() }
}

/// Decodes the object a write sends, as kube-apiserver would: the kind, name and labels validated (with the API
/// server's messages), type errors refused with their field, empty metadata maps and lists dropped, and the fields
/// the schema does not know dropped with a warning each (refused under `fieldValidation=Strict`).
pub fn decode(req: &ApiRequest, target: &Target, kind: Kind, v: &Value) -> Result<(Obj, Vec<String>), (u16, Value)> {
    let info = target.info;
    let name = v["metadata"]["name"].as_str().unwrap_or_default().to_string();
    if let Some(sent) = v["kind"].as_str()
        && sent != info.kind
    {
        return Err(status::wrong_kind(info, sent, &name));
    }
    let mut causes = Vec::new();
    if name.is_empty() {
        causes.push(Cause::required("metadata.name", "name or generateName is required"));
    } else {
        causes.extend(crate::validation::name_causes(&name));
    }
    if let Some(labels) = v["metadata"]["labels"].as_object() {
        let labels: Labels =
            labels.iter().filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string()))).collect();
        causes.extend(crate::validation::label_causes(&labels));
    }
    if kind == Kind::Pod && v["spec"]["containers"].as_array().is_none_or(Vec::is_empty) {
        causes.push(Cause::required("spec.containers", ""));
    }
    if !causes.is_empty() {
        return Err(status::invalid(info, &name, &causes));
    }
    let obj = from_json(kind, v.clone()).map_err(|m| status::invalid(info, &name, &[cause_of(&m)]))?;
    let obj = obj.with_meta(|m| {
        m.labels.take_if(|l| l.is_empty());
        m.annotations.take_if(|a| a.is_empty());
        m.finalizers.take_if(|f| f.is_empty());
        m.owner_references.take_if(|r| r.is_empty());
    });
    let unknown = status::unknown_fields(v, &to_json(&obj));
    match req.query.get("fieldValidation").map(String::as_str) {
        Some("Strict") if !unknown.is_empty() => Err(status::strict_decoding(info, &unknown)),
        Some("Ignore") => Ok((obj, Vec::new())),
        _ => Ok((obj, unknown.iter().map(|p| status::unknown_field_warning(p)).collect())),
    }
}
