//! Pure validation of Backup, Restore and BackupSchedule specs: every problem, each with its field path.

use std::fmt;

use super::backup::{Backup, BackupSpec, BackupType};
use super::compact::{CompactBackup, CompactSpec};
use super::cron::CronSchedule;
use super::duration::parse_duration;
use super::restore::Restore;
use super::schedule::BackupSchedule;
use super::storage::StorageProvider;
use super::tso::Tso;

/// One problem in a spec: `spec.br.cluster: must name the TidbCluster to back up`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub path: String,
    pub problem: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.problem)
    }
}

/// Joins problems into one message for a condition or an Event.
pub fn summary(errors: &[FieldError]) -> String {
    errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

struct Problems {
    errors: Vec<FieldError>,
}

impl Problems {
    fn push(&mut self, path: impl Into<String>, problem: impl Into<String>) {
        self.errors.push(FieldError { path: path.into(), problem: problem.into() });
    }

    /// Checks the Go duration at `{at}.{field}`; the path is only formatted for a problem (validation runs on
    /// every reconcile).
    fn duration(&mut self, at: &str, field: &str, value: Option<&str>) {
        if let Some(v) = value
            && let Err(e) = parse_duration(v)
        {
            self.push(format!("{at}.{field}"), e.to_string());
        }
    }
}

fn storage(p: &mut Problems, at: &str, s: &StorageProvider) {
    let mut kinds = s.kinds();
    match (kinds.next(), kinds.next()) {
        (None, _) => p.push(at, "no storage provider: set one of s3, gcs, azblob or local"),
        (Some(kind), None) => {
            if !s.has_location() {
                let field = if kind == super::storage::ProviderKind::Azblob { "container" } else { "bucket" };
                p.push(format!("{at}.{kind}.{field}"), format!("must be set (or the legacy {at}.{kind}.path)"));
            }
        }
        (Some(first), Some(second)) => {
            let names: Vec<String> = [first, second].into_iter().chain(kinds).map(|k| k.to_string()).collect();
            p.push(at, format!("only one storage provider may be set, found {}", names.join(" and ")));
        }
    }
    if let Some(s3) = &s.s3
        && s3.provider.trim().is_empty()
    {
        p.push(format!("{at}.s3.provider"), "must be set (aws, ceph, minio, ...)");
    }
}

/// Problems in a Backup spec found at `at` (`spec`, or `spec.backupTemplate` inside a schedule).
pub fn backup_spec(at: &str, spec: &BackupSpec) -> Vec<FieldError> {
    let mut p = Problems { errors: Vec::new() };
    // Storage fields are flattened into the spec, so their paths start at the spec itself.
    storage(&mut p, at, &spec.storage);
    match (&spec.br, &spec.from) {
        (Some(br), _) => {
            if br.cluster.trim().is_empty() {
                p.push(format!("{at}.br.cluster"), "must name the TidbCluster to back up");
            }
            let db = br.db.as_deref().is_some_and(|s| !s.is_empty());
            let table = br.table.as_deref().is_some_and(|s| !s.is_empty());
            match spec.backup_type.unwrap_or_default() {
                BackupType::Db if !db => p.push(format!("{at}.br.db"), "must be set when backupType is db"),
                BackupType::Table if !db || !table => {
                    p.push(format!("{at}.br"), "db and table must be set when backupType is table")
                }
                t @ (BackupType::Raw | BackupType::TiflashReplica) => p.push(
                    format!("{at}.backupType"),
                    format!("{:?} is not supported; only full, db and table backups are", t.as_str()),
                ),
                _ => {}
            }
            p.duration(at, "br.timeAgo", br.time_ago.as_deref());
        }
        (None, None) => p.push(format!("{at}.from"), "must be set when br is not (dumpling exports from a TiDB)"),
        (None, Some(from)) => {
            if from.host.trim().is_empty() {
                p.push(format!("{at}.from.host"), "must be set");
            }
            if from.secret_name.trim().is_empty() {
                p.push(format!("{at}.from.secretName"), "must name the Secret holding the TiDB password");
            }
        }
    }
    match spec.backup_mode.as_deref() {
        None | Some("" | "snapshot") => {}
        Some("log") => log_fields(&mut p, at, spec),
        Some(mode) => {
            p.push(format!("{at}.backupMode"), format!("{mode:?} is not supported; only snapshot and log backups are"))
        }
    }
    p.duration(at, "tikvGCLifeTime", spec.tikv_gc_life_time.as_deref());
    if let Some(policy) = &spec.backoff_retry_policy {
        p.duration(at, "backoffRetryPolicy.minRetryDuration", policy.min_retry_duration.as_deref());
        p.duration(at, "backoffRetryPolicy.retryTimeout", policy.retry_timeout.as_deref());
        if policy.max_retry_times.is_some_and(|n| n < 0) {
            p.push(format!("{at}.backoffRetryPolicy.maxRetryTimes"), "must not be negative");
        }
    }
    p.errors
}

/// Problems of a log backup: it runs `br log`, and its points in time must be readable.
fn log_fields(p: &mut Problems, at: &str, spec: &BackupSpec) {
    if spec.br.is_none() {
        p.push(format!("{at}.br"), "must be set for a log backup (br runs it)");
    }
    for (field, value) in [("commitTs", &spec.commit_ts), ("logTruncateUntil", &spec.log_truncate_until)] {
        if let Some(v) = value.as_deref().filter(|v| !v.trim().is_empty())
            && let Err(e) = Tso::parse(v)
        {
            p.push(format!("{at}.{field}"), e.to_string());
        }
    }
}

/// Problems in a Backup.
pub fn backup(b: &Backup) -> Vec<FieldError> {
    backup_spec("spec", &b.spec)
}

/// Problems in a Restore.
pub fn restore(r: &Restore) -> Vec<FieldError> {
    let mut p = Problems { errors: Vec::new() };
    storage(&mut p, "spec", &r.spec.storage);
    match (&r.spec.br, &r.spec.to) {
        (Some(br), _) => {
            if br.cluster.trim().is_empty() {
                p.push("spec.br.cluster", "must name the TidbCluster to restore into");
            }
        }
        (None, None) => p.push("spec.to", "must be set when br is not (lightning imports into a TiDB)"),
        (None, Some(to)) => {
            if to.host.trim().is_empty() {
                p.push("spec.to.host", "must be set");
            }
            if to.secret_name.trim().is_empty() {
                p.push("spec.to.secretName", "must name the Secret holding the TiDB password");
            }
        }
    }
    if let Some(t @ (BackupType::Raw | BackupType::TiflashReplica)) = r.spec.backup_type {
        p.push("spec.backupType", format!("{:?} is not supported; only full, db and table restores are", t.as_str()));
    }
    match r.spec.restore_mode.as_deref() {
        None | Some("" | "snapshot") => {}
        Some("pitr") => pitr_fields(&mut p, r),
        Some(mode) => {
            p.push("spec.restoreMode", format!("{mode:?} is not supported; only snapshot and pitr restores are"))
        }
    }
    p.duration("spec", "tikvGCLifeTime", r.spec.tikv_gc_life_time.as_deref());
    p.errors
}

/// Problems of a point-in-time restore: br runs it, to a readable point, from a readable snapshot storage if one
/// is named.
fn pitr_fields(p: &mut Problems, r: &Restore) {
    if r.spec.br.is_none() {
        p.push("spec.br", "must be set for a pitr restore (br restore point runs it)");
    }
    match r.spec.pitr_restored_ts.as_deref().map(str::trim) {
        None | Some("") => p.push("spec.pitrRestoredTs", "must be set for a pitr restore: the point to restore to"),
        Some(ts) => {
            if let Err(e) = super::tso::Tso::parse(ts) {
                p.push("spec.pitrRestoredTs", e.to_string());
            }
        }
    }
    if let Some(full) = r.spec.pitr_full_backup_storage_provider.as_deref() {
        storage(p, "spec.pitrFullBackupStorageProvider", full);
    }
}

/// Problems in a CompactBackup spec at `at`; in a schedule's template (`templated`) the range is the schedule's.
pub fn compact_spec(at: &str, spec: &CompactSpec, templated: bool) -> Vec<FieldError> {
    let mut p = Problems { errors: Vec::new() };
    storage(&mut p, at, &spec.storage);
    let mut ts = |field: &str, value: Option<&str>, required: bool| match value.map(str::trim) {
        None | Some("") if required => {
            p.push(format!("{at}.{field}"), "must be set (a TSO or a time)");
            None
        }
        None | Some("") => None,
        Some(v) => Tso::parse(v).map_err(|e| p.push(format!("{at}.{field}"), e.to_string())).ok(),
    };
    let start = ts("startTs", spec.start_ts.as_deref(), !templated);
    let end = ts("endTs", spec.end_ts.as_deref(), !templated);
    if let (Some(start), Some(end)) = (start, end)
        && end <= start
    {
        p.push(format!("{at}.endTs"), format!("must be after startTs ({start}), is {end}"));
    }
    if spec.concurrency.is_some_and(|n| n <= 0) {
        p.push(format!("{at}.concurrency"), "must be greater than 0");
    }
    if spec.max_retry_times.is_some_and(|n| n < 0) {
        p.push(format!("{at}.maxRetryTimes"), "must not be negative");
    }
    match spec.mode.as_deref() {
        None | Some("" | "sharded") => {}
        Some(mode) => p.push(format!("{at}.mode"), format!("{mode:?} is not a compaction mode (\"\" or \"sharded\")")),
    }
    if spec.shard_count.is_some_and(|n| n < 1) {
        p.push(format!("{at}.shardCount"), "must be at least 1");
    }
    p.errors
}

/// Problems in a CompactBackup.
pub fn compact(c: &CompactBackup) -> Vec<FieldError> {
    compact_spec("spec", &c.spec, false)
}

/// Problems in a BackupSchedule, its cron, time zone, retention and template.
pub fn schedule(s: &BackupSchedule) -> Vec<FieldError> {
    let mut p = Problems { errors: Vec::new() };
    if let Err(errors) = CronSchedule::parse(&s.spec.schedule, s.spec.time_zone.as_deref()) {
        for e in errors {
            let path = match e {
                super::cron::CronError::TimeZone(_) => "spec.timeZone",
                _ => "spec.schedule",
            };
            p.push(path, e.to_string());
        }
    }
    p.duration("spec", "maxReservedTime", s.spec.max_reserved_time.as_deref());
    if s.spec.max_backups.is_some_and(|n| n < 0) {
        p.push("spec.maxBackups", "must not be negative");
    }
    p.errors.extend(backup_spec("spec.backupTemplate", &s.spec.backup_template));
    if super::log_backup::is_log(&s.spec.backup_template) {
        p.push("spec.backupTemplate.backupMode", "must be snapshot: a schedule's log backup is logBackupTemplate");
    }
    if let Some(log) = s.spec.log_backup_template.as_deref() {
        if super::log_backup::is_log(log) {
            p.errors.extend(backup_spec("spec.logBackupTemplate", log));
        } else {
            p.push("spec.logBackupTemplate.backupMode", "must be log: the schedule keeps this log backup running");
        }
    }
    p.duration("spec", "compactInterval", s.spec.compact_interval.as_deref());
    if s.spec.compact_interval.as_deref().and_then(|v| parse_duration(v).ok()).is_some_and(|d| d.is_zero()) {
        p.push("spec.compactInterval", "must be longer than zero");
    }
    if let Some(min) = s.spec.min_compact_start_ts.as_deref().filter(|v| !v.trim().is_empty())
        && let Err(e) = Tso::parse(min)
    {
        p.push("spec.minCompactStartTs", e.to_string());
    }
    if let Some(template) = s.compaction() {
        p.errors.extend(compact_spec("spec.compactBackupTemplate", template, true));
    }
    p.errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::schedule::BackupScheduleSpec;
    use crate::api::storage::S3StorageProvider;
    use crate::api::tools::BrConfig;

    fn template() -> BackupSpec {
        BackupSpec {
            br: Some(Box::new(BrConfig { cluster: "mycluster".into(), ..Default::default() })),
            storage: StorageProvider {
                s3: Some(Box::new(S3StorageProvider {
                    provider: "aws".into(),
                    bucket: Some("backup".into()),
                    ..Default::default()
                })),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn a_good_spec_has_no_problems() {
        assert_eq!(backup_spec("spec", &template()), vec![]);
    }

    #[test]
    fn every_problem_is_reported_with_its_path() {
        let spec = BackupScheduleSpec {
            schedule: "every tuesday".into(),
            time_zone: Some("Nowhere/Land".into()),
            max_reserved_time: Some("-3h".into()),
            max_backups: Some(-1),
            backup_template: Box::new(BackupSpec { br: Some(Box::new(BrConfig::default())), ..Default::default() }),
            ..Default::default()
        };
        let s = BackupSchedule::new("demo", spec);
        let paths: Vec<String> = schedule(&s).into_iter().map(|e| e.path).collect();
        assert_eq!(
            paths,
            [
                "spec.timeZone",
                "spec.schedule",
                "spec.maxReservedTime",
                "spec.maxBackups",
                "spec.backupTemplate",
                "spec.backupTemplate.br.cluster"
            ]
        );
    }

    #[test]
    fn two_providers_are_rejected() {
        let mut spec = template();
        spec.storage.gcs = Some(Default::default());
        let errs = backup_spec("spec", &spec);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].to_string(), "spec: only one storage provider may be set, found s3 and gcs");
    }

    #[test]
    fn dumpling_needs_from() {
        let mut spec = template();
        spec.br = None;
        assert_eq!(backup_spec("spec", &spec)[0].path, "spec.from");
    }

    #[test]
    fn tidb_modes_and_types_this_operator_does_not_run_are_refused_by_name() {
        let mut spec = template();
        spec.backup_type = Some(BackupType::Raw);
        assert_eq!(
            backup_spec("spec", &spec)[0].to_string(),
            "spec.backupType: \"raw\" is not supported; only full, db and table backups are"
        );
        let mut r = Restore::new("r", Default::default());
        r.spec.br = Some(Box::new(BrConfig { cluster: "c".into(), ..Default::default() }));
        r.spec.storage = template().storage;
        assert_eq!(restore(&r), vec![]);
        r.spec.restore_mode = Some("volume-snapshot".into());
        assert_eq!(
            restore(&r)[0].to_string(),
            "spec.restoreMode: \"volume-snapshot\" is not supported; only snapshot and pitr restores are"
        );
        r.spec.restore_mode = Some("pitr".into());
        assert_eq!(
            restore(&r)[0].to_string(),
            "spec.pitrRestoredTs: must be set for a pitr restore: the point to restore to"
        );
        r.spec.pitr_restored_ts = Some("yesterday".into());
        assert_eq!(restore(&r)[0].path, "spec.pitrRestoredTs");
        r.spec.pitr_restored_ts = Some("2026-01-02 03:04:05+0800".into());
        assert_eq!(restore(&r), vec![]);
    }
}
