//! The `metav1.Status` failures the served API answers, worded as kube-apiserver words them (the resource or the
//! qualified kind, the name in quotes, causes with their field), so that kubectl and client libraries print what
//! they would print against a real cluster.

use serde_json::{Value, json};

use super::resources::ResourceInfo;
pub use crate::validation::Cause;

/// A Status failure with the given body fields.
fn status(code: u16, reason: &str, message: String, details: Option<Value>) -> (u16, Value) {
    let mut body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                          "message": message, "reason": reason, "code": code});
    if let Some(d) = details {
        body["details"] = d;
    }
    (code, body)
}

/// `backups.pingcap.com`, or `pods` in the core group.
pub fn resource(info: &ResourceInfo) -> String {
    if info.group.is_empty() { info.plural.to_string() } else { format!("{}.{}", info.plural, info.group) }
}

/// `Backup.pingcap.com`, or `Pod` in the core group.
pub fn qualified_kind(info: &ResourceInfo) -> String {
    if info.group.is_empty() { info.kind.to_string() } else { format!("{}.{}", info.kind, info.group) }
}

/// Details naming the object by `kind` (the resource's plural for lookups, its kind for validation).
fn details(info: &ResourceInfo, kind: &str, name: &str) -> Value {
    let mut d = json!({"name": name, "kind": kind});
    if !info.group.is_empty() {
        d["group"] = json!(info.group);
    }
    d
}

pub fn not_found(info: &ResourceInfo, name: &str) -> (u16, Value) {
    let message = format!("{} {name:?} not found", resource(info));
    status(404, "NotFound", message, Some(details(info, info.plural, name)))
}

pub fn already_exists(info: &ResourceInfo, name: &str) -> (u16, Value) {
    let message = format!("{} {name:?} already exists", resource(info));
    status(409, "AlreadyExists", message, Some(details(info, info.plural, name)))
}

/// A write with a stale resourceVersion.
pub fn conflict(info: &ResourceInfo, name: &str) -> (u16, Value) {
    let message = format!(
        "Operation cannot be fulfilled on {} {name:?}: the object has been modified; please apply your changes to the latest version and try again",
        resource(info)
    );
    status(409, "Conflict", message, Some(details(info, info.plural, name)))
}

/// A delete whose precondition (`UID` or `ResourceVersion`) does not hold.
pub fn precondition(info: &ResourceInfo, name: &str, what: &str, wanted: &str, found: &str) -> (u16, Value) {
    let why = if what == "UID" { "deleted and then recreated" } else { "modified" };
    let message = format!(
        "Operation cannot be fulfilled on {} {name:?}: the {what} in the precondition ({wanted}) does not match the {what} in record ({found}). The object might have been {why}",
        qualified_kind(info)
    );
    status(409, "Conflict", message, Some(details(info, info.kind, name)))
}

/// An object that fails validation.
pub fn invalid(info: &ResourceInfo, name: &str, causes: &[Cause]) -> (u16, Value) {
    let each: Vec<String> = causes.iter().map(|c| format!("{}: {}", c.field, c.message)).collect();
    let listed = if each.len() == 1 { each[0].clone() } else { format!("[{}]", each.join(", ")) };
    let message = format!("{} {name:?} is invalid: {listed}", qualified_kind(info));
    let mut d = details(info, info.kind, name);
    d["causes"] = causes.iter().map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field})).collect();
    status(422, "Invalid", message, Some(d))
}

/// An object sent to another kind's collection.
pub fn wrong_kind(info: &ResourceInfo, sent: &str, name: &str) -> (u16, Value) {
    let cause = Cause::invalid("kind", sent, &format!("must be {}", info.kind));
    let qualified = if info.group.is_empty() { sent.to_string() } else { format!("{sent}.{}", info.group) };
    let message = format!("{qualified} {name:?} is invalid: kind: {}", cause.message);
    let mut d = json!({"name": name, "kind": sent,
                       "causes": [{"reason": cause.reason, "message": cause.message, "field": cause.field}]});
    if !info.group.is_empty() {
        d["group"] = json!(info.group);
    }
    status(422, "Invalid", message, Some(d))
}

/// A request the server cannot read (no details, as kube-apiserver answers).
pub fn bad_request(message: impl Into<String>) -> (u16, Value) {
    status(400, "BadRequest", message.into(), None)
}

/// A patch of a content type the resource does not take.
pub fn unsupported_patch(custom: bool) -> (u16, Value) {
    let accepted = if custom {
        "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
    } else {
        "application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml"
    };
    let message =
        format!("the body of the request was in an unknown format - accepted media types include: {accepted}");
    status(415, "UnsupportedMediaType", message, None)
}

/// A JSON patch whose operations do not apply (a failed `test`, a missing path).
pub fn patch_does_not_apply() -> (u16, Value) {
    status(422, "Invalid", "the server rejected our request due to an error in our request".into(), Some(json!({})))
}

/// Server-side apply without a field manager.
pub fn apply_needs_field_manager() -> (u16, Value) {
    let cause = Cause::required("fieldManager", "is required for apply patch");
    let message = format!("PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: {}", cause.message);
    let d = json!({"group": "meta.k8s.io", "kind": "PatchOptions",
                   "causes": [{"reason": cause.reason, "message": cause.message, "field": cause.field}]});
    status(422, "Invalid", message, Some(d))
}

/// The cause of a value of the wrong JSON type at `path`, read from serde's `invalid type: X, expected Y`; `None`
/// when the message is another kind of problem.
pub fn type_cause(path: &str, serde_message: &str) -> Option<Cause> {
    let rest = serde_message.strip_prefix("invalid type: ")?;
    let (found, expected) = rest.split_once(", expected ")?;
    let found = match found.split([' ', '`']).next().unwrap_or("") {
        "string" => "string",
        "integer" => "integer",
        "boolean" => "boolean",
        "floating" => "number",
        "map" => "object",
        "sequence" => "array",
        "unit" | "null" => "null",
        _ => return None,
    };
    let expected = expected.trim();
    let expected = if (expected.starts_with('i') || expected.starts_with('u')) && expected[1..].parse::<u32>().is_ok() {
        "integer"
    } else if expected.starts_with('f') && expected[1..].parse::<u32>().is_ok() {
        "number"
    } else if expected.contains("string") || expected.contains("duration") || expected.contains("quantity") {
        "string"
    } else if expected.contains("bool") {
        "boolean"
    } else if expected.contains("sequence") || expected.contains("array") {
        "array"
    } else {
        "object"
    };
    Some(Cause {
        field: path.to_string(),
        reason: "FieldValueTypeInvalid",
        message: format!("Invalid value: {found:?}: {path} in body must be of type {expected}: {found:?}"),
    })
}

/// Paths (`spec.notAField`, `spec.containers[0].x`) of the fields `sent` has and `kept` (the object as decoded and
/// encoded again) lost: the fields the schema does not know. Null and empty values are not counted.
pub fn unknown_fields(sent: &Value, kept: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk_unknown(sent, kept, "", &mut out);
    out
}

fn walk_unknown(sent: &Value, kept: &Value, path: &str, out: &mut Vec<String>) {
    match (sent, kept) {
        (Value::Object(s), Value::Object(k)) => {
            for (key, value) in s {
                let child = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                match k.get(key) {
                    Some(kept_value) => walk_unknown(value, kept_value, &child, out),
                    None if is_empty(value) => {}
                    None => out.push(child),
                }
            }
        }
        (Value::Array(s), Value::Array(k)) => {
            for (i, (a, b)) in s.iter().zip(k).enumerate() {
                walk_unknown(a, b, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// The `Warning` header value for an unknown field.
pub fn unknown_field_warning(path: &str) -> String {
    format!("299 - \"unknown field \\\"{path}\\\"\"")
}

/// `fieldValidation=Strict` refusing unknown fields.
pub fn strict_decoding(info: &ResourceInfo, unknown: &[String]) -> (u16, Value) {
    let each: Vec<String> = unknown.iter().map(|p| format!("unknown field {p:?}")).collect();
    bad_request(format!(
        "{kind} in version {version:?} cannot be handled as a {kind}: strict decoding error: {}",
        each.join(", "),
        kind = info.kind,
        version = info.version
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apiserver::resources::{Res, info};
    use operator::cluster::Kind;

    fn backups() -> &'static ResourceInfo {
        info(Res::Typed(Kind::Backup))
    }

    #[test]
    fn lookups_name_the_resource_and_validation_the_kind_as_kube_apiserver_does() {
        let (code, body) = not_found(backups(), "b");
        assert_eq!(code, 404);
        assert_eq!(body["message"], "backups.pingcap.com \"b\" not found");
        assert_eq!(body["details"], json!({"name": "b", "kind": "backups", "group": "pingcap.com"}));
        let (_, body) = invalid(info(Res::Typed(Kind::Pod)), "p", &[Cause::required("spec.containers", "")]);
        assert_eq!(body["message"], "Pod \"p\" is invalid: spec.containers: Required value");
        assert_eq!(body["details"]["kind"], "Pod");
        assert!(body["details"].get("group").is_none());
    }

    #[test]
    fn serde_type_errors_read_as_schema_type_errors() {
        let cause = type_cause("spec.maxBackups", "invalid type: string \"three\", expected i32").unwrap();
        assert_eq!(
            cause.message,
            "Invalid value: \"string\": spec.maxBackups in body must be of type integer: \"string\""
        );
        assert_eq!(
            type_cause("spec.x", "invalid type: integer `3`, expected a string").unwrap().message,
            "Invalid value: \"integer\": spec.x in body must be of type string: \"integer\""
        );
        assert_eq!(type_cause("spec", "missing field `br`"), None);
    }

    #[test]
    fn unknown_fields_are_the_sent_ones_the_typed_object_lost() {
        let sent =
            json!({"spec": {"a": 1, "gone": 2, "empty": {}, "list": [{"x": 1, "y": 2}]}, "metadata": {"labels": {}}});
        let kept = json!({"spec": {"a": 1, "list": [{"x": 1}]}, "metadata": {}});
        assert_eq!(unknown_fields(&sent, &kept), vec!["spec.gone", "spec.list[0].y"]);
    }
}
