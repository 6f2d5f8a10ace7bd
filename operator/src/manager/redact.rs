//! Secret redaction for everything backup-manager prints or writes: tool output, command lines, error messages.
//! Known secret values are replaced wherever they appear; values of secret-looking keys (`password=...`,
//! `secret-access-key=...`, `sas-token=...`) are replaced even when the value is not known.

use std::sync::LazyLock;

use regex::Regex;

/// What replaces a secret.
pub const MASK: &str = "******";

/// `key=value`, `key: value` and `"key":"value"` where the key names a credential.
static SECRET_KEYS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)(password|passwd|secret[-_]access[-_]key|access[-_]key|session[-_]token|account[-_]key|sas[-_]token|client[-_]secret|credentials[-_]blob|private[-_]key)("?\s*[=:]\s*"?)([^\s"'&,;\]\}]+)"#,
    )
    .expect("the secret-key pattern is valid")
});

/// Replaces secrets in text.
#[derive(Clone, Default)]
pub struct Redactor {
    /// Known secret values, longest first so a secret containing another is replaced whole.
    values: Vec<String>,
}

impl Redactor {
    /// A redactor for `values` (empty ones are ignored).
    pub fn new(values: impl IntoIterator<Item = String>) -> Self {
        let mut values: Vec<String> = values.into_iter().filter(|v| !v.is_empty()).collect();
        values.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        values.dedup();
        Redactor { values }
    }

    /// `text` with every known secret value and every value of a secret-looking key masked.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for v in &self.values {
            if out.contains(v.as_str()) {
                out = out.replace(v.as_str(), MASK);
            }
        }
        SECRET_KEYS
            .replace_all(
                &out,
                |c: &regex::Captures<'_>| {
                    if &c[3] == MASK { c[0].to_string() } else { format!("{}{}{MASK}", &c[1], &c[2]) }
                },
            )
            .into_owned()
    }
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} values)", self.values.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values_are_masked_wherever_they_appear() {
        let r = Redactor::new(["s3cr3t".to_string(), "s3cr3t-longer".to_string(), String::new()]);
        assert_eq!(r.redact("a s3cr3t-longer b s3cr3t"), "a ****** b ******");
    }

    #[test]
    fn values_of_secret_looking_keys_are_masked_even_when_unknown() {
        let r = Redactor::default();
        assert_eq!(
            r.redact("s3://b/p?access-key=AKIA123&secret-access-key=abc/def&region=us"),
            "s3://b/p?access-key=******&secret-access-key=******&region=us"
        );
        assert_eq!(
            r.redact(r#"[password=hunter2] {"private_key": "xyz"}"#),
            r#"[password=******] {"private_key": "******"}"#
        );
        assert_eq!(r.redact("--password=pw --user=root"), "--password=****** --user=root");
        assert_eq!(r.redact("[ranges-failed=0] [Size=71010]"), "[ranges-failed=0] [Size=71010]");
    }
}
