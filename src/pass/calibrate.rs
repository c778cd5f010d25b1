//! Calibration from data: the input type and the static-mode activation scales.
//!
//! Rules (docs/arithmetic.md §Calibration):
//! * static scale of a BitLinear = the `q`-quantile (default `q = 1`: the largest) over the
//!   calibration samples of `max_k |x_k|` at its input, in the float reference;
//! * input type (when not given) = `ap_fixed<W, I>` with the smallest `I` such that the largest
//!   `|x|` of the calibration set is representable without saturation, at the requested width `W`.

use crate::ir::fixed::FixedType;
use crate::ir::Model;
use crate::reference::float;
use rayon::prelude::*;

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

    /// Combines the statistics of two disjoint sample sets.
    pub fn merge(&mut self, o: &Calibration) {
        self.samples += o.samples;
        for (l, v) in &o.per_sample {
            match self.per_sample.iter_mut().find(|(x, _)| x == l) {
                Some(e) => e.1.extend_from_slice(v),
                None => self.per_sample.push((*l, v.clone())),
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

/// Runs the float reference over `x` (`n × model.inputs`, row-major).
pub fn calibrate(model: &Model, x: &[f32]) -> Calibration {
    let k = model.inputs;
    let n = x.len() / k;
    let per: Vec<(f32, Vec<(usize, Vec<f32>)>)> = x
        .par_chunks(k * 256)
        .map(|chunk| {
            let mut inmax = 0f32;
            let mut lm: Vec<(usize, Vec<f32>)> = Vec::new();
            let mut taps = Vec::new();
            for s in chunk.chunks(k) {
                inmax = s.iter().fold(inmax, |a, v| a.max(v.abs()));
                taps.clear();
                float::forward_units(model, s, Some(&mut taps), float::Units::Firmware);
                for t in &taps {
                    match lm.iter_mut().find(|(l, _)| *l == t.layer) {
                        Some(e) => e.1.push(t.absmax),
                        None => lm.push((t.layer, vec![t.absmax])),
                    }
                }
            }
            (inmax, lm)
        })
        .collect();
    let mut cal = Calibration {
        samples: n,
        rule: "max over the calibration set".into(),
        ..Default::default()
    };
    for (inmax, lm) in per {
        cal.input_absmax = cal.input_absmax.max(inmax);
        for (l, v) in lm {
            match cal.per_sample.iter_mut().find(|(x, _)| *x == l) {
                Some(e) => e.1.extend(v),
                None => cal.per_sample.push((l, v)),
            }
        }
    }
    cal.per_sample.sort_by_key(|x| x.0);
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
    use super::Calibration;

    #[test]
    fn quantile_is_nearest_rank() {
        let v: Vec<f32> = (1..=1000).rev().map(|i| i as f32).collect();
        let cal = Calibration {
            samples: 1000,
            input_absmax: 1.0,
            layer_absmax: vec![(3, 1000.0)],
            per_sample: vec![(3, v)],
            rule: String::new(),
        };
        assert_eq!(cal.clone().with_quantile(1.0).absmax_of(3), Some(1000.0));
        assert_eq!(cal.clone().with_quantile(0.999).absmax_of(3), Some(999.0));
        assert_eq!(cal.clone().with_quantile(0.5).absmax_of(3), Some(500.0));
        assert_eq!(cal.with_quantile(1e-9).absmax_of(3), Some(1.0));
    }
}
