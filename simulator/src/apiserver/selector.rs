//! Label and field selectors as the API server parses them: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`,
//! `a` (exists), `!a` (does not exist); fields `f=v`, `f==v` and `f!=v` on the fields each resource supports.

use std::collections::BTreeMap;

/// One requirement of a label selector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
}

/// A parsed label selector (every requirement must hold).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelSelector(pub Vec<Requirement>);

/// Why a selector did not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid selector {selector:?}: {problem}")]
pub struct SelectorError {
    pub selector: String,
    pub problem: String,
}

/// Splits at commas that are not inside parentheses.
fn split_top(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

fn set(values: &str) -> Option<Vec<String>> {
    let inner = values.trim().strip_prefix('(')?.strip_suffix(')')?;
    Some(inner.split(',').map(|v| v.trim().to_string()).filter(|v| !v.is_empty()).collect())
}

impl LabelSelector {
    pub fn parse(text: &str) -> Result<LabelSelector, SelectorError> {
        let err = |problem: &str| SelectorError { selector: text.to_string(), problem: problem.to_string() };
        let mut reqs = Vec::new();
        if text.trim().is_empty() {
            return Ok(LabelSelector(reqs));
        }
        for part in split_top(text) {
            let p = part.trim();
            if p.is_empty() {
                return Err(err("empty requirement"));
            }
            let req = if let Some((k, v)) = p.split_once("!=") {
                Requirement::NotEquals(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = p.split_once("==") {
                Requirement::Equals(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = p.split_once('=') {
                Requirement::Equals(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = p.split_once(" notin ") {
                Requirement::NotIn(k.trim().into(), set(v).ok_or_else(|| err("expected a (set) after notin"))?)
            } else if let Some((k, v)) = p.split_once(" in ") {
                Requirement::In(k.trim().into(), set(v).ok_or_else(|| err("expected a (set) after in"))?)
            } else if let Some(k) = p.strip_prefix('!') {
                Requirement::DoesNotExist(k.trim().into())
            } else if p.chars().all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c)) {
                Requirement::Exists(p.into())
            } else if let Some((_, found)) = p.split_once(char::is_whitespace) {
                let found = found.split_whitespace().next().unwrap_or_default();
                return Err(err(&format!(
                    "unable to parse requirement: found '{found}', expected: in, notin, =, ==, !=, gt, lt"
                )));
            } else {
                return Err(err(&format!("unable to parse requirement: {p:?}")));
            };
            reqs.push(req);
        }
        Ok(LabelSelector(reqs))
    }

    pub fn matches(&self, labels: Option<&BTreeMap<String, String>>) -> bool {
        let get = |k: &str| labels.and_then(|l| l.get(k));
        self.0.iter().all(|r| match r {
            Requirement::Equals(k, v) => get(k) == Some(v),
            Requirement::NotEquals(k, v) => get(k) != Some(v),
            Requirement::In(k, vs) => get(k).is_some_and(|x| vs.contains(x)),
            Requirement::NotIn(k, vs) => get(k).is_none_or(|x| !vs.contains(x)),
            Requirement::Exists(k) => get(k).is_some(),
            Requirement::DoesNotExist(k) => get(k).is_none(),
        })
    }
}

/// One requirement of a field selector: `field=value` (or `==`) and `field!=value`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldRequirement {
    /// A dotted path into the object (`metadata.name`, `involvedObject.name`, `status.phase`).
    pub field: String,
    pub equals: bool,
    pub value: String,
}

/// A parsed field selector (every requirement must hold). Which fields a resource supports is the server's
/// business ([`supported_fields`]); a missing field reads as the empty string, as the API server's field sets do.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSelector(pub Vec<FieldRequirement>);

impl FieldSelector {
    pub fn parse(text: &str) -> Result<FieldSelector, SelectorError> {
        let mut reqs = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (field, equals, value) = if let Some((k, v)) = part.split_once("!=") {
                (k, false, v)
            } else if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
                (k, true, v)
            } else {
                return Err(SelectorError {
                    selector: text.into(),
                    problem: format!("invalid selector: '{text}'; can't understand '{part}'"),
                });
            };
            reqs.push(FieldRequirement { field: field.trim().into(), equals, value: v_trim(value) });
        }
        Ok(FieldSelector(reqs))
    }

    /// The fields the selector names.
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|r| r.field.as_str())
    }

    /// Whether `object` (as JSON, in the form the client reads it) satisfies every requirement.
    pub fn matches_json(&self, object: &serde_json::Value) -> bool {
        self.0.iter().all(|r| {
            let actual = r.field.split('.').try_fold(object, |v, k| v.get(k)).and_then(|v| v.as_str()).unwrap_or("");
            (actual == r.value) == r.equals
        })
    }
}

fn v_trim(v: &str) -> String {
    v.trim().to_string()
}

/// The fields a resource can be selected on, besides `metadata.name` and `metadata.namespace` (kube-apiserver's
/// field label conversions for the resources served here).
pub fn supported_fields(kind: &str, group: &str) -> &'static [&'static str] {
    match (group, kind) {
        ("", "Event") => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        ("", "Pod") => &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ],
        ("batch", "Job") => &["status.successful"],
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn set_based_and_equality_selectors_match_like_the_api_server() {
        let s = LabelSelector::parse(
            "app.kubernetes.io/managed-by=backup-operator,app.kubernetes.io/component in (backup,clean)",
        )
        .unwrap();
        assert!(s.matches(Some(&labels(&[
            ("app.kubernetes.io/managed-by", "backup-operator"),
            ("app.kubernetes.io/component", "clean")
        ]))));
        assert!(!s.matches(Some(&labels(&[
            ("app.kubernetes.io/managed-by", "backup-operator"),
            ("app.kubernetes.io/component", "restore")
        ]))));
        let exists = LabelSelector::parse("tidb.pingcap.com/backup-schedule").unwrap();
        assert!(exists.matches(Some(&labels(&[("tidb.pingcap.com/backup-schedule", "x")]))));
        assert!(!exists.matches(None));
        let not = LabelSelector::parse("a!=b,!c,d notin (e)").unwrap();
        assert!(not.matches(Some(&labels(&[("a", "x")]))));
        assert!(LabelSelector::parse("a in b").is_err());
    }

    #[test]
    fn field_selectors_compare_dotted_fields_for_equality_or_inequality() {
        let object = serde_json::json!({"metadata": {"name": "demo"}, "involvedObject": {"name": "b"}});
        assert!(FieldSelector::parse("metadata.name=demo").unwrap().matches_json(&object));
        assert!(!FieldSelector::parse("metadata.name!=demo").unwrap().matches_json(&object));
        assert!(FieldSelector::parse("involvedObject.name==b,metadata.namespace=").unwrap().matches_json(&object));
        assert!(FieldSelector::parse("nonsense").is_err());
    }
}
