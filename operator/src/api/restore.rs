//! The `Restore` custom resource: one restore (BR, or lightning when `br` is absent) run as a Job.

use k8s_openapi::api::core::v1::{
    Affinity, EnvVar, LocalObjectReference, PodSecurityContext, ResourceRequirements, Toleration, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::backup::BackupType;
use super::condition::Condition;
use super::kept::{BrOperation, ReplicationConfig};
use super::progress::Progress;
use super::storage::StorageProvider;
use super::tools::{BrConfig, TidbAccessConfig};

/// Restore spec: TiDB Operator's field names for the supported subset.
// Each printcolumn(...) repeats the same keys by design; clippy reads them as duplicated attributes.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[kube(
    group = "pingcap.com",
    version = "v1alpha1",
    kind = "Restore",
    namespaced,
    status = "RestoreStatus",
    shortname = "rt",
    derive = "PartialEq",
    derive = "Default",
    doc = "A restore into a TiDB cluster, run as a Job by the backup-operator",
    printcolumn(name = "Status", type_ = "string", json_path = ".status.phase", description = "The current phase"),
    printcolumn(name = "Started", type_ = "date", json_path = ".status.timeStarted"),
    printcolumn(name = "Completed", type_ = "date", json_path = ".status.timeCompleted"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct RestoreSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Box<ResourceRequirements>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<EnvVar>>,
    /// TiDB to import into with lightning (used when `br` is not set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<TidbAccessConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_type: Option<BackupType>,
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "tikvGCLifeTime")]
    pub tikv_gc_life_time: Option<String>,
    #[serde(flatten)]
    pub storage: StorageProvider,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_size: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub br: Option<Box<BrConfig>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table_filter: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_secrets: Option<Vec<LocalObjectReference>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Box<Affinity>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerations: Option<Vec<Toleration>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_security_context: Option<Box<PodSecurityContext>>,
    // `snapshot` (default) or `pitr` (TiDB Operator's `volume-snapshot` restores are reported invalid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_mode: Option<String>,
    // TiDB Operator's fields this operator keeps but does not act on (see `unsupported.rs`, which reports them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_volumes: Option<Vec<Volume>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_volume_mounts: Option<Vec<VolumeMount>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automount_service_account_token: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_limit: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub federal_volume_restore_phase: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_restore_start_ts: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pitr_full_backup_storage_provider: Option<Box<StorageProvider>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pitr_restored_ts: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prune: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication_config: Option<Box<ReplicationConfig>>,
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "tolerateSingleTiKVOutage")]
    pub tolerate_single_tikv_outage: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "useKMS")]
    pub use_kms: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "volumeAZ")]
    pub volume_az: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_attributes_class_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup_image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup_strategy: Option<String>,
}

/// The phases a Restore moves through; `Complete` and `Failed` are final.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RestorePhase {
    Invalid,
    Scheduled,
    Running,
    Complete,
    Failed,
    // TiDB Operator's other phases (PITR, volume-snapshot and warm-up restores): read and kept, never written here.
    VolumeComplete,
    CleanVolumeComplete,
    WarmUpStarted,
    WarmUpComplete,
    DataComplete,
    TikvComplete,
    RetryFailed,
    PruneScheduled,
    PruneRunning,
    PruneComplete,
    PruneFailed,
    SnapshotRestore,
}

impl RestorePhase {
    pub fn as_str(self) -> &'static str {
        match self {
            RestorePhase::Invalid => "Invalid",
            RestorePhase::Scheduled => "Scheduled",
            RestorePhase::Running => "Running",
            RestorePhase::Complete => "Complete",
            RestorePhase::Failed => "Failed",
            RestorePhase::VolumeComplete => "VolumeComplete",
            RestorePhase::CleanVolumeComplete => "CleanVolumeComplete",
            RestorePhase::WarmUpStarted => "WarmUpStarted",
            RestorePhase::WarmUpComplete => "WarmUpComplete",
            RestorePhase::DataComplete => "DataComplete",
            RestorePhase::TikvComplete => "TikvComplete",
            RestorePhase::RetryFailed => "RetryFailed",
            RestorePhase::PruneScheduled => "PruneScheduled",
            RestorePhase::PruneRunning => "PruneRunning",
            RestorePhase::PruneComplete => "PruneComplete",
            RestorePhase::PruneFailed => "PruneFailed",
            RestorePhase::SnapshotRestore => "SnapshotRestore",
        }
    }
}

impl std::fmt::Display for RestorePhase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Restore status: Scheduled and Failed by the restore controller, Running and Complete by backup-manager.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RestoreStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<RestorePhase>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<Condition>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_started: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_completed: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_ts: Option<String>,
    /// How long the tool took (`4m12s`), from its summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_taken: Option<String>,
    /// Progress of each step of the running tool, written by backup-manager.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progresses: Option<Vec<Progress>>,
    // Written by TiDB Operator; kept as stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication_step: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub br_operations: Option<Vec<BrOperation>>,
}

impl Restore {
    /// `restoreMode: pitr`: a point-in-time restore from a log backup (and a snapshot under it).
    pub fn is_pitr(&self) -> bool {
        self.spec.restore_mode.as_deref() == Some("pitr")
    }

    /// The point a PITR restore restores to (`pitrRestoredTs`), when it can be read.
    pub fn restored_ts(&self) -> Option<super::tso::Tso> {
        self.spec.pitr_restored_ts.as_deref().and_then(|t| super::tso::Tso::parse(t).ok())
    }

    pub fn phase(&self) -> Option<RestorePhase> {
        self.status.as_ref().and_then(|s| s.phase)
    }

    pub fn is_finished(&self) -> bool {
        matches!(self.phase(), Some(RestorePhase::Complete | RestorePhase::Failed | RestorePhase::Invalid))
    }
}
