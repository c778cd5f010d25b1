//! AVX2 kernel of a ternary stage with i16 codes (the common case): quantize, accumulate over
//! the CSR lists, dequantize, with explicit 256-bit vectors.
//!
//! Within each group of 16 events a code vector holds the events in the order
//! `[0..4, 8..12 | 4..8, 12..16]` — what `packs_epi32` produces — so neither the quantizer nor
//! the dequantizer needs a cross-lane shuffle; the accumulation is lane-wise, so the order does
//! not matter there.

#![allow(clippy::needless_range_loop)]

use super::{
    dequant_i128, pow2, quant_params as quant_params_portable, DequantPlan, IntRequant, Plan,
    QuantPlan, TernaryPlan, LANES, MAGIC,
};
use std::arch::x86_64::*;

const L: usize = LANES;
/// i16 vectors per row of codes.
const N: usize = LANES / 16;

/// The integer vector operations of the accumulation, at 256 bits (AVX2) and 512 bits
/// (AVX-512BW; only called inside functions compiled with it, [`avx512`]).
trait Vec16: Copy {
    unsafe fn zero() -> Self;
    unsafe fn load(p: *const Self) -> Self;
    /// Lane-wise wrapping add of i16 lanes.
    unsafe fn add16(self, b: Self) -> Self;
    /// Lane-wise wrapping add of u8 lanes.
    unsafe fn add8(self, b: Self) -> Self;
    /// Each 16-bit lane shifted right by 8 (logical).
    unsafe fn high8(self) -> Self;
}

impl Vec16 for __m256i {
    #[inline(always)]
    unsafe fn zero() -> Self {
        _mm256_setzero_si256()
    }
    #[inline(always)]
    unsafe fn load(p: *const Self) -> Self {
        _mm256_loadu_si256(p)
    }
    #[inline(always)]
    unsafe fn add16(self, b: Self) -> Self {
        _mm256_add_epi16(self, b)
    }
    #[inline(always)]
    unsafe fn add8(self, b: Self) -> Self {
        _mm256_add_epi8(self, b)
    }
    #[inline(always)]
    unsafe fn high8(self) -> Self {
        _mm256_srli_epi16::<8>(self)
    }
}

/// Sum of the i16 code rows (`K` vectors each) at byte offsets `off`, two rows per iteration
/// (two independent chains).
#[inline(always)]
unsafe fn list16<V: Vec16, const K: usize>(cb: *const u8, off: &[u32]) -> [V; K] {
    let mut a = [V::zero(); K];
    let mut b = [V::zero(); K];
    let pairs = off.chunks_exact(2);
    let rest = pairs.remainder();
    for pr in pairs {
        let p = cb.add(pr[0] as usize) as *const V;
        let q = cb.add(pr[1] as usize) as *const V;
        for r in 0..K {
            a[r] = a[r].add16(V::load(p.add(r)));
            b[r] = b[r].add16(V::load(q.add(r)));
        }
    }
    if let [k] = rest {
        let p = cb.add(*k as usize) as *const V;
        for r in 0..K {
            a[r] = a[r].add16(V::load(p.add(r)));
        }
    }
    for r in 0..K {
        a[r] = a[r].add16(b[r]);
    }
    a
}

/// [`list16`] for u8 rows of codes in `[0, 127]` (`K / 2` vectors each; [`store_codes`]: the
/// low byte of each i16 lane holds a code of i16 vector `2h`, the high byte one of vector
/// `2h + 1`), as two wrapping 16-bit sums per vector `h` of the row: `e = Σ s` and
/// `o = Σ (s >> 8)`, where `s` is the byte-wise sum of two rows (no overflow: ≤ 254), i.e.
/// `s = lo + 256·hi`. So `e ≡ Σ lo + 256·Σ hi` and `o = Σ hi` (mod 2^16), and [`split8`]
/// recovers `Σ lo`.
#[inline(always)]
unsafe fn list8<V: Vec16, const K: usize>(cb: *const u8, off: &[u32]) -> [V; K] {
    let mut a = [V::zero(); K];
    let pairs = off.chunks_exact(2);
    let rest = pairs.remainder();
    for pr in pairs {
        let p = cb.add(pr[0] as usize) as *const V;
        let q = cb.add(pr[1] as usize) as *const V;
        for h in 0..K / 2 {
            let s = V::load(p.add(h)).add8(V::load(q.add(h)));
            a[2 * h] = a[2 * h].add16(s);
            a[2 * h + 1] = a[2 * h + 1].add16(s.high8());
        }
    }
    if let [k] = rest {
        let p = cb.add(*k as usize) as *const V;
        for h in 0..K / 2 {
            let s = V::load(p.add(h));
            a[2 * h] = a[2 * h].add16(s);
            a[2 * h + 1] = a[2 * h + 1].add16(s.high8());
        }
    }
    a
}

/// The i16 sums of the low and high bytes from the `(e, o)` pairs of [`list8`] (or their
/// differences): `Σ lo = e − 256·o`, `Σ hi = o`, exact mod 2^16 — so exact whenever the true
/// sums lie in the i16 range, as every accumulator of an i16 stage does.
#[inline(always)]
unsafe fn split8(a: &mut [__m256i; N]) {
    for h in 0..N / 2 {
        a[2 * h] = _mm256_sub_epi16(a[2 * h], _mm256_slli_epi16::<8>(a[2 * h + 1]));
    }
}

/// Quantizes the rows `x` into `codes` (`q = rne(clamp(X·qs, lo, hi))`; `cvtpd2dq` rounds half
/// to even in the default MXCSR), as u8 rows when `t.u8_codes`.
///
/// # Safety
/// AVX2 must be available; `codes.len() ≥ x.len()`.
#[inline(always)]
pub(super) unsafe fn quantize16<const W: bool>(
    t: &TernaryPlan,
    x: &[[f64; L]],
    qs: &[f64; L],
    codes: &mut [[i16; L]],
) {
    let (lo, hi) = (_mm256_set1_pd(t.lo), _mm256_set1_pd(t.hi));
    // Row k of codes starts at byte k·LANES (u8 codes) or k·2·LANES (i16).
    let row_bytes = if t.u8_codes { L } else { 2 * L };
    let cbase = codes.as_mut_ptr() as *mut u8;
    for (kk, row) in x.iter().enumerate() {
        let xp = row.as_ptr();
        let cp = cbase.add(kk * row_bytes) as *mut __m256i;
        if W {
            let v16 = avx512::quantize_row(t, row, qs);
            store_codes(cp, &v16, t.u8_codes);
            continue;
        }
        let mut v16 = [_mm256_setzero_si256(); N];
        for (g, vg) in v16.iter_mut().enumerate() {
            let mut q = [_mm_setzero_si128(); 4];
            for (j, qj) in q.iter_mut().enumerate() {
                let o = 16 * g + 4 * j;
                let v = _mm256_mul_pd(
                    _mm256_loadu_pd(xp.add(o)),
                    _mm256_loadu_pd(qs.as_ptr().add(o)),
                );
                let v = if t.clamp {
                    _mm256_min_pd(_mm256_max_pd(v, lo), hi)
                } else {
                    v
                };
                *qj = _mm256_cvtpd_epi32(v);
            }
            let a = _mm256_set_m128i(q[1], q[0]);
            let b = _mm256_set_m128i(q[3], q[2]);
            *vg = _mm256_packs_epi32(a, b);
        }
        store_codes(cp, &v16, t.u8_codes);
    }
}

/// Stores one row of codes (`N` i16 vectors) as i16, or as bytes when `u8` (the values are in
/// `[0, 127]`): vector `2h` in the low bytes of the i16 lanes, `2h + 1` in the high bytes.
#[inline(always)]
unsafe fn store_codes(cp: *mut __m256i, v16: &[__m256i; N], u8: bool) {
    if u8 {
        for h in 0..N / 2 {
            let v = _mm256_or_si256(v16[2 * h], _mm256_slli_epi16::<8>(v16[2 * h + 1]));
            _mm256_storeu_si256(cp.add(h), v);
        }
    } else {
        for (g, vg) in v16.iter().enumerate() {
            _mm256_storeu_si256(cp.add(g), *vg);
        }
    }
}

/// `acc_n = Σ_{+1} codes − Σ_{−1} codes` of output `n` over the CSR lists (i16 lanes), with
/// 512-bit vectors when `W` (AVX-512BW: the caller's target features must include it).
#[inline(always)]
unsafe fn accumulate<const W: bool>(t: &TernaryPlan, cb: *const u8, n: usize) -> [__m256i; N] {
    let (s0, m0, e0) = (
        t.start[n] as usize,
        t.mid[n] as usize,
        t.start[n + 1] as usize,
    );
    let (pos, neg) = (t.off.get_unchecked(s0..m0), t.off.get_unchecked(m0..e0));
    if W {
        return if t.u8_codes {
            avx512::accumulate8(cb, pos, neg)
        } else {
            avx512::accumulate16(cb, pos, neg)
        };
    }
    let (mut a, b) = if t.u8_codes {
        (list8::<__m256i, N>(cb, pos), list8::<__m256i, N>(cb, neg))
    } else {
        (list16::<__m256i, N>(cb, pos), list16::<__m256i, N>(cb, neg))
    };
    for r in 0..N {
        a[r] = _mm256_sub_epi16(a[r], b[r]);
    }
    if t.u8_codes {
        split8(&mut a);
    }
    a
}

/// `rnd(v, s)`: `v·2^-s` rounded half to even, for `s ≥ 1` and `v + 2^s < 2^31`
/// (`(v + 2^(s−1) − 1 + floor(v/2^s) mod 2) >> s`, arithmetic shifts).
#[inline(always)]
unsafe fn rnd32(v: __m256i, s: __m128i, hm1: __m256i) -> __m256i {
    let par = _mm256_and_si256(_mm256_sra_epi32(v, s), _mm256_set1_epi32(1));
    _mm256_sra_epi32(_mm256_add_epi32(_mm256_add_epi32(v, hm1), par), s)
}

/// The broadcast constants of an [`IntRequant`].
struct RequantConsts {
    lo: __m256i,
    hi: __m256i,
    r: __m256i,
    s1: __m128i,
    h1: __m256i,
    p: __m128i,
    hp: __m256i,
}

/// The next codes of 8 accumulators `w` of one output (scale `cv`, bias `bv`): [`IntRequant`].
#[inline(always)]
unsafe fn requant8(
    ir: &IntRequant,
    w: __m256i,
    cv: __m256i,
    bv: __m256i,
    k: &RequantConsts,
) -> __m256i {
    let mut y = _mm256_mullo_epi32(w, cv);
    if ir.s1 > 0 {
        y = rnd32(y, k.s1, k.h1);
    }
    y = _mm256_add_epi32(y, bv);
    if ir.relu {
        y = _mm256_max_epi32(y, _mm256_setzero_si256());
    }
    if ir.r != 1 {
        y = _mm256_mullo_epi32(y, k.r);
    }
    if ir.p > 0 {
        y = rnd32(y, k.p, k.hp);
    }
    _mm256_min_epi32(_mm256_max_epi32(y, k.lo), k.hi)
}

/// [`requant8`] in the one-rounding form `clamp((w·c' + b') >> p, one_lo, hi)` of an output
/// whose [`IntRequant::one`] is set (`cv`, `bv` broadcast `c'`, `b'`).
#[inline(always)]
unsafe fn requant8_one(
    ir: &IntRequant,
    w: __m256i,
    cv: __m256i,
    bv: __m256i,
    one_lo: __m256i,
    k: &RequantConsts,
) -> __m256i {
    let y = _mm256_add_epi32(_mm256_mullo_epi32(w, cv), bv);
    let y = if ir.p > 0 {
        _mm256_sra_epi32(y, k.p)
    } else {
        y
    };
    _mm256_min_epi32(_mm256_max_epi32(y, one_lo), k.hi)
}

/// Accumulates every output of `t` over its (already quantized) `codes` and writes the next
/// stage's codes with [`IntRequant`] into `next`, in the next stage's row layout. Lane order:
/// `cvtepi16_epi32` of the two halves, `packs_epi32` and `permute4x64(0xD8)` give every event
/// back its position, so `next` has the order of `codes`.
///
/// # Safety
/// AVX2 must be available; `codes` holds `t`'s input rows, `next.len() ≥ t`'s outputs, and the
/// bounds of [`IntRequant`] hold (true by construction of the plan).
#[inline(always)]
pub(super) unsafe fn ternary16_requant<const W: bool>(
    t: &TernaryPlan,
    ir: &IntRequant,
    codes: &[[i16; L]],
    next: &mut [[i16; L]],
) {
    let cb = codes.as_ptr() as *const u8;
    let nbase = next.as_mut_ptr() as *mut u8;
    let row_bytes = if ir.u8_out { L } else { 2 * L };
    let k = RequantConsts {
        lo: _mm256_set1_epi32(ir.lo),
        hi: _mm256_set1_epi32(ir.hi),
        r: _mm256_set1_epi32(ir.r),
        s1: _mm_cvtsi32_si128(ir.s1 as i32),
        h1: _mm256_set1_epi32(((1i64 << ir.s1) / 2 - 1) as i32),
        p: _mm_cvtsi32_si128(ir.p as i32),
        hp: _mm256_set1_epi32(((1i64 << ir.p) / 2 - 1) as i32),
    };
    let zero = _mm256_setzero_si256();
    let one_lo = _mm256_set1_epi32(ir.one_lo);
    for (n, (&c, &b)) in ir.c.iter().zip(&ir.b).enumerate() {
        let a = accumulate::<W>(t, cb, n);
        let one = *ir.one.get_unchecked(n);
        let (c, b) = one.unwrap_or((c, b));
        let (cv, bv) = (_mm256_set1_epi32(c), _mm256_set1_epi32(b));
        let mut v16 = [zero; N];
        if W && one.is_some() {
            let (cv, bv) = (_mm512_set1_epi32(c), _mm512_set1_epi32(b));
            let (lo, hi) = (_mm512_set1_epi32(ir.one_lo), _mm512_set1_epi32(ir.hi));
            for r in 0..N {
                v16[r] = avx512::requant16_one(a[r], cv, bv, k.p, lo, hi);
            }
            store_codes(nbase.add(n * row_bytes) as *mut __m256i, &v16, ir.u8_out);
            continue;
        }
        for r in 0..N {
            let w0 = _mm256_cvtepi16_epi32(_mm256_castsi256_si128(a[r]));
            let w1 = _mm256_cvtepi16_epi32(_mm256_extracti128_si256::<1>(a[r]));
            let (q0, q1) = if one.is_some() {
                (
                    requant8_one(ir, w0, cv, bv, one_lo, &k),
                    requant8_one(ir, w1, cv, bv, one_lo, &k),
                )
            } else {
                (requant8(ir, w0, cv, bv, &k), requant8(ir, w1, cv, bv, &k))
            };
            v16[r] = _mm256_permute4x64_epi64::<0xD8>(_mm256_packs_epi32(q0, q1));
        }
        store_codes(nbase.add(n * row_bytes) as *mut __m256i, &v16, ir.u8_out);
    }
}

/// Accumulates and dequantizes every output of `t` over its (already quantized) `codes` into
/// `y`, with `max_n |y_n|` per event into `mx` for the next stage's quantizer.
///
/// # Safety
/// AVX2 and FMA must be available; `codes` holds `t`'s input rows, `y.len()` = outputs of `t`,
/// and every index of `t.idx` is a row of `codes` (true by construction of the plan).
#[inline(always)]
pub(super) unsafe fn ternary16<const W: bool>(
    t: &TernaryPlan,
    relu: bool,
    codes: &[[i16; L]],
    y: &mut [[f64; L]],
    (_, ds, mi): ([f64; L], [f64; L], [i32; L]),
    mx: &mut [f64; L],
    accbuf: &mut [[i16; L]],
) {
    // `mx` collects max_n |y_n| per event for the next stage's quantizer.
    *mx = [0.0; L];
    let sign = _mm256_set1_pd(-0.0);
    let mxp = mx.as_mut_ptr();
    let cb = codes.as_ptr() as *const u8;
    let magic = _mm256_set1_pd(MAGIC);
    let zero = _mm256_setzero_pd();
    for (n, yn) in y.iter_mut().enumerate() {
        let a = accumulate::<W>(t, cb, n);
        let yp = yn.as_mut_ptr();
        match &t.dq {
            DequantPlan::F64 { .. } => {
                // Dequantized below, 16 events at a time across all outputs.
                let ap = accbuf.get_unchecked_mut(n).as_mut_ptr() as *mut __m256i;
                for r in 0..N {
                    _mm256_storeu_si256(ap.add(r), a[r]);
                }
            }
            DequantPlan::I128 { c, shift, b } => {
                // Scalar, per event: position `p` of a 16-event group holds event `p` with
                // positions 4..8 and 8..12 swapped (see the module doc).
                let mut lanes = [0i16; L];
                for r in 0..N {
                    _mm256_storeu_si256(lanes.as_mut_ptr().add(16 * r) as *mut __m256i, a[r]);
                }
                for e in 0..L {
                    let i = e % 16;
                    let p = e - i
                        + if (4..8).contains(&i) {
                            i + 4
                        } else if (8..12).contains(&i) {
                            i - 4
                        } else {
                            i
                        };
                    let m = ds[e] as i64;
                    let v = dequant_i128(lanes[p] as i32, c[n], m, *shift, b[n], relu);
                    *yp.add(e) = v;
                    *mxp.add(e) = (*mxp.add(e)).max(v.abs());
                }
            }
            DequantPlan::I64 { c, shift, k } => {
                // P = (acc·C)·M (acc·C fits i32); rnd(P, s) with logical shifts on P + 2^62;
                // `k` adds B − 2^(62−s) + bits(MAGIC), so the bits are those of MAGIC + Y.
                let cv = _mm256_set1_epi32(c[n]);
                let s = _mm_cvtsi32_si128(*shift as i32);
                let hm1 = _mm256_set1_epi64x(((1u64 << (shift - 1)) - 1) as i64);
                let off = _mm256_set1_epi64x(1 << 62);
                let one = _mm256_set1_epi64x(1);
                let kv = _mm256_set1_epi64x(k[n] as i64);
                for r in 0..N {
                    let w0 =
                        _mm256_mullo_epi32(_mm256_cvtepi16_epi32(_mm256_castsi256_si128(a[r])), cv);
                    let w1 = _mm256_mullo_epi32(
                        _mm256_cvtepi16_epi32(_mm256_extracti128_si256::<1>(a[r])),
                        cv,
                    );
                    let parts = [
                        (_mm256_castsi256_si128(w0), 0),
                        (_mm256_extracti128_si256::<1>(w0), 8),
                        (_mm256_castsi256_si128(w1), 4),
                        (_mm256_extracti128_si256::<1>(w1), 12),
                    ];
                    for (w, o) in parts {
                        let o = 16 * r + o;
                        let m = _mm256_cvtepi32_epi64(_mm_loadu_si128(
                            mi.as_ptr().add(o) as *const __m128i
                        ));
                        let p =
                            _mm256_add_epi64(_mm256_mul_epi32(_mm256_cvtepi32_epi64(w), m), off);
                        let par = _mm256_and_si256(_mm256_srl_epi64(p, s), one);
                        let q =
                            _mm256_srl_epi64(_mm256_add_epi64(_mm256_add_epi64(p, hm1), par), s);
                        let v = _mm256_sub_pd(_mm256_castsi256_pd(_mm256_add_epi64(q, kv)), magic);
                        let v = if relu { _mm256_max_pd(v, zero) } else { v };
                        _mm256_storeu_pd(yp.add(o), v);
                        let av = if relu { v } else { _mm256_andnot_pd(sign, v) };
                        _mm256_storeu_pd(
                            mxp.add(o),
                            _mm256_max_pd(_mm256_loadu_pd(mxp.add(o)), av),
                        );
                    }
                }
            }
        }
    }
    if let DequantPlan::F64 { cs } = &t.dq {
        if W {
            avx512::dequant_f64(t, cs, relu, ds, y, mx, accbuf);
            return;
        }
        // Per group of 16 events: M·(part) factors and running maxima stay in registers.
        for r in 0..N {
            let offs = [0usize, 8, 4, 12];
            let mut dsv = [_mm256_setzero_pd(); 4];
            for (j, d) in dsv.iter_mut().enumerate() {
                *d = _mm256_loadu_pd(ds.as_ptr().add(16 * r + offs[j]));
            }
            let mut mxv = [_mm256_setzero_pd(); 4];
            for (n, yn) in y.iter_mut().enumerate() {
                let a =
                    _mm256_loadu_si256((accbuf.get_unchecked(n).as_ptr() as *const __m256i).add(r));
                let csv = _mm256_set1_pd(*cs.get_unchecked(n));
                // rne(v) + B = (v + MAGIC) − (MAGIC − B), exact for |v|, |B| ≤ 2^50.
                let mb = _mm256_set1_pd(MAGIC - *t.bias.get_unchecked(n));
                let w0 = _mm256_cvtepi16_epi32(_mm256_castsi256_si128(a));
                let w1 = _mm256_cvtepi16_epi32(_mm256_extracti128_si256::<1>(a));
                let parts = [
                    _mm256_castsi256_si128(w0),
                    _mm256_extracti128_si256::<1>(w0),
                    _mm256_castsi256_si128(w1),
                    _mm256_extracti128_si256::<1>(w1),
                ];
                let yp = yn.as_mut_ptr().add(16 * r);
                for j in 0..4 {
                    let f = _mm256_cvtepi32_pd(parts[j]);
                    // fma(a, b, MAGIC) = round(a·b + MAGIC): a·b is exact, so this is the same
                    // single rounding as add(mul(a, b), MAGIC).
                    let v =
                        _mm256_sub_pd(_mm256_fmadd_pd(_mm256_mul_pd(f, dsv[j]), csv, magic), mb);
                    let v = if relu { _mm256_max_pd(v, zero) } else { v };
                    _mm256_storeu_pd(yp.add(offs[j]), v);
                    let av = if relu { v } else { _mm256_andnot_pd(sign, v) };
                    mxv[j] = _mm256_max_pd(mxv[j], av);
                }
            }
            for j in 0..4 {
                _mm256_storeu_pd(mxp.add(16 * r + offs[j]), mxv[j]);
            }
        }
    }
}

/// Lane-wise `max_k |x_k|` (no `abs` when every x ≥ 0), 16 lanes (4 registers) at a time.
#[inline(always)]
unsafe fn max_abs(x: &[[f64; L]], nonneg: bool) -> [f64; L] {
    let mut out = [0f64; L];
    let sign = _mm256_set1_pd(-0.0);
    for g in 0..L / 16 {
        let mut m = [_mm256_setzero_pd(); 4];
        for row in x {
            let p = row.as_ptr().add(16 * g);
            for (j, mj) in m.iter_mut().enumerate() {
                let v = _mm256_loadu_pd(p.add(4 * j));
                let v = if nonneg { v } else { _mm256_andnot_pd(sign, v) };
                *mj = _mm256_max_pd(*mj, v);
            }
        }
        for (j, mj) in m.iter().enumerate() {
            _mm256_storeu_pd(out.as_mut_ptr().add(16 * g + 4 * j), *mj);
        }
    }
    out
}

const EXP: i64 = 0x7FF0_0000_0000_0000;
/// `bits(2^-k) = INV − bits(2^k)`.
const INV: i64 = 0x7FE0_0000_0000_0000;

/// [`quant_params_portable`] with the per-event scalar work vectorized: `e` from the f64
/// exponent of `M`, and `R = floor(N / M)` by f64 division where that is exact.
///
/// Exactness of the division: `N = Q·2^(G+e) + floor(M/2)` and `M` are integers with
/// `N + M < 2^53`. If `floor(N/M) = k − 1`, then `N/M ≤ k − 1/M`, and rounding can only reach `k`
/// if `1/M ≤ k·2^-53`, i.e. `k·M ≥ 2^53`, but `k·M ≤ N + M < 2^53`.
///
/// # Safety
/// AVX2 must be available.
#[inline(always)]
pub(super) unsafe fn quant_params(
    t: &TernaryPlan,
    x: &[[f64; L]],
    pre: Option<&[f64; L]>,
) -> ([f64; L], [f64; L], [i32; L]) {
    let (mut qs, mut ds, mut mi) = ([0f64; L], [1f64; L], [0i32; L]);
    let exp = _mm256_set1_epi64x(EXP);
    let inv = _mm256_set1_epi64x(INV);
    match t.quant {
        QuantPlan::Dynamic {
            m_floor,
            guard,
            qmax,
            vec_recip: true,
        } => {
            let mabs = match pre {
                Some(m) => *m,
                None => max_abs(x, t.nonneg),
            };
            let mf = _mm256_set1_pd(m_floor as f64);
            let qg = _mm256_set1_pd(qmax as f64 * pow2(guard + 1));
            let g1 = _mm256_set1_pd(pow2(-(guard + 1)));
            let half = _mm256_set1_pd(0.5);
            for o in (0..L).step_by(4) {
                let m = _mm256_max_pd(_mm256_loadu_pd(mabs.as_ptr().add(o)), mf);
                let e1 = _mm256_and_si256(_mm256_castpd_si256(m), exp); // 2^(e-1)
                let num = _mm256_add_pd(
                    _mm256_mul_pd(qg, _mm256_castsi256_pd(e1)),
                    _mm256_round_pd::<{ _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC }>(
                        _mm256_mul_pd(m, half),
                    ),
                );
                let r = _mm256_round_pd::<{ _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC }>(
                    _mm256_div_pd(num, m),
                );
                let sc = _mm256_castsi256_pd(_mm256_sub_epi64(inv, e1)); // 2^-(e-1)
                _mm256_storeu_pd(
                    qs.as_mut_ptr().add(o),
                    _mm256_mul_pd(_mm256_mul_pd(r, sc), g1),
                );
                _mm256_storeu_pd(ds.as_mut_ptr().add(o), m);
                _mm_storeu_si128(
                    mi.as_mut_ptr().add(o) as *mut __m128i,
                    _mm256_cvttpd_epi32(m),
                );
            }
            (qs, ds, mi)
        }
        QuantPlan::Pow2 {
            m_floor,
            qmax,
            shift,
        } => {
            let mabs = match pre {
                Some(m) => *m,
                None => max_abs(x, t.nonneg),
            };
            let mf = _mm256_set1_pd(m_floor as f64);
            let q = _mm256_set1_pd(qmax);
            let sh = _mm256_set1_pd(pow2(-shift));
            let mant = _mm256_set1_epi64x(0x000F_FFFF_FFFF_FFFF);
            for o in (0..L).step_by(4) {
                let m = _mm256_max_pd(_mm256_loadu_pd(mabs.as_ptr().add(o)), mf);
                // 2^ceil(log2 M): a non-zero mantissa carries into the exponent.
                let pe = _mm256_and_si256(_mm256_add_epi64(_mm256_castpd_si256(m), mant), exp);
                let sc = _mm256_castsi256_pd(_mm256_sub_epi64(inv, pe)); // 2^-e
                _mm256_storeu_pd(qs.as_mut_ptr().add(o), _mm256_mul_pd(q, sc));
                _mm256_storeu_pd(
                    ds.as_mut_ptr().add(o),
                    _mm256_mul_pd(_mm256_castsi256_pd(pe), sh),
                );
            }
            (qs, ds, mi)
        }
        _ => quant_params_portable::<L>(t, x),
    }
}

/// Quantizes a full block of float events (`x`: `L` events row-major) into `a` (feature-major),
/// transposing 8×8 tiles in registers.
///
/// # Safety
/// AVX2 must be available; `x.len() = L · p.n_in`, `a.len() ≥ p.n_in`.
#[inline(always)]
pub(super) unsafe fn load_f32(p: &Plan, a: &mut [[f64; L]], x: &[f32]) {
    let k = p.n_in;
    debug_assert_eq!(x.len(), L * k);
    let k8 = k / 8 * 8;
    let sc = _mm256_set1_pd(p.in_scale);
    let (lo, hi) = (_mm256_set1_pd(p.in_lo), _mm256_set1_pd(p.in_hi));
    let magic = _mm256_set1_pd(MAGIC);
    let xp = x.as_ptr();
    for e0 in (0..L).step_by(8) {
        for j0 in (0..k8).step_by(8) {
            let mut r = [_mm256_setzero_ps(); 8];
            for (i, ri) in r.iter_mut().enumerate() {
                *ri = _mm256_loadu_ps(xp.add((e0 + i) * k + j0));
            }
            let t0 = _mm256_unpacklo_ps(r[0], r[1]);
            let t1 = _mm256_unpackhi_ps(r[0], r[1]);
            let t2 = _mm256_unpacklo_ps(r[2], r[3]);
            let t3 = _mm256_unpackhi_ps(r[2], r[3]);
            let t4 = _mm256_unpacklo_ps(r[4], r[5]);
            let t5 = _mm256_unpackhi_ps(r[4], r[5]);
            let t6 = _mm256_unpacklo_ps(r[6], r[7]);
            let t7 = _mm256_unpackhi_ps(r[6], r[7]);
            let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
            let u1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
            let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
            let u3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
            let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
            let u5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
            let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
            let u7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
            let c = [
                _mm256_permute2f128_ps::<0x20>(u0, u4),
                _mm256_permute2f128_ps::<0x20>(u1, u5),
                _mm256_permute2f128_ps::<0x20>(u2, u6),
                _mm256_permute2f128_ps::<0x20>(u3, u7),
                _mm256_permute2f128_ps::<0x31>(u0, u4),
                _mm256_permute2f128_ps::<0x31>(u1, u5),
                _mm256_permute2f128_ps::<0x31>(u2, u6),
                _mm256_permute2f128_ps::<0x31>(u3, u7),
            ];
            for (j, cj) in c.into_iter().enumerate() {
                let ap = a[j0 + j].as_mut_ptr().add(e0);
                _mm256_storeu_pd(
                    ap,
                    conv_input(_mm256_castps256_ps128(cj), sc, lo, hi, magic),
                );
                _mm256_storeu_pd(
                    ap.add(4),
                    conv_input(_mm256_extractf128_ps::<1>(cj), sc, lo, hi, magic),
                );
            }
        }
        for j in k8..k {
            let v = _mm_set_ps(
                *xp.add((e0 + 3) * k + j),
                *xp.add((e0 + 2) * k + j),
                *xp.add((e0 + 1) * k + j),
                *xp.add(e0 * k + j),
            );
            let w = _mm_set_ps(
                *xp.add((e0 + 7) * k + j),
                *xp.add((e0 + 6) * k + j),
                *xp.add((e0 + 5) * k + j),
                *xp.add((e0 + 4) * k + j),
            );
            let ap = a[j].as_mut_ptr().add(e0);
            _mm256_storeu_pd(ap, conv_input(v, sc, lo, hi, magic));
            _mm256_storeu_pd(ap.add(4), conv_input(w, sc, lo, hi, magic));
        }
    }
}

/// Four input values of [`load_f32`] (a function, not a closure: closures do not inherit
/// the caller's target features, so their intrinsics would not be inlined): `rne(clamp(x·sc, lo, hi))` (NaN → 0, as `quantize_f64`).
#[inline(always)]
unsafe fn conv_input(v: __m128, sc: __m256d, lo: __m256d, hi: __m256d, magic: __m256d) -> __m256d {
    let v = _mm256_mul_pd(_mm256_cvtps_pd(v), sc);
    let v = _mm256_and_pd(v, _mm256_cmp_pd::<_CMP_ORD_Q>(v, v));
    let v = _mm256_min_pd(_mm256_max_pd(v, lo), hi);
    _mm256_sub_pd(_mm256_add_pd(v, magic), magic)
}

/// Prefetches `x` into L1.
#[inline(always)]
pub(super) fn prefetch(x: &[f32]) {
    for c in x.chunks(16) {
        // SAFETY: prefetching is a hint; the address is inside `x`.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(c.as_ptr() as *const i8) };
    }
}

/// The ternary stages with 512-bit vectors (AVX-512F + BW), used only inside functions compiled
/// with those target features (`run_chunk_avx512`) after run-time detection: the same sums as
/// [`list16`] / [`list8`] on 256-bit vectors (exact integer adds, any order), handed back as the 256-bit
/// vectors of the AVX2 layout, and the quantizer, the one-rounding requantization and the f64
/// dequantization on the same integers, the AVX2 event order kept by one permute. (No closures:
/// they would not inherit the target features.)
mod avx512 {
    use super::{list16, list8, TernaryPlan, Vec16, L, MAGIC, N};
    use std::arch::x86_64::*;

    /// i16 vectors (512-bit) of an accumulator row.
    const W: usize = N / 2;

    /// `Σ_pos rows − Σ_neg rows` of i16 rows (512-bit vector `j` of a row = 256-bit `2j, 2j+1`).
    #[inline(always)]
    pub(super) unsafe fn accumulate16(cb: *const u8, pos: &[u32], neg: &[u32]) -> [__m256i; N] {
        let (a, b) = (list16::<__m512i, W>(cb, pos), list16::<__m512i, W>(cb, neg));
        let mut out = [_mm256_setzero_si256(); N];
        for j in 0..W {
            let d = _mm512_sub_epi16(a[j], b[j]);
            out[2 * j] = _mm512_castsi512_si256(d);
            out[2 * j + 1] = _mm512_extracti64x4_epi64::<1>(d);
        }
        out
    }

    /// `Σ_pos rows − Σ_neg rows` of u8 rows: 512-bit vector `h` of a row holds 256-bit vectors
    /// `4h, 4h+1` in the low/high bytes of its first half and `4h+2, 4h+3` in its second half
    /// (`store_codes`), so the low-byte sums are `[4h | 4h+2]` and the high-byte ones
    /// `[4h+1 | 4h+3]` (recovered from the wrapping sums as in `split8`).
    #[inline(always)]
    pub(super) unsafe fn accumulate8(cb: *const u8, pos: &[u32], neg: &[u32]) -> [__m256i; N] {
        let (a, b) = (list8::<__m512i, W>(cb, pos), list8::<__m512i, W>(cb, neg));
        let mut out = [_mm256_setzero_si256(); N];
        for h in 0..W / 2 {
            let o = _mm512_sub_epi16(a[2 * h + 1], b[2 * h + 1]);
            let e = _mm512_sub_epi16(a[2 * h], b[2 * h]);
            let lo = _mm512_sub_epi16(e, _mm512_slli_epi16::<8>(o));
            out[4 * h] = _mm512_castsi512_si256(lo);
            out[4 * h + 2] = _mm512_extracti64x4_epi64::<1>(lo);
            out[4 * h + 1] = _mm512_castsi512_si256(o);
            out[4 * h + 3] = _mm512_extracti64x4_epi64::<1>(o);
        }
        out
    }

    impl Vec16 for __m512i {
        #[inline(always)]
        unsafe fn zero() -> Self {
            _mm512_setzero_si512()
        }
        #[inline(always)]
        unsafe fn load(p: *const Self) -> Self {
            _mm512_loadu_si512(p)
        }
        #[inline(always)]
        unsafe fn add16(self, b: Self) -> Self {
            _mm512_add_epi16(self, b)
        }
        #[inline(always)]
        unsafe fn add8(self, b: Self) -> Self {
            _mm512_add_epi8(self, b)
        }
        #[inline(always)]
        unsafe fn high8(self) -> Self {
            _mm512_srli_epi16::<8>(self)
        }
    }

    /// The next codes of 16 accumulators `w` (i16) of an output in the one-rounding form
    /// `clamp((w·c' + b') >> p, one_lo, hi)`, in the same lane order.
    #[inline(always)]
    pub(super) unsafe fn requant16_one(
        w: __m256i,
        cv: __m512i,
        bv: __m512i,
        p: __m128i,
        lo: __m512i,
        hi: __m512i,
    ) -> __m256i {
        let y = _mm512_add_epi32(_mm512_mullo_epi32(_mm512_cvtepi16_epi32(w), cv), bv);
        let y = _mm512_sra_epi32(y, p);
        _mm512_cvtepi32_epi16(_mm512_min_epi32(_mm512_max_epi32(y, lo), hi))
    }

    /// The AVX2 order of the events of a 16-event group in an i16 code vector
    /// (`[0..4, 8..12, 4..8, 12..16]`); it is its own inverse.
    #[inline(always)]
    unsafe fn avx2_order() -> __m512i {
        _mm512_setr_epi32(0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 12, 13, 14, 15)
    }

    /// `quantize16` of one row: `rne(clamp(X·qs, lo, hi))` per event (`cvtpd_epi32` rounds half
    /// to even in the default MXCSR), saturated to i16 as `packs_epi32` does, in the AVX2 order.
    #[inline(always)]
    pub(super) unsafe fn quantize_row(
        t: &TernaryPlan,
        row: &[f64; L],
        qs: &[f64; L],
    ) -> [__m256i; N] {
        let (lo, hi) = (_mm512_set1_pd(t.lo), _mm512_set1_pd(t.hi));
        let order = avx2_order();
        let mut v16 = [_mm256_setzero_si256(); N];
        for (g, vg) in v16.iter_mut().enumerate() {
            // (No closures here: they would not inherit the target features.)
            let mut q = [_mm256_setzero_si256(); 2];
            for (j, qj) in q.iter_mut().enumerate() {
                let o = 16 * g + 8 * j;
                let v = _mm512_mul_pd(
                    _mm512_loadu_pd(row.as_ptr().add(o)),
                    _mm512_loadu_pd(qs.as_ptr().add(o)),
                );
                let v = if t.clamp {
                    _mm512_min_pd(_mm512_max_pd(v, lo), hi)
                } else {
                    v
                };
                *qj = _mm512_cvtpd_epi32(v);
            }
            let v = _mm512_inserti64x4::<1>(_mm512_castsi256_si512(q[0]), q[1]);
            *vg = _mm512_cvtsepi32_epi16(_mm512_permutexvar_epi32(order, v));
        }
        v16
    }

    /// The F64 dequantization of `ternary16` from the accumulators `accbuf` (AVX2 order):
    /// `Y = rne((acc·ds)·cs_n) + B_n`, ReLU, and `max_n |Y_n|` per event into `mx`.
    #[inline(always)]
    pub(super) unsafe fn dequant_f64(
        t: &TernaryPlan,
        cs: &[f64],
        relu: bool,
        ds: [f64; L],
        y: &mut [[f64; L]],
        mx: &mut [f64; L],
        accbuf: &[[i16; L]],
    ) {
        let (sign, zero) = (_mm512_set1_pd(-0.0), _mm512_setzero_pd());
        let magic = _mm512_set1_pd(MAGIC);
        let order = avx2_order();
        for g in 0..N {
            let dsv = [
                _mm512_loadu_pd(ds.as_ptr().add(16 * g)),
                _mm512_loadu_pd(ds.as_ptr().add(16 * g + 8)),
            ];
            let mut mxv = [zero; 2];
            for (n, yn) in y.iter_mut().enumerate() {
                let a =
                    _mm256_loadu_si256((accbuf.get_unchecked(n).as_ptr() as *const __m256i).add(g));
                let w = _mm512_permutexvar_epi32(order, _mm512_cvtepi16_epi32(a));
                let parts = [_mm512_castsi512_si256(w), _mm512_extracti64x4_epi64::<1>(w)];
                let csv = _mm512_set1_pd(*cs.get_unchecked(n));
                // rne(v) + B = (v + MAGIC) − (MAGIC − B), exact for |v|, |B| ≤ 2^50.
                let mb = _mm512_set1_pd(MAGIC - *t.bias.get_unchecked(n));
                let yp = yn.as_mut_ptr().add(16 * g);
                for j in 0..2 {
                    let f = _mm512_cvtepi32_pd(parts[j]);
                    let v =
                        _mm512_sub_pd(_mm512_fmadd_pd(_mm512_mul_pd(f, dsv[j]), csv, magic), mb);
                    let v = if relu { _mm512_max_pd(v, zero) } else { v };
                    _mm512_storeu_pd(yp.add(8 * j), v);
                    let av = if relu { v } else { _mm512_andnot_pd(sign, v) };
                    mxv[j] = _mm512_max_pd(mxv[j], av);
                }
            }
            for j in 0..2 {
                _mm512_storeu_pd(mx.as_mut_ptr().add(16 * g + 8 * j), mxv[j]);
            }
        }
    }
}
