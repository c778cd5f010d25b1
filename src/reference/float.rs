//! The float reference: the fake-quant forward pass as PyTorch computes it in f32.
//!
//! Per BitLinear (profile [`Profile`]): `m = max(max_k |x_k|, eps)`, `g = Q·(1/m)` (PyTorch
//! evaluates `Q / tensor` as a reciprocal times Q), `q_k = clamp(round_half_even(x_k·g))`,
//! `y_n = Σ_k (q_k / g)·(T_nk·β) + b_n`. Sums are accumulated in f64 and rounded once, so the
//! result is within float noise of any PyTorch reduction order.
//!
//! Profiles with an in-layer norm (kyegomez, schneiderkamp) quantize `x̂ = norm(x)` instead of
//! `x`, and the schneiderkamp profile adds the bias to the integer accumulator before dividing by
//! both scales; see docs/semantics.md.

use crate::ir::profile::{ActScaleOp, BiasMode, InNorm};
use crate::ir::{BitLinear, LayerKind, Model, Profile};

/// Activation codes of one BitLinear layer for one sample, plus the layer input's scale.
pub struct Tap {
    pub layer: usize,
    pub codes: Vec<i32>,
    /// `max_k |u_k|` of the firmware quantizer's input (before the eps clamp): the layer input
    /// `x`, or `K·x − Σx` for a layer-norm profile ([`quantizer_absmax`]).
    pub absmax: f32,
    /// `min_k | |frac(x̂_k·g)| − 0.5 |` in f64 from the f32 `x̂` and `g`: how far the nearest
    /// code is from a rounding tie (small values: float noise may round it either way).
    pub margin: f32,
    /// Whether the activation eps clamp acted (`max|x̂| < eps_act`): under an in-layer norm the
    /// firmware's codes are then not PyTorch's (docs/semantics.md, hidden-layer eps caveat).
    pub clamped: bool,
    /// How many inputs of the quantizer land on a rounding tie `x̂_k·g = n + 0.5` inside the clamp
    /// range, exactly or within [`TIE_ULPS`] float32 ulps: round-half-even settles exact ties
    /// here, PyTorch by float noise in its own `x̂·g`, and within a few ulps the summation order
    /// of the layer before decides; so the codes (and possibly the output) of such a sample are
    /// not determined by the model alone.
    pub ties: u32,
}

/// Distance from a .5 tie, in float32 ulps of `x·g`, still counted as a tie.
pub const TIE_ULPS: f32 = 4.0;

/// The number of `x_k·g` on (or within [`TIE_ULPS`] ulps of) the half-way point between two
/// codes that both lie in the clamp range.
pub fn count_ties(x: &[f32], g: f32, p: &Profile) -> u32 {
    let (lo, hi) = (p.act_clamp.0 as f32, p.act_clamp.1 as f32);
    x.iter()
        .filter(|&&v| {
            let t = v * g;
            let half = t.floor() + 0.5;
            let near = (t - half).abs() <= TIE_ULPS * f32::EPSILON * t.abs().max(1.0);
            near && half - 0.5 >= lo && half + 0.5 <= hi
        })
        .count() as u32
}

/// The activation scale `g` and codes of one vector, exactly as the profile computes them.
pub fn act_quant(x: &[f32], p: &Profile, codes: &mut Vec<i32>) -> f32 {
    let absmax = x.iter().fold(0f32, |a, v| a.max(v.abs()));
    let m = absmax.max(p.eps_act);
    let q = p.act_qmax as f32;
    let g = match p.act_scale_op {
        ActScaleOp::TorchReciprocal => q * (1.0f32 / m),
        ActScaleOp::Divide => q / m,
    };
    codes.clear();
    codes.extend(x.iter().map(|v| {
        ((v * g).round_ties_even()).clamp(p.act_clamp.0 as f32, p.act_clamp.1 as f32) as i32
    }));
    g
}

/// Which units [`forward_units`] returns BitLinear outputs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Units {
    /// What the profile's PyTorch package computes.
    Torch,
    /// What the firmware computes (docs/semantics.md "Output units"): for profiles with an
    /// in-layer norm, each BitLinear output is `β·(acc + b)/Q` (bias only where the package
    /// uses it), i.e. PyTorch's output times `max_k|x̂_k|` of the layer's normalized input `x̂`
    /// — a positive per-event factor that the next layer's norm removes. Equal to `Torch` for
    /// profiles without an in-layer norm.
    Firmware,
}

/// Runs one sample with PyTorch's semantics. `taps`, when given, receives the codes of every
/// BitLinear layer.
pub fn forward(model: &Model, x: &[f32], taps: Option<&mut Vec<Tap>>) -> Vec<f32> {
    forward_units(model, x, taps, Units::Torch)
}

/// The profile's parameter-free input normalization `x̂` (f64 statistics, one f32 rounding).
pub fn normalize(x: &[f32], p: &Profile) -> Vec<f32> {
    let k = x.len().max(1) as f64;
    match p.in_norm {
        InNorm::None => x.to_vec(),
        InNorm::SimpleRms => {
            // F.normalize: x / max(‖x‖₂, eps), then · K^-1/2 (a Python float, applied in f32).
            let norm =
                (x.iter().map(|&v| (v as f64).powi(2)).sum::<f64>().sqrt() as f32).max(p.eps_norm);
            let s = k.powf(-0.5) as f32;
            x.iter().map(|&v| (v / norm) * s).collect()
        }
        InNorm::LayerNorm => {
            let mean = x.iter().map(|&v| v as f64).sum::<f64>() / k;
            let var = x.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / k;
            let rstd = 1.0 / (var + p.eps_norm as f64).sqrt();
            x.iter()
                .map(|&v| ((v as f64 - mean) * rstd) as f32)
                .collect()
        }
    }
}

/// `max_k |u_k|` of the firmware quantizer's input `u`: `x` itself, or `K·x − Σx` under a
/// layer norm (docs/arithmetic.md), in the units of `x`.
pub fn quantizer_absmax(x: &[f32], p: &Profile) -> f32 {
    match p.in_norm {
        InNorm::LayerNorm => {
            let k = x.len() as f64;
            let sum = x.iter().map(|&v| v as f64).sum::<f64>();
            x.iter()
                .fold(0f64, |a, &v| a.max((k * v as f64 - sum).abs())) as f32
        }
        _ => x.iter().fold(0f32, |a, v| a.max(v.abs())),
    }
}

/// One BitLinear layer on one sample; `codes` receives the activation codes.
fn bitlinear(
    b: &BitLinear,
    x: &[f32],
    p: &Profile,
    units: Units,
    codes: &mut Vec<i32>,
    (margin, ties, clamped): (&mut f32, &mut u32, &mut bool),
) -> Vec<f32> {
    let xn = normalize(x, p);
    *clamped = xn.iter().fold(0f32, |a, v| a.max(v.abs())) < p.eps_act;
    let g = act_quant(&xn, p, codes);
    *ties = count_ties(&xn, g, p);
    *margin = xn.iter().fold(f32::INFINITY, |a, &v| {
        let t = v as f64 * g as f64;
        a.min(((t - t.trunc()).abs() - 0.5).abs() as f32)
    });
    let acc_of = |row: &[i8]| -> i64 {
        row.iter()
            .zip(codes.iter())
            .map(|(&t, &c)| t as i64 * c as i64)
            .sum()
    };
    let bias = |n: usize| b.bias.as_ref().map_or(0.0, |v| v[n]);
    let fw_units = units == Units::Firmware && p.in_norm != InNorm::None;
    (0..b.codes.rows)
        .map(|n| match p.bias {
            _ if fw_units => {
                let bn = if p.bias == BiasMode::BeforeDequant {
                    bias(n) as f64
                } else {
                    0.0
                };
                ((acc_of(b.codes.row(n)) as f64 + bn) * b.beta as f64 / p.act_qmax as f64) as f32
            }
            BiasMode::BeforeDequant => {
                // F.linear(x_quant, w_quant, bias) / (w_scale · x_scale), w_scale = 1/β.
                let den = (1.0f32 / b.beta) * g;
                (acc_of(b.codes.row(n)) as f32 + bias(n)) / den
            }
            BiasMode::AfterDequant | BiasMode::Unused => {
                let mut acc = 0f64;
                for (k, &t) in b.codes.row(n).iter().enumerate() {
                    if t != 0 {
                        acc += ((codes[k] as f32 / g) * (t as f32 * b.beta)) as f64;
                    }
                }
                let y = acc as f32;
                if p.bias == BiasMode::AfterDequant {
                    y + bias(n)
                } else {
                    y
                }
            }
        })
        .collect()
}

/// Runs one sample in the given units. `taps`, when given, receives the codes of every
/// BitLinear layer and [`quantizer_absmax`] of its input.
pub fn forward_units(
    model: &Model,
    x: &[f32],
    mut taps: Option<&mut Vec<Tap>>,
    units: Units,
) -> Vec<f32> {
    let p = &model.profile;
    let mut cur: Vec<f32> = x.to_vec();
    let mut codes = Vec::new();
    for (li, layer) in model.layers.iter().enumerate() {
        cur = match &layer.kind {
            LayerKind::BitLinear(b) => {
                let absmax = quantizer_absmax(&cur, p);
                let (mut margin, mut ties, mut clamped) = (0.0, 0, false);
                let out = bitlinear(
                    b,
                    &cur,
                    p,
                    units,
                    &mut codes,
                    (&mut margin, &mut ties, &mut clamped),
                );
                if let Some(t) = taps.as_deref_mut() {
                    t.push(Tap {
                        layer: li,
                        codes: codes.clone(),
                        absmax,
                        margin,
                        ties,
                        clamped,
                    });
                }
                out
            }
            LayerKind::Linear(l) => (0..l.weight.rows)
                .map(|n| {
                    let acc: f64 = l
                        .weight
                        .row(n)
                        .iter()
                        .zip(&cur)
                        .map(|(w, x)| (w * x) as f64)
                        .sum();
                    let y = acc as f32;
                    match &l.bias {
                        Some(b) => y + b[n],
                        None => y,
                    }
                })
                .collect(),
            LayerKind::Relu => cur.iter().map(|v| v.max(0.0)).collect(),
            LayerKind::Affine(a) => cur
                .iter()
                .enumerate()
                .map(|(i, v)| v * a.scale[i] + a.shift[i])
                .collect(),
        };
    }
    cur
}
