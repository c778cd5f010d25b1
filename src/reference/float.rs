//! The float reference: the fake-quant forward pass as PyTorch computes it in f32.
//!
//! Per BitLinear (profile [`Profile`]): `m = max(max_k |x_k|, eps)`, `g = Q·(1/m)` (PyTorch
//! evaluates `Q / tensor` as a reciprocal times Q), `q_k = clamp(round_half_even(x_k·g))`,
//! `y_n = Σ_k (q_k / g)·(T_nk·β) + b_n`. Sums are accumulated in f64 and rounded once, so the
//! result is within float noise of any PyTorch reduction order.

use crate::ir::profile::ActScaleOp;
use crate::ir::{LayerKind, Model, Profile};

/// Activation codes of one BitLinear layer for one sample, plus the layer input's scale.
pub struct Tap {
    pub layer: usize,
    pub codes: Vec<i32>,
    /// `max_k |x_k|` at the layer input (before the eps clamp).
    pub absmax: f32,
    /// How many inputs land on a rounding tie `x_k·g = n + 0.5` inside the clamp range, exactly
    /// or within [`TIE_ULPS`] float32 ulps: round-half-even settles exact ties here, PyTorch by
    /// float noise in its own `x·g`, and within a few ulps the summation order of the layer
    /// before decides; so the codes (and possibly the output) of such a sample are not
    /// determined by the model alone.
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

/// Runs one sample. `taps`, when given, receives the codes of every BitLinear layer.
pub fn forward(model: &Model, x: &[f32], mut taps: Option<&mut Vec<Tap>>) -> Vec<f32> {
    let p = &model.profile;
    let mut cur: Vec<f32> = x.to_vec();
    let mut codes = Vec::new();
    for (li, layer) in model.layers.iter().enumerate() {
        cur = match &layer.kind {
            LayerKind::BitLinear(b) => {
                let absmax = cur.iter().fold(0f32, |a, v| a.max(v.abs()));
                let g = act_quant(&cur, p, &mut codes);
                let xq: Vec<f32> = codes.iter().map(|&c| c as f32 / g).collect();
                let wpos = b.beta;
                let out: Vec<f32> = (0..b.codes.rows)
                    .map(|n| {
                        let row = b.codes.row(n);
                        let mut acc = 0f64;
                        for (k, &t) in row.iter().enumerate() {
                            if t != 0 {
                                acc += (xq[k] * (t as f32 * wpos)) as f64;
                            }
                        }
                        let y = acc as f32;
                        match &b.bias {
                            Some(bias) => y + bias[n],
                            None => y,
                        }
                    })
                    .collect();
                if let Some(t) = taps.as_deref_mut() {
                    t.push(Tap {
                        layer: li,
                        codes: codes.clone(),
                        absmax,
                        ties: count_ties(&cur, g, p),
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
