//! Firmware → [`Netlist`]: the arithmetic of docs/arithmetic.md as word-level primitives.
//!
//! Each firmware stage becomes, in order: the mean subtraction of layer-norm profiles (an adder
//! tree and one constant multiply and subtraction per input), the activation quantizer (max-abs tree, exponent,
//! normalized reciprocal by restoring division, radix 4 after a first radix-2 step, per-input
//! multiply and rounding shift), the sums over the non-zero weights (balanced trees or the
//! shared adder graph of [`cmvm`]), and the dequantization (multiplies; a bias and its rounding
//! offset as one constant before an [`Op::RoundOffset`]; ReLU, folded into a requantizer's
//! clamp).

use super::netlist::{Bit, Class, Netlist, Op, Sig};
use crate::cmvm;
use crate::ir::firmware::{Dequant, Firmware, FwKind, Quantizer, TernaryFw};
use crate::ir::fixed::{bit_length, ceil_log2, shift_round_i128, Interval};
use crate::ir::set::{PoolKind, SetFirmware};
use crate::ir::Matrix;
use crate::target::{thresholds_cheaper, AdderOptions, Adders, RequantCircuit};
use std::collections::HashMap;

/// Where a dynamic quantizer applies the fine part of its shift ([`coarse_exponent`]); the
/// integers are the same either way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FineShift {
    /// One shift of the shared reciprocal: no per-input logic, but one logic level after the
    /// divider, just before the multiplies.
    Reciprocal,
    /// A shift of every input while the reciprocal is divided: off the critical path, one small
    /// selection per input.
    Inputs,
}

/// Shared-adder graphs by layer index, kept across builds of the same firmware.
pub type Graphs = HashMap<usize, cmvm::Graph>;

/// Lowers the firmware; the result computes exactly the emulator's integers. `adders` chooses
/// the structure of the ternary layers' sums (never their values).
pub fn build(fw: &Firmware, adders: AdderOptions) -> Netlist {
    build_with(fw, adders, &[], &mut Graphs::new())
}

/// As [`build`], with the fine shift of layer `l` from `fine[l]` ([`FineShift::Reciprocal`]
/// past its end) and the shared-adder graphs taken from, or added to, `graphs`.
pub fn build_with(
    fw: &Firmware,
    adders: AdderOptions,
    fine: &[FineShift],
    graphs: &mut Graphs,
) -> Netlist {
    let mut nl = Netlist::default();
    nl.cur_class = Some(Class::Io);
    let in_iv = fw.input_type().interval();
    let x: Vec<Sig> = (0..fw.n_in).map(|k| nl.input(k, in_iv)).collect();
    let x = chain(&mut nl, fw, x, adders, fine, graphs, 0);
    let out = fw.output_type();
    nl.outputs = x;
    nl.out_width = out.width;
    nl.out_signed = out.signed;
    nl
}

/// Particle-level firmware (docs/particles.md): inputs `x_<i·F + f>` are the features of
/// particle `i`, then `x_<N·F + i>` its mask bit. `Φ` is built once per particle (stages
/// `0..|Φ|`, every particle's nodes attributed to the same stage), each output gated by the
/// particle's mask ([`Op::Select`]) into a balanced adder tree per feature (stage `|Φ|`), then
/// `F` (the stages after). A max pool is a balanced tree of [`Op::Max`] over the gated outputs
/// instead, in the offset domain of [`max_offset`] when `Φ`'s outputs can be negative: every
/// real particle is then ≥ 1 and a gated-off one 0, so the tree's result is 0 exactly for a
/// jet without particles, which the final [`Op::Select`] (enable = any mask bit) keeps at 0,
/// and otherwise the largest real value plus the offset, which is subtracted. Per-jet inputs
/// are ports `x_<N·F + N + i>` (the input type), concatenated after the pooled vector
/// ([`concat_jet`]).
pub fn build_set(fw: &SetFirmware, adders: AdderOptions, graphs: &mut Graphs) -> Netlist {
    let mut nl = Netlist::default();
    let (mut pooled, mask) = group_sums(&mut nl, fw, fw.pool.n, adders, graphs);
    let first_jet = fw.pool.n * (fw.features() + 1);
    if (0..fw.phi.n_out).any(|k| max_offset(fw, k).is_some()) {
        let any = max_tree(&mut nl, &mask);
        for (k, v) in pooled.iter_mut().enumerate() {
            if let Some(off) = max_offset(fw, k) {
                let back = nl.add_const(*v, -off);
                *v = nl.select(any, back);
            }
        }
    }
    if let Some(d) = &fw.pool.mean {
        let count = tree(&mut nl, mask.iter().map(|m| (*m, true)).collect());
        pooled = mean_divide(&mut nl, d, pooled, count);
    }
    let pool_layer = fw.phi.layers.len();
    let pooled = concat_jet(&mut nl, fw, pooled, first_jet);
    let y = chain(
        &mut nl,
        &fw.rho,
        pooled,
        adders,
        &[],
        graphs,
        pool_layer + 1,
    );
    let out = fw.output_type();
    nl.outputs = y;
    nl.out_width = out.width;
    nl.out_signed = out.signed;
    nl
}

/// The particle-group core of a design that shares `Φ` over the particle axis: `g` particles
/// (inputs `x_<i·F + f>`, then `x_<g·F + i>` their mask bits), `Φ` on each, the masked partial
/// sums (one per feature; for a max pool the partial maxima, in the offset domain of
/// [`max_offset`] where it applies: 0 for a group without real particles). The same nodes as
/// [`build_set`]'s first part with `N = g`.
pub fn build_group(
    fw: &SetFirmware,
    g: usize,
    adders: AdderOptions,
    graphs: &mut Graphs,
) -> Netlist {
    let mut nl = Netlist::default();
    let (sums, _) = group_sums(&mut nl, fw, g, adders, graphs);
    let t = crate::ir::fixed::FixedType::fitting(
        sums.iter()
            .fold(Interval::point(-1), |a, s| a.union(nl.iv(*s))),
        0,
    );
    nl.outputs = sums;
    nl.out_width = t.width;
    nl.out_signed = t.signed;
    nl
}

/// `F` on pooled inputs of the pool's type (inputs `x_<k>`, then the per-jet inputs
/// `x_<L + i>`, [`concat_jet`]), the second core of a design that shares `Φ` over the
/// particle axis. Its stages are numbered from `|Φ| + 1`, as in [`build_set`]. For a mean pool
/// the inputs `x_<k>` are the masked sums (the accumulator's type) and `x_<L>` the number of
/// real particles, divided here ([`mean_divide`]); the per-jet inputs follow at `x_<L + 1 + i>`.
pub fn build_rho(fw: &SetFirmware, adders: AdderOptions, graphs: &mut Graphs) -> Netlist {
    let mut nl = Netlist::default();
    nl.cur_class = Some(Class::Io);
    let l = fw.phi.n_out;
    let iv = fw.pool.acc_type.interval();
    let mut x: Vec<Sig> = (0..l).map(|k| nl.input(k, iv)).collect();
    let mut first_jet = l;
    if let Some(d) = &fw.pool.mean {
        let count = nl.input(l, Interval::new(0, fw.pool.n as i128));
        nl.cur_layer = fw.phi.layers.len();
        x = mean_divide(&mut nl, d, x, count);
        first_jet = l + 1;
    }
    let x = concat_jet(&mut nl, fw, x, first_jet);
    let y = chain(
        &mut nl,
        &fw.rho,
        x,
        adders,
        &[],
        graphs,
        fw.phi.layers.len() + 1,
    );
    let out = fw.output_type();
    nl.outputs = y;
    nl.out_width = out.width;
    nl.out_signed = out.signed;
    nl
}

/// `F`'s input: the pooled signals, then the per-jet inputs (ports `x_<first + i>`, the
/// input type), both shifted left into the concatenation's type
/// ([`crate::ir::set::JetConcatFw`]); the pooled signals unchanged without jet inputs.
fn concat_jet(nl: &mut Netlist, fw: &SetFirmware, pooled: Vec<Sig>, first: usize) -> Vec<Sig> {
    let Some(j) = &fw.jet else {
        return pooled;
    };
    nl.cur_class = Some(Class::Io);
    let iv = j.in_type.interval();
    let jet: Vec<Sig> = (0..j.n).map(|i| nl.input(first + i, iv)).collect();
    let (ps, js) = (j.pool_shift() as i32, j.jet_shift() as i32);
    let mut out: Vec<Sig> = pooled.into_iter().map(|s| nl.shift_round(s, -ps)).collect();
    out.extend(jet.into_iter().map(|s| nl.shift_round(s, -js)));
    out
}

/// Inputs of `g` particles and their masks, `Φ` per particle, and per feature the sum (or max,
/// [`max_offset`]) of the outputs gated by the mask bits (stage `|Φ|`); also the mask signals.
fn group_sums(
    nl: &mut Netlist,
    fw: &SetFirmware,
    g: usize,
    adders: AdderOptions,
    graphs: &mut Graphs,
) -> (Vec<Sig>, Vec<Sig>) {
    nl.cur_class = Some(Class::Io);
    let f = fw.features();
    let in_iv = fw.phi.input_type().interval();
    let feats: Vec<Sig> = (0..g * f).map(|k| nl.input(k, in_iv)).collect();
    let mask: Vec<Sig> = (0..g)
        .map(|i| nl.input(g * f + i, Interval::new(0, 1)))
        .collect();
    let phi_out: Vec<Vec<Sig>> = (0..g)
        .map(|i| {
            let x = feats[i * f..(i + 1) * f].to_vec();
            chain(nl, &fw.phi, x, adders, &[], graphs, 0)
        })
        .collect();
    nl.cur_layer = fw.phi.layers.len();
    nl.cur_class = Some(Class::Dequant);
    let sums = (0..fw.phi.n_out)
        .map(|k| {
            let off = max_offset(fw, k).unwrap_or(0);
            let gated: Vec<Sig> = (0..g)
                .map(|i| {
                    let v = nl.add_const(phi_out[i][k], off);
                    nl.select(mask[i], v)
                })
                .collect();
            match fw.pool.kind {
                PoolKind::Sum | PoolKind::Mean => {
                    tree(nl, gated.into_iter().map(|s| (s, true)).collect())
                }
                PoolKind::Max => max_tree(nl, &gated),
            }
        })
        .collect();
    (sums, mask)
}

/// The mean of the masked sums `sums` of `count` real particles ([`crate::ir::set::MeanDiv`]):
/// per feature `n = |S|·2^(k+1) + c`, one multiply by the reciprocal `M_c` (a ROM shared by
/// every feature, indexed by the count), the bits from `s` up, the sign of `S` back. A jet
/// without particles has `S = 0` and `c = 0`, so `n = 0` and the pool is 0.
fn mean_divide(
    nl: &mut Netlist,
    d: &crate::ir::set::MeanDiv,
    sums: Vec<Sig>,
    count: Sig,
) -> Vec<Sig> {
    nl.cur_class = Some(Class::Dequant);
    let recip = nl.lookup(count, d.recip.clone());
    sums.into_iter()
        .map(|s| {
            let a = nl.abs(s);
            let shifted = nl.shift_round(a, -(d.extra as i32 + 1));
            let n = nl.add(shifted, count, false);
            let p = nl.mul(n, recip);
            let bits = (nl.iv(p).hi >> d.shift).max(1).ilog2() + 1;
            let q = nl.field(p, d.shift, bits);
            nl.sign_of(q, s)
        })
        .collect()
}

/// The offset a max pool adds to feature `k` of `Φ`'s outputs before gating, `1 − lo` with
/// `lo < 0` their proven minimum, so that a real particle is ≥ 1 and beats a gated-off slot
/// (0); `None` for a sum pool or when `Φ`'s outputs are never negative (a gated-off 0 is then
/// already the empty jet's value and no more than any real one).
pub fn max_offset(fw: &SetFirmware, k: usize) -> Option<i64> {
    if fw.pool.kind != PoolKind::Max {
        return None;
    }
    let lo = match fw.phi.layers.last() {
        Some(l) => l.out_ranges[k].lo,
        None => fw.phi.input_type().interval().lo,
    };
    (lo < 0).then(|| (1 - lo) as i64)
}

/// A balanced tree of [`Op::Max`] (`x` not empty).
fn max_tree(nl: &mut Netlist, x: &[Sig]) -> Sig {
    match x {
        [a] => *a,
        _ => {
            let (l, r) = x.split_at(x.len() / 2);
            let (a, b) = (max_tree(nl, l), max_tree(nl, r));
            nl.max(a, b)
        }
    }
}

/// The stages of `fw` on the signals `x`, their nodes attributed to stages `base + l`.
fn chain(
    nl: &mut Netlist,
    fw: &Firmware,
    mut x: Vec<Sig>,
    adders: AdderOptions,
    fine: &[FineShift],
    graphs: &mut Graphs,
    base: usize,
) -> Vec<Sig> {
    for (li, layer) in fw.layers.iter().enumerate() {
        nl.cur_layer = base + li;
        let mut y: Vec<Sig> = match &layer.kind {
            FwKind::Ternary(t) => {
                let f = fine.get(li).copied().unwrap_or(FineShift::Reciprocal);
                ternary(nl, t, &x, adders, graphs, f, layer.relu)
            }
            FwKind::Dense(d) => {
                nl.cur_class = Some(Class::Dequant);
                (0..layer.n_out)
                    .map(|n| {
                        let terms: Vec<(Sig, bool)> = d
                            .weights
                            .row(n)
                            .iter()
                            .zip(&x)
                            .filter(|(&w, _)| w != 0)
                            .map(|(&w, &v)| (nl.mul_const(v, w), true))
                            .collect();
                        let acc = tree(nl, terms);
                        round_add(nl, acc, d.shift, d.bias[n])
                    })
                    .collect()
            }
            FwKind::Affine(a) => {
                nl.cur_class = Some(Class::Dequant);
                (0..layer.n_out)
                    .map(|n| {
                        let p = nl.mul_const(x[n], a.scale[n]);
                        round_add(nl, p, a.shift, a.bias[n])
                    })
                    .collect()
            }
        };
        if layer.relu {
            nl.cur_class = Some(Class::Dequant);
            y = y.into_iter().map(|v| nl.relu(v)).collect();
        }
        x = y;
    }
    x
}

/// Union of `iv.shift_round(base ± step·e)` over every `e` of `e_iv`.
fn shift_var_iv(iv: Interval, e_iv: Interval, base: i32, step: u32, neg: bool) -> Interval {
    let mut r: Option<Interval> = None;
    for e in e_iv.lo..=e_iv.hi {
        let k = step as i32 * e as i32;
        let s = if neg { base - k } else { base + k };
        let v = iv.shift_round(s);
        r = Some(r.map_or(v, |u| u.union(v)));
    }
    r.unwrap_or(iv)
}

/// A variable rounding shift `rnd(a, base ± step·e)` ([`Op::ShiftRoundVar`]).
#[derive(Clone, Copy)]
struct VarShift {
    e: Sig,
    base: i32,
    step: u32,
    neg: bool,
}

impl VarShift {
    /// `rnd(a, base ± e)`: one shift per value of `e`.
    fn plain(e: Sig, base: i32, neg: bool) -> VarShift {
        VarShift {
            e,
            base,
            step: 1,
            neg,
        }
    }
}

/// `rnd(a, base ± step·e)`; `bound`, when given, is a range the result is proven to lie in (the
/// quantizers' `|q| ≤ Q`, docs/arithmetic.md), which narrows the word to the code width.
fn shift_round_var(nl: &mut Netlist, a: Sig, v: VarShift, bound: Option<Interval>) -> Sig {
    let e_iv = nl.iv(v.e);
    let k = |e: i128| v.step as i32 * e as i32;
    // Smallest shift must be ≥ 0: pre-shift left (exact) so that it is.
    let min_s = if v.neg {
        v.base - k(e_iv.hi)
    } else {
        v.base + k(e_iv.lo)
    };
    let (a, base) = if min_s < 0 {
        (nl.shift_round(a, min_s), v.base - min_s)
    } else {
        (a, v.base)
    };
    let mut iv = shift_var_iv(nl.iv(a), e_iv, base, v.step, v.neg);
    if let Some(b) = bound {
        iv = Interval::new(iv.lo.max(b.lo), iv.hi.min(b.hi));
    }
    let (e, step, neg) = (v.e, v.step, v.neg);
    nl.push(
        Op::ShiftRoundVar {
            a,
            e,
            base,
            step,
            neg,
        },
        iv,
    )
}

/// `max(max_k |x_k|, floor)` as a balanced tree.
fn max_abs(nl: &mut Netlist, x: &[Sig], floor: i64) -> Sig {
    let mut level: Vec<Sig> = x.iter().map(|&v| nl.abs(v)).collect();
    if level.is_empty() {
        level.push(nl.push(Op::Const(0), Interval::point(0)));
    }
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|c| {
                if c.len() == 2 {
                    nl.max(c[0], c[1])
                } else {
                    c[0]
                }
            })
            .collect();
    }
    nl.max_const(level[0], floor)
}

/// `max(bitlen(m), 1)`.
fn bitlen_node(nl: &mut Netlist, m: Sig) -> Sig {
    let iv = nl.iv(m);
    let lo = if iv.lo <= 1 {
        1
    } else {
        bit_length(iv.lo as i64)
    };
    let hi = if iv.hi <= 1 {
        1
    } else {
        bit_length(iv.hi as i64)
    };
    nl.push(
        Op::BitLen { a: m, min: 1 },
        Interval::new(lo as i128, hi as i128),
    )
}

/// Layer-norm mean subtraction: `S = Σ_k V_k` (a balanced tree), `U_k = K·V_k − S`.
fn center(nl: &mut Netlist, x: &[Sig]) -> Vec<Sig> {
    let s = tree(nl, x.iter().map(|&v| (v, true)).collect());
    x.iter()
        .map(|&v| {
            let kv = nl.mul_const(v, x.len() as i64);
            nl.add(kv, s, true)
        })
        .collect()
}

fn ternary(
    nl: &mut Netlist,
    t: &TernaryFw,
    x: &[Sig],
    adders: AdderOptions,
    graphs: &mut Graphs,
    fine: FineShift,
    relu: bool,
) -> Vec<Sig> {
    nl.cur_class = Some(Class::Quantizer);
    let centred;
    let x = match t.center {
        Some(_) => {
            centred = center(nl, x);
            &centred[..]
        }
        None => x,
    };
    let (lo, hi) = t.clamp;
    // |V·R / 2^(G+e)| < Q + 1/2 and |Q·V / 2^e| ≤ Q: the rounded code lies in [-Q, Q].
    let q_bound = Interval::new(-(t.qmax as i128), t.qmax as i128);
    let (codes, dq): (Vec<Sig>, Option<Sig>) = match &t.quant {
        Quantizer::Dynamic {
            m_floor,
            guard,
            recip_type,
            ..
        } => {
            // With m_floor = 1 the floor only changes M = 0, where every input is 0: then the
            // codes are 0 whatever R is, and so is acc·M. So M is the bare max (no MaxConst
            // level), e is kept ≥ 1 (max(bitlen(M), 1) = bitlen(max(M, 1))), and the divider's
            // garbage quotient for M = 0 multiplies zeros.
            let floor = if *m_floor == 1 { 0 } else { *m_floor };
            let m = max_abs(nl, x, floor);
            let e = bitlen_node(nl, m);
            let r = reciprocal(nl, m, e, t.qmax, *guard, recip_type.width);
            let (xs, r, shift) = coarse_exponent(nl, x, r, e, *guard, fine);
            let codes = xs
                .iter()
                .map(|&v| {
                    let p = nl.mul(v, r);
                    let c = shift_round_var(nl, p, shift, Some(q_bound));
                    nl.clamp(c, lo, hi)
                })
                .collect();
            (codes, Some(m))
        }
        Quantizer::Pow2 { m_floor, .. } => {
            let m = max_abs(nl, x, *m_floor);
            let m1 = nl.add_const(m, -1);
            let iv = nl.iv(m);
            let e_iv = Interval::new(
                ceil_log2(iv.lo.max(1) as i64) as i128,
                ceil_log2(iv.hi.max(1) as i64) as i128,
            );
            let e = nl.push(Op::BitLen { a: m1, min: 0 }, e_iv);
            let codes = x
                .iter()
                .map(|&v| {
                    let p = nl.mul_const(v, t.qmax);
                    let c = shift_round_var(nl, p, VarShift::plain(e, 0, false), Some(q_bound));
                    nl.clamp(c, lo, hi)
                })
                .collect();
            (codes, Some(e))
        }
        Quantizer::Static {
            recip, recip_frac, ..
        } => {
            let codes = x
                .iter()
                .map(|&v| {
                    requant(
                        nl,
                        v,
                        (*recip, 0, *recip_frac),
                        (lo, hi),
                        adders.requant,
                        false,
                    )
                })
                .collect();
            (codes, None)
        }
        // The previous stage requantized into this stage's codes.
        Quantizer::Codes { .. } => (x.to_vec(), None),
    };
    nl.cur_class = Some(Class::TernaryAdder);
    let layer = nl.cur_layer;
    let accs = accumulate_cached(nl, &t.weights, &codes, adders, (graphs, layer));
    let mut out = Vec::with_capacity(t.weights.rows);
    for (n, &(acc, neg)) in accs.iter().enumerate() {
        nl.cur_class = Some(Class::Dequant);
        // A negated sum is folded into the dequantization constant: (−a)·(−C) = a·C exactly.
        let c = if neg { -t.scale[n] } else { t.scale[n] };
        if let Dequant::Requant { lo, hi } = t.dequant {
            // The stage's ReLU is the clamp's lower bound: max(clamp(v, lo, hi), 0).
            let lo = if relu { lo.max(0) } else { lo };
            let range = (lo, hi.max(lo));
            let map = (c, t.bias[n], t.shift);
            out.push(requant(nl, acc, map, range, adders.requant, true));
            continue;
        }
        let p = match (&t.quant, dq) {
            (Quantizer::Dynamic { .. }, Some(m)) if t.dequant != Dequant::CodeUnits => {
                let p = nl.mul(acc, m);
                nl.mul_const(p, c)
            }
            (Quantizer::Pow2 { .. }, Some(e)) if t.dequant != Dequant::CodeUnits => {
                let p = nl.mul_const(acc, c);
                let v = shift_round_var(nl, p, VarShift::plain(e, t.shift, true), None);
                out.push(nl.add_const(v, t.bias[n]));
                continue;
            }
            _ => nl.mul_const(acc, c),
        };
        out.push(round_add(nl, p, t.shift, t.bias[n]));
    }
    out
}

/// `rnd(p, s) + b`; see [`rounded`].
fn round_add(nl: &mut Netlist, p: Sig, s: i32, b: i64) -> Sig {
    rounded(nl, p, s, 0, b)
}

/// `rnd(p + h, s) + b` (half to even). For `s ≥ 1` and a non-zero `h` or `b` it is
/// `p + (h + b·2^s + 2^(s−1) − [b odd])` and an [`Op::RoundOffset`]: the constants and the
/// rounding offset are one constant added to `p` (inside the adder tree of a shift-and-add
/// product, [`super::csd`]), and the rounding costs no carry chain. With neither, the plain
/// rounding shift is one carry chain either way and costs fewer LUTs (measured: `qg_mlp_tiny`
/// static with `--input-digits 1`, 852 against 956 LUT).
fn rounded(nl: &mut Netlist, p: Sig, s: i32, h: i64, b: i64) -> Sig {
    if s >= 1 && (h != 0 || b != 0) {
        let odd = i128::from(b & 1 == 1);
        let k = h as i128 + ((b as i128) << s) + (1i128 << (s - 1)) - odd;
        if let Ok(k) = i64::try_from(k) {
            let u = nl.add_const(p, k);
            return nl.round_offset(u, s as u32, b);
        }
    }
    let p = nl.add_const(p, h);
    let v = nl.shift_round(p, s);
    nl.add_const(v, b)
}

/// Widest reciprocal operand kept on one DSP48E2 port (18 bits signed).
const RECIP_PORT_MAX: i128 = (1 << 17) - 1;
/// Widest signed operand of a DSP48E2's A port.
const DSP_A_BITS: u32 = 27;
/// log2 of the largest step of [`coarse_exponent`].
const MAX_STEP_LOG2: u32 = 2;

/// The dynamic quantizer's `rnd(X_k·R, G + e)` with fewer distinct shifts per input. For a step
/// `k` (a power of two), `e + k − 1 = k·E + g` (`E` and `g` are bit fields of one small adder)
/// and, with `f = k − 1 − g`, `rnd(X·R, G + e) = rnd((X << f)·R, G + k·E) = rnd(X·(R << f), G + k·E)`
/// exactly. Each input's rounding then selects among `⌈range(e)/k⌉` windows of its product
/// instead of one per value of `e`. The fine shift `f` goes where `fine` says. `k` is the
/// largest power of two up to 4 that keeps the shifted operand on its DSP port (`R`: 18 bits
/// signed, `k` = 4 for the default 6 guard bits; an input: 27 bits); `k` = 1 is the plain form.
/// Returns the inputs and the reciprocal to multiply, and the rounding shift.
fn coarse_exponent(
    nl: &mut Netlist,
    x: &[Sig],
    r: Sig,
    e: Sig,
    guard: i32,
    fine: FineShift,
) -> (Vec<Sig>, Sig, VarShift) {
    let plain = VarShift::plain(e, guard, false);
    let swidth = |nl: &Netlist, v: Sig| nl.node(v).width + u32::from(!nl.node(v).signed);
    let fits = |nl: &Netlist, lb: u32| match fine {
        FineShift::Reciprocal => nl.iv(r).hi << ((1 << lb) - 1) <= RECIP_PORT_MAX,
        FineShift::Inputs => x
            .iter()
            .all(|&v| swidth(nl, v) + (1 << lb) - 1 <= DSP_A_BITS),
    };
    let lb = (0..=MAX_STEP_LOG2)
        .rev()
        .find(|&lb| fits(nl, lb))
        .unwrap_or(0);
    let step = 1u32 << lb;
    if step == 1 {
        return (x.to_vec(), r, plain);
    }
    let e3 = nl.add_const(e, step as i64 - 1);
    let ew = nl.node(e3).width;
    let big = nl.field(e3, lb, ew.saturating_sub(lb).max(1));
    let g = nl.field(e3, 0, lb);
    let shl = |nl: &mut Netlist, a: Sig| {
        let iv = nl.iv(a);
        let k = step as i128 - 1;
        let iv = Interval::new(iv.lo.min(iv.lo << k), iv.hi.max(iv.hi << k));
        let op = Op::ShlVar {
            a,
            e: g,
            base: step as i32 - 1,
            half: false,
        };
        nl.push(op, iv)
    };
    let sh = VarShift {
        e: big,
        step,
        ..plain
    };
    match fine {
        FineShift::Reciprocal => (x.to_vec(), shl(nl, r), sh),
        FineShift::Inputs => (x.iter().map(|&v| shl(nl, v)).collect(), r, sh),
    }
}

/// Fused requantization (`fused`) or static quantization `clamp(rnd(acc·e + h, shift), lo, hi)`
/// (the caller folds the stage's ReLU into `lo`), built as `circuit` says: the constant
/// multiply, rounding and clamp, or threshold comparisons ([`requant_thresholds`]).
fn requant(
    nl: &mut Netlist,
    acc: Sig,
    (e, h, shift): (i64, i64, i32),
    (lo, hi): (i64, i64),
    circuit: RequantCircuit,
    fused: bool,
) -> Sig {
    let wanted = match circuit {
        RequantCircuit::Multiply => false,
        RequantCircuit::Thresholds => true,
        RequantCircuit::Auto => {
            let steps = requant_steps(nl.iv(acc), e, h, shift, (lo, hi));
            thresholds_cheaper(steps, crate::hw::csd::csd_count(e), fused)
        }
    };
    if wanted {
        if let Some((base, t, down)) = requant_thresholds(nl.iv(acc), e, h, shift, (lo, hi)) {
            if t.is_empty() {
                return nl.push(Op::Const(base), Interval::point(base as i128));
            }
            return nl.thresholds(acc, t, down, base);
        }
    }
    let p = nl.mul_const(acc, e);
    let v = rounded(nl, p, shift, h, 0);
    nl.clamp(v, lo, hi)
}

/// The requantizer's map `a ↦ clamp(rnd(a·e + h, shift), lo, hi)` (the emulator's formula).
fn requant_map(e: i64, h: i64, shift: i32, (lo, hi): (i64, i64)) -> impl Fn(i128) -> i128 {
    move |a| shift_round_i128(a * e as i128 + h as i128, shift).clamp(lo as i128, hi as i128)
}

/// The code steps of [`requant_map`] over `a`'s range `iv`: the number of thresholds
/// [`requant_thresholds`] gives (the map is monotone).
fn requant_steps(iv: Interval, e: i64, h: i64, shift: i32, range: (i64, i64)) -> usize {
    let f = requant_map(e, h, shift, range);
    (f(iv.hi) - f(iv.lo)).unsigned_abs() as usize
}

/// `f(a) = clamp(rnd(a·e + h, shift), lo, hi)` on `a`'s range `iv` as thresholds: `(base, t,
/// down)` with `f(a) = base + #{k : a ≥ t_k}` (`down`, for `e < 0`: `a ≤ t_k`) for every `a` in
/// `iv`, `t` in implication order and inside `iv`. `f` is monotone (rounding and clamping are),
/// so `t_k` is where `f` first reaches `base + k`, found by bisection on `f` itself: the
/// thresholds are exact by construction. `None` when a threshold does not fit an `i64`.
pub fn requant_thresholds(
    iv: Interval,
    e: i64,
    h: i64,
    shift: i32,
    range: (i64, i64),
) -> Option<(i64, Vec<i64>, bool)> {
    let f = requant_map(e, h, shift, range);
    let down = e < 0;
    let (first, last) = if down { (iv.hi, iv.lo) } else { (iv.lo, iv.hi) };
    let (base, top) = (f(first), f(last));
    let mut t = Vec::with_capacity((top - base).max(0) as usize);
    for c in base + 1..=top {
        let (mut l, mut r) = (iv.lo, iv.hi);
        if down {
            // The largest a with f(a) ≥ c (f(iv.lo) = top ≥ c).
            while l < r {
                let m = l + (r - l + 1) / 2;
                if f(m) >= c {
                    l = m
                } else {
                    r = m - 1
                }
            }
        } else {
            // The smallest a with f(a) ≥ c (f(iv.hi) = top ≥ c).
            while l < r {
                let m = l + (r - l) / 2;
                if f(m) >= c {
                    r = m
                } else {
                    l = m + 1
                }
            }
        }
        t.push(i64::try_from(l).ok()?);
    }
    Some((i64::try_from(base).ok()?, t, down))
}

/// `R = floor((q·2^(g+e) + floor(M/2)) / M)` by restoring division on the normalized divisor
/// `M·2^(wM−e)` (so the numerator's variable part is `floor(M/2)·2^(wM−e)`): one radix-2 step
/// while `3d` is added, then radix-4 steps ([`Op::DivStep4`]), and a last radix-2 step for an
/// even width. `M = 0` gives `d = 0` and a meaningless quotient (the caller's inputs are then 0).
fn reciprocal(nl: &mut Netlist, m: Sig, e: Sig, q: i64, g: i32, wr: u32) -> Sig {
    let wm = nl.node(m).width;
    let top = (1i128 << wm) - 1;
    let d = nl.push(
        Op::ShlVar {
            a: m,
            e,
            base: wm as i32,
            half: false,
        },
        // M = 0 (all inputs 0, see the caller) gives d = 0.
        Interval::new(
            if nl.iv(m).lo > 0 {
                1i128 << (wm - 1)
            } else {
                0
            },
            top,
        ),
    );
    let h = nl.push(
        Op::ShlVar {
            a: m,
            e,
            base: wm as i32,
            half: true,
        },
        Interval::new(0, (1i128 << (wm - 1)) - 1),
    );
    let qshift = g as u32 + wm;
    let wh = nl.node(h).width;
    let nbit = |i: u32| {
        if i >= qshift {
            Bit::Const((q >> (i - qshift)) & 1 == 1)
        } else if i < wh {
            Bit::Of(h, i)
        } else {
            Bit::Const(false)
        }
    };
    let mut prev = nl.push_packed(Op::DivInit { h, q, qshift, wr }, wm);
    let mut steps = Vec::with_capacity(wr as usize);
    let radix2 = |nl: &mut Netlist, prev: Sig, first: bool, i: u32| {
        let op = Op::DivStep {
            prev,
            first,
            d,
            nbit: nbit(i),
        };
        nl.push_packed(op, wm + 1)
    };
    // The first bit by a radix-2 step while 3d is added; then two bits per step.
    let mut i = wr;
    if i > 0 {
        i -= 1;
        prev = radix2(nl, prev, true, i);
        steps.push(prev);
    }
    if i >= 2 {
        let d2 = nl.shift_round(d, -1);
        let d3 = nl.add(d, d2, false);
        while i >= 2 {
            i -= 2;
            let op = Op::DivStep4 {
                prev,
                d,
                d3,
                hi: nbit(i + 1),
                lo: nbit(i),
            };
            prev = nl.push_packed(op, wm + 2);
            steps.push(prev);
        }
    }
    if i == 1 {
        prev = radix2(nl, prev, false, 0);
        steps.push(prev);
    }
    let iv = Interval::new(0, (1i128 << wr) - 1);
    nl.push(Op::DivQuot { steps, wd: wm }, iv)
}

/// `acc_n = Σ_k W_nk·x_k` for every row of the ternary `w`: plain trees ([`tree`]) or the
/// shared adder graph of [`cmvm::shared`] (the same integers either way).
pub fn accumulate(nl: &mut Netlist, w: &Matrix<i8>, x: &[Sig], o: AdderOptions) -> Vec<Sig> {
    accumulate_signed(nl, w, x, o)
        .into_iter()
        .map(|(s, neg)| if neg { nl.neg(s) } else { s })
        .collect()
}

/// As [`accumulate`], but a row whose sum the graph computes negated is returned as
/// `(−acc_n, true)`, so that the consumer can fold the sign instead of spending a negation.
pub fn accumulate_signed(
    nl: &mut Netlist,
    w: &Matrix<i8>,
    x: &[Sig],
    o: AdderOptions,
) -> Vec<(Sig, bool)> {
    accumulate_cached(nl, w, x, o, (&mut Graphs::new(), 0))
}

/// As [`accumulate_signed`], with the shared-adder graph of `w` kept in `graphs` under `key`
/// (computed there once).
fn accumulate_cached(
    nl: &mut Netlist,
    w: &Matrix<i8>,
    x: &[Sig],
    o: AdderOptions,
    (graphs, key): (&mut Graphs, usize),
) -> Vec<(Sig, bool)> {
    match o.adders {
        Adders::Trees => (0..w.rows)
            .map(|n| (tree(nl, row_terms(w.row(n), x)), false))
            .collect(),
        Adders::Shared => {
            let opts = cmvm::Options {
                max_extra_depth: o.max_extra_depth,
                ..Default::default()
            };
            let g = graphs.entry(key).or_insert_with(|| cmvm::shared(w, &opts));
            graph(nl, g, x)
        }
    }
}

/// The nodes of a [`cmvm::Graph`] over the inputs `x`: one adder node per graph adder; each
/// output as `(node, negated)` (its value is `−node` when `negated`).
pub fn graph(nl: &mut Netlist, g: &cmvm::Graph, x: &[Sig]) -> Vec<(Sig, bool)> {
    let mut node: Vec<(Sig, bool)> = Vec::with_capacity(g.adders.len());
    let term = |node: &[(Sig, bool)], t: cmvm::Term| -> (Sig, bool) {
        let (s, neg) = match t.op {
            cmvm::Operand::Input(k) => (x[k], false),
            cmvm::Operand::Adder(i) => node[i],
        };
        (s, neg != t.neg)
    };
    for ad in &g.adders {
        let ((a, na), (b, nb)) = (term(&node, ad.a), term(&node, ad.b));
        node.push(match (na, nb) {
            (false, false) => (nl.add(a, b, false), false),
            (false, true) => (nl.add(a, b, true), false),
            (true, false) => (nl.add(b, a, true), false),
            (true, true) => (nl.add(a, b, false), true),
        });
    }
    g.outputs
        .iter()
        .map(|o| match o {
            None => (nl.push(Op::Const(0), Interval::point(0)), false),
            Some(t) => term(&node, *t),
        })
        .collect()
}

/// The terms of one ternary row: `(x_k, true)` for every +1 weight, then `(x_k, false)` for
/// every −1 weight, in input order (the canonical order that lets equal sub-trees be shared).
pub fn row_terms(row: &[i8], x: &[Sig]) -> Vec<(Sig, bool)> {
    let pos = row
        .iter()
        .zip(x)
        .filter(|(&w, _)| w == 1)
        .map(|(_, &v)| (v, true));
    pos.chain(
        row.iter()
            .zip(x)
            .filter(|(&w, _)| w == -1)
            .map(|(_, &v)| (v, false)),
    )
    .collect()
}

/// Balanced add/subtract tree over `(term, positive)`; positive terms come first so the root
/// is positive whenever one term is. An empty tree is the constant 0.
pub fn tree(nl: &mut Netlist, terms: Vec<(Sig, bool)>) -> Sig {
    if terms.is_empty() {
        return nl.push(Op::Const(0), Interval::point(0));
    }
    let (s, pos) = subtree(nl, &terms);
    if pos {
        s
    } else {
        nl.neg(s)
    }
}

fn subtree(nl: &mut Netlist, items: &[(Sig, bool)]) -> (Sig, bool) {
    if items.len() == 1 {
        return items[0];
    }
    let mid = items.len().div_ceil(2);
    let (a, pa) = subtree(nl, &items[..mid]);
    let (b, pb) = subtree(nl, &items[mid..]);
    match (pa, pb) {
        (true, true) => (nl.add(a, b, false), true),
        (true, false) => (nl.add(a, b, true), true),
        (false, true) => (nl.add(b, a, true), true),
        (false, false) => (nl.add(a, b, false), false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hw::eval::eval;

    /// The radix-2/radix-4 divider gives `floor((Q·2^(G+e) + floor(M/2)) / M)` for every 12-bit
    /// `M` (the naive reference is that formula in i128), at several guard widths (odd and even
    /// quotient widths); `M = 0` stays inside every node's interval (its quotient is unused).
    #[test]
    fn reciprocal_divides_exactly_for_every_divisor() {
        for (q, g) in [(127i64, 6i32), (127, 5), (31, 3), (7, 0)] {
            let mut nl = Netlist::default();
            let m = nl.input(0, Interval::new(0, 4095));
            let e = bitlen_node(&mut nl, m);
            let wr = (g as u32) + bit_length(q) as u32 + 1;
            let r = reciprocal(&mut nl, m, e, q, g, wr);
            nl.outputs = vec![r];
            let fours = nl
                .nodes
                .iter()
                .filter(|n| matches!(n.op, Op::DivStep4 { .. }))
                .count();
            assert_eq!(fours as u32, (wr - 1) / 2, "q {q} g {g}: radix-4 steps");
            for mv in 0..=4095i64 {
                let vals = eval(&nl, &[mv]).unwrap_or_else(|o| panic!("M {mv}: {o:?}"));
                if mv == 0 {
                    continue;
                }
                let ev = 64 - mv.leading_zeros() as i128;
                let want = (((q as i128) << (g as i128 + ev)) + (mv as i128 >> 1)) / mv as i128;
                assert_eq!(vals[r.0 as usize], want, "q {q} g {g} M {mv}");
            }
        }
    }

    /// Both requantizer circuits give `clamp(rnd(a·e + h, s), lo, hi)` (the naive formula with
    /// the emulator's rounding) for every `a` of the range, for positive, negative, zero and
    /// steep (`|e| > 2^s`, several codes per step) constants, with and without a ReLU bound;
    /// the threshold circuit has one comparison per reachable code step.
    #[test]
    fn threshold_requantizer_equals_the_affine_map_on_every_input() {
        use crate::ir::fixed::shift_round;
        let cases = [
            (37i64, 5i64, 6i32, (-8i64, 7i64)),
            (-37, 5, 6, (-8, 7)),
            (37, -900, 6, (0, 7)),
            (0, 11, 3, (-4, 3)),
            (300, 17, 6, (-16, 15)),
            (-300, 0, 6, (0, 15)),
            (5, 3, 0, (-2, 1)),
            (1, 0, 9, (-128, 127)),
        ];
        for (e, h, s, (lo, hi)) in cases {
            for circuit in [RequantCircuit::Multiply, RequantCircuit::Thresholds] {
                let mut nl = Netlist::default();
                let a = nl.input(0, Interval::new(-700, 650));
                let y = requant(&mut nl, a, (e, h, s), (lo, hi), circuit, true);
                nl.outputs = vec![y];
                let nl = crate::hw::csd::rewrite(&nl, crate::hw::schedule::ConstMul::Lut);
                for v in -700..=650i64 {
                    let want = shift_round(v * e + h, s).clamp(lo, hi);
                    let got = eval(&nl, &[v]).unwrap_or_else(|o| panic!("{e} {v}: {o:?}"));
                    assert_eq!(
                        got[nl.outputs[0].0 as usize], want as i128,
                        "e {e} h {h} s {s} a {v} {circuit:?}"
                    );
                }
                if circuit == RequantCircuit::Thresholds {
                    let f = |v: i64| shift_round(v * e + h, s).clamp(lo, hi);
                    let steps = (f(650) - f(-700)).unsigned_abs() as usize;
                    let n: usize = nl
                        .nodes
                        .iter()
                        .map(|n| match &n.op {
                            Op::Thresholds { t, .. } => t.len(),
                            _ => 0,
                        })
                        .sum();
                    assert_eq!(n, steps, "e {e} h {h}: one comparison per code step");
                }
            }
        }
    }
}
