//! `Lookup`: a map that can be looked up by key but never iterated, hashed with a fixed seed (foldhash), so neither
//! OS randomness nor hash order can reach a decision or the trace. Where order matters, an ordered set beside it
//! holds the keys (see `index.rs`).

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;

#[derive(Clone, Debug)]
pub struct Lookup<K, V> {
    map: HashMap<K, V, foldhash::fast::FixedState>,
}

impl<K, V> Default for Lookup<K, V> {
    fn default() -> Self {
        Lookup { map: HashMap::default() }
    }
}

/// Equal when both hold the same keys with equal values (whatever the hash order).
impl<K: Hash + Eq, V: PartialEq> PartialEq for Lookup<K, V> {
    fn eq(&self, other: &Self) -> bool {
        self.map == other.map
    }
}

impl<K: Hash + Eq, V: Eq> Eq for Lookup<K, V> {}

impl<K: Hash + Eq, V> Lookup<K, V> {
    pub fn get<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.map.get(key)
    }

    pub fn get_mut<Q: Hash + Eq + ?Sized>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
    {
        self.map.get_mut(key)
    }

    /// The value of `key`, inserted as `V::default()` when missing.
    pub fn or_default(&mut self, key: K) -> &mut V
    where
        V: Default,
    {
        self.map.entry(key).or_default()
    }

    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        self.map.insert(key, value)
    }

    pub fn remove<Q: Hash + Eq + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        self.map.remove(key)
    }

    /// Keeps the entries `keep` accepts. It sees them in hash order, so it must judge each on its own (nothing it
    /// does may depend on the order, or on the entries it saw before).
    pub fn retain(&mut self, keep: impl FnMut(&K, &mut V) -> bool) {
        self.map.retain(keep);
    }

    pub fn clear(&mut self) {
        self.map.clear();
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looks_up_what_was_inserted_and_forgets_what_was_removed() {
        let mut l: Lookup<String, u32> = Lookup::default();
        assert!(l.is_empty());
        assert_eq!(l.insert("a".into(), 1), None);
        assert_eq!(l.insert("a".into(), 2), Some(1));
        l.insert("b".into(), 3);
        *l.get_mut("b").unwrap() += 1;
        assert_eq!((l.get("a"), l.get("b"), l.get("c"), l.len()), (Some(&2), Some(&4), None, 2));
        assert_eq!(l.remove("a"), Some(2));
        assert_eq!((l.get("a"), l.len()), (None, 1));
    }
}
