//! `ObjectMap`: a value per object (kind, then key), looked up by a borrowed key, forgetting stale entries in
//! batches: a sweep runs once the map has more than doubled since the last one, so a write costs a lookup, not a
//! scan.

use std::collections::{BTreeMap, HashMap};

use super::{AsKey, Kind, ObjectKey};

/// After a sweep, the next waits for at least this many entries.
const SWEEP_FLOOR: usize = 64;

/// Keys are hashed (with a fixed seed: nothing here depends on the process): a controller asks about its own writes
/// for every object it looks at, and an ordered map compares a key with a dozen others sharing long prefixes.
type Keyed<V> = HashMap<ObjectKey, V, foldhash::fast::FixedState>;

#[derive(Debug)]
pub struct ObjectMap<V> {
    by_kind: BTreeMap<Kind, Keyed<V>>,
    len: usize,
    /// The size above which [`ObjectMap::sweep_if_due`] sweeps: 0 at first (the first sweep comes with the second
    /// entry), then twice what the last sweep left, or the floor.
    sweep_above: usize,
}

impl<V> Default for ObjectMap<V> {
    fn default() -> Self {
        ObjectMap { by_kind: BTreeMap::new(), len: 0, sweep_above: 0 }
    }
}

impl<V> ObjectMap<V> {
    /// The value for the object, found by an owned key or a borrowed one ([`KeyRef`](super::KeyRef)).
    pub fn get(&self, kind: Kind, key: &dyn AsKey) -> Option<&V> {
        self.by_kind.get(&kind)?.get(key)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Drops every entry `stale` calls stale, when the map has more than doubled since the last sweep (callers
    /// treat a stale entry as absent, so when it goes changes no answer).
    pub fn sweep_if_due(&mut self, stale: impl Fn(&V) -> bool) {
        if self.len > self.sweep_above {
            for of_kind in self.by_kind.values_mut() {
                of_kind.retain(|_, v| !stale(v));
            }
            self.len = self.by_kind.values().map(HashMap::len).sum();
            self.sweep_above = (2 * self.len).max(SWEEP_FLOOR);
        }
    }

    /// Stores `value` for the object.
    pub fn insert(&mut self, kind: Kind, key: &ObjectKey, value: V) {
        let of_kind = self.by_kind.entry(kind).or_default();
        match of_kind.get_mut(key) {
            Some(slot) => *slot = value,
            None => {
                of_kind.insert(key.clone(), value);
                self.len += 1;
            }
        }
    }

    pub fn remove(&mut self, kind: Kind, key: &dyn AsKey) -> Option<V> {
        let old = self.by_kind.get_mut(&kind)?.remove(key)?;
        self.len -= 1;
        Some(old)
    }

    /// The entries of `kind`, by key (sorted here: the map's own order is its hashes').
    pub fn of_kind(&self, kind: Kind) -> impl Iterator<Item = (&ObjectKey, &V)> {
        let mut entries: Vec<(&ObjectKey, &V)> = self.by_kind.get(&kind).into_iter().flatten().collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
        entries.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::KeyRef;
    use proptest::prelude::*;

    #[test]
    fn a_borrowed_key_finds_the_entry_of_its_namespace_and_name_only() {
        let mut map = ObjectMap::default();
        map.insert(Kind::Backup, &ObjectKey::new("a", "daily"), 1);
        map.insert(Kind::Backup, &ObjectKey::new("b", "daily"), 2);
        assert_eq!(map.get(Kind::Backup, &KeyRef::new("a", "daily")), Some(&1));
        assert_eq!(map.get(Kind::Backup, &KeyRef::new("b", "daily")), Some(&2));
        assert_eq!(map.get(Kind::Backup, &KeyRef::new("c", "daily")), None);
        assert_eq!(map.get(Kind::Job, &KeyRef::new("a", "daily")), None);
    }

    proptest! {
        /// Whatever is inserted and removed, every entry not stale answers as a plain map's would, nothing removed
        /// comes back, and the map never holds more than twice the entries fresh at a sweep (or the floor).
        #[test]
        fn answers_as_a_plain_map_for_every_live_entry_and_stays_bounded(
            ops in proptest::collection::vec((0u8..3, 0u8..2, 0u16..200), 0..600)
        ) {
            let mut map = ObjectMap::default();
            let mut plain = BTreeMap::new();
            // Values are insertion times; an entry older than 50 steps is stale.
            for (step, (op, kind, name)) in ops.into_iter().enumerate() {
                let kind = [Kind::Backup, Kind::Job][kind as usize];
                let key = ObjectKey::new("ns", format!("o{name}"));
                if op == 0 {
                    map.remove(kind, &key);
                    plain.remove(&(kind, key));
                } else {
                    map.sweep_if_due(|at| step.saturating_sub(*at) > 50);
                    map.insert(kind, &key, step);
                    plain.insert((kind, key), step);
                }
                let now = step;
                let live = |at: &usize| now.saturating_sub(*at) <= 50;
                for ((k, key), at) in &plain {
                    if live(at) {
                        prop_assert_eq!(map.get(*k, key), Some(at));
                        prop_assert_eq!(map.get(*k, &key.borrowed()), Some(at), "a borrowed key finds it too");
                    }
                }
                for k in [Kind::Backup, Kind::Job] {
                    let keys: Vec<&ObjectKey> = map.of_kind(k).map(|(key, _)| key).collect();
                    prop_assert!(keys.is_sorted(), "entries come by key");
                    for (key, at) in map.of_kind(k) {
                        prop_assert_eq!(plain.get(&(k, key.clone())), Some(at), "nothing removed comes back");
                    }
                }
                // At most 51 entries are fresh at once (one insert a step), so a sweep leaves at most 51.
                prop_assert!(map.len() <= (2 * 51).max(SWEEP_FLOOR) + 1);
            }
        }
    }
}
