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
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x517c_c1b7_2722_0a95);
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
    (
        (k >> 33) as u32,
        ((k >> 1) & 0xffff_ffff) as u32,
        k & 1 == 1,
    )
}

/// A pattern to store: `(a, sub, count, (mult, tie))`.
pub(crate) type Pat = (u32, bool, u32, (u32, u32));

#[derive(Clone, Copy)]
struct Slot {
    key: u64,
    /// Priority = `count · mult · TIE + tie`.
    mult: u32,
    tie: u32,
    /// The bucket the slot sits in (≥ its priority: counts only fall, buckets are fixed lazily).
    bucket: u32,
}

/// Patterns with count ≥ 2 and their bucket queue. A pattern `(a, b, sub)` is stored with its
/// newer operand `b` (all of `b`'s patterns are known when `b` is created, and counts only fall
/// afterwards), so a lookup is a binary search in a short list instead of a hash probe.
#[derive(Default)]
pub(crate) struct PairTable {
    /// For `b < n_dense` (the inputs, when few enough): `dense[(a·n_dense + b)·2 + sub]` =
    /// 1 + slot, 0 = none — a direct lookup for the most frequent patterns.
    dense: Vec<u32>,
    n_dense: u32,
    /// `partners[b]`: `(a << 1 | sub, slot)` sorted, for the patterns of `b` with older `a`.
    partners: Vec<Vec<(u32, u32)>>,
    slots: Vec<Slot>,
    /// The count of every slot (apart from `slots`: the hot, cache-dense part).
    counts: Vec<u32>,
    buckets: Vec<Vec<u32>>,
    top: usize,
}

/// Largest operand count with a dense pattern index (2·1024² entries, 8 MiB).
const MAX_DENSE: u32 = 1024;

impl PairTable {
    /// A table whose patterns among the first `n_in` operands are indexed densely when
    /// `n_in ≤ 1024`.
    pub fn new(n_in: usize) -> PairTable {
        let n_dense = if n_in as u32 <= MAX_DENSE {
            n_in as u32
        } else {
            0
        };
        PairTable {
            dense: vec![0; 2 * (n_dense as usize).pow(2)],
            n_dense,
            ..PairTable::default()
        }
    }

    #[inline]
    fn dense_index(&self, a: u32, b: u32, sub: bool) -> usize {
        (a as usize * self.n_dense as usize + b as usize) * 2 + usize::from(sub)
    }

    fn prio(&self, slot: u32) -> usize {
        let s = &self.slots[slot as usize];
        (self.counts[slot as usize] * s.mult * TIE + s.tie) as usize
    }

    fn bucket_add(&mut self, slot: u32) {
        let p = self.prio(slot);
        if self.buckets.len() <= p {
            self.buckets.resize_with(p + 1, Vec::new);
        }
        self.slots[slot as usize].bucket = p as u32;
        self.buckets[p].push(slot);
        self.top = self.top.max(p);
    }

    /// Sets the patterns of operand `b`: `(a, sub, count ≥ 2, (mult ≥ 1, tie))` for older
    /// operands `a`. `b`'s patterns must not have been set before.
    pub fn set_partners(&mut self, b: u32, mut pats: Vec<Pat>) {
        debug_assert!(pats
            .iter()
            .all(|p| p.0 < b && p.2 >= 2 && p.3 .0 >= 1 && p.3 .1 < TIE));
        if self.partners.len() <= b as usize {
            self.partners.resize_with(b as usize + 1, Vec::new);
        }
        pats.sort_unstable_by_key(|p| (p.0, p.1));
        let mut list = Vec::with_capacity(pats.len());
        for (a, sub, count, (mult, tie)) in pats {
            let slot = self.slots.len() as u32;
            let key = key(a, b, sub);
            self.slots.push(Slot {
                key,
                mult,
                tie,
                bucket: 0,
            });
            self.counts.push(count);
            self.bucket_add(slot);
            if b < self.n_dense {
                let i = self.dense_index(a, b, sub);
                self.dense[i] = slot + 1;
            } else {
                list.push(((a << 1) | u32::from(sub), slot));
            }
        }
        self.partners[b as usize] = list;
    }

    /// The slot of `k` while its count is ≥ 2.
    #[inline]
    fn find(&self, k: u64) -> Option<u32> {
        let (a, b, sub) = unkey(k);
        let slot = if b < self.n_dense {
            self.dense[self.dense_index(a, b, sub)].checked_sub(1)?
        } else {
            let list = self.partners.get(b as usize)?;
            let probe = (a << 1) | u32::from(sub);
            let i = list.binary_search_by_key(&probe, |e| e.0).ok()?;
            list[i].1
        };
        (self.counts[slot as usize] >= 2).then_some(slot)
    }

    pub fn contains(&self, k: u64) -> bool {
        self.find(k).is_some()
    }

    /// Removes pattern `k` (no-op when absent).
    pub fn remove(&mut self, k: u64) {
        if let Some(slot) = self.find(k) {
            self.counts[slot as usize] = 0;
        }
    }

    /// Lowers the count of `k` by `by` (no-op when absent); below 2 it is gone.
    #[inline]
    pub fn decrease(&mut self, k: u64, by: u32) {
        if let Some(slot) = self.find(k) {
            let c = &mut self.counts[slot as usize];
            *c = c.saturating_sub(by);
        }
    }

    /// The count of `k` (0 when absent).
    pub fn count(&self, k: u64) -> u32 {
        self.find(k).map_or(0, |s| self.counts[s as usize])
    }

    /// A pattern of highest priority (`pick` chooses the index within its bucket), or `None`.
    pub fn best(&mut self, mut pick: impl FnMut(usize) -> usize) -> Option<u64> {
        loop {
            while self.top > 0 && self.buckets.get(self.top).is_none_or(|b| b.is_empty()) {
                self.top -= 1;
            }
            let top = self.top;
            let b = self.buckets.get_mut(top)?;
            if b.is_empty() {
                return None;
            }
            let i = pick(b.len()).min(b.len() - 1);
            let slot = b[i];
            let alive = self.counts[slot as usize] >= 2;
            if alive && self.prio(slot) == top {
                return Some(self.slots[slot as usize].key);
            }
            self.buckets[top].swap_remove(i);
            if alive {
                self.bucket_add(slot);
            }
        }
    }
}
