//! The `Backup` custom resource: one backup run as a Job, tracked in its status, cleaned per `cleanPolicy`.

use k8s_openapi::api::core::v1::{
    Affinity, EnvVar, LocalObjectReference, PodSecurityContext, ResourceRequirements, Toleration, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::time::Duration;

use super::condition::Condition;
use super::duration::parse_duration;
use super::kept::{BrOperation, CleanOption, LogSubCommandStatuses};
use super::log_backup::LogSubcommand;
use super::progress::Progress;
use super::storage::StorageProvider;
use super::tools::{BrConfig, DumplingConfig, TidbAccessConfig};

/// What to back up; only meaningful with BR. `raw` and `tiflash-replica` are TiDB Operator's too: accepted and
/// kept, and reported invalid (this operator does not run them).
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum BackupType {
    #[default]
    Full,
    Db,
    Table,
    Raw,
    TiflashReplica,
}

impl BackupType {
    /// The br subcommand argument (`br backup full`).
    pub fn as_str(self) -> &'static str {
        match self {
            BackupType::Full => "full",
            BackupType::Db => "db",
            BackupType::Table => "table",
            BackupType::Raw => "raw",
            BackupType::TiflashReplica => "tiflash-replica",
        }
    }
}

/// What happens to the backup's data when the Backup is deleted.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub enum CleanPolicy {
    /// Keep the data (TiDB Operator's default).
    #[default]
    Retain,
    /// Delete the data only if the backup failed.
    OnFailure,
    /// Always delete the data.
    Delete,
}

/// How failed backup attempts are retried (TiDB Operator's defaults: 300s, 2 times, within 30m).
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BackoffRetryPolicy {
    /// The first retry waits this long; each further retry waits twice as long as the one before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_retry_duration: Option<String>,
    /// How many retries at most; 0 disables retries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retry_times: Option<i32>,
    /// No retry starts later than this after the first failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_timeout: Option<String>,
}

/// The retry policy with defaults applied and durations parsed (validation has checked they parse).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    pub min_retry: Duration,
    pub max_retries: u32,
    pub retry_timeout: Duration,
}

impl RetryPolicy {
    pub const DEFAULT: RetryPolicy =
        RetryPolicy { min_retry: Duration::from_secs(300), max_retries: 2, retry_timeout: Duration::from_secs(1800) };
}

/// Backup spec: TiDB Operator's field names for the supported subset.
// Each printcolumn(...) repeats the same keys by design; clippy reads them as duplicated attributes.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[kube(
    group = "pingcap.com",
    version = "v1alpha1",
    kind = "Backup",
    namespaced,
    status = "BackupStatus",
    shortname = "bk",
    derive = "PartialEq",
    derive = "Default",
    doc = "A backup of a TiDB cluster, run as a Job by the backup-operator",
    printcolumn(name = "Status", type_ = "string", json_path = ".status.phase", description = "The current phase"),
    printcolumn(
        name = "BackupPath",
        type_ = "string",
        json_path = ".status.backupPath",
        description = "Where the data is"
    ),
    printcolumn(
        name = "BackupSize",
        type_ = "string",
        json_path = ".status.backupSizeReadable",
        description = "The data size"
    ),
    printcolumn(
        name = "CommitTS",
        type_ = "string",
        json_path = ".status.commitTs",
        description = "The commit timestamp of the backup"
    ),
    printcolumn(name = "Started", type_ = "date", json_path = ".status.timeStarted", priority = 1),
    printcolumn(name = "Completed", type_ = "date", json_path = ".status.timeCompleted", priority = 1),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct BackupSpec {
    // The larger optional parts are boxed (same JSON, same CRD schema): a Backup is held by value in every reconcile
    // future and copied when one is created, and inline they made it 6 KB (now under 1 KB). Not doc comments: they
    // would become CRD descriptions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Box<ResourceRequirements>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<EnvVar>>,
    /// TiDB to export from with dumpling (used when `br` is not set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Box<TidbAccessConfig>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_type: Option<BackupType>,
    /// `snapshot` (default) or `log` (volume-snapshot backups are not supported by this operator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "tikvGCLifeTime")]
    pub tikv_gc_life_time: Option<String>,
    #[serde(flatten)]
    pub storage: StorageProvider,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_size: Option<String>,
    /// Back up with BR; without it, dumpling exports through `from`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub br: Option<Box<BrConfig>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dumpling: Option<DumplingConfig>,
    /// Image of br or dumpling copied into the Job (`pingcap/br:v8.5.2`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_secrets: Option<Vec<LocalObjectReference>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Box<Affinity>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerations: Option<Vec<Toleration>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table_filter: Option<Vec<String>>,
    /// `Retain` (default), `OnFailure` or `Delete`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clean_policy: Option<CleanPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_security_context: Option<Box<PodSecurityContext>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_retry_policy: Option<BackoffRetryPolicy>,
    // TiDB Operator's fields this operator keeps but does not act on (see `unsupported.rs`, which reports them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_volumes: Option<Vec<Volume>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_volume_mounts: Option<Vec<VolumeMount>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automount_service_account_token: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calc_size_level: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clean_option: Option<Box<CleanOption>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_ts: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub federal_volume_backup_phase: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_subcommand: Option<LogSubcommand>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_stop: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_truncate_until: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume_gc_schedule: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "useKMS")]
    pub use_kms: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_attributes_class_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_backup_init_job_max_active_seconds: Option<i32>,
}

/// The phases a Backup moves through. `Complete` and `Failed` are final for the backup itself; deletion then
/// moves through `Cleaning` to `Clean` (or `CleanFailed`, retried).
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BackupPhase {
    /// The spec is invalid; nothing runs until it is fixed.
    Invalid,
    /// The Job was created; its pod has not reported yet.
    Scheduled,
    /// backup-manager is running the tool.
    Running,
    /// An attempt failed and another is due (see `backoffRetryStatus`).
    Retrying,
    Complete,
    Failed,
    /// The Backup is being deleted and its clean Job runs.
    Cleaning,
    /// The data was removed.
    Clean,
    /// The clean Job failed or got stuck; it is retried.
    CleanFailed,
    // TiDB Operator's other phases (log and volume-snapshot backups): read and kept as stored, never written here.
    Prepare,
    Paused,
    Stopped,
    Restart,
    Repeatable,
    RetryFailed,
    VolumeBackupInitialized,
    VolumeBackupInitializeFailed,
    VolumeBackupSnapshotsCreated,
    VolumeBackupInitializeComplete,
    VolumeBackupComplete,
    VolumeBackupFailed,
}

impl BackupPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            BackupPhase::Invalid => "Invalid",
            BackupPhase::Scheduled => "Scheduled",
            BackupPhase::Running => "Running",
            BackupPhase::Retrying => "Retrying",
            BackupPhase::Complete => "Complete",
            BackupPhase::Failed => "Failed",
            BackupPhase::Cleaning => "Cleaning",
            BackupPhase::Clean => "Clean",
            BackupPhase::CleanFailed => "CleanFailed",
            BackupPhase::Prepare => "Prepare",
            BackupPhase::Paused => "Paused",
            BackupPhase::Stopped => "Stopped",
            BackupPhase::Restart => "Restart",
            BackupPhase::Repeatable => "Repeatable",
            BackupPhase::RetryFailed => "RetryFailed",
            BackupPhase::VolumeBackupInitialized => "VolumeBackupInitialized",
            BackupPhase::VolumeBackupInitializeFailed => "VolumeBackupInitializeFailed",
            BackupPhase::VolumeBackupSnapshotsCreated => "VolumeBackupSnapshotsCreated",
            BackupPhase::VolumeBackupInitializeComplete => "VolumeBackupInitializeComplete",
            BackupPhase::VolumeBackupComplete => "VolumeBackupComplete",
            BackupPhase::VolumeBackupFailed => "VolumeBackupFailed",
        }
    }
}

impl std::fmt::Display for BackupPhase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One failed attempt and the retry planned for it (TiDB Operator's record shape).
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BackoffRetryRecord {
    /// 1 for the first retry.
    pub retry_num: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detect_failed_at: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_retry_at: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub real_retry_at: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_reason: Option<String>,
}

/// Backup status, written by the backup controller (Scheduled, Retrying, Failed, cleaning) and by backup-manager
/// inside the Job (Running, Complete, attempt failures, Clean).
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BackupStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<BackupPhase>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<Condition>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_size: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_size_readable: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_ts: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_started: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_completed: Option<Time>,
    /// How long the tool took (`4m12s`), from its summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_taken: Option<String>,
    /// Progress of each step of the running tool, written by backup-manager.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progresses: Option<Vec<Progress>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_retry_status: Option<Vec<BackoffRetryRecord>>,
    // Written by TiDB Operator (log and incremental backups); kept as stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incremental_backup_size: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incremental_backup_size_readable: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_checkpoint_ts: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_success_truncate_until: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_sub_command_statuses: Option<LogSubCommandStatuses>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_synced: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub br_operations: Option<Vec<BrOperation>>,
}

impl BackupSpec {
    /// `cleanPolicy` with TiDB Operator's default (`Retain`).
    pub fn clean_policy(&self) -> CleanPolicy {
        self.clean_policy.unwrap_or_default()
    }

    /// The retry policy with defaults; unparseable durations fall back to the default (validation reports them).
    pub fn retry_policy(&self) -> RetryPolicy {
        let d = RetryPolicy::DEFAULT;
        let Some(p) = &self.backoff_retry_policy else {
            return d;
        };
        RetryPolicy {
            min_retry: p.min_retry_duration.as_deref().and_then(|s| parse_duration(s).ok()).unwrap_or(d.min_retry),
            max_retries: p.max_retry_times.map(|n| n.max(0) as u32).unwrap_or(d.max_retries),
            retry_timeout: p.retry_timeout.as_deref().and_then(|s| parse_duration(s).ok()).unwrap_or(d.retry_timeout),
        }
    }

    /// True when the backup runs with BR (else dumpling).
    pub fn uses_br(&self) -> bool {
        self.br.is_some()
    }
}

impl Backup {
    /// The phase, if any was written yet.
    pub fn phase(&self) -> Option<BackupPhase> {
        self.status.as_ref().and_then(|s| s.phase)
    }

    /// True once the backup itself has ended (Complete or Failed), whatever happens during deletion later.
    pub fn is_finished(&self) -> bool {
        match self.phase() {
            Some(BackupPhase::Complete | BackupPhase::Failed) => true,
            // A cleaning phase is only reached from a finished or stopped backup.
            Some(BackupPhase::Cleaning | BackupPhase::Clean | BackupPhase::CleanFailed) => true,
            Some(BackupPhase::Invalid) => true,
            // TiDB Operator's final phases of log and volume-snapshot backups.
            Some(BackupPhase::Stopped | BackupPhase::VolumeBackupComplete | BackupPhase::VolumeBackupFailed) => true,
            _ => false,
        }
    }

    /// True when the backup completed (and was not cleaned since).
    pub fn is_complete(&self) -> bool {
        self.phase() == Some(BackupPhase::Complete)
    }

    /// Failed attempts recorded so far.
    pub fn retry_records(&self) -> &[BackoffRetryRecord] {
        self.status.as_ref().and_then(|s| s.backoff_retry_status.as_deref()).unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_phase_tidb_operator_writes_is_read_and_written_back_unchanged() {
        // A migrated object in a phase this operator never writes must not make every list of Backups fail.
        for name in [
            "Scheduled",
            "Running",
            "Complete",
            "Clean",
            "Repeatable",
            "Failed",
            "RetryFailed",
            "CleanFailed",
            "Invalid",
            "Prepare",
            "Paused",
            "Stopped",
            "Restart",
            "VolumeBackupInitialized",
            "VolumeBackupInitializeFailed",
            "VolumeBackupSnapshotsCreated",
            "VolumeBackupInitializeComplete",
            "VolumeBackupComplete",
            "VolumeBackupFailed",
        ] {
            let phase: BackupPhase = serde_json::from_value(serde_json::json!(name)).unwrap();
            assert_eq!(phase.as_str(), name);
            assert_eq!(serde_json::to_value(phase).unwrap(), serde_json::json!(name));
        }
    }
}
