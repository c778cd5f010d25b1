//! Calibration from data: the input type and the static-mode activation scales.
//!
//! Rules (docs/arithmetic.md §Calibration):
//! * static scale of a BitLinear ([`CalibRule`]): either the `q`-quantile over the calibration
//!   samples of `max_k |u_k|` at its quantizer input `u` in the float reference, or the scale
//!   of a grid that minimizes the mean squared quantization error of every element of `u`;
//! * input type (when not given) = `ap_fixed<W, I>` with the smallest `I` such that the largest
//!   `|x|` of the calibration set is representable without saturation, at the requested width `W`.

use crate::ir::fixed::FixedType;
use crate::ir::profile::InNorm;
use crate::ir::{LayerKind, Model, Profile};
use crate::reference::float;
use rayon::prelude::*;

/// How [`Calibration::with_rule`] chooses each static BitLinear's scale `m_cal`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CalibRule {
    /// The `--calib-quantile` quantile of the per-sample `max_k |u_k|`.
    Quantile,
    /// The candidate scale with the least mean squared quantization error over every element
    /// of the layer's quantizer input on the calibration set ([`mse_scale`]).
    Mse,
}

impl crate::choice::Choice for CalibRule {
    const ALL: &'static [CalibRule] = &[CalibRule::Quantile, CalibRule::Mse];
    fn name(self) -> &'static str {
        match self {
            CalibRule::Quantile => "quantile",
            CalibRule::Mse => "mse",
        }
    }
    fn help(self) -> &'static str {
        match self {
            CalibRule::Quantile => "the --calib-quantile quantile of the per-sample max|x|",
            CalibRule::Mse => "the scale minimizing the mean squared quantization error",
        }
    }
}

/// Number of grid points of [`mse_scale`]: `m = M·i/MSE_GRID`, `i = 1..=MSE_GRID`.
pub const MSE_GRID: usize = 128;

/// Per float-layer-index maximum |input| (only BitLinear layers are recorded), and the input max.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Calibration {
    pub samples: usize,
    pub input_absmax: f32,
    /// `(float layer index, static scale)`: the max over samples of `max_k |x_k|`, or the
    /// quantile chosen by [`Calibration::with_quantile`].
    pub layer_absmax: Vec<(usize, f32)>,
    /// Per layer, every sample's `max_k |x_k|` (kept for quantiles).
    #[serde(skip)]
    pub per_sample: Vec<(usize, Vec<f32>)>,
    /// Per layer, every element of every sample's quantizer input `u` (for [`CalibRule::Mse`];
    /// `samples × K` values per layer).
    #[serde(skip)]
    pub elements: Vec<(usize, Vec<f32>)>,
    /// The rule that produced `layer_absmax`, for reports.
    pub rule: String,
}

impl Calibration {
    /// Replaces each layer's scale by the `q`-quantile (nearest rank, `0 < q ≤ 1`) of the
    /// per-sample maxima. Inputs beyond it saturate in static mode.
    pub fn with_quantile(mut self, q: f64) -> Calibration {
        for (layer, v) in &self.per_sample {
            if v.is_empty() {
                continue;
            }
            let mut v = v.clone();
            let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
            let (_, x, _) = v.select_nth_unstable_by(rank, |a, b| a.total_cmp(b));
            let x = *x;
            if let Some(e) = self.layer_absmax.iter_mut().find(|(l, _)| l == layer) {
                e.1 = x;
            }
        }
        self.rule = if q >= 1.0 {
            "max over the calibration set".into()
        } else {
            format!("{q} quantile of per-sample max|x|")
        };
        self
    }

    /// Applies `rule`: the `q`-quantile ([`Calibration::with_quantile`]), or per layer the
    /// [`mse_scale`] over the grid up to the largest per-sample maximum plus that quantile, with
    /// the profile's `Q` and clamp (so its error is never above the quantile rule's).
    pub fn with_rule(self, rule: CalibRule, q: f64, p: &Profile) -> Calibration {
        let mut cal = self.with_quantile(q);
        if rule == CalibRule::Quantile {
            return cal;
        }
        for (layer, u) in &cal.elements {
            let Some(e) = cal.layer_absmax.iter_mut().find(|(l, _)| l == layer) else {
                continue;
            };
            let top = cal
                .per_sample
                .iter()
                .find(|(l, _)| l == layer)
                .map_or(e.1, |(_, v)| v.iter().copied().fold(0f32, f32::max));
            let mut cands = grid(top);
            cands.push(e.1);
            e.1 = mse_scale(u, &cands, p.act_qmax, p.act_clamp);
        }
        cal.rule = format!(
            "least-MSE scale per layer ({MSE_GRID}-point grid up to max|x|, and the {q} quantile)"
        );
        cal
    }

    /// Combines the statistics of two disjoint sample sets.
    pub fn merge(&mut self, o: &Calibration) {
        self.samples += o.samples;
        for (l, v) in &o.per_sample {
            match self.per_sample.iter_mut().find(|(x, _)| x == l) {
                Some(e) => e.1.extend_from_slice(v),
                None => self.per_sample.push((*l, v.clone())),
            }
        }
        for (l, v) in &o.elements {
            match self.elements.iter_mut().find(|(x, _)| x == l) {
                Some(e) => e.1.extend_from_slice(v),
                None => self.elements.push((*l, v.clone())),
            }
        }
        if self.rule.is_empty() {
            self.rule = o.rule.clone();
        }
        self.input_absmax = self.input_absmax.max(o.input_absmax);
        for &(l, v) in &o.layer_absmax {
            match self.layer_absmax.iter_mut().find(|(x, _)| *x == l) {
                Some(e) => e.1 = e.1.max(v),
                None => self.layer_absmax.push((l, v)),
            }
        }
        self.layer_absmax.sort_by_key(|x| x.0);
    }

    pub fn absmax_of(&self, layer: usize) -> Option<f32> {
        self.layer_absmax
            .iter()
            .find(|(l, _)| *l == layer)
            .map(|x| x.1)
    }
}

/// `n` evenly spaced candidate scales `top·i/n`, `i = 1..=n` ([`MSE_GRID`] of them).
fn grid(top: f32) -> Vec<f32> {
    (1..=MSE_GRID)
        .map(|i| top * i as f32 / MSE_GRID as f32)
        .collect()
}

/// Mean over `u` of `(u − c/g)²`, `c = clamp(round_half_even(u·g), lo, hi)`, `g = Q/m`: the
/// static quantizer's error at scale `m` (in f64; 0 for an empty `u`).
pub fn quant_mse(u: &[f32], m: f32, qmax: i32, (lo, hi): (i32, i32)) -> f64 {
    if u.is_empty() {
        return 0.0;
    }
    let g = qmax as f32 / m;
    let sum: f64 = u
        .iter()
        .map(|&v| {
            let c = (v * g).round_ties_even().clamp(lo as f32, hi as f32);
            let d = (v - c / g) as f64;
            d * d
        })
        .sum();
    sum / u.len() as f64
}

/// The positive candidate with the least [`quant_mse`] on `u` (the first on ties; `cands`
/// must hold at least one positive value).
pub fn mse_scale(u: &[f32], cands: &[f32], qmax: i32, clamp: (i32, i32)) -> f32 {
    cands
        .par_iter()
        .copied()
        .filter(|&m| m > 0.0)
        .map(|m| (quant_mse(u, m, qmax, clamp), m))
        .collect::<Vec<_>>()
        .into_iter()
        .fold(None, |best: Option<(f64, f32)>, c| match best {
            Some(b) if b.0 <= c.0 => Some(b),
            _ => Some(c),
        })
        .map_or(0.0, |b| b.1)
}

/// The firmware quantizer's input `u` of a BitLinear whose input is `x`: `x`, or `K·x − Σx`
/// under a layer norm (the elements whose maximum is [`float::quantizer_absmax`]).
fn quantizer_input(x: &[f32], p: &Profile) -> Vec<f32> {
    match p.in_norm {
        InNorm::LayerNorm => {
            let k = x.len() as f64;
            let sum = x.iter().map(|&v| v as f64).sum::<f64>();
            x.iter().map(|&v| (k * v as f64 - sum) as f32).collect()
        }
        _ => x.to_vec(),
    }
}

/// Per-layer statistics of one chunk of samples: `(layer, per-sample max|u|, elements of u)`.
type ChunkStats = (f32, Vec<(usize, Vec<f32>, Vec<f32>)>);

/// Runs `samples` (rows of `k`) through the float reference one layer at a time (`singles[i]`
/// = layer `i` alone), recording each BitLinear's quantizer input.
fn chunk_stats(model: &Model, singles: &[Model], samples: &[f32], k: usize) -> ChunkStats {
    let p = &model.profile;
    let mut inmax = 0f32;
    let mut lm: Vec<(usize, Vec<f32>, Vec<f32>)> = Vec::new();
    for s in samples.chunks(k) {
        inmax = s.iter().fold(inmax, |a, v| a.max(v.abs()));
        let mut cur = s.to_vec();
        for (li, single) in singles.iter().enumerate() {
            if matches!(model.layers[li].kind, LayerKind::BitLinear(_)) {
                let absmax = float::quantizer_absmax(&cur, p);
                let u = quantizer_input(&cur, p);
                match lm.iter_mut().find(|(l, _, _)| *l == li) {
                    Some(e) => {
                        e.1.push(absmax);
                        e.2.extend(u);
                    }
                    None => lm.push((li, vec![absmax], u)),
                }
            }
            cur = float::forward_units(single, &cur, None, float::Units::Firmware);
        }
    }
    (inmax, lm)
}

/// Runs the float reference over `x` (`n × model.inputs`, row-major). Every BitLinear's input
/// is the float reference's (not the static firmware's), so layers are calibrated independently.
pub fn calibrate(model: &Model, x: &[f32]) -> Calibration {
    let k = model.inputs;
    let n = x.len() / k;
    let singles: Vec<Model> = model
        .layers
        .iter()
        .map(|l| Model {
            name: String::new(),
            inputs: 0,
            profile: model.profile.clone(),
            layers: vec![l.clone()],
            input_type: None,
        })
        .collect();
    let per: Vec<ChunkStats> = x
        .par_chunks(k * 256)
        .map(|chunk| chunk_stats(model, &singles, chunk, k))
        .collect();
    let mut cal = Calibration {
        samples: n,
        rule: "max over the calibration set".into(),
        ..Default::default()
    };
    for (inmax, lm) in per {
        cal.input_absmax = cal.input_absmax.max(inmax);
        for (l, v, u) in lm {
            match cal.per_sample.iter_mut().find(|(x, _)| *x == l) {
                Some(e) => e.1.extend(v),
                None => cal.per_sample.push((l, v)),
            }
            match cal.elements.iter_mut().find(|(x, _)| *x == l) {
                Some(e) => e.1.extend(u),
                None => cal.elements.push((l, u)),
            }
        }
    }
    cal.per_sample.sort_by_key(|x| x.0);
    cal.elements.sort_by_key(|x| x.0);
    cal.layer_absmax = cal
        .per_sample
        .iter()
        .map(|(l, v)| (*l, v.iter().copied().fold(0f32, f32::max)))
        .collect();
    cal
}

/// The input type of `width` bits that holds `absmax` without saturation.
pub fn input_type_for(absmax: f32, width: u32) -> FixedType {
    let mut int_bits = 1i32;
    loop {
        let t = FixedType {
            signed: true,
            width,
            frac: width as i32 - int_bits,
        };
        if !crate::ir::fixed::saturates(absmax as f64, t)
            && !crate::ir::fixed::saturates(-(absmax as f64), t)
        {
            return t;
        }
        int_bits += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::{mse_scale, quant_mse, CalibRule, Calibration};
    use crate::ir::profile::{Profile, ProfileName};

    /// 4000 samples of 16 Gaussian elements; one sample in 50 has one element ×25 (heavy tail).
    fn heavy_tailed() -> Calibration {
        let k = 16;
        let mut u = crate::synthetic::gaussian(4000 * k, 11);
        for s in (0..4000).step_by(50) {
            u[s * k + s % k] *= 25.0;
        }
        let per: Vec<f32> = u
            .chunks(k)
            .map(|r| r.iter().fold(0f32, |a, v| a.max(v.abs())))
            .collect();
        let top = per.iter().copied().fold(0f32, f32::max);
        Calibration {
            samples: 4000,
            input_absmax: 1.0,
            layer_absmax: vec![(0, top)],
            per_sample: vec![(0, per)],
            elements: vec![(0, u)],
            rule: String::new(),
        }
    }

    #[test]
    fn mse_rule_beats_the_quantile_under_a_heavy_tail_at_narrow_b() {
        let mut p = Profile::named(ProfileName::Bithep);
        p.set_act_bits(4).unwrap();
        let cal = heavy_tailed();
        let u = cal.elements[0].1.clone();
        let top = cal.layer_absmax[0].1;
        let quant = cal.clone().with_rule(CalibRule::Quantile, 0.999, &p);
        let mse = cal.with_rule(CalibRule::Mse, 0.999, &p);
        let (mq, mm) = (quant.absmax_of(0).unwrap(), mse.absmax_of(0).unwrap());
        assert!(
            mm < 0.5 * mq && mm < top,
            "mse scale {mm}, quantile {mq}, max {top}"
        );
        let err = |m| quant_mse(&u, m, p.act_qmax, p.act_clamp);
        assert!(
            err(mm) < 0.5 * err(mq),
            "mse {} vs quantile {}",
            err(mm),
            err(mq)
        );
        assert!(mse.rule.contains("MSE") && quant.rule.contains("quantile"));
    }

    #[test]
    fn mse_scale_is_the_argmin_of_the_candidates() {
        let u = crate::synthetic::gaussian(3000, 5);
        let cands: Vec<f32> = (1..=40).map(|i| i as f32 * 0.15).collect();
        let best = mse_scale(&u, &cands, 3, (-4, 3));
        let e = |m| quant_mse(&u, m, 3, (-4, 3));
        assert!(cands.iter().all(|&m| e(best) <= e(m)));
        // A unit Gaussian at Q = 3 is best cut near 2σ, far inside max|u|.
        assert!(best > 1.0 && best < 3.5, "{best}");
    }

    #[test]
    fn quantile_is_nearest_rank() {
        let v: Vec<f32> = (1..=1000).rev().map(|i| i as f32).collect();
        let cal = Calibration {
            samples: 1000,
            input_absmax: 1.0,
            layer_absmax: vec![(3, 1000.0)],
            per_sample: vec![(3, v)],
            elements: vec![],
            rule: String::new(),
        };
        assert_eq!(cal.clone().with_quantile(1.0).absmax_of(3), Some(1000.0));
        assert_eq!(cal.clone().with_quantile(0.999).absmax_of(3), Some(999.0));
        assert_eq!(cal.clone().with_quantile(0.5).absmax_of(3), Some(500.0));
        assert_eq!(cal.with_quantile(1e-9).absmax_of(3), Some(1.0));
    }
}
