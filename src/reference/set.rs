//! Particle-level models in both references: the float forward pass as PyTorch computes it,
//! and the integer pool between the lowered `Φ` and `F` (docs/particles.md).
//!
//! One jet is `x[N·F]` (particle-major) and `mask[N]` (non-zero = real particle).

use super::{fixed, float};
use crate::io::particles::JetShape;
use crate::ir::fixed::quantize_f64;
use crate::ir::set::{JetConcatFw, PoolFw, PoolKind, SetFirmware, SetModel};

impl From<&SetModel> for JetShape {
    fn from(s: &SetModel) -> JetShape {
        JetShape {
            particles: s.particles,
            features: s.features,
            jet: s.jet_features,
        }
    }
}

impl From<&SetFirmware> for JetShape {
    fn from(fw: &SetFirmware) -> JetShape {
        JetShape {
            particles: fw.pool.n,
            features: fw.features(),
            jet: fw.jet_features(),
        }
    }
}

/// The float model on one jet: `Φ` on every real particle (padded ones are never evaluated: a
/// masked pool ignores them), the masked pool (sum accumulated in f64 and rounded once to f32,
/// within float noise of any PyTorch reduction order; mean: that sum divided by the number of
/// real particles in f32; max exact; 0 for a jet without particles), the per-jet inputs `jet[G]` appended (empty when the model has none), then `F`.
pub fn forward(set: &SetModel, x: &[f32], mask: &[u8], jet: &[f32]) -> Vec<f32> {
    float::forward(&set.rho, &rho_input_float(set, x, mask, jet), None)
}

/// `F`'s float input of one jet: the pooled vector, then the jet inputs `jet[G]`.
pub fn rho_input_float(set: &SetModel, x: &[f32], mask: &[u8], jet: &[f32]) -> Vec<f32> {
    assert_eq!(jet.len(), set.jet_features, "jet inputs of one jet");
    let mut v = pool_float(set, x, mask);
    v.extend_from_slice(jet);
    v
}

/// The pooled per-jet vector of the float model (`F`'s input).
pub fn pool_float(set: &SetModel, x: &[f32], mask: &[u8]) -> Vec<f32> {
    let f = set.features;
    let l = set.phi.outputs();
    let mut sum = vec![0f64; l];
    let mut max = vec![f32::NEG_INFINITY; l];
    let mut count = 0usize;
    for (i, _) in mask.iter().enumerate().filter(|(_, m)| **m != 0) {
        count += 1;
        let y = float::forward(&set.phi, &x[i * f..(i + 1) * f], None);
        for (k, v) in y.iter().enumerate() {
            sum[k] += *v as f64;
            max[k] = max[k].max(*v);
        }
    }
    match set.pool {
        PoolKind::Sum => sum.iter().map(|v| *v as f32).collect(),
        // PyTorch's `sum(1) / count.clamp(min=1)`: the f32 sum divided in f32.
        PoolKind::Mean => sum
            .iter()
            .map(|v| *v as f32 / count.max(1) as f32)
            .collect(),
        PoolKind::Max if count > 0 => max,
        PoolKind::Max => vec![0.0; l],
    }
}

/// The integer pool of one jet: `phi_out[N·L]` are `Φ`'s output codes of every particle slot
/// (padded slots are ignored whatever they hold).
pub fn pool_codes(pool: &PoolFw, phi_out: &[i64], mask: &[u8], out: &mut [i64]) {
    let l = out.len();
    let real = mask.iter().enumerate().filter(|(_, m)| **m != 0);
    match pool.kind {
        PoolKind::Sum | PoolKind::Mean => {
            out.fill(0);
            for (i, _) in real {
                for (o, v) in out.iter_mut().zip(&phi_out[i * l..(i + 1) * l]) {
                    *o += v;
                }
            }
            let count = mask.iter().filter(|m| **m != 0).count();
            for o in out.iter_mut() {
                *o = pool.finish(*o, count);
            }
        }
        PoolKind::Max => {
            out.fill(i64::MIN);
            let mut any = false;
            for (i, _) in real {
                any = true;
                for (o, v) in out.iter_mut().zip(&phi_out[i * l..(i + 1) * l]) {
                    *o = (*o).max(*v);
                }
            }
            if !any {
                out.fill(0);
            }
        }
    }
}

/// `F`'s input codes of one jet: the pooled codes, then the jet inputs quantized with the
/// concatenation's input type, both aligned to its output type (`out[L + G]`). Without jet
/// inputs, `out` is `pooled`.
pub fn concat_codes(jc: Option<&JetConcatFw>, pooled: &[i64], jet: &[f32], out: &mut [i64]) {
    let Some(jc) = jc else {
        out.copy_from_slice(pooled);
        return;
    };
    let (ps, js) = (jc.pool_shift(), jc.jet_shift());
    let l = pooled.len();
    for (o, p) in out[..l].iter_mut().zip(pooled) {
        *o = p << ps;
    }
    for (o, v) in out[l..].iter_mut().zip(jet) {
        *o = quantize_f64(*v as f64, jc.in_type) << js;
    }
}

/// The reference emulator of a particle-level firmware: the fixed-point reference of `Φ` on
/// every real slot, [`pool_codes`], then the reference of `F`. Build it once per firmware and
/// run it on every jet (building the chains' emulators is the costly part).
pub struct SetReference<'a> {
    fw: &'a SetFirmware,
    pub phi: fixed::Emulator<'a>,
    rho: fixed::Emulator<'a>,
}

impl<'a> SetReference<'a> {
    pub fn new(fw: &'a SetFirmware) -> SetReference<'a> {
        SetReference {
            fw,
            phi: fixed::Emulator::new(&fw.phi),
            rho: fixed::Emulator::new(&fw.rho),
        }
    }

    /// `F`'s output codes of one jet `x[N·F]`, `mask[N]`, jet inputs `jet[G]`.
    pub fn run(&self, x: &[f32], mask: &[u8], jet: &[f32]) -> Vec<i64> {
        let (f, l) = (self.fw.phi.n_in, self.fw.phi.n_out);
        let mut codes = vec![0i64; f];
        let mut phi_out = vec![0i64; mask.len() * l];
        for (i, _) in mask.iter().enumerate().filter(|(_, m)| **m != 0) {
            self.phi.quantize_input(&x[i * f..(i + 1) * f], &mut codes);
            self.phi.run_codes(&codes, &mut phi_out[i * l..(i + 1) * l]);
        }
        let mut pooled = vec![0i64; l];
        pool_codes(&self.fw.pool, &phi_out, mask, &mut pooled);
        let mut input = vec![0i64; self.fw.rho.n_in];
        concat_codes(self.fw.jet.as_ref(), &pooled, jet, &mut input);
        let mut out = vec![0i64; self.fw.rho.n_out];
        self.rho.run_codes(&input, &mut out);
        out
    }
}

/// [`SetReference::run`] on one jet (builds the emulators; use [`SetReference`] for many jets).
pub fn run(fw: &SetFirmware, x: &[f32], mask: &[u8], jet: &[f32]) -> Vec<i64> {
    SetReference::new(fw).run(x, mask, jet)
}
