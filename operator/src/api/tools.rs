//! Tool settings: `br` (BR), `from`/`to` (TiDB access for dumpling and lightning), `dumpling`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// BR settings; `cluster` names the TidbCluster whose PD the tool talks to.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BrConfig {
    /// TidbCluster name (required; `validation` reports it when empty).
    #[serde(default)]
    pub cluster: String,
    /// Namespace of the TidbCluster; defaults to the Backup's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_level: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_addr: Option<String>,
    /// Database to back up when `backupType` is `db` or `table`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db: Option<String>,
    /// Table to back up when `backupType` is `table`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    // Kubernetes knows no `uint32` format (a real API server warns on it); TiDB Operator's CRDs say `int32`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "int32"))]
    pub concurrency: Option<u32>,
    /// MB/s per TiKV.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "int32"))]
    pub rate_limit: Option<u32>,
    /// Back up the data as it was this long ago (Go duration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_ago: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_requirements: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_cred_to_tikv: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_line: Option<bool>,
    /// Extra command-line options passed to br as they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<String>>,
}

impl BrConfig {
    /// The TidbCluster's namespace: `clusterNamespace`, else the object's own namespace.
    pub fn cluster_namespace_or<'a>(&'a self, own: &'a str) -> &'a str {
        self.cluster_namespace.as_deref().filter(|s| !s.is_empty()).unwrap_or(own)
    }
}

/// How dumpling (`from`) or lightning (`to`) reach TiDB; the password is in `secretName` under `password`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TidbAccessConfig {
    #[serde(default)]
    pub host: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default)]
    pub secret_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_secret_name: Option<String>,
}

/// Dumpling settings.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DumplingConfig {
    /// Extra command-line options passed to dumpling as they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<String>>,
    /// Deprecated by TiDB Operator in favour of `spec.tableFilter`; still honoured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table_filter: Option<Vec<String>>,
}
