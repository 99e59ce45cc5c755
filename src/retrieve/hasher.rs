//! A fast hasher for the index's own maps (terms, n-grams, typo forms).
//!
//! Every message looks up each of its words and n-grams in these maps, several times per
//! field, and the standard hasher (SipHash) costs more than the rest of a lookup for keys
//! this short. The maps are built from the content only; a message never inserts into them,
//! so it cannot fill them with colliding keys, and the hash need not resist that. This is
//! the Fx hash of the Rust compiler: rotate, xor, multiply, a word at a time.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A map keyed by index terms, hashed with [`FxHasher`].
pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// The Fx hash.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FxHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn equal_keys_hash_equal_and_near_keys_apart() {
        let b = BuildHasherDefault::<FxHasher>::default();
        assert_eq!(b.hash_one("parcel"), b.hash_one(String::from("parcel")));
        assert_ne!(b.hash_one("parcel"), b.hash_one("parcels"));
        assert_ne!(b.hash_one("#par"), b.hash_one("#pa"));
        assert_ne!(b.hash_one("పార్సెల్"), b.hash_one("పార్శిల్"));
        let mut map: FastMap<String, u32> = FastMap::default();
        map.insert("δεμα".into(), 1);
        assert_eq!(map.get("δεμα"), Some(&1));
        assert_eq!(map.get("δεμ"), None);
    }
}
