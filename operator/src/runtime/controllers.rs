//! The backup, restore and schedule kube-runtime Controllers, each over its own reflector caches and `KubeCluster`.
//!
//! | controller | reconciles | its caches (`KubeCluster` stores) | triggered by |
//! |---|---|---|---|
//! | backup | Backup | Backup, Job, Pod | Backups; its Jobs (owner reference); their pods (owner annotations) |
//! | restore | Restore | Restore, Job, Pod | Restores; its Job (owner reference); the Job's pods (owner annotations) |
//! | compact | CompactBackup | CompactBackup, Job, Pod | CompactBackups; its Job (owner reference); its pods (owner annotations) |
//! | schedule | BackupSchedule | BackupSchedule, Backup, CompactBackup | schedules; their Backups and CompactBackups (controller owner reference) |
//!
//! Jobs and pods are watched only with the operator's labels (`app.kubernetes.io/managed-by=backup-operator` and
//! the controller's components), and scheduled Backups only with the schedule label, so the caches hold what the
//! reconcilers read and nothing else. A failed reconcile is retried per object with exponential backoff
//! ([`ErrorBackoff`]); a successful one asks for its own requeue.

use futures::future::{BoxFuture, FutureExt, join_all};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::Api;
use kube::runtime::controller::{Action as KubeAction, Config as ControllerConfig, Error as ControllerError};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{Controller, WatchStreamExt, watcher};
use kube::{Client, Resource};
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::api::labels::{self, component};
use crate::api::{Backup, BackupSchedule, CompactBackup, Restore};
use crate::cluster::kube_cluster::{Clock, KubeCluster, Stores, error_chain};
use crate::cluster::own_writes::{OwnWrites, ReadYourWrites};
use crate::cluster::{Kind, Object, ObjectKey};
use crate::controllers::backup::{self, BackupError};
use crate::controllers::compact::{self, CompactError};
use crate::controllers::restore::{self, RestoreError};
use crate::controllers::schedule::{self, ScheduleError};
use crate::controllers::{Action, Settings, triggers};

use super::backoff::ErrorBackoff;
use super::metrics::{Metrics, Sources};

/// The controller names used in metrics and logs.
pub const BACKUP: &str = "backup";
pub const RESTORE: &str = "restore";
pub const COMPACT: &str = "compact";
pub const SCHEDULE: &str = "schedule";

/// What the three controllers share.
#[derive(Clone)]
pub struct Shared {
    pub client: Client,
    /// `None` watches all namespaces.
    pub namespace: Option<String>,
    pub settings: Settings,
    /// Reconciles at once, per controller.
    pub concurrency: u16,
    pub metrics: Arc<Metrics>,
    /// Who publishes the Events (`reportingController` / `reportingInstance`).
    pub reporter: Reporter,
    /// Where the reconcilers' `now()` comes from; `None` is the wall clock (a simulated world supplies its own).
    pub clock: Option<Clock>,
}

/// One controller's view: its `KubeCluster` (its caches), the settings, and its error backoff.
pub struct Context {
    pub controller: &'static str,
    pub cluster: ReadYourWrites<KubeCluster>,
    pub settings: Settings,
    pub metrics: Arc<Metrics>,
    pub backoff: ErrorBackoff,
}

/// Our `Action` as kube-runtime's.
pub fn to_kube(action: Action) -> KubeAction {
    match action.requeue_after {
        Some(d) => KubeAction::requeue(d),
        None => KubeAction::await_change(),
    }
}

/// The label selector of the operator's Jobs (and their pods) of `components`.
pub fn jobs_selector(components: &[&str]) -> String {
    format!("{}={},{} in ({})", labels::MANAGED_BY, labels::MANAGED_BY_VALUE, labels::COMPONENT, components.join(","))
}

/// The label selector of the Backups schedules created.
pub fn scheduled_backups_selector() -> String {
    labels::SCHEDULE.to_string()
}

fn scoped<K: Object>(shared: &Shared) -> Api<K> {
    match &shared.namespace {
        Some(ns) => Api::namespaced(shared.client.clone(), ns),
        None => Api::all(shared.client.clone()),
    }
}

/// The Backup or Restore (`kind`) a Job or pod works for, by its owner annotations.
pub fn owner_ref<K: Resource<DynamicType = ()>>(meta: &ObjectMeta, kind: Kind) -> Option<ObjectRef<K>> {
    let (owner_kind, key) = triggers::owner_of(meta)?;
    (owner_kind == kind).then(|| ObjectRef::new(&key.name).within(&key.namespace))
}

/// The schedule a Backup or CompactBackup belongs to.
pub fn schedule_ref<K: kube::Resource>(obj: &K) -> Option<ObjectRef<BackupSchedule>> {
    triggers::schedule_of(obj).map(|key| ObjectRef::new(&key.name).within(&key.namespace))
}

async fn instrumented<E: std::error::Error + 'static>(
    ctx: &Context,
    key: ObjectKey,
    reconcile: impl Future<Output = Result<Action, E>>,
) -> Result<KubeAction, E> {
    let started = Instant::now();
    let result = reconcile.await;
    let error = result.as_ref().err().map(|e| e as &(dyn std::error::Error + 'static));
    ctx.metrics.reconciled(ctx.controller, started.elapsed(), error);
    if result.is_ok() {
        ctx.backoff.succeeded(&key);
    }
    result.map(to_kube)
}

async fn reconcile_backup(obj: Arc<Backup>, ctx: Arc<Context>) -> Result<KubeAction, BackupError> {
    let key = ObjectKey::of(&*obj);
    instrumented(&ctx, key, backup::reconcile(&ctx.cluster, &ctx.settings, obj)).await
}

async fn reconcile_restore(obj: Arc<Restore>, ctx: Arc<Context>) -> Result<KubeAction, RestoreError> {
    let key = ObjectKey::of(&*obj);
    instrumented(&ctx, key, restore::reconcile(&ctx.cluster, &ctx.settings, obj)).await
}

async fn reconcile_compact(obj: Arc<CompactBackup>, ctx: Arc<Context>) -> Result<KubeAction, CompactError> {
    let key = ObjectKey::of(&*obj);
    instrumented(&ctx, key, compact::reconcile(&ctx.cluster, &ctx.settings, obj)).await
}

async fn reconcile_schedule(obj: Arc<BackupSchedule>, ctx: Arc<Context>) -> Result<KubeAction, ScheduleError> {
    let key = ObjectKey::of(&*obj);
    instrumented(&ctx, key, schedule::reconcile(&ctx.cluster, &ctx.settings, obj)).await
}

/// After a failed reconcile: log it with its causes and retry after the object's backoff.
fn error_policy<K: Object, E: std::error::Error + 'static>(obj: Arc<K>, err: &E, ctx: Arc<Context>) -> KubeAction {
    let key = ObjectKey::of(&*obj);
    let delay = ctx.backoff.failed(&key);
    tracing::warn!(
        controller = ctx.controller,
        object = %key,
        retry_in = %crate::api::duration::format_duration(delay),
        error = %error_chain(err),
        "reconcile failed"
    );
    KubeAction::requeue(delay)
}

/// Logs what the applier reports besides reconcile errors (already logged by the error policy).
fn report<K, E1, E2>(
    controller: &'static str,
    result: Result<(ObjectRef<K>, KubeAction), ControllerError<E1, E2>>,
) -> futures::future::Ready<()>
where
    K: Resource,
    E1: std::error::Error + 'static,
    E2: std::error::Error + 'static,
{
    match result {
        Ok((obj, action)) => tracing::debug!(controller, object = %obj, ?action, "reconciled"),
        Err(ControllerError::ReconcilerFailed(..)) => {}
        Err(ControllerError::ObjectNotFound(obj)) => tracing::debug!(controller, object = %obj, "gone before its turn"),
        Err(e) => tracing::warn!(controller, error = %error_chain(&e), "controller error"),
    }
    futures::future::ready(())
}

/// The started controllers.
pub struct Running {
    /// Runs the three controllers; resolves once all have stopped after `shutdown`.
    pub controllers: BoxFuture<'static, ()>,
    /// Resolves once every cache has been listed.
    pub synced: BoxFuture<'static, ()>,
    /// What the scrape-time gauges read.
    pub sources: Sources,
}

fn ready<K: Object>(store: &Store<K>) -> BoxFuture<'static, ()> {
    let store = store.clone();
    async move {
        let _ = store.wait_until_ready().await;
    }
    .boxed()
}

fn context(shared: &Shared, controller: &'static str, stores: Stores, recorder: &Recorder) -> Arc<Context> {
    let mut cluster = KubeCluster::new(shared.client.clone(), stores, Some(recorder.clone()));
    if let Some(clock) = &shared.clock {
        cluster = cluster.with_clock(clock.clone());
    }
    let started = crate::cluster::Cluster::now(&cluster);
    Arc::new(Context {
        controller,
        cluster: ReadYourWrites::new(cluster, OwnWrites::new(started)),
        settings: shared.settings.clone(),
        metrics: shared.metrics.clone(),
        backoff: ErrorBackoff::default(),
    })
}

/// Builds the three controllers (nothing runs until `controllers` is polled).
pub fn start(shared: &Shared, shutdown: CancellationToken) -> Running {
    let recorder = Recorder::new(shared.client.clone(), shared.reporter.clone());
    let config = ControllerConfig::default().concurrency(shared.concurrency);

    // backup: Backup, its Jobs and their pods
    let (backups, writer) = reflector::store::<Backup>();
    let backup_events = watcher(scoped::<Backup>(shared), watcher::Config::default())
        .default_backoff()
        .reflect(writer)
        .applied_objects();
    let jobs_config = watcher::Config::default().labels(&jobs_selector(component::OF_BACKUP_CONTROLLER));
    let (backup_jobs, writer) = reflector::store::<Job>();
    let job_events =
        watcher(scoped::<Job>(shared), jobs_config.clone()).default_backoff().reflect(writer).touched_objects();
    let (backup_pods, writer) = reflector::store::<Pod>();
    let pod_events = watcher(scoped::<Pod>(shared), jobs_config).default_backoff().reflect(writer).touched_objects();
    let stores = Stores {
        backups: Some(backups.clone()),
        jobs: Some(backup_jobs.clone()),
        pods: Some(backup_pods.clone()),
        ..Stores::default()
    };
    let ctx = context(shared, BACKUP, stores, &recorder);
    let backup_controller = Controller::for_stream(backup_events, backups.clone())
        .owns_stream(job_events)
        .watches_stream(pod_events, |pod: Pod| owner_ref::<Backup>(&pod.metadata, Kind::Backup))
        .with_config(config.clone())
        .graceful_shutdown_on(shutdown.clone().cancelled_owned())
        .run(reconcile_backup, error_policy::<Backup, BackupError>, ctx)
        .for_each(|r| report(BACKUP, r));

    // restore: Restore, its Job and the Job's pods
    let (restores, writer) = reflector::store::<Restore>();
    let restore_events = watcher(scoped::<Restore>(shared), watcher::Config::default())
        .default_backoff()
        .reflect(writer)
        .applied_objects();
    let jobs_config = watcher::Config::default().labels(&jobs_selector(component::OF_RESTORE_CONTROLLER));
    let (restore_jobs, writer) = reflector::store::<Job>();
    let job_events =
        watcher(scoped::<Job>(shared), jobs_config.clone()).default_backoff().reflect(writer).touched_objects();
    let (restore_pods, writer) = reflector::store::<Pod>();
    let pod_events = watcher(scoped::<Pod>(shared), jobs_config).default_backoff().reflect(writer).touched_objects();
    let stores = Stores {
        restores: Some(restores.clone()),
        jobs: Some(restore_jobs.clone()),
        pods: Some(restore_pods.clone()),
        ..Stores::default()
    };
    let ctx = context(shared, RESTORE, stores, &recorder);
    let restore_controller = Controller::for_stream(restore_events, restores.clone())
        .owns_stream(job_events)
        .watches_stream(pod_events, |pod: Pod| owner_ref::<Restore>(&pod.metadata, Kind::Restore))
        .with_config(config.clone())
        .graceful_shutdown_on(shutdown.clone().cancelled_owned())
        .run(reconcile_restore, error_policy::<Restore, RestoreError>, ctx)
        .for_each(|r| report(RESTORE, r));

    // compact: CompactBackup, its Job and the Job's pods
    let (compacts, writer) = reflector::store::<CompactBackup>();
    let compact_events = watcher(scoped::<CompactBackup>(shared), watcher::Config::default())
        .default_backoff()
        .reflect(writer)
        .applied_objects();
    let jobs_config = watcher::Config::default().labels(&jobs_selector(component::OF_COMPACT_CONTROLLER));
    let (compact_jobs, writer) = reflector::store::<Job>();
    let job_events =
        watcher(scoped::<Job>(shared), jobs_config.clone()).default_backoff().reflect(writer).touched_objects();
    let (compact_pods, writer) = reflector::store::<Pod>();
    let pod_events = watcher(scoped::<Pod>(shared), jobs_config).default_backoff().reflect(writer).touched_objects();
    let stores = Stores {
        compacts: Some(compacts.clone()),
        jobs: Some(compact_jobs.clone()),
        pods: Some(compact_pods.clone()),
        ..Stores::default()
    };
    let ctx = context(shared, COMPACT, stores, &recorder);
    let compact_controller = Controller::for_stream(compact_events, compacts.clone())
        .owns_stream(job_events)
        .watches_stream(pod_events, |pod: Pod| owner_ref::<CompactBackup>(&pod.metadata, Kind::CompactBackup))
        .with_config(config.clone())
        .graceful_shutdown_on(shutdown.clone().cancelled_owned())
        .run(reconcile_compact, error_policy::<CompactBackup, CompactError>, ctx)
        .for_each(|r| report(COMPACT, r));

    // schedule: BackupSchedule and the Backups and CompactBackups it created
    let (schedules, writer) = reflector::store::<BackupSchedule>();
    let schedule_events = watcher(scoped::<BackupSchedule>(shared), watcher::Config::default())
        .default_backoff()
        .reflect(writer)
        .applied_objects();
    let (scheduled, writer) = reflector::store::<Backup>();
    let metrics = shared.metrics.clone();
    let scheduled_events =
        watcher(scoped::<Backup>(shared), watcher::Config::default().labels(&scheduled_backups_selector()))
            .default_backoff()
            .reflect(writer)
            .inspect_ok(move |event| match event {
                watcher::Event::Apply(b) | watcher::Event::InitApply(b) => metrics.saw_backup(b),
                watcher::Event::Delete(b) => metrics.forgot_backup(b),
                watcher::Event::Init | watcher::Event::InitDone => {}
            })
            .touched_objects();
    let (scheduled_compacts, writer) = reflector::store::<CompactBackup>();
    let scheduled_compact_events =
        watcher(scoped::<CompactBackup>(shared), watcher::Config::default().labels(&scheduled_backups_selector()))
            .default_backoff()
            .reflect(writer)
            .touched_objects();
    let stores = Stores {
        schedules: Some(schedules.clone()),
        backups: Some(scheduled.clone()),
        compacts: Some(scheduled_compacts.clone()),
        ..Stores::default()
    };
    let ctx = context(shared, SCHEDULE, stores, &recorder);
    let schedule_controller = Controller::for_stream(schedule_events, schedules.clone())
        .watches_stream(scheduled_events, |b: Backup| schedule_ref(&b))
        .watches_stream(scheduled_compact_events, |c: CompactBackup| schedule_ref(&c))
        .with_config(config)
        .graceful_shutdown_on(shutdown.cancelled_owned())
        .run(reconcile_schedule, error_policy::<BackupSchedule, ScheduleError>, ctx)
        .for_each(|r| report(SCHEDULE, r));

    let synced = join_all([
        ready(&backups),
        ready(&backup_jobs),
        ready(&backup_pods),
        ready(&restores),
        ready(&restore_jobs),
        ready(&restore_pods),
        ready(&compacts),
        ready(&compact_jobs),
        ready(&compact_pods),
        ready(&schedules),
        ready(&scheduled),
        ready(&scheduled_compacts),
    ])
    .map(|_| ())
    .boxed();
    let controllers = async move {
        futures::join!(backup_controller, restore_controller, compact_controller, schedule_controller);
    }
    .boxed();
    let sources = Sources {
        backups: Some(backups),
        pods: vec![backup_pods, restore_pods, compact_pods],
        pod_start_timeout: shared.settings.pod_start_timeout,
    };
    Running { controllers, synced, sources }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn job_watches_select_the_operators_components_only() {
        assert_eq!(
            jobs_selector(&["backup", "clean"]),
            "app.kubernetes.io/managed-by=backup-operator,app.kubernetes.io/component in (backup,clean)"
        );
    }

    #[test]
    fn actions_convert_to_kube_runtime_actions() {
        assert_eq!(to_kube(Action::requeue(Duration::from_secs(7))), KubeAction::requeue(Duration::from_secs(7)));
        assert_eq!(to_kube(Action::await_change()), KubeAction::await_change());
    }

    #[test]
    fn pods_map_to_their_owner_of_the_right_kind_only() {
        let meta = ObjectMeta {
            namespace: Some("ns".into()),
            annotations: Some(
                [
                    (labels::OWNER_KIND.to_string(), "Restore".to_string()),
                    (labels::OWNER_NAME.to_string(), "r1".to_string()),
                ]
                .into(),
            ),
            ..Default::default()
        };
        assert_eq!(owner_ref::<Restore>(&meta, Kind::Restore), Some(ObjectRef::new("r1").within("ns")));
        assert_eq!(owner_ref::<Backup>(&meta, Kind::Backup), None);
    }
}
