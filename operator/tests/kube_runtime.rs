//! The production wiring against a mocked API server: the controllers reconcile what their caches list, a failed
//! reconcile is counted by class and retried, shutdown waits for nothing but stops; the HTTP server answers
//! `/healthz`, `/readyz` by stage and `/metrics`.

mod kube_support;
mod support;

use chrono::Utc;
use kube::runtime::events::Reporter;
use operator::api::CleanPolicy;
use operator::controllers::Settings;
use operator::runtime::controllers::{self, Shared};
use operator::runtime::health::{Health, Stage};
use operator::runtime::metrics::Metrics;
use operator::runtime::server::{METRICS_CONTENT_TYPE, Server};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use kube_support::{MockApi, Recorded, Reply, json_reply, status_reply};
use support::builders::{BackupBuilder, t};

fn list(items: Vec<Value>) -> Reply {
    json_reply(200, json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": "5"}, "items": items}))
}

fn shared(api: &MockApi, metrics: Arc<Metrics>) -> Shared {
    Shared {
        client: api.client.clone(),
        namespace: Some("test1".into()),
        settings: Settings::default(),
        concurrency: 2,
        metrics,
        reporter: Reporter { controller: "backup-operator".into(), instance: Some("test".into()) },
        clock: None,
    }
}

/// Polls `metrics` until `line` appears (or fails after 10s).
async fn wait_for_metric(metrics: &Metrics, line: &str) {
    for _ in 0..500 {
        if metrics.encode(Utc::now()).contains(line) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{line} never appeared in\n{}", metrics.encode(Utc::now()));
}

/// Serves the Backup list with `backups`, every other list empty, watches held open, and `writes` for the rest.
fn api_with(backups: Vec<Value>, writes: impl Fn(&Recorded) -> Reply + Send + 'static) -> MockApi {
    MockApi::serve(move |r| {
        let a = r.attributes();
        match a.verb.as_str() {
            "watch" => Reply::Hold,
            "list" if a.resource == "backups" && r.param("labelSelector").is_none() => list(backups.clone()),
            "list" => list(vec![]),
            _ => writes(r),
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_controllers_reconcile_what_their_caches_list_and_stop_on_shutdown() {
    let done = BackupBuilder::new("done").complete(t(1)).build();
    let api =
        api_with(vec![serde_json::to_value(&done).unwrap()], |r| panic!("a Complete Backup needs no write: {r:?}"));
    let metrics = Arc::new(Metrics::new(Utc::now()));
    let stop = CancellationToken::new();
    let running = controllers::start(&shared(&api, metrics.clone()), stop.clone());
    metrics.set_sources(running.sources.clone());
    let task = tokio::spawn(running.controllers);
    tokio::time::timeout(Duration::from_secs(10), running.synced).await.expect("caches sync");
    wait_for_metric(&metrics, "backup_operator_reconciles_total{controller=\"backup\"} 1").await;
    assert!(metrics.encode(Utc::now()).contains("backup_operator_backups{phase=\"Complete\"} 1"));
    for r in api.recorded() {
        assert!(r.path.contains("/namespaces/test1/"), "--namespace scopes every watch: {}", r.path);
    }
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(10), task).await.expect("the controllers stop").unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_reconcile_is_counted_by_class_and_retried_with_backoff() {
    let new = BackupBuilder::new("new").clean_policy(CleanPolicy::Retain).build();
    let live = serde_json::to_value(&new).unwrap();
    let api = api_with(vec![serde_json::to_value(&new).unwrap()], move |r| match r.attributes().verb.as_str() {
        // The controller reads the Backup live before it creates the Job.
        "get" => json_reply(200, live.clone()),
        "create" => status_reply(500, "InternalError", "etcdserver: request timed out"),
        _ => status_reply(405, "MethodNotAllowed", "unexpected"),
    });
    let metrics = Arc::new(Metrics::new(Utc::now()));
    let stop = CancellationToken::new();
    let running = controllers::start(&shared(&api, metrics.clone()), stop.clone());
    let task = tokio::spawn(running.controllers);
    wait_for_metric(&metrics, "backup_operator_reconcile_errors_total{controller=\"backup\",class=\"Transient\"} 1")
        .await;
    // The retry comes after the first backoff (5s), not at once.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let creates = api.recorded().iter().filter(|r| r.method == "POST" && r.path.ends_with("/jobs")).count();
    assert_eq!(creates, 1, "no retry before the backoff");
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(10), task).await.expect("the controllers stop").unwrap();
}

async fn http_get(addr: std::net::SocketAddr, path: &str) -> (u16, String, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut buf = String::new();
    stream.read_to_string(&mut buf).await.unwrap();
    let (head, body) = buf.split_once("\r\n\r\n").unwrap();
    let code = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let content_type = head
        .lines()
        .find_map(|l| l.strip_prefix("content-type: ").or_else(|| l.strip_prefix("Content-Type: ")))
        .unwrap_or_default()
        .to_string();
    (code, content_type, body.to_string())
}

#[tokio::test]
async fn the_http_server_answers_health_readiness_by_stage_and_metrics() {
    let metrics = Arc::new(Metrics::new(Utc::now()));
    let health = Arc::new(Health::default());
    let server = Server::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = server.local_addr();
    let stop = CancellationToken::new();
    let task = tokio::spawn(server.serve(metrics.clone(), health.clone(), stop.clone().cancelled_owned()));

    assert_eq!(http_get(addr, "/healthz").await.0, 200);
    assert_eq!(http_get(addr, "/readyz").await.0, 200, "a standby is ready");
    health.set(Stage::Syncing);
    let (code, _, body) = http_get(addr, "/readyz").await;
    assert_eq!((code, body.as_str()), (503, "syncing\n"));
    health.synced();
    assert_eq!(http_get(addr, "/readyz").await.0, 200);
    health.set(Stage::Stopping);
    assert_eq!(http_get(addr, "/readyz").await.0, 503);
    assert_eq!(http_get(addr, "/healthz").await.0, 200, "alive while stopping");

    metrics.set_leader(true);
    let (code, content_type, body) = http_get(addr, "/metrics").await;
    assert_eq!((code, content_type.as_str()), (200, METRICS_CONTENT_TYPE));
    assert!(body.contains("backup_operator_leader 1"), "{body}");
    assert_eq!(http_get(addr, "/nope").await.0, 404);

    stop.cancel();
    tokio::time::timeout(Duration::from_secs(5), task).await.unwrap().unwrap().unwrap();
}

#[tokio::test]
async fn a_taken_metrics_port_fails_naming_the_address() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let err = Server::bind(addr).await.err().unwrap();
    assert!(err.to_string().contains(&addr.to_string()) && err.to_string().contains("--metrics-addr"), "{err}");
}
