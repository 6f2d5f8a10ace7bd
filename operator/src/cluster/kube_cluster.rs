//! `KubeCluster`: the `Cluster` trait over kube-rs, for production. Cache reads come from the controller's
//! reflector stores, live reads and writes from the API server, Events go through kube-runtime's `Recorder`.
//!
//! Each trait method is exactly one API request, so the RBAC a method needs is fixed (see `runtime::rbac`):
//!
//! | method | request | RBAC verb |
//! |---|---|---|
//! | `get` | `GET .../<plural>/<name>` | get |
//! | `list` | `GET .../<plural>?labelSelector=...` (no resourceVersion: a quorum read) | list |
//! | `create` | `POST .../<plural>` | create |
//! | `replace` | `PUT .../<plural>/<name>` with the object's resourceVersion | update |
//! | `replace_status` | `PUT .../<plural>/<name>/status` with the object's resourceVersion | update on `<plural>/status` |
//! | `delete` | `DELETE .../<plural>/<name>`, background propagation, optional uid/resourceVersion preconditions | delete |
//! | `publish` | `POST events.k8s.io/v1 events` (a repeat within minutes: `PATCH` of the series) | create, patch |
//!
//! Finalizers are changed with `replace`, which is conditional on the resourceVersion: a concurrent writer makes
//! it fail with `Conflict` (the reconciler re-reads and plans again) instead of being clobbered.

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::ObjectReference;
use kube::api::{Api, DeleteParams, ListParams, PostParams, Preconditions, PropagationPolicy};
use kube::core::Status;
use kube::runtime::events::{Event as KubeEvent, EventType as KubeEventType, Recorder};
use kube::runtime::reflector::{ObjectRef, Store};
use std::any::Any;
use std::sync::Arc;

use crate::api::{Backup, BackupSchedule, CompactBackup, Restore};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;

use super::{
    Cluster, ClusterError, Deletion, Event, EventType, KeyRef, Kind, Labels, Object, ObjectKey, Precondition, Verb,
    labels_match,
};

/// The Events API limit on `note` (bytes).
const NOTE_LIMIT: usize = 1024;

/// The reflector stores a controller reads its cache from; a kind without a store reads as empty.
#[derive(Clone, Default)]
pub struct Stores {
    pub backups: Option<Store<Backup>>,
    pub restores: Option<Store<Restore>>,
    pub schedules: Option<Store<BackupSchedule>>,
    pub compacts: Option<Store<CompactBackup>>,
    pub jobs: Option<Store<Job>>,
    pub pods: Option<Store<Pod>>,
}

/// Where `now()` comes from: the wall clock in production; injectable so tests can run on simulated time.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// A `Cluster` backed by a Kubernetes API server.
#[derive(Clone)]
pub struct KubeCluster {
    client: kube::Client,
    stores: Stores,
    recorder: Option<Recorder>,
    clock: Clock,
}

fn wall_clock() -> Clock {
    Arc::new(Utc::now)
}

/// `Arc<T>` as `Arc<K>` when they are the same type.
fn cast<K: Object, T: Object>(a: Arc<T>) -> Option<Arc<K>> {
    (&a as &dyn Any).downcast_ref::<Arc<K>>().cloned()
}

/// The error class of an API `Status`, as the trait names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusClass {
    NotFound,
    AlreadyExists,
    Conflict,
    Invalid,
    /// Only the namespace-lifecycle refusal (a create in a namespace being terminated).
    NamespaceTerminating,
    /// Everything else, including RBAC denials (403 without the NamespaceTerminating cause), quota refusals and
    /// 401: retried with backoff, never taken as a decision by the reconcilers.
    Transient,
}

/// Classifies an error `Status` by its machine-readable reason first and its HTTP code second, as client-go does.
/// kube-rs keeps the body's `code`, which is 0 when a body parsed as a Status without one.
pub fn classify(status: &Status) -> StatusClass {
    use kube::core::response::reason;
    let terminating =
        status.details.as_ref().is_some_and(|d| d.causes.iter().any(|c| c.reason == "NamespaceTerminating"))
            || status.message.contains("because it is being terminated");
    match status.reason.as_str() {
        reason::NOT_FOUND => StatusClass::NotFound,
        reason::ALREADY_EXISTS => StatusClass::AlreadyExists,
        reason::CONFLICT => StatusClass::Conflict,
        reason::INVALID | reason::BAD_REQUEST => StatusClass::Invalid,
        reason::FORBIDDEN if terminating => StatusClass::NamespaceTerminating,
        r if reason::is_known(r) && !r.is_empty() => StatusClass::Transient,
        _ => match status.code {
            404 => StatusClass::NotFound,
            409 => StatusClass::Conflict,
            400 | 422 => StatusClass::Invalid,
            403 if terminating => StatusClass::NamespaceTerminating,
            _ => StatusClass::Transient,
        },
    }
}

/// An error and its sources on one line: `a: b: c`.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cur = s.source();
    }
    out
}

/// Maps a kube-rs error to the trait's typed error.
pub fn map_error(e: kube::Error, verb: Verb, kind: Kind, key: &ObjectKey) -> ClusterError {
    let key = key.clone();
    match e {
        kube::Error::Api(s) => {
            let message = s.message.clone();
            match classify(&s) {
                StatusClass::NotFound => ClusterError::NotFound { kind, key },
                StatusClass::AlreadyExists => ClusterError::AlreadyExists { kind, key },
                StatusClass::Conflict => ClusterError::Conflict { kind, key, message },
                StatusClass::Invalid => ClusterError::Invalid { kind, key, message },
                StatusClass::NamespaceTerminating => ClusterError::Forbidden { verb, kind, key, message },
                StatusClass::Transient => {
                    let reason = if s.reason.is_empty() { String::new() } else { format!(" {}", s.reason) };
                    ClusterError::Transient { verb, kind, key, message: format!("HTTP {}{reason}: {message}", s.code) }
                }
            }
        }
        other => ClusterError::Transient { verb, kind, key, message: error_chain(&other) },
    }
}

/// The label selector string (`a=b,c=d`) of an equality selector.
pub fn selector_string(selector: &Labels) -> String {
    selector.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
}

/// `note` cut to the Events API limit at a character boundary.
pub fn truncate_note(message: &str) -> String {
    if message.len() <= NOTE_LIMIT {
        return message.to_string();
    }
    let mut end = NOTE_LIMIT;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    message[..end].to_string()
}

/// The reference an Event about `event` regards.
pub fn event_reference(event: &Event) -> ObjectReference {
    ObjectReference {
        api_version: Some(match event.kind {
            Kind::Job => "batch/v1".into(),
            Kind::Pod => "v1".into(),
            _ => format!("{}/{}", crate::api::GROUP, crate::api::VERSION),
        }),
        kind: Some(event.kind.as_str().into()),
        namespace: Some(event.key.namespace.clone()),
        name: Some(event.key.name.clone()),
        uid: event.uid.clone(),
        ..Default::default()
    }
}

impl KubeCluster {
    /// A cluster with the controller's stores and Event recorder.
    pub fn new(client: kube::Client, stores: Stores, recorder: Option<Recorder>) -> Self {
        KubeCluster { client, stores, recorder, clock: wall_clock() }
    }

    /// Live reads and writes only (backup-manager): cache reads see nothing, Events are logged.
    pub fn live(client: kube::Client) -> Self {
        KubeCluster::new(client, Stores::default(), None)
    }

    /// Replaces the clock (tests on simulated time).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    fn api<K: Object>(&self, namespace: &str) -> Api<K> {
        Api::namespaced(self.client.clone(), namespace)
    }

    fn store_get<K: Object, T: Object>(store: &Option<Store<T>>, key: KeyRef<'_>) -> Option<Arc<K>> {
        let store = store.as_ref()?;
        let obj = store.get(&ObjectRef::<T>::new(key.name).within(key.namespace))?;
        cast::<K, T>(obj)
    }

    fn store_list<K: Object, T: Object>(store: &Option<Store<T>>, namespace: &str, selector: &Labels) -> Vec<Arc<K>> {
        let Some(store) = store.as_ref() else { return Vec::new() };
        let mut items: Vec<Arc<T>> = store
            .state()
            .into_iter()
            .filter(|o| {
                o.meta().namespace.as_deref() == Some(namespace) && labels_match(o.meta().labels.as_ref(), selector)
            })
            .collect();
        items.sort_by(|a, b| a.meta().name.cmp(&b.meta().name));
        items.into_iter().filter_map(cast::<K, T>).collect()
    }

    /// Refuses an update without a resourceVersion: it would be unconditional and could clobber a concurrent write.
    fn require_resource_version<K: Object>(obj: &K, key: &ObjectKey) -> Result<(), ClusterError> {
        match obj.meta().resource_version.as_deref() {
            Some(rv) if !rv.is_empty() => Ok(()),
            _ => Err(ClusterError::Invalid {
                kind: K::KIND,
                key: key.clone(),
                message: "metadata.resourceVersion is required: updates are conditional".into(),
            }),
        }
    }
}

impl Cluster for KubeCluster {
    fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }

    fn cached<K: Object>(&self, key: KeyRef<'_>) -> Option<Arc<K>> {
        match K::KIND {
            Kind::Backup => Self::store_get::<K, Backup>(&self.stores.backups, key),
            Kind::Restore => Self::store_get::<K, Restore>(&self.stores.restores, key),
            Kind::BackupSchedule => Self::store_get::<K, BackupSchedule>(&self.stores.schedules, key),
            Kind::CompactBackup => Self::store_get::<K, CompactBackup>(&self.stores.compacts, key),
            Kind::Job => Self::store_get::<K, Job>(&self.stores.jobs, key),
            Kind::Pod => Self::store_get::<K, Pod>(&self.stores.pods, key),
        }
    }

    fn cached_list<K: Object>(&self, namespace: &str, selector: &Labels) -> Vec<Arc<K>> {
        match K::KIND {
            Kind::Backup => Self::store_list::<K, Backup>(&self.stores.backups, namespace, selector),
            Kind::Restore => Self::store_list::<K, Restore>(&self.stores.restores, namespace, selector),
            Kind::BackupSchedule => Self::store_list::<K, BackupSchedule>(&self.stores.schedules, namespace, selector),
            Kind::CompactBackup => Self::store_list::<K, CompactBackup>(&self.stores.compacts, namespace, selector),
            Kind::Job => Self::store_list::<K, Job>(&self.stores.jobs, namespace, selector),
            Kind::Pod => Self::store_list::<K, Pod>(&self.stores.pods, namespace, selector),
        }
    }

    async fn get<K: Object>(&self, key: &ObjectKey) -> Result<Option<Arc<K>>, ClusterError> {
        // Only the API server's own answer about this object means absence; a 404 without the NotFound reason
        // (the resource type is not served, a proxy) stays an error.
        match self.api::<K>(&key.namespace).get(&key.name).await {
            Ok(obj) => Ok(Some(Arc::new(obj))),
            Err(kube::Error::Api(s)) if s.reason == kube::core::response::reason::NOT_FOUND => Ok(None),
            Err(e) => Err(map_error(e, Verb::Get, K::KIND, key)),
        }
    }

    async fn list<K: Object>(&self, namespace: &str, selector: &Labels) -> Result<Vec<Arc<K>>, ClusterError> {
        let mut params = ListParams::default();
        if !selector.is_empty() {
            params = params.labels(&selector_string(selector));
        }
        let key = ObjectKey::new(namespace, "");
        let mut items =
            self.api::<K>(namespace).list(&params).await.map_err(|e| map_error(e, Verb::List, K::KIND, &key))?.items;
        items.sort_by(|a, b| a.meta().name.cmp(&b.meta().name));
        Ok(items.into_iter().map(Arc::new).collect())
    }

    async fn create<K: Object>(&self, obj: Arc<K>) -> Result<Arc<K>, ClusterError> {
        let key = ObjectKey::of(&*obj);
        self.api::<K>(&key.namespace)
            .create(&PostParams::default(), &*obj)
            .await
            .map(Arc::new)
            .map_err(|e| map_error(e, Verb::Create, K::KIND, &key))
    }

    async fn replace<K: Object>(&self, obj: Arc<K>) -> Result<Arc<K>, ClusterError> {
        let key = ObjectKey::of(&*obj);
        Self::require_resource_version(&*obj, &key)?;
        self.api::<K>(&key.namespace)
            .replace(&key.name, &PostParams::default(), &*obj)
            .await
            .map(Arc::new)
            .map_err(|e| map_error(e, Verb::Update, K::KIND, &key))
    }

    async fn replace_status<K: Object>(&self, obj: Arc<K>) -> Result<Arc<K>, ClusterError> {
        let key = ObjectKey::of(&*obj);
        Self::require_resource_version(&*obj, &key)?;
        self.api::<K>(&key.namespace)
            .replace_status(&key.name, &PostParams::default(), &*obj)
            .await
            .map(Arc::new)
            .map_err(|e| map_error(e, Verb::UpdateStatus, K::KIND, &key))
    }

    /// The API server answers a delete with the object when it stays (finalizers: it now carries a
    /// deletionTimestamp), and with the deleted object or a `Status` when it is gone at once.
    async fn delete<K: Object>(
        &self,
        key: &ObjectKey,
        precondition: &Precondition,
    ) -> Result<Deletion<K>, ClusterError> {
        let params = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            preconditions: (precondition.uid.is_some() || precondition.resource_version.is_some()).then(|| {
                Preconditions { uid: precondition.uid.clone(), resource_version: precondition.resource_version.clone() }
            }),
            ..DeleteParams::default()
        };
        match self.api::<K>(&key.namespace).delete(&key.name, &params).await {
            Ok(either) => Ok(match either.left() {
                Some(obj)
                    if obj.meta().finalizers.as_ref().is_some_and(|f| !f.is_empty())
                        && obj.meta().deletion_timestamp.is_some() =>
                {
                    Deletion::Pending(obj)
                }
                _ => Deletion::Gone,
            }),
            Err(e) => Err(map_error(e, Verb::Delete, K::KIND, key)),
        }
    }

    async fn publish(&self, event: Event) {
        let Some(recorder) = &self.recorder else {
            tracing::info!(kind = %event.kind, object = %event.key, reason = event.reason, "{}", event.message);
            return;
        };
        let reference = event_reference(&event);
        let kube_event = KubeEvent {
            type_: match event.type_ {
                EventType::Normal => KubeEventType::Normal,
                EventType::Warning => KubeEventType::Warning,
            },
            reason: event.reason.into(),
            note: Some(truncate_note(&event.message)),
            action: event.reason.into(),
            secondary: None,
        };
        if let Err(e) = recorder.publish(&kube_event, &reference).await {
            // The Event's words go to the log instead (a namespace being deleted refuses Events, and a
            // CleanSkipped names the data it leaves in storage).
            tracing::warn!(object = %event.key, reason = event.reason, note = %event.message, error = %error_chain(&e), "failed to publish an Event");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::response::{StatusCause, StatusDetails};

    fn status(code: u16, reason: &str, message: &str) -> Status {
        Status { code, reason: reason.into(), message: message.into(), ..Status::failure(message, reason) }
    }

    #[test]
    fn statuses_classify_by_reason_before_code() {
        assert_eq!(classify(&status(404, "NotFound", "")), StatusClass::NotFound);
        assert_eq!(classify(&status(409, "AlreadyExists", "")), StatusClass::AlreadyExists);
        assert_eq!(classify(&status(409, "Conflict", "")), StatusClass::Conflict);
        assert_eq!(classify(&status(422, "Invalid", "")), StatusClass::Invalid);
        assert_eq!(classify(&status(400, "BadRequest", "")), StatusClass::Invalid);
        assert_eq!(classify(&status(500, "InternalError", "")), StatusClass::Transient);
        assert_eq!(classify(&status(504, "Timeout", "")), StatusClass::Transient);
        assert_eq!(classify(&status(429, "TooManyRequests", "")), StatusClass::Transient);
        assert_eq!(classify(&status(401, "Unauthorized", "")), StatusClass::Transient);
        // A body without a reason (a proxy's plain text) falls back to the code.
        assert_eq!(classify(&status(404, "", "404 page not found")), StatusClass::NotFound);
        assert_eq!(classify(&status(409, "", "")), StatusClass::Conflict);
        assert_eq!(classify(&status(502, "", "bad gateway")), StatusClass::Transient);
        assert_eq!(classify(&status(0, "", "")), StatusClass::Transient);
    }

    #[test]
    fn only_a_terminating_namespace_is_forbidden_an_rbac_denial_is_not() {
        let mut terminating = status(403, "Forbidden", "unable to create new content in namespace x");
        terminating.details = Some(StatusDetails {
            name: "clean-demo".into(),
            group: "batch".into(),
            kind: "jobs".into(),
            uid: String::new(),
            causes: vec![StatusCause {
                reason: "NamespaceTerminating".into(),
                message: "namespace x is being terminated".into(),
                field: "metadata.namespace".into(),
            }],
            retry_after_seconds: 0,
        });
        assert_eq!(classify(&terminating), StatusClass::NamespaceTerminating);
        let rbac =
            status(403, "Forbidden", "jobs.batch is forbidden: User \"system:serviceaccount:x:y\" cannot create");
        assert_eq!(classify(&rbac), StatusClass::Transient);
        let quota = status(403, "Forbidden", "jobs.batch \"clean-demo\" is forbidden: exceeded quota: q");
        assert_eq!(classify(&quota), StatusClass::Transient);
    }

    #[test]
    fn notes_are_cut_to_the_events_limit_at_a_character_boundary() {
        assert_eq!(truncate_note("short"), "short");
        let long = "é".repeat(600); // 1200 bytes
        let cut = truncate_note(&long);
        assert!(cut.len() <= NOTE_LIMIT);
        assert_eq!(cut.chars().count(), 512);
    }
}
