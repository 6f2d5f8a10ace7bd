//! `Indexed`: the objects of one kind by key, indexed by the naming labels and by owner uid, so that a selector or an
//! owner lookup reads only the objects it returns, never the rest of the namespace (the store and every informer
//! cache).

use operator::api::labels::NAMING;
use operator::cluster::{AsKey, Labels, ObjectKey, labels_match, pairs_match};
use std::borrow::Borrow;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use crate::lookup::Lookup;
use crate::object::Obj;

/// An object's key, allocated when the object is stored with new labels or owners (a write that keeps them keeps the
/// entries) and shared by every index entry of it: an entry is a pointer, not two strings per label pair. A lookup
/// borrows a plain `&ObjectKey`, or a key borrowed from an object's metadata (`&dyn AsKey`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Key(Rc<ObjectKey>);

impl std::ops::Deref for Key {
    type Target = ObjectKey;
    fn deref(&self) -> &ObjectKey {
        &self.0
    }
}

impl Borrow<ObjectKey> for Key {
    fn borrow(&self) -> &ObjectKey {
        &self.0
    }
}

impl<'a> Borrow<dyn AsKey + 'a> for Key {
    fn borrow(&self) -> &(dyn AsKey + 'a) {
        &*self.0
    }
}

/// namespace -> label key -> label value -> keys (in order) of the objects carrying that pair. Nested, so that a
/// lookup borrows its strings instead of building an owned key. Only the naming keys (`labels::NAMING`: a value
/// names one Backup, Restore, compaction or schedule) are indexed: every selector the operator sends carries one,
/// and the others (`component`, `managed-by`, the Job controller's) would each hold a set of most of the namespace,
/// paid for at every create and delete. A selector without a naming key reads the keys of every object of the kind
/// to find its namespace's, and sorts those.
/// The values are hashed: a world of thousands of Backups has as many values of the Backup's naming key, found by
/// exact value only.
type ByLabel = BTreeMap<String, BTreeMap<String, Lookup<String, BTreeSet<Key>>>>;

#[derive(Clone, Debug, Default)]
pub struct Indexed {
    /// The objects by key: a lookup hashes the key once, where an ordered map compares it with some twenty keys
    /// sharing a long prefix in a world of thousands (most writes only look up). Iteration and namespace scans, which
    /// are rare (checks at the end of a run, relists, lists without a naming label), sort what they read: an ordered
    /// set of the keys beside the map cost such a search at every create and delete, in the store and in every cache.
    by_key: Lookup<Key, Obj>,
    by_label: ByLabel,
    /// Keys of the objects whose ownerReferences name a uid (found by exact uid only, so hashed).
    by_owner: Lookup<String, BTreeSet<Key>>,
}

/// The indexed label pairs of `obj`.
fn pairs(obj: &Obj) -> impl Iterator<Item = (&String, &String)> {
    obj.meta().labels.iter().flatten().filter(|(k, _)| NAMING.contains(&k.as_str()))
}

fn owners(obj: &Obj) -> impl Iterator<Item = &str> {
    obj.meta().owner_references.iter().flatten().map(|r| r.uid.as_str())
}

/// Whether `new` has the index entries `old` has: most writes (status, finalizers) leave labels and owners alone,
/// and then the indexes already hold the key. Only the indexed pairs are compared (a pod's other labels are long
/// and many).
fn same_entries(old: &Obj, new: &Obj) -> bool {
    pairs(old).eq(pairs(new)) && owners(old).eq(owners(new))
}

impl Indexed {
    /// The object of a key, owned (`&ObjectKey`) or borrowed (`&KeyRef`).
    pub fn get(&self, key: &dyn AsKey) -> Option<&Obj> {
        self.by_key.get(key)
    }

    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// Every object, by namespace then name.
    pub fn values(&self) -> impl Iterator<Item = &Obj> {
        self.by_key.sorted(|_| true).into_iter().map(|(_, o)| o)
    }

    /// Stores `obj` under its own key, replacing (and unindexing) what was there; an owned key is made only when the
    /// indexes change.
    pub fn put(&mut self, obj: Obj) -> Option<Obj> {
        let key = obj.key_ref();
        if let Some(slot) = self.by_key.get_mut(&key as &dyn AsKey)
            && same_entries(slot, &obj)
        {
            return Some(std::mem::replace(slot, obj));
        }
        self.reindex(obj.key(), obj)
    }

    /// Stores `obj` under `key`, replacing (and unindexing) what was there.
    pub fn insert(&mut self, key: ObjectKey, obj: Obj) -> Option<Obj> {
        if let Some(slot) = self.by_key.get_mut(&key)
            && same_entries(slot, &obj)
        {
            return Some(std::mem::replace(slot, obj));
        }
        self.reindex(key, obj)
    }

    fn reindex(&mut self, key: ObjectKey, obj: Obj) -> Option<Obj> {
        let old = self.remove(&key);
        let key = Key(Rc::new(key));
        if pairs(&obj).next().is_some() {
            let in_ns = match self.by_label.get_mut(&key.namespace) {
                Some(m) => m,
                None => self.by_label.entry(key.namespace.clone()).or_default(),
            };
            for (k, v) in pairs(&obj) {
                let values = match in_ns.get_mut(k) {
                    Some(m) => m,
                    None => in_ns.entry(k.clone()).or_default(),
                };
                let names = match values.get_mut(v) {
                    Some(n) => n,
                    None => values.or_default(v.clone()),
                };
                names.insert(key.clone());
            }
        }
        for uid in owners(&obj) {
            let keys = match self.by_owner.get_mut(uid) {
                Some(keys) => keys,
                None => self.by_owner.or_default(uid.to_string()),
            };
            keys.insert(key.clone());
        }
        self.by_key.insert(key, obj);
        old
    }

    pub fn remove(&mut self, key: &ObjectKey) -> Option<Obj> {
        let old = self.by_key.remove(key)?;
        if let Some(in_ns) = self.by_label.get_mut(&key.namespace) {
            for (k, v) in pairs(&old) {
                let Some(values) = in_ns.get_mut(k) else { continue };
                if let Some(names) = values.get_mut(v) {
                    names.remove(key);
                    if names.is_empty() {
                        values.remove(v);
                    }
                }
                if values.is_empty() {
                    in_ns.remove(k);
                }
            }
            if in_ns.is_empty() {
                self.by_label.remove(&key.namespace);
            }
        }
        for uid in owners(&old) {
            if let Some(keys) = self.by_owner.get_mut(uid) {
                keys.remove(key);
                if keys.is_empty() {
                    self.by_owner.remove(uid);
                }
            }
        }
        Some(old)
    }

    pub fn clear(&mut self) {
        *self = Indexed::default();
    }

    /// The objects in `namespace` carrying every pair of `selector`, by name. Reads only the objects carrying the
    /// selector's rarest naming pair; a selector without one reads every key of the kind (and the objects of the
    /// namespace).
    pub fn select<'a>(&'a self, namespace: &'a str, selector: &'a Labels) -> Box<dyn Iterator<Item = &'a Obj> + 'a> {
        let mut rarest: Option<(&String, &BTreeSet<Key>)> = None;
        let in_ns = self.by_label.get(namespace);
        for (k, v) in selector.iter().filter(|(k, _)| NAMING.contains(&k.as_str())) {
            match in_ns.and_then(|m| m.get(k)).and_then(|m| m.get(v)) {
                None => return Box::new(std::iter::empty()),
                Some(names) if rarest.is_none_or(|(_, r)| names.len() < r.len()) => rarest = Some((k, names)),
                Some(_) => {}
            }
        }
        let matching = move |o: &&Obj| labels_match(o.meta().labels.as_ref(), selector);
        match rarest {
            Some((indexed, names)) => {
                // Every object the index names for a pair carries it: only the selector's other pairs are judged.
                let others = move |o: &&Obj| {
                    pairs_match(o.meta().labels.as_ref(), selector.iter().filter(|(k, _)| *k != indexed))
                };
                Box::new(names.iter().filter_map(move |key| self.by_key.get(&**key)).filter(others))
            }
            None => {
                Box::new(self.by_key.sorted(|k| k.namespace == namespace).into_iter().map(|(_, o)| o).filter(matching))
            }
        }
    }

    /// The objects whose ownerReferences name `uid`, by namespace then name.
    pub fn owned_by<'a>(&'a self, uid: &str) -> impl Iterator<Item = &'a Obj> + use<'a> {
        self.by_owner.get(uid).into_iter().flatten().filter_map(|k| self.by_key.get(&**k))
    }
}

impl FromIterator<Obj> for Indexed {
    fn from_iter<I: IntoIterator<Item = Obj>>(objs: I) -> Self {
        let mut index = Indexed::default();
        for o in objs {
            index.insert(o.key(), o);
        }
        index
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use operator::api::Backup;
    use proptest::prelude::*;

    /// A naming key (indexed) and another (scanned for).
    const NAMED: &str = operator::api::labels::SCHEDULE;
    const OTHER: &str = operator::api::labels::COMPONENT;

    fn backup(ns: &str, name: &str, labels: (Option<&str>, Option<&str>), owner: Option<&str>) -> Obj {
        let mut b = Backup::new(name, Default::default());
        b.metadata.namespace = Some(ns.into());
        let pairs = [(NAMED, labels.0), (OTHER, labels.1)];
        let pairs: BTreeMap<String, String> =
            pairs.into_iter().filter_map(|(k, v)| Some((k.to_string(), v?.to_string()))).collect();
        b.metadata.labels = (!pairs.is_empty()).then_some(pairs);
        b.metadata.owner_references = owner.map(|uid| {
            vec![k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
                uid: uid.into(),
                ..Default::default()
            }]
        });
        Obj::wrap(b)
    }

    fn names<'a>(it: impl Iterator<Item = &'a Obj>) -> Vec<String> {
        it.map(|o| o.key().to_string()).collect()
    }

    proptest! {
        /// Whatever is inserted (under a given key or its own), replaced and removed, a selector (on a naming key,
        /// another key, both or none) or an owner lookup answers exactly what a scan of every object would, in the
        /// same order.
        #[test]
        fn lookups_answer_what_a_full_scan_answers(
            ops in proptest::collection::vec((0u8..4, 0u8..2, 0u8..6, (0u8..3, 0u8..3), 0u8..3), 0..60)
        ) {
            let mut index = Indexed::default();
            let value = |i: u8| ["a", "b", ""].get(i as usize).filter(|l| !l.is_empty()).copied();
            for (op, ns, name, (named, other), owner) in ops {
                let (ns, name) = (format!("ns{ns}"), format!("b{name}"));
                let owner = ["u1", "u2", ""].get(owner as usize).filter(|o| !o.is_empty()).copied();
                if op == 0 {
                    index.remove(&ObjectKey::new(&ns, &name));
                } else {
                    let o = backup(&ns, &name, (value(named), value(other)), owner);
                    if op == 1 {
                        index.insert(o.key(), o);
                    } else {
                        index.put(o);
                    }
                }
            }
            let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
            let selectors = [
                Labels::new(),
                Labels::from([pair(NAMED, "a")]),
                Labels::from([pair(OTHER, "b")]),
                Labels::from([pair(NAMED, "a"), pair(OTHER, "a")]),
            ];
            for ns in ["ns0", "ns1"] {
                for sel in selectors.clone() {
                    let scan = index.values().filter(|o| o.key().namespace == ns)
                        .filter(|o| labels_match(o.meta().labels.as_ref(), &sel));
                    prop_assert_eq!(names(index.select(ns, &sel)), names(scan));
                }
            }
            for uid in ["u1", "u2"] {
                let scan = index.values()
                    .filter(|o| o.meta().owner_references.iter().flatten().any(|r| r.uid == uid));
                prop_assert_eq!(names(index.owned_by(uid)), names(scan));
            }
        }
    }
}
