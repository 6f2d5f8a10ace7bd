//! Serves one API request from the world: get, list, create, update, patch (merge, JSON, strategic, apply) and
//! delete, with the API faults of the scenario, the world's own rules (names, resourceVersions, finalizers,
//! subresources) and the same tracing, stats and invariant checks as the simulated operator's requests.

use operator::api::{Backup, BackupSchedule, Restore};
use operator::cluster::{ClusterError, Deletion, Kind, Labels, ObjectKey, Precondition, Verb};
use serde_json::{Value, json};

use super::discovery;
use super::event_view;
use super::request::{ApiRequest, ListQuery, Route, Target, route};
use super::resources::{DynKind, Res};
use super::table;
use crate::api::Response;
use crate::engine::{Actor, State};
use crate::faults::InjectedError;
use crate::object::Obj;
use crate::world::{DynError, Subresource};

/// What the served world answers.
pub enum ApiReply {
    Json {
        status: u16,
        body: Value,
    },
    /// A watch: the stream of JSON lines follows on this channel until the watch ends.
    Watch(tokio::sync::mpsc::UnboundedReceiver<bytes::Bytes>),
}

fn reply(status: u16, body: Value) -> ApiReply {
    ApiReply::Json { status, body }
}

/// A `metav1.Status` failure.
pub fn failure(code: u16, reason: &str, message: impl Into<String>, kind: &str, name: &str) -> ApiReply {
    reply(
        code,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message.into(),
               "reason": reason, "details": {"name": name, "kind": kind}, "code": code}),
    )
}

fn from_cluster_error(e: &ClusterError, after_apply: bool) -> ApiReply {
    let (kind, name) = match e {
        ClusterError::NotFound { kind, key }
        | ClusterError::AlreadyExists { kind, key }
        | ClusterError::Conflict { kind, key, .. }
        | ClusterError::Invalid { kind, key, .. }
        | ClusterError::Forbidden { kind, key, .. }
        | ClusterError::Transient { kind, key, .. } => (kind.as_str(), key.name.clone()),
    };
    let (code, reason) = match e {
        ClusterError::NotFound { .. } => (404, "NotFound"),
        ClusterError::AlreadyExists { .. } => (409, "AlreadyExists"),
        ClusterError::Conflict { .. } => (409, "Conflict"),
        ClusterError::Invalid { .. } => (422, "Invalid"),
        ClusterError::Forbidden { .. } => (403, "Forbidden"),
        ClusterError::Transient { .. } if after_apply => (504, "Timeout"),
        ClusterError::Transient { .. } => (500, "InternalError"),
    };
    failure(code, reason, e.to_string(), kind, &name)
}

fn from_dyn_error(e: &DynError, kind: &str) -> ApiReply {
    match e {
        DynError::NotFound(key) => failure(404, "NotFound", e.to_string(), kind, &key.name),
        DynError::AlreadyExists(key) => failure(409, "AlreadyExists", e.to_string(), kind, &key.name),
        DynError::Conflict { key, .. } => failure(409, "Conflict", e.to_string(), kind, &key.name),
        DynError::Invalid { key, .. } => failure(422, "Invalid", e.to_string(), kind, &key.name),
    }
}

/// Where a served kind's objects are stored: core v1 Events live with the events.k8s.io/v1 ones.
pub fn stored(kind: DynKind) -> DynKind {
    match kind {
        DynKind::CoreEvent => DynKind::Event,
        other => other,
    }
}

/// The JSON of a typed object, as the API serves it.
pub fn to_json(o: &Obj) -> Value {
    match o {
        Obj::Backup(a) => serde_json::to_value(&**a),
        Obj::Restore(a) => serde_json::to_value(&**a),
        Obj::Schedule(a) => serde_json::to_value(&**a),
        Obj::Job(a) => serde_json::to_value(&**a),
        Obj::Pod(a) => serde_json::to_value(&**a),
    }
    .unwrap_or(Value::Null)
}

/// A typed object from request JSON.
fn from_json(kind: Kind, v: Value) -> Result<Obj, String> {
    fn typed<K: operator::cluster::Object>(v: Value) -> Result<Obj, String> {
        serde_path_to_error::deserialize::<_, K>(v).map(Obj::wrap).map_err(|e| format!("{}: {}", e.path(), e.inner()))
    }
    match kind {
        Kind::Backup => typed::<Backup>(v),
        Kind::Restore => typed::<Restore>(v),
        Kind::BackupSchedule => typed::<BackupSchedule>(v),
        Kind::Job => typed::<k8s_openapi::api::batch::v1::Job>(v),
        Kind::Pod => typed::<k8s_openapi::api::core::v1::Pod>(v),
    }
}

fn verb_of(req: &ApiRequest, target: &Target) -> Verb {
    match (req.method.as_str(), target.name.is_some(), target.status) {
        ("GET", true, _) => Verb::Get,
        ("GET", false, _) => Verb::List,
        ("POST", ..) => Verb::Create,
        (_, _, true) => Verb::UpdateStatus,
        ("DELETE", ..) => Verb::Delete,
        _ => Verb::Update,
    }
}

/// Applies a PATCH body to `doc` by its content type.
pub fn apply_patch(doc: &mut Value, content_type: Option<&str>, body: &[u8]) -> Result<(), String> {
    let ct = content_type.unwrap_or("").split(';').next().unwrap_or("").trim();
    match ct {
        "application/json-patch+json" => {
            let patch: json_patch::Patch =
                serde_json::from_slice(body).map_err(|e| format!("invalid JSON patch: {e}"))?;
            json_patch::patch(doc, &patch).map_err(|e| format!("JSON patch does not apply: {e}"))
        }
        // Strategic merge and server-side apply are taken as merge patches: the objects served here have no list
        // fields whose merge keys would make a difference to what clients send.
        "application/merge-patch+json" | "application/strategic-merge-patch+json" | "application/apply-patch+yaml" => {
            let patch: Value = serde_json::from_slice(body)
                .or_else(|_| serde_saphyr::from_slice::<Value>(body).map_err(|e| e.to_string()))
                .map_err(|e| format!("invalid patch: {e}"))?;
            crate::steps::merge_patch(doc, &patch);
            Ok(())
        }
        other => Err(format!("unsupported patch content type {other:?}")),
    }
}

fn body_json(req: &ApiRequest) -> Result<Value, ApiReply> {
    serde_json::from_slice(&req.body)
        .map_err(|e| failure(400, "BadRequest", format!("the body is not JSON: {e}"), "", ""))
}

/// Puts the path's namespace and name into a body, or refuses a body that names others.
fn place(mut v: Value, target: &Target) -> Result<Value, ApiReply> {
    let meta = v.get_mut("metadata").and_then(Value::as_object_mut);
    let Some(meta) = meta else { return Err(failure(400, "BadRequest", "metadata is required", target.info.kind, "")) };
    if let Some(ns) = &target.namespace {
        match meta.get("namespace").and_then(Value::as_str) {
            Some(given) if given != ns => {
                return Err(failure(
                    400,
                    "BadRequest",
                    format!("the namespace of the object ({given}) does not match the namespace of the request ({ns})"),
                    target.info.kind,
                    "",
                ));
            }
            _ => {
                meta.insert("namespace".into(), Value::String(ns.clone()));
            }
        }
    }
    if let Some(name) = &target.name {
        match meta.get("name").and_then(Value::as_str) {
            Some(given) if given != name => {
                return Err(failure(
                    400,
                    "BadRequest",
                    format!("the name of the object ({given}) does not match the name of the request ({name})"),
                    target.info.kind,
                    name,
                ));
            }
            _ => {
                meta.insert("name".into(), Value::String(name.clone()));
            }
        }
    }
    Ok(v)
}

impl State {
    /// Serves one request at the current time.
    pub fn api(&mut self, req: &ApiRequest) -> ApiReply {
        let target = match route(&req.path) {
            Route::Version => return reply(200, discovery::version()),
            Route::CoreVersions => return reply(200, discovery::core_versions()),
            Route::Groups => return reply(200, discovery::groups()),
            Route::GroupVersion { group, version } => {
                return match discovery::resources(&group, &version) {
                    Some(doc) => reply(200, doc),
                    None => failure(404, "NotFound", format!("the server could not find {}", req.path), "", ""),
                };
            }
            Route::NotFound => {
                return failure(
                    404,
                    "NotFound",
                    format!("the server could not find the requested resource ({})", req.path),
                    "",
                    "",
                );
            }
            Route::Resource(t) => t,
        };
        let answer = match target.info.res {
            Res::Typed(kind) => self.api_typed(req, &target, kind),
            Res::Dyn(kind) => self.api_dynamic(req, &target, kind),
        };
        let include = table::requested(req.accept.as_deref(), req.query.get("includeObject").map(String::as_str));
        match (answer, include) {
            (ApiReply::Json { status: 200, body }, Some(include))
                if req.method == http::Method::GET && body["kind"] != "Status" =>
            {
                reply(200, table::table(target.info.res, &body, include, self.now.to_utc()))
            }
            (answer, _) => answer,
        }
    }

    fn list_query(req: &ApiRequest) -> Result<ListQuery, ApiReply> {
        ListQuery::parse(&req.query, req.accept.as_deref())
            .map_err(|e| failure(400, "BadRequest", e.to_string(), "", ""))
    }

    /// Serves a request for a typed object and counts its failure, as the simulated operator's are counted.
    fn api_typed(&mut self, req: &ApiRequest, target: &Target, kind: Kind) -> ApiReply {
        let answer = self.api_typed_unrecorded(req, target, kind);
        if let ApiReply::Json { status, body } = &answer
            && *status >= 400
        {
            let class = match body["reason"].as_str() {
                Some("NotFound") => "NotFound",
                Some("AlreadyExists") => "AlreadyExists",
                Some("Conflict") => "Conflict",
                Some("Invalid") => "Invalid",
                Some("Forbidden") => "Forbidden",
                Some("BadRequest" | "MethodNotAllowed" | "UnsupportedMediaType") => "BadRequest",
                _ => "Transient",
            };
            *self.stats.errors.entry(("operator".into(), class)).or_default() += 1;
        }
        answer
    }

    fn api_typed_unrecorded(&mut self, req: &ApiRequest, target: &Target, kind: Kind) -> ApiReply {
        let verb = verb_of(req, target);
        let ns = target.namespace.clone().unwrap_or_default();
        let key = ObjectKey::new(&ns, target.name.clone().unwrap_or_default());
        // Watches count apart from lists, but share their faults (an API error fails the watch's start).
        let watching = verb == Verb::List && req.query.get("watch").is_some_and(|v| v == "true" || v == "1");
        self.stats.request(if watching { "operator/watch" } else { "operator" }, verb, kind);
        let injected = self.faults.api_error(false, verb, kind, self.now, &mut self.rngs.api);
        let transient =
            |message: &str| ClusterError::Transient { verb, kind, key: key.clone(), message: message.into() };
        if let Some(e) = injected.and_then(|i| i.refusal(verb, kind, &key)) {
            self.trace.record(
                self.now,
                "operator",
                verb.as_str(),
                format_args!("{kind} {key}"),
                format_args!("-> {} (injected)", e.class()),
            );
            return from_cluster_error(&e, false);
        }
        let answer = match (req.method.as_str(), &target.name) {
            ("GET", Some(_)) => match self.world.get(kind, &key) {
                Some(o) => reply(200, to_json(o)),
                None => from_cluster_error(&ClusterError::NotFound { kind, key: key.clone() }, false),
            },
            ("GET", None) => match Self::list_query(req) {
                Err(r) => r,
                Ok(q) if q.watch => self.watch(Res::Typed(kind), target.namespace.clone(), q),
                Ok(q) => self.list_typed(kind, target, &q),
            },
            ("POST", None) => match body_json(req) {
                Err(r) => r,
                Ok(body) => self.write_typed(kind, target, Verb::Create, body, |st, v| {
                    from_json(kind, v)
                        .map_err(|m| ClusterError::Invalid { kind, key: key.clone(), message: m })
                        .and_then(|o| st.world.create(o, st.now))
                }),
            },
            ("PUT", Some(_)) => {
                let sub = if target.status { Subresource::Status } else { Subresource::Main };
                match body_json(req) {
                    Err(r) => r,
                    Ok(body) => self.write_typed(kind, target, verb, body, |st, v| {
                        from_json(kind, v)
                            .map_err(|m| ClusterError::Invalid { kind, key: key.clone(), message: m })
                            .and_then(|o| st.world.update(o, sub, st.now))
                    }),
                }
            }
            ("PATCH", Some(_)) => self.patch_typed(req, target, kind, &key),
            ("DELETE", Some(_)) => self.delete_typed(req, kind, &key),
            _ => failure(
                405,
                "MethodNotAllowed",
                format!("{} is not supported on {}", req.method, req.path),
                kind.as_str(),
                &key.name,
            ),
        };
        if injected.is_some_and(InjectedError::after_apply) && verb.is_write() {
            self.trace.record(
                self.now,
                "operator",
                verb.as_str(),
                format_args!("{kind} {key}"),
                format_args!("-> Transient after apply (injected)"),
            );
            return from_cluster_error(&transient("injected timeout after apply"), true);
        }
        answer
    }

    fn list_typed(&mut self, kind: Kind, target: &Target, q: &ListQuery) -> ApiReply {
        let objs = match &target.namespace {
            Some(ns) => self.world.list(kind, ns, &Labels::new()),
            None => self.world.list_all(kind),
        };
        let items: Vec<Value> = objs
            .iter()
            .filter(|o| {
                q.labels.matches(o.meta().labels.as_ref()) && q.fields.matches(&o.key().namespace, &o.key().name)
            })
            .map(to_json)
            .collect();
        let info = target.info;
        reply(
            200,
            json!({"kind": format!("{}List", info.kind), "apiVersion": info.api_version(),
                   "metadata": {"resourceVersion": self.world.resource_version().to_string()}, "items": items}),
        )
    }

    /// Runs a write through the world, traces it, routes its changes, and answers.
    fn write_typed(
        &mut self,
        kind: Kind,
        target: &Target,
        verb: Verb,
        body: Value,
        write: impl FnOnce(&mut State, Value) -> Result<Obj, ClusterError>,
    ) -> ApiReply {
        let v = match place(body, target) {
            Ok(v) => v,
            Err(r) => return r,
        };
        let key = ObjectKey::new(
            target.namespace.clone().unwrap_or_default(),
            v["metadata"]["name"].as_str().unwrap_or_default(),
        );
        let result = write(self, v);
        let response = match &result {
            Ok(o) => Response::Written(o.clone()),
            Err(e) => Response::Failed(e.clone()),
        };
        self.trace_request(&Actor::External, verb, kind, &key, &response);
        self.commit(&Actor::External);
        match result {
            Ok(o) => {
                if kind == Kind::BackupSchedule && verb == Verb::UpdateStatus {
                    self.checker.after_schedule_reconcile(&self.world, &key, self.now, &mut self.trace);
                }
                reply(if verb == Verb::Create { 201 } else { 200 }, to_json(&o))
            }
            Err(e) => from_cluster_error(&e, false),
        }
    }

    fn patch_typed(&mut self, req: &ApiRequest, target: &Target, kind: Kind, key: &ObjectKey) -> ApiReply {
        let Some(current) = self.world.get(kind, key).cloned() else {
            return from_cluster_error(&ClusterError::NotFound { kind, key: key.clone() }, false);
        };
        let mut doc = to_json(&current);
        if let Err(m) = apply_patch(&mut doc, req.content_type.as_deref(), &req.body) {
            return failure(415, "UnsupportedMediaType", m, kind.as_str(), &key.name);
        }
        let sub = if target.status { Subresource::Status } else { Subresource::Main };
        let verb = if target.status { Verb::UpdateStatus } else { Verb::Update };
        let key = key.clone();
        self.write_typed(kind, target, verb, doc, |st, v| {
            from_json(kind, v)
                .map_err(|m| ClusterError::Invalid { kind, key: key.clone(), message: m })
                .and_then(|o| st.world.update(o, sub, st.now))
        })
    }

    fn delete_typed(&mut self, req: &ApiRequest, kind: Kind, key: &ObjectKey) -> ApiReply {
        let opts: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        let policy = opts["propagationPolicy"]
            .as_str()
            .or(req.query.get("propagationPolicy").map(String::as_str))
            .unwrap_or("Background");
        match policy {
            "Background" => {}
            "Orphan" => self.orphan_dependents(kind, key),
            other => {
                let message = format!(
                    "propagationPolicy: {other:?} is not supported by the simulated API server (Background and Orphan are)"
                );
                return failure(422, "Invalid", message, kind.as_str(), &key.name);
            }
        }
        let pre = Precondition {
            uid: opts["preconditions"]["uid"].as_str().map(str::to_string),
            resource_version: opts["preconditions"]["resourceVersion"].as_str().map(str::to_string),
        };
        let result = self.world.delete(kind, key, &pre, self.now);
        let response = match &result {
            Ok(d) => Response::Deleted(d.clone()),
            Err(e) => Response::Failed(e.clone()),
        };
        self.trace_request(&Actor::External, Verb::Delete, kind, key, &response);
        self.commit(&Actor::External);
        match result {
            Ok(Deletion::Pending(o)) => reply(200, to_json(&o)),
            Ok(Deletion::Gone) => reply(
                200,
                json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                       "details": {"name": key.name, "kind": kind.as_str()}}),
            ),
            Err(e) => from_cluster_error(&e, false),
        }
    }

    /// Orphan propagation: the dependents of `kind`/`key` lose their owner reference to it, so the garbage collector
    /// leaves them.
    fn orphan_dependents(&mut self, kind: Kind, key: &ObjectKey) {
        let Some(uid) = self.world.get(kind, key).and_then(|o| o.meta().uid.clone()) else { return };
        for dependent_kind in [Kind::Backup, Kind::Restore, Kind::BackupSchedule, Kind::Job, Kind::Pod] {
            let owned: Vec<Obj> = self
                .world
                .list_all(dependent_kind)
                .into_iter()
                .filter(|o| o.meta().owner_references.iter().flatten().any(|r| r.uid == uid))
                .collect();
            for o in owned {
                let orphan = o.with_meta(|m| {
                    if let Some(refs) = m.owner_references.as_mut() {
                        refs.retain(|r| r.uid != uid);
                    }
                });
                let result = self.world.update(orphan, Subresource::Main, self.now);
                let response = match &result {
                    Ok(o) => Response::Written(o.clone()),
                    Err(e) => Response::Failed(e.clone()),
                };
                self.trace_request(&Actor::Gc, Verb::Update, dependent_kind, &o.key(), &response);
            }
        }
        self.commit(&Actor::Gc);
    }

    fn api_dynamic(&mut self, req: &ApiRequest, target: &Target, served: DynKind) -> ApiReply {
        let ns = target.namespace.clone().unwrap_or_default();
        let key = ObjectKey::new(&ns, target.name.clone().unwrap_or_default());
        let name = target.info.kind;
        // Core v1 Events are a view of the stored events.k8s.io/v1 ones.
        let core = served == DynKind::CoreEvent;
        let kind = stored(served);
        let view = |v: &Value| if core { event_view::to_core(v) } else { v.clone() };
        let unview = |v: Value| if core { event_view::from_core(&v) } else { v };
        let answer = match (req.method.as_str(), &target.name) {
            ("GET", Some(_)) => match self.world.dyn_get(kind, &key) {
                Some(v) => reply(200, view(&v)),
                None => from_dyn_error(&DynError::NotFound(key.clone()), name),
            },
            ("GET", None) => match Self::list_query(req) {
                Err(r) => r,
                Ok(q) if q.watch => self.watch(Res::Dyn(served), target.namespace.clone(), q),
                Ok(q) => {
                    let items: Vec<Value> = self
                        .world
                        .dyn_list(kind, target.namespace.as_deref())
                        .iter()
                        .filter(|v| q.selects(v))
                        .map(|v| view(v))
                        .collect();
                    reply(
                        200,
                        json!({"kind": format!("{}List", target.info.kind), "apiVersion": target.info.api_version(),
                                      "metadata": {"resourceVersion": self.world.resource_version().to_string()}, "items": items}),
                    )
                }
            },
            ("POST", None) => match body_json(req).and_then(|v| place(v, target)) {
                Err(r) => r,
                Ok(v) => match self.world.dyn_create(kind, unview(v), self.now) {
                    Ok(v) => reply(201, view(&v)),
                    Err(e) => from_dyn_error(&e, name),
                },
            },
            ("PUT", Some(_)) => match body_json(req).and_then(|v| place(v, target)) {
                Err(r) => r,
                Ok(v) => match self.world.dyn_update(kind, unview(v)) {
                    Ok(v) => reply(200, view(&v)),
                    Err(e) => from_dyn_error(&e, name),
                },
            },
            ("PATCH", Some(_)) => {
                let apply = req.content_type.as_deref().is_some_and(|c| c.starts_with("application/apply-patch"));
                match self.world.dyn_get(kind, &key) {
                    None if apply => {
                        let mut doc = json!({"apiVersion": target.info.api_version(), "kind": target.info.kind, "metadata": {"name": key.name, "namespace": key.namespace}});
                        match apply_patch(&mut doc, req.content_type.as_deref(), &req.body) {
                            Err(m) => failure(415, "UnsupportedMediaType", m, name, &key.name),
                            Ok(()) => match self.world.dyn_create(kind, unview(doc), self.now) {
                                Ok(v) => reply(201, view(&v)),
                                Err(e) => from_dyn_error(&e, name),
                            },
                        }
                    }
                    None => from_dyn_error(&DynError::NotFound(key.clone()), name),
                    Some(current) => {
                        let mut doc = view(&current);
                        let sent_rv = serde_json::from_slice::<Value>(&req.body)
                            .ok()
                            .and_then(|p| p["metadata"]["resourceVersion"].as_str().map(str::to_string));
                        match apply_patch(&mut doc, req.content_type.as_deref(), &req.body) {
                            Err(m) => failure(415, "UnsupportedMediaType", m, name, &key.name),
                            Ok(()) => {
                                if sent_rv.is_none() {
                                    doc["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"].clone();
                                }
                                match self.world.dyn_update(kind, unview(doc)) {
                                    Ok(v) => reply(200, view(&v)),
                                    Err(e) => from_dyn_error(&e, name),
                                }
                            }
                        }
                    }
                }
            }
            ("DELETE", Some(_)) => match self.world.dyn_delete(kind, &key) {
                Ok(v) => reply(200, view(&v)),
                Err(e) => from_dyn_error(&e, name),
            },
            _ => failure(
                405,
                "MethodNotAllowed",
                format!("{} is not supported on {}", req.method, req.path),
                name,
                &key.name,
            ),
        };
        self.publish_dyn_changes();
        answer
    }
}
