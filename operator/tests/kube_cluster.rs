//! `KubeCluster` against a mocked API server: the request each `Cluster` method makes, how each response maps
//! back, and how every class of API and transport error maps to `ClusterError`.

mod kube_support;
mod support;

use chrono::{TimeZone, Utc};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector;
use kube::runtime::watcher;
use operator::api::Backup;
use operator::cluster::kube_cluster::{KubeCluster, Stores};
use operator::cluster::{
    Cluster, ClusterError, Deletion, Event, EventType, KeyRef, Kind, Labels, ObjectKey, Precondition, Verb,
};
use serde_json::{Value, json};
use std::sync::Arc;

use kube_support::{
    Attributes, MockApi, Recorded, Reply, json_reply, status_json, status_reply, success_status, text_reply,
};
use support::builders::{BackupBuilder, JobBuilder, NS, PodBuilder, t};

const BACKUPS: &str = "/apis/pingcap.com/v1alpha1/namespaces/test1/backups";

fn backup() -> Backup {
    BackupBuilder::new("demo").build()
}

fn key() -> ObjectKey {
    ObjectKey::new(NS, "demo")
}

fn value<T: serde::Serialize>(obj: &T) -> Value {
    serde_json::to_value(obj).unwrap()
}

fn live(api: &MockApi) -> KubeCluster {
    KubeCluster::live(api.client.clone())
}

#[test]
fn request_attributes_follow_the_api_servers_request_info() {
    let rec = |method: &str, path: &str, query: &str| Recorded {
        method: method.into(),
        path: path.into(),
        query: query.into(),
        body: Value::Null,
    };
    let a = |g: &str, r: &str, v: &str| Attributes { group: g.into(), resource: r.into(), verb: v.into() };
    assert_eq!(rec("GET", "/api/v1/namespaces/x/pods", "").attributes(), a("", "pods", "list"));
    assert_eq!(rec("GET", "/api/v1/pods", "watch=true&resourceVersion=1").attributes(), a("", "pods", "watch"));
    assert_eq!(
        rec("PUT", "/apis/pingcap.com/v1alpha1/namespaces/x/backups/b/status", "").attributes(),
        a("pingcap.com", "backups/status", "update")
    );
    assert_eq!(rec("DELETE", "/apis/batch/v1/namespaces/x/jobs/j", "").attributes(), a("batch", "jobs", "delete"));
    assert_eq!(rec("GET", "/", "labelSelector=a%3Db%2Cc").param("labelSelector").as_deref(), Some("a=b,c"));
}

// ---- reads -------------------------------------------------------------------------------------------------

#[tokio::test]
async fn get_reads_one_object_live_by_its_path() {
    let stored = backup();
    let body = value(&stored);
    let api = MockApi::serve(move |_| json_reply(200, body.clone()));
    let got = live(&api).get::<Backup>(&key()).await.unwrap();
    assert_eq!(got.as_deref(), Some(&stored));
    let req = api.only();
    assert_eq!((req.method.as_str(), req.path.as_str()), ("GET", &*format!("{BACKUPS}/demo")));
    assert_eq!(req.param("resourceVersion"), None, "a live read is a quorum read");
}

#[tokio::test]
async fn get_of_a_missing_object_is_none_not_an_error() {
    let api = MockApi::serve(|_| status_reply(404, "NotFound", "backups.pingcap.com \"demo\" not found"));
    assert_eq!(live(&api).get::<Backup>(&key()).await, Ok(None));
}

#[tokio::test]
async fn get_from_an_unserved_resource_path_is_an_error_not_absence() {
    let api = MockApi::serve(|_| text_reply(404, "404 page not found"));
    let err = live(&api).get::<Backup>(&key()).await.unwrap_err();
    assert_eq!(err, ClusterError::NotFound { kind: Kind::Backup, key: key() });
}

#[tokio::test]
async fn list_is_a_quorum_read_with_the_selector_sorted_by_name() {
    let job = |name: &str| {
        let mut j = JobBuilder::backup(&backup(), 0).build();
        j.metadata.name = Some(name.into());
        value(&j)
    };
    let items = vec![job("b"), job("a"), job("c")];
    let api = MockApi::serve(move |_| {
        json_reply(
            200,
            json!({"apiVersion": "batch/v1", "kind": "JobList", "metadata": {"resourceVersion": "9"}, "items": items}),
        )
    });
    let selector = Labels::from([("app.kubernetes.io/component".into(), "backup".into()), ("x".into(), "y".into())]);
    let jobs = live(&api).list::<Job>(NS, &selector).await.unwrap();
    let names: Vec<_> = jobs.iter().map(|j| j.metadata.name.clone().unwrap()).collect();
    assert_eq!(names, ["a", "b", "c"]);
    let req = api.only();
    assert_eq!((req.method.as_str(), req.path.as_str()), ("GET", "/apis/batch/v1/namespaces/test1/jobs"));
    assert_eq!(req.param("labelSelector").as_deref(), Some("app.kubernetes.io/component=backup,x=y"));
    assert_eq!(req.param("resourceVersion"), None, "a live list is a quorum read");
}

#[tokio::test]
async fn list_with_an_empty_selector_sends_no_selector() {
    let api = MockApi::serve(|_| {
        json_reply(200, json!({"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": []}))
    });
    assert_eq!(live(&api).list::<Pod>(NS, &Labels::new()).await.unwrap(), vec![]);
    let req = api.only();
    assert_eq!(req.path, "/api/v1/namespaces/test1/pods");
    assert_eq!(req.param("labelSelector"), None);
}

#[tokio::test]
async fn cache_reads_come_from_the_stores_only_by_namespace_and_selector_sorted() {
    let api = MockApi::serve(|_| panic!("cache reads make no request"));
    let (jobs, mut job_writer) = reflector::store::<Job>();
    let (pods, mut pod_writer) = reflector::store::<Pod>();
    let b = backup();
    let job = JobBuilder::backup(&b, 0).build();
    job_writer.apply_watcher_event(&watcher::Event::Apply(job.clone()));
    let mut other_ns = JobBuilder::clean(&b).build();
    other_ns.metadata.namespace = Some("elsewhere".into());
    job_writer.apply_watcher_event(&watcher::Event::Apply(other_ns));
    for name in ["p2", "p1"] {
        let mut p = PodBuilder::of(&job, t(0)).build();
        p.metadata.name = Some(name.into());
        pod_writer.apply_watcher_event(&watcher::Event::Apply(p));
    }
    let cluster =
        KubeCluster::new(api.client.clone(), Stores { jobs: Some(jobs), pods: Some(pods), ..Stores::default() }, None);

    let cached: Option<Arc<Job>> = cluster.cached(KeyRef::new(NS, "backup-demo"));
    assert_eq!(cached.as_deref(), Some(&job));
    assert_eq!(cluster.cached::<Job>(KeyRef::new(NS, "clean-demo")), None, "another namespace");
    let selector = Labels::from([("app.kubernetes.io/component".into(), "backup".into())]);
    let names: Vec<_> =
        cluster.cached_list::<Pod>(NS, &selector).iter().map(|p| p.metadata.name.clone().unwrap()).collect();
    assert_eq!(names, ["p1", "p2"]);
    let none = Labels::from([("app.kubernetes.io/component".into(), "clean".into())]);
    assert!(cluster.cached_list::<Pod>(NS, &none).is_empty());
    assert_eq!(cluster.cached::<Backup>(key().borrowed()), None, "no Backup store: the cache is empty");
    assert!(cluster.cached_list::<Backup>(NS, &Labels::new()).is_empty());
    assert!(api.recorded().is_empty());
}

#[tokio::test]
async fn now_comes_from_the_injected_clock() {
    let api = MockApi::serve(|_| panic!("no request"));
    let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 10, 0).unwrap();
    let cluster = live(&api).with_clock(Arc::new(move || at));
    assert_eq!(cluster.now(), at);
}

// ---- writes ------------------------------------------------------------------------------------------------

#[tokio::test]
async fn create_posts_the_object_and_returns_the_servers_copy() {
    let job = JobBuilder::backup(&backup(), 0).build();
    let mut created = job.clone();
    created.metadata.uid = Some("server-uid".into());
    created.metadata.resource_version = Some("11".into());
    let body = value(&created);
    let api = MockApi::serve(move |_| json_reply(201, body.clone()));
    let got = live(&api).create(Arc::new(job.clone())).await.unwrap();
    assert_eq!(*got, created);
    let req = api.only();
    assert_eq!((req.method.as_str(), req.path.as_str()), ("POST", "/apis/batch/v1/namespaces/test1/jobs"));
    assert_eq!(req.body, value(&job));
}

#[tokio::test]
async fn replace_puts_the_object_conditional_on_its_resource_version() {
    let mut b = backup();
    b.metadata.resource_version = Some("7".into());
    b.metadata.finalizers = Some(vec!["tidb.pingcap.com/backup-protection".into()]);
    let mut updated = b.clone();
    updated.metadata.resource_version = Some("8".into());
    let body = value(&updated);
    let api = MockApi::serve(move |_| json_reply(200, body.clone()));
    assert_eq!(*live(&api).replace(Arc::new(b.clone())).await.unwrap(), updated);
    let req = api.only();
    assert_eq!((req.method.as_str(), req.path.as_str()), ("PUT", &*format!("{BACKUPS}/demo")));
    assert_eq!(req.body["metadata"]["resourceVersion"], "7");
    assert_eq!(req.body["metadata"]["finalizers"], json!(["tidb.pingcap.com/backup-protection"]));
}

#[tokio::test]
async fn replace_status_puts_to_the_status_subresource() {
    let b = BackupBuilder::new("demo").complete(t(5)).build();
    let body = value(&b);
    let api = MockApi::serve(move |_| json_reply(200, body.clone()));
    assert_eq!(*live(&api).replace_status(Arc::new(b.clone())).await.unwrap(), b);
    let req = api.only();
    assert_eq!((req.method.as_str(), req.path.as_str()), ("PUT", &*format!("{BACKUPS}/demo/status")));
    assert_eq!(req.body["status"]["phase"], "Complete");
    assert_eq!(req.body["metadata"]["resourceVersion"], "1");
}

#[tokio::test]
async fn updates_without_a_resource_version_are_refused_before_any_request() {
    let api = MockApi::serve(|_| panic!("an unconditional update must not be sent"));
    let mut b = backup();
    b.metadata.resource_version = None;
    let cluster = live(&api);
    for result in [cluster.replace(Arc::new(b.clone())).await, cluster.replace_status(Arc::new(b.clone())).await] {
        assert!(matches!(result, Err(ClusterError::Invalid { kind: Kind::Backup, .. })), "{result:?}");
    }
    assert!(api.recorded().is_empty());
}

#[tokio::test]
async fn delete_sends_background_propagation_and_the_preconditions() {
    let api = MockApi::serve(|_| json_reply(200, success_status()));
    let pre = Precondition { uid: Some("job-0".into()), resource_version: Some("5".into()) };
    let gone = live(&api).delete::<Job>(&ObjectKey::new(NS, "backup-demo"), &pre).await.unwrap();
    assert_eq!(gone, Deletion::Gone);
    let req = api.only();
    assert_eq!(
        (req.method.as_str(), req.path.as_str()),
        ("DELETE", "/apis/batch/v1/namespaces/test1/jobs/backup-demo")
    );
    assert_eq!(req.body["propagationPolicy"], "Background");
    assert_eq!(req.body["preconditions"], json!({"uid": "job-0", "resourceVersion": "5"}));
}

#[tokio::test]
async fn delete_without_preconditions_sends_none() {
    let api = MockApi::serve(|_| json_reply(200, success_status()));
    live(&api).delete::<Job>(&ObjectKey::new(NS, "backup-demo"), &Precondition::default()).await.unwrap();
    assert_eq!(api.only().body.get("preconditions"), None);
}

#[tokio::test]
async fn delete_of_an_object_with_finalizers_is_pending_with_its_deletion_timestamp() {
    // The API server answers 202 with the object, which stays until its finalizers are removed.
    let staying = BackupBuilder::new("demo").finalizer().deleting(t(3)).build();
    let body = value(&staying);
    let api = MockApi::serve(move |_| json_reply(202, body.clone()));
    let result = live(&api).delete::<Backup>(&key(), &Precondition::default()).await.unwrap();
    assert_eq!(result, Deletion::Pending(staying));
}

#[tokio::test]
async fn delete_answered_with_the_deleted_object_or_a_status_is_gone() {
    // Custom resources return the deleted object; Jobs return a Status.
    let deleted = value(&backup());
    let api = MockApi::serve(move |_| json_reply(200, deleted.clone()));
    assert_eq!(live(&api).delete::<Backup>(&key(), &Precondition::default()).await, Ok(Deletion::Gone));
    let api = MockApi::serve(|_| json_reply(200, success_status()));
    assert_eq!(live(&api).delete::<Backup>(&key(), &Precondition::default()).await, Ok(Deletion::Gone));
}

// ---- events ------------------------------------------------------------------------------------------------

fn recorder(api: &MockApi) -> Recorder {
    Recorder::new(api.client.clone(), Reporter { controller: "backup-operator".into(), instance: Some("pod-1".into()) })
}

#[tokio::test]
async fn publish_creates_an_event_regarding_the_object_then_patches_its_series() {
    let api = MockApi::serve(|r| json_reply(if r.method == "POST" { 201 } else { 200 }, r.body.clone()));
    let cluster = KubeCluster::new(api.client.clone(), Stores::default(), Some(recorder(&api)));
    let event = Event::about(&backup(), EventType::Warning, "CleanFailed", "clean Job clean-demo failed");
    cluster.publish(event.clone()).await;
    cluster.publish(event).await;
    let reqs = api.recorded();
    assert_eq!(reqs.len(), 2);
    let (first, second) = (&reqs[0], &reqs[1]);
    assert_eq!(
        (first.method.as_str(), first.path.as_str()),
        ("POST", "/apis/events.k8s.io/v1/namespaces/test1/events")
    );
    let e = &first.body;
    assert_eq!(
        e["regarding"],
        json!({"apiVersion": "pingcap.com/v1alpha1", "kind": "Backup", "namespace": "test1", "name": "demo", "uid": "uid-demo"})
    );
    assert_eq!((e["type"].as_str(), e["reason"].as_str()), (Some("Warning"), Some("CleanFailed")));
    assert_eq!(e["note"], "clean Job clean-demo failed");
    assert_eq!(
        (e["reportingController"].as_str(), e["reportingInstance"].as_str()),
        (Some("backup-operator"), Some("pod-1"))
    );
    let name = e["metadata"]["name"].as_str().unwrap();
    assert_eq!(second.method, "PATCH");
    assert_eq!(second.path, format!("/apis/events.k8s.io/v1/namespaces/test1/events/{name}"));
    assert_eq!(second.body["series"]["count"], 2);
}

#[tokio::test]
async fn publish_cuts_long_notes_to_the_events_limit() {
    let api = MockApi::serve(|r| json_reply(201, r.body.clone()));
    let cluster = KubeCluster::new(api.client.clone(), Stores::default(), Some(recorder(&api)));
    cluster.publish(Event::about(&backup(), EventType::Warning, "BackupFailed", "é".repeat(2000))).await;
    assert!(api.only().body["note"].as_str().unwrap().len() <= 1024);
}

#[tokio::test]
async fn publish_failures_are_swallowed_and_without_a_recorder_nothing_is_sent() {
    let api = MockApi::serve(|_| status_reply(403, "Forbidden", "events.events.k8s.io is forbidden"));
    let cluster = KubeCluster::new(api.client.clone(), Stores::default(), Some(recorder(&api)));
    cluster.publish(Event::about(&backup(), EventType::Normal, "Scheduled", "created Job backup-demo")).await;
    assert_eq!(api.recorded().len(), 1);
    let quiet = MockApi::serve(|_| panic!("no recorder, no request"));
    live(&quiet).publish(Event::about(&backup(), EventType::Normal, "Scheduled", "created Job backup-demo")).await;
    assert!(quiet.recorded().is_empty());
}

// ---- every method x every error class ----------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum Method {
    Get,
    List,
    Create,
    Replace,
    ReplaceStatus,
    Delete,
}

const METHODS: [Method; 6] =
    [Method::Get, Method::List, Method::Create, Method::Replace, Method::ReplaceStatus, Method::Delete];

impl Method {
    fn verb(self) -> Verb {
        match self {
            Method::Get => Verb::Get,
            Method::List => Verb::List,
            Method::Create => Verb::Create,
            Method::Replace => Verb::Update,
            Method::ReplaceStatus => Verb::UpdateStatus,
            Method::Delete => Verb::Delete,
        }
    }

    fn key(self) -> ObjectKey {
        match self {
            Method::List => ObjectKey::new(NS, ""),
            _ => key(),
        }
    }

    async fn call(self, cluster: &KubeCluster) -> Result<(), ClusterError> {
        let b = backup();
        match self {
            Method::Get => cluster.get::<Backup>(&key()).await.map(drop),
            Method::List => cluster.list::<Backup>(NS, &Labels::new()).await.map(drop),
            Method::Create => cluster.create(Arc::new(b.clone())).await.map(drop),
            Method::Replace => cluster.replace(Arc::new(b.clone())).await.map(drop),
            Method::ReplaceStatus => cluster.replace_status(Arc::new(b.clone())).await.map(drop),
            Method::Delete => cluster.delete::<Backup>(&key(), &Precondition::default()).await.map(drop),
        }
    }
}

/// The error class a response must map to, with the verb for the classes that carry one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    NotFound,
    AlreadyExists,
    Conflict,
    Invalid,
    Forbidden,
    Transient,
}

fn terminating() -> Reply {
    let mut s = status_json(
        403,
        "Forbidden",
        "jobs.batch \"clean-demo\" is forbidden: unable to create new content in namespace test1 because it is being terminated",
    );
    s["details"] = json!({"name": "clean-demo", "group": "batch", "kind": "jobs",
                          "causes": [{"reason": "NamespaceTerminating", "message": "namespace test1 is being terminated", "field": "metadata.namespace"}]});
    json_reply(403, s)
}

/// One error response: its name, how the mock answers, the class it must map to.
type Case = (&'static str, fn() -> Reply, Expect);

fn cases() -> Vec<Case> {
    vec![
        ("404 NotFound", || status_reply(404, "NotFound", "backups.pingcap.com \"demo\" not found"), Expect::NotFound),
        ("404 without a Status", || text_reply(404, "404 page not found"), Expect::NotFound),
        (
            "409 AlreadyExists",
            || status_reply(409, "AlreadyExists", "backups.pingcap.com \"demo\" already exists"),
            Expect::AlreadyExists,
        ),
        (
            "409 Conflict",
            || {
                status_reply(
                    409,
                    "Conflict",
                    "the object has been modified; please apply your changes to the latest version and try again",
                )
            },
            Expect::Conflict,
        ),
        (
            "422 Invalid",
            || status_reply(422, "Invalid", "Backup.pingcap.com \"demo\" is invalid: spec.br: Required value"),
            Expect::Invalid,
        ),
        (
            "400 BadRequest",
            || status_reply(400, "BadRequest", "the body of the request was in an unknown format"),
            Expect::Invalid,
        ),
        ("403 namespace terminating", terminating, Expect::Forbidden),
        (
            "403 RBAC denial",
            || {
                status_reply(
                    403,
                    "Forbidden",
                    "backups.pingcap.com is forbidden: User \"system:serviceaccount:x:y\" cannot create resource",
                )
            },
            Expect::Transient,
        ),
        ("401 Unauthorized", || status_reply(401, "Unauthorized", "Unauthorized"), Expect::Transient),
        ("429 TooManyRequests", || status_reply(429, "TooManyRequests", "too many requests"), Expect::Transient),
        ("500 InternalError", || status_reply(500, "InternalError", "etcdserver: leader changed"), Expect::Transient),
        ("503 from a proxy", || text_reply(503, "upstream connect error"), Expect::Transient),
        (
            "504 Timeout",
            || status_reply(504, "Timeout", "the server was unable to return a response in the time allotted"),
            Expect::Transient,
        ),
        (
            "connection refused",
            || Reply::Fail(std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused")),
            Expect::Transient,
        ),
        (
            "request timed out",
            || Reply::Fail(std::io::Error::new(std::io::ErrorKind::TimedOut, "operation timed out")),
            Expect::Transient,
        ),
    ]
}

fn class_of(err: &ClusterError, method: Method) -> Expect {
    let (kind, key, verb) = match err {
        ClusterError::NotFound { kind, key } => (*kind, key, None),
        ClusterError::AlreadyExists { kind, key } => (*kind, key, None),
        ClusterError::Conflict { kind, key, .. } => (*kind, key, None),
        ClusterError::Invalid { kind, key, .. } => (*kind, key, None),
        ClusterError::Forbidden { verb, kind, key, .. } => (*kind, key, Some(*verb)),
        ClusterError::Transient { verb, kind, key, .. } => (*kind, key, Some(*verb)),
    };
    assert_eq!(kind, Kind::Backup, "{method:?}: {err}");
    assert_eq!(key, &method.key(), "{method:?}: {err}");
    if let Some(verb) = verb {
        assert_eq!(verb, method.verb(), "{method:?}: {err}");
    }
    match err {
        ClusterError::NotFound { .. } => Expect::NotFound,
        ClusterError::AlreadyExists { .. } => Expect::AlreadyExists,
        ClusterError::Conflict { .. } => Expect::Conflict,
        ClusterError::Invalid { .. } => Expect::Invalid,
        ClusterError::Forbidden { .. } => Expect::Forbidden,
        ClusterError::Transient { .. } => Expect::Transient,
    }
}

#[tokio::test]
async fn every_method_maps_every_error_class() {
    let mut failures = Vec::new();
    for method in METHODS {
        for (name, reply, expect) in cases() {
            let api = MockApi::serve(move |_| reply());
            let result = method.call(&live(&api)).await;
            assert_eq!(api.recorded().len(), 1, "{method:?} / {name}: one request, no retries");
            let got = match (&result, method, expect) {
                // A live read of an object the API server says does not exist is absence, not an error.
                (Ok(()), Method::Get, Expect::NotFound) if name == "404 NotFound" => continue,
                (Ok(()), ..) => None,
                (Err(e), ..) => Some(class_of(e, method)),
            };
            if got != Some(expect) {
                failures.push(format!("{method:?} / {name}: expected {expect:?}, got {result:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn transient_errors_keep_the_cause_in_the_message() {
    let api = MockApi::serve(|_| status_reply(500, "InternalError", "etcdserver: leader changed"));
    let err = live(&api).create(Arc::new(backup())).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "create Backup test1/demo failed (it may or may not have applied): HTTP 500 InternalError: etcdserver: leader changed"
    );
    let api = MockApi::serve(|_| {
        Reply::Fail(std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused"))
    });
    let err = live(&api).get::<Backup>(&key()).await.unwrap_err();
    assert!(err.to_string().contains("connection refused"), "{err}");
}

#[tokio::test]
async fn a_conflict_keeps_the_api_servers_message() {
    let api = MockApi::serve(|_| status_reply(409, "Conflict", "the object has been modified"));
    let err = live(&api).replace_status(Arc::new(backup())).await.unwrap_err();
    assert_eq!(
        err,
        ClusterError::Conflict { kind: Kind::Backup, key: key(), message: "the object has been modified".into() }
    );
}
