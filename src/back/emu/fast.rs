//! The fast firmware emulator: the same integers as [`Emulator::run_codes`], with events in SIMD
//! lanes.
//!
//! Layout: a block of `L` events is a structure of arrays — for each feature one `[f64; L]` (the
//! activations, exact integers) or one `[i16; L]` / `[i32; L]` (the activation codes of a ternary
//! layer). Per block and layer:
//!
//! 1. `max|X|` lane-wise; then per event (scalar) `M`, `e`, the reciprocal `R` (one integer
//!    division, exactly as the reference) and two lane factors: `qs = R·2^-(G+e)` (dynamic),
//!    `Q·2^-e` (pow2) or `R_s·2^-P` (static) for the quantizer, and `ds = M` / `2^(e-shift)` / `1`
//!    for the dequantizer;
//! 2. codes `q = rne(clamp(X·qs, lo, hi))` in f64 lanes, stored as i16 (or i32) lanes;
//! 3. accumulation over the CSR `+1`/`−1` index lists in i16 lanes when every accumulator of the
//!    layer provably fits (wrapping adds: the final sum is exact mod 2^16 and fits), else i32;
//! 4. `Y = rne((acc·ds)·cs_n) + B_n` in f64 lanes with `cs_n = C_n·2^-shift` (dynamic, static) or
//!    `C_n` (pow2), then ReLU.
//!
//! Why it is exact: every f64 product above is an integer times a power of two whose significand
//! is an integer `< 2^53`, so it is computed without rounding; `rne` is round-half-to-even of a
//! value `≤ 2^51` in magnitude, done with the `1.5·2^52` trick (correct in the default rounding
//! mode). Clamping before rounding is the same as after, since the clamp bounds are integers.
//! [`FastEmulator::new`] proves these bounds for the given firmware with its own conservative
//! interval arithmetic (independent of the compiler's range analysis): any model where one of
//! them might fail (very wide types, huge constants, shifts beyond ±62) runs on the reference
//! [`Emulator`] instead — the fast path never gives a different answer.
//!
//! SIMD: the block kernels are `#[inline(always)]` generic code compiled twice, once inside an
//! `#[target_feature(enable = "avx2")]` function chosen at run time, once for the baseline target.

use super::fixed::Emulator;
use crate::ir::firmware::{Firmware, FwKind, Quantizer};
use crate::ir::fixed::{bit_length, ceil_log2};
use rayon::prelude::*;

/// Events per SIMD block.
pub const LANES: usize = 32;
/// Blocks per parallel task.
const TASK_BLOCKS: usize = 32;

/// 1.5·2^52: `(v + MAGIC) - MAGIC` rounds `|v| ≤ 2^51` to an integer, ties to even.
const MAGIC: f64 = 6_755_399_441_055_744.0;
/// Largest magnitude of an exactly computed product (integer significand < 2^53).
const EXACT: f64 = 4_503_599_627_370_496.0; // 2^52, one bit of margin
/// Largest magnitude of a value given to `rne` (must be ≤ 2^51).
const RLIM: f64 = 1_125_899_906_842_624.0; // 2^50

/// Exact `2^e` for normal exponents.
#[inline(always)]
fn pow2(e: i32) -> f64 {
    debug_assert!((-1022..=1023).contains(&e));
    f64::from_bits(((e + 1023) as u64) << 52)
}

/// Round half to even of `|v| ≤ 2^51`.
#[inline(always)]
fn rne(v: f64) -> f64 {
    (v + MAGIC) - MAGIC
}

/// Round half to even of `|v| ≤ 2^31`, as an integer.
#[inline(always)]
fn rne_i32(v: f64) -> i32 {
    (v + MAGIC).to_bits() as i32
}

#[inline(always)]
fn fmax(a: f64, b: f64) -> f64 {
    if a > b {
        a
    } else {
        b
    }
}

#[inline(always)]
fn fmin(a: f64, b: f64) -> f64 {
    if a < b {
        a
    } else {
        b
    }
}

/// An accumulator / code lane type.
trait Code: Copy + Default + Send + Sync + 'static {
    fn from_i32(v: i32) -> Self;
    fn add(self, o: Self) -> Self;
    fn sub(self, o: Self) -> Self;
    fn to_f64(self) -> f64;
}

impl Code for i16 {
    #[inline(always)]
    fn from_i32(v: i32) -> Self {
        v as i16
    }
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        self.wrapping_add(o)
    }
    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        self.wrapping_sub(o)
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as f64
    }
}

impl Code for i32 {
    #[inline(always)]
    fn from_i32(v: i32) -> Self {
        v
    }
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        self.wrapping_add(o)
    }
    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        self.wrapping_sub(o)
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as f64
    }
}

enum QuantPlan {
    /// `R = floor((Q·2^(G+e) + floor(M/2)) / M)`, `qs = R·2^-(G+e)`, `ds = M`.
    Dynamic { m_floor: i64, guard: i32, qmax: i64 },
    /// `qs = Q·2^-e`, `ds = 2^(e - shift)`.
    Pow2 { m_floor: i64, qmax: f64, shift: i32 },
    /// Constant `qs = R_s·2^-P`, `ds = 1`.
    Static { qs: f64 },
}

struct TernaryPlan {
    quant: QuantPlan,
    lo: f64,
    hi: f64,
    /// i32 lanes (else i16).
    wide: bool,
    /// `idx[start[n]..mid[n]]`: +1 inputs of output n; `idx[mid[n]..start[n+1]]`: −1 inputs.
    idx: Vec<u32>,
    start: Vec<u32>,
    mid: Vec<u32>,
    /// Per-output dequantization factor.
    cs: Vec<f64>,
    bias: Vec<f64>,
}

struct DensePlan {
    /// Row-major `n_out × n_in`.
    w: Vec<f64>,
    /// `2^-shift`.
    scale: f64,
    bias: Vec<f64>,
}

struct AffinePlan {
    /// `A_k·2^-shift`.
    a: Vec<f64>,
    bias: Vec<f64>,
}

enum OpPlan {
    Ternary(TernaryPlan),
    Dense(DensePlan),
    Affine(AffinePlan),
}

struct StagePlan {
    op: OpPlan,
    n_in: usize,
    n_out: usize,
    relu: bool,
}

/// The firmware, checked and converted for the lane kernels.
struct Plan {
    n_in: usize,
    n_out: usize,
    /// `2^frac_in`, computed like the reference (`powi`).
    in_scale: f64,
    in_lo: f64,
    in_hi: f64,
    in_lo_i: i64,
    in_hi_i: i64,
    stages: Vec<StagePlan>,
    /// Largest vector length of the network.
    width: usize,
    /// Largest input length of a ternary stage with i16 / i32 lanes.
    codes16: usize,
    codes32: usize,
}

fn refuse<T>(why: String) -> Result<T, String> {
    Err(why)
}

/// Checks that the lane arithmetic is exact for `fw` and builds the plan.
fn build_plan(fw: &Firmware) -> Result<Plan, String> {
    if fw.n_in == 0 || fw.n_out == 0 {
        return refuse("empty input or output".into());
    }
    let it = fw.input_type();
    if it.width > 50 || it.frac.abs() > 900 {
        return refuse(format!("input type {it} too wide"));
    }
    let (in_lo_i, in_hi_i) = (it.min_code() as i64, it.max_code() as i64);
    // Bound on max |X| at the current stage's input.
    let mut xb = (in_lo_i.unsigned_abs().max(in_hi_i.unsigned_abs())) as f64;
    let mut n_prev = fw.n_in;
    let mut stages = Vec::new();
    let (mut codes16, mut codes32) = (0usize, 0usize);
    let mut width = fw.n_in;
    for (li, layer) in fw.layers.iter().enumerate() {
        let (n_in, n_out) = (layer.n_in, layer.n_out);
        if n_in != n_prev {
            return refuse(format!("layer {li}: input length {n_in} ≠ {n_prev}"));
        }
        width = width.max(n_in).max(n_out);
        // Bound on |Y_n| per output.
        let mut yb = Vec::with_capacity(n_out);
        let op = match &layer.kind {
            FwKind::Ternary(t) => {
                let (lo, hi) = t.clamp;
                if lo > hi || t.weights.rows != n_out || t.weights.cols != n_in {
                    return refuse(format!("layer {li}: malformed ternary layer"));
                }
                if t.scale.len() != n_out || t.bias.len() != n_out {
                    return refuse(format!("layer {li}: malformed constants"));
                }
                let cq = lo.unsigned_abs().max(hi.unsigned_abs()) as f64;
                if cq > (1u64 << 30) as f64 {
                    return refuse(format!("layer {li}: code clamp too wide"));
                }
                let mut idx = Vec::new();
                let mut start = vec![0u32];
                let mut mid = Vec::new();
                let mut nnz = Vec::with_capacity(n_out);
                for n in 0..n_out {
                    let row = t.weights.row(n);
                    let s0 = idx.len();
                    idx.extend(row.iter().enumerate().filter(|(_, &w)| w == 1).map(|(k, _)| k as u32));
                    mid.push(idx.len() as u32);
                    idx.extend(row.iter().enumerate().filter(|(_, &w)| w == -1).map(|(k, _)| k as u32));
                    start.push(idx.len() as u32);
                    if row.iter().any(|&w| !(-1..=1).contains(&w)) {
                        return refuse(format!("layer {li}: non-ternary weight"));
                    }
                    nnz.push((idx.len() - s0) as f64);
                }
                let max_acc = nnz.iter().fold(0f64, |a, &b| a.max(b)) * cq;
                let wide = if max_acc <= i16::MAX as f64 {
                    false
                } else if max_acc <= i32::MAX as f64 {
                    true
                } else {
                    return refuse(format!("layer {li}: accumulator too wide"));
                };
                if wide {
                    codes32 = codes32.max(n_in);
                } else {
                    codes16 = codes16.max(n_in);
                }
                let q = t.qmax;
                let mut cs = Vec::with_capacity(n_out);
                // Per-output dequantization bound: |acc·ds·cs| ≤ nnz·cq·dmax·|C|·2^-shift.
                let (quant, dmax, pre, cshift) = match &t.quant {
                    Quantizer::Dynamic { m_floor, guard, .. } => {
                        let (mf, g) = (*m_floor, *guard);
                        if mf < 1 || !(0..=62).contains(&g) || q < 1 {
                            return refuse(format!("layer {li}: unsupported quantizer constants"));
                        }
                        let mb = xb.max(mf as f64);
                        if mb > RLIM {
                            return refuse(format!("layer {li}: M too wide"));
                        }
                        let s_max = g + bit_length(mb as i64);
                        if s_max > 62 || bit_length(q) + s_max > 61 {
                            return refuse(format!("layer {li}: reciprocal too wide"));
                        }
                        let r_max = q as f64 * pow2(g + 1) + 1.0;
                        if xb * r_max > EXACT {
                            return refuse(format!("layer {li}: X·R beyond 2^52"));
                        }
                        // acc·M must be exact too.
                        (QuantPlan::Dynamic { m_floor: mf, guard: g, qmax: q }, mb, mb, t.shift)
                    }
                    Quantizer::Pow2 { m_floor, .. } => {
                        let mf = *m_floor;
                        if mf < 1 || q < 1 {
                            return refuse(format!("layer {li}: unsupported quantizer constants"));
                        }
                        let mb = xb.max(mf as f64);
                        if mb > RLIM {
                            return refuse(format!("layer {li}: M too wide"));
                        }
                        let e_max = ceil_log2(mb as i64);
                        if xb * q as f64 > EXACT || !(-62..=62).contains(&t.shift) || t.shift - e_max < -62 {
                            return refuse(format!("layer {li}: Q·X or shift out of range"));
                        }
                        (QuantPlan::Pow2 { m_floor: mf, qmax: q as f64, shift: t.shift }, pow2(e_max - t.shift), 1.0, 0)
                    }
                    Quantizer::Static { recip, recip_frac, .. } => {
                        if !(-62..=62).contains(recip_frac) || xb * (*recip as f64).abs() > EXACT {
                            return refuse(format!("layer {li}: X·R beyond 2^52"));
                        }
                        (QuantPlan::Static { qs: *recip as f64 * pow2(-recip_frac) }, 1.0, 1.0, t.shift)
                    }
                };
                if !(-62..=62).contains(&cshift) {
                    return refuse(format!("layer {li}: dequantization shift out of range"));
                }
                for n in 0..n_out {
                    let c = t.scale[n] as f64;
                    let b = t.bias[n] as f64;
                    let ab = nnz[n] * cq;
                    // Exact products: acc·pre (pre = M or 1), then acc·pre·C.
                    if ab * pre > EXACT || ab * pre * c.abs() > EXACT || t.scale[n].unsigned_abs() > 1 << 52 {
                        return refuse(format!("layer {li}: dequantization product beyond 2^52"));
                    }
                    let v = ab * dmax * c.abs() * pow2(-cshift);
                    if v > RLIM || b.abs() > RLIM || t.bias[n].unsigned_abs() > 1 << 50 {
                        return refuse(format!("layer {li}: output beyond 2^50"));
                    }
                    yb.push(v + 1.0 + b.abs());
                    cs.push(c * pow2(-cshift));
                }
                OpPlan::Ternary(TernaryPlan {
                    quant,
                    lo: lo as f64,
                    hi: hi as f64,
                    wide,
                    idx,
                    start,
                    mid,
                    cs,
                    bias: t.bias.iter().map(|&b| b as f64).collect(),
                })
            }
            FwKind::Dense(d) => {
                if d.weights.rows != n_out || d.weights.cols != n_in || d.bias.len() != n_out {
                    return refuse(format!("layer {li}: malformed dense layer"));
                }
                if !(-62..=62).contains(&d.shift) {
                    return refuse(format!("layer {li}: shift out of range"));
                }
                for n in 0..n_out {
                    let sw: f64 = d.weights.row(n).iter().map(|w| (*w as f64).abs()).sum();
                    if sw * xb > EXACT || d.weights.row(n).iter().any(|w| w.unsigned_abs() > 1 << 52) {
                        return refuse(format!("layer {li}: accumulator beyond 2^52"));
                    }
                    let v = sw * xb * pow2(-d.shift);
                    let b = d.bias[n] as f64;
                    if v > RLIM || b.abs() > RLIM || d.bias[n].unsigned_abs() > 1 << 50 {
                        return refuse(format!("layer {li}: output beyond 2^50"));
                    }
                    yb.push(v + 1.0 + b.abs());
                }
                OpPlan::Dense(DensePlan {
                    w: d.weights.data.iter().map(|&w| w as f64).collect(),
                    scale: pow2(-d.shift),
                    bias: d.bias.iter().map(|&b| b as f64).collect(),
                })
            }
            FwKind::Affine(a) => {
                if n_in != n_out || a.scale.len() != n_out || a.bias.len() != n_out {
                    return refuse(format!("layer {li}: malformed affine layer"));
                }
                if !(-62..=62).contains(&a.shift) {
                    return refuse(format!("layer {li}: shift out of range"));
                }
                for n in 0..n_out {
                    let s = (a.scale[n] as f64).abs();
                    let b = a.bias[n] as f64;
                    if s * xb > EXACT || a.scale[n].unsigned_abs() > 1 << 52 {
                        return refuse(format!("layer {li}: affine product beyond 2^52"));
                    }
                    let v = s * xb * pow2(-a.shift);
                    if v > RLIM || b.abs() > RLIM || a.bias[n].unsigned_abs() > 1 << 50 {
                        return refuse(format!("layer {li}: output beyond 2^50"));
                    }
                    yb.push(v + 1.0 + b.abs());
                }
                OpPlan::Affine(AffinePlan {
                    a: a.scale.iter().map(|&s| s as f64 * pow2(-a.shift)).collect(),
                    bias: a.bias.iter().map(|&b| b as f64).collect(),
                })
            }
        };
        xb = yb.iter().fold(0f64, |a, &b| a.max(b));
        if xb > RLIM {
            return refuse(format!("layer {li}: output beyond 2^50"));
        }
        stages.push(StagePlan { op, n_in, n_out, relu: layer.relu });
        n_prev = n_out;
    }
    if n_prev != fw.n_out {
        return refuse(format!("output length {n_prev} ≠ {}", fw.n_out));
    }
    Ok(Plan {
        n_in: fw.n_in,
        n_out: fw.n_out,
        in_scale: (2f64).powi(it.frac),
        in_lo: in_lo_i as f64,
        in_hi: in_hi_i as f64,
        in_lo_i,
        in_hi_i,
        stages,
        width,
        codes16,
        codes32,
    })
}

/// Per-thread buffers for one block.
struct Scratch<const L: usize> {
    a: Vec<[f64; L]>,
    b: Vec<[f64; L]>,
    c16: Vec<[i16; L]>,
    c32: Vec<[i32; L]>,
    xin: Vec<[f32; L]>,
}

impl<const L: usize> Scratch<L> {
    fn new(p: &Plan) -> Self {
        Scratch {
            a: vec![[0.0; L]; p.width],
            b: vec![[0.0; L]; p.width],
            c16: vec![[0; L]; p.codes16],
            c32: vec![[0; L]; p.codes32],
            xin: vec![[0.0; L]; p.n_in],
        }
    }
}

#[derive(Clone, Copy)]
enum Input<'a> {
    F32(&'a [f32]),
    Codes(&'a [i64]),
}

impl<'a> Input<'a> {
    fn len(&self) -> usize {
        match self {
            Input::F32(x) => x.len(),
            Input::Codes(x) => x.len(),
        }
    }
    fn slice(&self, a: usize, b: usize) -> Input<'a> {
        match self {
            Input::F32(x) => Input::F32(&x[a..b]),
            Input::Codes(x) => Input::Codes(&x[a..b]),
        }
    }
}

/// Fills the input activations of one block of `nb ≤ L` events (the rest of the lanes are 0).
#[inline(always)]
fn load_block<const L: usize>(p: &Plan, s: &mut Scratch<L>, input: Input<'_>, nb: usize) {
    let k = p.n_in;
    match input {
        Input::F32(x) => {
            for (l, ev) in x.chunks_exact(k).take(nb).enumerate() {
                for (j, &v) in ev.iter().enumerate() {
                    s.xin[j][l] = v;
                }
            }
            if nb < L {
                for row in s.xin.iter_mut() {
                    row[nb..].fill(0.0);
                }
            }
            let (sc, lo, hi) = (p.in_scale, p.in_lo, p.in_hi);
            for (a, xr) in s.a[..k].iter_mut().zip(s.xin.iter()) {
                for l in 0..L {
                    let v = xr[l] as f64 * sc;
                    // NaN → 0, as `quantize_f64` does.
                    #[allow(clippy::eq_op)]
                    let v = if v == v { v } else { 0.0 };
                    a[l] = rne(fmin(fmax(v, lo), hi));
                }
            }
        }
        Input::Codes(x) => {
            for (l, ev) in x.chunks_exact(k).take(nb).enumerate() {
                for (j, &v) in ev.iter().enumerate() {
                    s.a[j][l] = v as f64;
                }
            }
            if nb < L {
                for row in s.a[..k].iter_mut() {
                    row[nb..].fill(0.0);
                }
            }
        }
    }
}

#[inline(always)]
fn ternary<const L: usize, C: Code>(t: &TernaryPlan, relu: bool, x: &[[f64; L]], codes: &mut [[C; L]], y: &mut [[f64; L]]) {
    let n_in = x.len();
    let codes = &mut codes[..n_in];
    // Per-event quantizer parameters.
    let mut qs = [0f64; L];
    let mut ds = [1f64; L];
    match t.quant {
        QuantPlan::Static { qs: q } => qs = [q; L],
        QuantPlan::Dynamic { m_floor, guard, qmax } => {
            let mut mabs = [0f64; L];
            for row in x {
                for l in 0..L {
                    mabs[l] = fmax(mabs[l], row[l].abs());
                }
            }
            for l in 0..L {
                let m = (mabs[l] as i64).max(m_floor);
                let s = guard + bit_length(m);
                let r = ((qmax << s) + m / 2) / m;
                qs[l] = r as f64 * pow2(-s);
                ds[l] = m as f64;
            }
        }
        QuantPlan::Pow2 { m_floor, qmax, shift } => {
            let mut mabs = [0f64; L];
            for row in x {
                for l in 0..L {
                    mabs[l] = fmax(mabs[l], row[l].abs());
                }
            }
            for l in 0..L {
                let m = (mabs[l] as i64).max(m_floor);
                let e = ceil_log2(m);
                qs[l] = qmax * pow2(-e);
                ds[l] = pow2(e - shift);
            }
        }
    }
    // Codes.
    let (lo, hi) = (t.lo, t.hi);
    for (c, row) in codes.iter_mut().zip(x) {
        for l in 0..L {
            c[l] = C::from_i32(rne_i32(fmin(fmax(row[l] * qs[l], lo), hi)));
        }
    }
    // Accumulate and dequantize.
    let codes = &*codes;
    for (n, yn) in y.iter_mut().enumerate() {
        let (s0, m0, e0) = (t.start[n] as usize, t.mid[n] as usize, t.start[n + 1] as usize);
        let mut acc = [C::default(); L];
        for &k in &t.idx[s0..m0] {
            let c = &codes[k as usize];
            for l in 0..L {
                acc[l] = acc[l].add(c[l]);
            }
        }
        for &k in &t.idx[m0..e0] {
            let c = &codes[k as usize];
            for l in 0..L {
                acc[l] = acc[l].sub(c[l]);
            }
        }
        let (cs, b) = (t.cs[n], t.bias[n]);
        if relu {
            for l in 0..L {
                yn[l] = fmax(rne((acc[l].to_f64() * ds[l]) * cs) + b, 0.0);
            }
        } else {
            for l in 0..L {
                yn[l] = rne((acc[l].to_f64() * ds[l]) * cs) + b;
            }
        }
    }
}

#[inline(always)]
fn dense<const L: usize>(d: &DensePlan, relu: bool, x: &[[f64; L]], y: &mut [[f64; L]]) {
    let n_in = x.len();
    for (n, yn) in y.iter_mut().enumerate() {
        let mut acc = [0f64; L];
        for (&w, xr) in d.w[n * n_in..(n + 1) * n_in].iter().zip(x) {
            if w != 0.0 {
                for l in 0..L {
                    acc[l] += w * xr[l];
                }
            }
        }
        let b = d.bias[n];
        for l in 0..L {
            let v = rne(acc[l] * d.scale) + b;
            yn[l] = if relu { fmax(v, 0.0) } else { v };
        }
    }
}

#[inline(always)]
fn affine<const L: usize>(a: &AffinePlan, relu: bool, x: &[[f64; L]], y: &mut [[f64; L]]) {
    for (n, (yn, xr)) in y.iter_mut().zip(x).enumerate() {
        let (s, b) = (a.a[n], a.bias[n]);
        for l in 0..L {
            let v = rne(xr[l] * s) + b;
            yn[l] = if relu { fmax(v, 0.0) } else { v };
        }
    }
}

/// Runs the events of `input` (a whole number of events) into `out`.
#[inline(always)]
fn run_chunk_impl<const L: usize>(p: &Plan, s: &mut Scratch<L>, input: Input<'_>, out: &mut [i64]) {
    let (k, o) = (p.n_in, p.n_out);
    let n = input.len() / k;
    let mut e0 = 0;
    while e0 < n {
        let nb = (n - e0).min(L);
        load_block(p, s, input.slice(e0 * k, (e0 + nb) * k), nb);
        let Scratch { a, b, c16, c32, .. } = s;
        let (mut cur, mut nxt) = (a, b);
        for st in &p.stages {
            let x = &cur[..st.n_in];
            let y = &mut nxt[..st.n_out];
            match &st.op {
                OpPlan::Ternary(t) => {
                    if t.wide {
                        ternary::<L, i32>(t, st.relu, x, c32, y)
                    } else {
                        ternary::<L, i16>(t, st.relu, x, c16, y)
                    }
                }
                OpPlan::Dense(d) => dense::<L>(d, st.relu, x, y),
                OpPlan::Affine(af) => affine::<L>(af, st.relu, x, y),
            }
            std::mem::swap(&mut cur, &mut nxt);
        }
        for (l, ev) in out[e0 * o..(e0 + nb) * o].chunks_exact_mut(o).enumerate() {
            for (j, v) in ev.iter_mut().enumerate() {
                *v = cur[j][l] as i64;
            }
        }
        e0 += nb;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn run_chunk_avx2(p: &Plan, s: &mut Scratch<LANES>, input: Input<'_>, out: &mut [i64]) {
    run_chunk_impl::<LANES>(p, s, input, out)
}

fn run_chunk_portable(p: &Plan, s: &mut Scratch<LANES>, input: Input<'_>, out: &mut [i64]) {
    run_chunk_impl::<LANES>(p, s, input, out)
}

/// The fast emulator: bit-exact with [`Emulator`], events in SIMD lanes, rayon over blocks.
pub struct FastEmulator<'a> {
    pub fw: &'a Firmware,
    plan: Result<Plan, String>,
    reference: Emulator<'a>,
    avx2: bool,
}

impl<'a> FastEmulator<'a> {
    pub fn new(fw: &'a Firmware) -> FastEmulator<'a> {
        #[cfg(target_arch = "x86_64")]
        let avx2 = std::is_x86_feature_detected!("avx2");
        #[cfg(not(target_arch = "x86_64"))]
        let avx2 = false;
        Self::with_simd(fw, avx2)
    }

    /// `simd = false` forces the portable kernels (tests).
    pub fn with_simd(fw: &'a Firmware, simd: bool) -> FastEmulator<'a> {
        FastEmulator { fw, plan: build_plan(fw), reference: Emulator::new(fw), avx2: simd }
    }

    /// Whether the lane kernels run this firmware (else the reference emulator does).
    pub fn is_fast(&self) -> bool {
        self.plan.is_ok()
    }

    /// Why the reference emulator is used, if it is.
    pub fn fallback_reason(&self) -> Option<&str> {
        self.plan.as_ref().err().map(|s| s.as_str())
    }

    /// Which kernels run: "avx2", "portable" or "reference".
    pub fn kernel(&self) -> &'static str {
        match (&self.plan, self.avx2) {
            (Err(_), _) => "reference",
            (Ok(_), true) => "avx2",
            (Ok(_), false) => "portable",
        }
    }

    fn run_chunk(&self, p: &Plan, s: &mut Scratch<LANES>, input: Input<'_>, out: &mut [i64]) {
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            // SAFETY: AVX2 support was detected at run time (or asserted by the caller of `with_simd`).
            return unsafe { run_chunk_avx2(p, s, input, out) };
        }
        run_chunk_portable(p, s, input, out)
    }

    fn run_parallel(&self, p: &Plan, input: Input<'_>, out: &mut [i64]) {
        let (k, o) = (p.n_in, p.n_out);
        let ev = LANES * TASK_BLOCKS;
        let n = input.len() / k;
        let tasks = n.div_ceil(ev);
        out.par_chunks_mut(o * ev).enumerate().for_each_init(
            || Scratch::<LANES>::new(p),
            |s, (i, oc)| {
                debug_assert!(i < tasks);
                let e0 = i * ev;
                let e1 = (e0 + ev).min(n);
                self.run_chunk(p, s, input.slice(e0 * k, e1 * k), oc);
            },
        );
    }

    /// Runs `n` events (`x` row-major, float, `n · n_in` values) in parallel; returns the output
    /// codes row-major — the same as [`Emulator::run_batch`].
    pub fn run_batch(&self, x: &[f32]) -> Vec<i64> {
        let n = x.len() / self.fw.n_in.max(1);
        let mut out = vec![0i64; n * self.fw.n_out];
        self.run_batch_into(x, &mut out);
        out
    }

    /// [`Self::run_batch`] into a caller's buffer of `n · n_out` codes.
    pub fn run_batch_into(&self, x: &[f32], out: &mut [i64]) {
        match &self.plan {
            Ok(p) => {
                let n = x.len() / p.n_in;
                assert_eq!(out.len(), n * p.n_out, "output buffer length");
                self.run_parallel(p, Input::F32(&x[..n * p.n_in]), out);
            }
            Err(_) => out.copy_from_slice(&self.reference.run_batch(x)),
        }
    }

    /// Runs events given as input codes (row-major); the same as [`Emulator::run_codes`] per event.
    pub fn run_codes_batch(&self, codes: &[i64]) -> Vec<i64> {
        let (k, o) = (self.fw.n_in, self.fw.n_out);
        let n = if k == 0 { 0 } else { codes.len() / k };
        let mut out = vec![0i64; n * o];
        match &self.plan {
            Ok(p) if codes.iter().all(|&c| (p.in_lo_i..=p.in_hi_i).contains(&c)) => {
                self.run_parallel(p, Input::Codes(&codes[..n * k]), &mut out);
            }
            _ => {
                out.par_chunks_mut(o.max(1)).zip(codes.par_chunks(k.max(1))).for_each(|(os, xs)| self.reference.run_codes(xs, os));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
