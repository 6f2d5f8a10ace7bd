//! The simulated API server: objects by kind and key, resourceVersions, uids, generations, creation and deletion
//! timestamps, finalizers, the status subresource, optimistic concurrency, label selection and name validation.
//! It records every change for the informers, the invariants and the trace; it has no clock of its own.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use operator::api::{Backup, BackupSchedule, CompactBackup, Restore};
use operator::cluster::{ClusterError, Deletion, Kind, Labels, ObjectKey, Precondition, Verb};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::dyn_kind::DynKind;
use crate::index::Indexed;
use crate::object::Obj;
use crate::schedule_backups::ScheduleBackups;
use crate::time::SimTime;

/// What happened to an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeType {
    Added,
    Modified,
    Deleted,
}

/// One change, as a watch would report it.
#[derive(Clone, Debug)]
pub struct Change {
    pub time: SimTime,
    pub type_: ChangeType,
    /// The object after the change (for `Deleted`, its last state, which may carry the resourceVersion it had before
    /// the deletion: `rv` is the deletion's).
    pub obj: Obj,
    /// The object before the change, if it existed.
    pub old: Option<Obj>,
    /// The resourceVersion of the change (a watch reports a deleted object with it).
    pub rv: u64,
}

/// Which part of an object an update replaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subresource {
    Main,
    Status,
}

/// Kind-specific parts the API server treats differently: status is only written through its subresource, and a
/// spec change bumps `metadata.generation`.
trait Parts: Clone {
    fn keep_status_of(&mut self, old: &Self);
    fn keep_spec_of(&mut self, old: &Self);
    fn spec_eq(&self, other: &Self) -> bool;
    fn meta_mut(&mut self) -> &mut ObjectMeta;
    /// Custom resources drop the status sent on create; built-in objects made by controllers keep theirs.
    fn clear_status_on_create(&mut self);
}

macro_rules! parts {
    ($t:ty, $clear:expr) => {
        impl Parts for $t {
            // Most writes send back the part they read: it is compared, and copied only when it differs.
            fn keep_status_of(&mut self, old: &Self) {
                if self.status != old.status {
                    self.status.clone_from(&old.status);
                }
            }
            fn keep_spec_of(&mut self, old: &Self) {
                if self.spec != old.spec {
                    self.spec.clone_from(&old.spec);
                }
            }
            fn spec_eq(&self, other: &Self) -> bool {
                self.spec == other.spec
            }
            fn meta_mut(&mut self) -> &mut ObjectMeta {
                &mut self.metadata
            }
            fn clear_status_on_create(&mut self) {
                if $clear {
                    self.status = None;
                }
            }
        }
    };
}
parts!(Backup, true);
parts!(Restore, true);
parts!(BackupSchedule, true);
parts!(CompactBackup, true);
parts!(Job, false);
parts!(Pod, false);

/// The store.
#[derive(Default)]
pub struct World {
    objects: BTreeMap<Kind, Indexed>,
    /// The Backups again, by the schedule that owns them (what the invariants read after every schedule reconcile).
    by_schedule: ScheduleBackups,
    /// Objects no reconciler reads (the leader Lease, Events), kept as JSON under the same metadata rules.
    dynamic: BTreeMap<(DynKind, ObjectKey), Arc<Value>>,
    rv: u64,
    uids: u64,
    changes: Vec<Change>,
    dyn_changes: Vec<DynChange>,
    /// Namespaces being deleted: kube-apiserver's namespace lifecycle refuses every create in them until they are
    /// empty (then they are gone, and a later create makes them anew, as a user recreating one would).
    terminating: BTreeSet<String>,
}

/// A change to a dynamic object (for watches served over HTTP).
#[derive(Clone, Debug)]
pub struct DynChange {
    pub kind: DynKind,
    pub type_: ChangeType,
    pub value: Arc<Value>,
}

/// Why a write to a dynamic object failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DynError {
    #[error("{0} not found")]
    NotFound(ObjectKey),
    #[error("{0} already exists")]
    AlreadyExists(ObjectKey),
    #[error("{key} was modified concurrently: {message}")]
    Conflict { key: ObjectKey, message: String },
    #[error("{key} is invalid: {message}")]
    Invalid { key: ObjectKey, message: String },
    #[error("{key} is forbidden: {message}")]
    Forbidden { key: ObjectKey, message: String },
}

/// kube-apiserver's words for a create in a namespace being deleted.
fn terminating_message(namespace: &str) -> String {
    format!("unable to create new content in namespace {namespace} because it is being terminated")
}

fn dyn_key(value: &Value) -> ObjectKey {
    let meta = &value["metadata"];
    ObjectKey::new(meta["namespace"].as_str().unwrap_or_default(), meta["name"].as_str().unwrap_or_default())
}

fn rv_json(rv: &str) -> Value {
    Value::String(rv.to_string())
}

fn k8s_seconds(t: SimTime) -> Time {
    operator::api::time::to_k8s(SimTime(t.0.div_euclid(1000) * 1000).to_utc())
}

fn invalid(kind: Kind, key: &ObjectKey, message: String) -> ClusterError {
    ClusterError::Invalid { kind, key: key.clone(), message }
}

fn validate_meta(kind: Kind, key: &ObjectKey, meta: &ObjectMeta) -> Result<(), ClusterError> {
    if key.namespace.is_empty() {
        return Err(invalid(kind, key, "metadata.namespace: must be set".into()));
    }
    refuse_first(kind, key, crate::validation::name_causes(&key.name))?;
    validate_labels(kind, key, meta)?;
    if kind == Kind::Job && key.name.len() > 63 {
        return Err(invalid(
            kind,
            key,
            format!("metadata.name: must be no more than 63 characters, got {}", key.name.len()),
        ));
    }
    Ok(())
}

fn validate_labels(kind: Kind, key: &ObjectKey, meta: &ObjectMeta) -> Result<(), ClusterError> {
    refuse_first(kind, key, crate::validation::label_causes(meta.labels.as_ref().unwrap_or(&BTreeMap::new())))
}

/// `Invalid` with the first of `causes`, if any.
fn refuse_first(kind: Kind, key: &ObjectKey, causes: Vec<crate::validation::Cause>) -> Result<(), ClusterError> {
    match causes.into_iter().next() {
        Some(c) => Err(invalid(kind, key, format!("{}: {}", c.field, c.message))),
        None => Ok(()),
    }
}

fn rv_of(meta: &ObjectMeta) -> Option<&str> {
    meta.resource_version.as_deref().filter(|s| !s.is_empty())
}

impl World {
    pub fn new() -> Self {
        World::default()
    }

    /// The namespace controller starts deleting `namespace`: creates there are refused from now on.
    pub fn terminate_namespace(&mut self, namespace: &str) {
        self.terminating.insert(namespace.to_string());
    }

    /// Whether `namespace` is being deleted and still holds objects (a create there is refused).
    pub fn is_terminating(&self, namespace: &str) -> bool {
        self.terminating.contains(namespace)
            && (self.objects.values().any(|ix| ix.select(namespace, &Labels::new()).next().is_some())
                || self.dynamic.keys().any(|(_, k)| k.namespace == namespace))
    }

    /// Whether the namespace controller deleted `namespace` (it may be empty, and so gone, by now).
    pub fn namespace_deleted(&self, namespace: &str) -> bool {
        self.terminating.contains(namespace)
    }

    /// Refuses a create in a terminating namespace; a deleted namespace that is empty is gone, and the create makes
    /// it anew.
    fn admit_create(&mut self, namespace: &str) -> Result<(), String> {
        if self.is_terminating(namespace) {
            return Err(terminating_message(namespace));
        }
        self.terminating.remove(namespace);
        Ok(())
    }

    /// The changes recorded since the last call, in order.
    pub fn take_changes(&mut self) -> Vec<Change> {
        std::mem::take(&mut self.changes)
    }

    pub fn get(&self, kind: Kind, key: &ObjectKey) -> Option<&Obj> {
        self.objects.get(&kind)?.get(key)
    }

    /// Stores `obj` under `key`, replacing what was there (every write to the store goes through here or `take`).
    fn put(&mut self, key: ObjectKey, obj: Obj) -> Option<Obj> {
        let kind = obj.kind();
        if kind == Kind::Backup {
            let old = self.objects.get(&kind).and_then(|i| i.get(&key));
            self.by_schedule.stored(&key, old, Some(&obj));
        }
        self.objects.entry(kind).or_default().insert(key, obj)
    }

    /// Takes the object of `kind` under `key` out of the store.
    fn take(&mut self, kind: Kind, key: &ObjectKey) -> Option<Obj> {
        let old = self.objects.get_mut(&kind)?.remove(key)?;
        if kind == Kind::Backup {
            self.by_schedule.stored(key, Some(&old), None);
        }
        Some(old)
    }

    /// The snapshot Backups owned by the schedule with `uid` (its first BackupSchedule ownerReference), by key.
    pub fn schedule_backups<'a>(&'a self, uid: &str) -> impl Iterator<Item = &'a Backup> + use<'a> {
        self.by_schedule.snapshots(uid)
    }

    /// The log backups owned by the schedule with `uid`, by key.
    pub fn schedule_log_backups<'a>(&'a self, uid: &str) -> impl Iterator<Item = &'a Backup> + use<'a> {
        self.by_schedule.logs(uid)
    }

    /// Every object of `kind`, by namespace then name.
    pub fn iter_kind(&self, kind: Kind) -> impl Iterator<Item = &Obj> {
        self.objects.get(&kind).into_iter().flat_map(Indexed::values)
    }

    /// Objects of `kind` in `namespace` matching `selector`, by name (reading only those that match).
    pub fn list(&self, kind: Kind, namespace: &str, selector: &Labels) -> Vec<Obj> {
        self.select(kind, namespace, selector).cloned().collect()
    }

    /// Objects of `kind` in `namespace` matching `selector`, by name, without copying the list.
    pub fn select<'a>(&'a self, kind: Kind, namespace: &'a str, selector: &'a Labels) -> impl Iterator<Item = &'a Obj> {
        self.objects.get(&kind).into_iter().flat_map(move |i| i.select(namespace, selector))
    }

    /// Objects of `kind` whose ownerReferences name `uid`, by namespace then name.
    pub fn owned_by<'a>(&'a self, kind: Kind, uid: &str) -> impl Iterator<Item = &'a Obj> + use<'a> {
        self.objects.get(&kind).map(|i| i.owned_by(uid)).into_iter().flatten()
    }

    /// Objects whose ownerReferences name `uid`, by kind, namespace and name.
    pub fn dependents(&self, uid: &str) -> Vec<(Kind, ObjectKey)> {
        self.objects.iter().flat_map(|(k, i)| i.owned_by(uid).map(|o| (*k, o.key()))).collect()
    }

    fn next_rv(&mut self) -> String {
        self.rv += 1;
        self.rv.to_string()
    }

    fn record(&mut self, time: SimTime, type_: ChangeType, obj: Obj, old: Option<Obj>) {
        // Every change takes the resourceVersion handed out just before it is recorded.
        self.changes.push(Change { time, type_, obj, old, rv: self.rv });
    }

    /// Creates an object: `AlreadyExists`, `Invalid` names and label values; sets uid, resourceVersion,
    /// generation and creationTimestamp (whole seconds, as the API server stores it).
    pub fn create(&mut self, obj: Obj, now: SimTime) -> Result<Obj, ClusterError> {
        let (kind, key) = (obj.kind(), obj.key());
        validate_meta(kind, &key, obj.meta())?;
        if self.get(kind, &key).is_some() {
            return Err(ClusterError::AlreadyExists { kind, key });
        }
        if let Err(message) = self.admit_create(&key.namespace) {
            return Err(ClusterError::Forbidden { verb: Verb::Create, kind, key, message });
        }
        self.uids += 1;
        let uid = format!("{:08x}-0000-4000-8000-{:012x}", self.uids, self.uids);
        let rv = self.next_rv();
        let created = map_typed(obj, |o| {
            o.clear_status_on_create();
            let m = o.meta_mut();
            m.uid = Some(uid.clone());
            m.resource_version = Some(rv.clone());
            m.generation = Some(1);
            m.creation_timestamp = Some(k8s_seconds(now));
            m.deletion_timestamp = None;
        });
        let created = match created {
            Obj::Job(j) => {
                let mut job = owned(j);
                crate::defaults::job(&mut job, &uid);
                Obj::Job(Arc::new(job))
            }
            Obj::Pod(p) => {
                let mut pod = owned(p);
                if let Some(spec) = pod.spec.as_mut() {
                    crate::defaults::pod_spec(spec);
                }
                Obj::Pod(Arc::new(pod))
            }
            other => other,
        };
        self.put(key, created.clone());
        self.record(now, ChangeType::Added, created.clone(), None);
        Ok(created)
    }

    /// Replaces an object's metadata and spec (`Main`) or its status (`Status`), conditional on its
    /// resourceVersion. An object being deleted whose last finalizer goes is removed.
    pub fn update(&mut self, obj: Obj, sub: Subresource, now: SimTime) -> Result<Obj, ClusterError> {
        let (kind, key) = (obj.kind(), obj.key());
        let Some(old) = self.get(kind, &key).cloned() else {
            return Err(ClusterError::NotFound { kind, key });
        };
        let Some(sent_rv) = rv_of(obj.meta()) else {
            return Err(invalid(
                kind,
                &key,
                "metadata.resourceVersion: Invalid value: 0: must be specified for an update".into(),
            ));
        };
        if Some(sent_rv) != rv_of(old.meta()) {
            let message = format!(
                "the object has been modified (resourceVersion {sent_rv}, current {})",
                rv_of(old.meta()).unwrap_or("")
            );
            return Err(ClusterError::Conflict { kind, key, message });
        }
        if sub == Subresource::Main {
            // The name was judged at create; labels are judged again only when they change (most updates keep
            // them, and judging a pod's is some thousands of instructions).
            if obj.meta().labels != old.meta().labels {
                validate_labels(kind, &key, obj.meta())?;
            }
            if old.meta().deletion_timestamp.is_some() {
                let before: Vec<&String> = old.meta().finalizers.iter().flatten().collect();
                let added: Vec<&String> =
                    obj.meta().finalizers.iter().flatten().filter(|f| !before.contains(f)).collect();
                if !added.is_empty() {
                    let quoted: Vec<String> = added.iter().map(|f| format!("{f:?}")).collect();
                    let message = format!(
                        "metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}",
                        quoted.join(", ")
                    );
                    return Err(ClusterError::Invalid { kind, key, message });
                }
            }
        }
        let rv = self.next_rv();
        let updated = merge(&old, obj, sub, &rv);
        let gone = updated.meta().deletion_timestamp.is_some()
            && updated.meta().finalizers.as_ref().is_none_or(|f| f.is_empty());
        if gone && kind != Kind::Pod {
            self.take(kind, &key);
            self.record(now, ChangeType::Deleted, updated.clone(), Some(old));
        } else {
            self.put(key, updated.clone());
            self.record(now, ChangeType::Modified, updated.clone(), Some(old));
        }
        Ok(updated)
    }

    /// Deletes an object. With finalizers (or a pod's graceful termination) it only gets a deletionTimestamp;
    /// deleting an object already being deleted succeeds without a change.
    pub fn delete(
        &mut self,
        kind: Kind,
        key: &ObjectKey,
        pre: &Precondition,
        now: SimTime,
    ) -> Result<Deletion<Obj>, ClusterError> {
        let Some(old) = self.get(kind, key).cloned() else {
            return Err(ClusterError::NotFound { kind, key: key.clone() });
        };
        if pre.uid.as_ref().is_some_and(|u| Some(u) != old.meta().uid.as_ref()) {
            return Err(ClusterError::Conflict { kind, key: key.clone(), message: "precondition failed: uid".into() });
        }
        if pre.resource_version.as_deref().is_some_and(|r| Some(r) != rv_of(old.meta())) {
            return Err(ClusterError::Conflict {
                kind,
                key: key.clone(),
                message: "precondition failed: resourceVersion".into(),
            });
        }
        if old.meta().deletion_timestamp.is_some() {
            return Ok(Deletion::Pending(old));
        }
        let graceful = kind == Kind::Pod || old.meta().finalizers.as_ref().is_some_and(|f| !f.is_empty());
        if graceful {
            let rv = self.next_rv();
            // As kube-apiserver does, marking an object for deletion bumps its generation.
            let marked = old.with_meta(|m| {
                m.deletion_timestamp = Some(k8s_seconds(now));
                m.resource_version = Some(rv.clone());
                m.generation = m.generation.map(|g| g + 1);
            });
            self.put(key.clone(), marked.clone());
            self.record(now, ChangeType::Modified, marked.clone(), Some(old));
            return Ok(Deletion::Pending(marked));
        }
        self.remove(kind, key, now);
        Ok(Deletion::Gone)
    }

    /// Removes an object for good (the end of a pod's graceful termination, or a deletion without finalizers).
    pub fn remove(&mut self, kind: Kind, key: &ObjectKey, now: SimTime) -> Option<Obj> {
        let old = self.take(kind, key)?;
        // The change carries the deletion's resourceVersion: the object is not copied to stamp it.
        self.next_rv();
        self.record(now, ChangeType::Deleted, old.clone(), Some(old.clone()));
        Some(old)
    }

    /// Writes an object as a built-in controller does (kubelet, Job controller): status and all, no conflict check.
    pub fn put_internal(&mut self, obj: Obj, now: SimTime) -> Obj {
        let (kind, key) = (obj.kind(), obj.key());
        let old = self.get(kind, &key).cloned();
        let rv = self.next_rv();
        let stored = obj.into_with_meta(|m| m.resource_version = Some(rv));
        self.put(key, stored.clone());
        self.record(now, if old.is_some() { ChangeType::Modified } else { ChangeType::Added }, stored.clone(), old);
        stored
    }

    /// The latest resourceVersion handed out.
    pub fn resource_version(&self) -> u64 {
        self.rv
    }

    /// Every object of every kind the reconcilers use, in key order (for cluster-wide lists).
    pub fn list_all(&self, kind: Kind) -> Vec<Obj> {
        self.iter_kind(kind).cloned().collect()
    }

    /// The dynamic-object changes recorded since the last call.
    pub fn take_dyn_changes(&mut self) -> Vec<DynChange> {
        std::mem::take(&mut self.dyn_changes)
    }

    pub fn dyn_get(&self, kind: DynKind, key: &ObjectKey) -> Option<Arc<Value>> {
        self.dynamic.get(&(kind, key.clone())).cloned()
    }

    /// Dynamic objects of `kind`, in `namespace` or everywhere.
    pub fn dyn_list(&self, kind: DynKind, namespace: Option<&str>) -> Vec<Arc<Value>> {
        self.dynamic
            .iter()
            .filter(|((k, key), _)| *k == kind && namespace.is_none_or(|ns| key.namespace == ns))
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Creates a dynamic object: the same identity rules as any object (name, uid, resourceVersion,
    /// creationTimestamp).
    pub fn dyn_create(&mut self, kind: DynKind, mut value: Value, now: SimTime) -> Result<Arc<Value>, DynError> {
        let key = dyn_key(&value);
        if let Some(c) = crate::validation::name_causes(&key.name).into_iter().next() {
            return Err(DynError::Invalid { key, message: format!("{}: {}", c.field, c.message) });
        }
        if self.dynamic.contains_key(&(kind, key.clone())) {
            return Err(DynError::AlreadyExists(key));
        }
        if !key.namespace.is_empty()
            && let Err(message) = self.admit_create(&key.namespace)
        {
            return Err(DynError::Forbidden { key, message });
        }
        self.uids += 1;
        let uid = format!("{:08x}-0000-4000-8000-{:012x}", self.uids, self.uids);
        let rv = self.next_rv();
        let created = serde_json::to_value(k8s_seconds(now)).unwrap_or(Value::Null);
        let meta = value
            .get_mut("metadata")
            .and_then(Value::as_object_mut)
            .ok_or_else(|| DynError::Invalid { key: key.clone(), message: "metadata: must be an object".into() })?;
        meta.insert("uid".into(), Value::String(uid));
        meta.insert("resourceVersion".into(), rv_json(&rv));
        meta.insert("creationTimestamp".into(), created);
        let value = Arc::new(value);
        self.dynamic.insert((kind, key), value.clone());
        self.dyn_changes.push(DynChange { kind, type_: ChangeType::Added, value: value.clone() });
        Ok(value)
    }

    /// Replaces a dynamic object, conditional on its resourceVersion when the new one carries one.
    pub fn dyn_update(&mut self, kind: DynKind, mut value: Value) -> Result<Arc<Value>, DynError> {
        let key = dyn_key(&value);
        let Some(old) = self.dynamic.get(&(kind, key.clone())).cloned() else { return Err(DynError::NotFound(key)) };
        let sent = value["metadata"]["resourceVersion"].as_str().filter(|s| !s.is_empty()).map(str::to_string);
        let current = old["metadata"]["resourceVersion"].as_str().unwrap_or_default().to_string();
        if let Some(sent) = sent
            && sent != current
        {
            return Err(DynError::Conflict { key, message: format!("resourceVersion {sent}, current {current}") });
        }
        let rv = self.next_rv();
        if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
            for field in ["uid", "creationTimestamp"] {
                meta.insert(field.into(), old["metadata"][field].clone());
            }
            meta.insert("resourceVersion".into(), rv_json(&rv));
        }
        let value = Arc::new(value);
        self.dynamic.insert((kind, key), value.clone());
        self.dyn_changes.push(DynChange { kind, type_: ChangeType::Modified, value: value.clone() });
        Ok(value)
    }

    /// Deletes a dynamic object at once (they carry no finalizers).
    pub fn dyn_delete(&mut self, kind: DynKind, key: &ObjectKey) -> Result<Arc<Value>, DynError> {
        let old = self.dynamic.remove(&(kind, key.clone())).ok_or_else(|| DynError::NotFound(key.clone()))?;
        let rv = self.next_rv();
        let mut last = (*old).clone();
        last["metadata"]["resourceVersion"] = rv_json(&rv);
        let last = Arc::new(last);
        self.dyn_changes.push(DynChange { kind, type_: ChangeType::Deleted, value: last.clone() });
        Ok(last)
    }
}

/// `obj` with `f` applied to its typed object, copied only when someone else shares it (a request's object normally
/// is its own).
fn map_typed(mut obj: Obj, f: impl FnOnce(&mut dyn PartsDyn)) -> Obj {
    match &mut obj {
        Obj::Backup(a) => edit_shared(a, f),
        Obj::Restore(a) => edit_shared(a, f),
        Obj::Schedule(a) => edit_shared(a, f),
        Obj::Compact(a) => edit_shared(a, f),
        Obj::Job(a) => edit_shared(a, f),
        Obj::Pod(a) => edit_shared(a, f),
    }
    obj
}

fn edit_shared<T: Parts>(a: &mut Arc<T>, f: impl FnOnce(&mut dyn PartsDyn)) {
    let t: &mut T = Arc::make_mut(a);
    f(t)
}

/// Object-safe view of [`Parts`] used by `map_typed`.
trait PartsDyn {
    fn clear_status_on_create(&mut self);
    fn meta_mut(&mut self) -> &mut ObjectMeta;
}

impl<T: Parts> PartsDyn for T {
    fn clear_status_on_create(&mut self) {
        Parts::clear_status_on_create(self)
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        Parts::meta_mut(self)
    }
}

/// The request's object, without a copy when the request holds the only reference (it normally does).
fn owned<T: Clone>(a: Arc<T>) -> T {
    Arc::try_unwrap(a).unwrap_or_else(|a| (*a).clone())
}

fn merge_typed<T: Parts>(old: &T, mut out: T, sub: Subresource, rv: &str, old_meta: &ObjectMeta) -> T {
    match sub {
        Subresource::Main => {
            out.keep_status_of(old);
            let spec_changed = !out.spec_eq(old);
            let m = out.meta_mut();
            m.uid.clone_from(&old_meta.uid);
            m.creation_timestamp.clone_from(&old_meta.creation_timestamp);
            m.deletion_timestamp.clone_from(&old_meta.deletion_timestamp);
            m.generation = Some(old_meta.generation.unwrap_or(1) + i64::from(spec_changed));
        }
        Subresource::Status => {
            out.keep_spec_of(old);
            if out.meta_mut() != old_meta {
                out.meta_mut().clone_from(old_meta);
            }
        }
    }
    out.meta_mut().resource_version = Some(rv.to_string());
    out
}

fn merge(old: &Obj, new: Obj, sub: Subresource, rv: &str) -> Obj {
    let m = old.meta();
    match (old, new) {
        (Obj::Backup(o), Obj::Backup(n)) => Obj::Backup(Arc::new(merge_typed(&**o, owned(n), sub, rv, m))),
        (Obj::Restore(o), Obj::Restore(n)) => Obj::Restore(Arc::new(merge_typed(&**o, owned(n), sub, rv, m))),
        (Obj::Schedule(o), Obj::Schedule(n)) => Obj::Schedule(Arc::new(merge_typed(&**o, owned(n), sub, rv, m))),
        (Obj::Compact(o), Obj::Compact(n)) => Obj::Compact(Arc::new(merge_typed(&**o, owned(n), sub, rv, m))),
        (Obj::Job(o), Obj::Job(n)) => Obj::Job(Arc::new(merge_typed(&**o, owned(n), sub, rv, m))),
        (Obj::Pod(o), Obj::Pod(n)) => Obj::Pod(Arc::new(merge_typed(&**o, owned(n), sub, rv, m))),
        _ => unreachable!("update with a different kind is keyed by kind"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::batch::v1::JobSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
    use operator::api::{BackupPhase, BackupSpec, BackupStatus};
    use std::collections::BTreeMap;

    const T0: SimTime = SimTime(1_767_225_600_123);

    fn backup(name: &str) -> Backup {
        let mut b = Backup::new(name, BackupSpec::default());
        b.metadata.namespace = Some("test1".into());
        b
    }

    fn key(name: &str) -> ObjectKey {
        ObjectKey::new("test1", name)
    }

    fn created(w: &mut World, b: Backup) -> Arc<Backup> {
        w.create(Obj::wrap(b), T0).unwrap().get::<Backup>().unwrap()
    }

    #[test]
    fn create_sets_identity_and_whole_second_timestamps() {
        let mut w = World::new();
        let mut b = backup("a");
        b.status = Some(BackupStatus { phase: Some(BackupPhase::Complete), ..Default::default() });
        let c = created(&mut w, b);
        assert!(c.metadata.uid.is_some());
        assert_eq!(c.metadata.resource_version.as_deref(), Some("1"));
        assert_eq!(c.metadata.generation, Some(1));
        assert_eq!(c.metadata.creation_timestamp, Some(k8s_seconds(SimTime(1_767_225_600_000))));
        assert_eq!(c.status, None, "a custom resource's status is not set on create");
        assert!(matches!(w.create(Obj::wrap(backup("a")), T0), Err(ClusterError::AlreadyExists { .. })));
    }

    #[test]
    fn a_created_object_handed_over_whole_is_stored_without_a_copy() {
        // The operator's writes hand the store an `Arc` no one else holds: the store stamps it in place.
        let mut w = World::new();
        let sent = Arc::new(backup("a"));
        let at = Arc::as_ptr(&sent);
        let stored = w.create(Obj::shared(sent), T0).unwrap().get::<Backup>().unwrap();
        assert!(std::ptr::eq(Arc::as_ptr(&stored), at), "the store copied the object it was handed");
        assert!(stored.metadata.uid.is_some());
        // One the writer still holds is copied: the writer's copy must not change under it.
        let kept = Arc::new(backup("b"));
        let stored = w.create(Obj::shared(kept.clone()), T0).unwrap().get::<Backup>().unwrap();
        assert!(!Arc::ptr_eq(&stored, &kept) && kept.metadata.uid.is_none());
    }

    #[test]
    fn names_and_label_values_are_validated() {
        let mut w = World::new();
        assert!(matches!(w.create(Obj::wrap(backup("Upper")), T0), Err(ClusterError::Invalid { .. })));
        let mut b = backup("ok");
        b.metadata.labels = Some(BTreeMap::from([("x".into(), "v".repeat(64))]));
        assert!(matches!(w.create(Obj::wrap(b), T0), Err(ClusterError::Invalid { .. })));
        let mut job = Job::default();
        job.metadata.name = Some("j".repeat(64));
        job.metadata.namespace = Some("test1".into());
        let err = w.create(Obj::wrap(job), T0).unwrap_err();
        assert!(err.to_string().contains("63"), "{err}");
    }

    #[test]
    fn stale_resource_versions_conflict() {
        let mut w = World::new();
        let c = created(&mut w, backup("a"));
        let mut first = (*c).clone();
        first.spec.tool_image = Some("x".into());
        w.update(Obj::wrap(first), Subresource::Main, T0).unwrap();
        let mut stale = (*c).clone();
        stale.spec.tool_image = Some("y".into());
        assert!(matches!(w.update(Obj::wrap(stale), Subresource::Main, T0), Err(ClusterError::Conflict { .. })));
    }

    #[test]
    fn status_and_spec_are_written_separately_and_generation_follows_spec() {
        let mut w = World::new();
        let c = created(&mut w, backup("a"));
        let mut s = (*c).clone();
        s.status = Some(BackupStatus { phase: Some(BackupPhase::Running), ..Default::default() });
        s.spec.tool_image = Some("ignored".into());
        let after = w.update(Obj::wrap(s), Subresource::Status, T0).unwrap().get::<Backup>().unwrap();
        assert_eq!(after.phase(), Some(BackupPhase::Running));
        assert_eq!(after.spec.tool_image, None, "the status subresource ignores spec");
        assert_eq!(after.metadata.generation, Some(1));
        let mut m = (*after).clone();
        m.status = None;
        m.spec.tool_image = Some("new".into());
        let after = w.update(Obj::wrap(m), Subresource::Main, T0).unwrap().get::<Backup>().unwrap();
        assert_eq!(after.phase(), Some(BackupPhase::Running), "the main resource ignores status");
        assert_eq!(after.metadata.generation, Some(2));
        let mut same = (*after).clone();
        same.metadata.labels = Some(BTreeMap::from([("a".into(), "b".into())]));
        let after = w.update(Obj::wrap(same), Subresource::Main, T0).unwrap().get::<Backup>().unwrap();
        assert_eq!(after.metadata.generation, Some(2), "metadata changes do not bump generation");
    }

    #[test]
    fn finalizers_hold_deletion_until_removed() {
        let mut w = World::new();
        let mut b = backup("a");
        b.metadata.finalizers = Some(vec!["f".into()]);
        created(&mut w, b);
        let Deletion::Pending(o) = w.delete(Kind::Backup, &key("a"), &Precondition::default(), T0).unwrap() else {
            panic!()
        };
        assert!(o.meta().deletion_timestamp.is_some());
        assert!(
            matches!(w.delete(Kind::Backup, &key("a"), &Precondition::default(), T0), Ok(Deletion::Pending(_))),
            "deleting twice is fine"
        );
        let mut more = (*o.get::<Backup>().unwrap()).clone();
        more.metadata.finalizers = Some(vec!["f".into(), "g".into()]);
        assert!(matches!(w.update(Obj::wrap(more), Subresource::Main, T0), Err(ClusterError::Invalid { .. })));
        let mut done = (*o.get::<Backup>().unwrap()).clone();
        done.metadata.finalizers = Some(vec![]);
        w.update(Obj::wrap(done), Subresource::Main, T0).unwrap();
        assert!(w.get(Kind::Backup, &key("a")).is_none());
        let changes = w.take_changes();
        assert_eq!(changes.last().unwrap().type_, ChangeType::Deleted);
    }

    #[test]
    fn a_removal_reports_the_deletions_resource_version_and_shares_the_last_state() {
        let mut w = World::new();
        let stored = created(&mut w, backup("a"));
        w.take_changes();
        assert!(matches!(w.delete(Kind::Backup, &key("a"), &Precondition::default(), T0), Ok(Deletion::Gone)));
        let changes = w.take_changes();
        let [gone] = changes.as_slice() else { panic!("one change: {changes:?}") };
        assert_eq!(gone.type_, ChangeType::Deleted);
        assert_eq!(gone.rv, w.resource_version(), "the deletion takes a resourceVersion of its own");
        assert!(gone.rv > gone.obj.resource_version());
        let last = gone.obj.get::<Backup>().unwrap();
        assert!(Arc::ptr_eq(&last, &stored), "the last state is the stored object, not a copy");
    }

    #[test]
    fn delete_preconditions_and_missing_objects() {
        let mut w = World::new();
        created(&mut w, backup("a"));
        let wrong = Precondition { uid: Some("other".into()), resource_version: None };
        assert!(matches!(w.delete(Kind::Backup, &key("a"), &wrong, T0), Err(ClusterError::Conflict { .. })));
        assert!(matches!(w.delete(Kind::Backup, &key("a"), &Precondition::default(), T0), Ok(Deletion::Gone)));
        assert!(matches!(
            w.delete(Kind::Backup, &key("a"), &Precondition::default(), T0),
            Err(ClusterError::NotFound { .. })
        ));
    }

    #[test]
    fn pods_terminate_gracefully_and_dependents_are_found_by_owner() {
        let mut w = World::new();
        let mut job = Job { spec: Some(JobSpec::default()), ..Default::default() };
        job.metadata.name = Some("j".into());
        job.metadata.namespace = Some("test1".into());
        let job = w.create(Obj::wrap(job), T0).unwrap();
        let mut pod = Pod::default();
        pod.metadata.name = Some("p".into());
        pod.metadata.namespace = Some("test1".into());
        pod.metadata.owner_references = Some(vec![OwnerReference {
            uid: job.meta().uid.clone().unwrap(),
            kind: "Job".into(),
            ..Default::default()
        }]);
        w.create(Obj::wrap(pod), T0).unwrap();
        assert_eq!(w.dependents(job.meta().uid.as_deref().unwrap()), vec![(Kind::Pod, key("p"))]);
        assert!(
            matches!(w.delete(Kind::Pod, &key("p"), &Precondition::default(), T0), Ok(Deletion::Pending(_))),
            "pods get a grace period"
        );
        assert!(w.remove(Kind::Pod, &key("p"), T0).is_some());
    }

    #[test]
    fn lists_select_by_namespace_and_labels() {
        let mut w = World::new();
        for (name, ns, label) in [("a", "test1", "x"), ("b", "test1", "y"), ("c", "other", "x")] {
            let mut b = backup(name);
            b.metadata.namespace = Some(ns.into());
            b.metadata.labels = Some(BTreeMap::from([("l".into(), label.into())]));
            w.create(Obj::wrap(b), T0).unwrap();
        }
        let sel = Labels::from([("l".into(), "x".into())]);
        let names: Vec<String> = w.list(Kind::Backup, "test1", &sel).iter().map(|o| o.key().name).collect();
        assert_eq!(names, ["a"]);
        assert_eq!(w.list(Kind::Backup, "test1", &Labels::new()).len(), 2);
    }
}
