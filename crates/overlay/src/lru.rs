//! A small LRU map bounded by entry count and by bytes, counting its evictions.
//!
//! Chat text is untrusted and endless: every distinct comment makes a sprite, so the cache must
//! forget. A tick counter orders use; eviction scans for the oldest entry. That scan is O(n) but
//! runs only on insert of a new entry beyond the bound, with n in the hundreds.

use std::collections::HashMap;
use std::hash::Hash;

#[derive(Debug)]
pub(crate) struct Lru<K, V> {
    map: HashMap<K, (V, u64, usize)>,
    tick: u64,
    bytes: usize,
    max_entries: usize,
    max_bytes: usize,
    pub(crate) evictions: u64,
}

impl<K: Hash + Eq + Clone, V: Clone> Lru<K, V> {
    pub(crate) fn new(max_entries: usize, max_bytes: usize) -> Self {
        Self {
            map: HashMap::new(),
            tick: 0,
            bytes: 0,
            max_entries: max_entries.max(1),
            max_bytes,
            evictions: 0,
        }
    }

    pub(crate) fn get(&mut self, k: &K) -> Option<V> {
        self.tick += 1;
        let t = self.tick;
        self.map.get_mut(k).map(|e| {
            e.1 = t;
            e.0.clone()
        })
    }

    pub(crate) fn insert(&mut self, k: K, v: V, size: usize) {
        self.tick += 1;
        if let Some(old) = self.map.insert(k, (v, self.tick, size)) {
            self.bytes -= old.2;
        }
        self.bytes += size;
        while self.map.len() > self.max_entries
            || (self.bytes > self.max_bytes && self.map.len() > 1)
        {
            let Some(oldest) = self
                .map
                .iter()
                .min_by_key(|(_, e)| e.1)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some(e) = self.map.remove(&oldest) {
                self.bytes -= e.2;
                self.evictions += 1;
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lru_evicts_least_recently_used_and_counts_it() {
        let mut l = Lru::new(2, usize::MAX);
        l.insert(1, 'a', 1);
        l.insert(2, 'b', 1);
        assert_eq!(l.get(&1), Some('a'));
        l.insert(3, 'c', 1);
        assert_eq!(l.get(&2), None);
        assert_eq!(l.get(&1), Some('a'));
        assert_eq!(l.evictions, 1);
    }

    #[test]
    fn lru_stays_within_its_byte_budget() {
        let mut l = Lru::new(100, 10);
        for i in 0..50 {
            l.insert(i, i, 4);
            assert!(l.bytes() <= 10);
        }
        assert_eq!(l.len(), 2);
        assert_eq!(l.evictions, 48);
    }
}
