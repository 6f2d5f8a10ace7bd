//! The fields of an object that are kept as stored but not acted on by this operator, by path, for the
//! `Unsupported` condition (a report, not an error: the object runs without them).

use chrono::{DateTime, Utc};

use super::backup::{Backup, BackupSpec};
use super::compact::{CompactBackup, CompactSpec};
use super::condition::{Condition, find_condition, remove_condition, set_condition};
use super::log_backup;
use super::restore::Restore;
use super::schedule::BackupSchedule;
use super::storage::StorageProvider;
use super::tools::TidbAccessConfig;

/// The condition type of the report.
pub const CONDITION: &str = "Unsupported";
/// The condition's reason and the Event's.
pub const REASON: &str = "UnsupportedFields";

/// Collects the paths of the fields that are set.
struct Fields<'a> {
    at: &'a str,
    set: Vec<String>,
}

impl Fields<'_> {
    fn note(&mut self, is_set: bool, field: &str) {
        if is_set {
            self.set.push(format!("{}.{field}", self.at));
        }
    }
}

fn storage(f: &mut Fields, s: &StorageProvider) {
    f.note(s.s3.as_ref().is_some_and(|s3| s3.force_path_style.is_some()), "s3.forcePathStyle");
    f.note(s.azblob.as_ref().is_some_and(|az| az.sas_token.is_some()), "azblob.sasToken");
}

fn tidb_access(f: &mut Fields, field: &str, access: Option<&TidbAccessConfig>) {
    if access.is_some_and(|a| a.tls_client_secret_name.is_some()) {
        f.note(true, &format!("{field}.tlsClientSecretName"));
    }
}

/// The unsupported fields of a Backup spec at `at` (`spec`, or `spec.backupTemplate` in a schedule).
pub fn backup_spec(at: &str, s: &BackupSpec) -> Vec<String> {
    let mut f = Fields { at, set: Vec::new() };
    f.note(s.additional_volumes.is_some(), "additionalVolumes");
    f.note(s.additional_volume_mounts.is_some(), "additionalVolumeMounts");
    f.note(s.automount_service_account_token.is_some(), "automountServiceAccountToken");
    f.note(s.calc_size_level.is_some(), "calcSizeLevel");
    f.note(s.clean_option.is_some(), "cleanOption");
    // The log fields are acted on by log backups (`log_backup.rs`) and only there.
    let snapshot = !log_backup::is_log(s);
    f.note(snapshot && s.commit_ts.is_some(), "commitTs");
    f.note(s.federal_volume_backup_phase.is_some(), "federalVolumeBackupPhase");
    tidb_access(&mut f, "from", s.from.as_deref());
    f.note(snapshot && s.log_stop.is_some(), "logStop");
    f.note(snapshot && s.log_subcommand.is_some(), "logSubcommand");
    f.note(snapshot && s.log_truncate_until.is_some(), "logTruncateUntil");
    f.note(s.resume_gc_schedule.is_some(), "resumeGcSchedule");
    storage(&mut f, &s.storage);
    f.note(s.storage_class_name.is_some(), "storageClassName");
    f.note(s.storage_size.is_some(), "storageSize");
    f.note(s.tikv_gc_life_time.is_some(), "tikvGCLifeTime");
    f.note(s.use_kms.is_some(), "useKMS");
    f.note(s.volume_attributes_class_name.is_some(), "volumeAttributesClassName");
    f.note(s.volume_backup_init_job_max_active_seconds.is_some(), "volumeBackupInitJobMaxActiveSeconds");
    f.set
}

/// The unsupported fields of a Backup.
pub fn backup(b: &Backup) -> Vec<String> {
    backup_spec("spec", &b.spec)
}

/// The unsupported fields of a Restore.
pub fn restore(r: &Restore) -> Vec<String> {
    let s = &r.spec;
    let mut f = Fields { at: "spec", set: Vec::new() };
    f.note(s.additional_volumes.is_some(), "additionalVolumes");
    f.note(s.additional_volume_mounts.is_some(), "additionalVolumeMounts");
    f.note(s.automount_service_account_token.is_some(), "automountServiceAccountToken");
    f.note(s.backoff_limit.is_some(), "backoffLimit");
    f.note(s.federal_volume_restore_phase.is_some(), "federalVolumeRestorePhase");
    f.note(s.log_restore_start_ts.is_some(), "logRestoreStartTs");
    // The PITR fields are acted on by pitr restores (`restoreMode: pitr`) and only there.
    let snapshot = !r.is_pitr();
    f.note(snapshot && s.pitr_full_backup_storage_provider.is_some(), "pitrFullBackupStorageProvider");
    f.note(snapshot && s.pitr_restored_ts.is_some(), "pitrRestoredTs");
    f.note(s.prune.is_some(), "prune");
    f.note(s.replication_config.is_some(), "replicationConfig");
    storage(&mut f, &s.storage);
    f.note(s.storage_class_name.is_some(), "storageClassName");
    f.note(s.storage_size.is_some(), "storageSize");
    f.note(s.tikv_gc_life_time.is_some(), "tikvGCLifeTime");
    tidb_access(&mut f, "to", s.to.as_ref());
    f.note(s.tolerate_single_tikv_outage.is_some(), "tolerateSingleTiKVOutage");
    f.note(s.use_kms.is_some(), "useKMS");
    f.note(s.volume_az.is_some(), "volumeAZ");
    f.note(s.volume_attributes_class_name.is_some(), "volumeAttributesClassName");
    f.note(s.warmup.is_some(), "warmup");
    f.note(s.warmup_image.is_some(), "warmupImage");
    f.note(s.warmup_strategy.is_some(), "warmupStrategy");
    f.set
}

/// The unsupported fields of a BackupSchedule, its Backup template's included.
pub fn schedule(b: &BackupSchedule) -> Vec<String> {
    let s = &b.spec;
    let mut f = Fields { at: "spec", set: Vec::new() };
    // Compaction runs only with all three of its fields (TiDB Operator's rule); without, those set are reported.
    let compacts = b.compaction().is_some();
    f.note(!compacts && s.compact_backup_template.is_some(), "compactBackupTemplate");
    f.note(!compacts && s.compact_interval.is_some(), "compactInterval");
    f.note(!compacts && s.min_compact_start_ts.is_some(), "minCompactStartTs");
    let st = &s.storage;
    for (is_set, name) in [
        (st.s3.is_some(), "s3"),
        (st.gcs.is_some(), "gcs"),
        (st.azblob.is_some(), "azblob"),
        (st.local.is_some(), "local"),
    ] {
        f.note(is_set, name);
    }
    f.note(s.br.is_some(), "br");
    f.note(s.volume_attributes_class_name.is_some(), "volumeAttributesClassName");
    f.set.extend(backup_spec("spec.backupTemplate", &s.backup_template));
    if let Some(log) = s.log_backup_template.as_deref() {
        f.set.extend(backup_spec("spec.logBackupTemplate", log));
    }
    if let Some(template) = b.compaction() {
        f.set.extend(compact_spec("spec.compactBackupTemplate", template));
    }
    f.set
}

/// The unsupported fields of a CompactBackup spec at `at`. A sharded compaction runs as one Job over the whole
/// range (the same result, one pod).
pub fn compact_spec(at: &str, s: &CompactSpec) -> Vec<String> {
    let mut f = Fields { at, set: Vec::new() };
    f.note(s.additional_volumes.is_some(), "additionalVolumes");
    f.note(s.additional_volume_mounts.is_some(), "additionalVolumeMounts");
    f.note(s.automount_service_account_token.is_some(), "automountServiceAccountToken");
    f.note(s.mode.as_deref().is_some_and(|m| !m.is_empty()), "mode");
    f.note(s.physical_file_cache_capacity.is_some(), "physicalFileCacheCapacity");
    f.note(s.shard_count.is_some(), "shardCount");
    storage(&mut f, &s.storage);
    f.note(s.use_kms.is_some(), "useKMS");
    f.set
}

/// The unsupported fields of a CompactBackup.
pub fn compact(c: &CompactBackup) -> Vec<String> {
    compact_spec("spec", &c.spec)
}

/// The condition's message for `fields` (none when no field is unsupported).
pub fn message(fields: &[String]) -> Option<String> {
    (!fields.is_empty()).then(|| format!("kept as stored but not acted on by this operator: {}", fields.join(", ")))
}

/// What the `Unsupported` condition should become, when it is not that already: `Some(Some(message))` to set it,
/// `Some(None)` to remove it (the fields were removed), `None` when it is up to date. Pure, so each controller asks
/// it on every reconcile and writes only on a change: the report is made once per set of fields.
pub fn pending(conditions: &Option<Vec<Condition>>, fields: &[String]) -> Option<Option<String>> {
    let want = message(fields);
    let recorded = find_condition(conditions, CONDITION).map(|c| c.message.clone());
    match (recorded, want) {
        (None, None) => None,
        (Some(have), Some(want)) if have.as_deref() == Some(want.as_str()) => None,
        (_, want) => Some(want),
    }
}

/// Writes what [`pending`] asked for into `conditions`.
pub fn record(conditions: &mut Option<Vec<Condition>>, now: DateTime<Utc>, message: Option<&str>) {
    match message {
        Some(m) => set_condition(conditions, Condition::new(CONDITION, now, Some(REASON), Some(m))),
        None => remove_condition(conditions, CONDITION),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    #[test]
    fn a_spec_of_supported_fields_reports_nothing() {
        assert_eq!(backup_spec("spec", &BackupSpec::default()), Vec::<String>::new());
    }

    #[test]
    fn every_set_unsupported_field_is_named_by_its_path() {
        let spec = BackupSpec {
            clean_option: Some(Box::default()),
            use_kms: Some(true),
            log_subcommand: Some(log_backup::LogSubcommand::Start),
            ..Default::default()
        };
        assert_eq!(
            backup_spec("spec.backupTemplate", &spec),
            ["spec.backupTemplate.cleanOption", "spec.backupTemplate.logSubcommand", "spec.backupTemplate.useKMS"]
        );
    }

    #[test]
    fn the_report_is_written_once_per_set_of_fields_and_removed_with_them() {
        let t = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let fields = vec!["spec.cleanOption".to_string()];
        let message = message(&fields).unwrap();
        assert_eq!(pending(&None, &fields), Some(Some(message.clone())));
        let recorded = Some(vec![Condition::new(CONDITION, t, Some(REASON), Some(&message))]);
        assert_eq!(pending(&recorded, &fields), None, "already reported");
        assert_eq!(pending(&recorded, &[]), Some(None), "the fields were removed");
        assert_eq!(pending(&None, &[]), None);
        let more = vec!["spec.cleanOption".to_string(), "spec.useKMS".to_string()];
        assert!(matches!(pending(&recorded, &more), Some(Some(m)) if m.ends_with("spec.cleanOption, spec.useKMS")));
    }
}
