//! Regression tests for TiDB Operator's schedule-reset bug: its garbage collection listed Backups from a stale
//! informer cache, found only expired ones, deleted them all and reset `status.lastBackup`, forgetting the Backup
//! it had just created; the next tick then started a second, overlapping Backup.

mod support;

use operator::api::{Backup, BackupPhase, BackupSchedule};
use operator::controllers::Settings;
use operator::controllers::schedule::reconcile;
use std::sync::Arc;
use support::builders::{BackupBuilder, NS, ScheduleBuilder, t};
use support::fake::{FakeCluster, block_on};

/// Two old Complete Backups, expired long ago and stuck in deletion (their clean pods hang in ContainerCreating),
/// plus the fresh Backup for 02:10 that the cache has not seen yet.
fn field_report_world(cluster: &FakeCluster, schedule: &BackupSchedule) -> Backup {
    for (tick, done) in [(t(10), t(15)), (t(20), t(25))] {
        let old = BackupBuilder::scheduled(schedule, tick).complete(done).finalizer().deleting(t(90)).build();
        cluster.put(&old);
    }
    let fresh = BackupBuilder::scheduled(schedule, t(130)).phase(BackupPhase::Scheduled).build();
    cluster.api_put(&fresh);
    fresh
}

#[test]
fn stale_cache_does_not_reset_last_backup() {
    let cluster = FakeCluster::new(t(130) + chrono::Duration::seconds(5));
    let schedule = ScheduleBuilder::new("demo").last_backup("demo-2026-01-01t02-10-00", t(130)).build();
    cluster.put(&schedule);
    let fresh = field_report_world(&cluster, &schedule);

    block_on(reconcile(&cluster, &Settings::default(), Arc::new(schedule))).unwrap();

    let after: BackupSchedule = cluster.api_get(NS, "demo").unwrap();
    let status = after.status.unwrap();
    assert_eq!(status.last_backup.as_deref(), fresh.metadata.name.as_deref(), "lastBackup must survive");
    assert_eq!(status.all_backup_clean_time, None);
    assert_eq!(cluster.api_list::<Backup>().len(), 3, "no Backup created or lost: {:?}", cluster.writes.borrow());
    assert!(cluster.writes.borrow().is_empty(), "nothing to write: {:?}", cluster.writes.borrow());
}

#[test]
fn stale_cache_does_not_start_a_second_backup() {
    // At 02:20 the cache still shows the schedule's status from 00:20 and only the two expired Backups; the API has
    // the 02:10 Backup, still running. A controller trusting the cache would start 02:20 on top of it.
    let cluster = FakeCluster::new(t(140) + chrono::Duration::seconds(5));
    let live_schedule = ScheduleBuilder::new("demo").last_backup("demo-2026-01-01t02-10-00", t(130)).build();
    let stale_schedule = ScheduleBuilder::new("demo").last_backup("demo-2026-01-01t00-20-00", t(20)).build();
    cluster.api_put(&live_schedule);
    cluster.cache_put(&stale_schedule);
    for (tick, done) in [(t(10), t(15)), (t(20), t(25))] {
        cluster.put(&BackupBuilder::scheduled(&live_schedule, tick).complete(done).finalizer().build());
    }
    cluster.api_put(&BackupBuilder::scheduled(&live_schedule, t(130)).phase(BackupPhase::Running).build());

    block_on(reconcile(&cluster, &Settings::default(), Arc::new(stale_schedule))).unwrap();

    let writes = cluster.writes.borrow().clone();
    assert!(!writes.iter().any(|w| w.starts_with("create")), "a second Backup was started: {writes:?}");
    let after: BackupSchedule = cluster.api_get(NS, "demo").unwrap();
    assert_eq!(after.status.unwrap().last_backup.as_deref(), Some("demo-2026-01-01t02-10-00"));
    // Garbage collection still runs, on the live list: the older expired Backup goes, the newest Complete stays.
    assert_eq!(writes, ["delete Backup test1/demo-2026-01-01t00-10-00"]);
}

#[test]
fn an_empty_cache_never_clears_last_backup() {
    let cluster = FakeCluster::new(t(135));
    let schedule = ScheduleBuilder::new("demo").last_backup("demo-2026-01-01t02-10-00", t(130)).build();
    cluster.put(&schedule);
    cluster.api_put(&BackupBuilder::scheduled(&schedule, t(130)).phase(BackupPhase::Running).build());

    block_on(reconcile(&cluster, &Settings::default(), Arc::new(schedule))).unwrap();

    let after: BackupSchedule = cluster.api_get(NS, "demo").unwrap();
    assert_eq!(after.status.unwrap().last_backup.as_deref(), Some("demo-2026-01-01t02-10-00"));
    assert!(cluster.writes.borrow().is_empty(), "{:?}", cluster.writes.borrow());
}

#[test]
fn last_backup_is_cleared_only_when_a_live_read_confirms_none_exists() {
    let cluster = FakeCluster::new(t(135));
    let schedule = ScheduleBuilder::new("demo").paused(true).last_backup("demo-2026-01-01t02-10-00", t(130)).build();
    cluster.put(&schedule);

    block_on(reconcile(&cluster, &Settings::default(), Arc::new(schedule))).unwrap();

    let status = cluster.api_get::<BackupSchedule>(NS, "demo").unwrap().status.unwrap();
    assert_eq!(status.last_backup, None);
    assert_eq!(status.all_backup_clean_time, Some(operator::api::time::to_k8s(t(135))));
    assert_eq!(
        status.last_backup_time,
        Some(operator::api::time::to_k8s(t(130))),
        "the scheduling anchor never rewinds"
    );
}
