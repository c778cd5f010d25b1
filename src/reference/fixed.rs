//! The bit-exact firmware emulator: the reference every hardware backend must match.
//!
//! It executes [`Firmware`] exactly as docs/arithmetic.md defines it, on `i64` values. With
//! `CHECK = true` it also asserts that every intermediate lies in the interval range analysis
//! proved for it (used by the property tests; a violation is a compiler bug).

use crate::ir::firmware::{Dequant, Firmware, FwKind, FwLayer, Quantizer};
use crate::ir::fixed::{bit_length, ceil_log2, quantize_f64, shift_round, FixedType, Interval};
use rayon::prelude::*;

/// Sparse form of a ternary row set: for each output, the input indices with +1 then −1.
struct Csr {
    /// `idx[start[n]..mid[n]]` are +1 inputs, `idx[mid[n]..start[n+1]]` are −1 inputs.
    idx: Vec<u32>,
    start: Vec<u32>,
    mid: Vec<u32>,
}

impl Csr {
    fn new(w: &crate::ir::Matrix<i8>) -> Csr {
        let mut idx = Vec::new();
        let mut start = vec![0u32];
        let mut mid = Vec::new();
        for n in 0..w.rows {
            let row = w.row(n);
            idx.extend(
                row.iter()
                    .enumerate()
                    .filter(|(_, &t)| t == 1)
                    .map(|(k, _)| k as u32),
            );
            mid.push(idx.len() as u32);
            idx.extend(
                row.iter()
                    .enumerate()
                    .filter(|(_, &t)| t == -1)
                    .map(|(k, _)| k as u32),
            );
            start.push(idx.len() as u32);
        }
        Csr { idx, start, mid }
    }
}

/// Codes of every ternary layer for one sample (for validation reports).
pub type CodeTaps = Vec<Vec<i32>>;

/// A violated range-analysis bound (compiler bug, reported by checked runs).
#[derive(Debug, Clone, PartialEq)]
pub struct RangeViolation {
    pub layer: usize,
    pub what: &'static str,
    pub value: i64,
    pub range: Interval,
}

pub struct Emulator<'a> {
    pub fw: &'a Firmware,
    csr: Vec<Option<Csr>>,
    width: usize,
}

#[inline(always)]
fn check<const CHECK: bool>(
    layer: usize,
    what: &'static str,
    v: i64,
    iv: Interval,
) -> Result<(), RangeViolation> {
    if CHECK && ((v as i128) < iv.lo || (v as i128) > iv.hi) {
        return Err(RangeViolation {
            layer,
            what,
            value: v,
            range: iv,
        });
    }
    Ok(())
}

#[inline(always)]
fn check_ty<const CHECK: bool>(
    layer: usize,
    what: &'static str,
    v: i64,
    t: FixedType,
) -> Result<(), RangeViolation> {
    check::<CHECK>(layer, what, v, t.interval())
}

impl<'a> Emulator<'a> {
    pub fn new(fw: &'a Firmware) -> Emulator<'a> {
        let csr = fw
            .layers
            .iter()
            .map(|l| match &l.kind {
                FwKind::Ternary(t) => Some(Csr::new(&t.weights)),
                _ => None,
            })
            .collect();
        let width = fw
            .layers
            .iter()
            .map(|l| l.n_in.max(l.n_out))
            .max()
            .unwrap_or(0)
            .max(fw.n_in);
        Emulator { fw, csr, width }
    }

    /// Float input → input codes (round half to even, saturate), as the test bench does.
    pub fn quantize_input(&self, x: &[f32], out: &mut [i64]) {
        let t = self.fw.input_type();
        for (o, v) in out.iter_mut().zip(x) {
            *o = quantize_f64(*v as f64, t);
        }
    }

    /// Runs one sample given input codes; writes output codes to `out`.
    pub fn run_codes(&self, input: &[i64], out: &mut [i64]) {
        let mut a = vec![0i64; self.width];
        let mut b = vec![0i64; self.width];
        self.run_inner::<false>(input, out, &mut a, &mut b, None)
            .expect("unchecked run cannot fail");
    }

    /// Like [`Self::run_codes`], and checks every intermediate against its proven range.
    pub fn run_checked(
        &self,
        input: &[i64],
        out: &mut [i64],
        taps: Option<&mut CodeTaps>,
    ) -> Result<(), RangeViolation> {
        let mut a = vec![0i64; self.width];
        let mut b = vec![0i64; self.width];
        self.run_inner::<true>(input, out, &mut a, &mut b, taps)
    }

    /// Runs one sample and records the activation codes of every ternary layer.
    pub fn run_with_taps(&self, input: &[i64], out: &mut [i64], taps: &mut CodeTaps) {
        let mut a = vec![0i64; self.width];
        let mut b = vec![0i64; self.width];
        self.run_inner::<false>(input, out, &mut a, &mut b, Some(taps))
            .expect("unchecked run cannot fail");
    }

    fn run_inner<const CHECK: bool>(
        &self,
        input: &[i64],
        out: &mut [i64],
        cur: &mut Vec<i64>,
        nxt: &mut Vec<i64>,
        mut taps: Option<&mut CodeTaps>,
    ) -> Result<(), RangeViolation> {
        let fw = self.fw;
        cur[..fw.n_in].copy_from_slice(input);
        for k in 0..fw.n_in {
            check_ty::<CHECK>(0, "input", cur[k], fw.input_type())?;
        }
        let mut codes: Vec<i64> = Vec::new();
        let mut centred: Vec<i64> = Vec::new();
        for (li, layer) in fw.layers.iter().enumerate() {
            let x = &cur[..layer.n_in];
            let y = &mut nxt[..layer.n_out];
            match &layer.kind {
                FwKind::Ternary(t) => {
                    codes.clear();
                    codes.resize(layer.n_in, 0);
                    // Layer-norm mean subtraction: the quantizer reads U_k = K·V_k − ΣV.
                    let x: &[i64] = match &t.center {
                        Some(c) => {
                            let s: i64 = x.iter().sum();
                            check_ty::<CHECK>(li, "input sum", s, c.sum_type)?;
                            centred.clear();
                            for &v in x {
                                let u = layer.n_in as i64 * v - s;
                                check_ty::<CHECK>(li, "centred input", u, c.u_type)?;
                                centred.push(u);
                            }
                            &centred
                        }
                        None => x,
                    };
                    // Quantizer.
                    let mabs = x.iter().fold(0i64, |a, v| a.max(v.abs()));
                    let (lo, hi) = t.clamp;
                    // The scale factor used by dequantization: M (dynamic), e (pow2), unused (static).
                    let dq: i64 = match &t.quant {
                        Quantizer::Dynamic {
                            m_floor,
                            guard,
                            e_type,
                            recip_type,
                            prod_type,
                            m_type,
                        } => {
                            let m = mabs.max(*m_floor);
                            check_ty::<CHECK>(li, "max|x|", m, *m_type)?;
                            let e = bit_length(m);
                            check_ty::<CHECK>(li, "exponent", e as i64, *e_type)?;
                            let s = guard + e;
                            let r = ((t.qmax << s) + m / 2) / m;
                            check_ty::<CHECK>(li, "reciprocal", r, *recip_type)?;
                            for (c, &v) in codes.iter_mut().zip(x) {
                                let p = v * r;
                                check_ty::<CHECK>(li, "V·R", p, *prod_type)?;
                                *c = shift_round(p, s).clamp(lo, hi);
                            }
                            m
                        }
                        Quantizer::Pow2 {
                            m_floor,
                            prod_type,
                            e_type,
                            m_type,
                            ..
                        } => {
                            let m = mabs.max(*m_floor);
                            check_ty::<CHECK>(li, "max|x|", m, *m_type)?;
                            let e = ceil_log2(m);
                            check_ty::<CHECK>(li, "exponent", e as i64, *e_type)?;
                            for (c, &v) in codes.iter_mut().zip(x) {
                                let p = v * t.qmax;
                                check_ty::<CHECK>(li, "Q·V", p, *prod_type)?;
                                *c = shift_round(p, e).clamp(lo, hi);
                            }
                            e as i64
                        }
                        Quantizer::Static {
                            recip,
                            recip_frac,
                            prod_type,
                            ..
                        } => {
                            for (c, &v) in codes.iter_mut().zip(x) {
                                let p = v * recip;
                                check_ty::<CHECK>(li, "V·R", p, *prod_type)?;
                                *c = shift_round(p, *recip_frac).clamp(lo, hi);
                            }
                            1
                        }
                        // The previous stage requantized into this stage's codes.
                        Quantizer::Codes { .. } => {
                            codes.copy_from_slice(x);
                            1
                        }
                    };
                    if CHECK {
                        for &c in codes.iter() {
                            check::<CHECK>(li, "code", c, t.code_range)?;
                        }
                    }
                    if let Some(tp) = taps.as_deref_mut() {
                        tp.push(codes.iter().map(|&c| c as i32).collect());
                    }
                    let csr = self.csr[li].as_ref().expect("ternary layer has a CSR");
                    for n in 0..layer.n_out {
                        let (s, m, e) = (
                            csr.start[n] as usize,
                            csr.mid[n] as usize,
                            csr.start[n + 1] as usize,
                        );
                        let mut acc = 0i64;
                        for &k in &csr.idx[s..m] {
                            acc += codes[k as usize];
                        }
                        for &k in &csr.idx[m..e] {
                            acc -= codes[k as usize];
                        }
                        check::<CHECK>(li, "accumulator", acc, t.acc_ranges[n])?;
                        if let Dequant::Requant { lo, hi } = t.dequant {
                            let p = acc * t.scale[n];
                            check_ty::<CHECK>(li, "requantization product", p, t.dequant_type)?;
                            let s = p + t.bias[n];
                            check_ty::<CHECK>(li, "requantization sum", s, t.dequant_type)?;
                            y[n] = shift_round(s, t.shift).clamp(lo, hi);
                            continue;
                        }
                        let v = match &t.quant {
                            _ if t.dequant == Dequant::CodeUnits => {
                                let p = acc * t.scale[n];
                                check_ty::<CHECK>(li, "dequantization product", p, t.dequant_type)?;
                                shift_round(p, t.shift)
                            }
                            Quantizer::Dynamic { .. } => {
                                let p = acc * dq * t.scale[n];
                                check_ty::<CHECK>(li, "dequantization product", p, t.dequant_type)?;
                                shift_round(p, t.shift)
                            }
                            Quantizer::Pow2 { .. } => {
                                let p = acc * t.scale[n];
                                let s = t.shift - dq as i32;
                                if s < 0 {
                                    check_ty::<CHECK>(
                                        li,
                                        "dequantization product",
                                        p << (-s),
                                        t.dequant_type,
                                    )?;
                                } else {
                                    check_ty::<CHECK>(
                                        li,
                                        "dequantization product",
                                        p,
                                        t.dequant_type,
                                    )?;
                                }
                                shift_round(p, s)
                            }
                            Quantizer::Static { .. } | Quantizer::Codes { .. } => {
                                let p = acc * t.scale[n];
                                check_ty::<CHECK>(li, "dequantization product", p, t.dequant_type)?;
                                shift_round(p, t.shift)
                            }
                        };
                        y[n] = v + t.bias[n];
                    }
                }
                FwKind::Dense(d) => {
                    for n in 0..layer.n_out {
                        let acc: i64 = d.weights.row(n).iter().zip(x).map(|(w, v)| w * v).sum();
                        check::<CHECK>(li, "accumulator", acc, d.acc_ranges[n])?;
                        y[n] = shift_round(acc, d.shift) + d.bias[n];
                    }
                }
                FwKind::Affine(a) => {
                    for n in 0..layer.n_out {
                        let p = x[n] * a.scale[n];
                        check_ty::<CHECK>(li, "affine product", p, a.prod_type)?;
                        y[n] = shift_round(p, a.shift) + a.bias[n];
                    }
                }
            }
            finish::<CHECK>(li, layer, y)?;
            std::mem::swap(cur, nxt);
        }
        let last = fw.layers.last().map(|l| l.n_out).unwrap_or(fw.n_in);
        out.copy_from_slice(&cur[..last]);
        Ok(())
    }

    /// Runs `n` samples (`x` row-major, float) in parallel; returns output codes row-major.
    pub fn run_batch(&self, x: &[f32]) -> Vec<i64> {
        let (k, o) = (self.fw.n_in, self.fw.n_out);
        let n = x.len() / k;
        let mut out = vec![0i64; n * o];
        out.par_chunks_mut(o * 512)
            .zip(x.par_chunks(k * 512))
            .for_each(|(oc, xc)| {
                let mut a = vec![0i64; self.width];
                let mut b = vec![0i64; self.width];
                let mut inp = vec![0i64; k];
                for (os, xs) in oc.chunks_mut(o).zip(xc.chunks(k)) {
                    self.quantize_input(xs, &mut inp);
                    self.run_inner::<false>(&inp, os, &mut a, &mut b, None)
                        .expect("unchecked run cannot fail");
                }
            });
        out
    }
}

#[inline(always)]
fn finish<const CHECK: bool>(
    li: usize,
    layer: &FwLayer,
    y: &mut [i64],
) -> Result<(), RangeViolation> {
    for (n, v) in y.iter_mut().enumerate() {
        if layer.relu && *v < 0 {
            *v = 0;
        }
        check::<CHECK>(li, "output", *v, layer.out_ranges[n])?;
    }
    Ok(())
}

/// Output code → real value (exact in f64 for widths ≤ 53).
pub fn code_to_f64(code: i64, t: FixedType) -> f64 {
    code as f64 * (2f64).powi(-t.frac)
}
