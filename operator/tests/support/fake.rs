//! A tiny two-store `Cluster` for tests: an "API" map and a separately fed "cache" map, so a test can make the
//! cache lie. Futures are always ready; `block_on` polls once. Not a simulator: no informers, Jobs or clock.

use chrono::{DateTime, Utc};
use operator::api::time::to_k8s;
use operator::cluster::{
    Cluster, ClusterError, Deletion, Event, KeyRef, Kind, Labels, Object, ObjectKey, Precondition, Verb, labels_match,
};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

type Store = BTreeMap<(Kind, ObjectKey), serde_json::Value>;

pub struct FakeCluster {
    pub now: Cell<DateTime<Utc>>,
    api: RefCell<Store>,
    cache: RefCell<Store>,
    rv: Cell<u64>,
    /// "create Backup test1/x", "update-status BackupSchedule test1/demo", ...
    pub writes: RefCell<Vec<String>>,
    pub events: RefCell<Vec<Event>>,
}

fn to_value<K: Object>(obj: &K) -> serde_json::Value {
    serde_json::to_value(obj).unwrap()
}

fn from_value<K: Object>(v: &serde_json::Value) -> K {
    serde_json::from_value(v.clone()).unwrap()
}

impl FakeCluster {
    pub fn new(now: DateTime<Utc>) -> Self {
        FakeCluster {
            now: Cell::new(now),
            api: RefCell::default(),
            cache: RefCell::default(),
            rv: Cell::new(100),
            writes: RefCell::default(),
            events: RefCell::default(),
        }
    }

    /// Puts `obj` in the API only (the cache has not seen it).
    pub fn api_put<K: Object>(&self, obj: &K) {
        self.api.borrow_mut().insert((K::KIND, ObjectKey::of(obj)), to_value(obj));
    }

    /// Puts `obj` in the cache only (the cache may hold a stale copy).
    pub fn cache_put<K: Object>(&self, obj: &K) {
        self.cache.borrow_mut().insert((K::KIND, ObjectKey::of(obj)), to_value(obj));
    }

    /// Puts `obj` in both.
    pub fn put<K: Object>(&self, obj: &K) {
        self.api_put(obj);
        self.cache_put(obj);
    }

    pub fn api_get<K: Object>(&self, ns: &str, name: &str) -> Option<K> {
        self.api.borrow().get(&(K::KIND, ObjectKey::new(ns, name))).map(from_value)
    }

    pub fn api_list<K: Object>(&self) -> Vec<K> {
        self.api.borrow().iter().filter(|((k, _), _)| *k == K::KIND).map(|(_, v)| from_value(v)).collect()
    }

    fn log(&self, verb: Verb, kind: Kind, key: &ObjectKey) {
        self.writes.borrow_mut().push(format!("{verb} {kind} {key}"));
    }

    fn next_rv(&self) -> String {
        self.rv.set(self.rv.get() + 1);
        self.rv.get().to_string()
    }
}

/// Runs a future that never waits (every fake call is ready at once).
pub fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("the fake cluster never waits"),
    }
}

impl Cluster for FakeCluster {
    fn now(&self) -> DateTime<Utc> {
        self.now.get()
    }

    fn cached<K: Object>(&self, key: KeyRef<'_>) -> Option<Arc<K>> {
        self.cache.borrow().get(&(K::KIND, key.owned())).map(|v| Arc::new(from_value(v)))
    }

    fn cached_list<K: Object>(&self, namespace: &str, selector: &Labels) -> Vec<Arc<K>> {
        self.cache
            .borrow()
            .iter()
            .filter(|((k, key), _)| *k == K::KIND && key.namespace == namespace)
            .map(|(_, v)| from_value::<K>(v))
            .filter(|o| labels_match(o.meta().labels.as_ref(), selector))
            .map(Arc::new)
            .collect()
    }

    async fn get<K: Object>(&self, key: &ObjectKey) -> Result<Option<Arc<K>>, ClusterError> {
        Ok(self.api.borrow().get(&(K::KIND, key.clone())).map(from_value).map(Arc::new))
    }

    async fn list<K: Object>(&self, namespace: &str, selector: &Labels) -> Result<Vec<Arc<K>>, ClusterError> {
        Ok(self
            .api
            .borrow()
            .iter()
            .filter(|((k, key), _)| *k == K::KIND && key.namespace == namespace)
            .map(|(_, v)| from_value::<K>(v))
            .filter(|o| labels_match(o.meta().labels.as_ref(), selector))
            .map(Arc::new)
            .collect())
    }

    async fn create<K: Object>(&self, obj: Arc<K>) -> Result<Arc<K>, ClusterError> {
        let key = ObjectKey::of(&*obj);
        self.log(Verb::Create, K::KIND, &key);
        if self.api.borrow().contains_key(&(K::KIND, key.clone())) {
            return Err(ClusterError::AlreadyExists { kind: K::KIND, key });
        }
        let mut obj = Arc::unwrap_or_clone(obj);
        let meta = obj.meta_mut();
        meta.uid = Some(format!("uid-{}", key.name));
        meta.resource_version = Some(self.next_rv());
        meta.creation_timestamp = Some(to_k8s(self.now.get()));
        self.api_put(&obj);
        Ok(Arc::new(obj))
    }

    async fn replace<K: Object>(&self, obj: Arc<K>) -> Result<Arc<K>, ClusterError> {
        self.write(Verb::Update, &*obj, |stored, new| {
            let status = stored.get("status").cloned();
            *stored = new;
            if let Some(s) = status {
                stored["status"] = s;
            } else if let Some(m) = stored.as_object_mut() {
                m.remove("status");
            }
        })
    }

    async fn replace_status<K: Object>(&self, obj: Arc<K>) -> Result<Arc<K>, ClusterError> {
        self.write(Verb::UpdateStatus, &*obj, |stored, new| {
            stored["status"] = new.get("status").cloned().unwrap_or(serde_json::Value::Null);
        })
    }

    async fn delete<K: Object>(
        &self,
        key: &ObjectKey,
        precondition: &Precondition,
    ) -> Result<Deletion<K>, ClusterError> {
        self.log(Verb::Delete, K::KIND, key);
        let mut api = self.api.borrow_mut();
        let Some(stored) = api.get(&(K::KIND, key.clone())).map(from_value::<K>) else {
            return Err(ClusterError::NotFound { kind: K::KIND, key: key.clone() });
        };
        if precondition.uid.is_some() && precondition.uid != stored.meta().uid {
            return Err(ClusterError::Conflict {
                kind: K::KIND,
                key: key.clone(),
                message: "uid precondition failed".into(),
            });
        }
        if stored.meta().finalizers.as_ref().is_some_and(|f| !f.is_empty()) {
            let mut obj = stored;
            if obj.meta().deletion_timestamp.is_none() {
                obj.meta_mut().deletion_timestamp = Some(to_k8s(self.now.get()));
                obj.meta_mut().resource_version = Some(self.next_rv());
            }
            api.insert((K::KIND, key.clone()), to_value(&obj));
            return Ok(Deletion::Pending(obj));
        }
        api.remove(&(K::KIND, key.clone()));
        Ok(Deletion::Gone)
    }

    async fn publish(&self, event: Event) {
        self.events.borrow_mut().push(event);
    }
}

impl FakeCluster {
    fn write<K: Object>(
        &self,
        verb: Verb,
        obj: &K,
        apply: impl FnOnce(&mut serde_json::Value, serde_json::Value),
    ) -> Result<Arc<K>, ClusterError> {
        let key = ObjectKey::of(obj);
        self.log(verb, K::KIND, &key);
        let mut api = self.api.borrow_mut();
        let Some(stored) = api.get_mut(&(K::KIND, key.clone())) else {
            return Err(ClusterError::NotFound { kind: K::KIND, key });
        };
        let current_rv = stored["metadata"]["resourceVersion"].as_str().map(str::to_string);
        if obj.meta().resource_version != current_rv {
            return Err(ClusterError::Conflict { kind: K::KIND, key, message: "resourceVersion mismatch".into() });
        }
        apply(stored, to_value(obj));
        stored["metadata"]["resourceVersion"] = serde_json::Value::String(self.next_rv());
        let updated: K = from_value(stored);
        let gone = updated.meta().deletion_timestamp.is_some()
            && updated.meta().finalizers.as_ref().is_none_or(|f| f.is_empty());
        if gone {
            api.remove(&(K::KIND, key));
        }
        Ok(Arc::new(updated))
    }
}
