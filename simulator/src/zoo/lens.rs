//! A lens over the operator's cluster client: a zoo entry that differs from our controllers in one respect changes
//! what they see or what their writes do, and runs our reconcile through it, so the entry is our controller with
//! exactly the bug of its report and nothing else.

use chrono::{DateTime, Utc};
use operator::cluster::{
    Cluster, ClusterError, Deletion, Event, KeyRef, Kind, Labels, Object, ObjectKey, Precondition, Verb,
};
use std::sync::Arc;

/// What a zoo entry changes. Every method defaults to "as it is".
pub trait Hooks {
    /// What the controller sees of an object it reads, from its cache or live.
    fn seen<K: Object>(&self, obj: Arc<K>) -> Arc<K> {
        obj
    }
    /// Whether the controller sees an object at all.
    fn visible<K: Object>(&self, _obj: &K) -> bool {
        true
    }
    /// An error to answer a write with instead of sending it.
    fn refuse(&self, _verb: Verb, _kind: Kind, _key: &ObjectKey) -> Option<ClusterError> {
        None
    }
    /// The outcome of a write that was sent.
    fn answered(&self, _verb: Verb, _kind: Kind, _key: &ObjectKey, _failed: bool) {}
}

/// The operator's client, seen through `hooks`.
pub struct Lens<C, H> {
    pub inner: C,
    pub hooks: H,
}

impl<C: Cluster, H: Hooks> Lens<C, H> {
    async fn write<K: Object, F: std::future::Future<Output = Result<Arc<K>, ClusterError>>>(
        &self,
        verb: Verb,
        key: ObjectKey,
        send: impl FnOnce() -> F,
    ) -> Result<Arc<K>, ClusterError> {
        if let Some(e) = self.hooks.refuse(verb, K::KIND, &key) {
            return Err(e);
        }
        let result = send().await;
        self.hooks.answered(verb, K::KIND, &key, result.is_err());
        result.map(|o| self.hooks.seen(o))
    }
}

impl<C: Cluster, H: Hooks> Cluster for Lens<C, H> {
    fn now(&self) -> DateTime<Utc> {
        self.inner.now()
    }
    fn cached<K: Object>(&self, key: KeyRef<'_>) -> Option<Arc<K>> {
        let found = self.inner.cached::<K>(key).filter(|o| self.hooks.visible(&**o));
        found.map(|o| self.hooks.seen(o))
    }
    fn cached_list<K: Object>(&self, namespace: &str, selector: &Labels) -> Vec<Arc<K>> {
        let listed = self.inner.cached_list::<K>(namespace, selector);
        listed.into_iter().filter(|o| self.hooks.visible(&**o)).map(|o| self.hooks.seen(o)).collect()
    }
    fn awaiting_own_write<K: Object>(&self, key: KeyRef<'_>) -> Option<DateTime<Utc>> {
        self.inner.awaiting_own_write::<K>(key)
    }
    fn confirm<K: Object>(&self, key: &ObjectKey, marker: Option<DateTime<Utc>>) {
        self.inner.confirm::<K>(key, marker)
    }
    fn confirmed<K: Object>(&self, key: &ObjectKey) -> Option<DateTime<Utc>> {
        self.inner.confirmed::<K>(key)
    }
    fn sent_no_create_since<K: Object>(&self, key: KeyRef<'_>, since: DateTime<Utc>) -> bool {
        self.inner.sent_no_create_since::<K>(key, since)
    }
    async fn get<K: Object>(&self, key: &ObjectKey) -> Result<Option<Arc<K>>, ClusterError> {
        Ok(self.inner.get::<K>(key).await?.filter(|o| self.hooks.visible(&**o)).map(|o| self.hooks.seen(o)))
    }
    async fn list<K: Object>(&self, namespace: &str, selector: &Labels) -> Result<Vec<Arc<K>>, ClusterError> {
        let listed = self.inner.list::<K>(namespace, selector).await?;
        Ok(listed.into_iter().filter(|o| self.hooks.visible(&**o)).map(|o| self.hooks.seen(o)).collect())
    }
    async fn create<K: Object>(&self, obj: Arc<K>) -> Result<Arc<K>, ClusterError> {
        self.write(Verb::Create, ObjectKey::of(&*obj), || self.inner.create(obj)).await
    }
    async fn replace<K: Object>(&self, obj: Arc<K>) -> Result<Arc<K>, ClusterError> {
        self.write(Verb::Update, ObjectKey::of(&*obj), || self.inner.replace(obj)).await
    }
    async fn replace_status<K: Object>(&self, obj: Arc<K>) -> Result<Arc<K>, ClusterError> {
        self.write(Verb::UpdateStatus, ObjectKey::of(&*obj), || self.inner.replace_status(obj)).await
    }
    async fn delete<K: Object>(
        &self,
        key: &ObjectKey,
        precondition: &Precondition,
    ) -> Result<Deletion<K>, ClusterError> {
        if let Some(e) = self.hooks.refuse(Verb::Delete, K::KIND, key) {
            return Err(e);
        }
        let result = self.inner.delete::<K>(key, precondition).await;
        self.hooks.answered(Verb::Delete, K::KIND, key, result.is_err());
        result
    }
    async fn publish(&self, event: Event) {
        self.inner.publish(event).await
    }
}

/// `obj` as a Backup, changed by `f`, when it is one (zoo hooks are written for Backups).
pub fn edit_backup<K: Object>(obj: Arc<K>, f: impl FnOnce(&mut operator::api::Backup)) -> Arc<K> {
    if K::KIND != Kind::Backup {
        return obj;
    }
    let Ok(value) = serde_json::to_value(&*obj) else { return obj };
    let Ok(mut backup) = serde_json::from_value::<operator::api::Backup>(value) else { return obj };
    f(&mut backup);
    serde_json::to_value(&backup).ok().and_then(|v| serde_json::from_value(v).ok()).map(Arc::new).unwrap_or(obj)
}
