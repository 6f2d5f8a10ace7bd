//! TiDB Operator manifests (the article's GCS Backup, documentation-style Backups, BackupSchedules and Restores)
//! deserialize into our types and serialize back without losing or changing a field.

use operator::api::{Backup, BackupSchedule, Restore, validation};
use serde::Serialize;
use serde::de::DeserializeOwned;

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Parses `name` as `K`, checks the round trip is lossless, and returns the object.
fn round_trip<K: Serialize + DeserializeOwned>(name: &str) -> K {
    let text = fixture(name);
    let raw: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
    let typed: K = serde_json::from_value(raw.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
    let back = serde_json::to_value(&typed).unwrap();
    assert_eq!(back, raw, "{name} lost or changed a field");
    typed
}

#[test]
fn backups_round_trip_and_validate() {
    for name in [
        "article-gcs-backup.yaml",
        "s3-br-backup.yaml",
        "dumpling-backup.yaml",
        "azblob-backup.yaml",
        "local-backup.yaml",
        "log-backup.yaml",
    ] {
        let b: Backup = round_trip(name);
        assert_eq!(validation::backup(&b), vec![], "{name}");
    }
}

#[test]
fn schedules_round_trip_and_validate() {
    for name in ["s3-backup-schedule.yaml", "gcs-backup-schedule.yaml", "pitr-backup-schedule.yaml"] {
        let s: BackupSchedule = round_trip(name);
        assert_eq!(validation::schedule(&s), vec![], "{name}");
    }
}

#[test]
fn a_pitr_schedule_keeps_its_templates_and_acts_on_all_but_clean_option() {
    // Issue 15: TiDB Operator's integrated PITR schedule, applied unchanged: its log backup and its compaction run.
    let s: BackupSchedule = round_trip("pitr-backup-schedule.yaml");
    assert_eq!(operator::api::unsupported::schedule(&s), ["spec.backupTemplate.cleanOption"]);
    assert!(s.compaction().is_some());
}

#[test]
fn compactions_round_trip_and_validate() {
    let c: operator::api::CompactBackup = round_trip("compact-backup.yaml");
    assert_eq!(operator::api::validation::compact(&c), vec![]);
    assert_eq!(operator::api::unsupported::compact(&c), Vec::<String>::new());
}

#[test]
fn restores_round_trip_and_validate() {
    for name in ["br-restore.yaml", "lightning-restore.yaml"] {
        let r: Restore = round_trip(name);
        assert_eq!(validation::restore(&r), vec![], "{name}");
    }
}

#[test]
fn the_article_backup_reads_as_br_to_gcs() {
    let b: Backup = round_trip("article-gcs-backup.yaml");
    assert_eq!(b.spec.br.as_ref().unwrap().cluster, "mycluster");
    assert_eq!(b.spec.storage.location().unwrap().url(), "gcs://backup/test1-demo1");
    assert_eq!(b.spec.clean_policy(), operator::api::CleanPolicy::Retain);
}
