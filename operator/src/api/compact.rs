//! The `CompactBackup` custom resource: one compaction of a log backup's range (`tikv-ctl compact-log-backup`), run
//! as a Job; TiDB Operator's field names, created by PITR schedules with a `compactBackupTemplate`.

use k8s_openapi::api::core::v1::{
    Affinity, EnvVar, LocalObjectReference, PodSecurityContext, ResourceRequirements, Toleration, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::condition::Condition;
use super::storage::StorageProvider;
use super::tools::BrConfig;
use super::tso::Tso;

/// TiDB Operator's default `concurrency` (`-N` of tikv-ctl).
pub const DEFAULT_CONCURRENCY: i64 = 4;
/// TiDB Operator's default `maxRetryTimes` (the Job's backoff limit).
pub const DEFAULT_MAX_RETRY_TIMES: i32 = 6;

// No doc comments on the fields: they would become CRD descriptions, and these fields mean what TiDB Operator's
// documentation says they mean.
// Each printcolumn(...) repeats the same keys by design; clippy reads them as duplicated attributes.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[kube(
    group = "pingcap.com",
    version = "v1alpha1",
    kind = "CompactBackup",
    namespaced,
    status = "CompactStatus",
    shortname = "cpbk",
    derive = "PartialEq",
    derive = "Default",
    doc = "A compaction of a log backup's range, run as a Job by the backup-operator",
    printcolumn(name = "Status", type_ = "string", json_path = ".status.state", description = "The current state"),
    printcolumn(name = "EndTs", type_ = "string", json_path = ".status.endTs", description = "Compacted up to"),
    printcolumn(name = "Progress", type_ = "string", json_path = ".status.progress", description = "The progress"),
    printcolumn(name = "Message", type_ = "string", json_path = ".status.message", description = "Why it failed"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct CompactSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Box<ResourceRequirements>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard_count: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub physical_file_cache_capacity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<EnvVar>>,
    #[serde(flatten)]
    pub storage: StorageProvider,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_ts: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_ts: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerations: Option<Vec<Toleration>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "tikvImage")]
    pub tikv_image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub br: Option<Box<BrConfig>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_secrets: Option<Vec<LocalObjectReference>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Box<Affinity>>,
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "useKMS")]
    pub use_kms: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automount_service_account_token: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_security_context: Option<Box<PodSecurityContext>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retry_times: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_volumes: Option<Vec<Volume>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_volume_mounts: Option<Vec<VolumeMount>>,
}

/// One retry TiDB Operator recorded (`backoffRetryStatus`); kept as stored.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CompactRetryRecord {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_num: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detect_failed_at: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_reason: Option<String>,
}

/// The states a CompactBackup moves through, as TiDB Operator writes them (`status.state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CompactState {
    /// The Job was created.
    Scheduled,
    /// backup-manager started tikv-ctl.
    Running,
    /// An attempt failed; the Job runs another pod while its backoff limit allows.
    RetryFailed,
    Complete,
    Failed,
}

impl CompactState {
    pub const ALL: [CompactState; 5] = [
        CompactState::Scheduled,
        CompactState::Running,
        CompactState::RetryFailed,
        CompactState::Complete,
        CompactState::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CompactState::Scheduled => "Scheduled",
            CompactState::Running => "Running",
            CompactState::RetryFailed => "RetryFailed",
            CompactState::Complete => "Complete",
            CompactState::Failed => "Failed",
        }
    }

    pub fn parse(s: &str) -> Option<CompactState> {
        CompactState::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// Complete or Failed: nothing will run for it again.
    pub fn is_final(self) -> bool {
        matches!(self, CompactState::Complete | CompactState::Failed)
    }
}

impl std::fmt::Display for CompactState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// CompactBackup status: `Scheduled` and `Failed` by the compact controller; `Running`, `RetryFailed`, progress and
/// `Complete` with `endTs` by backup-manager.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CompactStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_ts: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_indexes: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_indexes: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "backoffRetryStatus")]
    pub retry_status: Option<Vec<CompactRetryRecord>>,
    /// This operator's conditions (`Invalid`, `Unsupported`), beside TiDB Operator's `state`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<Condition>>,
}

impl CompactBackup {
    /// The state, when it is one TiDB Operator writes.
    pub fn state(&self) -> Option<CompactState> {
        self.status.as_ref().and_then(|s| s.state.as_deref()).and_then(CompactState::parse)
    }

    /// The range's start, when it can be read (TSO or a time).
    pub fn start(&self) -> Option<Tso> {
        self.spec.start_ts.as_deref().and_then(|t| Tso::parse(t).ok())
    }

    /// The range's requested end, when it can be read.
    pub fn end(&self) -> Option<Tso> {
        self.spec.end_ts.as_deref().and_then(|t| Tso::parse(t).ok())
    }

    /// Where a finished compaction leaves the log compacted to, as TiDB Operator's schedule reads it: the end
    /// reached (`status.endTs`, else the spec's) when Complete, the start when Failed (the range is run again).
    pub fn progress(&self) -> Option<Tso> {
        match self.state()? {
            CompactState::Complete => {
                let reached = self.status.as_ref().and_then(|s| s.end_ts.as_deref()).and_then(|t| Tso::parse(t).ok());
                reached.or_else(|| self.end())
            }
            CompactState::Failed => self.start(),
            _ => None,
        }
    }

    pub fn concurrency(&self) -> i64 {
        self.spec.concurrency.unwrap_or(DEFAULT_CONCURRENCY)
    }

    pub fn max_retry_times(&self) -> i32 {
        self.spec.max_retry_times.unwrap_or(DEFAULT_MAX_RETRY_TIMES)
    }
}
