//! The schedule controller: creates a Backup per cron tick (never two at once), keeps `status.lastBackup` true,
//! and garbage-collects expired Backups. Correct under stale caches: see [`plan`].

pub mod compaction;
pub mod next_run;
pub mod plan;
pub mod retention;
pub mod template;

mod compact;
mod log;

use std::sync::Arc;

use crate::api::condition::{Condition, remove_condition, set_condition};
use crate::api::log_backup::is_log;
use crate::api::names::schedule_log_backup_name;
use crate::api::time::{rfc3339, to_k8s};
use crate::api::{Backup, BackupSchedule, CompactBackup, unsupported};
use crate::cluster::{Cluster, ClusterError, Deletion, Event, EventType, KeyRef, ObjectKey, Precondition};
use crate::controllers::{Action, MAX_STEPS, Settings};

use plan::{Failed, Observed, Step, plan, sync_point};
use template::{backup_for, belongs_to, schedule_selector};

/// Why a schedule reconcile failed; the controller loop retries with backoff.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("failed to read BackupSchedule {key}")]
    Read {
        key: ObjectKey,
        #[source]
        source: ClusterError,
    },
    #[error("failed to list Backups of BackupSchedule {key}")]
    ListBackups {
        key: ObjectKey,
        #[source]
        source: ClusterError,
    },
    #[error("failed to update the status of BackupSchedule {key}")]
    WriteStatus {
        key: ObjectKey,
        #[source]
        source: ClusterError,
    },
    #[error("failed to create Backup {backup}")]
    CreateBackup {
        backup: ObjectKey,
        #[source]
        source: ClusterError,
    },
    #[error("failed to delete expired Backup {backup}")]
    DeleteBackup {
        backup: ObjectKey,
        #[source]
        source: ClusterError,
    },
    #[error("failed to write log backup {backup}")]
    WriteLogBackup {
        backup: ObjectKey,
        #[source]
        source: ClusterError,
    },
    #[error("failed to list CompactBackups of BackupSchedule {key}")]
    ListCompacts {
        key: ObjectKey,
        #[source]
        source: ClusterError,
    },
    #[error("failed to write CompactBackup {compact}")]
    WriteCompact {
        compact: ObjectKey,
        #[source]
        source: ClusterError,
    },
    #[error("reconcile of BackupSchedule {key} made no progress after {steps} steps")]
    NoProgress { key: ObjectKey, steps: usize },
}

struct State {
    key: ObjectKey,
    /// Shared with the cache until this reconcile reads or writes it live.
    schedule: Arc<BackupSchedule>,
    backups: Vec<Arc<Backup>>,
    /// The schedule's CompactBackups (only when it compacts).
    compacts: Vec<Arc<CompactBackup>>,
    fresh: bool,
    schedule_live: bool,
    newest_known: bool,
    failed: Failed,
    /// See [`Observed::in_sync`]: remembered by the cluster for this process's lifetime.
    in_sync: Option<chrono::DateTime<chrono::Utc>>,
    /// See [`Observed::confirmed_blocked`]: remembered by the cluster, about the blocking Backups.
    confirmed_blocked: Option<chrono::DateTime<chrono::Utc>>,
    /// The first create or delete that failed; returned (for backoff) once the rest of the plan is done.
    deferred: Option<ScheduleError>,
}

enum Next {
    Continue,
    Done(Action),
}

/// Reconciles one BackupSchedule, taken from the controller's cache.
/// `_settings` keeps the three reconcilers' signatures alike for the controller loops.
pub async fn reconcile<C: Cluster>(
    cluster: &C,
    _settings: &Settings,
    schedule: Arc<BackupSchedule>,
) -> Result<Action, ScheduleError> {
    let key = ObjectKey::of(&*schedule);
    let backups = cluster
        .cached_list::<Backup>(&key.namespace, &schedule_selector(&key.name))
        .into_iter()
        .filter(|b| belongs_to(&**b, &schedule))
        .collect::<Vec<_>>();
    if let Some(wait) = awaiting_own_write(cluster, &schedule, &backups) {
        return Ok(Action::await_own_write(wait));
    }
    let compacts = match schedule.compaction() {
        Some(_) => cluster
            .cached_list::<CompactBackup>(&key.namespace, &schedule_selector(&key.name))
            .into_iter()
            .filter(|c| belongs_to(&**c, &schedule))
            .collect(),
        None => Vec::new(),
    };
    let in_sync = cluster.confirmed::<BackupSchedule>(&key);
    let confirmed_blocked = blocked_since(cluster, &backups);
    let mut state = State {
        key,
        schedule,
        backups,
        compacts,
        fresh: false,
        schedule_live: false,
        newest_known: false,
        failed: Failed::default(),
        in_sync,
        confirmed_blocked,
        deferred: None,
    };
    let mut conflicts = 0;
    let log_name = schedule_log_backup_name(&state.key.name);
    for _ in 0..MAX_STEPS {
        let now = cluster.now();
        let step = {
            let mut observed = Observed {
                schedule: &state.schedule,
                backups: state.backups.iter().filter(|b| !is_log(&b.spec)).map(|b| &**b).collect(),
                log_backup: state
                    .backups
                    .iter()
                    .find(|b| is_log(&b.spec) && b.metadata.name.as_deref() == Some(&log_name))
                    .map(|b| &**b),
                compacts: state.compacts.iter().map(|c| &**c).collect(),
                fresh: state.fresh,
                schedule_live: state.schedule_live,
                newest_known: state.newest_known,
                now,
                in_sync: state.in_sync,
                confirmed_blocked: state.confirmed_blocked,
                failed: state.failed,
                refused: cluster.refused_creates::<Backup>(&state.key.namespace),
            };
            if let Some(anchor) = sync_point(&observed).filter(|a| state.in_sync != Some(*a)) {
                cluster.confirm::<BackupSchedule>(&state.key, Some(anchor));
                state.in_sync = Some(anchor);
                observed.in_sync = Some(anchor);
            }
            plan(&observed)
        };
        tracing::debug!(schedule = %state.key, ?step, "planned");
        match perform(cluster, &mut state, step).await {
            Ok(Next::Continue) => {}
            Ok(Next::Done(action)) => return state.deferred.map_or(Ok(action), Err),
            // Creation and collection never wait for each other: note the failure, carry on, report it at the end.
            Err(e @ ScheduleError::CreateBackup { .. }) if !state.failed.create => {
                state.failed.create = true;
                state.deferred.get_or_insert(e);
            }
            Err(e @ ScheduleError::DeleteBackup { .. }) if !state.failed.collect => {
                state.failed.collect = true;
                state.deferred.get_or_insert(e);
            }
            Err(e @ ScheduleError::WriteLogBackup { .. }) if !state.failed.log => {
                state.failed.log = true;
                state.deferred.get_or_insert(e);
            }
            Err(e @ ScheduleError::WriteCompact { .. }) if !state.failed.compact => {
                state.failed.compact = true;
                state.deferred.get_or_insert(e);
            }
            Err(ScheduleError::WriteStatus { source: ClusterError::Conflict { .. }, .. }) if conflicts < 3 => {
                conflicts += 1;
                if let Next::Done(action) = refresh(cluster, &mut state).await? {
                    return Ok(action);
                }
            }
            Err(e) => return Err(e),
        }
    }
    Err(ScheduleError::NoProgress { key: state.key, steps: MAX_STEPS })
}

/// How long to wait when the cache does not show this controller's own latest write of the schedule (its status),
/// of the Backup that status names, or of a Backup it shows (a delete that started): a plan made now would be
/// made on the past, and finding that out costs a live read; the write's watch event triggers the next reconcile.
/// Never for Backups the cache does not show: one this controller created but cannot see yet may be the one a
/// failed status write left unrecorded, and only a live read finds it (the status that names a Backup is the proof
/// that the status write went through).
fn awaiting_own_write<C: Cluster>(
    cluster: &C,
    schedule: &BackupSchedule,
    backups: &[Arc<Backup>],
) -> Option<std::time::Duration> {
    let key = KeyRef::of(schedule);
    let last = schedule.last_backup().map(|name| KeyRef::new(key.namespace, name));
    let until =
        [cluster.awaiting_own_write::<BackupSchedule>(key), last.and_then(|k| cluster.awaiting_own_write::<Backup>(k))]
            .into_iter()
            .chain(backups.iter().map(|b| cluster.awaiting_own_write::<Backup>(KeyRef::of(&**b))))
            .flatten()
            .max()?;
    Some(crate::controllers::attempt::until(until, cluster.now()))
}

/// The due tick a live read in this process found blocked by the unfinished Backups in `backups`, if it was one tick
/// for all of them.
fn blocked_since<C: Cluster>(cluster: &C, backups: &[Arc<Backup>]) -> Option<chrono::DateTime<chrono::Utc>> {
    let mut ticks = backups
        .iter()
        .filter(|b| !b.is_finished() && !is_log(&b.spec))
        .map(|b| cluster.confirmed::<Backup>(&ObjectKey::of(&**b)));
    let first = ticks.next()??;
    ticks.all(|t| t == Some(first)).then_some(first)
}

async fn refresh<C: Cluster>(cluster: &C, state: &mut State) -> Result<Next, ScheduleError> {
    let key = state.key.clone();
    let Some(schedule) =
        cluster.get::<BackupSchedule>(&key).await.map_err(|source| ScheduleError::Read { key: key.clone(), source })?
    else {
        return Ok(Next::Done(Action::await_change()));
    };
    let backups = cluster
        .list::<Backup>(&key.namespace, &schedule_selector(&key.name))
        .await
        .map_err(|source| ScheduleError::ListBackups { key: key.clone(), source })?;
    state.backups = backups.into_iter().filter(|b| belongs_to(&**b, &schedule)).collect();
    if schedule.compaction().is_some() {
        let compacts = cluster
            .list::<CompactBackup>(&key.namespace, &schedule_selector(&key.name))
            .await
            .map_err(|source| ScheduleError::ListCompacts { key: key.clone(), source })?;
        state.compacts = compacts.into_iter().filter(|c| belongs_to(&**c, &schedule)).collect();
    }
    state.schedule = schedule;
    state.fresh = true;
    state.schedule_live = true;
    Ok(Next::Continue)
}

async fn read_schedule<C: Cluster>(cluster: &C, state: &mut State) -> Result<Next, ScheduleError> {
    let key = state.key.clone();
    match cluster.get::<BackupSchedule>(&key).await {
        Ok(Some(schedule)) => {
            state.schedule = schedule;
            state.schedule_live = true;
            Ok(Next::Continue)
        }
        Ok(None) => Ok(Next::Done(Action::await_change())),
        Err(source) => Err(ScheduleError::Read { key, source }),
    }
}

async fn write_status<C: Cluster>(
    cluster: &C,
    state: &mut State,
    edit: impl FnOnce(&mut crate::api::BackupScheduleStatus),
) -> Result<Next, ScheduleError> {
    let mut s = (*state.schedule).clone();
    edit(s.status.get_or_insert_with(Default::default));
    match cluster.replace_status(Arc::new(s)).await {
        Ok(updated) => {
            state.schedule = updated;
            Ok(Next::Continue)
        }
        Err(ClusterError::NotFound { .. }) => Ok(Next::Done(Action::await_change())),
        Err(source) => Err(ScheduleError::WriteStatus { key: state.key.clone(), source }),
    }
}

async fn event<C: Cluster>(cluster: &C, state: &State, type_: EventType, reason: &'static str, message: String) {
    cluster.publish(Event::about(&*state.schedule, type_, reason, message)).await;
}

async fn perform<C: Cluster>(cluster: &C, state: &mut State, step: Step) -> Result<Next, ScheduleError> {
    let now = cluster.now();
    match step {
        Step::Wait { requeue_after } => Ok(Next::Done(Action::after(requeue_after))),
        Step::Refresh => refresh(cluster, state).await,
        Step::ReadSchedule => read_schedule(cluster, state).await,
        Step::ConfirmBlocked { tick } => {
            for b in state.backups.iter().filter(|b| !b.is_finished() && !is_log(&b.spec)) {
                cluster.confirm::<Backup>(&ObjectKey::of(&**b), Some(tick));
            }
            state.confirmed_blocked = Some(tick);
            Ok(Next::Continue)
        }
        Step::ReportUnsupported { message } => {
            let next =
                write_status(cluster, state, |s| unsupported::record(&mut s.conditions, now, message.as_deref()))
                    .await?;
            if let Some(message) = message {
                event(cluster, state, EventType::Normal, unsupported::REASON, message).await;
            }
            Ok(next)
        }
        Step::MarkInvalid { message } => {
            let msg = message.clone();
            let next = write_status(cluster, state, |s| {
                set_condition(&mut s.conditions, Condition::new("Invalid", now, Some("InvalidSpec"), Some(&msg)));
            })
            .await?;
            event(cluster, state, EventType::Warning, "InvalidSpec", message).await;
            Ok(next)
        }
        Step::MarkValid => write_status(cluster, state, |s| remove_condition(&mut s.conditions, "Invalid")).await,
        Step::SetStatus(update) => {
            write_status(cluster, state, |s| {
                s.last_backup = update.last_backup.clone();
                s.last_backup_time = update.last_backup_time.map(to_k8s);
                s.all_backup_clean_time = update.all_backup_clean_time.map(to_k8s);
            })
            .await
        }
        Step::CreateBackup { run } => {
            let backup = backup_for(&state.schedule, run.tick);
            let bkey = ObjectKey::of(&backup);
            // Whatever the answer, a Backup may now exist that the status does not name: out of sync until a
            // status write or a live read shows it named.
            cluster.confirm::<BackupSchedule>(&state.key, None);
            state.in_sync = None;
            // Only a Backup this request created is known to be the newest: one it finds already there means this
            // process's memory missed a create, and the status is then written from a live list.
            let mut made_now = false;
            let created = match cluster.create(Arc::new(backup)).await {
                Ok(b) => {
                    made_now = true;
                    Some(b)
                }
                Err(ClusterError::AlreadyExists { .. }) => {
                    // Created by an earlier attempt (a retry, or before a restart): adopt it if it is ours.
                    let existing = cluster
                        .get::<Backup>(&bkey)
                        .await
                        .map_err(|source| ScheduleError::CreateBackup { backup: bkey.clone(), source })?;
                    match existing {
                        Some(b) if belongs_to(&*b, &state.schedule) => Some(b),
                        Some(_) => {
                            let msg = format!(
                                "Backup {} exists and is not owned by this schedule; skipping the tick {}",
                                bkey.name,
                                rfc3339(run.tick)
                            );
                            event(cluster, state, EventType::Warning, "BackupNameTaken", msg).await;
                            let last = state.schedule.status.as_ref().and_then(|s| s.last_backup.clone());
                            return write_status(cluster, state, |s| {
                                s.last_backup = last;
                                s.last_backup_time = Some(to_k8s(run.tick));
                            })
                            .await;
                        }
                        None => return Ok(Next::Continue),
                    }
                }
                Err(source) => {
                    return Err(ScheduleError::CreateBackup { backup: bkey, source });
                }
            };
            if let Some(first) = run.first_skipped {
                let msg = format!(
                    "missed the ticks from {} until {}; they are skipped, not caught up",
                    rfc3339(first),
                    rfc3339(run.tick)
                );
                event(cluster, state, EventType::Warning, "MissedSchedule", msg).await;
            }
            event(
                cluster,
                state,
                EventType::Normal,
                "BackupCreated",
                format!("created Backup {} for {}", bkey.name, rfc3339(run.tick)),
            )
            .await;
            if let Some(b) = created {
                state.backups.retain(|x| x.metadata.name != b.metadata.name);
                state.backups.push(b);
                state.newest_known = made_now;
            }
            Ok(Next::Continue)
        }
        Step::CreateLogBackup => log::create(cluster, state).await,
        Step::RecordLogBackup { name, started } => {
            write_status(cluster, state, |s| {
                s.log_backup = Some(name);
                s.log_backup_start_ts = started.map(to_k8s);
            })
            .await
        }
        Step::TruncateLog { name, until, base } => log::truncate(cluster, state, &name, until, &base).await,
        Step::RecordCompactProgress { progress } => {
            write_status(cluster, state, |s| s.last_compact_progress = Some(to_k8s(progress))).await
        }
        Step::RecordCompact { name, executed } => {
            write_status(cluster, state, |s| {
                s.last_compact = Some(name);
                s.last_compact_execution_ts = Some(to_k8s(executed));
            })
            .await
        }
        Step::CreateCompact { range } => compact::create(cluster, state, range).await,
        Step::DeleteCompacts { names } => compact::delete(cluster, state, &names).await,
        Step::DeleteBackups { names } => {
            for name in &names {
                let bkey = ObjectKey::new(&state.key.namespace, name);
                let uid = state
                    .backups
                    .iter()
                    .find(|b| b.metadata.name.as_ref() == Some(name))
                    .and_then(|b| b.metadata.uid.clone());
                match cluster.delete::<Backup>(&bkey, &Precondition { uid, resource_version: None }).await {
                    Ok(Deletion::Pending(b)) => {
                        if let Some(slot) = state.backups.iter_mut().find(|x| x.metadata.name.as_ref() == Some(name)) {
                            *slot = Arc::new(b);
                        }
                    }
                    Ok(Deletion::Gone) | Err(ClusterError::NotFound { .. }) | Err(ClusterError::Conflict { .. }) => {
                        state.backups.retain(|x| x.metadata.name.as_ref() != Some(name));
                    }
                    Err(source) => {
                        return Err(ScheduleError::DeleteBackup { backup: bkey, source });
                    }
                }
            }
            event(
                cluster,
                state,
                EventType::Normal,
                "BackupsExpired",
                format!("deleted {} expired Backup(s): {}", names.len(), names.join(", ")),
            )
            .await;
            Ok(Next::Continue)
        }
    }
}
