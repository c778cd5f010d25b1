//! Calibration from data: the input type and the static-mode activation scales.
//!
//! Rules (docs/arithmetic.md §Calibration):
//! * static scale of a BitLinear = the largest `max_k |x_k|` seen at its input over the
//!   calibration set, in the float reference;
//! * input type (when not given) = `ap_fixed<W, I>` with the smallest `I` such that the largest
//!   `|x|` of the calibration set is representable without saturation, at the requested width `W`.

use crate::back::emu::float;
use crate::ir::fixed::FixedType;
use crate::ir::Model;
use rayon::prelude::*;

/// Per float-layer-index maximum |input| (only BitLinear layers are recorded), and the input max.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Calibration {
    pub samples: usize,
    pub input_absmax: f32,
    /// `(float layer index, max over samples of max_k |x_k|)`.
    pub layer_absmax: Vec<(usize, f32)>,
}

impl Calibration {
    /// Combines the statistics of two disjoint sample sets.
    pub fn merge(&mut self, o: &Calibration) {
        self.samples += o.samples;
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
        self.layer_absmax.iter().find(|(l, _)| *l == layer).map(|x| x.1)
    }
}

/// Runs the float reference over `x` (`n × model.inputs`, row-major).
pub fn calibrate(model: &Model, x: &[f32]) -> Calibration {
    let k = model.inputs;
    let n = x.len() / k;
    let per: Vec<(f32, Vec<(usize, f32)>)> = x
        .par_chunks(k * 256)
        .map(|chunk| {
            let mut inmax = 0f32;
            let mut lm: Vec<(usize, f32)> = Vec::new();
            let mut taps = Vec::new();
            for s in chunk.chunks(k) {
                inmax = s.iter().fold(inmax, |a, v| a.max(v.abs()));
                taps.clear();
                float::forward(model, s, Some(&mut taps));
                for t in &taps {
                    match lm.iter_mut().find(|(l, _)| *l == t.layer) {
                        Some(e) => e.1 = e.1.max(t.absmax),
                        None => lm.push((t.layer, t.absmax)),
                    }
                }
            }
            (inmax, lm)
        })
        .collect();
    let mut cal = Calibration { samples: n, ..Default::default() };
    for (inmax, lm) in per {
        cal.input_absmax = cal.input_absmax.max(inmax);
        for (l, v) in lm {
            match cal.layer_absmax.iter_mut().find(|(x, _)| *x == l) {
                Some(e) => e.1 = e.1.max(v),
                None => cal.layer_absmax.push((l, v)),
            }
        }
    }
    cal.layer_absmax.sort_by_key(|x| x.0);
    cal
}

/// The input type of `width` bits that holds `absmax` without saturation.
pub fn input_type_for(absmax: f32, width: u32) -> FixedType {
    let mut int_bits = 1i32;
    loop {
        let t = FixedType { signed: true, width, frac: width as i32 - int_bits };
        if !crate::ir::fixed::saturates(absmax as f64, t) && !crate::ir::fixed::saturates(-(absmax as f64), t) {
            return t;
        }
        int_bits += 1;
    }
}
