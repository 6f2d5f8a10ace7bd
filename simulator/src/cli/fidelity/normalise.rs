//! What two API servers may legitimately answer differently is taken out before answers are compared: uids,
//! resourceVersions, timestamps, managed fields, the random suffix of a generated name, continue tokens.

use serde_json::{Map, Value};

/// Metadata fields every server fills with its own values.
const VOLATILE_METADATA: &[&str] = &["uid", "resourceVersion", "creationTimestamp", "managedFields", "selfLink"];

/// `value` with server-chosen identities, versions and times replaced by placeholders.
pub fn normalise(value: &Value) -> Value {
    let mut v = value.clone();
    walk(&mut v);
    v
}

fn walk(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if let Some(Value::Object(meta)) = map.get_mut("metadata") {
                metadata(meta);
            }
            for (key, child) in map.iter_mut() {
                if key == "continue" && child.as_str().is_some_and(|s| !s.is_empty()) {
                    *child = Value::String("<token>".into());
                } else {
                    walk(child);
                }
            }
            // An empty continue token is no token: clients read both alike.
            map.retain(|key, child| key != "continue" || child.as_str() != Some(""));
        }
        Value::Array(items) => items.iter_mut().for_each(walk),
        Value::String(s) => *s = text(s),
        _ => {}
    }
}

fn metadata(meta: &mut Map<String, Value>) {
    for key in VOLATILE_METADATA {
        meta.remove(*key);
    }
    if let (Some(Value::String(prefix)), Some(Value::String(name))) = (meta.get("generateName"), meta.get("name"))
        && let Some(suffix) = name.strip_prefix(prefix.as_str())
        && !suffix.is_empty()
    {
        let replaced = format!("{prefix}<{} chars>", suffix.len());
        meta.insert("name".into(), Value::String(replaced));
    }
}

/// A string with its timestamps and uids replaced: a whole RFC 3339 time becomes `<time>`, every uid `<uid>`.
pub fn text(s: &str) -> String {
    if chrono::DateTime::parse_from_rfc3339(s).is_ok() {
        return "<time>".into();
    }
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < bytes.len() {
        if i + 36 <= bytes.len() && is_uid(&bytes[i..i + 36]) {
            out.push_str("<uid>");
            i += 36;
        } else {
            let c = s[i..].chars().next().expect("i is on a char boundary");
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// `8-4-4-4-12` hexadecimal digits, as Kubernetes writes uids.
fn is_uid(b: &[u8]) -> bool {
    b.iter().enumerate().all(|(i, c)| if [8, 13, 18, 23].contains(&i) { *c == b'-' } else { c.is_ascii_hexdigit() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn server_chosen_values_become_placeholders_and_the_rest_is_kept() {
        let answer = json!({
            "metadata": {"name": "gen-x7k2p", "generateName": "gen-", "uid": "0b4c3e8e-2a7f-4b53-9c1d-3f0e2d1a9b77",
                         "resourceVersion": "42", "creationTimestamp": "2026-12-03T10:00:00Z", "generation": 1,
                         "labels": {"a": "b"}},
            "message": "Precondition failed: UID in precondition: 0b4c3e8e-2a7f-4b53-9c1d-3f0e2d1a9b77, other",
            "list": {"metadata": {"continue": "eyJ2Ijoi"}},
            "last": {"metadata": {"continue": ""}},
            "startTime": "2026-12-03T10:00:01.123456Z"
        });
        assert_eq!(
            normalise(&answer),
            json!({
                "metadata": {"name": "gen-<5 chars>", "generateName": "gen-", "generation": 1, "labels": {"a": "b"}},
                "message": "Precondition failed: UID in precondition: <uid>, other",
                "list": {"metadata": {"continue": "<token>"}},
                "last": {"metadata": {}},
                "startTime": "<time>"
            })
        );
    }

    #[test]
    fn text_without_uids_or_times_is_unchanged() {
        assert_eq!(text("backups.pingcap.com \"b\" not found"), "backups.pingcap.com \"b\" not found");
        assert_eq!(text("é-ü"), "é-ü");
    }
}
