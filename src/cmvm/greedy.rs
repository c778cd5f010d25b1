//! Greedy pair extraction. Every row of W is a set of signed terms; a pattern `(a, b, sub)`
//! occurs in a row holding both `a` and `b` with equal (`sub` false) or opposite signs. The most
//! frequent pattern becomes one adder `a ± b`, which replaces both terms in every row where the
//! depth cap allows it; the pair counts of the touched rows are updated incrementally.
//!
//! Depth rule: a row whose terms have depths `d_i` needs at least `⌈log2 Σ 2^{d_i}⌉` levels, and
//! a shallowest-first tree reaches that. Each row keeps its load `Σ 2^{d_i}` ≤ `2^cap`; replacing
//! terms of depths `d ≤ e` by their sum raises the load by `2^e − 2^d`, so an extraction is done
//! only in rows where the load stays within `2^cap`. Loads only grow, so a pattern infeasible in
//! a row stays infeasible there ("excluded": not counted).

use super::finish::{rows_of, Builder, ITerm};
use super::queue::{key, unkey, FxMap, PairTable, Pat, TIE};
use super::Graph;
use crate::ir::Matrix;
use std::collections::HashSet;
use std::hash::BuildHasherDefault;

/// How ties between patterns of equal count are broken.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Tie {
    /// Prefer shallow operands of equal depth.
    Shallow,
    /// Prefer deep operands (like da4ml's `wmc`, which weighs by the narrower operand's width).
    Deep,
    /// A pseudo-random class per pattern (from the variant's seed).
    Random,
    /// Prefer operands that occur in few rows (counted when the pattern is created, in 16
    /// linear classes of `0..=2·rows`).
    Rare,
}

/// One greedy variant: the tie rule; `weight`: rank by `count · (weight + ⌈log2 n⌉)`, `n` the
/// number of inputs summed by the narrower operand (da4ml's `wmc`: count × the narrower
/// operand's bits, for inputs of `weight` bits) instead of by count; a seed for picking within a
/// bucket (`None` = newest).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Variant {
    pub n_rows: usize,
    pub tie: Tie,
    pub weight: Option<u32>,
    pub seed: Option<u64>,
}

/// The variants [`super::shared`] runs first, in order; further ones are seeded.
const FIRST: [(Tie, Option<u32>); 4] = [
    (Tie::Rare, Some(8)),
    (Tie::Rare, None),
    (Tie::Shallow, None),
    (Tie::Deep, Some(8)),
];

impl Variant {
    /// The `v`-th variant of [`super::shared`]'s search on a matrix of `n_rows` rows: the
    /// [`FIRST`] ones, then seeded ones alternating the rare-first and random tie rules, with
    /// and without weights.
    pub fn nth(v: u32, n_rows: usize) -> Variant {
        if let Some(&(tie, weight)) = FIRST.get(v as usize) {
            return Variant {
                n_rows,
                tie,
                weight,
                seed: None,
            };
        }
        let tie = if v.is_multiple_of(2) {
            Tie::Rare
        } else {
            Tie::Random
        };
        Variant {
            n_rows,
            tie,
            weight: (v / 2).is_multiple_of(2).then_some(8),
            seed: Some(u64::from(v).wrapping_mul(0x9E37_79B9_7F4A_7C15)),
        }
    }

    /// `(mult, tie)` of pattern `k` over operands of depths `d` and input counts `n`.
    fn rank(&self, k: u64, d: (u32, u32), n: (u32, u32), occ: usize) -> (u32, u32) {
        let (lo, hi) = (d.0.min(d.1), d.0.max(d.1));
        let mult = self
            .weight
            .map_or(1, |w| w + super::naive_depth(n.0.min(n.1) as usize));
        let tie = match self.tie {
            Tie::Shallow => TIE - 1 - (2 * hi + u32::from(lo != hi)).min(TIE - 1),
            Tie::Deep => lo.min(TIE - 1),
            Tie::Rare => {
                TIE - 1 - ((occ * TIE as usize / (2 * self.n_rows + 1)) as u32).min(TIE - 1)
            }
            Tie::Random => {
                let h = (k ^ self.seed.unwrap_or(0)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                (h >> 60) as u32 % TIE
            }
        };
        (mult, tie)
    }
}

struct State<'a> {
    b: Builder,
    /// How many inputs each operand sums (its L1 norm over the inputs, an upper bound).
    n_terms: Vec<u32>,
    n_rows: usize,
    rows: Vec<Vec<ITerm>>,
    /// `pos[id · n_rows + r]` = 1 + index of operand `id` in `rows[r]`, 0 = absent.
    pos: Vec<u32>,
    /// Rows in which an operand occurs (may hold rows it has since left).
    occ: Vec<Vec<u32>>,
    table: PairTable,
    caps: Option<&'a [u32]>,
    load: Vec<u64>,
    excluded: HashSet<(u32, u64), BuildHasherDefault<super::queue::Fx>>,
    n_excluded: Vec<u32>,
    variant: Variant,
    rng: u64,
    scratch: FxMap<u64, u32>,
}

/// Runs one greedy variant on `w` with per-row depth caps (`None` = no cap).
pub(crate) fn run(w: &Matrix<i8>, caps: Option<&[u32]>, variant: Variant) -> Graph {
    let mut s = State::new(w, caps, variant);
    s.initial_pairs();
    while let Some(k) = s.pick() {
        let (a, b, sub) = unkey(k);
        let rows = s.matching_rows(k);
        let c = s.table.count(k);
        if (rows.len() as u32) < c {
            s.table.decrease(k, c - rows.len() as u32);
            continue;
        }
        s.table.remove(k);
        s.extract(a, b, sub, &rows);
    }
    let rows = std::mem::take(&mut s.rows);
    s.b.finish(&rows)
}

impl<'a> State<'a> {
    fn new(w: &Matrix<i8>, caps: Option<&'a [u32]>, variant: Variant) -> State<'a> {
        let rows = rows_of(w);
        let n_rows = rows.len();
        let mut s = State {
            b: Builder::new(w.cols, true),
            n_terms: vec![1; w.cols],
            n_rows,
            load: rows.iter().map(|r| r.len() as u64).collect(),
            pos: vec![0; w.cols * n_rows],
            occ: vec![Vec::new(); w.cols],
            rows,
            table: PairTable::new(w.cols),
            caps,
            excluded: HashSet::default(),
            n_excluded: vec![0; n_rows],
            variant,
            rng: variant.seed.unwrap_or(1) | 1,
            scratch: FxMap::default(),
        };
        for r in 0..n_rows {
            for (i, &(id, _)) in s.rows[r].iter().enumerate() {
                s.pos[id as usize * n_rows + r] = i as u32 + 1;
                s.occ[id as usize].push(r as u32);
            }
        }
        s
    }

    /// Counts every pair of terms within every row; keeps the patterns that occur twice or more.
    fn initial_pairs(&mut self) {
        let mut counts: FxMap<u64, u32> = FxMap::default();
        for row in &self.rows {
            for (i, &(a, na)) in row.iter().enumerate() {
                for &(b, nb) in &row[i + 1..] {
                    let (x, y) = (a.min(b), a.max(b));
                    *counts.entry(key(x, y, na != nb)).or_insert(0) += 1;
                }
            }
        }
        let mut by_b: Vec<Vec<Pat>> = vec![Vec::new(); self.occ.len()];
        for (k, c) in counts {
            if c >= 2 {
                let (a, b, sub) = unkey(k);
                by_b[b as usize].push((
                    a,
                    sub,
                    c,
                    self.variant.rank(
                        k,
                        (0, 0),
                        (1, 1),
                        self.occ[a as usize].len() + self.occ[b as usize].len(),
                    ),
                ));
            }
        }
        for (b, pats) in by_b.into_iter().enumerate() {
            self.table.set_partners(b as u32, pats);
        }
    }

    /// The best pattern, if any occurs twice.
    fn pick(&mut self) -> Option<u64> {
        let seeded = self.variant.seed.is_some();
        let rng = &mut self.rng;
        self.table.best(|n| {
            if !seeded {
                return n - 1;
            }
            *rng ^= *rng << 13;
            *rng ^= *rng >> 7;
            *rng ^= *rng << 17;
            (*rng % n as u64) as usize
        })
    }

    fn present(&self, id: u32, r: u32) -> Option<ITerm> {
        let p = self.pos[id as usize * self.n_rows + r as usize];
        (p != 0).then(|| self.rows[r as usize][p as usize - 1])
    }

    fn depth(&self, id: u32) -> u32 {
        self.b.depth[id as usize]
    }

    /// Whether terms of depths `da`, `db` of row `r` may be replaced by their sum.
    fn feasible(&self, r: u32, da: u32, db: u32) -> bool {
        let Some(caps) = self.caps else {
            return true;
        };
        let (lo, hi) = (da.min(db), da.max(db));
        lo == hi || self.load[r as usize] + (1u64 << hi) - (1u64 << lo) <= 1u64 << caps[r as usize]
    }

    fn is_excluded(&self, r: u32, k: u64) -> bool {
        self.n_excluded[r as usize] > 0 && self.excluded.contains(&(r, k))
    }

    fn exclude(&mut self, r: u32, k: u64) {
        if self.excluded.insert((r, k)) {
            self.n_excluded[r as usize] += 1;
        }
    }

    /// The rows where pattern `k` occurs and may be extracted; occurrences that the depth cap
    /// now forbids are excluded (and no longer counted by the caller).
    fn matching_rows(&mut self, k: u64) -> Vec<u32> {
        let (a, b, sub) = unkey(k);
        let (scan, other) = if self.occ[a as usize].len() <= self.occ[b as usize].len() {
            (a, b)
        } else {
            (b, a)
        };
        let mut list = std::mem::take(&mut self.occ[scan as usize]);
        list.retain(|&r| self.present(scan, r).is_some());
        let ok = (self.depth(a), self.depth(b));
        let mut out = Vec::new();
        for &r in &list {
            let (Some(t1), Some(t2)) = (self.present(scan, r), self.present(other, r)) else {
                continue;
            };
            if (t1.1 != t2.1) != sub || self.is_excluded(r, k) {
                continue;
            }
            if self.feasible(r, ok.0, ok.1) {
                out.push(r);
            } else {
                self.exclude(r, k);
            }
        }
        self.occ[scan as usize] = list;
        out
    }

    /// Removes operand `id` from row `r`, uncounting its pairs with the row's other terms
    /// except `skip`.
    fn remove_term(&mut self, r: u32, id: u32, skip: u32) -> ITerm {
        let n = self.n_rows;
        let p = self.pos[id as usize * n + r as usize] as usize - 1;
        let t = self.rows[r as usize].swap_remove(p);
        self.pos[id as usize * n + r as usize] = 0;
        if let Some(&(moved, _)) = self.rows[r as usize].get(p) {
            self.pos[moved as usize * n + r as usize] = p as u32 + 1;
        }
        for i in 0..self.rows[r as usize].len() {
            let (o, no) = self.rows[r as usize][i];
            if o == skip {
                continue;
            }
            let k = key(id.min(o), id.max(o), no != t.1);
            if !self.is_excluded(r, k) {
                self.table.decrease(k, 1);
            }
        }
        t
    }

    /// Makes adder `a ± b` and substitutes it in `rows`; counts the new operand's pairs.
    fn extract(&mut self, a: u32, b: u32, sub: bool, rows: &[u32]) {
        let n = self.b.adder(a, b, sub);
        if n as usize * self.n_rows >= self.pos.len() {
            self.pos.resize((n as usize + 1) * self.n_rows, 0);
            self.occ.push(Vec::new());
            self.n_terms
                .push(self.n_terms[a as usize] + self.n_terms[b as usize]);
        }
        let (da, db, dn) = (self.depth(a), self.depth(b), self.depth(n));
        for &r in rows {
            let ta = self.remove_term(r, a, b);
            self.remove_term(r, b, u32::MAX);
            let row = &mut self.rows[r as usize];
            row.push((n, ta.1));
            self.pos[n as usize * self.n_rows + r as usize] = row.len() as u32;
            self.occ[n as usize].push(r);
            if self.caps.is_some() {
                self.load[r as usize] += (1u64 << dn) - (1u64 << da) - (1u64 << db);
            }
        }
        self.count_new_pairs(n, rows);
    }

    /// Counts the pairs of new operand `n` with the other terms of `rows`.
    fn count_new_pairs(&mut self, n: u32, rows: &[u32]) {
        let mut counts = std::mem::take(&mut self.scratch);
        let mut infeasible: Vec<(u32, u64)> = Vec::new();
        let dn = self.depth(n);
        for &r in rows {
            let nn = self.present(n, r).expect("just added").1;
            for &(o, no) in &self.rows[r as usize] {
                if o == n {
                    continue;
                }
                let k = key(o, n, no != nn);
                if self.feasible(r, self.depth(o), dn) {
                    *counts.entry(k).or_insert(0) += 1;
                } else {
                    infeasible.push((r, k));
                }
            }
        }
        let pats = counts
            .iter()
            .filter(|(_, &c)| c >= 2)
            .map(|(&k, &c)| {
                let (o, _, sub) = unkey(k);
                (
                    o,
                    sub,
                    c,
                    self.variant.rank(
                        k,
                        (self.depth(o), dn),
                        (self.n_terms[o as usize], self.n_terms[n as usize]),
                        self.occ[o as usize].len() + rows.len(),
                    ),
                )
            })
            .collect();
        self.table.set_partners(n, pats);
        for (r, k) in infeasible {
            if self.table.contains(k) {
                self.exclude(r, k);
            }
        }
        counts.clear();
        self.scratch = counts;
    }
}
