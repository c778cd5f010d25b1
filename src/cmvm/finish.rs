//! Finishing the outputs: every row's remaining terms summed shallowest-first (Huffman by
//! depth), which reaches the minimal depth `⌈log2 Σ 2^{d_i}⌉` of the row.
//!
//! Internally an operand is a `u32` id: `0..n_in` are the inputs, `n_in + k` is adder `k`.

use super::{Adder, Graph, Operand, Term};
use crate::ir::Matrix;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

/// A signed internal operand: (id, negated).
pub(crate) type ITerm = (u32, bool);

/// The non-zero terms of every row of `w`.
pub(crate) fn rows_of(w: &Matrix<i8>) -> Vec<Vec<ITerm>> {
    (0..w.rows)
        .map(|r| {
            w.row(r)
                .iter()
                .enumerate()
                .filter(|(_, &v)| v != 0)
                .map(|(i, &v)| (i as u32, v < 0))
                .collect()
        })
        .collect()
}

/// Public form of an internal term.
pub(crate) fn term(n_in: usize, t: ITerm) -> Term {
    let id = t.0 as usize;
    let op = if id < n_in {
        Operand::Input(id)
    } else {
        Operand::Adder(id - n_in)
    };
    Term { op, neg: t.1 }
}

/// Adders under construction, with their depths and (optionally) hash-consing of identical adders.
pub(crate) struct Builder {
    pub n_in: usize,
    pub adders: Vec<Adder>,
    /// Depth of every internal id (inputs first).
    pub depth: Vec<u32>,
    share: Option<HashMap<(u32, u32, bool), u32>>,
}

impl Builder {
    pub fn new(n_in: usize, share: bool) -> Builder {
        Builder {
            n_in,
            adders: Vec::new(),
            depth: vec![0; n_in],
            share: share.then(HashMap::new),
        }
    }

    /// The adder `a ± b` for the key `(a, b, sub)`: value `a + b` (`sub` false) or `a − b`.
    /// Keys have `a < b`, except the reversed differences of [`Builder::add_out`] (`a > b`), so
    /// the two orientations of a difference are different keys.
    pub fn adder(&mut self, a: u32, b: u32, sub: bool) -> u32 {
        debug_assert!(a < b || (a > b && sub));
        if let Some(id) = self.share.as_ref().and_then(|m| m.get(&(a, b, sub))) {
            return *id;
        }
        let id = (self.n_in + self.adders.len()) as u32;
        self.adders.push(Adder {
            a: term(self.n_in, (a, false)),
            b: term(self.n_in, (b, sub)),
        });
        let d = self.depth[a as usize].max(self.depth[b as usize]) + 1;
        self.depth.push(d);
        if let Some(m) = self.share.as_mut() {
            m.insert((a, b, sub), id);
        }
        id
    }

    /// The sum `x + y` of two signed terms, as a signed term over one (possibly shared) adder.
    pub fn add(&mut self, x: ITerm, y: ITerm) -> ITerm {
        let (x, y) = if x.0 < y.0 { (x, y) } else { (y, x) };
        // x.s·x + y.s·y = x.s · (x + (x.s·y.s)·y)
        let sub = x.1 != y.1;
        // x − y = −(y − x): reuse a reversed difference built by `add_out`.
        let rev = self.share.as_ref().and_then(|m| m.get(&(y.0, x.0, true)));
        if let (true, Some(&id)) = (sub, rev) {
            return (id, !x.1);
        }
        let id = self.adder(x.0, y.0, sub);
        (id, x.1)
    }

    /// [`Builder::add`] for the adders that finish the outputs: a sum of one positive and one
    /// negated term becomes `positive − other`, a positive result, unless the other orientation
    /// already exists (then it is reused, negated). An output that is a negated sum needs a negation
    /// where it is used on its own (`bit2hls cmvm --verilog`); in a network the sign folds into
    /// the next constant, so this only avoids that adder.
    pub fn add_out(&mut self, x: ITerm, y: ITerm) -> ITerm {
        let (pos, neg) = match (x.1, y.1) {
            (false, true) => (x.0, y.0),
            (true, false) => (y.0, x.0),
            _ => return self.add(x, y),
        };
        let normal = (pos.min(neg), pos.max(neg), true);
        let shared = self.share.as_ref().is_some_and(|m| m.contains_key(&normal));
        if pos < neg || shared {
            return self.add(x, y);
        }
        (self.adder(pos, neg, true), false)
    }

    /// Sums `terms` shallowest-first; `None` for no terms. Every adder is oriented by
    /// [`Builder::add_out`], so a partial sum is negated only if all its terms are (or it
    /// reuses a shared difference).
    pub fn sum(&mut self, terms: &[ITerm]) -> Option<ITerm> {
        let mut heap: BinaryHeap<Reverse<(u32, u32, bool)>> = terms
            .iter()
            .map(|&(id, neg)| Reverse((self.depth[id as usize], id, neg)))
            .collect();
        loop {
            let Reverse((_, id, neg)) = heap.pop()?;
            let Some(Reverse((_, id2, neg2))) = heap.pop() else {
                return Some((id, neg));
            };
            let (s, sneg) = self.add_out((id, neg), (id2, neg2));
            if heap.is_empty() {
                return Some((s, sneg));
            }
            heap.push(Reverse((self.depth[s as usize], s, sneg)));
        }
    }

    /// The graph whose outputs are the shallowest-first sums of `rows`.
    pub fn finish(mut self, rows: &[Vec<ITerm>]) -> Graph {
        let outs: Vec<Option<ITerm>> = rows.iter().map(|r| self.sum(r)).collect();
        let n_in = self.n_in;
        Graph {
            n_in,
            adders: self.adders,
            outputs: outs.into_iter().map(|o| o.map(|t| term(n_in, t))).collect(),
        }
    }
}
