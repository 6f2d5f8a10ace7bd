//! What a schedule creates: `backup_for` the Backup of one cron tick (named by the tick so a retry adopts it),
//! `log_backup_for` its log backup, `compact_for` a CompactBackup of its log.

use chrono::{DateTime, Utc};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use std::collections::BTreeMap;

use crate::api::labels::{self, component};
use crate::api::names::{
    label_value, log_backup_folder, schedule_log_backup_name, scheduled_backup_name, scheduled_compact_name,
};
use crate::api::time::{from_k8s, rfc3339};
use crate::api::tso::Tso;
use crate::api::{Backup, BackupSchedule, CompactBackup};
use crate::cluster::Labels;

/// The labels every Backup of the schedule `schedule_name` carries (also the selector that finds them).
pub fn schedule_selector(schedule_name: &str) -> Labels {
    Labels::from([(labels::SCHEDULE.to_string(), label_value(schedule_name))])
}

/// The Backup for `tick`: `<schedule>-<tick>`, the template's spec with its own storage prefix (so cleaning one
/// Backup never touches another's data) and the schedule's `imagePullSecrets` if it has any (as TiDB Operator),
/// owned by the schedule, annotated with the tick.
pub fn backup_for(schedule: &BackupSchedule, tick: DateTime<Utc>) -> Backup {
    let schedule_name = schedule.metadata.name.clone().unwrap_or_default();
    let name = scheduled_backup_name(&schedule_name, tick);
    let mut spec = schedule.spec.backup_template.clone();
    spec.storage.push_prefix(&name);
    if spec.storage_class_name.is_none() {
        spec.storage_class_name.clone_from(&schedule.spec.storage_class_name);
    }
    if spec.storage_size.is_none() {
        spec.storage_size.clone_from(&schedule.spec.storage_size);
    }
    if schedule.spec.image_pull_secrets.is_some() {
        spec.image_pull_secrets.clone_from(&schedule.spec.image_pull_secrets);
    }
    // The finalizer the backup controller would add as its first write, set at creation instead (one write less).
    let finalizer = spec.clean_policy() != crate::api::CleanPolicy::Retain;
    let mut metadata = owned_meta(schedule, name, finalizer);
    metadata.annotations = Some(BTreeMap::from([(labels::SCHEDULED_TIME.to_string(), rfc3339(tick))]));
    Backup { metadata, spec: *spec, status: None }
}

/// The log backup the schedule keeps running, started at `now`, if it has a `logBackupTemplate`: `log-<schedule>`
/// (TiDB Operator's name), the template's spec writing under `log-<now>` in its storage (so a log backup started
/// again never mixes with an earlier one's log), owned by the schedule. Every log Backup carries the finalizer: its
/// task is stopped before it goes.
pub fn log_backup_for(schedule: &BackupSchedule, now: DateTime<Utc>) -> Option<Backup> {
    let mut spec = schedule.spec.log_backup_template.clone()?;
    spec.storage.push_prefix(&log_backup_folder(now));
    if schedule.spec.image_pull_secrets.is_some() {
        spec.image_pull_secrets.clone_from(&schedule.spec.image_pull_secrets);
    }
    let name = schedule_log_backup_name(schedule.metadata.name.as_deref().unwrap_or_default());
    Some(Backup { metadata: owned_meta(schedule, name, true), spec: *spec, status: None })
}

/// The folder a schedule's log backup writes to: the last part of its storage prefix (`log-<start time>`, which
/// [`log_backup_for`] appended when it created it), else the folder of a log backup started at `started`.
pub fn log_folder(log: Option<&Backup>, started: DateTime<Utc>) -> String {
    let prefix = log.and_then(|l| l.spec.storage.location()).map(|l| l.prefix);
    let last = prefix.as_deref().and_then(|p| p.rsplit('/').next()).filter(|f| f.starts_with("log-"));
    last.map_or_else(|| log_backup_folder(started), str::to_string)
}

/// The CompactBackup the schedule creates at `now` for the range `start`..`end` of its log backup's folder
/// `folder` (see [`log_folder`]): `compact-<schedule>-<now>` (TiDB Operator's name), the template's spec pointed at
/// that folder under the template's storage (as TiDB Operator), the range in TiDB Operator's time format, the
/// schedule's `imagePullSecrets` if it has any, owned by the schedule.
pub fn compact_for(
    schedule: &BackupSchedule,
    now: DateTime<Utc>,
    folder: &str,
    start: Tso,
    end: Tso,
) -> Option<CompactBackup> {
    let mut spec = schedule.compaction()?.clone();
    spec.storage.push_prefix(folder);
    let format = |t: Tso| t.to_time().format("%Y-%m-%d %H:%M:%S").to_string();
    spec.start_ts = Some(format(start));
    spec.end_ts = Some(format(end));
    if schedule.spec.image_pull_secrets.is_some() {
        spec.image_pull_secrets.clone_from(&schedule.spec.image_pull_secrets);
    }
    let name = scheduled_compact_name(schedule.metadata.name.as_deref().unwrap_or_default(), now);
    Some(CompactBackup { metadata: owned_meta(schedule, name, false), spec, status: None })
}

/// The metadata of a Backup the schedule creates: its name, the schedule's labels, the schedule as controller.
fn owned_meta(schedule: &BackupSchedule, name: String, finalizer: bool) -> ObjectMeta {
    let schedule_name = schedule.metadata.name.clone().unwrap_or_default();
    let mut label_map: BTreeMap<String, String> = schedule_selector(&schedule_name);
    label_map.insert(labels::INSTANCE.into(), label_value(&schedule_name));
    label_map.insert(labels::COMPONENT.into(), component::SCHEDULE.into());
    label_map.insert(labels::MANAGED_BY.into(), labels::MANAGED_BY_VALUE.into());
    ObjectMeta {
        name: Some(name),
        namespace: schedule.metadata.namespace.clone(),
        finalizers: finalizer.then(|| vec![labels::FINALIZER.to_string()]),
        labels: Some(label_map),
        owner_references: Some(vec![OwnerReference {
            api_version: format!("{}/{}", crate::api::GROUP, crate::api::VERSION),
            kind: "BackupSchedule".into(),
            name: schedule_name,
            uid: schedule.metadata.uid.clone().unwrap_or_default(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }]),
        ..Default::default()
    }
}

/// The tick a Backup was created for: its annotation, else its creation time.
pub fn tick_of(backup: &Backup) -> Option<DateTime<Utc>> {
    backup
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(labels::SCHEDULED_TIME))
        .and_then(|s| crate::api::time::parse_rfc3339(s))
        .or_else(|| backup.metadata.creation_timestamp.as_ref().map(from_k8s))
}

/// True when `backup` belongs to `schedule`: its controller owner is this schedule (same uid; same name when the
/// schedule has no uid yet). A Backup with no controller owner is never adopted, whatever its name or labels: a user
/// may have created it by hand, and it is theirs.
pub fn belongs_to<K: kube::Resource>(obj: &K, schedule: &BackupSchedule) -> bool {
    let owner = obj.meta().owner_references.as_ref().and_then(|refs| refs.iter().find(|r| r.controller == Some(true)));
    let Some(owner) = owner else { return false };
    if owner.kind != "BackupSchedule" {
        return false;
    }
    match schedule.metadata.uid.as_deref() {
        Some(uid) => owner.uid == uid,
        None => schedule.metadata.name.as_deref() == Some(owner.name.as_str()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::BackupScheduleSpec;
    use crate::api::storage::{S3StorageProvider, StorageProvider};
    use chrono::TimeZone;

    #[test]
    fn the_backup_is_named_and_placed_by_its_tick() {
        let mut s = BackupSchedule::new(
            "demo",
            BackupScheduleSpec {
                schedule: "*/10 * * * *".into(),
                backup_template: Box::new(crate::api::BackupSpec {
                    storage: StorageProvider {
                        s3: Some(Box::new(S3StorageProvider {
                            provider: "aws".into(),
                            bucket: Some("b".into()),
                            prefix: Some("test1-demo1".into()),
                            ..Default::default()
                        })),
                        ..Default::default()
                    },
                    ..Default::default()
                }),
                ..Default::default()
            },
        );
        s.metadata.namespace = Some("test1".into());
        s.metadata.uid = Some("s-uid".into());
        let tick = Utc.with_ymd_and_hms(2026, 1, 1, 0, 10, 0).unwrap();
        let b = backup_for(&s, tick);
        assert_eq!(b.metadata.name.as_deref(), Some("demo-2026-01-01t00-10-00"));
        assert_eq!(b.spec.storage.location().unwrap().url(), "s3://b/test1-demo1/demo-2026-01-01t00-10-00");
        assert_eq!(tick_of(&b), Some(tick));
        assert!(belongs_to(&b, &s));
        s.metadata.uid = Some("other".into());
        assert!(!belongs_to(&b, &s));
    }

    /// Regression (round-2 schedule issue, defect 2): a hand-made Backup holding a tick's name was adopted, the
    /// tick never recorded, and the schedule retried its create about 620 times an hour.
    #[test]
    fn a_backup_without_a_controller_owner_is_never_ours() {
        let mut s =
            BackupSchedule::new("demo", BackupScheduleSpec { schedule: "*/10 * * * *".into(), ..Default::default() });
        s.metadata.uid = Some("s-uid".into());
        let tick = Utc.with_ymd_and_hms(2016, 5, 19, 10, 0, 0).unwrap();
        let mut by_hand = backup_for(&s, tick);
        by_hand.metadata.owner_references = None;
        assert!(!belongs_to(&by_hand, &s), "labels alone do not make a Backup the schedule's");
        by_hand.metadata.labels = None;
        assert!(!belongs_to(&by_hand, &s));
    }

    #[test]
    fn a_compaction_works_in_the_folder_its_log_backup_writes_to_not_one_recomputed_from_its_stamp() {
        // The log backup's folder comes from the operator's clock when it created it; its creationTimestamp from the
        // API server's, possibly a second later: the compaction follows the folder the log backup really has.
        let storage = StorageProvider {
            s3: Some(Box::new(S3StorageProvider {
                provider: "aws".into(),
                bucket: Some("b".into()),
                prefix: Some("pitr".into()),
                ..Default::default()
            })),
            ..Default::default()
        };
        let template = crate::api::BackupSpec { storage: storage.clone(), ..Default::default() };
        let mut s = BackupSchedule::new(
            "demo",
            BackupScheduleSpec {
                log_backup_template: Some(Box::new(crate::api::BackupSpec {
                    backup_mode: Some("log".into()),
                    ..template.clone()
                })),
                compact_backup_template: Some(Box::new(crate::api::CompactSpec { storage, ..Default::default() })),
                compact_interval: Some("1h".into()),
                backup_template: Box::new(template),
                ..Default::default()
            },
        );
        s.metadata.namespace = Some("ns".into());
        let created = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::milliseconds(999);
        let log = log_backup_for(&s, created).unwrap();
        let stamped = created + chrono::Duration::milliseconds(1);
        assert_eq!(log_folder(Some(&log), stamped), "log-2026-01-01t00-00-00");
        assert_eq!(log_folder(None, stamped), "log-2026-01-01t00-00-01", "without the log backup: its start");
        let c = compact_for(&s, stamped, &log_folder(Some(&log), stamped), Tso(1 << 18), Tso(2 << 18)).unwrap();
        assert_eq!(c.spec.storage.location().unwrap().url(), log.spec.storage.location().unwrap().url());
        assert_eq!(c.metadata.name.as_deref(), Some("compact-demo-2026-01-01t00-00-01"));
    }
}
