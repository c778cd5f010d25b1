//! Particle-level models in both references: the float forward pass as PyTorch computes it,
//! and the integer pool between the lowered `Φ` and `F` (docs/particles.md).
//!
//! One jet is `x[N·F]` (particle-major) and `mask[N]` (non-zero = real particle).

use super::{fixed, float};
use crate::ir::set::{PoolFw, PoolKind, SetFirmware, SetModel};

/// The float model on one jet: `Φ` on every real particle (padded ones are never evaluated: a
/// masked pool ignores them), the masked pool (sum accumulated in f64 and rounded once to f32,
/// within float noise of any PyTorch reduction order; max exact; 0 for a jet without
/// particles), then `F`.
pub fn forward(set: &SetModel, x: &[f32], mask: &[u8]) -> Vec<f32> {
    let pooled = pool_float(set, x, mask);
    float::forward(&set.rho, &pooled, None)
}

/// The pooled per-jet vector of the float model (`F`'s input).
pub fn pool_float(set: &SetModel, x: &[f32], mask: &[u8]) -> Vec<f32> {
    let f = set.features;
    let l = set.phi.outputs();
    let mut sum = vec![0f64; l];
    let mut max = vec![f32::NEG_INFINITY; l];
    let mut any = false;
    for (i, _) in mask.iter().enumerate().filter(|(_, m)| **m != 0) {
        any = true;
        let y = float::forward(&set.phi, &x[i * f..(i + 1) * f], None);
        for (k, v) in y.iter().enumerate() {
            sum[k] += *v as f64;
            max[k] = max[k].max(*v);
        }
    }
    match set.pool {
        PoolKind::Sum => sum.iter().map(|v| *v as f32).collect(),
        PoolKind::Max if any => max,
        PoolKind::Max => vec![0.0; l],
    }
}

/// The integer pool of one jet: `phi_out[N·L]` are `Φ`'s output codes of every particle slot
/// (padded slots are ignored whatever they hold).
pub fn pool_codes(pool: &PoolFw, phi_out: &[i64], mask: &[u8], out: &mut [i64]) {
    let l = out.len();
    let real = mask.iter().enumerate().filter(|(_, m)| **m != 0);
    match pool.kind {
        PoolKind::Sum => {
            out.fill(0);
            for (i, _) in real {
                for (o, v) in out.iter_mut().zip(&phi_out[i * l..(i + 1) * l]) {
                    *o += v;
                }
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

    /// `F`'s output codes of one jet `x[N·F]`, `mask[N]`.
    pub fn run(&self, x: &[f32], mask: &[u8]) -> Vec<i64> {
        let (f, l) = (self.fw.phi.n_in, self.fw.phi.n_out);
        let mut codes = vec![0i64; f];
        let mut phi_out = vec![0i64; mask.len() * l];
        for (i, _) in mask.iter().enumerate().filter(|(_, m)| **m != 0) {
            self.phi.quantize_input(&x[i * f..(i + 1) * f], &mut codes);
            self.phi.run_codes(&codes, &mut phi_out[i * l..(i + 1) * l]);
        }
        let mut pooled = vec![0i64; l];
        pool_codes(&self.fw.pool, &phi_out, mask, &mut pooled);
        let mut out = vec![0i64; self.fw.rho.n_out];
        self.rho.run_codes(&pooled, &mut out);
        out
    }
}

/// [`SetReference::run`] on one jet (builds the emulators; use [`SetReference`] for many jets).
pub fn run(fw: &SetFirmware, x: &[f32], mask: &[u8]) -> Vec<i64> {
    SetReference::new(fw).run(x, mask)
}
