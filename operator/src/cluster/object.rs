//! The object kinds the operator reads and writes, their keys, and label selection.

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::fmt;

use crate::api::{Backup, BackupSchedule, CompactBackup, Restore};

/// Every kind the reconcilers touch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Backup,
    Restore,
    BackupSchedule,
    CompactBackup,
    Job,
    Pod,
}

impl Kind {
    pub const ALL: [Kind; 6] =
        [Kind::Backup, Kind::Restore, Kind::BackupSchedule, Kind::CompactBackup, Kind::Job, Kind::Pod];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Backup => "Backup",
            Kind::Restore => "Restore",
            Kind::BackupSchedule => "BackupSchedule",
            Kind::CompactBackup => "CompactBackup",
            Kind::Job => "Job",
            Kind::Pod => "Pod",
        }
    }

    /// The kind named `s` (as in a manifest's `kind`), if it is one of ours.
    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A namespaced Kubernetes object the reconcilers can read and write.
pub trait Object:
    kube::Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + fmt::Debug
    + Serialize
    + DeserializeOwned
    + Send
    + Sync
    + 'static
{
    const KIND: Kind;
}

impl Object for Backup {
    const KIND: Kind = Kind::Backup;
}
impl Object for Restore {
    const KIND: Kind = Kind::Restore;
}
impl Object for BackupSchedule {
    const KIND: Kind = Kind::BackupSchedule;
}
impl Object for CompactBackup {
    const KIND: Kind = Kind::CompactBackup;
}
impl Object for Job {
    const KIND: Kind = Kind::Job;
}
impl Object for Pod {
    const KIND: Kind = Kind::Pod;
}

/// `namespace/name`.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct ObjectKey {
    pub namespace: String,
    pub name: String,
}

/// Hashes the name alone: equal keys have equal names, and a name tells objects apart far better than the namespace
/// most of them share (hashing it too doubled the cost of every lookup).
impl std::hash::Hash for ObjectKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl ObjectKey {
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        ObjectKey { namespace: namespace.into(), name: name.into() }
    }

    /// The key of `obj` (empty parts when metadata lacks them).
    pub fn of<K: kube::Resource>(obj: &K) -> Self {
        let meta = obj.meta();
        ObjectKey { namespace: meta.namespace.clone().unwrap_or_default(), name: meta.name.clone().unwrap_or_default() }
    }
}

/// An object's key borrowed from wherever its parts already live (an object's metadata, a key held elsewhere): a
/// lookup in a map of [`ObjectKey`]s (see [`ObjectMap`](super::ObjectMap)) without allocating one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct KeyRef<'a> {
    pub namespace: &'a str,
    pub name: &'a str,
}

impl<'a> KeyRef<'a> {
    pub fn new(namespace: &'a str, name: &'a str) -> Self {
        KeyRef { namespace, name }
    }

    /// The key of `obj` (empty parts when metadata lacks them), borrowed from its metadata.
    pub fn of<K: kube::Resource>(obj: &'a K) -> Self {
        let meta = obj.meta();
        KeyRef {
            namespace: meta.namespace.as_deref().unwrap_or_default(),
            name: meta.name.as_deref().unwrap_or_default(),
        }
    }

    /// The owned key.
    pub fn owned(self) -> ObjectKey {
        ObjectKey::new(self.namespace, self.name)
    }
}

impl ObjectKey {
    /// This key, borrowed.
    pub fn borrowed(&self) -> KeyRef<'_> {
        KeyRef { namespace: &self.namespace, name: &self.name }
    }
}

/// What a map of [`ObjectKey`]s can be searched by: an owned key or a borrowed one, hashed and compared alike (the
/// name alone is hashed, as [`ObjectKey`]'s `Hash` does), so `HashMap<ObjectKey, _>::get(&key_ref as &dyn AsKey)`
/// finds what `get(&object_key)` would.
pub trait AsKey {
    fn key_ref(&self) -> KeyRef<'_>;
}

impl AsKey for ObjectKey {
    fn key_ref(&self) -> KeyRef<'_> {
        self.borrowed()
    }
}

impl AsKey for KeyRef<'_> {
    fn key_ref(&self) -> KeyRef<'_> {
        *self
    }
}

impl<'a> std::borrow::Borrow<dyn AsKey + 'a> for ObjectKey {
    fn borrow(&self) -> &(dyn AsKey + 'a) {
        self
    }
}

impl std::hash::Hash for dyn AsKey + '_ {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.key_ref().name.hash(state);
    }
}

impl PartialEq for dyn AsKey + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.key_ref() == other.key_ref()
    }
}

impl Eq for dyn AsKey + '_ {}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// An equality-based label selector (every pair must match).
pub type Labels = BTreeMap<String, String>;

/// True when `labels` carries every pair of `selector`.
pub fn labels_match(labels: Option<&BTreeMap<String, String>>, selector: &Labels) -> bool {
    pairs_match(labels, selector.iter())
}

/// Whether `labels` carry every one of `pairs` (a part of a selector).
pub fn pairs_match<'a>(
    labels: Option<&BTreeMap<String, String>>,
    mut pairs: impl Iterator<Item = (&'a String, &'a String)>,
) -> bool {
    pairs.all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
}
