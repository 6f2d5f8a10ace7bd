//! RBAC coverage: the permissions the code really uses equal `runtime::rbac`'s tables, and the deploy manifests grant
//! exactly those tables.
//!
//! What the code uses is found by running it, not by reading a list:
//! 1. the backup, restore, compact and schedule reconcilers and backup-manager run through their lifecycles over a fake
//!    cluster that records every `Cluster` call (kind and verb, and each created object);
//! 2. each recorded kind of call is replayed through `KubeCluster` against a mocked API server, and the request it
//!    makes is turned into RBAC attributes (group, resource/subresource, verb) as the API server's authorizer does;
//!    creating an object whose ownerReference sets `blockOwnerDeletion` adds `update` on the owner's `finalizers`;
//! 3. the four controllers run against the mocked API server to record their list and watch requests;
//! 4. Events are published and the leader Lease is acquired and released against the mocked API server.
//!
//! A new API call in the code that the tables do not list fails `the_code_uses_exactly_the_operator_table`; a
//! permission the manifests lack (or grant beyond the tables) fails the manifest tests.

mod kube_support;
mod support;

use chrono::{DateTime, Utc};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::events::{Recorder, Reporter};
use operator::api::restore::{Restore, RestoreSpec};
use operator::api::storage::StorageLocation;
use operator::api::tools::BrConfig;
use operator::api::{Backup, BackupPhase, BackupSchedule, CleanPolicy, CompactBackup};
use operator::cluster::kube_cluster::{KubeCluster, Stores};
use operator::cluster::{
    Cluster, ClusterError, Deletion, Event, EventType, KeyRef, Kind, Labels, Object, ObjectKey, Precondition, Verb,
};
use operator::controllers::{Settings, backup, compact, restore, schedule};
use operator::manager::store::{BackupStore, StoreError};
use operator::manager::tool::{ProgressSink, Tool, ToolError, ToolJob, ToolReport};
use operator::runtime::controllers::{self as runtime_controllers, Shared};
use operator::runtime::leader::{LeaderConfig, Leadership};
use operator::runtime::metrics::Metrics;
use operator::runtime::rbac::{self, Permission};
use serde_json::{Value, json};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

use kube_support::{Attributes, MockApi, Reply, json_reply, status_reply, success_status};
use support::builders::{BackupBuilder, JobBuilder, NS, PodBuilder, ScheduleBuilder, br_template, compact_of, t};
use support::fake::{FakeCluster, block_on};

type Triple = (String, String, String);

fn triple(a: &Attributes) -> Triple {
    (a.group.clone(), a.resource.clone(), a.verb.clone())
}

fn table(t: &[Permission]) -> BTreeSet<Triple> {
    t.iter()
        .flat_map(|p| p.verbs.iter().map(|v| (p.group.to_string(), p.resource.to_string(), v.to_string())))
        .collect()
}

// ---- 1. the reconcilers and backup-manager over a recording fake ---------------------------------------------

/// A `Cluster` that records every API call (not cache reads) and each object created.
struct Recording<'a> {
    inner: &'a FakeCluster,
    calls: RefCell<BTreeSet<(Kind, Verb)>>,
    created: RefCell<Vec<Value>>,
}

impl<'a> Recording<'a> {
    fn new(inner: &'a FakeCluster) -> Self {
        Recording { inner, calls: RefCell::default(), created: RefCell::default() }
    }
    fn note(&self, kind: Kind, verb: Verb) {
        self.calls.borrow_mut().insert((kind, verb));
    }
}

impl Cluster for Recording<'_> {
    fn now(&self) -> DateTime<Utc> {
        self.inner.now()
    }
    fn cached<K: Object>(&self, key: KeyRef<'_>) -> Option<Arc<K>> {
        self.inner.cached(key)
    }
    fn cached_list<K: Object>(&self, namespace: &str, selector: &Labels) -> Vec<Arc<K>> {
        self.inner.cached_list(namespace, selector)
    }
    async fn get<K: Object>(&self, key: &ObjectKey) -> Result<Option<Arc<K>>, ClusterError> {
        self.note(K::KIND, Verb::Get);
        self.inner.get(key).await
    }
    async fn list<K: Object>(&self, namespace: &str, selector: &Labels) -> Result<Vec<Arc<K>>, ClusterError> {
        self.note(K::KIND, Verb::List);
        self.inner.list(namespace, selector).await
    }
    async fn create<K: Object>(&self, obj: Arc<K>) -> Result<Arc<K>, ClusterError> {
        self.note(K::KIND, Verb::Create);
        self.created.borrow_mut().push(serde_json::to_value(&*obj).unwrap());
        self.inner.create(obj).await
    }
    async fn replace<K: Object>(&self, obj: Arc<K>) -> Result<Arc<K>, ClusterError> {
        self.note(K::KIND, Verb::Update);
        self.inner.replace(obj).await
    }
    async fn replace_status<K: Object>(&self, obj: Arc<K>) -> Result<Arc<K>, ClusterError> {
        self.note(K::KIND, Verb::UpdateStatus);
        self.inner.replace_status(obj).await
    }
    async fn delete<K: Object>(&self, key: &ObjectKey, pre: &Precondition) -> Result<Deletion<K>, ClusterError> {
        self.note(K::KIND, Verb::Delete);
        self.inner.delete(key, pre).await
    }
    async fn publish(&self, event: Event) {
        self.inner.publish(event).await
    }
}

fn restore_fixture(name: &str) -> Restore {
    let mut r = Restore::new(
        name,
        RestoreSpec {
            br: Some(Box::new(BrConfig { cluster: "mycluster".into(), ..Default::default() })),
            storage: br_template().storage,
            ..Default::default()
        },
    );
    r.metadata.namespace = Some(NS.into());
    r.metadata.uid = Some(format!("uid-{name}"));
    r.metadata.resource_version = Some("1".into());
    r
}

/// The backup controller through creation, an adopted Job, deletion of a running Backup and the clean of a complete
/// one.
fn backup_lifecycle(rec: &Recording) {
    let settings = Settings::default();
    let fake = rec.inner;
    // A new Backup whose policy needs the finalizer: finalizer, Job, Scheduled.
    let fresh = BackupBuilder::new("fresh").clean_policy(CleanPolicy::Delete).build();
    fake.put(&fresh);
    block_on(backup::reconcile(rec, &settings, Arc::new(fresh))).unwrap();
    // Its Job exists already but the cache has not seen it: AlreadyExists, adopted by a live read.
    let adopt = BackupBuilder::new("adopt").build();
    fake.put(&adopt);
    fake.api_put(&JobBuilder::backup(&adopt, 0).uid("j-adopt").build());
    block_on(backup::reconcile(rec, &settings, Arc::new(adopt))).unwrap();
    // Deleted while its Job runs: the Job is deleted first.
    let running = BackupBuilder::new("running").clean_policy(CleanPolicy::Delete).finalizer().started(t(0));
    let running = running.phase(BackupPhase::Running).deleting(t(5)).build();
    fake.put(&running);
    let job = JobBuilder::backup(&running, 0).uid("j-running").build();
    fake.put(&job);
    block_on(backup::reconcile(rec, &settings, Arc::new(running))).unwrap();
    // A complete Backup deleted with policy Delete: re-read, confirm its pods are gone, run the clean Job.
    let done = BackupBuilder::new("done").clean_policy(CleanPolicy::Delete).finalizer().complete(t(1)).deleting(t(5));
    let done = done.build();
    fake.put(&done);
    let job = JobBuilder::backup(&done, 0).uid("j-done").succeeded().build();
    fake.put(&job);
    fake.put(&PodBuilder::of(&job, t(1)).phase("Succeeded").build());
    block_on(backup::reconcile(rec, &settings, Arc::new(done))).unwrap();
}

/// The schedule controller through a tick (live list, new Backup, status) and garbage collection.
fn schedule_lifecycle(rec: &Recording) {
    let fake = rec.inner;
    fake.now.set(t(125));
    let s = ScheduleBuilder::new("demo").max_backups(1).max_reserved_time(None).build();
    let old = BackupBuilder::scheduled(&s, t(100)).complete(t(105)).build();
    let newer = BackupBuilder::scheduled(&s, t(110)).complete(t(115)).build();
    fake.put(&s);
    fake.put(&old);
    fake.put(&newer);
    block_on(schedule::reconcile(rec, &Settings::default(), Arc::new(s))).unwrap();
}

/// A schedule that compacts every hour, its log started at 0, and a CompactBackup of it named `name` in `state`.
fn compacting_schedule() -> BackupSchedule {
    ScheduleBuilder::new("pitr").compaction("1h").log_recorded(t(0)).build()
}

fn compact_fixture_of(name: &str) -> CompactBackup {
    let mut c = compact_of(&compacting_schedule(), t(60), t(120), None);
    c.metadata.name = Some(name.into());
    c
}

/// The schedule controller compacting its log: a live list of its CompactBackups, an expired one deleted, the next
/// one created and named in the status.
fn schedule_compaction_lifecycle(rec: &Recording) {
    let fake = rec.inner;
    fake.now.set(t(6 * 60));
    let s = ScheduleBuilder::new("pitr").compaction("1h").log_recorded(t(0)).build();
    let log = BackupBuilder::schedule_log(&s, t(0)).build();
    let mut log = log;
    log.status.get_or_insert_with(Default::default).log_checkpoint_ts =
        Some(operator::api::tso::Tso::from_time(t(6 * 60)).0.to_string());
    fake.put(&s);
    fake.put(&log);
    fake.put(&compact_of(&s, t(0), t(60), Some("Complete")));
    block_on(schedule::reconcile(rec, &Settings::default(), Arc::new(s))).unwrap();
}

/// The compact controller: a new CompactBackup gets its Job; a failed Job fails the CompactBackup (re-read live);
/// a Failed one whose pod never started has its Job deleted, its pods listed first.
fn compact_lifecycle(rec: &Recording) {
    let fake = rec.inner;
    let settings = Settings::default();
    let s = compacting_schedule();
    let fresh = compact_of(&s, t(60), t(120), None);
    fake.put(&fresh);
    block_on(compact::reconcile(rec, &settings, Arc::new(fresh))).unwrap();
    let failing = compact_of(&s, t(120), t(180), Some("Running"));
    fake.put(&failing);
    fake.put(&JobBuilder::compact(&failing).failed().build());
    block_on(compact::reconcile(rec, &settings, Arc::new(failing))).unwrap();
    fake.now.set(t(600));
    let stuck = compact_of(&s, t(180), t(240), Some("Scheduled"));
    fake.put(&stuck);
    fake.put(&JobBuilder::compact(&stuck).uid("stuck-job").created(t(180)).build());
    block_on(compact::reconcile(rec, &settings, Arc::new(stuck.clone()))).unwrap();
    let name = stuck.metadata.name.clone().unwrap();
    let failed: CompactBackup = fake.api_get(NS, &name).expect("still there");
    fake.put(&failed);
    block_on(compact::reconcile(rec, &settings, Arc::new(failed))).unwrap();
}

/// The restore controller through its Job and a status write that conflicts (re-read live).
fn restore_lifecycle(rec: &Recording) {
    let fake = rec.inner;
    let r = restore_fixture("r1");
    fake.cache_put(&r);
    let mut newer = r.clone();
    newer.metadata.resource_version = Some("2".into());
    fake.api_put(&newer);
    block_on(restore::reconcile(rec, &Settings::default(), Arc::new(r))).unwrap();
}

struct Succeeds;
impl Tool for Succeeds {
    async fn pause(&self, _d: std::time::Duration) {}
    async fn run(&self, _job: &ToolJob, _progress: &ProgressSink) -> Result<ToolReport, ToolError> {
        Ok(ToolReport {
            size_bytes: Some(1),
            commit_ts: Some("1".into()),
            printed: Some("Cg==".into()),
            ..Default::default()
        })
    }
}
impl BackupStore for Succeeds {
    async fn delete_prefix(&self, _location: &StorageLocation) -> Result<u64, StoreError> {
        Ok(1)
    }
}

/// backup-manager's backup, restore and clean runs.
fn manager_lifecycle(rec: &Recording) {
    let fake = rec.inner;
    let b = BackupBuilder::new("m").build();
    fake.put(&b);
    let key = ObjectKey::new(NS, "m");
    block_on(operator::manager::backup(rec, &Succeeds, &key, Some(0))).unwrap();
    // clean runs only for a Backup being deleted.
    fake.put(
        &BackupBuilder::new("m")
            .complete(support::builders::t(1))
            .finalizer()
            .deleting(support::builders::t(2))
            .build(),
    );
    block_on(operator::manager::clean(rec, &Succeeds, &key)).unwrap();
    fake.put(&restore_fixture("mr"));
    block_on(operator::manager::restore(rec, &Succeeds, &ObjectKey::new(NS, "mr"))).unwrap();
    let c = compact_fixture_of("mc");
    fake.put(&c);
    block_on(operator::manager::compact(rec, &Succeeds, &ObjectKey::new(NS, "mc"))).unwrap();
}

struct Used {
    calls: BTreeSet<(Kind, Verb)>,
    created: Vec<Value>,
}

fn run(lifecycles: &[fn(&Recording)]) -> Used {
    let fake = FakeCluster::new(t(10));
    let rec = Recording::new(&fake);
    for l in lifecycles {
        l(&rec);
    }
    Used { calls: rec.calls.into_inner(), created: rec.created.into_inner() }
}

// ---- 2. each kind of call through KubeCluster and a mocked API server ----------------------------------------

fn fixture(kind: Kind) -> Value {
    let b = BackupBuilder::new("x").build();
    match kind {
        Kind::Backup => serde_json::to_value(&b).unwrap(),
        Kind::Restore => serde_json::to_value(restore_fixture("x")).unwrap(),
        Kind::BackupSchedule => serde_json::to_value(ScheduleBuilder::new("x").build()).unwrap(),
        Kind::CompactBackup => serde_json::to_value(compact_fixture_of("x")).unwrap(),
        Kind::Job => serde_json::to_value(JobBuilder::backup(&b, 0).build()).unwrap(),
        Kind::Pod => serde_json::to_value(PodBuilder::of(&JobBuilder::backup(&b, 0).build(), t(0)).build()).unwrap(),
    }
}

/// Answers like an API server that holds one object of each kind.
fn plausible(r: &kube_support::Recorded) -> Reply {
    let a = r.attributes();
    match a.verb.as_str() {
        "get" => {
            let kind = match a.resource.as_str() {
                "backups" => Kind::Backup,
                "restores" => Kind::Restore,
                "backupschedules" => Kind::BackupSchedule,
                "compactbackups" => Kind::CompactBackup,
                "jobs" => Kind::Job,
                _ => Kind::Pod,
            };
            json_reply(200, fixture(kind))
        }
        "list" => json_reply(
            200,
            json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": "1"}, "items": []}),
        ),
        "create" | "update" => json_reply(200, r.body.clone()),
        "delete" => json_reply(200, success_status()),
        _ => status_reply(405, "MethodNotAllowed", "unexpected"),
    }
}

async fn replay_as<K: Object>(cluster: &KubeCluster, verb: Verb) {
    let obj: K = serde_json::from_value(fixture(K::KIND)).unwrap();
    let key = ObjectKey::of(&obj);
    let result = match verb {
        Verb::Get => cluster.get::<K>(&key).await.map(drop),
        Verb::List => cluster.list::<K>(NS, &Labels::new()).await.map(drop),
        Verb::Create => cluster.create(Arc::new(obj.clone())).await.map(drop),
        Verb::Update => cluster.replace(Arc::new(obj.clone())).await.map(drop),
        Verb::UpdateStatus => cluster.replace_status(Arc::new(obj.clone())).await.map(drop),
        Verb::Delete => cluster.delete::<K>(&key, &Precondition::default()).await.map(drop),
    };
    result.unwrap_or_else(|e| panic!("{} {verb}: {e}", K::KIND));
}

/// The RBAC attributes of one `Cluster` call as `KubeCluster` makes it.
async fn attributes_of(kind: Kind, verb: Verb) -> Vec<Triple> {
    let api = MockApi::serve(plausible);
    let cluster = KubeCluster::live(api.client.clone());
    match kind {
        Kind::Backup => replay_as::<Backup>(&cluster, verb).await,
        Kind::Restore => replay_as::<Restore>(&cluster, verb).await,
        Kind::BackupSchedule => replay_as::<BackupSchedule>(&cluster, verb).await,
        Kind::CompactBackup => replay_as::<CompactBackup>(&cluster, verb).await,
        Kind::Job => replay_as::<Job>(&cluster, verb).await,
        Kind::Pod => replay_as::<Pod>(&cluster, verb).await,
    }
    api.recorded().iter().map(|r| triple(&r.attributes())).collect()
}

/// `update` on `<owner plural>/finalizers` for each created object whose ownerReference blocks owner deletion.
fn owner_finalizer_permissions(created: &[Value]) -> BTreeSet<Triple> {
    let mut out = BTreeSet::new();
    for obj in created {
        for owner in obj["metadata"]["ownerReferences"].as_array().into_iter().flatten() {
            if owner["blockOwnerDeletion"] == true {
                let kind = Kind::parse(owner["kind"].as_str().unwrap()).expect("an owner of ours");
                let (group, plural) = rbac::resource_of(kind);
                out.insert((group.into(), format!("{plural}/finalizers"), "update".into()));
            }
        }
    }
    out
}

async fn permissions_of(used: &Used) -> BTreeSet<Triple> {
    let mut out = BTreeSet::new();
    for (kind, verb) in &used.calls {
        let attrs = attributes_of(*kind, *verb).await;
        assert_eq!(attrs.len(), 1, "{kind} {verb} makes exactly one request");
        let (g, r, v) = rbac::needed(*kind, *verb);
        assert_eq!(attrs[0], (g.to_string(), r, v.to_string()), "rbac::needed({kind}, {verb}) matches the request");
        out.extend(attrs);
    }
    out.extend(owner_finalizer_permissions(&used.created));
    out
}

// ---- 3. the controllers' watches -----------------------------------------------------------------------------

fn list_reply(r: &kube_support::Recorded) -> Reply {
    let a = r.attributes();
    match a.verb.as_str() {
        "list" => json_reply(
            200,
            json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": "1"}, "items": []}),
        ),
        "watch" => Reply::Hold,
        _ => status_reply(405, "MethodNotAllowed", "unexpected"),
    }
}

/// Runs the four controllers against the mock until each of their twelve caches has listed and is watching, then
/// stops them; returns the requests' attributes.
async fn controller_requests() -> Vec<kube_support::Recorded> {
    let api = MockApi::serve(list_reply);
    let shared = Shared {
        client: api.client.clone(),
        namespace: None,
        settings: Settings::default(),
        concurrency: 2,
        metrics: Arc::new(Metrics::new(Utc::now())),
        reporter: Reporter { controller: "backup-operator".into(), instance: Some("test".into()) },
        clock: None,
    };
    let stop = CancellationToken::new();
    let running = runtime_controllers::start(&shared, stop.clone());
    let task = tokio::spawn(running.controllers);
    tokio::time::timeout(Duration::from_secs(20), running.synced).await.expect("every cache lists");
    let watching = || api.recorded().iter().filter(|r| r.attributes().verb == "watch").count();
    for _ in 0..200 {
        if watching() >= 12 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(watching(), 12, "twelve watches: {:#?}", api.recorded());
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(10), task).await.expect("graceful stop").unwrap();
    api.recorded()
}

// ---- 4. Events and the leader Lease --------------------------------------------------------------------------

async fn event_requests() -> Vec<Triple> {
    let api = MockApi::serve(|r| json_reply(200, r.body.clone()));
    let recorder = Recorder::new(api.client.clone(), Reporter { controller: "backup-operator".into(), instance: None });
    let cluster = KubeCluster::new(api.client.clone(), Stores::default(), Some(recorder));
    let event = Event::about(&BackupBuilder::new("x").build(), EventType::Warning, "CleanFailed", "again");
    cluster.publish(event.clone()).await;
    cluster.publish(event).await;
    api.recorded().iter().map(|r| triple(&r.attributes())).collect()
}

/// A mock Lease API: one Lease, created on demand, patched by merging `spec`.
fn lease_api() -> MockApi {
    let lease: Mutex<Option<Value>> = Mutex::new(None);
    MockApi::serve(move |r| {
        let mut lease = lease.lock().unwrap();
        let verb = r.attributes().verb;
        match (verb.as_str(), lease.as_mut()) {
            ("get", None) => status_reply(404, "NotFound", "leases.coordination.k8s.io \"backup-operator\" not found"),
            ("get", Some(l)) => json_reply(200, l.clone()),
            ("create", _) => {
                let mut l = r.body.clone();
                l["metadata"]["namespace"] = json!("backup-operator");
                l["metadata"]["resourceVersion"] = json!("1");
                *lease = Some(l.clone());
                json_reply(201, l)
            }
            ("patch", Some(l)) => {
                let spec = l["spec"].as_object().cloned().unwrap_or_default();
                let mut spec = spec;
                for (k, v) in r.body["spec"].as_object().cloned().unwrap_or_default() {
                    if v.is_null() {
                        spec.remove(&k);
                    } else {
                        spec.insert(k, v);
                    }
                }
                l["spec"] = Value::Object(spec);
                json_reply(200, l.clone())
            }
            _ => status_reply(405, "MethodNotAllowed", "unexpected"),
        }
    })
}

async fn lease_requests() -> Vec<Triple> {
    let api = lease_api();
    let config = LeaderConfig {
        lease_name: "backup-operator".into(),
        namespace: "backup-operator".into(),
        identity: "replica-a".into(),
        duration: Duration::from_secs(15),
    };
    let mut leadership = Leadership::start(api.client.clone(), config).await.unwrap();
    tokio::time::timeout(Duration::from_secs(20), leadership.acquired()).await.expect("acquired in time").unwrap();
    leadership.release(Duration::from_secs(10)).await;
    let reqs = api.recorded();
    let last_patch = reqs.iter().rev().find(|r| r.method == "PATCH").unwrap();
    assert!(last_patch.body["spec"]["holderIdentity"].is_null(), "the release clears the holder");
    reqs.iter().map(|r| triple(&r.attributes())).collect()
}

// ---- the claims ----------------------------------------------------------------------------------------------

fn show(set: &BTreeSet<Triple>) -> String {
    set.iter().map(|(g, r, v)| format!("{v} {r}.{g}")).collect::<Vec<_>>().join(", ")
}

/// `actual` (what `what` uses or grants) must equal `expected` (a table).
fn assert_same(actual: &BTreeSet<Triple>, expected: &BTreeSet<Triple>, what: &str) {
    let missing: BTreeSet<_> = actual.difference(expected).cloned().collect();
    let unused: BTreeSet<_> = expected.difference(actual).cloned().collect();
    assert!(
        missing.is_empty() && unused.is_empty(),
        "{what}: not in the table: [{}]; in the table but not in {what}: [{}]",
        show(&missing),
        show(&unused)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_code_uses_exactly_the_operator_table() {
    let used = run(&[
        backup_lifecycle,
        schedule_lifecycle,
        schedule_compaction_lifecycle,
        restore_lifecycle,
        compact_lifecycle,
    ]);
    let mut perms = permissions_of(&used).await;
    let requests = controller_requests().await;
    perms.extend(requests.iter().map(|r| triple(&r.attributes())));
    perms.extend(event_requests().await);
    assert_same(&perms, &table(rbac::OPERATOR), "the controllers' requests");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_manager_uses_exactly_the_manager_table() {
    let used = run(&[manager_lifecycle]);
    assert_same(&permissions_of(&used).await, &table(rbac::MANAGER), "backup-manager's requests");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_election_uses_exactly_the_lease_table() {
    let used: BTreeSet<Triple> = lease_requests().await.into_iter().collect();
    assert_same(&used, &table(rbac::LEADER_ELECTION), "leader election's requests");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watches_select_only_the_operators_objects() {
    let requests = controller_requests().await;
    let mut selectors: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in requests.iter().filter(|r| r.attributes().verb == "list") {
        let sel = r.param("labelSelector").unwrap_or_default();
        selectors.entry(r.attributes().resource).or_default().insert(sel);
    }
    let set = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    let managed = "app.kubernetes.io/managed-by=backup-operator";
    assert_eq!(selectors["backups"], set(&["", "tidb.pingcap.com/backup-schedule"]));
    assert_eq!(selectors["restores"], set(&[""]));
    assert_eq!(selectors["backupschedules"], set(&[""]));
    assert_eq!(selectors["compactbackups"], set(&["", "tidb.pingcap.com/backup-schedule"]));
    let jobs = set(&[
        &format!("{managed},app.kubernetes.io/component in (backup,clean)"),
        &format!("{managed},app.kubernetes.io/component in (restore)"),
        &format!("{managed},app.kubernetes.io/component in (compact)"),
    ]);
    assert_eq!(selectors["jobs"], jobs);
    assert_eq!(selectors["pods"], jobs);
}

// ---- the manifests grant exactly the tables ------------------------------------------------------------------

fn deploy_documents(file: &str) -> Vec<Value> {
    let path = format!("{}/deploy/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_saphyr::from_multiple::<Value>(&text).unwrap().into_iter().filter(|v| !v.is_null()).collect()
}

fn granted(kind: &str, name: &str) -> BTreeSet<Triple> {
    let docs: Vec<Value> = ["rbac.yaml", "manager-rbac.yaml"].iter().flat_map(|f| deploy_documents(f)).collect();
    let role = docs
        .iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in operator/deploy"));
    let mut out = BTreeSet::new();
    for rule in role["rules"].as_array().unwrap() {
        let list = |f: &str| -> Vec<String> {
            rule[f].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
        };
        assert!(rule.get("resourceNames").is_none() && rule.get("nonResourceURLs").is_none(), "{name}: {rule}");
        for g in list("apiGroups") {
            for r in list("resources") {
                for v in list("verbs") {
                    assert!(!g.contains('*') && !r.contains('*') && v != "*", "{kind} {name} grants a wildcard");
                    assert!(out.insert((g.clone(), r.clone(), v)), "{kind} {name} repeats a permission");
                }
            }
        }
    }
    out
}

#[test]
fn the_operator_cluster_role_grants_exactly_the_operator_table() {
    assert_same(&granted("ClusterRole", "backup-operator"), &table(rbac::OPERATOR), "ClusterRole backup-operator");
}

#[test]
fn the_leader_election_role_grants_exactly_the_lease_table() {
    let role = granted("Role", "backup-operator-leader-election");
    assert_same(&role, &table(rbac::LEADER_ELECTION), "Role backup-operator-leader-election");
}

#[test]
fn the_manager_cluster_role_grants_exactly_the_manager_table() {
    assert_same(&granted("ClusterRole", "backup-manager"), &table(rbac::MANAGER), "ClusterRole backup-manager");
}
