//! `Obj`: any object of the simulated world, shared by `Arc` between the store, the informers and the trace.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use operator::api::{Backup, BackupSchedule, CompactBackup, Restore};
use operator::cluster::{KeyRef, Kind, Object, ObjectKey};
use std::any::Any;
use std::sync::Arc;

/// One object of one of the six kinds.
#[derive(Clone, Debug)]
pub enum Obj {
    Backup(Arc<Backup>),
    Restore(Arc<Restore>),
    Schedule(Arc<BackupSchedule>),
    Compact(Arc<CompactBackup>),
    Job(Arc<Job>),
    Pod(Arc<Pod>),
}

impl Obj {
    /// Wraps a typed object.
    pub fn wrap<K: Object>(obj: K) -> Obj {
        Obj::shared(Arc::new(obj))
    }

    /// Wraps a shared typed object without copying it (the store takes it over when no one else holds it).
    pub fn shared<K: Object>(obj: Arc<K>) -> Obj {
        let any: Arc<dyn Any + Send + Sync> = obj;
        match K::KIND {
            Kind::Backup => Obj::Backup(any.downcast().expect("Backup")),
            Kind::Restore => Obj::Restore(any.downcast().expect("Restore")),
            Kind::BackupSchedule => Obj::Schedule(any.downcast().expect("BackupSchedule")),
            Kind::CompactBackup => Obj::Compact(any.downcast().expect("CompactBackup")),
            Kind::Job => Obj::Job(any.downcast().expect("Job")),
            Kind::Pod => Obj::Pod(any.downcast().expect("Pod")),
        }
    }

    /// The typed object, if `K` is this object's kind.
    pub fn get<K: Object>(&self) -> Option<Arc<K>> {
        self.shared_ref::<K>().cloned()
    }

    /// The typed object, borrowed, if `K` is this object's kind (no reference count taken: what a reader that does
    /// not keep the object uses).
    pub fn view<K: Object>(&self) -> Option<&K> {
        self.shared_ref::<K>().map(|a| &**a)
    }

    fn shared_ref<K: Object>(&self) -> Option<&Arc<K>> {
        let any: &dyn Any = match self {
            Obj::Backup(a) => a,
            Obj::Restore(a) => a,
            Obj::Schedule(a) => a,
            Obj::Compact(a) => a,
            Obj::Job(a) => a,
            Obj::Pod(a) => a,
        };
        any.downcast_ref::<Arc<K>>()
    }

    pub fn kind(&self) -> Kind {
        match self {
            Obj::Backup(_) => Kind::Backup,
            Obj::Restore(_) => Kind::Restore,
            Obj::Schedule(_) => Kind::BackupSchedule,
            Obj::Compact(_) => Kind::CompactBackup,
            Obj::Job(_) => Kind::Job,
            Obj::Pod(_) => Kind::Pod,
        }
    }

    pub fn meta(&self) -> &ObjectMeta {
        match self {
            Obj::Backup(a) => &a.metadata,
            Obj::Restore(a) => &a.metadata,
            Obj::Schedule(a) => &a.metadata,
            Obj::Compact(a) => &a.metadata,
            Obj::Job(a) => &a.metadata,
            Obj::Pod(a) => &a.metadata,
        }
    }

    pub fn key(&self) -> ObjectKey {
        self.key_ref().owned()
    }

    /// The key, borrowed from the metadata.
    pub fn key_ref(&self) -> KeyRef<'_> {
        let m = self.meta();
        KeyRef::new(m.namespace.as_deref().unwrap_or_default(), m.name.as_deref().unwrap_or_default())
    }

    pub fn resource_version(&self) -> u64 {
        self.meta().resource_version.as_deref().and_then(|v| v.parse().ok()).unwrap_or(0)
    }

    /// A copy with `edit` applied to the metadata (the object itself is shared, so it is cloned).
    pub fn with_meta(&self, edit: impl FnOnce(&mut ObjectMeta)) -> Obj {
        match self {
            Obj::Backup(a) => Obj::Backup(Arc::new(edited(a, |o| edit(&mut o.metadata)))),
            Obj::Restore(a) => Obj::Restore(Arc::new(edited(a, |o| edit(&mut o.metadata)))),
            Obj::Schedule(a) => Obj::Schedule(Arc::new(edited(a, |o| edit(&mut o.metadata)))),
            Obj::Compact(a) => Obj::Compact(Arc::new(edited(a, |o| edit(&mut o.metadata)))),
            Obj::Job(a) => Obj::Job(Arc::new(edited(a, |o| edit(&mut o.metadata)))),
            Obj::Pod(a) => Obj::Pod(Arc::new(edited(a, |o| edit(&mut o.metadata)))),
        }
    }
}

impl Obj {
    /// This object with `edit` applied to the metadata, copied only if someone else shares it.
    pub fn into_with_meta(mut self, edit: impl FnOnce(&mut ObjectMeta)) -> Obj {
        match &mut self {
            Obj::Backup(a) => edit(&mut Arc::make_mut(a).metadata),
            Obj::Restore(a) => edit(&mut Arc::make_mut(a).metadata),
            Obj::Schedule(a) => edit(&mut Arc::make_mut(a).metadata),
            Obj::Compact(a) => edit(&mut Arc::make_mut(a).metadata),
            Obj::Job(a) => edit(&mut Arc::make_mut(a).metadata),
            Obj::Pod(a) => edit(&mut Arc::make_mut(a).metadata),
        }
        self
    }
}

fn edited<T: Clone>(a: &Arc<T>, f: impl FnOnce(&mut T)) -> T {
    let mut t = (**a).clone();
    f(&mut t);
    t
}
