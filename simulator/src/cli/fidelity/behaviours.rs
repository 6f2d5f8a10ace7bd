//! The behaviours the fidelity suite compares: the API interactions kubectl, kube-rs and the operator's controllers
//! make, each written once and run against both servers. A behaviour records what a client observes, in order.

use futures::future::BoxFuture;
use serde_json::{Value, json};
use std::time::Duration;

use super::normalise::normalise;
use super::side::{Answer, Side};

/// What one side showed during one behaviour: labelled observations, in order.
#[derive(Debug, Default)]
pub struct Obs(pub Vec<(String, Value)>);

impl Obs {
    /// The whole answer, normalised.
    fn answer(&mut self, label: &str, a: &Answer) {
        self.value(label, normalise(&a.whole()));
    }

    fn value(&mut self, label: &str, v: Value) {
        self.0.push((label.to_string(), v));
    }
}

pub type Run = for<'a> fn(&'a Side, &'a mut Obs) -> BoxFuture<'a, ()>;

/// A named behaviour.
pub struct Behaviour {
    pub name: &'static str,
    pub run: Run,
}

macro_rules! behaviours {
    ($($name:literal => $f:ident),* $(,)?) => {
        /// Every behaviour, in the order they run.
        pub fn all() -> Vec<Behaviour> {
            vec![$(Behaviour { name: $name, run: |s, o| Box::pin($f(s, o)) }),*]
        }
    };
}

behaviours! {
    "create" => create,
    "create-generate-name" => create_generate_name,
    "create-already-exists" => create_already_exists,
    "create-namespace-mismatch" => create_namespace_mismatch,
    "create-wrong-kind" => create_wrong_kind,
    "create-invalid-name" => create_invalid_name,
    "create-invalid-labels" => create_invalid_labels,
    "create-type-error" => create_type_error,
    "create-unknown-field" => create_unknown_field,
    "create-unknown-field-strict" => create_unknown_field_strict,
    "get-missing" => get_missing,
    "list-label-selectors" => list_label_selectors,
    "list-bad-label-selector" => list_bad_label_selector,
    "list-field-selectors" => list_field_selectors,
    "list-limit-continue" => list_limit_continue,
    "list-all-namespaces" => list_all_namespaces,
    "list-table" => list_table,
    "update-stale-resource-version" => update_stale_resource_version,
    "update-without-resource-version" => update_without_resource_version,
    "status-subresource" => status_subresource,
    "generation" => generation,
    "patch-types" => patch_types,
    "finalizers" => finalizers,
    "delete-missing" => delete_missing,
    "delete-preconditions" => delete_preconditions,
    "delete-collection" => delete_collection,
    "gc-background" => gc_background,
    "gc-foreground" => gc_foreground,
    "gc-orphan" => gc_orphan,
    "job-defaults" => job_defaults,
    "job-creates-pods" => job_creates_pods,
    "pod-invalid" => pod_invalid,
    "events" => events,
    "watch-resume" => watch_resume,
    "watch-gone" => watch_gone,
    "watch-initial-events-bookmark" => watch_initial_events_bookmark,
    "discovery" => discovery,
    "openapi-v3" => openapi_v3,
    "openapi-v2" => openapi_v2,
}

const PINGCAP: &str = "pingcap.com/v1alpha1";

/// How long the garbage collector gets (kube-controller-manager's notices a new custom resource's owners only after
/// its next discovery resync, up to 30 s after the CRD is installed).
const GC_WAIT: u64 = 60;

fn backup(name: &str, labels: Value) -> Value {
    json!({
        "apiVersion": PINGCAP, "kind": "Backup",
        "metadata": {"name": name, "labels": labels},
        "spec": {"br": {"cluster": "mycluster"}, "s3": {"provider": "aws", "bucket": "backup", "prefix": name}}
    })
}

fn job(name: &str, owner: Option<&Answer>) -> Value {
    let mut j = json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name},
        "spec": {"backoffLimit": 0, "template": {"spec": {
            "restartPolicy": "Never", "containers": [{"name": "main", "image": "busybox"}]
        }}}
    });
    if let Some(o) = owner {
        j["metadata"]["ownerReferences"] = json!([{
            "apiVersion": PINGCAP, "kind": "Backup", "name": o.field("/metadata/name"),
            "uid": o.field("/metadata/uid"), "controller": true, "blockOwnerDeletion": true
        }]);
    }
    j
}

fn backups(s: &Side) -> String {
    s.url(PINGCAP, "backups")
}

fn one(s: &Side, name: &str) -> String {
    format!("{}/{name}", backups(s))
}

/// The names a list answered (namespace/name), or the whole answer when it is not a list.
fn names(a: &Answer) -> Value {
    match a.body.get("items").and_then(Value::as_array) {
        Some(items) if a.code == 200 => json!(
            items
                .iter()
                .map(|i| {
                    let m = &i["metadata"];
                    format!("{}/{}", m["namespace"].as_str().unwrap_or(""), m["name"].as_str().unwrap_or(""))
                })
                .collect::<Vec<_>>()
        ),
        _ => normalise(&a.whole()),
    }
}

/// A watch's events: type and object name (a Status for an ERROR event: its code and reason).
fn events_of(a: &Answer) -> Value {
    let one;
    let events = match &a.body {
        Value::Array(events) => events,
        Value::Object(o) if o.contains_key("type") => {
            one = vec![a.body.clone()];
            &one
        }
        _ => return normalise(&a.whole()),
    };
    let seen: Vec<Value> = events
        .iter()
        .map(|e| {
            let object = &e["object"];
            match e["type"].as_str() {
                Some("ERROR") => json!(["ERROR", object["code"], object["reason"]]),
                Some("BOOKMARK") => json!(["BOOKMARK", object["metadata"]["annotations"]]),
                t => json!([t, object["metadata"]["name"]]),
            }
        })
        .collect();
    json!({"code": a.code, "events": seen})
}

/// Polls `path` every 200 ms for up to `seconds` until `done` holds; the last answer and whether it held.
async fn until(s: &Side, path: &str, seconds: u64, done: impl Fn(&Answer) -> bool) -> (bool, Answer) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    loop {
        let a = s.get(path).await;
        if done(&a) || tokio::time::Instant::now() >= deadline {
            return (done(&a), a);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn create(s: &Side, o: &mut Obs) {
    let a = s.post(&backups(s), &backup("f-create", json!({"app": "fidelity"}))).await;
    o.answer("POST", &a);
    o.answer("GET", &s.get(&one(s, "f-create")).await);
}

async fn create_generate_name(s: &Side, o: &mut Obs) {
    let mut b = backup("", json!({}));
    b["metadata"] = json!({"generateName": "f-gen-"});
    o.answer("POST generateName", &s.post(&backups(s), &b).await);
}

async fn create_already_exists(s: &Side, o: &mut Obs) {
    let b = backup("f-exists", json!({}));
    s.post(&backups(s), &b).await;
    o.answer("POST again", &s.post(&backups(s), &b).await);
}

async fn create_namespace_mismatch(s: &Side, o: &mut Obs) {
    let mut b = backup("f-mismatch", json!({}));
    b["metadata"]["namespace"] = json!("elsewhere");
    o.answer("POST", &s.post(&backups(s), &b).await);
}

async fn create_wrong_kind(s: &Side, o: &mut Obs) {
    let mut b = backup("f-wrong-kind", json!({}));
    b["kind"] = json!("Restore");
    o.answer("POST a Restore to backups", &s.post(&backups(s), &b).await);
}

async fn create_invalid_name(s: &Side, o: &mut Obs) {
    o.answer("POST F_Bad", &s.post(&backups(s), &backup("F_Bad", json!({}))).await);
}

async fn create_invalid_labels(s: &Side, o: &mut Obs) {
    let bad_value = backup("f-bad-label-value", json!({"app": "not ok!"}));
    o.answer("POST bad value", &s.post(&backups(s), &bad_value).await);
    let bad_key = backup("f-bad-label-key", json!({"not ok!": "v"}));
    o.answer("POST bad key", &s.post(&backups(s), &bad_key).await);
}

async fn create_type_error(s: &Side, o: &mut Obs) {
    let schedule = json!({
        "apiVersion": PINGCAP, "kind": "BackupSchedule", "metadata": {"name": "f-type-error"},
        "spec": {"schedule": "*/5 * * * *", "maxBackups": "three", "backupTemplate": {"br": {"cluster": "c"}}}
    });
    o.answer("POST maxBackups: three", &s.post(&s.url(PINGCAP, "backupschedules"), &schedule).await);
}

async fn create_unknown_field(s: &Side, o: &mut Obs) {
    let mut b = backup("f-unknown", json!({}));
    b["spec"]["notAField"] = json!(1);
    o.answer("POST", &s.post(&backups(s), &b).await);
}

async fn create_unknown_field_strict(s: &Side, o: &mut Obs) {
    let mut b = backup("f-unknown-strict", json!({}));
    b["spec"]["notAField"] = json!(1);
    let path = format!("{}?fieldValidation=Strict", backups(s));
    o.answer("POST fieldValidation=Strict", &s.post(&path, &b).await);
}

async fn get_missing(s: &Side, o: &mut Obs) {
    o.answer("GET", &s.get(&one(s, "f-none")).await);
}

async fn list_label_selectors(s: &Side, o: &mut Obs) {
    for (name, labels) in [
        ("f-ls-a", json!({"set": "ls", "app": "a", "tier": "1"})),
        ("f-ls-b", json!({"set": "ls", "app": "b"})),
        ("f-ls-c", json!({"set": "ls", "app": "c"})),
    ] {
        s.post(&backups(s), &backup(name, labels)).await;
    }
    for selector in
        ["set=ls,app=a", "set=ls,app!=a", "set=ls,app in (a,b)", "set=ls,app notin (a)", "set=ls,tier", "set=ls,!tier"]
    {
        let path = format!("{}?labelSelector={}", backups(s), urlencode(selector));
        o.value(selector, names(&s.get(&path).await));
    }
}

async fn list_bad_label_selector(s: &Side, o: &mut Obs) {
    for selector in ["app==", "a b"] {
        let path = format!("{}?labelSelector={}", backups(s), urlencode(selector));
        o.answer(selector, &s.get(&path).await);
    }
}

async fn list_field_selectors(s: &Side, o: &mut Obs) {
    s.post(&backups(s), &backup("f-fs", json!({}))).await;
    for selector in ["metadata.name=f-fs", "metadata.name!=f-fs,metadata.name=f-fs", "spec.br.cluster=x"] {
        let path = format!("{}?fieldSelector={}", backups(s), urlencode(selector));
        o.value(selector, names(&s.get(&path).await));
    }
}

async fn list_limit_continue(s: &Side, o: &mut Obs) {
    for name in ["f-page-a", "f-page-b", "f-page-c"] {
        s.post(&backups(s), &backup(name, json!({"set": "page"}))).await;
    }
    let first = s.get(&format!("{}?labelSelector=set%3Dpage&limit=2", backups(s))).await;
    o.value("limit=2", names(&first));
    o.value("limit=2 metadata", normalise(&json!({"metadata": first.body["metadata"]})));
    let token = first.field("/metadata/continue");
    let next = s.get(&format!("{}?labelSelector=set%3Dpage&limit=2&continue={}", backups(s), urlencode(&token))).await;
    o.value("continue", names(&next));
}

async fn list_all_namespaces(s: &Side, o: &mut Obs) {
    s.post(&backups(s), &backup("f-all", json!({"set": "all"}))).await;
    o.value(
        "GET /apis/pingcap.com/v1alpha1/backups",
        names(&s.get("/apis/pingcap.com/v1alpha1/backups?labelSelector=set%3Dall").await),
    );
}

async fn list_table(s: &Side, o: &mut Obs) {
    s.post(&backups(s), &backup("f-table", json!({"set": "table"}))).await;
    let path = format!("{}?labelSelector=set%3Dtable", backups(s));
    let a = s.call_accepting("GET", &path, None, None, "application/json;as=Table;v=v1;g=meta.k8s.io").await;
    let columns: Vec<&Value> =
        a.body["columnDefinitions"].as_array().into_iter().flatten().map(|c| &c["name"]).collect();
    let rows: Vec<&Value> = a.body["rows"].as_array().into_iter().flatten().map(|r| &r["cells"][0]).collect();
    o.value("Table", json!({"code": a.code, "kind": a.body["kind"], "columns": columns, "first cells": rows}));
}

async fn update_stale_resource_version(s: &Side, o: &mut Obs) {
    let created = s.post(&backups(s), &backup("f-stale", json!({}))).await;
    let mut b = created.body.clone();
    b["metadata"]["labels"] = json!({"v": "1"});
    o.answer("PUT current", &s.put(&one(s, "f-stale"), &b).await);
    b["metadata"]["labels"] = json!({"v": "2"});
    o.answer("PUT stale", &s.put(&one(s, "f-stale"), &b).await);
}

async fn update_without_resource_version(s: &Side, o: &mut Obs) {
    let created = s.post(&backups(s), &backup("f-no-rv", json!({}))).await;
    let mut b = created.body.clone();
    if let Some(m) = b["metadata"].as_object_mut() {
        m.remove("resourceVersion");
    }
    b["metadata"]["labels"] = json!({"v": "1"});
    o.answer("PUT without resourceVersion", &s.put(&one(s, "f-no-rv"), &b).await);
}

async fn status_subresource(s: &Side, o: &mut Obs) {
    let created = s.post(&backups(s), &backup("f-status", json!({}))).await;
    let mut b = created.body.clone();
    b["status"] = json!({"phase": "Complete"});
    b["spec"]["br"]["cluster"] = json!("changed-through-status");
    let via_status = s.put(&format!("{}/status", one(s, "f-status")), &b).await;
    o.value("PUT /status", json!([via_status.code, via_status.body["spec"]["br"], via_status.body["status"]]));
    let mut b = via_status.body.clone();
    b["status"] = json!({"phase": "Failed"});
    b["metadata"]["labels"] = json!({"through": "main"});
    let main = s.put(&one(s, "f-status"), &b).await;
    o.value("PUT main", json!([main.code, main.body["metadata"]["labels"], main.body["status"]]));
}

async fn generation(s: &Side, o: &mut Obs) {
    let merge = "application/merge-patch+json";
    let created = s.post(&backups(s), &backup("f-generation", json!({}))).await;
    o.value("created", created.body["metadata"]["generation"].clone());
    let path = one(s, "f-generation");
    let spec = s.patch(&path, merge, &json!({"spec": {"br": {"cluster": "other"}}})).await;
    o.value("spec patched", spec.body["metadata"]["generation"].clone());
    let labels = s.patch(&path, merge, &json!({"metadata": {"labels": {"x": "y"}}})).await;
    o.value("labels patched", labels.body["metadata"]["generation"].clone());
    let status = s.patch(&format!("{path}/status"), merge, &json!({"status": {"phase": "Running"}})).await;
    o.value("status patched", status.body["metadata"]["generation"].clone());
    let same = s.patch(&path, merge, &json!({"spec": {"br": {"cluster": "other"}}})).await;
    o.value("spec patched to the same", same.body["metadata"]["generation"].clone());
}

async fn patch_types(s: &Side, o: &mut Obs) {
    s.post(&backups(s), &backup("f-patch", json!({}))).await;
    let path = one(s, "f-patch");
    let labels = |a: &Answer| json!([a.code, a.body["metadata"]["labels"], a.body["reason"]]);
    let merge = s.patch(&path, "application/merge-patch+json", &json!({"metadata": {"labels": {"m": "1"}}})).await;
    o.value("merge", labels(&merge));
    let op = json!([{"op": "add", "path": "/metadata/labels/j", "value": "1"}]);
    o.value("json", labels(&s.patch(&path, "application/json-patch+json", &op).await));
    let bad_op = json!([{"op": "test", "path": "/metadata/labels/j", "value": "2"}]);
    o.answer("json test fails", &s.patch(&path, "application/json-patch+json", &bad_op).await);
    let strategic = json!({"metadata": {"labels": {"s": "1"}}});
    o.answer("strategic", &s.patch(&path, "application/strategic-merge-patch+json", &strategic).await);
    let apply = json!({"apiVersion": PINGCAP, "kind": "Backup", "metadata": {"name": "f-patch", "labels": {"a": "1"}}});
    o.answer("apply without fieldManager", &s.patch(&path, "application/apply-patch+yaml", &apply).await);
    let with_manager = format!("{path}?fieldManager=fidelity");
    o.value("apply", labels(&s.patch(&with_manager, "application/apply-patch+yaml", &apply).await));
}

async fn finalizers(s: &Side, o: &mut Obs) {
    let mut b = backup("f-finalizer", json!({}));
    b["metadata"]["finalizers"] = json!(["example.com/keep"]);
    s.post(&backups(s), &b).await;
    let path = one(s, "f-finalizer");
    let deleted = s.delete(&path, None).await;
    o.value(
        "DELETE",
        json!([
            deleted.code,
            deleted.body["kind"],
            deleted.body["metadata"]["deletionTimestamp"].is_string(),
            deleted.body["metadata"]["finalizers"]
        ]),
    );
    let patched = s.patch(&path, "application/merge-patch+json", &json!({"spec": {"br": {"cluster": "late"}}})).await;
    o.value("spec patch while deleting", json!([patched.code, patched.body["metadata"]["generation"]]));
    let add = s
        .patch(
            &path,
            "application/merge-patch+json",
            &json!({"metadata": {"finalizers": ["example.com/keep", "example.com/new"]}}),
        )
        .await;
    o.answer("adding a finalizer while deleting", &add);
    let removed = s.patch(&path, "application/merge-patch+json", &json!({"metadata": {"finalizers": null}})).await;
    o.value("finalizers removed", json!([removed.code, removed.body["metadata"]["finalizers"]]));
    o.answer("GET", &s.get(&path).await);
}

async fn delete_missing(s: &Side, o: &mut Obs) {
    o.answer("DELETE", &s.delete(&one(s, "f-none"), None).await);
}

async fn delete_preconditions(s: &Side, o: &mut Obs) {
    let created = s.post(&backups(s), &backup("f-preconditions", json!({}))).await;
    let path = one(s, "f-preconditions");
    let wrong_uid = json!({"preconditions": {"uid": "00000000-0000-0000-0000-000000000000"}});
    o.answer("wrong uid", &s.delete(&path, Some(&wrong_uid)).await);
    let wrong_rv = json!({"preconditions": {"resourceVersion": "1"}});
    let mut refused = s.delete(&path, Some(&wrong_rv)).await;
    // The message quotes the object's resourceVersion, which is each server's own.
    let current = created.field("/metadata/resourceVersion");
    if let Some(m) = refused.body["message"].as_str() {
        refused.body["message"] = json!(m.replace(&format!("({current})"), "(<resourceVersion>)"));
    }
    o.answer("wrong resourceVersion", &refused);
    let right = json!({"preconditions": {"uid": created.field("/metadata/uid")}});
    o.value("right uid", json!(s.delete(&path, Some(&right)).await.code));
}

async fn delete_collection(s: &Side, o: &mut Obs) {
    for name in ["f-dc-a", "f-dc-b", "f-dc-c"] {
        s.post(&backups(s), &backup(name, json!({"set": if name == "f-dc-c" { "keep" } else { "dc" }}))).await;
    }
    let deleted = s.delete(&format!("{}?labelSelector=set%3Ddc", backups(s)), None).await;
    o.value("DELETE the collection set=dc", names(&deleted));
    o.value("left", names(&s.get(&format!("{}?labelSelector=set+in+%28dc%2Ckeep%29", backups(s))).await));
}

/// An owner Backup and a Job it controls; the owner deleted with `policy`; what the suite then waits for.
async fn owned_job(s: &Side, o: &mut Obs, name: &str, policy: &str) -> String {
    let owner = s.post(&backups(s), &backup(name, json!({}))).await;
    let created = s.post(&s.url("batch/v1", "jobs"), &job(name, Some(&owner))).await;
    o.value("Job created", json!(created.code));
    let deleted = s.delete(&one(s, name), Some(&json!({"propagationPolicy": policy}))).await;
    let m = &deleted.body["metadata"];
    o.value(&format!("DELETE {policy}"), json!([deleted.code, m["deletionTimestamp"].is_string(), m["finalizers"]]));
    format!("{}/{name}", s.url("batch/v1", "jobs"))
}

async fn gc_background(s: &Side, o: &mut Obs) {
    let job = owned_job(s, o, "f-gc-background", "Background").await;
    let (gone, _) = until(s, &job, GC_WAIT, |a| a.code == 404).await;
    o.value("the Job is collected", json!(gone));
}

async fn gc_foreground(s: &Side, o: &mut Obs) {
    let job = owned_job(s, o, "f-gc-foreground", "Foreground").await;
    let (gone, _) = until(s, &job, GC_WAIT, |a| a.code == 404).await;
    o.value("the Job is collected", json!(gone));
    let (owner_gone, _) = until(s, &one(s, "f-gc-foreground"), GC_WAIT, |a| a.code == 404).await;
    o.value("then the owner", json!(owner_gone));
}

async fn gc_orphan(s: &Side, o: &mut Obs) {
    let job = owned_job(s, o, "f-gc-orphan", "Orphan").await;
    let (owner_gone, _) = until(s, &one(s, "f-gc-orphan"), GC_WAIT, |a| a.code == 404).await;
    o.value("the owner is gone", json!(owner_gone));
    let (orphaned, a) = until(s, &job, GC_WAIT, |a| a.body["metadata"].get("ownerReferences").is_none()).await;
    o.value("the Job stays without ownerReferences", json!([orphaned, a.code]));
}

async fn job_defaults(s: &Side, o: &mut Obs) {
    o.answer("POST", &s.post(&s.url("batch/v1", "jobs"), &job("f-job-defaults", None)).await);
}

async fn job_creates_pods(s: &Side, o: &mut Obs) {
    s.post(&s.url("batch/v1", "jobs"), &job("f-job-pods", None)).await;
    let pods = format!("{}?labelSelector={}", s.url("v1", "pods"), urlencode("job-name=f-job-pods"));
    let (created, a) = until(s, &pods, 20, |a| a.body["items"].as_array().is_some_and(|i| !i.is_empty())).await;
    o.value("a pod appears", json!(created));
    let pod = &a.body["items"][0]["metadata"];
    let mut keys: Vec<&String> = pod["labels"].as_object().into_iter().flat_map(|m| m.keys()).collect();
    keys.sort();
    o.value("its labels", json!(keys));
    o.value("its owner", normalise(&pod["ownerReferences"]));
    o.value("its generateName", pod["generateName"].clone());
}

async fn pod_invalid(s: &Side, o: &mut Obs) {
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "f-pod"}, "spec": {"containers": []}});
    o.answer("POST no containers", &s.post(&s.url("v1", "pods"), &pod).await);
}

async fn events(s: &Side, o: &mut Obs) {
    let event = json!({
        "apiVersion": "events.k8s.io/v1", "kind": "Event",
        "metadata": {"name": "f-event.1"},
        "eventTime": "2026-01-01T00:00:00.000000Z",
        "reportingController": "pingcap.com/backup-operator", "reportingInstance": "backup-operator-0",
        "action": "Reconcile", "reason": "JobCreated", "note": "created the Job", "type": "Normal",
        "regarding": {"apiVersion": PINGCAP, "kind": "Backup", "namespace": s.ns, "name": "f-event"}
    });
    let created = s.post(&s.url("events.k8s.io/v1", "events"), &event).await;
    o.value("POST", json!([created.code, created.body["reason"], created.body["note"]]));
    let path = format!("{}?fieldSelector={}", s.url("v1", "events"), urlencode("involvedObject.name=f-event"));
    let core = s.get(&path).await;
    let seen: Vec<Value> = core.body["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            json!({
                "reason": e["reason"], "message": e["message"], "type": e["type"], "action": e["action"],
                "involvedObject": [e["involvedObject"]["kind"], e["involvedObject"]["name"]],
                "reportingComponent": e["reportingComponent"], "reportingInstance": e["reportingInstance"]
            })
        })
        .collect();
    o.value("as core v1 Events", json!([core.code, seen]));
}

async fn watch_resume(s: &Side, o: &mut Obs) {
    let first = s.post(&backups(s), &backup("f-w-a", json!({"set": "watch"}))).await;
    s.post(&backups(s), &backup("f-w-b", json!({"set": "watch"}))).await;
    s.delete(&one(s, "f-w-a"), None).await;
    let rv = first.field("/metadata/resourceVersion");
    let path = format!("{}?watch=1&timeoutSeconds=1&labelSelector=set%3Dwatch&resourceVersion={rv}", backups(s));
    o.value("from the first create", events_of(&s.get(&path).await));
    let path =
        format!("{}?watch=1&timeoutSeconds=1&fieldSelector=metadata.name%3Df-w-b&resourceVersion={rv}", backups(s));
    o.value("by field", events_of(&s.get(&path).await));
}

async fn watch_gone(s: &Side, o: &mut Obs) {
    let path = format!("{}?watch=1&timeoutSeconds=1&resourceVersion=1", backups(s));
    o.value("resourceVersion=1", events_of(&s.get(&path).await));
}

async fn watch_initial_events_bookmark(s: &Side, o: &mut Obs) {
    for name in ["f-wl-a", "f-wl-b"] {
        s.post(&backups(s), &backup(name, json!({"set": "watchlist"}))).await;
    }
    let path = format!(
        "{}?watch=1&timeoutSeconds=1&labelSelector=set%3Dwatchlist&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true",
        backups(s)
    );
    o.value("sendInitialEvents", events_of(&s.get(&path).await));
}

async fn discovery(s: &Side, o: &mut Obs) {
    let a = s.get("/apis/pingcap.com/v1alpha1").await;
    let mut resources: Vec<Value> = a.body["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let sorted = |v: &Value| {
                let mut x: Vec<String> = v.as_array().into_iter().flatten().filter_map(|s| s.as_str().map(String::from)).collect();
                x.sort();
                x
            };
            json!({"name": r["name"], "kind": r["kind"], "namespaced": r["namespaced"], "singularName": r["singularName"],
                   "shortNames": sorted(&r["shortNames"]), "verbs": sorted(&r["verbs"])})
        })
        .collect();
    resources.sort_by_key(|r| r["name"].as_str().unwrap_or_default().to_string());
    o.value("GET /apis/pingcap.com/v1alpha1", json!([a.code, resources]));
}

/// What kubectl reads before it applies with validation: the v3 index names the group versions, and a custom
/// resource's PATCH declares `fieldValidation` (so kubectl leaves validation to the server).
async fn openapi_v3(s: &Side, o: &mut Obs) {
    let index = s.get("/openapi/v3").await;
    let listed: Vec<bool> = ["api/v1", "apis/batch/v1", "apis/pingcap.com/v1alpha1"]
        .iter()
        .map(|gv| index.body["paths"][gv]["serverRelativeURL"].as_str().is_some_and(|u| u.starts_with("/openapi/v3/")))
        .collect();
    o.value("GET /openapi/v3", json!([index.code, listed]));
    let doc = s.get("/openapi/v3/apis/pingcap.com/v1alpha1").await;
    let patch = &doc.body["paths"]["/apis/pingcap.com/v1alpha1/namespaces/{namespace}/backups/{name}"]["patch"];
    let takes = |name: &str| {
        patch["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| p["name"] == name || p["$ref"].as_str().is_some_and(|r| r.ends_with(&format!("/{name}"))))
    };
    o.value(
        "the Backup PATCH operation",
        json!([doc.code, patch["x-kubernetes-group-version-kind"], takes("fieldValidation"), takes("fieldManager")]),
    );
}

async fn openapi_v2(s: &Side, o: &mut Obs) {
    o.value("GET /openapi/v2", json!(s.get("/openapi/v2").await.code));
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
