//! Adder sharing for ternary constant matrix–vector products `y = W·x`, `W ∈ {-1,0,1}^{out×in}`.
//!
//! [`plain`] builds one balanced add/subtract tree per output (no sharing, `Σ (nnz_row − 1)`
//! adders). [`shared`] extracts two-term sub-sums `x_i ± x_j` that occur in several outputs
//! (greedy "most frequent pair", Hartley / da4ml style, with incremental pair counts and a bucket
//! queue), optionally under a depth cap, then finishes every output with a shallowest-first tree.
//! The result is a [`Graph`]: adders in topological order, each output a signed reference to an
//! input or an adder. docs/cmvm.md describes the algorithm and its results.
//!
//! Pure algorithm: it uses only `crate::ir` (layer 2 of docs/layers.md).

mod finish;
mod greedy;
mod queue;

use crate::ir::fixed::Interval;
use crate::ir::Matrix;

/// A value of the graph: input `x_i`, or the output of adder `k` (index into [`Graph::adders`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operand {
    Input(usize),
    Adder(usize),
}

/// `±operand` (`neg` = minus).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Term {
    pub op: Operand,
    pub neg: bool,
}

/// One two-input adder: value = `a + b` or `a − b`. Built adders always have `a.neg == false`
/// (a sum of two negated terms is stored as the positive sum; its users flip the sign).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Adder {
    pub a: Term,
    pub b: Term,
}

/// The adder graph of `y = W·x`. `adders` are topologically ordered (an adder reads inputs and
/// earlier adders only). `outputs[r]` is `±` an operand, or `None` when row `r` of W is all zero.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Graph {
    pub n_in: usize,
    pub adders: Vec<Adder>,
    pub outputs: Vec<Option<Term>>,
}

/// Options of [`shared`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// Depth cap: `None` = no cap. `Some(dc)`: depth ≤ naive depth + `dc`, where the naive depth
    /// is `⌈log2 nnz⌉` of the densest row (the layer's plain-tree depth, da4ml's `hard_dc`), or
    /// of each row separately when `per_output` is set.
    pub max_extra_depth: Option<u32>,
    /// Cap every output at its own naive depth `⌈log2 nnz_row⌉ + dc` instead of the layer's.
    pub per_output: bool,
    /// How many greedy variants (tie-breaking and ranking rules) to run; the best graph (fewest
    /// adders, then smallest depth) is returned; they run in parallel. 0 = automatic: 8, fewer
    /// (down to 2) for large matrices, see [`auto_tries`].
    pub tries: u32,
}

impl Default for Options {
    /// The layer keeps its plain-tree depth (`Some(0)`, layer-wide), automatic variant count.
    fn default() -> Options {
        Options {
            max_extra_depth: Some(0),
            per_output: false,
            tries: 0,
        }
    }
}

/// Plain balanced trees, no sharing: `Σ (nnz_row − 1)` adders, depth `⌈log2 max nnz_row⌉`.
pub fn plain(w: &Matrix<i8>) -> Graph {
    finish::Builder::new(w.cols, false).finish(&finish::rows_of(w))
}

/// Shares two-term sub-sums across outputs (greedy CSE) under the depth cap of `o`.
/// Every output equals the exact row sum of `W·x`; with a cap, [`Graph::depth`] (and with
/// `per_output` every output's depth) stays within it.
pub fn shared(w: &Matrix<i8>, o: &Options) -> Graph {
    use rayon::prelude::*;
    let caps = caps(w, o);
    let tries = if o.tries == 0 { auto_tries(w) } else { o.tries };
    let graphs: Vec<Graph> = (0..tries)
        .into_par_iter()
        .map(|v| greedy::run(w, caps.as_deref(), greedy::Variant::nth(v, w.rows)))
        .collect();
    graphs
        .into_iter()
        .min_by_key(|g| (g.adders.len(), g.depth()))
        .expect("tries ≥ 1")
}

/// The automatic variant count: 8, or fewer (≥ 2) when one run's work `Σ nnz_row²` exceeds
/// 2·10⁶ (about 0.25 s per run), so that a 256×256 layer at 1/3 zeros takes two runs.
pub fn auto_tries(w: &Matrix<i8>) -> u32 {
    let work: u64 = (0..w.rows)
        .map(|r| (w.row(r).iter().filter(|&&v| v != 0).count() as u64).pow(2))
        .sum();
    (16_000_000 / work.max(1)).clamp(2, 8) as u32
}

/// One greedy variant `v` of [`shared`]'s search (`shared` keeps the best of `0..tries`).
pub fn variant(w: &Matrix<i8>, o: &Options, v: u32) -> Graph {
    greedy::run(w, caps(w, o).as_deref(), greedy::Variant::nth(v, w.rows))
}

/// The naive depth `⌈log2 n⌉` of a sum of `n` terms (0 for n ≤ 1).
pub fn naive_depth(n: usize) -> u32 {
    if n <= 1 {
        0
    } else {
        usize::BITS - (n - 1).leading_zeros()
    }
}

/// Per-row depth caps of `o`, or `None` without a cap.
fn caps(w: &Matrix<i8>, o: &Options) -> Option<Vec<u32>> {
    let dc = o.max_extra_depth?;
    let nnz: Vec<usize> = (0..w.rows)
        .map(|r| w.row(r).iter().filter(|&&v| v != 0).count())
        .collect();
    let layer = nnz.iter().map(|&n| naive_depth(n)).max().unwrap_or(0);
    Some(
        nnz.iter()
            .map(|&n| dc + if o.per_output { naive_depth(n) } else { layer })
            .collect(),
    )
}

impl Graph {
    /// Adder levels of every adder (inputs are at level 0).
    pub fn adder_depths(&self) -> Vec<u32> {
        let mut d: Vec<u32> = Vec::with_capacity(self.adders.len());
        for a in &self.adders {
            let l = |t: &Term| match t.op {
                Operand::Input(_) => 0,
                Operand::Adder(k) => d[k],
            };
            let v = l(&a.a).max(l(&a.b)) + 1;
            d.push(v);
        }
        d
    }

    /// Depth of every output (adder levels on its longest path; 0 for an input or a zero row).
    pub fn output_depths(&self) -> Vec<u32> {
        let d = self.adder_depths();
        self.outputs
            .iter()
            .map(|o| match o.map(|t| t.op) {
                Some(Operand::Adder(k)) => d[k],
                _ => 0,
            })
            .collect()
    }

    /// The largest output depth.
    pub fn depth(&self) -> u32 {
        self.output_depths().into_iter().max().unwrap_or(0)
    }

    /// `y = W·x` through the graph. Panics when `x.len() != n_in`.
    pub fn eval(&self, x: &[i64]) -> Vec<i64> {
        assert_eq!(x.len(), self.n_in, "cmvm::Graph::eval: input length");
        let mut v: Vec<i64> = Vec::with_capacity(self.adders.len());
        let get = |v: &[i64], t: &Term| {
            let u = match t.op {
                Operand::Input(i) => x[i],
                Operand::Adder(k) => v[k],
            };
            if t.neg {
                -u
            } else {
                u
            }
        };
        for a in &self.adders {
            let s = get(&v, &a.a) + get(&v, &a.b);
            v.push(s);
        }
        self.outputs
            .iter()
            .map(|o| o.map_or(0, |t| get(&v, &t)))
            .collect()
    }

    /// The interval of every adder's output when every input lies in `input`.
    pub fn intervals(&self, input: Interval) -> Vec<Interval> {
        let mut iv: Vec<Interval> = Vec::with_capacity(self.adders.len());
        let get = |iv: &[Interval], t: &Term| {
            let u = match t.op {
                Operand::Input(_) => input,
                Operand::Adder(k) => iv[k],
            };
            if t.neg {
                u.neg()
            } else {
                u
            }
        };
        for a in &self.adders {
            let s = get(&iv, &a.a).add(get(&iv, &a.b));
            iv.push(s);
        }
        iv
    }

    /// da4ml's "bits": Σ over adders of the width of the adder's output (minimal two's
    /// complement, or unsigned when the adder is never negative).
    pub fn bit_cost(&self, input: Interval) -> u64 {
        self.intervals(input)
            .iter()
            .map(|iv| u64::from(iv.bits()))
            .sum()
    }

    /// da4ml's own adder cost (`cost_add` with `adder_size = 1`): per adder, the accumulator
    /// width from the *operands*, `[any operand negative-capable] + ⌈log2 max(|lo|, hi + 1)⌉` over
    /// both operands — usually one bit less than the output width that [`Graph::bit_cost`] counts.
    pub fn da4ml_bits(&self, input: Interval) -> u64 {
        let iv = self.intervals(input);
        let get = |t: &Term| match t.op {
            Operand::Input(_) => input,
            Operand::Adder(k) => iv[k],
        };
        let ceil_log2 = |v: i128| 128 - (v.max(1) - 1).leading_zeros() as u64;
        self.adders
            .iter()
            .map(|a| {
                let (x, y) = (get(&a.a), get(&a.b));
                let m = [x.lo.abs(), x.hi + 1, y.lo.abs(), y.hi + 1]
                    .into_iter()
                    .max()
                    .unwrap_or(1);
                u64::from(x.lo < 0 || y.lo < 0) + ceil_log2(m)
            })
            .sum()
    }

    /// Whether the graph computes `W·x`, checked exactly on the coefficients: every output's
    /// expansion over the inputs equals its row of `w`.
    pub fn reproduces(&self, w: &Matrix<i8>) -> bool {
        w.cols == self.n_in && w.rows == self.outputs.len() && self.coefficients() == w.data
    }

    /// The matrix the graph computes, row-major `[outputs, n_in]`, as i8 when every coefficient
    /// fits (saturated otherwise, so that a wrong graph never compares equal).
    fn coefficients(&self) -> Vec<i8> {
        let mut rows = Vec::with_capacity(self.outputs.len() * self.n_in);
        let mut memo: Vec<Option<Vec<i64>>> = vec![None; self.adders.len()];
        for o in &self.outputs {
            let mut c = vec![0i64; self.n_in];
            if let Some(t) = o {
                self.expand(*t, 1, &mut c, &mut memo);
            }
            rows.extend(c.iter().map(|&v| v.clamp(-128, 127) as i8));
        }
        rows
    }

    fn expand(&self, t: Term, s: i64, c: &mut [i64], memo: &mut Vec<Option<Vec<i64>>>) {
        let s = if t.neg { -s } else { s };
        match t.op {
            Operand::Input(i) => c[i] += s,
            Operand::Adder(k) => {
                if memo[k].is_none() {
                    let mut m = vec![0i64; self.n_in];
                    self.expand(self.adders[k].a, 1, &mut m, memo);
                    self.expand(self.adders[k].b, 1, &mut m, memo);
                    memo[k] = Some(m);
                }
                let m = memo[k].as_ref().expect("just set");
                c.iter_mut().zip(m).for_each(|(ci, mi)| *ci += s * mi);
            }
        }
    }
}
