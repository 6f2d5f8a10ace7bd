//! The seam between reconcilers and a Kubernetes API server: cache reads, live reads, writes, the clock, Events.
//!
//! The difference between the two kinds of read is the point of this trait. A *cache read* returns what this
//! controller's informer has seen: cheap, possibly stale by any amount, possibly missing objects the controller
//! itself just created. A *live read* is a quorum read from the API server: a round trip, fresh. Reconcilers may
//! decide to do nothing from the cache, but confirm with a live read before acting on the absence or the age of
//! anything ("not in the cache" never means "gone").
//!
//! Writes use optimistic concurrency: `replace` and `replace_status` send the object's `resourceVersion` and fail
//! with `Conflict` when someone wrote in between. Deletes propagate in the background (owned objects are garbage
//! collected after their owner is gone).

mod error;
mod event;
mod object;
mod object_map;

pub mod kube_cluster;
pub mod own_writes;

pub use error::{ClusterError, Verb};
pub use event::{Event, EventType};
pub use object::{AsKey, KeyRef, Kind, Labels, Object, ObjectKey, labels_match, pairs_match};
pub use object_map::ObjectMap;

use chrono::{DateTime, Utc};
use std::sync::Arc;

/// Optional preconditions on a delete, as in `metav1.Preconditions`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Precondition {
    pub uid: Option<String>,
    pub resource_version: Option<String>,
}

/// What a delete did.
#[derive(Clone, Debug, PartialEq)]
pub enum Deletion<K> {
    /// The object is gone.
    Gone,
    /// The object has finalizers: it now carries a deletionTimestamp and stays until they are removed.
    Pending(K),
}

/// A Kubernetes API as the reconcilers see it. Implemented by `KubeCluster` (kube-rs, production) and by the
/// simulator's in-memory world; both must be usable from a single-threaded executor without a tokio runtime.
///
/// `async fn` in a public trait cannot promise `Send` futures. That is deliberate: the simulator's futures are
/// `!Send` (one thread, one world), and the production implementation's are `Send`, which the compiler checks where
/// the kube-runtime controllers are spawned with the concrete type.
#[allow(async_fn_in_trait)]
pub trait Cluster {
    /// The current time: the wall clock in production, the virtual clock in simulation.
    fn now(&self) -> DateTime<Utc>;

    /// The object as this controller's informer last saw it (may be stale or missing).
    fn cached<K: Object>(&self, key: KeyRef<'_>) -> Option<Arc<K>>;

    /// The objects in `namespace` matching `selector` that this controller's informer has seen, sorted by name.
    fn cached_list<K: Object>(&self, namespace: &str, selector: &Labels) -> Vec<Arc<K>>;

    /// Until when a reconcile should wait for its cache: set when this controller wrote `key` moments ago and its
    /// cache does not show that write yet (see [`own_writes`]). None: the cache is as new as our own writes.
    fn awaiting_own_write<K: Object>(&self, _key: KeyRef<'_>) -> Option<DateTime<Utc>> {
        None
    }

    /// Notes, for this process's lifetime, that a live read confirmed something about `key` (`marker` says what,
    /// for example the cron tick it was about); `None` forgets it again. Without a memory (the default) nothing is
    /// noted.
    fn confirm<K: Object>(&self, _key: &ObjectKey, _marker: Option<DateTime<Utc>>) {}

    /// The marker of the last [`Cluster::confirm`] about `key` in this process.
    fn confirmed<K: Object>(&self, _key: &ObjectKey) -> Option<DateTime<Utc>> {
        None
    }

    /// Creates of `K` in `namespace` the API server refused (policy or validation) that this client will not send
    /// again yet: (name, until when). Without a memory (the default), none.
    fn refused_creates<K: Object>(&self, _namespace: &str) -> Vec<(String, DateTime<Utc>)> {
        Vec::new()
    }

    /// True when this client remembers every create it sent since `since` and none of them was of `key`: no object
    /// `key` was created by this controller since then. False when it cannot tell (the default: no memory).
    fn sent_no_create_since<K: Object>(&self, _key: KeyRef<'_>, _since: DateTime<Utc>) -> bool {
        false
    }

    /// A quorum read of one object; `Ok(None)` when it does not exist. Objects read or written come back shared
    /// (`Arc`): a reconciler copies one only to change it (`Arc::unwrap_or_clone`), so a read costs no copy where the
    /// client already holds the object (the simulator's store).
    async fn get<K: Object>(&self, key: &ObjectKey) -> Result<Option<Arc<K>>, ClusterError>;

    /// A quorum list of the objects in `namespace` matching `selector`, sorted by name.
    async fn list<K: Object>(&self, namespace: &str, selector: &Labels) -> Result<Vec<Arc<K>>, ClusterError>;

    /// Creates `obj`; `AlreadyExists` when its name is taken. Writes take the object over as an `Arc`: a client
    /// that keeps what it is sent (the simulator's store) keeps it without a copy, and the future stays small.
    async fn create<K: Object>(&self, obj: Arc<K>) -> Result<Arc<K>, ClusterError>;

    /// Replaces `obj`'s metadata and spec (status is ignored), conditional on its `resourceVersion`.
    async fn replace<K: Object>(&self, obj: Arc<K>) -> Result<Arc<K>, ClusterError>;

    /// Replaces `obj`'s status through the status subresource, conditional on its `resourceVersion`.
    async fn replace_status<K: Object>(&self, obj: Arc<K>) -> Result<Arc<K>, ClusterError>;

    /// Deletes the object (background propagation). Deleting an object that is already being deleted succeeds.
    async fn delete<K: Object>(
        &self,
        key: &ObjectKey,
        precondition: &Precondition,
    ) -> Result<Deletion<K>, ClusterError>;

    /// Records a Kubernetes Event for users. Best effort: failures are logged, never returned.
    async fn publish(&self, event: Event);
}

impl<C: Cluster> Cluster for &C {
    fn now(&self) -> DateTime<Utc> {
        (**self).now()
    }
    fn cached<K: Object>(&self, key: KeyRef<'_>) -> Option<Arc<K>> {
        (**self).cached(key)
    }
    fn cached_list<K: Object>(&self, namespace: &str, selector: &Labels) -> Vec<Arc<K>> {
        (**self).cached_list(namespace, selector)
    }
    fn awaiting_own_write<K: Object>(&self, key: KeyRef<'_>) -> Option<DateTime<Utc>> {
        (**self).awaiting_own_write::<K>(key)
    }
    fn confirm<K: Object>(&self, key: &ObjectKey, marker: Option<DateTime<Utc>>) {
        (**self).confirm::<K>(key, marker)
    }
    fn confirmed<K: Object>(&self, key: &ObjectKey) -> Option<DateTime<Utc>> {
        (**self).confirmed::<K>(key)
    }
    fn refused_creates<K: Object>(&self, namespace: &str) -> Vec<(String, DateTime<Utc>)> {
        (**self).refused_creates::<K>(namespace)
    }
    fn sent_no_create_since<K: Object>(&self, key: KeyRef<'_>, since: DateTime<Utc>) -> bool {
        (**self).sent_no_create_since::<K>(key, since)
    }
    async fn get<K: Object>(&self, key: &ObjectKey) -> Result<Option<Arc<K>>, ClusterError> {
        (**self).get(key).await
    }
    async fn list<K: Object>(&self, namespace: &str, selector: &Labels) -> Result<Vec<Arc<K>>, ClusterError> {
        (**self).list(namespace, selector).await
    }
    async fn create<K: Object>(&self, obj: Arc<K>) -> Result<Arc<K>, ClusterError> {
        (**self).create(obj).await
    }
    async fn replace<K: Object>(&self, obj: Arc<K>) -> Result<Arc<K>, ClusterError> {
        (**self).replace(obj).await
    }
    async fn replace_status<K: Object>(&self, obj: Arc<K>) -> Result<Arc<K>, ClusterError> {
        (**self).replace_status(obj).await
    }
    async fn delete<K: Object>(
        &self,
        key: &ObjectKey,
        precondition: &Precondition,
    ) -> Result<Deletion<K>, ClusterError> {
        (**self).delete(key, precondition).await
    }
    async fn publish(&self, event: Event) {
        (**self).publish(event).await
    }
}
