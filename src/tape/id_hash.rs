//! A hasher for the small integer keys of the tape's maps (node indices and
//! [`ParamId`](super::ParamId)s): one multiply instead of SipHash.
//!
//! The keys are counters the crate hands out itself, not user input, so a
//! hash-flooding attack has nothing to aim at; SipHash's cost (a third of a
//! gradient lookup on a small model) buys nothing here.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A map keyed by a node index or a parameter id.
pub(crate) type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

/// Fibonacci hashing of one integer: multiplied by 2⁶⁴/φ, so consecutive
/// ids spread over the high bits (which `hashbrown` uses to tag buckets)
/// and keep distinct low bits (which pick the bucket).
#[derive(Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        // Only integer keys reach this map; any other key still hashes
        // correctly, byte by byte.
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        // usize is at most 64 bits on every supported target.
        self.write_u64(n as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::{BuildHasher, Hash};

    fn hash<K: Hash>(k: K) -> u64 {
        BuildHasherDefault::<IdHasher>::default().hash_one(k)
    }

    #[test]
    fn consecutive_ids_get_distinct_hashes_and_tags() {
        let hashes: Vec<u64> = (0usize..1000).map(hash).collect();
        let mut sorted = hashes.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 1000);
        // The top 7 bits (hashbrown's tag) take many values, not one.
        let mut tags: Vec<u64> = hashes.iter().map(|h| h >> 57).collect();
        tags.sort_unstable();
        tags.dedup();
        assert!(tags.len() > 64, "{} tags", tags.len());
    }

    #[test]
    fn a_map_keyed_by_ids_finds_every_entry() {
        let mut m: IdMap<u64, u64> = IdMap::default();
        for i in 0..500u64 {
            m.insert(i * 3, i);
        }
        assert!((0..500u64).all(|i| m.get(&(i * 3)) == Some(&i)));
        assert_eq!(m.get(&1), None);
        assert_eq!(hash(7u8), hash(7u8));
    }
}
