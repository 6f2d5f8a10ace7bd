//! The credentials a Job's pod receives as environment variables from secret references: read once, handed to
//! the tool or the object store, and never printed (their `Debug` shows names only).

use std::collections::BTreeMap;
use std::fmt;

/// S3 access key id (Secret key `access_key`).
pub const AWS_ACCESS_KEY_ID: &str = "AWS_ACCESS_KEY_ID";
/// S3 secret key (Secret key `secret_key`).
pub const AWS_SECRET_ACCESS_KEY: &str = "AWS_SECRET_ACCESS_KEY";
/// A temporary S3 session token, when the user's `env` provides one.
pub const AWS_SESSION_TOKEN: &str = "AWS_SESSION_TOKEN";
/// The GCS service account key JSON (Secret key `credentials`).
pub const GCS_SERVICE_ACCOUNT_JSON_KEY: &str = "GCS_SERVICE_ACCOUNT_JSON_KEY";
/// The Azure storage account name (not secret, but it travels with the key).
pub const AZURE_STORAGE_ACCOUNT: &str = "AZURE_STORAGE_ACCOUNT";
/// The Azure storage account key.
pub const AZURE_STORAGE_KEY: &str = "AZURE_STORAGE_KEY";
/// An Azure shared access signature.
pub const AZURE_STORAGE_SAS_TOKEN: &str = "AZURE_STORAGE_SAS_TOKEN";
/// An Azure service principal secret, when the user's `env` provides one.
pub const AZURE_CLIENT_SECRET: &str = "AZURE_CLIENT_SECRET";
/// The TiDB password of dumpling's `from` or lightning's `to` (Secret key `password`).
pub const TIDB_PASSWORD: &str = "TIDB_PASSWORD";

/// Every variable backup-manager reads.
pub const ALL: [&str; 9] = [
    AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY,
    AWS_SESSION_TOKEN,
    GCS_SERVICE_ACCOUNT_JSON_KEY,
    AZURE_STORAGE_ACCOUNT,
    AZURE_STORAGE_KEY,
    AZURE_STORAGE_SAS_TOKEN,
    AZURE_CLIENT_SECRET,
    TIDB_PASSWORD,
];

/// The variables whose values must never appear in args, logs, events or status.
pub const SECRET: [&str; 7] = [
    AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY,
    AWS_SESSION_TOKEN,
    GCS_SERVICE_ACCOUNT_JSON_KEY,
    AZURE_STORAGE_KEY,
    AZURE_STORAGE_SAS_TOKEN,
    AZURE_CLIENT_SECRET,
];

/// Credential values by variable name (empty values count as absent).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    values: BTreeMap<&'static str, String>,
}

impl Credentials {
    /// Reads the variables of [`ALL`] from this process's environment.
    pub fn from_env() -> Self {
        Credentials::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the variables of [`ALL`] through `lookup` (tests pass a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let values =
            ALL.into_iter().filter_map(|name| lookup(name).filter(|v| !v.is_empty()).map(|v| (name, v))).collect();
        Credentials { values }
    }

    /// The same credentials with `name` set to `value` (builder for tests and `--dry-run` placeholders).
    pub fn with(mut self, name: &'static str, value: impl Into<String>) -> Self {
        let value = value.into();
        if !value.is_empty() {
            self.values.insert(name, value);
        }
        self
    }

    /// The value of `name`, if set and non-empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// Every secret value, plus the secret parts of a GCS key (its private key and key id), for redaction.
    pub fn secret_values(&self) -> Vec<String> {
        let mut out: Vec<String> =
            SECRET.iter().chain([&TIDB_PASSWORD]).filter_map(|n| self.get(n)).map(str::to_string).collect();
        if let Some(json) = self.get(GCS_SERVICE_ACCOUNT_JSON_KEY)
            && let Ok(serde_json::Value::Object(key)) = serde_json::from_str::<serde_json::Value>(json)
        {
            for field in ["private_key", "private_key_id"] {
                if let Some(serde_json::Value::String(v)) = key.get(field) {
                    out.push(v.clone());
                    // The PEM body as a tool might print it, one line at a time.
                    out.extend(v.lines().filter(|l| l.len() >= 16 && !l.starts_with("-----")).map(str::to_string));
                }
            }
        }
        out
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials").field("set", &self.values.keys().collect::<Vec<_>>()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_names_variables_but_never_shows_values() {
        let c = Credentials::default().with(TIDB_PASSWORD, "hunter2").with(AWS_SECRET_ACCESS_KEY, "");
        let shown = format!("{c:?}");
        assert!(shown.contains("TIDB_PASSWORD") && !shown.contains("hunter2"), "{shown}");
        assert_eq!(c.get(AWS_SECRET_ACCESS_KEY), None, "empty values count as absent");
    }

    #[test]
    fn a_gcs_key_contributes_its_private_parts_to_redaction() {
        let json = r#"{"type":"service_account","private_key_id":"abcdef0123456789","private_key":"-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n"}"#;
        let c = Credentials::default().with(GCS_SERVICE_ACCOUNT_JSON_KEY, json);
        let secrets = c.secret_values();
        assert!(secrets.iter().any(|s| s == "abcdef0123456789"));
        assert!(secrets.iter().any(|s| s == "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"));
    }
}
