//! The `BackupSchedule` custom resource: Backups from a template on a cron schedule, garbage-collected by age or count.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use k8s_openapi::api::core::v1::LocalObjectReference;

use super::backup::BackupSpec;
use super::compact::CompactSpec;
use super::condition::Condition;
use super::storage::StorageProvider;
use super::tools::BrConfig;

/// BackupSchedule spec: TiDB Operator's field names, plus `timeZone` (as CronJob).
// Each printcolumn(...) repeats the same keys by design; clippy reads them as duplicated attributes.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[kube(
    group = "pingcap.com",
    version = "v1alpha1",
    kind = "BackupSchedule",
    namespaced,
    status = "BackupScheduleStatus",
    shortname = "bks",
    derive = "PartialEq",
    derive = "Default",
    doc = "Backups created on a cron schedule and garbage-collected by the backup-operator",
    printcolumn(name = "Schedule", type_ = "string", json_path = ".spec.schedule", description = "The cron schedule"),
    printcolumn(
        name = "MaxBackups",
        type_ = "integer",
        json_path = ".spec.maxBackups",
        description = "How many Backups are kept"
    ),
    printcolumn(
        name = "MaxReservedTime",
        type_ = "string",
        json_path = ".spec.maxReservedTime",
        description = "How long Backups are kept"
    ),
    printcolumn(
        name = "LastBackup",
        type_ = "string",
        json_path = ".status.lastBackup",
        description = "The newest Backup"
    ),
    printcolumn(name = "LastBackupTime", type_ = "date", json_path = ".status.lastBackupTime", priority = 1),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct BackupScheduleSpec {
    /// Standard 5-field cron (`*/10 * * * *`); a leading seconds field is accepted as an extension.
    #[serde(default)]
    pub schedule: String,
    /// IANA time zone the schedule is read in (as CronJob's `timeZone`); UTC when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// While true no Backup is created; garbage collection continues.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause: Option<bool>,
    /// Keep at most this many Backups (0 keeps all); ignored when `maxReservedTime` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_backups: Option<i32>,
    /// Keep Backups younger than this (Go duration, e.g. `72h`); wins over `maxBackups`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_reserved_time: Option<String>,
    // Boxed, as BackupSpec's larger parts are (see there).
    pub backup_template: Box<BackupSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_size: Option<String>,
    // TiDB Operator's PITR fields: a log backup kept running, and its compaction (see `compaction()`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_backup_template: Option<Box<BackupSpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compact_backup_template: Option<Box<CompactSpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compact_interval: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_compact_start_ts: Option<String>,
    #[serde(flatten)]
    pub storage: StorageProvider,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub br: Option<Box<BrConfig>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_secrets: Option<Vec<LocalObjectReference>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_attributes_class_name: Option<String>,
}

/// BackupSchedule status. `lastBackup` names the newest Backup that exists; `lastBackupTime` is the cron tick of
/// the newest Backup this schedule created and never moves backwards.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BackupScheduleStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_backup: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_backup_time: Option<Time>,
    /// When garbage collection was confirmed to have removed every Backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all_backup_clean_time: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<Condition>>,
    // Written by TiDB Operator for PITR schedules; kept as stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_backup: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_backup_start_ts: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_compact: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_compact_execution_ts: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_compact_progress: Option<Time>,
}

impl BackupSchedule {
    pub fn paused(&self) -> bool {
        self.spec.pause.unwrap_or(false)
    }

    /// `status.lastBackup`, with the empty string read as none.
    /// The compaction this schedule runs, when `compactBackupTemplate`, `compactInterval` and `logBackupTemplate` are
    /// all set (TiDB Operator compacts only then; otherwise the fields set are reported `Unsupported`).
    pub fn compaction(&self) -> Option<&CompactSpec> {
        let s = &self.spec;
        (s.log_backup_template.is_some() && s.compact_interval.is_some()).then_some(())?;
        s.compact_backup_template.as_deref()
    }

    pub fn last_backup(&self) -> Option<&str> {
        self.status.as_ref().and_then(|s| s.last_backup.as_deref()).filter(|s| !s.is_empty())
    }
}
