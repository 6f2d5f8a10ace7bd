//! The garbage collector: background deletion of the dependents of an owner that is gone, and orphan and
//! foreground propagation of an owner's deletion.

use operator::cluster::{Kind, ObjectKey, Precondition};

use crate::engine::{Actor, Event, State};
use crate::rng::draw;
use crate::world::Subresource;

impl State {
    /// The garbage collector deletes the dependents of an owner that is gone (background propagation).
    pub(crate) fn gc_delete(&mut self, owner_uid: &str) {
        for (kind, key) in self.world.dependents(owner_uid) {
            let gone_owner = self.world.get(kind, &key).is_some_and(|o| {
                o.meta().owner_references.as_ref().is_some_and(|refs| refs.iter().any(|r| r.uid == owner_uid))
            });
            if gone_owner {
                let _ = self.world.delete(kind, &key, &Precondition::default(), self.now);
                self.commit(&Actor::Gc);
            }
        }
    }

    /// Orphan propagation: the dependents lose their reference to the owner, then the owner's `orphan` finalizer
    /// goes. Foreground: the dependents are deleted, and once none is left the owner's `foregroundDeletion`
    /// finalizer goes (looked at again after another collector delay while some remain).
    pub(crate) fn gc_propagate(&mut self, kind: Kind, key: &ObjectKey, uid: &str, orphan: bool) {
        if self.world.get(kind, key).is_none_or(|o| o.meta().uid.as_deref() != Some(uid)) {
            return;
        }
        for (dependent_kind, dependent) in self.world.dependents(uid) {
            let Some(o) = self.world.get(dependent_kind, &dependent).cloned() else { continue };
            if orphan {
                let released = o.with_meta(|m| {
                    if let Some(refs) = m.owner_references.as_mut() {
                        refs.retain(|r| r.uid != uid);
                    }
                    m.owner_references.take_if(|refs| refs.is_empty());
                });
                let _ = self.world.update(released, Subresource::Main, self.now);
            } else {
                let _ = self.world.delete(dependent_kind, &dependent, &Precondition::default(), self.now);
            }
        }
        self.commit(&Actor::Gc);
        if !orphan && !self.world.dependents(uid).is_empty() {
            let d = draw(&mut self.rngs.kubelet, self.timing.gc.lo, self.timing.gc.hi);
            self.after(d, Event::GcPropagate { kind, key: key.clone(), uid: uid.to_string(), orphan });
            return;
        }
        let finalizer = if orphan { "orphan" } else { "foregroundDeletion" };
        let Some(owner) = self.world.get(kind, key).cloned() else { return };
        let released = owner.with_meta(|m| {
            if let Some(f) = m.finalizers.as_mut() {
                f.retain(|x| x != finalizer);
            }
        });
        let _ = self.world.update(released, Subresource::Main, self.now);
        self.commit(&Actor::Gc);
    }
}
