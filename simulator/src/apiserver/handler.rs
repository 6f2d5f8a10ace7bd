//! Serves one API request from the world: get, list, create, update, patch (merge, JSON, strategic, apply) and
//! delete, with the API faults of the scenario, the world's own rules (names, resourceVersions, finalizers,
//! subresources) and the same tracing, stats and invariant checks as the simulated operator's requests.

use operator::cluster::{ClusterError, Deletion, Kind, Labels, ObjectKey, Precondition, Verb};
use serde_json::{Value, json};

pub use super::decode::to_json;
use super::decode::{cause_of, decode};
use super::discovery;
use super::event_view;
use super::request::{ApiRequest, ListQuery, Route, Target, route};
use super::resources::{DynKind, Res, ResourceInfo};
use super::status::{self, Cause};
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
    /// An answer with `Warning` headers (unknown fields the schema dropped).
    Warned {
        status: u16,
        body: Value,
        warnings: Vec<String>,
    },
    /// A watch: the stream of JSON lines follows on this channel until the watch ends.
    Watch(tokio::sync::mpsc::UnboundedReceiver<bytes::Bytes>),
}

fn reply(status: u16, body: Value) -> ApiReply {
    ApiReply::Json { status, body }
}

fn answer((status, body): (u16, Value)) -> ApiReply {
    ApiReply::Json { status, body }
}

/// `reply` with the warnings, if any.
fn warned(reply: ApiReply, warnings: Vec<String>) -> ApiReply {
    match reply {
        ApiReply::Json { status, body } if !warnings.is_empty() => ApiReply::Warned { status, body, warnings },
        other => other,
    }
}

/// A `metav1.Status` failure.
pub fn failure(code: u16, reason: &str, message: impl Into<String>, kind: &str, name: &str) -> ApiReply {
    reply(
        code,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message.into(),
               "reason": reason, "details": {"name": name, "kind": kind}, "code": code}),
    )
}

/// The answer to a refused request on `info`'s objects, worded as kube-apiserver words it.
fn from_cluster_error(e: &ClusterError, after_apply: bool, info: &ResourceInfo) -> ApiReply {
    match e {
        ClusterError::NotFound { key, .. } => answer(status::not_found(info, &key.name)),
        ClusterError::AlreadyExists { key, .. } => answer(status::already_exists(info, &key.name)),
        ClusterError::Conflict { key, .. } => answer(status::conflict(info, &key.name)),
        ClusterError::Invalid { key, message, .. } => {
            let (code, mut body) = status::invalid(info, &key.name, &[cause_of(message)]);
            // kube-apiserver names the resource, not the kind, when an update lacks its resourceVersion.
            if message.starts_with("metadata.resourceVersion:") {
                body["details"]["kind"] = json!(info.plural);
                body["message"] = json!(body["message"].as_str().unwrap_or_default().replacen(
                    &status::qualified_kind(info),
                    &status::resource(info),
                    1
                ));
            }
            answer((code, body))
        }
        ClusterError::Forbidden { kind, key, .. } => failure(403, "Forbidden", e.to_string(), kind.as_str(), &key.name),
        ClusterError::Transient { kind, key, .. } => {
            let (code, reason) = if after_apply { (504, "Timeout") } else { (500, "InternalError") };
            failure(code, reason, e.to_string(), kind.as_str(), &key.name)
        }
    }
}

fn from_dyn_error(e: &DynError, kind: &str) -> ApiReply {
    match e {
        DynError::NotFound(key) => failure(404, "NotFound", e.to_string(), kind, &key.name),
        DynError::AlreadyExists(key) => failure(409, "AlreadyExists", e.to_string(), kind, &key.name),
        DynError::Conflict { key, .. } => failure(409, "Conflict", e.to_string(), kind, &key.name),
        DynError::Invalid { key, .. } => failure(422, "Invalid", e.to_string(), kind, &key.name),
        DynError::Forbidden { key, .. } => failure(403, "Forbidden", e.to_string(), kind, &key.name),
    }
}

/// Where a served kind's objects are stored: core v1 Events live with the events.k8s.io/v1 ones.
pub fn stored(kind: DynKind) -> DynKind {
    match kind {
        DynKind::CoreEvent => DynKind::Event,
        other => other,
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

/// Why a patch was not applied.
#[derive(Debug, thiserror::Error)]
pub enum PatchError {
    #[error("the patch cannot be read: {0}")]
    Unreadable(String),
    #[error("the JSON patch does not apply: {0}")]
    DoesNotApply(String),
    #[error("unsupported patch content type {0:?}")]
    Unsupported(String),
}

/// Applies a PATCH body to `doc` by its content type.
pub fn apply_patch(doc: &mut Value, content_type: Option<&str>, body: &[u8]) -> Result<(), PatchError> {
    let ct = content_type.unwrap_or("").split(';').next().unwrap_or("").trim();
    match ct {
        "application/json-patch+json" => {
            let patch: json_patch::Patch =
                serde_json::from_slice(body).map_err(|e| PatchError::Unreadable(format!("invalid JSON patch: {e}")))?;
            json_patch::patch(doc, &patch).map_err(|e| PatchError::DoesNotApply(e.to_string()))
        }
        // Strategic merge and server-side apply are taken as merge patches: the objects served here have no list
        // fields whose merge keys would make a difference to what clients send.
        "application/merge-patch+json" | "application/strategic-merge-patch+json" | "application/apply-patch+yaml" => {
            let patch: Value = serde_json::from_slice(body)
                .or_else(|_| serde_saphyr::from_slice::<Value>(body).map_err(|e| e.to_string()))
                .map_err(PatchError::Unreadable)?;
            crate::steps::merge_patch(doc, &patch);
            Ok(())
        }
        other => Err(PatchError::Unsupported(other.to_string())),
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
                return Err(answer(status::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                )));
            }
            _ => {
                meta.insert("namespace".into(), Value::String(ns.clone()));
            }
        }
    }
    if let Some(name) = &target.name {
        match meta.get("name").and_then(Value::as_str) {
            Some(given) if given != name => {
                return Err(answer(status::bad_request(format!(
                    "the name of the object ({given}) does not match the name on the URL ({name})"
                ))));
            }
            _ => {
                meta.insert("name".into(), Value::String(name.clone()));
            }
        }
    }
    Ok(v)
}

/// The continue token of a page that ended at `last` (opaque to clients: hex of `namespace/name`).
fn page_token(last: &ObjectKey) -> String {
    format!("{}/{}", last.namespace, last.name).bytes().map(|b| format!("{b:02x}")).collect()
}

/// The key a continue token starts after; `None` if it is not one of ours.
fn page_start(token: &str) -> Option<ObjectKey> {
    let bytes: Option<Vec<u8>> =
        (0..token.len()).step_by(2).map(|i| token.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok())).collect();
    let text = String::from_utf8(bytes?).ok()?;
    let (ns, name) = text.split_once('/')?;
    Some(ObjectKey::new(ns, name))
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
            Route::OpenApiIndex => return reply(200, super::openapi::index()),
            Route::OpenApi { group, version } => {
                return match super::openapi::document(&group, &version) {
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

    fn list_query(req: &ApiRequest, info: &ResourceInfo) -> Result<ListQuery, ApiReply> {
        let q =
            ListQuery::parse(&req.query, req.accept.as_deref()).map_err(|e| answer(status::bad_request(e.problem)))?;
        let supported = super::selector::supported_fields(info.kind, info.group);
        if let Some(f) =
            q.fields.fields().find(|f| !["metadata.name", "metadata.namespace"].contains(f) && !supported.contains(f))
        {
            return Err(answer(status::bad_request(format!("field label not supported: {f}"))));
        }
        Ok(q)
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
            return from_cluster_error(&e, false, target.info);
        }
        let answer = match (req.method.as_str(), &target.name) {
            ("GET", Some(_)) => match self.world.get(kind, &key) {
                Some(o) => reply(200, to_json(o)),
                None => answer(status::not_found(target.info, &key.name)),
            },
            ("GET", None) => match Self::list_query(req, target.info) {
                Err(r) => r,
                Ok(q) if q.watch => self.watch(Res::Typed(kind), target.namespace.clone(), q),
                Ok(q) => self.list_typed(kind, target, &q),
            },
            ("POST", None) => match body_json(req).and_then(|b| place(b, target)) {
                Err(r) => r,
                Ok(body) => self.create_typed(req, target, kind, body),
            },
            ("PUT", Some(_)) => {
                let sub = if target.status { Subresource::Status } else { Subresource::Main };
                match body_json(req).and_then(|b| place(b, target)) {
                    Err(r) => r,
                    Ok(v) => match decode(req, target, kind, &v) {
                        Err(e) => answer(e),
                        Ok((obj, warnings)) => warned(
                            self.write_typed(kind, target, verb, v, |st, _| st.world.update(obj, sub, st.now)),
                            warnings,
                        ),
                    },
                }
            }
            ("PATCH", Some(_)) => self.patch_typed(req, target, kind, &key),
            ("DELETE", Some(_)) => self.delete_typed(req, target, kind, &key),
            ("DELETE", None) => self.delete_collection(req, target, kind),
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
            return from_cluster_error(&transient("injected timeout after apply"), true, target.info);
        }
        answer
    }

    fn list_typed(&mut self, kind: Kind, target: &Target, q: &ListQuery) -> ApiReply {
        let objs = match &target.namespace {
            Some(ns) => self.world.list(kind, ns, &Labels::new()),
            None => self.world.list_all(kind),
        };
        let after = match q.continue_after.as_deref().map(page_start) {
            Some(Some(key)) => Some(key),
            Some(None) => return answer(status::bad_request("continue key is not valid: incorrect encoded start key")),
            None => None,
        };
        let mut items: Vec<(ObjectKey, Value)> = objs
            .iter()
            .filter(|o| after.as_ref().is_none_or(|a| o.key() > *a) && q.labels.matches(o.meta().labels.as_ref()))
            .map(|o| (o.key(), to_json(o)))
            .filter(|(_, v)| q.fields.matches_json(v))
            .collect();
        let info = target.info;
        let mut metadata = json!({"resourceVersion": self.world.resource_version().to_string()});
        if let Some(limit) = q.limit
            && items.len() > limit
        {
            let rest = items.split_off(limit);
            metadata["continue"] = json!(page_token(&items[limit - 1].0));
            if q.labels.0.is_empty() && q.fields.0.is_empty() {
                metadata["remainingItemCount"] = json!(rest.len());
            }
        }
        let items: Vec<Value> = items.into_iter().map(|(_, v)| v).collect();
        reply(
            200,
            json!({"kind": format!("{}List", info.kind), "apiVersion": info.api_version(),
                   "metadata": metadata, "items": items}),
        )
    }

    /// Creates an object: its generated name drawn, decoded and validated as kube-apiserver does.
    fn create_typed(&mut self, req: &ApiRequest, target: &Target, kind: Kind, mut v: Value) -> ApiReply {
        let prefix = v["metadata"]["generateName"].as_str().filter(|g| !g.is_empty()).map(str::to_string);
        if let Some(prefix) = prefix
            && v["metadata"]["name"].as_str().is_none_or(str::is_empty)
        {
            let prefix: String = prefix.chars().take(58).collect();
            v["metadata"]["name"] = json!(format!("{prefix}{}", crate::rng::suffix(&mut self.rngs.api, 5)));
        }
        match decode(req, target, kind, &v) {
            Err(e) => answer(e),
            Ok((obj, warnings)) => {
                warned(self.write_typed(kind, target, Verb::Create, v, |st, _| st.world.create(obj, st.now)), warnings)
            }
        }
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
            Err(e) => from_cluster_error(&e, false, target.info),
        }
    }

    fn patch_typed(&mut self, req: &ApiRequest, target: &Target, kind: Kind, key: &ObjectKey) -> ApiReply {
        let content_type = req.content_type.as_deref().unwrap_or("").split(';').next().unwrap_or("").trim();
        let custom = matches!(kind, Kind::Backup | Kind::Restore | Kind::BackupSchedule | Kind::CompactBackup);
        if custom && content_type == "application/strategic-merge-patch+json" {
            return answer(status::unsupported_patch(true));
        }
        if content_type == "application/apply-patch+yaml" && req.query.get("fieldManager").is_none_or(String::is_empty)
        {
            return answer(status::apply_needs_field_manager());
        }
        let Some(current) = self.world.get(kind, key).cloned() else {
            return answer(status::not_found(target.info, &key.name));
        };
        let mut doc = to_json(&current);
        match apply_patch(&mut doc, req.content_type.as_deref(), &req.body) {
            Ok(()) => {}
            Err(PatchError::DoesNotApply(_)) => return answer(status::patch_does_not_apply()),
            Err(PatchError::Unreadable(m)) => return answer(status::bad_request(m)),
            Err(PatchError::Unsupported(_)) => return answer(status::unsupported_patch(custom)),
        }
        let sub = if target.status { Subresource::Status } else { Subresource::Main };
        let verb = if target.status { Verb::UpdateStatus } else { Verb::Update };
        match decode(req, target, kind, &doc) {
            Err(e) => answer(e),
            Ok((obj, warnings)) => {
                warned(self.write_typed(kind, target, verb, doc, |st, _| st.world.update(obj, sub, st.now)), warnings)
            }
        }
    }

    /// `deletecollection`: every object of the collection the selectors choose, deleted in the background; the
    /// answer lists them as they were (or as they are, marked, when finalizers hold them).
    fn delete_collection(&mut self, req: &ApiRequest, target: &Target, kind: Kind) -> ApiReply {
        let q = match Self::list_query(req, target.info) {
            Ok(q) => q,
            Err(r) => return r,
        };
        let objs = match &target.namespace {
            Some(ns) => self.world.list(kind, ns, &Labels::new()),
            None => self.world.list_all(kind),
        };
        let mut items = Vec::new();
        for o in objs {
            let v = to_json(&o);
            if !q.labels.matches(o.meta().labels.as_ref()) || !q.fields.matches_json(&v) {
                continue;
            }
            let key = o.key();
            let result = self.world.delete(kind, &key, &Precondition::default(), self.now);
            let response = match &result {
                Ok(d) => Response::Deleted(d.clone()),
                Err(e) => Response::Failed(e.clone()),
            };
            self.trace_request(&Actor::External, Verb::Delete, kind, &key, &response);
            match result {
                Ok(Deletion::Pending(marked)) => items.push(to_json(&marked)),
                Ok(Deletion::Gone) => items.push(v),
                Err(_) => {}
            }
        }
        self.commit(&Actor::External);
        let info = target.info;
        reply(
            200,
            json!({"kind": format!("{}List", info.kind), "apiVersion": info.api_version(),
                   "metadata": {"resourceVersion": self.world.resource_version().to_string()}, "items": items}),
        )
    }

    fn delete_typed(&mut self, req: &ApiRequest, target: &Target, kind: Kind, key: &ObjectKey) -> ApiReply {
        let opts: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        let policy = opts["propagationPolicy"]
            .as_str()
            .or(req.query.get("propagationPolicy").map(String::as_str))
            .unwrap_or("Background");
        let finalizer = match policy {
            "Background" => None,
            "Orphan" => Some("orphan"),
            "Foreground" => Some("foregroundDeletion"),
            other => {
                let cause = Cause {
                    field: "propagationPolicy".into(),
                    reason: "FieldValueNotSupported",
                    message: format!(
                        "Unsupported value: {other:?}: supported values: \"Foreground\", \"Background\", \"Orphan\""
                    ),
                };
                return answer(status::invalid(target.info, &key.name, &[cause]));
            }
        };
        let pre = Precondition {
            uid: opts["preconditions"]["uid"].as_str().map(str::to_string),
            resource_version: opts["preconditions"]["resourceVersion"].as_str().map(str::to_string),
        };
        let current = self.world.get(kind, key).cloned();
        if let Some(current) = &current {
            let m = current.meta();
            let checks = [
                ("UID", &pre.uid, m.uid.as_deref()),
                ("ResourceVersion", &pre.resource_version, m.resource_version.as_deref()),
            ];
            for (what, wanted, found) in checks {
                if let Some(wanted) = wanted
                    && Some(wanted.as_str()) != found
                {
                    return answer(status::precondition(target.info, &key.name, what, wanted, found.unwrap_or("")));
                }
            }
        }
        // Orphan and Foreground propagation: the owner waits, with the collector's finalizer, for the collector to
        // release or delete its dependents (kind Pod has graceful deletion of its own and is left to it).
        let mut propagate = None;
        if let (Some(finalizer), Some(current)) = (finalizer, &current)
            && current.meta().deletion_timestamp.is_none()
            && kind != Kind::Pod
        {
            let held = current.with_meta(|m| {
                let f = m.finalizers.get_or_insert_with(Vec::new);
                if !f.iter().any(|x| x == finalizer) {
                    f.push(finalizer.into());
                }
            });
            if let Err(e) = self.world.update(held, Subresource::Main, self.now) {
                return from_cluster_error(&e, false, target.info);
            }
            propagate = current.meta().uid.clone().map(|uid| (uid, finalizer == "orphan"));
        }
        let result = self.world.delete(kind, key, &pre, self.now);
        let response = match &result {
            Ok(d) => Response::Deleted(d.clone()),
            Err(e) => Response::Failed(e.clone()),
        };
        self.trace_request(&Actor::External, Verb::Delete, kind, key, &response);
        self.commit(&Actor::External);
        if let Some((uid, orphan)) = propagate {
            let d = crate::rng::draw(&mut self.rngs.kubelet, self.timing.gc.lo, self.timing.gc.hi);
            self.after(d, crate::engine::Event::GcPropagate { kind, key: key.clone(), uid, orphan });
        }
        match result {
            Ok(Deletion::Pending(o)) => reply(200, to_json(&o)),
            Ok(Deletion::Gone) => reply(
                200,
                json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                       "details": {"name": key.name, "kind": kind.as_str()}}),
            ),
            Err(e) => from_cluster_error(&e, false, target.info),
        }
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
            ("GET", None) => match Self::list_query(req, target.info) {
                Err(r) => r,
                Ok(q) if q.watch => self.watch(Res::Dyn(served), target.namespace.clone(), q),
                Ok(q) => {
                    let items: Vec<Value> = self
                        .world
                        .dyn_list(kind, target.namespace.as_deref())
                        .iter()
                        .map(|v| view(v))
                        .filter(|v| q.selects(v))
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
                            Err(m) => failure(415, "UnsupportedMediaType", m.to_string(), name, &key.name),
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
                            Err(m) => failure(415, "UnsupportedMediaType", m.to_string(), name, &key.name),
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
