//! `Lookup`: a map that can be looked up by key but never iterated in hash order, hashed with a fixed seed (foldhash),
//! so neither OS randomness nor hash order can reach a decision or the trace. Where order matters, `sorted` hands the
//! entries out by key.

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

    /// The entries `keep` accepts, by key: the only way to go through them in an order (sorting what is read, where
    /// an ordered set beside the map would be paid for at every insert and remove).
    pub fn sorted(&self, mut keep: impl FnMut(&K) -> bool) -> Vec<(&K, &V)>
    where
        K: Ord,
    {
        let mut entries: Vec<(&K, &V)> = self.map.iter().filter(|(k, _)| keep(k)).collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
        entries
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

    #[test]
    fn sorted_hands_out_the_kept_entries_by_key_whatever_order_they_came_in() {
        let mut l: Lookup<u32, char> = Lookup::default();
        for (i, k) in [7, 3, 11, 1, 9, 4].into_iter().enumerate() {
            l.insert(k, char::from(b'a' + i as u8));
        }
        let odd: Vec<(u32, char)> = l.sorted(|k| k % 2 == 1).into_iter().map(|(k, v)| (*k, *v)).collect();
        assert_eq!(odd, vec![(1, 'd'), (3, 'b'), (7, 'a'), (9, 'e'), (11, 'c')]);
        assert!(l.sorted(|_| false).is_empty());
    }
}
