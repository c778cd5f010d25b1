//! The fast firmware emulator: the same integers as [`Emulator::run_codes`], with events in SIMD
//! lanes.
//!
//! Layout: a block of `L` = [`LANES`] events is a structure of arrays — for each feature one
//! `[f64; L]` (the activations, exact integers) or one row of codes (`i16`, `u8` or `i32` lanes)
//! of a ternary layer. Per block and ternary stage:
//!
//! 1. `max|X|` lane-wise (fused into the previous stage's dequantization on the AVX2 path); then
//!    per event `M`, `e`, the reciprocal `R` (exactly as the reference: an integer division, or an
//!    f64 division proven exact) and two lane factors: `qs = R·2^-(G+e)` (dynamic), `Q·2^-e`
//!    (pow2) or `R_s·2^-P` (static) for the quantizer, and `ds = M` / `2^(e-shift)` / `1` for the
//!    dequantizer;
//! 2. codes `q = rne(clamp(X·qs, lo, hi))` in f64 lanes (the clamp is skipped where `|q| ≤ Q` is
//!    proven), stored as i16 lanes — or u8 when the codes are provably in `[0, 127]` (after a
//!    ReLU), which halves the loads of step 3: two rows are added in u8 lanes (≤ 254), the sums
//!    `s = lo + 256·hi` of each 16-bit lane and `s >> 8` are accumulated with wrapping 16-bit
//!    adds, and `Σ lo = e − 256·o` is recovered at the end — or i32 when an accumulator might
//!    not fit i16;
//! 3. accumulation over the CSR `+1`/`−1` index lists in i16 lanes (wrapping adds: the final sum
//!    fits, so it is exact mod 2^16), else i32;
//! 4. `Y = rne((acc·ds)·cs_n) + B_n` in f64 lanes with `cs_n = C_n·2^-shift` (dynamic, static) or
//!    `C_n` (pow2), then ReLU; when `acc·M·C_n` may exceed 2^53 (deep layers in dynamic mode) it is
//!    formed in i64 lanes instead (`acc·C_n` in i32, times `M` with `pmuldq`) and rounded with
//!    shifts;
//! 5. static mode, between two ternary stages (fused requantization, AVX2): the accumulators go
//!    straight to the next stage's codes in i32 lanes, `clamp(rnd(relu(rnd(acc·C_n, s) + B_n)·R,
//!    P))` ([`IntRequant`], every intermediate proven `< 2^30`), without the f64 rows; where an
//!    exhaustive check over every accumulator of the proven range shows that one multiply and
//!    one rounding half up, `clamp((acc·C'_n + B'_n) >> P, ·)`, give the same codes (no tie
//!    and no fold differs), that form is used ([`IntRequant::one`]);
//! 6. static mode: outputs of a ReLU stage whose proven maximum is `≤ 0` are always 0; they are
//!    not accumulated and are left out of the next stage's index lists.
//!
//! Why it is exact: every f64 product above is an integer times a power of two whose significand
//! is an integer `< 2^53`, so it is computed without rounding; `rne` is round-half-to-even of a
//! value `≤ 2^51` in magnitude, done with the `1.5·2^52` trick or `cvtpd2dq` (both in the default
//! rounding mode). Clamping before rounding is the same as after, since the bounds are integers.
//! [`FastEmulator::new`] proves these bounds for the given firmware with its own conservative
//! interval arithmetic (independent of the compiler's range analysis): any model where one of
//! them might fail (very wide types, huge constants, shifts beyond ±62) runs on the reference
//! [`Emulator`] instead — the fast path never gives a different answer.
//!
//! SIMD ([`Kernel`]): the block driver is `#[inline(always)]` generic code compiled three times:
//! inside an `#[target_feature(enable = "avx2,fma")]` function (with the explicit kernels of
//! [`avx2`] for i16/u8 ternary stages, the input transpose and the quantizer parameters), inside
//! an `avx2,fma,avx512f,avx512bw` function that also accumulates, quantizes, requantizes and
//! dequantizes in 512-bit vectors (the same integers, the AVX2 lane order kept by one permute),
//! and for the baseline target (portable code that LLVM auto-vectorizes); the fastest one the
//! CPU has is chosen at run time. No `-C target-cpu` is needed. Scratch rows start on 64-byte
//! boundaries (an unaligned row made every 512-bit load straddle two cache lines). rayon splits
//! the events into tasks of [`LANES`]·16 events.

// Lane loops index several arrays with the same lane number on purpose (they vectorize).
#![allow(clippy::needless_range_loop)]

use crate::ir::firmware::{Dequant, Firmware, FwKind, Quantizer};
use crate::ir::fixed::{bit_length, ceil_log2};
use crate::reference::fixed::Emulator;
use rayon::prelude::*;

/// Events per SIMD block.
/// (A multiple of 16.)
pub const LANES: usize = 128;
/// Blocks per parallel task.
const TASK_BLOCKS: usize = 16;

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
    fn to_i32(self) -> i32;
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
    #[inline(always)]
    fn to_i32(self) -> i32 {
        self as i32
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
    #[inline(always)]
    fn to_i32(self) -> i32 {
        self
    }
}

enum QuantPlan {
    /// `R = floor((Q·2^(G+e) + floor(M/2)) / M)`, `qs = R·2^-(G+e)`, `ds = M`.
    /// `vec_recip`: `Q·2^(G+e) + 2M < 2^52` for every M, so `R` can be computed as
    /// `floor(N / M)` with f64 division (exact: `N + M < 2^53`, see `avx2::quant_params`).
    Dynamic {
        m_floor: i64,
        guard: i32,
        qmax: i64,
        vec_recip: bool,
    },
    /// `qs = Q·2^-e`, `ds = 2^(e - shift)`.
    Pow2 { m_floor: i64, qmax: f64, shift: i32 },
    /// Constant `qs = R_s·2^-P` (`r` = `R_s`, `p` = `P`), `ds = 1`.
    Static { qs: f64, r: i64, p: i32 },
}

struct TernaryPlan {
    quant: QuantPlan,
    lo: f64,
    hi: f64,
    /// Whether the code clamp can bind (else `|q| ≤ Q` is proven and `[lo, hi] ⊇ [−Q, Q]`).
    clamp: bool,
    /// i32 lanes (else i16).
    wide: bool,
    /// `idx[start[n]..mid[n]]`: +1 inputs of output n; `idx[mid[n]..start[n+1]]`: −1 inputs.
    idx: Vec<u32>,
    /// `idx` as byte offsets of code rows of the AVX2 kernel (`k · LANES · 2`).
    off: Vec<u32>,
    start: Vec<u32>,
    mid: Vec<u32>,
    /// Every input is ≥ 0 (after a ReLU): `max|x|` needs no `abs`.
    nonneg: bool,
    /// Codes provably in `[0, 127]`: the AVX2 kernel stores them as u8 and adds rows in pairs
    /// in u8 lanes (≤ 254) before widening (`off` is then `k · LANES`).
    u8_codes: bool,
    dq: DequantPlan,
    bias: Vec<f64>,
    /// Bound on `|acc_n|`, the integer scale `C_n` and the dequantization shift (static mode:
    /// `Y_n = rnd(acc_n·C_n, cshift) + B_n`).
    acc_bound: Vec<f64>,
    /// Outputs that are always 0 (static ReLU stage, proven maximum ≤ 0): empty index lists,
    /// bias 0, and left out of the next stage's lists.
    dead: Vec<bool>,
    scale: Vec<i64>,
    cshift: i32,
    /// Set by [`fuse_int_requant`]: the next stage's codes straight from the accumulators, in
    /// i32 lanes (AVX2 kernel).
    int_next: Option<IntRequant>,
}

/// Static mode, a ternary stage whose output feeds a ternary stage with a constant quantizer:
/// the next codes `q_n = clamp(rnd(relu(rnd(acc_n·c_n, s1) + b_n)·r, p), lo, hi)`, where
/// `rnd(v, s)` rounds `v·2^-s` half to even (`v` itself for `s = 0`), every intermediate proven
/// `< 2^30` in magnitude — the integers the f64 lanes compute, without leaving i32.
pub(super) struct IntRequant {
    pub c: Vec<i32>,
    pub b: Vec<i32>,
    pub s1: u32,
    pub r: i32,
    pub p: u32,
    pub relu: bool,
    pub lo: i32,
    pub hi: i32,
    /// The next stage stores its codes as u8.
    pub u8_out: bool,
    /// Per output, `(c', b')` of the one-rounding form `clamp((acc·c' + b') >> p, one_lo, hi)`
    /// when it equals the exact form on every accumulator of the proven range
    /// ([`one_rounding`]); `None` keeps the exact form.
    pub one: Vec<Option<(i32, i32)>>,
    /// `lo`, raised to 0 when the ReLU is folded into the clamp.
    pub one_lo: i32,
}

enum DequantPlan {
    /// `Y = rne((acc·ds)·cs_n) + B_n`, every product exact in f64.
    F64 { cs: Vec<f64> },
    /// Dynamic mode with products beyond 2^53: `P = (acc·C_n)·M` in i64 (`acc·C_n` fits i32),
    /// `Y = rnd(P, shift) + B_n` with logical shifts on `P + 2^62`; `k_n` folds the bias, the
    /// `2^62` offset and the bits of [`MAGIC`] (the i64 → f64 conversion).
    I64 {
        c: Vec<i32>,
        shift: u32,
        k: Vec<u64>,
    },
    /// Dynamic mode with `acc·C_n·M` beyond 2^61: `Y = rnd(acc·C_n·M, shift) + B_n` per lane in
    /// i128 (scalar; meant for narrow stages such as a classifier's last layer).
    I128 {
        c: Vec<i64>,
        shift: u32,
        b: Vec<i64>,
    },
}

/// `Y = rnd(acc·c·m, s) + b` (half to even), then ReLU: the [`DequantPlan::I128`] of one lane.
#[inline(always)]
fn dequant_i128(acc: i32, c: i64, m: i64, s: u32, b: i64, relu: bool) -> f64 {
    let v = acc as i128 * c as i128 * m as i128;
    let r = (v + (1i128 << (s - 1)) - 1 + ((v >> s) & 1)) >> s;
    let y = (r + b as i128) as f64;
    if relu {
        y.max(0.0)
    } else {
        y
    }
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
    Ternary(Box<TernaryPlan>),
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
    /// Bound on `|output|` (every output is an integer of at most this magnitude).
    out_bound: f64,
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
    // Whether every X ≥ 0.
    let mut nonneg = in_lo_i >= 0;
    let mut n_prev = fw.n_in;
    // Inputs of the current stage that are provably 0 (outputs of a static ReLU stage whose
    // maximum is ≤ 0): left out of the index lists.
    let mut dead_in = vec![false; fw.n_in];
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
                if lo.unsigned_abs().max(hi.unsigned_abs()) > 1 << 30 {
                    return refuse(format!("layer {li}: code clamp too wide"));
                }
                if t.center.is_some() || t.dequant == Dequant::CodeUnits {
                    return refuse(format!(
                        "layer {li}: in-layer norm stages (profile {}) run on the reference emulator",
                        fw.profile.name
                    ));
                }
                let q = t.qmax;
                // Quantizer: plan, bound on the dequantization lane factor `ds`, bound on M.
                let (quant, dmax, mb, cshift, dyn_codes) = match &t.quant {
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
                        // M ≥ 2^(e-1), so R ≤ Q·2^(G+1) + 1/2.
                        let r_max = q as f64 * pow2(g + 1) + 1.0;
                        if xb * r_max > EXACT {
                            return refuse(format!("layer {li}: X·R beyond 2^52"));
                        }
                        let vec_recip = q as f64 * pow2(s_max) + 2.0 * mb < EXACT;
                        (
                            QuantPlan::Dynamic {
                                m_floor: mf,
                                guard: g,
                                qmax: q,
                                vec_recip,
                            },
                            mb,
                            mb,
                            t.shift,
                            true,
                        )
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
                        if xb * q as f64 > EXACT
                            || !(-62..=62).contains(&t.shift)
                            || t.shift - e_max < -62
                        {
                            return refuse(format!("layer {li}: Q·X or shift out of range"));
                        }
                        (
                            QuantPlan::Pow2 {
                                m_floor: mf,
                                qmax: q as f64,
                                shift: t.shift,
                            },
                            pow2(e_max - t.shift),
                            mb,
                            0,
                            true,
                        )
                    }
                    // Fused requantization: the previous stage output `Y = acc·E + H` (its
                    // plan has no shift) and its ReLU; `clamp(rne(Y·2^-P))` here equals the
                    // spec's `max(clamp(rnd(Y, P)), 0)` (rnd is monotone, rnd(0) = 0).
                    Quantizer::Codes { .. } => {
                        let prev = li.checked_sub(1).map(|i| &fw.layers[i].kind);
                        let Some(FwKind::Ternary(pt)) = prev else {
                            return refuse(format!(
                                "layer {li}: codes without a requantizing stage"
                            ));
                        };
                        if !(-62..=62).contains(&pt.shift) {
                            return refuse(format!(
                                "layer {li}: requantization shift out of range"
                            ));
                        }
                        (
                            QuantPlan::Static {
                                qs: pow2(-pt.shift),
                                r: 1,
                                p: pt.shift,
                            },
                            1.0,
                            1.0,
                            t.shift,
                            true,
                        )
                    }
                    Quantizer::Static {
                        recip, recip_frac, ..
                    } => {
                        if !(-62..=62).contains(recip_frac) || xb * (*recip as f64).abs() > EXACT {
                            return refuse(format!("layer {li}: X·R beyond 2^52"));
                        }
                        (
                            QuantPlan::Static {
                                qs: *recip as f64 * pow2(-recip_frac),
                                r: *recip,
                                p: *recip_frac,
                            },
                            1.0,
                            1.0,
                            t.shift,
                            *recip >= 0,
                        )
                    }
                };
                // A requantizing stage outputs the unshifted `acc·E_n + H_n`; the next stage's
                // quantizer shifts it.
                let cshift = if matches!(t.dequant, Dequant::Requant { .. }) {
                    0
                } else {
                    cshift
                };
                if !(-62..=62).contains(&cshift) {
                    return refuse(format!("layer {li}: dequantization shift out of range"));
                }
                // Code interval: the clamp; |q| ≤ Q in the dynamic modes (docs/arithmetic.md);
                // q ≥ 0 when X ≥ 0 and the quantizer's multiplier is ≥ 0.
                let (mut qlo, mut qhi) = (lo as f64, hi as f64);
                if matches!(t.quant, Quantizer::Dynamic { .. } | Quantizer::Pow2 { .. }) {
                    qlo = qlo.max(-(q as f64));
                    qhi = qhi.min(q as f64);
                }
                if nonneg && dyn_codes {
                    qlo = qlo.max((0i64).clamp(lo, hi) as f64);
                }
                let (qlo, qhi) = (qlo.min(hi as f64), qhi.max(lo as f64));
                let u8_codes = qlo >= 0.0 && qhi <= 127.0;
                let mut idx = Vec::new();
                let mut start = vec![0u32];
                let mut mid = Vec::new();
                let mut accb = Vec::with_capacity(n_out);
                let mut dead = vec![false; n_out];
                let prunes = layer.relu && matches!(quant, QuantPlan::Static { .. });
                // A zero input is a zero code only when the clamp holds 0.
                let skip_dead = lo <= 0 && hi >= 0;
                for n in 0..n_out {
                    let row = t.weights.row(n);
                    if row.iter().any(|&w| !(-1..=1).contains(&w)) {
                        return refuse(format!("layer {li}: non-ternary weight"));
                    }
                    let live = |w: i8| {
                        let dead_in = &dead_in;
                        row.iter()
                            .enumerate()
                            .filter(move |(k, &v)| v == w && !(skip_dead && dead_in[*k]))
                            .map(|(k, _)| k as u32)
                    };
                    let s0 = idx.len();
                    idx.extend(live(1));
                    mid.push(idx.len() as u32);
                    idx.extend(live(-1));
                    let np = (mid[n] as usize - s0) as f64;
                    let nm = (idx.len() - mid[n] as usize) as f64;
                    let (alo, ahi) = (qlo * np - qhi * nm, qhi * np - qlo * nm);
                    dead[n] = prunes && max_below_zero(alo, ahi, t.scale[n], cshift, t.bias[n]);
                    if dead[n] {
                        // Always 0: no accumulation (and a zero bias below).
                        idx.truncate(s0);
                        mid[n] = s0 as u32;
                    }
                    start.push(idx.len() as u32);
                    accb.push(if dead[n] {
                        0.0
                    } else {
                        alo.abs().max(ahi.abs())
                    });
                }
                let max_acc = accb.iter().fold(qlo.abs().max(qhi.abs()), |a, &b| a.max(b));
                let wide = if max_acc <= i16::MAX as f64 {
                    false
                } else if max_acc <= i32::MAX as f64 {
                    true
                } else {
                    return refuse(format!("layer {li}: accumulator too wide"));
                };
                if n_in as f64 * LANES as f64 * 2.0 >= u32::MAX as f64 {
                    return refuse(format!("layer {li}: too many inputs"));
                }
                if wide {
                    codes32 = codes32.max(n_in);
                } else {
                    codes16 = codes16.max(n_in);
                }
                // Dequantization in f64 when every product is exact, else (dynamic) in i64.
                let pre = if matches!(t.quant, Quantizer::Dynamic { .. }) {
                    mb
                } else {
                    1.0
                };
                let f64_ok = (0..n_out).all(|n| {
                    let c = (t.scale[n] as f64).abs();
                    accb[n] * pre <= EXACT
                        && accb[n] * pre * c <= EXACT
                        && t.scale[n].unsigned_abs() <= 1 << 52
                        && accb[n] * dmax * c * pow2(-cshift) <= RLIM
                });
                let dq = if f64_ok {
                    DequantPlan::F64 {
                        cs: t.scale.iter().map(|&c| c as f64 * pow2(-cshift)).collect(),
                    }
                } else if matches!(t.quant, Quantizer::Dynamic { .. })
                    && mb <= i32::MAX as f64
                    && (1..=61).contains(&cshift)
                    && (0..n_out).all(|n| {
                        let c = (t.scale[n] as f64).abs();
                        accb[n] * c <= i32::MAX as f64
                            && accb[n] * c * mb <= pow2(61)
                            && accb[n] * c * mb * pow2(-cshift) <= RLIM
                    })
                {
                    let s = cshift as u32;
                    let bias_p = 1u64 << (62 - s);
                    DequantPlan::I64 {
                        c: t.scale.iter().map(|&c| c as i32).collect(),
                        shift: s,
                        // rne(Y) bits: ((P + 2^62 + half − 1 + parity) >> s) − 2^(62−s) + B + bits(MAGIC).
                        k: t.bias
                            .iter()
                            .map(|&b| {
                                (b as u64)
                                    .wrapping_sub(bias_p)
                                    .wrapping_add(MAGIC.to_bits())
                            })
                            .collect(),
                    }
                } else if matches!(t.quant, Quantizer::Dynamic { .. })
                    && (1..=100).contains(&cshift)
                    && (0..n_out).all(|n| {
                        let c = (t.scale[n] as f64).abs();
                        accb[n] * c * mb <= pow2(120) && accb[n] * c * mb * pow2(-cshift) <= RLIM
                    })
                {
                    DequantPlan::I128 {
                        c: t.scale.clone(),
                        shift: cshift as u32,
                        b: t.bias.clone(),
                    }
                } else {
                    return refuse(format!("layer {li}: dequantization product too wide"));
                };
                for n in 0..n_out {
                    let b = t.bias[n] as f64;
                    let v = accb[n] * dmax * (t.scale[n] as f64).abs() * pow2(-cshift);
                    if v > RLIM || b.abs() > RLIM || t.bias[n].unsigned_abs() > 1 << 50 {
                        return refuse(format!("layer {li}: output beyond 2^50"));
                    }
                    yb.push(v + 1.0 + b.abs());
                }
                OpPlan::Ternary(Box::new(TernaryPlan {
                    quant,
                    lo: lo as f64,
                    hi: hi as f64,
                    clamp: !(matches!(t.quant, Quantizer::Dynamic { .. } | Quantizer::Pow2 { .. })
                        && lo <= -q
                        && hi >= q),
                    wide,
                    off: idx
                        .iter()
                        .map(|&k| k * (LANES as u32) * if u8_codes { 1 } else { 2 })
                        .collect(),
                    idx,
                    start,
                    mid,
                    nonneg,
                    u8_codes,
                    dq,
                    bias: t
                        .bias
                        .iter()
                        .zip(&dead)
                        .map(|(&b, &d)| if d { 0.0 } else { b as f64 })
                        .collect(),
                    acc_bound: accb,
                    dead,
                    scale: t.scale.clone(),
                    cshift,
                    int_next: None,
                }))
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
                    if sw * xb > EXACT
                        || d.weights.row(n).iter().any(|w| w.unsigned_abs() > 1 << 52)
                    {
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
        nonneg = layer.relu;
        dead_in = match &op {
            OpPlan::Ternary(t) => t.dead.clone(),
            _ => vec![false; n_out],
        };
        stages.push(StagePlan {
            op,
            n_in,
            n_out,
            relu: layer.relu,
        });
        n_prev = n_out;
    }
    if n_prev != fw.n_out {
        return refuse(format!("output length {n_prev} ≠ {}", fw.n_out));
    }
    fuse_int_requant(&mut stages);
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
        out_bound: xb,
    })
}

/// Whether `rne(acc·C·2^-s) + B ≤ 0` for every integer `acc` in `[alo, ahi]` (`s` < 0: a left
/// shift), from `rne(v) ≤ floor(v + 1/2)`, in exact integers.
fn max_below_zero(alo: f64, ahi: f64, c: i64, s: i32, b: i64) -> bool {
    let v = (alo as i128 * c as i128).max(ahi as i128 * c as i128);
    let y = match s {
        1..=100 => (v + (1i128 << (s - 1))) >> s,
        0 => v,
        _ if s >= -60 && v.unsigned_abs() < 1 << 60 => v << -s,
        _ => return false,
    };
    y + b as i128 <= 0
}

/// Sets [`TernaryPlan::int_next`] on every ternary stage (i16 lanes, static dequantization)
/// followed by a ternary stage with a constant quantizer and i16 lanes, where the bounds allow.
fn fuse_int_requant(stages: &mut [StagePlan]) {
    for i in 1..stages.len() {
        let (head, tail) = stages.split_at_mut(i);
        let (prev, next) = (&mut head[i - 1], &tail[0]);
        let (OpPlan::Ternary(a), OpPlan::Ternary(b)) = (&mut prev.op, &next.op) else {
            continue;
        };
        a.int_next = int_requant(a, prev.relu, b);
    }
}

/// The [`IntRequant`] of stage `a` into stage `b`, if every intermediate stays below 2^30.
fn int_requant(a: &TernaryPlan, relu: bool, b: &TernaryPlan) -> Option<IntRequant> {
    const LIM: f64 = 1_073_741_824.0; // 2^30
    let (QuantPlan::Static { .. }, QuantPlan::Static { r, p, .. }) = (&a.quant, &b.quant) else {
        return None;
    };
    if a.wide || b.wide || !matches!(a.dq, DequantPlan::F64 { .. }) {
        return None;
    }
    // A negative shift is an exact left shift, folded into the multiplier.
    let (s1, up1) = (a.cshift.max(0), pow2((-a.cshift).max(0)));
    let (p, r) = (*p, *r as f64 * pow2((-*p).max(0)));
    if s1 > 30 || p > 30 || r.abs() > LIM {
        return None;
    }
    let mut c = Vec::with_capacity(a.scale.len());
    let mut bias = Vec::with_capacity(a.scale.len());
    for ((&cn, &bn), &acc) in a.scale.iter().zip(&a.bias).zip(&a.acc_bound) {
        let cn = cn as f64 * up1;
        let prod = acc * cn.abs();
        let y = prod * pow2(-s1) + 1.0 + bn.abs();
        if cn.abs() > LIM || prod + pow2(s1) > LIM || y > LIM || y * r.abs() + pow2(p) > LIM {
            return None;
        }
        c.push(cn as i32);
        bias.push(bn as i32);
    }
    let mut ir = IntRequant {
        c,
        b: bias,
        s1: s1 as u32,
        r: r as i32,
        p: p.max(0) as u32,
        relu,
        lo: b.lo as i32,
        hi: b.hi as i32,
        u8_out: b.u8_codes,
        one: Vec::new(),
        one_lo: if relu {
            (b.lo as i32).max(0)
        } else {
            b.lo as i32
        },
    };
    ir.one = (0..ir.c.len())
        .map(|n| one_rounding(&ir, n, a.acc_bound[n]))
        .collect();
    Some(ir)
}

/// `rnd(v, s)`: `v·2^-s` rounded half to even (`v` for `s = 0`).
fn rnd_even(v: i64, s: u32) -> i64 {
    if s == 0 {
        return v;
    }
    (v + (1i64 << (s - 1)) - 1 + ((v >> s) & 1)) >> s
}

impl IntRequant {
    /// The next code of accumulator `acc` of output `n`, as the firmware defines it.
    fn code(&self, n: usize, acc: i64) -> i64 {
        let mut y = rnd_even(acc * self.c[n] as i64, self.s1) + self.b[n] as i64;
        if self.relu {
            y = y.max(0);
        }
        rnd_even(y * self.r as i64, self.p).clamp(self.lo as i64, self.hi as i64)
    }

    /// The one-rounding form of output `n`: `clamp((acc·c + b) >> p, one_lo, hi)`.
    fn code_one(&self, (c, b): (i32, i32), acc: i64) -> i64 {
        ((acc * c as i64 + b as i64) >> self.p).clamp(self.one_lo as i64, self.hi as i64)
    }
}

/// `(c·r, b·r + 2^(p−1))` when the one-rounding form [`IntRequant::code_one`] (one multiply,
/// round half up, the ReLU folded into the clamp) gives output `n`'s exact code for every
/// accumulator `|acc| ≤ bound` — checked exhaustively, so no tie and no fold can differ — and
/// every intermediate stays below 2^30.
fn one_rounding(ir: &IntRequant, n: usize, bound: f64) -> Option<(i32, i32)> {
    const LIM: i64 = 1 << 30;
    if ir.s1 != 0 || bound > 65_536.0 {
        return None;
    }
    let a = bound as i64;
    let c = ir.c[n] as i64 * ir.r as i64;
    let b = ir.b[n] as i64 * ir.r as i64 + if ir.p > 0 { 1i64 << (ir.p - 1) } else { 0 };
    if c.abs() >= LIM || b.abs() >= LIM || a * c.abs() + b.abs() >= LIM {
        return None;
    }
    let cb = (c as i32, b as i32);
    (-a..=a)
        .all(|acc| ir.code_one(cb, acc) == ir.code(n, acc))
        .then_some(cb)
}

/// Per-thread buffers for one block.
struct Scratch<const L: usize> {
    a: Rows<f64, L>,
    b: Rows<f64, L>,
    c16: Rows<i16, L>,
    /// The next stage's codes written by an [`IntRequant`] stage.
    c16b: Rows<i16, L>,
    c32: Rows<i32, L>,
    xin: Rows<f32, L>,
    /// Accumulators of one stage (AVX2 kernel).
    acc: Rows<i16, L>,
    /// The plan sizes these buffers hold: `(width, codes16, codes32, n_in)`.
    key: [usize; 4],
}

/// One row of lanes on a cache-line boundary.
#[repr(C, align(64))]
#[derive(Clone, Copy)]
struct Line<T, const L: usize>([T; L]);

/// Rows of `L` lanes, each starting on a 64-byte boundary, so no vector load of a row
/// straddles two cache lines (unaligned rows cost about a tenth of the kernels' time).
struct Rows<T, const L: usize>(Vec<Line<T, L>>);

impl<T: Copy + Default, const L: usize> Rows<T, L> {
    fn new(n: usize) -> Self {
        const {
            assert!(
                std::mem::size_of::<[T; L]>().is_multiple_of(64),
                "rows must fill whole lines"
            )
        };
        Rows(vec![Line([T::default(); L]); n])
    }
}

impl<T, const L: usize> std::ops::Deref for Rows<T, L> {
    type Target = [[T; L]];
    fn deref(&self) -> &[[T; L]] {
        // SAFETY: `Line` is `repr(C)` around one `[T; L]` whose size is a multiple of its
        // alignment (asserted in `new`), so the vector is `len` consecutive `[T; L]`.
        unsafe { std::slice::from_raw_parts(self.0.as_ptr() as *const [T; L], self.0.len()) }
    }
}

impl<T, const L: usize> std::ops::DerefMut for Rows<T, L> {
    fn deref_mut(&mut self) -> &mut [[T; L]] {
        // SAFETY: as in `deref`.
        unsafe { std::slice::from_raw_parts_mut(self.0.as_mut_ptr() as *mut [T; L], self.0.len()) }
    }
}

impl<const L: usize> Scratch<L> {
    fn key(p: &Plan) -> [usize; 4] {
        [p.width, p.codes16, p.codes32, p.n_in]
    }

    fn new(p: &Plan) -> Self {
        Scratch {
            key: Self::key(p),
            a: Rows::new(p.width),
            b: Rows::new(p.width),
            c16: Rows::new(p.codes16),
            c16b: Rows::new(p.codes16),
            c32: Rows::new(p.codes32),
            xin: Rows::new(p.n_in),
            acc: Rows::new(p.width),
        }
    }
}

/// Scratch buffers of the lane kernels that a caller keeps between serial runs of one
/// [`FastEmulator`] (allocated on first use).
#[derive(Default)]
pub struct FastScratch(Option<Scratch<LANES>>);

impl FastScratch {
    /// The buffers, (re)allocated unless they were made for a plan of the same sizes (so one
    /// scratch given to two emulators is still safe, only slower).
    fn for_plan(&mut self, p: &Plan) -> &mut Scratch<LANES> {
        let key = Scratch::<LANES>::key(p);
        if self.0.as_ref().is_none_or(|s| s.key != key) {
            self.0 = Some(Scratch::new(p));
        }
        self.0.as_mut().expect("just set")
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

/// Lane-wise `max_k |x_k|`, 16 lanes at a time (so the maxima stay in registers).
#[inline(always)]
fn max_abs<const L: usize>(x: &[[f64; L]], nonneg: bool) -> [f64; L] {
    if nonneg {
        return max_abs_inner::<L, true>(x);
    }
    max_abs_inner::<L, false>(x)
}

#[inline(always)]
fn max_abs_inner<const L: usize, const NONNEG: bool>(x: &[[f64; L]]) -> [f64; L] {
    let mut out = [0f64; L];
    for (g, o) in out.chunks_exact_mut(16).enumerate() {
        let mut m = [0f64; 16];
        for row in x {
            let r: &[f64; 16] = row[16 * g..16 * g + 16].try_into().unwrap();
            for l in 0..16 {
                m[l] = fmax(m[l], if NONNEG { r[l] } else { r[l].abs() });
            }
        }
        o.copy_from_slice(&m);
    }
    out
}

/// Per-event quantizer factors: `qs` (quantizer), `ds` (f64 dequantization), `mi` (M for the
/// i64 dequantization).
#[inline(always)]
fn quant_params<const L: usize>(t: &TernaryPlan, x: &[[f64; L]]) -> ([f64; L], [f64; L], [i32; L]) {
    let mut qs = [0f64; L];
    let mut ds = [1f64; L];
    let mut mi = [0i32; L];
    match t.quant {
        QuantPlan::Static { qs: q, .. } => qs = [q; L],
        QuantPlan::Dynamic {
            m_floor,
            guard,
            qmax,
            ..
        } => {
            let mabs = max_abs(x, t.nonneg);
            for l in 0..L {
                let m = (mabs[l] as i64).max(m_floor);
                let s = guard + bit_length(m);
                let r = ((qmax << s) + m / 2) / m;
                qs[l] = r as f64 * pow2(-s);
                ds[l] = m as f64;
                mi[l] = m as i32;
            }
        }
        QuantPlan::Pow2 {
            m_floor,
            qmax,
            shift,
        } => {
            let mabs = max_abs(x, t.nonneg);
            for l in 0..L {
                let m = (mabs[l] as i64).max(m_floor);
                let e = ceil_log2(m);
                qs[l] = qmax * pow2(-e);
                ds[l] = pow2(e - shift);
            }
        }
    }
    (qs, ds, mi)
}

#[inline(always)]
fn ternary<const L: usize, C: Code>(
    t: &TernaryPlan,
    relu: bool,
    x: &[[f64; L]],
    codes: &mut [[C; L]],
    y: &mut [[f64; L]],
    (qs, ds, mi): ([f64; L], [f64; L], [i32; L]),
) {
    let n_in = x.len();
    let codes = &mut codes[..n_in];
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
        let (s0, m0, e0) = (
            t.start[n] as usize,
            t.mid[n] as usize,
            t.start[n + 1] as usize,
        );
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
        match &t.dq {
            DequantPlan::F64 { cs } => {
                let (cs, b) = (cs[n], t.bias[n]);
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
            DequantPlan::I128 { c, shift, b } => {
                for l in 0..L {
                    let m = ds[l] as i64;
                    yn[l] = dequant_i128(acc[l].to_i32(), c[n], m, *shift, b[n], relu);
                }
            }
            DequantPlan::I64 { c, shift, k } => {
                let (c, s, k) = (c[n], *shift, k[n]);
                let half_m1 = (1u64 << (s - 1)) - 1;
                for l in 0..L {
                    let a = acc[l].to_i32().wrapping_mul(c);
                    let p = ((a as i64 * mi[l] as i64) as u64).wrapping_add(1 << 62);
                    let r = (p + half_m1 + ((p >> s) & 1)) >> s;
                    let v = f64::from_bits(r.wrapping_add(k)) - MAGIC;
                    yn[l] = if relu { fmax(v, 0.0) } else { v };
                }
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

/// Receives each block's outputs: `(first event, events, outputs)`, where `outputs[j][l]` is
/// output `j` of event `first + l` (`l < events`), an exact integer.
pub type Sink<'s> = dyn FnMut(usize, usize, &[[f64; LANES]]) + 's;

/// Writes a block's outputs into `out` (row-major codes of the chunk's events).
fn write_codes(out: &mut [i64], o: usize) -> impl FnMut(usize, usize, &[[f64; LANES]]) + '_ {
    move |e0, nb, cur| {
        for (l, ev) in out[e0 * o..(e0 + nb) * o].chunks_exact_mut(o).enumerate() {
            for (j, v) in ev.iter_mut().enumerate() {
                *v = cur[j][l] as i64;
            }
        }
    }
}

/// Runs the events of `input` (a whole number of events) and gives each block to `sink`.
#[inline(always)]
fn run_chunk_impl<const AVX: bool, const W512: bool>(
    p: &Plan,
    s: &mut Scratch<LANES>,
    input: Input<'_>,
    sink: &mut Sink<'_>,
) {
    const L: usize = LANES;
    let (k, o) = (p.n_in, p.n_out);
    let n = input.len() / k;
    let mut e0 = 0;
    while e0 < n {
        let nb = (n - e0).min(L);
        #[cfg(target_arch = "x86_64")]
        if let (true, Input::F32(x)) = (AVX, input) {
            // The next block's events, while this one computes.
            let next = &x[((e0 + nb) * k).min(x.len())..((e0 + nb + L) * k).min(x.len())];
            avx2::prefetch(next);
        }
        #[cfg(target_arch = "x86_64")]
        if let (true, true, Input::F32(x)) = (AVX, nb == L, input) {
            // SAFETY: AVX is only true inside an AVX2 target-feature function.
            unsafe { avx2::load_f32(p, &mut s.a, &x[e0 * k..(e0 + nb) * k]) };
        } else {
            load_block(p, s, input.slice(e0 * k, (e0 + nb) * k), nb);
        }
        #[cfg(not(target_arch = "x86_64"))]
        load_block(p, s, input.slice(e0 * k, (e0 + nb) * k), nb);
        let Scratch {
            a,
            b,
            c16,
            c16b,
            c32,
            acc,
            ..
        } = s;
        let (mut cur, mut nxt) = (a, b);
        let (mut c16, mut c16b) = (c16, c16b);
        // max_k |x_k| of the current stage's input, when the previous AVX2 stage computed it.
        let mut mx = [0f64; L];
        let mut have_mx = false;
        // The current stage's input codes are in `c16` (written by the previous stage).
        let mut have_codes = false;
        for st in &p.stages {
            let x = &cur[..st.n_in];
            let y = &mut nxt[..st.n_out];
            match &st.op {
                OpPlan::Ternary(t) => {
                    #[cfg(target_arch = "x86_64")]
                    // SAFETY: AVX is only true inside an AVX2 target-feature function.
                    let qp = if AVX {
                        unsafe { avx2::quant_params(t, x, have_mx.then_some(&mx)) }
                    } else {
                        quant_params::<L>(t, x)
                    };
                    #[cfg(not(target_arch = "x86_64"))]
                    let qp = quant_params::<L>(t, x);
                    if t.wide {
                        ternary::<L, i32>(t, st.relu, x, c32, y, qp)
                    } else {
                        #[cfg(target_arch = "x86_64")]
                        if AVX {
                            // SAFETY (all three): only instantiated inside an AVX2 target-feature
                            // function; the buffers hold the plan's widths.
                            if !have_codes {
                                unsafe { avx2::quantize16::<W512>(t, x, &qp.0, c16) };
                            }
                            if let Some(ir) = &t.int_next {
                                unsafe { avx2::ternary16_requant::<W512>(t, ir, c16, c16b) };
                                std::mem::swap(&mut c16, &mut c16b);
                                (have_codes, have_mx) = (true, false);
                                continue;
                            }
                            unsafe {
                                avx2::ternary16::<W512>(t, st.relu, c16, y, qp, &mut mx, acc)
                            };
                            (have_codes, have_mx) = (false, true);
                            std::mem::swap(&mut cur, &mut nxt);
                            continue;
                        }
                        ternary::<L, i16>(t, st.relu, x, c16, y, qp)
                    }
                }
                OpPlan::Dense(d) => dense::<L>(d, st.relu, x, y),
                OpPlan::Affine(af) => affine::<L>(af, st.relu, x, y),
            }
            (have_codes, have_mx) = (false, false);
            std::mem::swap(&mut cur, &mut nxt);
        }
        sink(e0, nb, &cur[..o]);
        e0 += nb;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn run_chunk_avx2(p: &Plan, s: &mut Scratch<LANES>, input: Input<'_>, sink: &mut Sink<'_>) {
    run_chunk_impl::<true, false>(p, s, input, sink)
}

/// [`run_chunk_avx2`] with the ternary stages in 512-bit vectors ([`Kernel::Avx512`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,avx512f,avx512bw")]
unsafe fn run_chunk_avx512(
    p: &Plan,
    s: &mut Scratch<LANES>,
    input: Input<'_>,
    sink: &mut Sink<'_>,
) {
    run_chunk_impl::<true, true>(p, s, input, sink)
}

fn run_chunk_portable(p: &Plan, s: &mut Scratch<LANES>, input: Input<'_>, sink: &mut Sink<'_>) {
    run_chunk_impl::<false, false>(p, s, input, sink)
}

#[cfg(target_arch = "x86_64")]
mod avx2;

/// The lane kernels of the fast emulator; all give the same results.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// Plain Rust over arrays of lanes (any CPU).
    Portable,
    /// Explicit AVX2 + FMA vectors.
    Avx2,
    /// [`Kernel::Avx2`] with accumulation, quantizer, requantization and dequantization in
    /// AVX-512F/BW vectors.
    Avx512,
}

impl Kernel {
    /// Every kernel, slowest first.
    pub const ALL: [Kernel; 3] = [Kernel::Portable, Kernel::Avx2, Kernel::Avx512];

    /// Whether this CPU runs it (run-time detection).
    pub fn supported(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            let avx2 =
                std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma");
            match self {
                Kernel::Portable => true,
                Kernel::Avx2 => avx2,
                Kernel::Avx512 => {
                    avx2 && std::is_x86_feature_detected!("avx512f")
                        && std::is_x86_feature_detected!("avx512bw")
                }
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        return self == Kernel::Portable;
    }

    /// The fastest kernel allowed by the environment: `BIT2HLS_PORTABLE=1` the portable one,
    /// `BIT2HLS_NO_AVX512=1` AVX2 at most (for benchmarks and debugging); else AVX-512.
    pub fn from_env() -> Kernel {
        let set = |v: &str| std::env::var_os(v).is_some_and(|v| !v.is_empty() && v != "0");
        if set("BIT2HLS_PORTABLE") {
            Kernel::Portable
        } else if set("BIT2HLS_NO_AVX512") {
            Kernel::Avx2
        } else {
            Kernel::Avx512
        }
    }

    /// The fastest kernel this CPU runs.
    pub fn best() -> Kernel {
        *Kernel::ALL
            .iter()
            .rev()
            .find(|k| k.supported())
            .unwrap_or(&Kernel::Portable)
    }

    pub fn name(self) -> &'static str {
        match self {
            Kernel::Portable => "portable",
            Kernel::Avx2 => "avx2",
            Kernel::Avx512 => "avx512",
        }
    }
}

/// The fast emulator: bit-exact with [`Emulator`], events in SIMD lanes, rayon over blocks.
pub struct FastEmulator<'a> {
    pub fw: &'a Firmware,
    plan: Result<Plan, String>,
    reference: Emulator<'a>,
    /// Supported by this CPU (checked in [`FastEmulator::with_kernel`]).
    simd: Kernel,
}

impl<'a> FastEmulator<'a> {
    /// The fastest kernels this CPU runs (`BIT2HLS_PORTABLE=1` forces the portable ones and
    /// `BIT2HLS_NO_AVX512=1` the AVX2 ones at most, for benchmarks and debugging).
    pub fn new(fw: &'a Firmware) -> FastEmulator<'a> {
        Self::with_kernel(fw, Kernel::from_env())
    }

    /// The fastest kernels this CPU runs that are no faster than `kernel`.
    pub fn with_kernel(fw: &'a Firmware, kernel: Kernel) -> FastEmulator<'a> {
        let simd = *Kernel::ALL
            .iter()
            .rev()
            .find(|k| **k as u8 <= kernel as u8 && k.supported())
            .unwrap_or(&Kernel::Portable);
        FastEmulator {
            fw,
            plan: build_plan(fw),
            reference: Emulator::new(fw),
            simd,
        }
    }

    /// Whether the lane kernels run this firmware (else the reference emulator does).
    pub fn is_fast(&self) -> bool {
        self.plan.is_ok()
    }

    /// Why the reference emulator is used, if it is.
    pub fn fallback_reason(&self) -> Option<&str> {
        self.plan.as_ref().err().map(|s| s.as_str())
    }

    /// Number of ternary stages dequantized in i64 (tests).
    #[cfg(test)]
    pub(crate) fn i64_stages(&self) -> usize {
        self.plan.as_ref().map_or(0, |p| p.stages.iter().filter(|s| matches!(&s.op, OpPlan::Ternary(t) if matches!(t.dq, DequantPlan::I64 { .. }))).count())
    }

    /// Number of ternary stages that write the next stage's codes in i32 lanes (tests).
    #[cfg(test)]
    pub(crate) fn int_requant_stages(&self) -> usize {
        self.plan.as_ref().map_or(0, |p| {
            p.stages
                .iter()
                .filter(|s| matches!(&s.op, OpPlan::Ternary(t) if t.int_next.is_some()))
                .count()
        })
    }

    /// Outputs of i32-requantization stages in the one-rounding form, and in the exact form
    /// (tests).
    #[cfg(test)]
    pub(crate) fn one_rounding_outputs(&self) -> (usize, usize) {
        let stages = self.plan.as_ref().map_or(vec![], |p| {
            p.stages
                .iter()
                .filter_map(|s| match &s.op {
                    OpPlan::Ternary(t) => t.int_next.as_ref(),
                    _ => None,
                })
                .collect()
        });
        let one: usize = stages
            .iter()
            .map(|ir| ir.one.iter().flatten().count())
            .sum();
        let all: usize = stages.iter().map(|ir| ir.one.len()).sum();
        (one, all - one)
    }

    /// Number of outputs of ternary stages proven always 0 (tests).
    #[cfg(test)]
    pub(crate) fn dead_outputs(&self) -> usize {
        self.plan.as_ref().map_or(0, |p| {
            p.stages
                .iter()
                .map(|s| match &s.op {
                    OpPlan::Ternary(t) => t.dead.iter().filter(|d| **d).count(),
                    _ => 0,
                })
                .sum()
        })
    }

    /// Which kernels run: "avx512", "avx2" (AVX2 + FMA), "portable" or "reference".
    pub fn kernel(&self) -> &'static str {
        match &self.plan {
            Err(_) => "reference",
            Ok(_) => self.simd.name(),
        }
    }

    fn run_chunk(&self, p: &Plan, s: &mut Scratch<LANES>, input: Input<'_>, out: &mut [i64]) {
        self.run_chunk_with(p, s, input, &mut write_codes(out, p.n_out))
    }

    fn run_chunk_with(
        &self,
        p: &Plan,
        s: &mut Scratch<LANES>,
        input: Input<'_>,
        sink: &mut Sink<'_>,
    ) {
        // SAFETY: `simd` is a kernel this CPU supports, detected at run time in `with_kernel`
        // (the only place it is set).
        match self.simd {
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => unsafe { run_chunk_avx512(p, s, input, sink) },
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => unsafe { run_chunk_avx2(p, s, input, sink) },
            _ => run_chunk_portable(p, s, input, sink),
        }
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

    /// [`Self::run_batch_into`] on the calling thread (for callers that parallelise over larger
    /// units themselves, such as jets of particles), with the caller's scratch buffers.
    pub fn run_serial_into(&self, scratch: &mut FastScratch, x: &[f32], out: &mut [i64]) {
        match &self.plan {
            Ok(p) => {
                let n = x.len() / p.n_in;
                assert_eq!(out.len(), n * p.n_out, "output buffer length");
                let s = scratch.for_plan(p);
                self.run_chunk(p, s, Input::F32(&x[..n * p.n_in]), out);
            }
            Err(_) => out.copy_from_slice(&self.reference.run_batch(x)),
        }
    }

    /// Runs the rows of `x` (`n · n_in` floats) on the calling thread and hands each block of
    /// at most [`LANES`] rows to `sink(first row, rows, outputs)`, `outputs[j][l]` being output
    /// `j` of row `first + l` as an exact integer in f64 (`|v| ≤` [`Self::output_bound`]).
    /// Returns `false`, without calling `sink`, when the lane kernels do not run this firmware
    /// (then [`Self::run_serial_into`] gives the reference's codes).
    pub fn run_serial_blocks(
        &self,
        scratch: &mut FastScratch,
        x: &[f32],
        sink: &mut Sink<'_>,
    ) -> bool {
        let Ok(p) = &self.plan else { return false };
        let n = x.len() / p.n_in;
        let s = scratch.for_plan(p);
        self.run_chunk_with(p, s, Input::F32(&x[..n * p.n_in]), sink);
        true
    }

    /// Bound on the magnitude of every output code, when the lane kernels run this firmware.
    pub fn output_bound(&self) -> Option<f64> {
        self.plan.as_ref().ok().map(|p| p.out_bound)
    }

    /// [`Self::run_codes_batch`] on the calling thread, into `out`.
    pub fn run_codes_serial_into(&self, scratch: &mut FastScratch, codes: &[i64], out: &mut [i64]) {
        let (k, o) = (self.fw.n_in, self.fw.n_out);
        match &self.plan {
            Ok(p) if codes.iter().all(|&c| (p.in_lo_i..=p.in_hi_i).contains(&c)) => {
                let s = scratch.for_plan(p);
                self.run_chunk(p, s, Input::Codes(codes), out);
            }
            _ => out
                .chunks_mut(o.max(1))
                .zip(codes.chunks(k.max(1)))
                .for_each(|(os, xs)| self.reference.run_codes(xs, os)),
        }
    }

    /// Runs events given as input codes (row-major); the same as [`Emulator::run_codes`] per event.
    pub fn run_codes_batch(&self, codes: &[i64]) -> Vec<i64> {
        let (k, o) = (self.fw.n_in, self.fw.n_out);
        let n = codes.len().checked_div(k).unwrap_or(0);
        let mut out = vec![0i64; n * o];
        match &self.plan {
            Ok(p) if codes.iter().all(|&c| (p.in_lo_i..=p.in_hi_i).contains(&c)) => {
                self.run_parallel(p, Input::Codes(&codes[..n * k]), &mut out);
            }
            _ => {
                out.par_chunks_mut(o.max(1))
                    .zip(codes.par_chunks(k.max(1)))
                    .for_each(|(os, xs)| self.reference.run_codes(xs, os));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
