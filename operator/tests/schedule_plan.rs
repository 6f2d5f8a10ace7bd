//! The schedule controller's pure decisions: ticks, overlap, status truth, retention, pause.

mod support;

use operator::api::condition::{Condition, set_condition};
use operator::api::log_backup::is_log;
use operator::api::{Backup, BackupPhase};
use operator::controllers::schedule::next_run::NextRun;
use operator::controllers::schedule::plan::{Observed, StatusUpdate, Step, plan, sync_point};
use std::time::Duration;
use support::builders::{BackupBuilder, ScheduleBuilder, t};

fn observe<'a>(
    schedule: &'a operator::api::BackupSchedule,
    backups: &'a [Backup],
    fresh: bool,
    now: chrono::DateTime<chrono::Utc>,
) -> Observed<'a> {
    Observed {
        schedule,
        backups: backups.iter().filter(|b| !is_log(&b.spec)).collect(),
        log_backup: backups.iter().find(|b| is_log(&b.spec)),
        compacts: Vec::new(),
        fresh,
        schedule_live: fresh,
        newest_known: false,
        now,
        in_sync: None,
        confirmed_blocked: None,
        failed: Default::default(),
        refused: Vec::new(),
    }
}

#[test]
fn the_first_tick_is_confirmed_live_then_created() {
    let s = ScheduleBuilder::new("demo").build();
    let now = t(10) + chrono::Duration::seconds(1);
    assert_eq!(plan(&observe(&s, &[], false, now)), Step::Refresh);
    assert_eq!(
        plan(&observe(&s, &[], true, now)),
        Step::CreateBackup { run: NextRun { tick: t(10), first_skipped: None } }
    );
}

#[test]
fn a_created_backup_becomes_last_backup() {
    let s = ScheduleBuilder::new("demo").build();
    let b = [BackupBuilder::scheduled(&s, t(10)).build()];
    assert_eq!(
        plan(&observe(&s, &b, true, t(10))),
        Step::SetStatus(StatusUpdate {
            last_backup: Some("demo-2026-01-01t00-10-00".into()),
            last_backup_time: Some(t(10)),
            all_backup_clean_time: None
        })
    );
}

#[test]
fn a_running_backup_blocks_the_next_tick() {
    let s = ScheduleBuilder::new("demo").last_backup("demo-2026-01-01t00-10-00", t(10)).build();
    let b = [BackupBuilder::scheduled(&s, t(10)).phase(BackupPhase::Running).build()];
    let mut o = observe(&s, &b, true, t(21));
    assert_eq!(plan(&o), Step::ConfirmBlocked { tick: t(20) });
    o.confirmed_blocked = Some(t(20));
    assert_eq!(plan(&o), Step::Wait { requeue_after: Some(Duration::from_secs(9 * 60)) });
}

/// A due tick blocked by a running Backup is confirmed live once per process, not on every event of the running
/// Backup; a new due tick is confirmed again.
#[test]
fn a_blocked_tick_is_confirmed_live_once() {
    let s = ScheduleBuilder::new("demo").last_backup("demo-2026-01-01t00-10-00", t(10)).build();
    let b = [BackupBuilder::scheduled(&s, t(10)).phase(BackupPhase::Running).build()];
    let mut o = observe(&s, &b, false, t(21));
    assert_eq!(plan(&o), Step::Refresh, "never confirmed");
    o.confirmed_blocked = Some(t(20));
    assert!(matches!(plan(&o), Step::Wait { .. }), "confirmed for this tick: the cache suffices to wait");
    o.now = t(31);
    assert_eq!(plan(&o), Step::Refresh, "a later tick is due: confirm again");
}

#[test]
fn a_late_finish_runs_the_missed_tick_late_not_twice() {
    let s = ScheduleBuilder::new("demo").last_backup("demo-2026-01-01t00-10-00", t(10)).build();
    let b = [BackupBuilder::scheduled(&s, t(10)).complete(t(22)).build()];
    assert_eq!(
        plan(&observe(&s, &b, true, t(22))),
        Step::CreateBackup { run: NextRun { tick: t(20), first_skipped: None } }
    );
}

#[test]
fn waits_until_the_next_tick_or_expiry() {
    let s = ScheduleBuilder::new("demo").last_backup("demo-2026-01-01t00-20-00", t(20)).build();
    let b = [
        BackupBuilder::scheduled(&s, t(10)).complete(t(12)).build(),
        BackupBuilder::scheduled(&s, t(20)).complete(t(22)).build(),
    ];
    assert_eq!(plan(&observe(&s, &b, false, t(25))), Step::Wait { requeue_after: Some(Duration::from_secs(5 * 60)) });
}

#[test]
fn expired_backups_are_deleted_after_a_live_read() {
    let s = ScheduleBuilder::new("demo").last_backup("demo-2026-01-01t01-20-00", t(80)).build();
    let b = [
        BackupBuilder::scheduled(&s, t(10)).complete(t(12)).build(),
        BackupBuilder::scheduled(&s, t(80)).complete(t(82)).build(),
    ];
    assert_eq!(plan(&observe(&s, &b, false, t(85))), Step::Refresh);
    assert_eq!(
        plan(&observe(&s, &b, true, t(85))),
        Step::DeleteBackups { names: vec!["demo-2026-01-01t00-10-00".into()] }
    );
}

#[test]
fn max_backups_keeps_the_newest() {
    let s = ScheduleBuilder::new("demo")
        .max_reserved_time(None)
        .max_backups(2)
        .last_backup("demo-2026-01-01t00-30-00", t(30))
        .build();
    let b: Vec<Backup> =
        [10, 20, 30].iter().map(|m| BackupBuilder::scheduled(&s, t(*m)).complete(t(m + 1)).build()).collect();
    assert_eq!(
        plan(&observe(&s, &b, true, t(35))),
        Step::DeleteBackups { names: vec!["demo-2026-01-01t00-10-00".into()] }
    );
}

#[test]
fn paused_schedules_create_nothing_but_still_collect_garbage() {
    let s = ScheduleBuilder::new("demo").paused(true).last_backup("demo-2026-01-01t00-20-00", t(20)).build();
    let b = [
        BackupBuilder::scheduled(&s, t(10)).complete(t(12)).build(),
        BackupBuilder::scheduled(&s, t(20)).complete(t(22)).build(),
    ];
    assert_eq!(
        plan(&observe(&s, &b, true, t(300))),
        Step::DeleteBackups { names: vec!["demo-2026-01-01t00-10-00".into()] }
    );
    let kept = [b[1].clone()];
    assert_eq!(plan(&observe(&s, &kept, true, t(300))), Step::Wait { requeue_after: None });
}

/// TiDB Operator issue 4220: every Backup expired while paused; on unpause the schedule reset `lastBackup` and lost
/// track of the Backup it started. Here the newest Complete one survives GC and the unpaused schedule backs up the
/// latest tick once, saying which ticks it skipped.
#[test]
fn unpause_after_everything_expired_keeps_track_of_the_new_backup() {
    let s = ScheduleBuilder::new("demo").paused(false).last_backup("demo-2026-01-01t00-20-00", t(20)).build();
    let kept = [BackupBuilder::scheduled(&s, t(20)).complete(t(22)).build()];
    assert_eq!(
        plan(&observe(&s, &kept, true, t(300) + chrono::Duration::seconds(3))),
        Step::CreateBackup { run: NextRun { tick: t(300), first_skipped: Some(t(30)) } }
    );
    let both = [kept[0].clone(), BackupBuilder::scheduled(&s, t(300)).build()];
    let Step::SetStatus(update) = plan(&observe(&s, &both, true, t(301))) else { panic!() };
    assert_eq!(update.last_backup.as_deref(), Some("demo-2026-01-01t05-00-00"));
}

#[test]
fn a_bad_cron_is_reported_not_retried() {
    let s = ScheduleBuilder::new("demo").cron("61 * * * *").build();
    let Step::MarkInvalid { message } = plan(&observe(&s, &[], false, t(0))) else { panic!() };
    assert!(message.starts_with("spec.schedule: invalid cron expression"), "{message}");
}

/// Regression (found by `sim explore --generate`, seed 924): a Backup was created, the status write that records it
/// failed, and a user then made the spec invalid; the invalid schedule never recorded its own newest Backup.
#[test]
fn an_invalid_schedule_still_records_its_newest_backup_but_creates_nothing() {
    let mut s = ScheduleBuilder::new("demo")
        .last_backup("demo-2026-01-01t00-10-00", t(10))
        .max_reserved_time(Some("-1h"))
        .build();
    let b = [
        BackupBuilder::scheduled(&s, t(10)).complete(t(12)).build(),
        BackupBuilder::scheduled(&s, t(20)).complete(t(22)).build(),
    ];
    let Step::MarkInvalid { message } = plan(&observe(&s, &b, false, t(45))) else { panic!("invalid spec not marked") };
    set_condition(
        &mut s.status.get_or_insert_with(Default::default).conditions,
        Condition::new("Invalid", t(45), Some("InvalidSpec"), Some(&message)),
    );
    assert_eq!(plan(&observe(&s, &b, false, t(45))), Step::Refresh);
    assert_eq!(
        plan(&observe(&s, &b, true, t(45))),
        Step::SetStatus(StatusUpdate {
            last_backup: Some("demo-2026-01-01t00-20-00".into()),
            last_backup_time: Some(t(20)),
            all_backup_clean_time: None
        })
    );
    s.status.as_mut().expect("status").last_backup = Some("demo-2026-01-01t00-20-00".into());
    assert_eq!(plan(&observe(&s, &b, true, t(45))), Step::Wait { requeue_after: None }, "nothing is due while invalid");
}

#[test]
fn a_deleted_last_backup_is_replaced_by_the_newest_that_exists_after_a_live_read() {
    let s = ScheduleBuilder::new("demo").last_backup("demo-2026-01-01t00-30-00", t(30)).build();
    let b = [BackupBuilder::scheduled(&s, t(20)).complete(t(22)).build()];
    assert_eq!(plan(&observe(&s, &b, false, t(35))), Step::Refresh);
    assert_eq!(
        plan(&observe(&s, &b, true, t(35))),
        Step::SetStatus(StatusUpdate {
            last_backup: Some("demo-2026-01-01t00-20-00".into()),
            last_backup_time: Some(t(30)),
            all_backup_clean_time: None
        })
    );
}

/// Regression (round-2 schedule issue, defect 3): a refused create ended the reconcile before garbage collection, so
/// under an exhausted ResourceQuota expired Backups were never deleted.
#[test]
fn a_refused_create_does_not_keep_expired_backups_from_being_deleted() {
    let s = ScheduleBuilder::new("demo").last_backup("demo-2026-01-01t01-20-00", t(80)).build();
    let b = [
        BackupBuilder::scheduled(&s, t(10)).complete(t(12)).build(),
        BackupBuilder::scheduled(&s, t(80)).complete(t(82)).build(),
    ];
    let mut o = observe(&s, &b, true, t(90));
    assert_eq!(plan(&o), Step::CreateBackup { run: NextRun { tick: t(90), first_skipped: None } });
    o.failed.create = true;
    assert_eq!(plan(&o), Step::DeleteBackups { names: vec!["demo-2026-01-01t00-10-00".into()] });
}

/// Regression (a retry storm the generated workloads found, seed 2862): while the quota refused creates, every watch
/// event about the schedule's Backups (failing clean Jobs) started a reconcile that read live and sent the refused
/// create again, about 100 requests in four minutes.
#[test]
fn a_create_the_cluster_still_refuses_is_not_read_for_nor_retried_until_its_backoff_ends() {
    let s = ScheduleBuilder::new("demo").last_backup("demo-2026-01-01t01-20-00", t(80)).build();
    let b = [
        BackupBuilder::scheduled(&s, t(10)).complete(t(12)).build(),
        BackupBuilder::scheduled(&s, t(80)).complete(t(82)).build(),
    ];
    let until = t(90) + chrono::Duration::seconds(40);
    let mut o = observe(&s, &b, false, t(90) + chrono::Duration::seconds(20));
    o.refused = vec![("demo-2026-01-01t01-30-00".into(), until)];
    assert_eq!(plan(&o), Step::Refresh, "collection still reads live");
    o.fresh = true;
    assert_eq!(plan(&o), Step::DeleteBackups { names: vec!["demo-2026-01-01t00-10-00".into()] });
    let mut rest = observe(&s, &b[1..], true, o.now);
    rest.refused.clone_from(&o.refused);
    assert_eq!(plan(&rest), Step::Wait { requeue_after: Some(Duration::from_secs(20)) }, "back when it ends");
    o.refused = vec![("demo-2026-01-01t00-50-00".into(), until)];
    assert_eq!(plan(&o), Step::CreateBackup { run: NextRun { tick: t(90), first_skipped: None } }, "another name");
}

#[test]
fn a_refused_delete_does_not_hold_up_the_next_backup_or_repeat() {
    let s = ScheduleBuilder::new("demo").last_backup("demo-2026-01-01t01-20-00", t(80)).build();
    let b = [
        BackupBuilder::scheduled(&s, t(10)).complete(t(12)).build(),
        BackupBuilder::scheduled(&s, t(80)).complete(t(82)).build(),
    ];
    let mut o = observe(&s, &b, true, t(85));
    o.failed.collect = true;
    assert!(matches!(plan(&o), Step::Wait { .. }), "the failed delete is not retried within the reconcile");
    o.now = t(90);
    assert_eq!(plan(&o), Step::CreateBackup { run: NextRun { tick: t(90), first_skipped: None } });
}

/// Issue 11 (API cost): once this process saw `lastBackup` name the newest Backup live and created nothing since, a
/// due tick the cache shows unblocked needs only the schedule read live (its pause and spec), not its Backups; the
/// Backup it creates is the newest, so the status records it without another read.
#[test]
fn in_sync_a_due_tick_reads_only_the_schedule_then_creates_and_records() {
    let s = ScheduleBuilder::new("demo").last_backup("demo-2026-01-01t00-10-00", t(10)).build();
    let b = [BackupBuilder::scheduled(&s, t(10)).complete(t(12)).build()];
    let mut o = observe(&s, &b, false, t(20));
    o.in_sync = Some(t(10));
    assert_eq!(plan(&o), Step::ReadSchedule);
    o.schedule_live = true;
    assert_eq!(plan(&o), Step::CreateBackup { run: NextRun { tick: t(20), first_skipped: None } });
    let both = [b[0].clone(), BackupBuilder::scheduled(&s, t(20)).build()];
    let mut after = observe(&s, &both, false, t(20));
    after.schedule_live = true;
    after.newest_known = true;
    let Step::SetStatus(update) = plan(&after) else { panic!("the new Backup is not recorded") };
    assert_eq!(update.last_backup.as_deref(), Some("demo-2026-01-01t00-20-00"));
}

/// Everything else reads the Backups live too: a memory about another anchor (the cache is behind or ahead), a
/// Backup whose phase may still change into running (an Invalid one a user can fix), or collection due as well.
#[test]
fn out_of_sync_unsettled_or_collecting_reads_all_live() {
    let s = ScheduleBuilder::new("demo").last_backup("demo-2026-01-01t00-10-00", t(10)).build();
    let done = [BackupBuilder::scheduled(&s, t(10)).complete(t(12)).build()];
    let mut o = observe(&s, &done, false, t(20));
    assert_eq!(plan(&o), Step::Refresh, "never in sync in this process");
    o.in_sync = Some(t(0));
    assert_eq!(plan(&o), Step::Refresh, "in sync at another anchor");
    let invalid = [BackupBuilder::scheduled(&s, t(10)).phase(operator::api::BackupPhase::Invalid).build()];
    let mut o = observe(&s, &invalid, false, t(20));
    o.in_sync = Some(t(10));
    assert_eq!(plan(&o), Step::Refresh, "an Invalid Backup may run again once fixed");
    let s = ScheduleBuilder::new("demo").last_backup("demo-2026-01-01t01-20-00", t(80)).build();
    let old = [
        BackupBuilder::scheduled(&s, t(10)).complete(t(12)).build(),
        BackupBuilder::scheduled(&s, t(80)).complete(t(82)).build(),
    ];
    let mut o = observe(&s, &old, false, t(90));
    o.in_sync = Some(t(80));
    assert_eq!(plan(&o), Step::Refresh, "collection is due: one live read serves both");
}

/// The anchor is remembered only from live reads (or this reconcile's own create) showing the status in line.
#[test]
fn in_sync_is_learned_only_from_live_reads_naming_the_newest_backup() {
    let s = ScheduleBuilder::new("demo").last_backup("demo-2026-01-01t00-10-00", t(10)).build();
    let b = [BackupBuilder::scheduled(&s, t(10)).complete(t(12)).build()];
    assert_eq!(sync_point(&observe(&s, &b, false, t(15))), None, "the cache proves nothing");
    assert_eq!(sync_point(&observe(&s, &b, true, t(15))), Some(t(10)));
    let newer = [b[0].clone(), BackupBuilder::scheduled(&s, t(20)).build()];
    assert_eq!(sync_point(&observe(&s, &newer, true, t(25))), None, "the status does not name the newest");
    let mut own = observe(&s, &newer, false, t(25));
    own.schedule_live = true;
    own.newest_known = true;
    assert_eq!(sync_point(&own), None, "not until the status write names it");
}

/// The status of a PITR schedule whose log backup `log-demo` started at 0 and whose newest Backup is the tick `m`
/// minutes in.
fn pitr_status(s: &mut operator::api::BackupSchedule, m: i64) {
    let st = s.status.get_or_insert_with(Default::default);
    st.log_backup = Some("log-demo".into());
    st.log_backup_start_ts = Some(operator::api::time::to_k8s(t(0)));
    st.last_backup = Some(operator::api::names::scheduled_backup_name("demo", t(m)));
    st.last_backup_time = Some(operator::api::time::to_k8s(t(m)));
}

/// A finished snapshot of `s` for the tick `m` minutes in, its commitTs at the tick.
fn snapshot(s: &operator::api::BackupSchedule, m: i64) -> Backup {
    BackupBuilder::scheduled(s, t(m)).complete(t(m)).commit_ts(t(m)).build()
}

#[test]
fn a_tidb_pitr_schedule_starts_its_log_backup_next_to_its_snapshots() {
    // Issue 15: a BackupSchedule applied unchanged from TiDB Operator runs its log backup next to the snapshots;
    // its compaction fields are acted on, not reported.
    let s = ScheduleBuilder::new("demo").compaction("1h").build();
    let now = t(10) + chrono::Duration::seconds(1);
    assert_eq!(operator::api::unsupported::schedule(&s), Vec::<String>::new());
    let mut reported = s.clone();
    assert_eq!(plan(&observe(&reported, &[], false, now)), Step::Refresh, "a create needs a live list");
    assert_eq!(plan(&observe(&reported, &[], true, now)), Step::CreateLogBackup);
    let log = [BackupBuilder::schedule_log(&reported, now).build()];
    assert_eq!(
        plan(&observe(&reported, &log, true, now)),
        Step::RecordLogBackup { name: "log-demo".into(), started: Some(now) }
    );
    let st = reported.status.get_or_insert_with(Default::default);
    st.log_backup = Some("log-demo".into());
    st.log_backup_start_ts = Some(operator::api::time::to_k8s(now));
    assert_eq!(
        plan(&observe(&reported, &log, true, now)),
        Step::CreateBackup { run: NextRun { tick: t(10), first_skipped: None } },
        "the running log backup neither blocks the snapshots nor counts as one"
    );
}

#[test]
fn a_paused_schedule_starts_no_log_backup() {
    let s = ScheduleBuilder::new("demo").log_template().paused(true).build();
    assert_eq!(plan(&observe(&s, &[], true, t(10))), Step::Wait { requeue_after: None });
}

#[test]
fn a_log_template_in_snapshot_mode_is_invalid() {
    let s = ScheduleBuilder::new("demo").spec(|sp| sp.log_backup_template = Some(sp.backup_template.clone())).build();
    let Step::MarkInvalid { message } = plan(&observe(&s, &[], true, t(10))) else { panic!() };
    assert!(message.contains("spec.logBackupTemplate.backupMode: must be log"), "{message}");
}

/// Regression (TiDB Operator #6320): garbage collection by `maxBackups` counted the log backup among the snapshots
/// and deleted it, the oldest of them.
#[test]
fn max_backups_never_collects_the_log_backup() {
    let s = ScheduleBuilder::new("demo").log_template().max_reserved_time(None).max_backups(1).build();
    let mut backups = vec![BackupBuilder::schedule_log(&s, t(0)).build(), snapshot(&s, 10), snapshot(&s, 20)];
    let mut s = s;
    pitr_status(&mut s, 20);
    assert_eq!(
        plan(&observe(&s, &backups, true, t(25))),
        Step::DeleteBackups { names: vec!["demo-2026-01-01t00-10-00".into()] }
    );
    backups.remove(1);
    let Step::TruncateLog { name, .. } = plan(&observe(&s, &backups, true, t(25))) else { panic!() };
    assert_eq!(name, "log-demo");
}

/// Regression (TiDB Operator #6068): with only `maxBackups` set the log backup was never truncated, and its storage
/// grew without end. It is truncated to the commitTs of the oldest retained snapshot, only forward, never from the
/// cache.
#[test]
fn max_backups_truncates_the_log_to_the_oldest_retained_snapshot() {
    let mut s = ScheduleBuilder::new("demo").log_template().max_reserved_time(None).max_backups(2).build();
    pitr_status(&mut s, 30);
    let log = BackupBuilder::schedule_log(&s, t(0)).build();
    let backups = vec![log.clone(), snapshot(&s, 20), snapshot(&s, 30)];
    assert_eq!(plan(&observe(&s, &backups, false, t(35))), Step::Refresh);
    let until = operator::api::tso::Tso::from_time(t(20));
    assert_eq!(
        plan(&observe(&s, &backups, true, t(35))),
        Step::TruncateLog { name: "log-demo".into(), until, base: "demo-2026-01-01t00-20-00".into() }
    );
    let mut truncated = backups.clone();
    truncated[0].spec.log_truncate_until = Some(until.0.to_string());
    assert!(matches!(plan(&observe(&s, &truncated, false, t(35))), Step::Wait { .. }), "done: nothing to do");
    let mut ahead = backups.clone();
    ahead[0].spec.log_truncate_until = Some(operator::api::tso::Tso::from_time(t(25)).0.to_string());
    assert!(matches!(plan(&observe(&s, &ahead, true, t(35))), Step::Wait { .. }), "never backwards");
}

#[test]
fn max_reserved_time_keeps_the_newest_expired_snapshot_as_the_base_and_truncates_to_it() {
    let mut s = ScheduleBuilder::new("demo").log_template().max_reserved_time(Some("1h")).build();
    pitr_status(&mut s, 100);
    let mut backups =
        vec![BackupBuilder::schedule_log(&s, t(0)).build(), snapshot(&s, 10), snapshot(&s, 20), snapshot(&s, 100)];
    // At 1h30: 0h10 and 0h20 are older than an hour; 0h20 is the base for restores to 0h30 and later.
    assert_eq!(
        plan(&observe(&s, &backups, true, t(90))),
        Step::DeleteBackups { names: vec!["demo-2026-01-01t00-10-00".into()] }
    );
    backups.remove(1);
    assert_eq!(
        plan(&observe(&s, &backups, true, t(90))),
        Step::TruncateLog {
            name: "log-demo".into(),
            until: operator::api::tso::Tso::from_time(t(20)),
            base: "demo-2026-01-01t00-20-00".into()
        }
    );
}

#[test]
fn a_log_backup_is_not_truncated_past_a_snapshot_without_a_readable_commit_ts() {
    let mut s = ScheduleBuilder::new("demo").log_template().max_reserved_time(None).max_backups(3).build();
    pitr_status(&mut s, 30);
    let unknown = BackupBuilder::scheduled(&s, t(20)).complete(t(20)).build();
    let backups = vec![BackupBuilder::schedule_log(&s, t(0)).build(), unknown, snapshot(&s, 30)];
    assert!(matches!(plan(&observe(&s, &backups, true, t(35))), Step::Wait { .. }));
}

#[test]
fn a_log_backup_deleted_and_created_again_is_recorded_with_its_new_start() {
    let mut s = ScheduleBuilder::new("demo").log_template().build();
    let st = s.status.get_or_insert_with(Default::default);
    st.log_backup = Some("log-demo".into());
    st.log_backup_start_ts = Some(operator::api::time::to_k8s(t(0)));
    let again = [BackupBuilder::schedule_log(&s, t(50)).build()];
    assert_eq!(
        plan(&observe(&s, &again, false, t(51))),
        Step::RecordLogBackup { name: "log-demo".into(), started: Some(t(50)) }
    );
    let same = [BackupBuilder::schedule_log(&s, t(0)).build()];
    assert!(!matches!(plan(&observe(&s, &same, false, t(51))), Step::RecordLogBackup { .. }));
}

/// A schedule compacting every hour whose log backup started at 0 and has reached `checkpoint` minutes; with one
/// snapshot so that no tick is due, and the time `now` minutes in.
fn compacting(checkpoint: i64) -> (operator::api::BackupSchedule, Vec<Backup>) {
    let s = ScheduleBuilder::new("pitr").cron("0 0 1 1 *").compaction("1h").log_recorded(t(0)).build();
    let mut log = BackupBuilder::schedule_log(&s, t(0)).build();
    log.status.get_or_insert_with(Default::default).log_checkpoint_ts =
        Some(operator::api::tso::Tso::from_time(t(checkpoint)).0.to_string());
    (s, vec![log])
}

#[test]
fn a_compaction_is_created_on_a_live_list_over_at_most_three_intervals_of_log() {
    // Issue 15: with compactBackupTemplate and compactInterval, the log is compacted from its start, one
    // CompactBackup per interval; the range never passes the checkpoint.
    let (s, backups) = compacting(5 * 60);
    let seen = |fresh| Observed { compacts: Vec::new(), ..observe(&s, &backups, fresh, t(5 * 60)) };
    assert_eq!(plan(&seen(false)), Step::Refresh, "a create needs a live list");
    let Step::CreateCompact { range } = plan(&seen(true)) else { panic!("{:?}", plan(&seen(true))) };
    assert_eq!((range.start.to_time(), range.end.to_time()), (t(0), t(3 * 60)));
}

#[test]
fn a_lost_status_write_after_a_compaction_is_recorded_from_the_compaction_itself() {
    // Found by the simulator: the status write after a create hit a conflict, and the next compaction was created
    // twenty minutes later instead of an interval later (the pace read only lastCompactExecutionTs).
    let (s, backups) = compacting(5 * 60);
    let running = support::builders::compact_of(&s, t(4 * 60), t(5 * 60), Some("Running"));
    let name = running.metadata.name.clone().unwrap();
    let o = Observed { compacts: vec![&running], ..observe(&s, &backups, true, t(5 * 60)) };
    assert_eq!(plan(&o), Step::RecordCompact { name, executed: t(4 * 60) });
    let mut done = running.clone();
    done.status.get_or_insert_with(Default::default).state = Some("Complete".into());
    let mut recorded = s.clone();
    let st = recorded.status.get_or_insert_with(Default::default);
    st.last_compact = done.metadata.name.clone();
    st.last_compact_execution_ts = Some(operator::api::time::to_k8s(t(4 * 60)));
    st.last_compact_progress = Some(operator::api::time::to_k8s(t(4 * 60)));
    let o = Observed { compacts: vec![&done], ..observe(&recorded, &backups, true, t(4 * 60 + 30)) };
    assert_eq!(plan(&o), Step::RecordCompactProgress { progress: t(5 * 60) });
}

#[test]
fn a_paused_schedule_compacts_nothing() {
    let (s, backups) = compacting(5 * 60);
    let mut paused = s.clone();
    paused.spec.pause = Some(true);
    let o = Observed { compacts: Vec::new(), ..observe(&paused, &backups, true, t(5 * 60)) };
    assert!(!matches!(plan(&o), Step::CreateCompact { .. }), "{:?}", plan(&o));
}
