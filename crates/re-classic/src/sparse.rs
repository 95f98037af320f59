//! Hashed sparse feature vectors: a feature string is hashed (FNV-1a, 64 bit) into `2^bits` buckets.
use serde::{Deserialize, Serialize};

/// A sparse vector with sorted, unique indices.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SparseVec {
    pub indices: Vec<u32>,
    pub values: Vec<f32>,
}

impl SparseVec {
    /// Binary features from (possibly repeated, unsorted) indices, scaled to unit L2 norm.
    pub fn from_indices_normalized(mut indices: Vec<u32>) -> SparseVec {
        indices.sort_unstable();
        indices.dedup();
        let v = if indices.is_empty() { 0.0 } else { 1.0 / (indices.len() as f32).sqrt() };
        let values = vec![v; indices.len()];
        SparseVec { indices, values }
    }

    pub fn len(&self) -> usize {
        self.indices.len()
    }

    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (usize, f32)> + '_ {
        self.indices.iter().map(|&i| i as usize).zip(self.values.iter().copied())
    }

    /// Dot product with a dense vector (indices beyond `w` count as zero).
    pub fn dot(&self, w: &[f64]) -> f64 {
        self.iter().map(|(i, v)| w.get(i).copied().unwrap_or(0.0) * v as f64).sum()
    }

    pub fn norm_sq(&self) -> f64 {
        self.values.iter().map(|&v| (v as f64) * (v as f64)).sum()
    }
}

/// Streaming FNV-1a 64-bit hasher: hashing parts one after another equals hashing their concatenation.
#[derive(Clone, Copy, Debug)]
pub struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    pub fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= b as u64;
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    pub fn finish(self) -> u64 {
        self.0
    }
}

/// The bucket of a feature string in a table of `2^bits` entries.
pub fn hash_feature(feature: &str, bits: u32) -> u32 {
    let mut h = Fnv::default();
    h.write(feature.as_bytes());
    bucket(h.finish(), bits)
}

/// Fold the high half into the low bits before masking (FNV's low bits alone mix poorly).
pub fn bucket(h: u64, bits: u32) -> u32 {
    let mixed = h ^ (h >> 29) ^ (h >> 47);
    (mixed & ((1u64 << bits) - 1)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streaming_hash_equals_whole_hash() {
        let mut h = Fnv::default();
        h.write("f1:".as_bytes());
        h.write("경쟁/NNG".as_bytes());
        assert_eq!(bucket(h.finish(), 18), hash_feature("f1:경쟁/NNG", 18));
        assert!(hash_feature("x", 4) < 16);
    }

    #[test]
    fn normalized_vector_is_sorted_unique_unit() {
        let v = SparseVec::from_indices_normalized(vec![5, 1, 5, 3]);
        assert_eq!(v.indices, [1, 3, 5]);
        assert!((v.norm_sq() - 1.0).abs() < 1e-6);
        assert!((v.dot(&[0.0, 2.0, 0.0, 1.0]) - 3.0 / 3f64.sqrt()).abs() < 1e-6);
    }
}
