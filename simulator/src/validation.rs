//! kube-apiserver's rules for object names and labels, with its messages: one rule for the world's store (the
//! simulated operator's writes) and for the served API (kubectl's), so both refuse the same objects the same way.

use std::collections::BTreeMap;

/// One cause of an `Invalid` failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cause {
    pub field: String,
    /// `FieldValueInvalid`, `FieldValueRequired`, `FieldValueTypeInvalid`, `FieldValueForbidden`.
    pub reason: &'static str,
    pub message: String,
}

impl Cause {
    pub fn invalid(field: impl Into<String>, value: &str, problem: &str) -> Cause {
        Cause {
            field: field.into(),
            reason: "FieldValueInvalid",
            message: format!("Invalid value: {value:?}: {problem}"),
        }
    }

    pub fn required(field: impl Into<String>, detail: &str) -> Cause {
        let message = if detail.is_empty() { "Required value".into() } else { format!("Required value: {detail}") };
        Cause { field: field.into(), reason: "FieldValueRequired", message }
    }
}

const DNS1123_SUBDOMAIN: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_VALUE: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const NAME_PART: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*`, in one pass: a dot has an alphanumeric on
/// each side, a dash has neither end of the string nor a dot beside it.
fn is_dns1123_subdomain(s: &str) -> bool {
    let b = s.as_bytes();
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    let inside = |i: usize| i > 0 && i + 1 < b.len();
    !b.is_empty()
        && b.iter().enumerate().all(|(i, &c)| match c {
            b'.' => inside(i) && alnum(b[i - 1]) && alnum(b[i + 1]),
            b'-' => inside(i) && b[i - 1] != b'.' && b[i + 1] != b'.',
            c => alnum(c),
        })
}

/// `[A-Za-z0-9]` at both ends, `[-A-Za-z0-9_.]` inside.
fn is_qualified_part(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
}

/// The problems of an object name (`metadata.name`), as the API server states them.
pub fn name_causes(name: &str) -> Vec<Cause> {
    let mut causes = Vec::new();
    if name.len() > 253 {
        causes.push(Cause::invalid("metadata.name", name, "must be no more than 253 characters"));
    }
    if !is_dns1123_subdomain(name) {
        causes.push(Cause::invalid("metadata.name", name, DNS1123_SUBDOMAIN));
    }
    causes
}

/// The problems of `metadata.labels`, keys then values, as the API server states them.
pub fn label_causes(labels: &BTreeMap<String, String>) -> Vec<Cause> {
    let mut causes = Vec::new();
    for (key, value) in labels {
        let (prefix, name) = match key.split_once('/') {
            Some((p, n)) => (Some(p), n),
            None => (None, key.as_str()),
        };
        if let Some(p) = prefix
            && !is_dns1123_subdomain(p)
        {
            causes.push(Cause::invalid("metadata.labels", key, &format!("prefix part {DNS1123_SUBDOMAIN}")));
        }
        if name.len() > 63 {
            causes.push(Cause::invalid("metadata.labels", key, "name part must be no more than 63 characters"));
        }
        if !is_qualified_part(name) {
            causes.push(Cause::invalid("metadata.labels", key, NAME_PART));
        }
        if value.len() > 63 {
            causes.push(Cause::invalid("metadata.labels", value, "must be no more than 63 characters"));
        }
        if !value.is_empty() && !is_qualified_part(value) {
            causes.push(Cause::invalid("metadata.labels", value, LABEL_VALUE));
        }
    }
    causes
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The rule as its regex reads, part by part: the oracle of the one-pass `is_dns1123_subdomain`.
    fn subdomain_by_parts(s: &str) -> bool {
        !s.is_empty()
            && s.split('.').all(|part| {
                let b = part.as_bytes();
                !b.is_empty()
                    && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
                    && b[0] != b'-'
                    && b[b.len() - 1] != b'-'
            })
    }

    proptest! {
        #[test]
        fn the_one_pass_subdomain_rule_judges_as_the_rule_part_by_part(s in "[a-c0-1.A_-]{0,12}") {
            prop_assert_eq!(is_dns1123_subdomain(&s), subdomain_by_parts(&s), "{:?}", s);
        }
    }

    #[test]
    fn names_and_labels_are_judged_by_the_api_servers_rules() {
        assert!(name_causes("demo-1.x").is_empty());
        assert_eq!(name_causes("F_Bad").len(), 1);
        assert_eq!(name_causes(&"a".repeat(254)).len(), 1);
        let ok = BTreeMap::from([("app.kubernetes.io/name".to_string(), "My_value.1".to_string())]);
        assert!(label_causes(&ok).is_empty());
        let bad = BTreeMap::from([("not ok!".to_string(), "v".to_string()), ("k".to_string(), "-x".to_string())]);
        let causes = label_causes(&bad);
        assert_eq!(causes.len(), 2);
        assert!(causes[1].message.starts_with("Invalid value: \"not ok!\": name part must"), "{causes:?}");
    }
}
