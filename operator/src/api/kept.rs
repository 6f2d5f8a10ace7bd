//! TiDB Operator's fields that this operator keeps as stored but does not act on: their types, so that no write of
//! ours drops them and no CRD of ours prunes them.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::condition::Condition;

// No doc comments on the fields below: they would become CRD descriptions, and these fields mean what TiDB
// Operator's documentation says they mean.

/// How TiDB Operator deletes a backup's data in batches (`cleanOption`).
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CleanOption {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_size: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_count: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_batch_concurrency: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_concurrency: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routine_concurrency: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshots_delete_ratio: Option<f64>,
}

/// One br operation TiDB Operator recorded in a status (`brOperations`).
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BrOperation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "operationID")]
    pub operation_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_at: Option<Time>,
}

/// The state of one log backup subcommand (`logSubCommandStatuses`, keyed by the subcommand).
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LogSubCommandStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_started: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_completed: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_truncating_until: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<Condition>>,
}

/// The log subcommands' states, keyed by subcommand (`log-start`, `log-truncate`, ...).
pub type LogSubCommandStatuses = BTreeMap<String, LogSubCommandStatus>;

/// A restore's replication settings (`replicationConfig`).
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ReplicationConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compact_backup_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_timeout: Option<String>,
}
