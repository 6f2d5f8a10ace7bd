//! `KubeCluster`: the `Cluster` trait over kube-rs, for production. Cache reads come from the controller's
//! reflector stores, live reads and writes from the API server, Events go through kube-runtime's `Recorder`.

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::ObjectReference;
use kube::api::{Api, DeleteParams, ListParams, PostParams, Preconditions, PropagationPolicy};
use kube::runtime::events::{Event as KubeEvent, EventType as KubeEventType, Recorder};
use kube::runtime::reflector::{ObjectRef, Store};
use std::any::Any;
use std::sync::Arc;

use crate::api::{Backup, BackupSchedule, Restore};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;

use super::{
    Cluster, ClusterError, Deletion, Event, EventType, Kind, Labels, Object, ObjectKey, Precondition, Verb,
    labels_match,
};

/// The reflector stores a controller reads its cache from; a kind without a store reads as empty.
#[derive(Clone, Default)]
pub struct Stores {
    pub backups: Option<Store<Backup>>,
    pub restores: Option<Store<Restore>>,
    pub schedules: Option<Store<BackupSchedule>>,
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

/// Maps a kube-rs error to the trait's typed error.
pub fn map_error(e: kube::Error, verb: Verb, kind: Kind, key: &ObjectKey) -> ClusterError {
    let key = key.clone();
    match e {
        kube::Error::Api(s) => match s.code {
            404 => ClusterError::NotFound { kind, key },
            409 if s.reason == "AlreadyExists" => ClusterError::AlreadyExists { kind, key },
            409 => ClusterError::Conflict { kind, key, message: s.message },
            400 | 422 => ClusterError::Invalid { kind, key, message: s.message },
            401 | 403 => ClusterError::Forbidden { verb, kind, key, message: s.message },
            code => ClusterError::Transient { verb, kind, key, message: format!("HTTP {code}: {}", s.message) },
        },
        other => ClusterError::Transient { verb, kind, key, message: other.to_string() },
    }
}

/// The label selector string (`a=b,c=d`) of an equality selector.
pub fn selector_string(selector: &Labels) -> String {
    selector.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
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

    fn store_get<K: Object, T: Object>(store: &Option<Store<T>>, key: &ObjectKey) -> Option<Arc<K>> {
        let store = store.as_ref()?;
        let obj = store.get(&ObjectRef::<T>::new(&key.name).within(&key.namespace))?;
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
}

impl Cluster for KubeCluster {
    fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }

    fn cached<K: Object>(&self, key: &ObjectKey) -> Option<Arc<K>> {
        match K::KIND {
            Kind::Backup => Self::store_get::<K, Backup>(&self.stores.backups, key),
            Kind::Restore => Self::store_get::<K, Restore>(&self.stores.restores, key),
            Kind::BackupSchedule => Self::store_get::<K, BackupSchedule>(&self.stores.schedules, key),
            Kind::Job => Self::store_get::<K, Job>(&self.stores.jobs, key),
            Kind::Pod => Self::store_get::<K, Pod>(&self.stores.pods, key),
        }
    }

    fn cached_list<K: Object>(&self, namespace: &str, selector: &Labels) -> Vec<Arc<K>> {
        match K::KIND {
            Kind::Backup => Self::store_list::<K, Backup>(&self.stores.backups, namespace, selector),
            Kind::Restore => Self::store_list::<K, Restore>(&self.stores.restores, namespace, selector),
            Kind::BackupSchedule => Self::store_list::<K, BackupSchedule>(&self.stores.schedules, namespace, selector),
            Kind::Job => Self::store_list::<K, Job>(&self.stores.jobs, namespace, selector),
            Kind::Pod => Self::store_list::<K, Pod>(&self.stores.pods, namespace, selector),
        }
    }

    async fn get<K: Object>(&self, key: &ObjectKey) -> Result<Option<K>, ClusterError> {
        self.api::<K>(&key.namespace).get_opt(&key.name).await.map_err(|e| map_error(e, Verb::Get, K::KIND, key))
    }

    async fn list<K: Object>(&self, namespace: &str, selector: &Labels) -> Result<Vec<K>, ClusterError> {
        let params = ListParams::default().labels(&selector_string(selector));
        let key = ObjectKey::new(namespace, "");
        let mut items =
            self.api::<K>(namespace).list(&params).await.map_err(|e| map_error(e, Verb::List, K::KIND, &key))?.items;
        items.sort_by(|a, b| a.meta().name.cmp(&b.meta().name));
        Ok(items)
    }

    async fn create<K: Object>(&self, obj: &K) -> Result<K, ClusterError> {
        let key = ObjectKey::of(obj);
        self.api::<K>(&key.namespace)
            .create(&PostParams::default(), obj)
            .await
            .map_err(|e| map_error(e, Verb::Create, K::KIND, &key))
    }

    async fn replace<K: Object>(&self, obj: &K) -> Result<K, ClusterError> {
        let key = ObjectKey::of(obj);
        self.api::<K>(&key.namespace)
            .replace(&key.name, &PostParams::default(), obj)
            .await
            .map_err(|e| map_error(e, Verb::Update, K::KIND, &key))
    }

    async fn replace_status<K: Object>(&self, obj: &K) -> Result<K, ClusterError> {
        let key = ObjectKey::of(obj);
        self.api::<K>(&key.namespace)
            .replace_status(&key.name, &PostParams::default(), obj)
            .await
            .map_err(|e| map_error(e, Verb::UpdateStatus, K::KIND, &key))
    }

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
        let reference = ObjectReference {
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
        };
        let kube_event = KubeEvent {
            type_: match event.type_ {
                EventType::Normal => KubeEventType::Normal,
                EventType::Warning => KubeEventType::Warning,
            },
            reason: event.reason.into(),
            note: Some(event.message.chars().take(1024).collect()),
            action: event.reason.into(),
            secondary: None,
        };
        if let Err(e) = recorder.publish(&kube_event, &reference).await {
            tracing::warn!(object = %event.key, reason = event.reason, error = %e, "failed to publish an Event");
        }
    }
}
