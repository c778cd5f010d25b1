//! The pair table: how often each pattern `(a, b, sub)` (`x_a ± x_b`, up to a common sign)
//! occurs across rows, for the patterns that occur at least twice, with a bucket queue on the
//! priority `count · TIE + tie` so that the best pattern is found in O(1) amortized.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Tie-break classes per count (a pattern's `tie` is in `0..TIE`).
pub(crate) const TIE: u32 = 16;

/// A multiplicative hasher for integer keys (the keys are not adversarial).
#[derive(Default, Clone, Copy)]
pub(crate) struct Fx(u64);

impl Hasher for Fx {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u32(&mut self, v: u32) {
        self.write_u64(u64::from(v));
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7cc1_b727_220a_95);
    }
    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64);
    }
}

pub(crate) type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<Fx>>;

/// The key of pattern `x_a ± x_b` (`a < b`; `sub` = the two terms have opposite signs).
#[inline]
pub(crate) fn key(a: u32, b: u32, sub: bool) -> u64 {
    debug_assert!(a < b);
    (u64::from(a) << 33) | (u64::from(b) << 1) | u64::from(sub)
}

/// `(a, b, sub)` of a key.
#[inline]
pub(crate) fn unkey(k: u64) -> (u32, u32, bool) {
    ((k >> 33) as u32, ((k >> 1) & 0xffff_ffff) as u32, k & 1 == 1)
}

#[derive(Clone, Copy)]
struct Slot {
    key: u64,
    count: u32,
    tie: u32,
    pos: u32,
}

/// Patterns with count ≥ 2 and their bucket queue.
#[derive(Default)]
pub(crate) struct PairTable {
    map: FxMap<u64, u32>,
    slots: Vec<Slot>,
    free: Vec<u32>,
    buckets: Vec<Vec<u32>>,
    top: usize,
}

impl PairTable {
    fn prio(s: &Slot) -> usize {
        (s.count * TIE + s.tie) as usize
    }

    fn bucket_add(&mut self, slot: u32) {
        let p = Self::prio(&self.slots[slot as usize]);
        if self.buckets.len() <= p {
            self.buckets.resize_with(p + 1, Vec::new);
        }
        self.slots[slot as usize].pos = self.buckets[p].len() as u32;
        self.buckets[p].push(slot);
        self.top = self.top.max(p);
    }

    fn bucket_remove(&mut self, slot: u32) {
        let s = self.slots[slot as usize];
        let b = &mut self.buckets[Self::prio(&s)];
        b.swap_remove(s.pos as usize);
        if let Some(&moved) = b.get(s.pos as usize) {
            self.slots[moved as usize].pos = s.pos;
        }
    }

    /// Adds pattern `k` with `count ≥ 2` occurrences (it must not be present).
    pub fn insert(&mut self, k: u64, count: u32, tie: u32) {
        debug_assert!(count >= 2 && tie < TIE && !self.map.contains_key(&k));
        let s = Slot {
            key: k,
            count,
            tie,
            pos: 0,
        };
        let slot = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = s;
                i
            }
            None => {
                self.slots.push(s);
                (self.slots.len() - 1) as u32
            }
        };
        self.map.insert(k, slot);
        self.bucket_add(slot);
    }

    pub fn contains(&self, k: u64) -> bool {
        self.map.contains_key(&k)
    }

    /// Removes pattern `k` (no-op when absent).
    pub fn remove(&mut self, k: u64) {
        if let Some(slot) = self.map.remove(&k) {
            self.bucket_remove(slot);
            self.free.push(slot);
        }
    }

    /// Lowers the count of `k` by `by` (no-op when absent); drops it below 2.
    pub fn decrease(&mut self, k: u64, by: u32) {
        let Some(&slot) = self.map.get(&k) else {
            return;
        };
        let c = self.slots[slot as usize].count.saturating_sub(by);
        if c < 2 {
            self.remove(k);
            return;
        }
        self.bucket_remove(slot);
        self.slots[slot as usize].count = c;
        self.bucket_add(slot);
    }

    /// The count of `k` (0 when absent).
    pub fn count(&self, k: u64) -> u32 {
        self.map.get(&k).map_or(0, |&s| self.slots[s as usize].count)
    }

    /// A pattern of highest priority (`pick` chooses the index within its bucket), or `None`.
    pub fn best(&mut self, pick: impl FnOnce(usize) -> usize) -> Option<u64> {
        while self.top > 0 && self.buckets.get(self.top).map_or(true, |b| b.is_empty()) {
            self.top -= 1;
        }
        let b = self.buckets.get(self.top)?;
        if b.is_empty() {
            return None;
        }
        let i = pick(b.len()).min(b.len() - 1);
        Some(self.slots[b[i] as usize].key)
    }
}
