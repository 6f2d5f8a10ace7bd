//! Server-side printing: the `meta.k8s.io/v1` Table that kubectl asks for (`Accept: ...;as=Table`), with the CRDs'
//! own printer columns, kubectl's usual columns for Pods, Jobs, Leases and Events, and ages by the world's clock.

use chrono::{DateTime, Utc};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceColumnDefinition;
use operator::cluster::Kind;
use serde_json::{Value, json};
use std::sync::OnceLock;

use super::resources::{DynKind, Res};

/// How much of each object a Table row carries (`includeObject`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IncludeObject {
    None,
    Metadata,
    Object,
}

/// Whether an `Accept` header asks for a `meta.k8s.io/v1` Table, and with how much of each object
/// (`includeObject`, default `Metadata` as the API server's).
pub fn requested(accept: Option<&str>, include: Option<&str>) -> Option<IncludeObject> {
    let wants = accept?.split(',').any(|media| {
        let params: Vec<&str> = media.split(';').map(str::trim).collect();
        params.contains(&"as=Table") && params.contains(&"g=meta.k8s.io") && params.contains(&"v=v1")
    });
    wants.then_some(match include {
        Some("None") => IncludeObject::None,
        Some("Object") => IncludeObject::Object,
        _ => IncludeObject::Metadata,
    })
}

/// What a column shows.
#[derive(Clone, Debug)]
enum Cell {
    Name,
    /// A CRD printer column's `jsonPath` (simple `.a.b` paths), dates shown as ages.
    Path {
        path: Vec<String>,
        date: bool,
    },
    Computed(fn(&Value, DateTime<Utc>) -> Value),
}

#[derive(Clone, Debug)]
struct Column {
    name: String,
    type_: String,
    format: String,
    description: String,
    priority: i32,
    cell: Cell,
}

fn column(name: &str, type_: &str, description: &str, cell: Cell) -> Column {
    let format = if matches!(cell, Cell::Name) { "name" } else { "" };
    Column {
        name: name.into(),
        type_: type_.into(),
        format: format.into(),
        description: description.into(),
        priority: 0,
        cell,
    }
}

fn name_column() -> Column {
    column("Name", "string", "Name must be unique within a namespace.", Cell::Name)
}

fn age_column() -> Column {
    column(
        "Age",
        "string",
        "The time since the object was created.",
        Cell::Computed(|v, now| age(&v["metadata"]["creationTimestamp"], now)),
    )
}

/// The printer columns of a CRD, after the Name column, as the API server shows a custom resource. Read once from
/// the generated CRDs (generating them builds their whole schemas).
fn crd_columns(kind: Kind) -> Vec<Column> {
    static COLUMNS: OnceLock<Vec<(String, Vec<Column>)>> = OnceLock::new();
    let all = COLUMNS.get_or_init(|| {
        operator::api::crd::crds()
            .into_iter()
            .map(|crd| {
                let printer = crd.spec.versions.into_iter().next().and_then(|v| v.additional_printer_columns);
                (crd.spec.names.kind, printer_columns(printer.unwrap_or_default()))
            })
            .collect()
    });
    all.iter().find(|(k, _)| k == kind.as_str()).map(|(_, c)| c.clone()).unwrap_or_else(|| vec![name_column()])
}

fn printer_columns(printer: Vec<CustomResourceColumnDefinition>) -> Vec<Column> {
    let mut out = vec![name_column()];
    for c in printer {
        let path = c.json_path.trim_start_matches('.').split('.').map(str::to_string).collect();
        let date = c.type_ == "date";
        out.push(Column {
            name: c.name,
            type_: if date { "date".into() } else { c.type_ },
            format: c.format.unwrap_or_default(),
            description: c.description.unwrap_or_default(),
            priority: c.priority.unwrap_or(0),
            cell: Cell::Path { path, date },
        });
    }
    out
}

fn columns(res: Res) -> Vec<Column> {
    match res {
        Res::Typed(kind @ (Kind::Backup | Kind::Restore | Kind::BackupSchedule | Kind::CompactBackup)) => {
            crd_columns(kind)
        }
        Res::Typed(Kind::Job) => vec![
            name_column(),
            column("Status", "string", "Status of the job.", Cell::Computed(job_status)),
            column(
                "Completions",
                "string",
                "The number of succeeded pods out of the desired completions.",
                Cell::Computed(job_completions),
            ),
            column(
                "Duration",
                "string",
                "Time the job took to complete, or has been running.",
                Cell::Computed(job_duration),
            ),
            age_column(),
        ],
        Res::Typed(Kind::Pod) => vec![
            name_column(),
            column(
                "Ready",
                "string",
                "The number of ready containers out of all containers.",
                Cell::Computed(pod_ready),
            ),
            column("Status", "string", "The pod's phase, or why it is not running.", Cell::Computed(pod_status)),
            column("Restarts", "string", "Container restarts.", Cell::Computed(pod_restarts)),
            age_column(),
        ],
        Res::Dyn(DynKind::Lease) => vec![
            name_column(),
            column(
                "Holder",
                "string",
                "The holder of the lease.",
                Cell::Computed(|v, _| v["spec"]["holderIdentity"].clone()),
            ),
            age_column(),
        ],
        Res::Dyn(DynKind::Event | DynKind::CoreEvent) => vec![
            column("Last Seen", "string", "When the event was last seen.", Cell::Computed(event_last_seen)),
            column("Type", "string", "Normal or Warning.", Cell::Computed(|v, _| v["type"].clone())),
            column("Reason", "string", "Why the event happened.", Cell::Computed(|v, _| v["reason"].clone())),
            column("Object", "string", "The object the event is about.", Cell::Computed(event_object)),
            column("Message", "string", "What happened.", Cell::Computed(event_message)),
        ],
    }
}

/// A list (`items`) or a single object as a Table.
pub fn table(res: Res, body: &Value, include: IncludeObject, now: DateTime<Utc>) -> Value {
    let columns = columns(res);
    let objects: Vec<&Value> = match body["items"].as_array() {
        Some(items) => items.iter().collect(),
        None => vec![body],
    };
    let rows: Vec<Value> = objects.iter().map(|o| row(&columns, o, include, now)).collect();
    let definitions: Vec<Value> = columns
        .iter()
        .map(|c| json!({"name": c.name, "type": c.type_, "format": c.format, "description": c.description, "priority": c.priority}))
        .collect();
    let rv = body["metadata"]["resourceVersion"].clone();
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": rv},
           "columnDefinitions": definitions, "rows": rows})
}

fn row(columns: &[Column], object: &Value, include: IncludeObject, now: DateTime<Utc>) -> Value {
    let cells: Vec<Value> = columns
        .iter()
        .map(|c| match &c.cell {
            Cell::Name => object["metadata"]["name"].clone(),
            Cell::Path { path, date } => {
                let v = path.iter().fold(object, |v, key| &v[key.as_str()]);
                if *date { age(v, now) } else { v.clone() }
            }
            Cell::Computed(f) => f(object, now),
        })
        .collect();
    let mut row = json!({"cells": cells});
    match include {
        IncludeObject::None => {}
        IncludeObject::Metadata => {
            row["object"] = json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": object["metadata"]});
        }
        IncludeObject::Object => row["object"] = object.clone(),
    }
    row
}

fn timestamp(v: &Value) -> Option<DateTime<Utc>> {
    v.as_str().and_then(|s| DateTime::parse_from_rfc3339(s).ok()).map(|t| t.with_timezone(&Utc))
}

/// The age of a timestamp as kubectl prints it, or null when there is none.
fn age(v: &Value, now: DateTime<Utc>) -> Value {
    match timestamp(v) {
        Some(t) => Value::String(human_duration(now - t)),
        None => Value::Null,
    }
}

/// A duration as the API server's printers write it: `45s`, `3m20s`, `15m`, `5h10m`, `30h`, `3d4h`, `40d`, `2y3d`.
pub fn human_duration(d: chrono::TimeDelta) -> String {
    let seconds = d.num_seconds();
    if seconds < -1 {
        return "<invalid>".into();
    }
    if seconds < 0 {
        return "0s".into();
    }
    if seconds < 120 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 { format!("{minutes}m") } else { format!("{minutes}m{s}s") };
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 { format!("{hours}h") } else { format!("{hours}h{m}m") };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    let days = hours / 24;
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 { format!("{days}d") } else { format!("{days}d{h}h") };
    }
    if hours < 24 * 365 * 2 {
        return format!("{days}d");
    }
    let years = days / 365;
    if hours < 24 * 365 * 8 {
        let d = days % 365;
        return if d == 0 { format!("{years}y") } else { format!("{years}y{d}d") };
    }
    format!("{years}y")
}

fn condition_true(v: &Value, type_: &str) -> bool {
    v["status"]["conditions"]
        .as_array()
        .is_some_and(|cs| cs.iter().any(|c| c["type"] == type_ && c["status"] == "True"))
}

fn job_status(v: &Value, _: DateTime<Utc>) -> Value {
    let status = ["Complete", "Failed", "FailureTarget", "Suspended"].into_iter().find(|t| condition_true(v, t));
    let status = match status {
        Some(s) => s,
        None if v["metadata"]["deletionTimestamp"].is_string() => "Terminating",
        None => "Running",
    };
    Value::String(status.into())
}

fn job_completions(v: &Value, _: DateTime<Utc>) -> Value {
    let succeeded = v["status"]["succeeded"].as_i64().unwrap_or(0);
    let completions = v["spec"]["completions"].as_i64().unwrap_or(1);
    Value::String(format!("{succeeded}/{completions}"))
}

fn job_duration(v: &Value, now: DateTime<Utc>) -> Value {
    let Some(start) = timestamp(&v["status"]["startTime"]) else { return Value::String(String::new()) };
    let end = timestamp(&v["status"]["completionTime"]).unwrap_or(now);
    Value::String(human_duration(end - start))
}

fn pod_ready(v: &Value, _: DateTime<Utc>) -> Value {
    let total = v["spec"]["containers"].as_array().map_or(0, Vec::len);
    let ready =
        v["status"]["containerStatuses"].as_array().map_or(0, |cs| cs.iter().filter(|c| c["ready"] == true).count());
    Value::String(format!("{ready}/{total}"))
}

fn pod_status(v: &Value, _: DateTime<Utc>) -> Value {
    let mut reason = v["status"]["reason"].as_str().or(v["status"]["phase"].as_str()).unwrap_or("Pending").to_string();
    for c in v["status"]["containerStatuses"].as_array().into_iter().flatten() {
        if let Some(r) = c["state"]["waiting"]["reason"].as_str().filter(|r| !r.is_empty()) {
            reason = r.into();
        } else if let Some(r) = c["state"]["terminated"]["reason"].as_str().filter(|r| !r.is_empty()) {
            reason = r.into();
        }
    }
    if v["metadata"]["deletionTimestamp"].is_string() {
        reason = "Terminating".into();
    }
    Value::String(reason)
}

fn pod_restarts(v: &Value, _: DateTime<Utc>) -> Value {
    let n: i64 = v["status"]["containerStatuses"]
        .as_array()
        .map_or(0, |cs| cs.iter().filter_map(|c| c["restartCount"].as_i64()).sum());
    Value::String(n.to_string())
}

/// Events of either API (events.k8s.io/v1 or core v1).
fn event_last_seen(v: &Value, now: DateTime<Utc>) -> Value {
    let candidates = [
        &v["series"]["lastObservedTime"],
        &v["deprecatedLastTimestamp"],
        &v["lastTimestamp"],
        &v["eventTime"],
        &v["metadata"]["creationTimestamp"],
    ];
    candidates.into_iter().find(|t| timestamp(t).is_some()).map_or(Value::Null, |t| age(t, now))
}

fn event_object(v: &Value, _: DateTime<Utc>) -> Value {
    let about = if v["regarding"].is_object() { &v["regarding"] } else { &v["involvedObject"] };
    let kind = about["kind"].as_str().unwrap_or("").to_lowercase();
    Value::String(format!("{kind}/{}", about["name"].as_str().unwrap_or("")))
}

fn event_message(v: &Value, _: DateTime<Utc>) -> Value {
    if v["note"].is_string() { v["note"].clone() } else { v["message"].clone() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    #[test]
    fn only_kubectls_table_media_type_asks_for_a_table() {
        let kubectl = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert_eq!(requested(Some(kubectl), None), Some(IncludeObject::Metadata));
        assert_eq!(requested(Some(kubectl), Some("Object")), Some(IncludeObject::Object));
        assert_eq!(requested(Some("application/json"), None), None);
        assert_eq!(requested(None, Some("Object")), None);
    }

    #[test]
    fn durations_read_as_kubectl_prints_them() {
        let cases = [
            (TimeDelta::seconds(-5), "<invalid>"),
            (TimeDelta::milliseconds(-500), "0s"),
            (TimeDelta::seconds(45), "45s"),
            (TimeDelta::seconds(119), "119s"),
            (TimeDelta::seconds(200), "3m20s"),
            (TimeDelta::minutes(5), "5m"),
            (TimeDelta::minutes(15), "15m"),
            (TimeDelta::minutes(310), "5h10m"),
            (TimeDelta::hours(30), "30h"),
            (TimeDelta::hours(76), "3d4h"),
            (TimeDelta::days(40), "40d"),
            (TimeDelta::days(365 * 2 + 3), "2y3d"),
            (TimeDelta::days(365 * 9), "9y"),
        ];
        for (d, want) in cases {
            assert_eq!(human_duration(d), want, "{d:?}");
        }
    }

    #[test]
    fn backups_print_their_crd_columns_with_ages_by_the_worlds_clock() {
        let now = DateTime::parse_from_rfc3339("2026-01-01T01:00:00Z").unwrap().with_timezone(&Utc);
        let list = json!({"kind": "BackupList", "metadata": {"resourceVersion": "42"}, "items": [
            {"metadata": {"name": "demo-1", "namespace": "test1", "creationTimestamp": "2026-01-01T00:10:00Z"},
             "status": {"phase": "Complete", "backupPath": "s3://b/p", "timeStarted": "2026-01-01T00:10:05Z"}}]});
        let t = table(Res::Typed(Kind::Backup), &list, IncludeObject::Metadata, now);
        let names: Vec<&str> =
            t["columnDefinitions"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert_eq!(names[..3], ["Name", "Status", "BackupPath"]);
        assert_eq!(names.last(), Some(&"Age"));
        let cells = t["rows"][0]["cells"].as_array().unwrap();
        assert_eq!(cells[0], "demo-1");
        assert_eq!(cells[1], "Complete");
        assert_eq!(cells.last().unwrap(), "50m");
        assert!(cells.contains(&Value::Null), "a missing status field is an empty cell");
        assert_eq!(t["rows"][0]["object"]["metadata"]["namespace"], "test1");
        assert_eq!(t["metadata"]["resourceVersion"], "42");
    }

    #[test]
    fn pods_show_why_they_are_not_running() {
        let now = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap().with_timezone(&Utc);
        let pod = json!({"metadata": {"name": "backup-x-abc"}, "spec": {"containers": [{"name": "m"}]},
            "status": {"phase": "Pending", "containerStatuses": [{"ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": "ContainerCreating"}}}]}});
        let t = table(Res::Typed(Kind::Pod), &pod, IncludeObject::None, now);
        assert_eq!(t["rows"][0]["cells"], json!(["backup-x-abc", "0/1", "ContainerCreating", "0", null]));
        assert!(t["rows"][0].get("object").is_none());
    }
}
