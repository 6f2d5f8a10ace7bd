//! Prometheus metrics: reconciles, errors and durations per controller, Backups by phase, stuck pods, schedule lag
//! from cron tick to Backup creation, and leadership. Gauges over the caches are computed when scraped.

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::reflector::Store;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::api::labels::{self, SCHEDULED_TIME};
use crate::api::time::from_k8s;
use crate::api::{Backup, BackupPhase};
use crate::cluster::ClusterError;

/// Reconcile durations: 5ms to about 80s.
const DURATION_BUCKETS: [f64; 12] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 20.0, 80.0];
/// Schedule lag: a second to an hour.
const LAG_BUCKETS: [f64; 11] = [1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0];
/// The phase label of a Backup without a phase yet.
pub const NEW_PHASE: &str = "New";
/// Every phase label `backup_operator_backups` reports (zero included).
pub const PHASES: [&str; 10] = [
    NEW_PHASE,
    "Invalid",
    "Scheduled",
    "Running",
    "Retrying",
    "Complete",
    "Failed",
    "Cleaning",
    "Clean",
    "CleanFailed",
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ControllerLabels {
    pub controller: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    pub controller: String,
    /// `NotFound`, `Conflict`, `Transient`, ... or `Other` when no API error caused it.
    pub class: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PhaseLabels {
    pub phase: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StuckLabels {
    /// `backup`, `clean` or `restore`.
    pub component: String,
    /// Why the pod waits: `ContainerCreating`, `ImagePullBackOff`, ... or `Pending`.
    pub reason: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

/// The caches the scrape-time gauges read (present while this replica leads).
#[derive(Clone, Default)]
pub struct Sources {
    pub backups: Option<Store<Backup>>,
    pub pods: Vec<Store<Pod>>,
    pub pod_start_timeout: Duration,
}

/// The operator's metrics and their registry.
pub struct Metrics {
    registry: Registry,
    reconciles: Family<ControllerLabels, Counter>,
    errors: Family<ErrorLabels, Counter>,
    durations: HistogramFamily<ControllerLabels>,
    backups: Family<PhaseLabels, Gauge>,
    stuck_pods: Family<StuckLabels, Gauge>,
    schedule_lag: Histogram,
    leader: Gauge,
    sources: Mutex<Sources>,
    /// Backups whose lag was observed (so updates of the same Backup do not count twice).
    lag_seen: Mutex<HashSet<String>>,
    started: DateTime<Utc>,
}

/// The class of the first `ClusterError` in `err`'s source chain, else `Other`.
pub fn error_class(err: &(dyn std::error::Error + 'static)) -> &'static str {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if let Some(c) = e.downcast_ref::<ClusterError>() {
            return c.class();
        }
        cur = e.source();
    }
    "Other"
}

/// How many Backups are in each phase (every phase of [`PHASES`] present, zero included).
pub fn backups_by_phase<'a>(backups: impl IntoIterator<Item = &'a Backup>) -> BTreeMap<&'static str, i64> {
    let mut counts: BTreeMap<&'static str, i64> = PHASES.iter().map(|p| (*p, 0)).collect();
    for b in backups {
        let phase = b.status.as_ref().and_then(|s| s.phase).map_or(NEW_PHASE, BackupPhase::as_str);
        *counts.entry(phase).or_default() += 1;
    }
    counts
}

/// Why a pending pod waits: the first waiting reason of its init containers, then of its containers.
fn waiting_reason(pod: &Pod) -> String {
    let status = pod.status.as_ref();
    let statuses = status
        .and_then(|s| s.init_container_statuses.as_ref())
        .into_iter()
        .chain(status.and_then(|s| s.container_statuses.as_ref()))
        .flatten();
    statuses
        .filter_map(|c| c.state.as_ref()?.waiting.as_ref()?.reason.clone())
        .find(|r| r != "PodInitializing")
        .unwrap_or_else(|| "Pending".into())
}

/// Pods of the operator's Jobs still Pending `timeout` after they were created, by component and waiting reason.
pub fn stuck_pods<'a>(
    pods: impl IntoIterator<Item = &'a Pod>,
    now: DateTime<Utc>,
    timeout: Duration,
) -> BTreeMap<(String, String), i64> {
    let timeout = chrono::Duration::from_std(timeout).unwrap_or(chrono::Duration::MAX);
    let mut counts = BTreeMap::new();
    for pod in pods {
        let pending = pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Pending");
        let created = pod.metadata.creation_timestamp.as_ref().map(from_k8s);
        if !pending || created.is_none_or(|c| c + timeout > now) {
            continue;
        }
        let component =
            pod.metadata.labels.as_ref().and_then(|l| l.get(labels::COMPONENT)).cloned().unwrap_or_default();
        *counts.entry((component, waiting_reason(pod))).or_default() += 1;
    }
    counts
}

/// How late a scheduled Backup was created after its cron tick (seconds); `None` for a Backup without a tick.
pub fn schedule_lag(backup: &Backup) -> Option<f64> {
    let tick = backup.metadata.annotations.as_ref()?.get(SCHEDULED_TIME)?;
    let tick = DateTime::parse_from_rfc3339(tick).ok()?.with_timezone(&Utc);
    let created = from_k8s(backup.metadata.creation_timestamp.as_ref()?);
    Some((created - tick).num_milliseconds().max(0) as f64 / 1000.0)
}

impl Metrics {
    /// Fresh metrics; Backups created before `started` never count towards the schedule lag (they were counted by
    /// an earlier process, or predate the operator).
    pub fn new(started: DateTime<Utc>) -> Self {
        let mut registry = Registry::with_prefix("backup_operator");
        let reconciles = Family::<ControllerLabels, Counter>::default();
        let errors = Family::<ErrorLabels, Counter>::default();
        let durations = HistogramFamily::<ControllerLabels>::new_with_constructor(duration_histogram);
        let backups = Family::<PhaseLabels, Gauge>::default();
        let stuck_pods = Family::<StuckLabels, Gauge>::default();
        let schedule_lag = Histogram::new(LAG_BUCKETS);
        let leader = Gauge::default();
        registry.register("reconciles", "Reconciles run, per controller", reconciles.clone());
        registry.register(
            "reconcile_errors",
            "Reconciles that failed, per controller and API error class",
            errors.clone(),
        );
        registry.register_with_unit(
            "reconcile_duration",
            "How long reconciles took, per controller",
            Unit::Seconds,
            durations.clone(),
        );
        registry.register("backups", "Backups in the operator's cache, per phase", backups.clone());
        registry.register(
            "stuck_pods",
            "Pods of the operator's Jobs still Pending after --pod-start-timeout, per component and reason",
            stuck_pods.clone(),
        );
        registry.register_with_unit(
            "schedule_lag",
            "Delay from a schedule's cron tick to the creation of its Backup",
            Unit::Seconds,
            schedule_lag.clone(),
        );
        registry.register(
            "leader",
            "1 while this replica holds the leader Lease and runs the controllers",
            leader.clone(),
        );
        Metrics {
            registry,
            reconciles,
            errors,
            durations,
            backups,
            stuck_pods,
            schedule_lag,
            leader,
            sources: Mutex::default(),
            lag_seen: Mutex::default(),
            started,
        }
    }

    /// Records one finished reconcile of `controller`.
    pub fn reconciled(&self, controller: &str, took: Duration, error: Option<&(dyn std::error::Error + 'static)>) {
        let labels = ControllerLabels { controller: controller.into() };
        self.reconciles.get_or_create(&labels).inc();
        self.durations.get_or_create(&labels).observe(took.as_secs_f64());
        if let Some(e) = error {
            let labels = ErrorLabels { controller: controller.into(), class: error_class(e).into() };
            self.errors.get_or_create(&labels).inc();
        }
    }

    /// Observes the schedule lag of a Backup the schedule controller's watch delivered (once per Backup, and only
    /// for Backups created while this process runs).
    pub fn saw_backup(&self, backup: &Backup) {
        let (Some(uid), Some(created)) = (backup.metadata.uid.as_ref(), backup.metadata.creation_timestamp.as_ref())
        else {
            return;
        };
        if from_k8s(created) < self.started {
            return;
        }
        let Some(lag) = schedule_lag(backup) else { return };
        if self.lag_seen.lock().unwrap_or_else(|e| e.into_inner()).insert(uid.clone()) {
            self.schedule_lag.observe(lag);
        }
    }

    /// Forgets a deleted Backup.
    pub fn forgot_backup(&self, backup: &Backup) {
        if let Some(uid) = backup.metadata.uid.as_ref() {
            self.lag_seen.lock().unwrap_or_else(|e| e.into_inner()).remove(uid);
        }
    }

    /// Sets what the scrape-time gauges read.
    pub fn set_sources(&self, sources: Sources) {
        *self.sources.lock().unwrap_or_else(|e| e.into_inner()) = sources;
    }

    pub fn set_leader(&self, leading: bool) {
        self.leader.set(i64::from(leading));
    }

    /// Recomputes the cache gauges at `now`.
    pub fn refresh(&self, now: DateTime<Utc>) {
        let sources = self.sources.lock().unwrap_or_else(|e| e.into_inner()).clone();
        self.backups.clear();
        if let Some(store) = &sources.backups {
            let state = store.state();
            for (phase, n) in backups_by_phase(state.iter().map(|b| &**b)) {
                self.backups.get_or_create(&PhaseLabels { phase: phase.into() }).set(n);
            }
        }
        self.stuck_pods.clear();
        let pods: Vec<Arc<Pod>> = sources.pods.iter().flat_map(|s| s.state()).collect();
        for ((component, reason), n) in stuck_pods(pods.iter().map(|p| &**p), now, sources.pod_start_timeout) {
            self.stuck_pods.get_or_create(&StuckLabels { component, reason }).set(n);
        }
    }

    /// The metrics in the OpenMetrics text format, refreshed at `now`.
    pub fn encode(&self, now: DateTime<Utc>) -> String {
        self.refresh(now);
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).expect("writing to a String never fails");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::BackupSpec;
    use crate::api::time::to_k8s;
    use chrono::TimeZone;
    use k8s_openapi::api::core::v1::{ContainerState, ContainerStateWaiting, ContainerStatus, PodStatus};
    use std::collections::BTreeMap as Map;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::seconds(s)
    }

    fn backup(uid: &str, phase: Option<BackupPhase>, tick: Option<i64>, created: i64) -> Backup {
        let mut b = Backup::new(uid, BackupSpec::default());
        b.metadata.uid = Some(uid.into());
        b.metadata.creation_timestamp = Some(to_k8s(t(created)));
        if let Some(tick) = tick {
            b.metadata.annotations =
                Some(Map::from([(SCHEDULED_TIME.to_string(), crate::api::time::rfc3339(t(tick)))]));
        }
        if let Some(p) = phase {
            b.status = Some(crate::api::BackupStatus { phase: Some(p), ..Default::default() });
        }
        b
    }

    fn pod(component: &str, phase: &str, created: i64, waiting: Option<&str>) -> Pod {
        let mut p = Pod::default();
        p.metadata.labels = Some(Map::from([(labels::COMPONENT.to_string(), component.to_string())]));
        p.metadata.creation_timestamp = Some(to_k8s(t(created)));
        p.status = Some(PodStatus {
            phase: Some(phase.into()),
            container_statuses: waiting.map(|r| {
                vec![ContainerStatus {
                    state: Some(ContainerState {
                        waiting: Some(ContainerStateWaiting { reason: Some(r.into()), message: None }),
                        ..Default::default()
                    }),
                    ..Default::default()
                }]
            }),
            ..Default::default()
        });
        p
    }

    #[test]
    fn backups_are_counted_by_phase_with_every_phase_present() {
        let bs = [
            backup("a", None, None, 0),
            backup("b", Some(BackupPhase::Complete), None, 0),
            backup("c", Some(BackupPhase::Complete), None, 0),
        ];
        let counts = backups_by_phase(bs.iter());
        assert_eq!(counts.len(), PHASES.len());
        assert_eq!((counts["New"], counts["Complete"], counts["Running"]), (1, 2, 0));
    }

    #[test]
    fn only_pods_pending_past_the_timeout_are_stuck() {
        let pods = [
            pod("clean", "Pending", 0, Some("ContainerCreating")),
            pod("clean", "Pending", 0, Some("ContainerCreating")),
            pod("backup", "Pending", 550, Some("ContainerCreating")),
            pod("backup", "Running", 0, None),
            pod("restore", "Pending", 0, None),
        ];
        let stuck = stuck_pods(pods.iter(), t(600), Duration::from_secs(600));
        let expected = Map::from([
            (("clean".to_string(), "ContainerCreating".to_string()), 2),
            (("restore".to_string(), "Pending".to_string()), 1),
        ]);
        assert_eq!(stuck, expected);
    }

    #[test]
    fn schedule_lag_is_creation_minus_tick_and_counts_once_per_backup() {
        assert_eq!(schedule_lag(&backup("a", None, Some(600), 612)), Some(12.0));
        assert_eq!(schedule_lag(&backup("b", None, None, 612)), None);
        let m = Metrics::new(t(0));
        let b = backup("a", None, Some(600), 612);
        m.saw_backup(&b);
        m.saw_backup(&b);
        m.saw_backup(&backup("old", None, Some(-600), -590));
        assert!(m.encode(t(700)).contains("backup_operator_schedule_lag_seconds_count 1\n"));
        m.forgot_backup(&b);
        assert!(m.lag_seen.lock().unwrap().is_empty());
    }

    #[test]
    fn errors_are_classed_by_the_api_error_that_caused_them() {
        let key = crate::cluster::ObjectKey::new("ns", "x");
        let cause =
            ClusterError::Conflict { kind: crate::cluster::Kind::Backup, key: key.clone(), message: "m".into() };
        let err = crate::controllers::backup::BackupError::Write { key, source: cause };
        assert_eq!(error_class(&err), "Conflict");
        let other = crate::controllers::backup::BackupError::NoProgress { key: Default::default(), steps: 3 };
        assert_eq!(error_class(&other), "Other");
    }

    #[test]
    fn the_exposition_names_every_metric_and_reads_the_caches_when_scraped() {
        let m = Metrics::new(t(0));
        let key = crate::cluster::ObjectKey::new("ns", "x");
        let cause = ClusterError::NotFound { kind: crate::cluster::Kind::Job, key: key.clone() };
        let err = crate::controllers::backup::BackupError::CreateJob { job: "backup-x".into(), source: cause };
        m.reconciled("backup", Duration::from_millis(20), None);
        m.reconciled("backup", Duration::from_millis(20), Some(&err));
        m.set_leader(true);
        let (backups, mut writer) = kube::runtime::reflector::store::<Backup>();
        writer.apply_watcher_event(&kube::runtime::watcher::Event::Apply(backup(
            "a",
            Some(BackupPhase::Running),
            None,
            0,
        )));
        let (pods, mut writer) = kube::runtime::reflector::store::<Pod>();
        writer.apply_watcher_event(&kube::runtime::watcher::Event::Apply({
            let mut p = pod("clean", "Pending", 0, Some("ContainerCreating"));
            p.metadata.name = Some("p".into());
            p.metadata.namespace = Some("ns".into());
            p
        }));
        m.set_sources(Sources {
            backups: Some(backups),
            pods: vec![pods],
            pod_start_timeout: Duration::from_secs(600),
        });
        let text = m.encode(t(601));
        for line in [
            "backup_operator_reconciles_total{controller=\"backup\"} 2",
            "backup_operator_reconcile_errors_total{controller=\"backup\",class=\"NotFound\"} 1",
            "backup_operator_reconcile_duration_seconds_count{controller=\"backup\"} 2",
            "backup_operator_backups{phase=\"Running\"} 1",
            "backup_operator_backups{phase=\"Complete\"} 0",
            "backup_operator_stuck_pods{component=\"clean\",reason=\"ContainerCreating\"} 1",
            "backup_operator_schedule_lag_seconds_count 0",
            "backup_operator_leader 1",
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
    }
}
