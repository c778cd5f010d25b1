//! Lowering to firmware arithmetic: constant quantization and range analysis.
//!
//! Contract: for every stage, every intermediate value of [`crate::ir::firmware`] lies in the
//! interval recorded for it, for *every* input the input type can hold (not just the
//! calibration data). Types are the narrowest that hold those intervals; nothing is defaulted.
//! A value that would need more than [`MAX_WIDTH`] bits is an error, never a silent wrap.

use super::calibrate::Calibration;
use super::fold::{stages, Stage, StageOp};
use crate::error::{Error, Result};
use crate::ir::firmware::{
    AffineFw, CenterFw, DenseFw, Dequant, Firmware, FwKind, FwLayer, HiddenUnits, LowerOptions,
    Mode, Quantizer, TernaryFw,
};
use crate::ir::fixed::{
    bit_length, ceil_log2, const_code, const_frac, csd_round, FixedType, Interval,
};
use crate::ir::profile::{BiasMode, InNorm, Profile};
use crate::ir::{LayerKind, Matrix, Model};

pub use crate::ir::fixed::MAX_WIDTH;

struct Ctx<'a> {
    name: &'a str,
    index: usize,
}

impl Ctx<'_> {
    fn ty(&self, what: &str, iv: Interval, frac: i32) -> Result<FixedType> {
        let t = FixedType::fitting(iv, frac);
        if t.width > MAX_WIDTH {
            return Err(Error::too_wide(
                self.name,
                self.index,
                format!(
                    "{what} needs {} bits (range [{}, {}]), more than the {MAX_WIDTH} supported; \
                     use fewer --frac-bits or a narrower --input-type",
                    t.width, iv.lo, iv.hi
                ),
            ));
        }
        Ok(t)
    }

    /// Rounding shifts are limited to ±62 so that every shift is a valid i64 operation.
    fn shift(&self, what: &str, s: i32) -> Result<i32> {
        if !(-62..=62).contains(&s) {
            return Err(Error::layer(
                self.name,
                self.index,
                format!(
                    "{what} shift of {s} bits is out of the supported range ±62: a scale (β, batch-norm \
                     gain or weight) is too small or too large for fixed point"
                ),
            ));
        }
        Ok(s)
    }
}

/// Lowers `model` with `opts`. Static mode needs `calib`.
pub fn lower(model: &Model, opts: &LowerOptions, calib: Option<&Calibration>) -> Result<Firmware> {
    norm_profile_structure(model)?;
    let stages = stages(model)?;
    let mut layers = Vec::with_capacity(stages.len());
    let mut in_type = opts.input_type;
    let mut in_ranges = vec![opts.input_type.interval(); model.inputs];
    // The input's real-unit factor beyond `2^frac` (1 except after a [`Dequant::Scaled`] stage).
    let mut rho_in = 1.0;
    for (si, st) in stages.iter().enumerate() {
        let first = st.sources[0];
        let name = match st.op {
            StageOp::Affine(None) => "input_relu".to_string(),
            _ => model.layers[first].name.clone(),
        };
        let ctx = Ctx {
            name: &name,
            index: si,
        };
        let codes_in = layers.last().is_some_and(requantizes);
        let units = Units {
            rho_in,
            scaled_out: scalable(model, &stages, si, opts),
        };
        let (mut layer, rho_out) = lower_stage(
            model, st, opts, calib, &ctx, in_type, &in_ranges, codes_in, units,
        )?;
        rho_in = rho_out;
        if let Some(digits) = fusable(model, &stages, si, opts) {
            let m_next = static_m_cal(&model.profile, calib, &stages[si + 1], &ctx)?;
            fuse_requant(&mut layer, model, st, &ctx, m_next, digits, opts.const_bits)?;
        }
        in_type = layer.out_type;
        in_ranges = layer.out_ranges.clone();
        layers.push(layer);
    }
    let fw = Firmware {
        name: model.name.clone(),
        profile: model.profile.clone(),
        options: opts.clone(),
        n_in: model.inputs,
        n_out: model.outputs(),
        layers,
    };
    #[cfg(debug_assertions)]
    if let Err(e) = crate::ir::validate::validate(&fw) {
        panic!("lowering produced firmware its validator refuses (a compiler bug): {e}");
    }
    Ok(fw)
}

/// Whether `l` requantizes into the next stage's codes ([`Dequant::Requant`]).
fn requantizes(l: &FwLayer) -> bool {
    matches!(&l.kind, FwKind::Ternary(t) if matches!(t.dequant, Dequant::Requant { .. }))
}

/// Default signed digits the first static quantizer's constant `R_s` gets beyond
/// `--requant-digits` (fused requantization only; `--input-digits` overrides). Measured on the
/// 28,000 test jets (static agreement with the float model, change from full-precision `R_s`):
/// `qg_mlp_tiny` −0.065 pp with +0, −0.047 pp with +1, −0.011 pp with +2 (docs/arithmetic.md).
pub const INPUT_EXTRA_DIGITS: u32 = 2;

/// The digits of `E_n` when stage `si` fuses its dequantization with the quantizer of stage
/// `si + 1`: static mode with `requant_digits`, both stages ternary, no in-layer norm.
fn fusable(model: &Model, stages: &[Stage], si: usize, opts: &LowerOptions) -> Option<u32> {
    let ok = opts.mode == Mode::Static
        && model.profile.in_norm == InNorm::None
        && ternary_pair(stages, si);
    opts.requant_digits.filter(|_| ok)
}

/// Stage `si` and its consumer `si + 1` are both ternary.
fn ternary_pair(stages: &[Stage], si: usize) -> bool {
    let ternary = |i: usize| {
        stages
            .get(i)
            .is_some_and(|s| matches!(s.op, StageOp::Ternary(_)))
    };
    ternary(si) && ternary(si + 1)
}

/// `values` as integer constants with `P` fractional bits, `P` giving the largest
/// `const_bits` significant signed bits, each then rounded to `digits` non-zero signed digits
/// ([`csd_round`]; `None`: not rounded). Rounding up can reach `2^(const_bits−1)` (e.g.
/// 0x1FFFF → 2^17): `P` is then one bit less. Returns the constants and `P`.
fn rounded_consts(values: &[f64], digits: Option<u32>, const_bits: u32) -> (Vec<i64>, i32) {
    let lim = 1i64 << (const_bits - 1);
    let round = |p: i32| -> Vec<i64> {
        values
            .iter()
            .map(|&v| match digits {
                Some(d) => csd_round(const_code(v, p), d),
                None => const_code(v, p),
            })
            .collect()
    };
    let mut p = const_frac(values.iter().copied(), const_bits);
    while round(p).iter().any(|c| c.abs() >= lim) {
        p -= 1;
    }
    (round(p), p)
}

/// Units of a stage's input and whether its output may be in scaled units.
#[derive(Clone, Copy)]
struct Units {
    /// The input integer is `x · 2^frac_in · rho_in` (1 unless the previous stage is
    /// [`Dequant::Scaled`]).
    rho_in: f64,
    /// The stage may output scaled units ([`scalable`]).
    scaled_out: bool,
}

/// Whether stage `si` may output [`Dequant::Scaled`] units: dynamic mode, no in-layer norm,
/// and both it and its consumer are ternary (the consumer's absmax quantizer ignores the units).
fn scalable(model: &Model, stages: &[Stage], si: usize, opts: &LowerOptions) -> bool {
    opts.mode == Mode::Dynamic
        && opts.hidden_units == HiddenUnits::Scaled
        && model.profile.in_norm == InNorm::None
        && ternary_pair(stages, si)
}

/// Scaled units for a dynamic stage whose dequantization factors `c` (per output, real, for
/// `acc·M`) are all equal and positive: `Y = rnd(acc·M, s) + B` with
/// `s = floor(f_in − f_out − log2 c)`, so the unit of `Y` is at most `2^-f_out` (no precision is
/// lost against input units) and `Y = y·κ` with `κ = 2^(f_in − s)/c ∈ [2^f_out, 2^(f_out+1))`.
/// `None` if the factors differ, or if `eps_act·κ > 1` (the next stage's eps clamp would act
/// on integer inputs). Returns `(s, κ)`.
fn scaled_units(p: &Profile, c: &[f64], f_in: i32, f_out: i32) -> Option<(i32, f64)> {
    let c0 = *c.first()?;
    if !(c0 > 0.0 && c0.is_finite()) || c.iter().any(|&v| v != c0) {
        return None;
    }
    let s = (f_in as f64 - f_out as f64 - c0.log2()).floor() as i32;
    let kappa = (2f64).powi(f_in - s) / c0;
    (p.eps_act as f64 * kappa <= 1.0).then_some((s, kappa))
}

/// The calibrated max|x| at the input of the static ternary stage `st` (at least eps_act).
fn static_m_cal(p: &Profile, calib: Option<&Calibration>, st: &Stage, ctx: &Ctx) -> Result<f64> {
    let cal = calib.ok_or_else(|| {
        Error::layer(
            ctx.name,
            ctx.index,
            "static mode needs calibration data (--calib FILE.npz)",
        )
    })?;
    let m_cal = cal.absmax_of(st.sources[0]).ok_or_else(|| {
        Error::layer(
            ctx.name,
            ctx.index,
            "no calibration statistic for this layer",
        )
    })?;
    Ok((m_cal as f64).max(p.eps_act as f64))
}

/// The real bias of output `n` of a BitLinear stage, in the units of its output (the folded
/// `a_n·b_n + d_n`, with the profile's bias placement).
fn bias_real(p: &Profile, b: &crate::ir::BitLinear, st: &Stage, n: usize) -> f64 {
    let bn = b.bias.as_ref().map(|v| v[n] as f64).unwrap_or(0.0);
    let bn = match p.bias {
        BiasMode::AfterDequant => bn,
        // (acc + b)·β/Q: the bias in code units (post_scale is 1 here).
        BiasMode::BeforeDequant => bn * b.beta as f64 / p.act_qmax as f64,
        BiasMode::Unused => 0.0,
    };
    st.post_scale[n] * bn + st.post_shift[n]
}

/// Rewrites the lowered static ternary stage `l` into fused requantization (docs/arithmetic.md):
/// `q'_n = clamp(rnd(acc_n·E_n + H_n, P), lo, hi)` with the real
/// `E_n = a_n·β/Q · m_cal · Q/m_next` and `H_n = bias_n · Q/m_next` (from the float constants,
/// not from the rounded `D_n`, `R_s`), `P` giving the largest `E_n` `const_bits` significant
/// bits, and each `E_n` then rounded to `digits` signed digits ([`csd_round`]). The output
/// ranges and type become the next stage's codes (frac 0).
fn fuse_requant(
    l: &mut FwLayer,
    model: &Model,
    st: &Stage,
    ctx: &Ctx,
    m_next: f64,
    digits: u32,
    const_bits: u32,
) -> Result<()> {
    let p = &model.profile;
    let LayerKind::BitLinear(b) = &model.layers[st.sources[0]].kind else {
        unreachable!("a fusable stage is ternary")
    };
    let FwKind::Ternary(t) = &mut l.kind else {
        unreachable!("a fusable stage is ternary")
    };
    let m_cal = match t.quant {
        Quantizer::Static { m_cal, .. } | Quantizer::Codes { m_cal } => m_cal,
        _ => unreachable!("a fusable stage is static"),
    };
    let q = p.act_qmax as f64;
    let e_real: Vec<f64> = st
        .post_scale
        .iter()
        .map(|a| a * b.beta as f64 / q * m_cal * q / m_next)
        .collect();
    let (scale, pe) = rounded_consts(&e_real, Some(digits), const_bits);
    let pe = ctx.shift("requantization", pe)?;
    t.scale = scale;
    t.bias = (0..l.n_out)
        .map(|n| const_code(bias_real(p, b, st, n) * q / m_next, pe))
        .collect();
    let (lo, hi) = (p.act_clamp.0 as i64, p.act_clamp.1 as i64);
    let mut dq: Option<Interval> = None;
    let mut pre = Vec::with_capacity(l.n_out);
    for n in 0..l.n_out {
        let prod = t.acc_ranges[n].mul(Interval::point(t.scale[n] as i128));
        let sum = prod.add(Interval::point(t.bias[n] as i128));
        dq = Some(dq.map_or(prod, |u| u.union(prod)).union(sum));
        pre.push(sum.shift_round(pe).clamp(lo as i128, hi as i128));
    }
    t.dequant_type = ctx.ty("requantization product", dq.expect("n_out > 0"), 0)?;
    (t.scale_frac, t.shift, t.dequant) = (pe, pe, Dequant::Requant { lo, hi });
    l.out_ranges = pre
        .into_iter()
        .map(|r| if l.relu { r.relu() } else { r })
        .collect();
    let all = l
        .out_ranges
        .iter()
        .copied()
        .reduce(Interval::union)
        .unwrap();
    l.out_type = ctx.ty("requantized codes", all, 0)?;
    Ok(())
}

/// Profiles with an in-layer norm lower to code-unit outputs, which are exact only when every
/// BitLinear feeds (through an optional ReLU) another BitLinear or the output: any other layer
/// would see the omitted per-event factor (docs/semantics.md "Output units").
fn norm_profile_structure(model: &Model) -> Result<()> {
    if model.profile.in_norm == InNorm::None {
        return Ok(());
    }
    for (i, l) in model.layers.iter().enumerate() {
        if !matches!(l.kind, LayerKind::BitLinear(_) | LayerKind::Relu) {
            return Err(Error::layer(
                &l.name,
                i,
                format!(
                    "profile {} supports only BitLinear and ReLU layers in firmware (its in-layer \
                     norm makes outputs exact up to a per-event factor that this layer would see); \
                     use the float reference (`emulate --float`) or remove the layer",
                    model.profile.name
                ),
            ));
        }
    }
    Ok(())
}

/// The mean subtraction of a layer-norm profile: types of `S = ΣV` and `U_k = K·V_k − S`, and
/// the range of every `U_k`. `(None, None)` for other profiles.
fn center(
    p: &Profile,
    ctx: &Ctx,
    in_ranges: &[Interval],
) -> Result<(Option<CenterFw>, Option<Vec<Interval>>)> {
    if p.in_norm != InNorm::LayerNorm {
        return Ok((None, None));
    }
    // Proven input ranges are bounded by 62-bit types: the i128 bounds cannot overflow.
    let (prefixes, u) =
        crate::ir::firmware::centre_ranges(in_ranges).expect("62-bit ranges fit i128");
    let sum_type = ctx.ty("input sum", prefixes, 0)?;
    let u_all = u.iter().copied().reduce(Interval::union).expect("n_in > 0");
    let u_type = ctx.ty("centred input", u_all, 0)?;
    Ok((Some(CenterFw { sum_type, u_type }), Some(u)))
}

/// The eps clamps of an in-layer norm change codes only when the normalized input's max|x̂| is
/// below `eps_act`; for a non-zero input of `n` values with `frac` fractional bits this never
/// happens if the smallest possible spread passes the check (docs/semantics.md). Refuses otherwise.
fn norm_eps_inactive(p: &Profile, ctx: &Ctx, n: usize, frac: i32) -> Result<()> {
    let lsb = (2f64).powi(-frac);
    let k = n as f64;
    let (ok, what) = match p.in_norm {
        InNorm::None => (true, ""),
        // x ≠ 0 ⇒ ‖x‖ ≥ lsb; ‖x‖ ≥ eps ⇒ max|x̂| ≥ 1/K.
        InNorm::SimpleRms => (
            lsb >= p.eps_norm as f64 && 1.0 / k >= 2.0 * p.eps_act as f64,
            "L2 norm",
        ),
        // U ≠ 0 ⇒ a = max|x − mean| ≥ lsb/K ⇒ max|x̂| ≥ a / sqrt(a² + eps_norm).
        InNorm::LayerNorm => {
            let a = lsb / k;
            (
                a / (a * a + p.eps_norm as f64).sqrt() >= 2.0 * p.eps_act as f64,
                "layer norm",
            )
        }
    };
    if ok {
        return Ok(());
    }
    Err(Error::layer(
        ctx.name,
        ctx.index,
        format!(
            "profile {}: with {frac} fractional input bits and {n} inputs the {what}'s eps could \
             change activation codes, which the firmware does not model; use fewer --frac-bits \
             (or a coarser --input-type)",
            p.name
        ),
    ))
}

/// Lowers one stage reading `in_type` values in `in_ranges`; `codes_in`: the previous stage
/// requantized into this (static ternary) stage's codes, so its quantizer is
/// [`Quantizer::Codes`].
#[allow(clippy::too_many_arguments)]
fn lower_stage(
    model: &Model,
    st: &Stage,
    opts: &LowerOptions,
    calib: Option<&Calibration>,
    ctx: &Ctx,
    in_type: FixedType,
    in_ranges: &[Interval],
    codes_in: bool,
    units: Units,
) -> Result<(FwLayer, f64)> {
    let f_in = in_type.frac;
    let mut f_out = opts.frac_bits;
    let mut rho_out = 1.0;
    let mut dequant = Dequant::InputUnits;
    debug_assert!(units.rho_in == 1.0 || opts.mode == Mode::Dynamic);
    let n_in = in_ranges.len();
    let (kind, pre_ranges): (FwKind, Vec<Interval>) = match st.op {
        StageOp::Ternary(li) => {
            let LayerKind::BitLinear(b) = &model.layers[li].kind else {
                unreachable!("stage op matches layer kind")
            };
            let p = &model.profile;
            let q = p.act_qmax as i64;
            let clamp = (p.act_clamp.0 as i64, p.act_clamp.1 as i64);
            let code_units = p.in_norm != InNorm::None;
            let (center, u_ranges) = center(p, ctx, in_ranges)?;
            let q_in: &[Interval] = u_ranges.as_deref().unwrap_or(in_ranges);
            let v_abs = q_in.iter().map(|r| r.abs_max()).max().unwrap_or(0);
            let nonneg = q_in.iter().all(|r| r.lo >= 0);
            // With an in-layer norm the eps clamps never act on a non-zero input (checked by
            // `norm_eps_inactive`), so M needs no floor beyond 1 (docs/semantics.md).
            if code_units {
                norm_eps_inactive(p, ctx, n_in, f_in)?;
            }
            let m_floor = crate::ir::firmware::m_floor(p, f_in);
            let m_max = v_abs.max(m_floor as i128);
            let m_type = ctx.ty("max|x|", Interval::new(0, m_max), 0)?;
            // Codes: |q| ≤ Q in the dynamic modes (see docs/arithmetic.md), any clamp value in static.
            let (qlo, qhi) = match opts.mode {
                Mode::Static => (clamp.0, clamp.1),
                _ => ((-q).max(clamp.0), q.min(clamp.1)),
            };
            let code_range = if nonneg {
                Interval::new(0, qhi as i128)
            } else {
                Interval::new(qlo as i128, qhi as i128)
            };
            // Per output, the real factor of `acc·M` (M in the input's units).
            let post: Vec<f64> = st
                .post_scale
                .iter()
                .map(|a| a * b.beta as f64 / q as f64 / units.rho_in)
                .collect();
            let scaled = match (units.scaled_out, code_units) {
                (true, false) => scaled_units(p, &post, f_in, f_out),
                _ => None,
            };
            let (quant, mult, mult_frac, shift, prod_scale): (
                Quantizer,
                Vec<i64>,
                i32,
                i32,
                Interval,
            ) = match opts.mode {
                Mode::Dynamic => {
                    let g = opts.recip_guard_bits;
                    let e_max = bit_length(m_max as i64);
                    let e_min = bit_length(m_floor);
                    let e_type = ctx.ty("exponent", Interval::new(0, e_max as i128), 0)?;
                    // R = floor((Q·2^(G+e) + floor(M/2)) / M) with 2^(e-1) ≤ M < 2^e lies in
                    // [floor(Q·2^G + 1/2), Q·2^(G+1) + 1/2]; evaluate the extreme M of every e.
                    let mut r_iv: Option<Interval> = None;
                    let mut bound = 0i128;
                    for e in e_min..=e_max {
                        let num = (q as i128) << (g + e);
                        let lo_m = (1i128 << (e - 1)).max(m_floor as i128);
                        let hi_m = ((1i128 << e) - 1).min(m_max);
                        if lo_m > hi_m {
                            continue;
                        }
                        let r_at = |m: i128| (num + m / 2) / m;
                        let iv = Interval::new(r_at(hi_m), r_at(lo_m));
                        r_iv = Some(r_iv.map_or(iv, |u| u.union(iv)));
                        // |V_k·R| ≤ M·(Q·2^(G+e) + M/2)/M = Q·2^(G+e) + M/2 since |V_k| ≤ M.
                        bound = bound.max(num + hi_m / 2);
                    }
                    let recip_type =
                        ctx.ty("reciprocal", r_iv.expect("M range is not empty"), 0)?;
                    ctx.ty(
                        "reciprocal numerator",
                        Interval::new(0, ((q as i128) << (g + e_max)) + m_max / 2),
                        0,
                    )?;
                    let prod_iv = if nonneg {
                        Interval::new(0, bound)
                    } else {
                        Interval::new(-bound, bound)
                    };
                    let prod_type = ctx.ty("V·R", prod_iv, 0)?;
                    let quant = Quantizer::Dynamic {
                        m_type,
                        m_floor,
                        guard: g,
                        e_type,
                        recip_type,
                        prod_type,
                    };
                    let m_iv = Interval::new(m_floor as i128, m_max);
                    if let Some((s, kappa)) = scaled {
                        (f_out, rho_out, dequant) = (0, kappa, Dequant::Scaled);
                        let shift = ctx.shift("dequantization", s)?;
                        (quant, vec![1; post.len()], 0, shift, m_iv)
                    } else {
                        let pc = const_frac(post.iter().copied(), opts.const_bits);
                        let mult = post.iter().map(|c| const_code(*c, pc)).collect();
                        let shift = ctx.shift("dequantization", pc + f_in - f_out)?;
                        (quant, mult, pc, shift, m_iv)
                    }
                }
                Mode::DynamicPow2 => {
                    let e_max = ceil_log2(m_max as i64);
                    let e_type = ctx.ty("exponent", Interval::new(0, e_max as i128), 0)?;
                    let prod_iv = Interval::new(-v_abs, v_abs).mul(Interval::point(q as i128));
                    let prod_iv = if nonneg { prod_iv.relu() } else { prod_iv };
                    let prod_type = ctx.ty("Q·V", prod_iv, 0)?;
                    let pc = const_frac(post.iter().copied(), opts.const_bits);
                    ctx.shift("dequantization", pc + f_in - f_out - ceil_log2(m_floor))?;
                    ctx.shift("dequantization", pc + f_in - f_out - e_max)?;
                    (
                        Quantizer::Pow2 {
                            m_type,
                            m_floor,
                            e_max,
                            e_type,
                            prod_type,
                        },
                        post.iter().map(|c| const_code(*c, pc)).collect(),
                        pc,
                        pc + f_in - f_out,
                        Interval::point(1), // the 2^e factor is a shift, handled below
                    )
                }
                Mode::Static => {
                    let m_cal = static_m_cal(p, calib, st, ctx)?;
                    let quant = if codes_in {
                        Quantizer::Codes { m_cal }
                    } else {
                        let r_real = q as f64 * (2f64).powi(-f_in) / m_cal;
                        // With fused requantization, R_s too is rounded to few signed digits
                        // (a shift-and-add per input; docs/arithmetic.md).
                        let (r, pf) = rounded_consts(&[r_real], opts.input_digits, opts.const_bits);
                        let pf = ctx.shift("requantization", pf)?;
                        let recip = r[0];
                        let prod_iv =
                            Interval::new(-v_abs, v_abs).mul(Interval::point(recip as i128));
                        let prod_iv = if nonneg { prod_iv.relu() } else { prod_iv };
                        let prod_type = ctx.ty("V·R", prod_iv, 0)?;
                        // A negative `pf` shifts V·R left before the clamp.
                        ctx.ty("V·R shifted", prod_iv.shift_round(pf), 0)?;
                        Quantizer::Static {
                            m_cal,
                            recip,
                            recip_frac: pf,
                            prod_type,
                        }
                    };
                    let consts: Vec<f64> = post.iter().map(|c| c * m_cal).collect();
                    let pd = const_frac(consts.iter().copied(), opts.const_bits);
                    (
                        quant,
                        consts.iter().map(|c| const_code(*c, pd)).collect(),
                        pd,
                        ctx.shift("dequantization", pd - f_out)?,
                        Interval::point(1),
                    )
                }
            };
            let (mult, mult_frac, shift, prod_scale) = if code_units {
                // CodeUnits: y = acc·(β/Q) in every mode (docs/arithmetic.md).
                let pc = const_frac(post.iter().copied(), opts.const_bits);
                let mult = post.iter().map(|c| const_code(*c, pc)).collect();
                let shift = ctx.shift("dequantization", pc - f_out)?;
                (mult, pc, shift, Interval::point(1))
            } else {
                (mult, mult_frac, shift, prod_scale)
            };
            // In scaled units (f_out = 0) the bias is `b·κ`.
            let bias: Vec<i64> = (0..b.codes.rows)
                .map(|n| const_code(bias_real(p, b, st, n) * rho_out, f_out))
                .collect();
            let acc_ranges: Vec<Interval> = (0..b.codes.rows)
                .map(|n| {
                    b.codes
                        .row(n)
                        .iter()
                        .fold(Interval::point(0), |a, &t| match t {
                            1 => a.add(code_range),
                            -1 => a.add(code_range.neg()),
                            _ => a,
                        })
                })
                .collect();
            let acc_type = ctx.ty(
                "accumulator",
                acc_ranges.iter().copied().reduce(Interval::union).unwrap(),
                0,
            )?;
            let mut dq_union: Option<Interval> = None;
            let mut pre = Vec::with_capacity(b.codes.rows);
            for n in 0..b.codes.rows {
                let prod = acc_ranges[n]
                    .mul(prod_scale)
                    .mul(Interval::point(mult[n] as i128));
                dq_union = Some(dq_union.map_or(prod, |u| u.union(prod)));
                let y = match &quant {
                    Quantizer::Pow2 { e_max, m_floor, .. } if !code_units => {
                        let e_min = ceil_log2(*m_floor);
                        (e_min..=*e_max)
                            .map(|e| prod.shift_round(shift - e))
                            .reduce(Interval::union)
                            .expect("e range is not empty")
                    }
                    _ => prod.shift_round(shift),
                };
                pre.push(y.add(Interval::point(bias[n] as i128)));
            }
            let mut dequant_type =
                ctx.ty("dequantization product", dq_union.expect("n_out > 0"), 0)?;
            if let (Quantizer::Pow2 { e_max, .. }, false) = (&quant, code_units) {
                // A left shift by up to e_max - shift happens on the product when shift < e.
                let extra = (*e_max - shift).max(0);
                let widened =
                    Interval::new(dq_union.unwrap().lo << extra, dq_union.unwrap().hi << extra);
                dequant_type = ctx.ty("dequantization product", widened, 0)?;
            }
            (
                FwKind::Ternary(TernaryFw {
                    center,
                    quant,
                    qmax: q,
                    clamp,
                    code_range,
                    weights: b.codes.clone(),
                    acc_ranges,
                    acc_type,
                    scale: mult,
                    scale_frac: mult_frac,
                    shift,
                    dequant_type,
                    dequant: if code_units {
                        Dequant::CodeUnits
                    } else {
                        dequant
                    },
                    bias,
                }),
                pre,
            )
        }
        StageOp::Dense(li) => {
            let LayerKind::Linear(l) = &model.layers[li].kind else {
                unreachable!("stage op matches layer kind")
            };
            let folded: Vec<f64> = (0..l.weight.rows)
                .flat_map(|n| {
                    l.weight
                        .row(n)
                        .iter()
                        .map(move |w| *w as f64 * st.post_scale[n])
                })
                .collect();
            let fw = const_frac(folded.iter().copied(), opts.weight_bits);
            let wq: Vec<i64> = folded.iter().map(|w| const_code(*w, fw)).collect();
            let weights = Matrix::new(l.weight.rows, l.weight.cols, wq);
            let weight_type = FixedType::fitting(
                weights.data.iter().fold(Interval::point(0), |a, &w| {
                    a.union(Interval::point(w as i128))
                }),
                fw,
            );
            let acc_ranges: Vec<Interval> = (0..weights.rows)
                .map(|n| {
                    weights
                        .row(n)
                        .iter()
                        .zip(in_ranges)
                        .fold(Interval::point(0), |a, (&w, r)| {
                            a.add(r.mul(Interval::point(w as i128)))
                        })
                })
                .collect();
            let acc_type = ctx.ty(
                "accumulator",
                acc_ranges.iter().copied().reduce(Interval::union).unwrap(),
                fw + f_in,
            )?;
            let shift = ctx.shift("output", fw + f_in - f_out)?;
            let bias: Vec<i64> = (0..weights.rows)
                .map(|n| {
                    let bn = l.bias.as_ref().map(|v| v[n] as f64).unwrap_or(0.0);
                    const_code(st.post_scale[n] * bn + st.post_shift[n], f_out)
                })
                .collect();
            let pre = (0..weights.rows)
                .map(|n| {
                    acc_ranges[n]
                        .shift_round(shift)
                        .add(Interval::point(bias[n] as i128))
                })
                .collect();
            (
                FwKind::Dense(DenseFw {
                    weights,
                    weight_type,
                    acc_ranges,
                    acc_type,
                    shift,
                    bias,
                }),
                pre,
            )
        }
        StageOp::Affine(li) => {
            let (a, c): (Vec<f64>, Vec<f64>) = match li {
                Some(li) => {
                    let LayerKind::Affine(af) = &model.layers[li].kind else {
                        unreachable!("stage op matches layer kind")
                    };
                    (
                        af.scale.iter().map(|v| *v as f64).collect(),
                        af.shift.iter().map(|v| *v as f64).collect(),
                    )
                }
                None => (vec![1.0; n_in], vec![0.0; n_in]),
            };
            let pa = const_frac(a.iter().copied(), opts.const_bits);
            let scale: Vec<i64> = a.iter().map(|v| const_code(*v, pa)).collect();
            let shift = ctx.shift("affine", pa + f_in - f_out)?;
            let bias: Vec<i64> = c.iter().map(|v| const_code(*v, f_out)).collect();
            let prods: Vec<Interval> = in_ranges
                .iter()
                .zip(&scale)
                .map(|(r, &s)| r.mul(Interval::point(s as i128)))
                .collect();
            let prod_type = ctx.ty(
                "affine product",
                prods.iter().copied().reduce(Interval::union).unwrap(),
                0,
            )?;
            let pre = prods
                .iter()
                .zip(&bias)
                .map(|(p, &b)| p.shift_round(shift).add(Interval::point(b as i128)))
                .collect();
            (
                FwKind::Affine(AffineFw {
                    scale,
                    scale_frac: pa,
                    shift,
                    prod_type,
                    bias,
                }),
                pre,
            )
        }
    };
    ctx.ty(
        "pre-activation",
        pre_ranges.iter().copied().reduce(Interval::union).unwrap(),
        f_out,
    )?;
    let out_ranges: Vec<Interval> = if st.relu {
        pre_ranges.iter().map(|r| r.relu()).collect()
    } else {
        pre_ranges
    };
    let out_type = ctx.ty(
        "output",
        out_ranges.iter().copied().reduce(Interval::union).unwrap(),
        f_out,
    )?;
    let layer = FwLayer {
        name: ctx.name.to_string(),
        sources: st.sources.clone(),
        n_in,
        n_out: out_ranges.len(),
        in_type,
        kind,
        relu: st.relu,
        out_ranges,
        out_type,
    };
    Ok((layer, rho_out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::back::emu::problem::{build, Problem};
    use crate::ir::ProfileName;

    fn problem(batchnorm: bool) -> Problem {
        Problem {
            widths: vec![6, 5, 4, 3],
            seed: 7,
            bias: true,
            dense_first: false,
            batchnorm,
            zero_frac: 0.33,
            in_width: 12,
            in_int: 4,
            frac_bits: 10,
            profile: ProfileName::Bithep,
            events: 1,
        }
    }

    fn opts(hidden_units: HiddenUnits) -> LowerOptions {
        LowerOptions {
            frac_bits_origin: None,
            mode: Mode::Dynamic,
            input_type: FixedType {
                signed: true,
                width: 12,
                frac: 8,
            },
            input_type_origin: "test".into(),
            frac_bits: 10,
            const_bits: 18,
            weight_bits: 16,
            recip_guard_bits: 6,
            requant_digits: None,
            input_digits: None,
            hidden_units,
        }
    }

    fn dequants(fw: &Firmware) -> Vec<Dequant> {
        fw.layers
            .iter()
            .map(|l| match &l.kind {
                FwKind::Ternary(t) => t.dequant,
                _ => panic!("ternary only"),
            })
            .collect()
    }

    /// Every stage that feeds a ternary stage outputs scaled units (integers with `acc·M`
    /// alone); the last stays in real units with its `frac_bits`.
    #[test]
    fn hidden_stages_use_scaled_units_and_the_output_does_not() {
        let model = build(&problem(false));
        let fw = lower(&model, &opts(HiddenUnits::Scaled), None).unwrap();
        use Dequant::*;
        assert_eq!(dequants(&fw), [Scaled, Scaled, InputUnits]);
        for l in &fw.layers[..2] {
            let FwKind::Ternary(t) = &l.kind else {
                unreachable!()
            };
            assert!(t.scale.iter().all(|&c| c == 1) && t.scale_frac == 0);
            assert_eq!(l.out_type.frac, 0);
        }
        assert_eq!(fw.layers[2].out_type.frac, 10);
        let real = lower(&model, &opts(HiddenUnits::Real), None).unwrap();
        assert_eq!(dequants(&real), [InputUnits; 3]);
        // A batch norm after the first BitLinear gives per-channel factors: real units there.
        let bn = lower(&build(&problem(true)), &opts(HiddenUnits::Scaled), None).unwrap();
        assert_eq!(dequants(&bn), [InputUnits, Scaled, InputUnits]);
    }

    /// Scaled units keep at least the real units' precision: `κ ∈ [2^f_out, 2^(f_out+1))`.
    #[test]
    fn scaled_units_are_at_least_as_fine_as_frac_bits() {
        let p = Profile::named(ProfileName::Bithep);
        for c in [3.1e-4, 1.0, 0.5, 7.77e3, 2f64.powi(-20)] {
            let (s, kappa) = scaled_units(&p, &[c, c], 10, 12).unwrap();
            assert!((4096.0..8192.0).contains(&kappa), "c {c}: κ {kappa}");
            assert_eq!(kappa, (2f64).powi(10 - s) / c);
        }
    }

    /// Per-output factors that differ (batch norm), a non-positive factor, or an eps clamp that
    /// would act on integer inputs keep real units.
    #[test]
    fn scaled_units_refused_where_the_arithmetic_does_not_allow_them() {
        let mut p = Profile::named(ProfileName::Bithep);
        assert!(scaled_units(&p, &[1e-3, 2e-3], 10, 12).is_none());
        assert!(scaled_units(&p, &[-1e-3, -1e-3], 10, 12).is_none());
        assert!(scaled_units(&p, &[0.0], 10, 12).is_none());
        p.eps_act = 1e-3;
        assert!(scaled_units(&p, &[1e-3], 10, 12).is_none());
        p.eps_act = 1e-5;
        assert!(scaled_units(&p, &[1e-3], 10, 12).is_some());
    }
}
