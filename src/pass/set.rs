//! Calibration and lowering of particle-level models: `Φ` and `F` are chains, lowered by
//! [`super::lower::lower`] each; the pool between them gets the exact type of a masked sum
//! (or max) over `N` particles of `Φ`'s proven output ranges (docs/particles.md).

use super::calibrate::{calibrate, Calibration};
use super::lower::lower;
use crate::error::{Error, Result};
use crate::ir::firmware::LowerOptions;
use crate::ir::set::{JetConcatFw, PoolFw, SetFirmware, SetModel};
use crate::reference::set::rho_input_float;
use rayon::prelude::*;

/// Calibration statistics of both chains: `phi` over every real particle, `rho` over the
/// float model's pooled vectors.
#[derive(Clone, Debug, Default)]
pub struct SetCalibration {
    pub phi: Calibration,
    pub rho: Calibration,
    /// max |v| over the per-jet inputs (0 without): they share the particles' input type.
    pub jet_absmax: f32,
}

impl SetCalibration {
    /// Combines the statistics of two disjoint jet sets.
    pub fn merge(&mut self, o: &SetCalibration) {
        self.phi.merge(&o.phi);
        self.rho.merge(&o.rho);
        self.jet_absmax = self.jet_absmax.max(o.jet_absmax);
    }
    /// The largest |input| the model's input type must hold: particle features and per-jet
    /// inputs.
    pub fn input_absmax(&self) -> f32 {
        self.phi.input_absmax.max(self.jet_absmax)
    }
    /// Applies `f` (a scale rule) to both chains' statistics.
    pub fn map(self, f: impl Fn(Calibration) -> Calibration) -> SetCalibration {
        SetCalibration {
            phi: f(self.phi),
            rho: f(self.rho),
            jet_absmax: self.jet_absmax,
        }
    }
}

/// Statistics of the jets `x[n·N·F]`, `mask[n·N]`, per-jet inputs `jet[n·G]` (empty when the
/// model has none).
pub fn calibrate_set(set: &SetModel, x: &[f32], mask: &[u8], jet: &[f32]) -> SetCalibration {
    let (nf, f, g) = (set.jet_len(), set.features, set.jet_features);
    let rows: Vec<f32> = x
        .chunks(f)
        .zip(mask)
        .filter(|(_, m)| **m != 0)
        .flat_map(|(p, _)| p.iter().copied())
        .collect();
    let jets = mask.len() / set.particles.max(1);
    let pooled: Vec<f32> = (0..jets)
        .into_par_iter()
        .flat_map_iter(|j| {
            rho_input_float(
                set,
                &x[j * nf..(j + 1) * nf],
                &mask[j * set.particles..(j + 1) * set.particles],
                &jet[j * g..(j + 1) * g],
            )
        })
        .collect();
    SetCalibration {
        phi: calibrate(&set.phi, &rows),
        rho: calibrate(&set.rho, &pooled),
        jet_absmax: jet.iter().fold(0f32, |a, v| a.max(v.abs())),
    }
}

/// Lowers `set`: `Φ` with `opts` (its input type is the jets' particle features), the pool,
/// then `F` with the pooled type as input. Static mode needs `calib`.
pub fn lower_set(
    set: &SetModel,
    opts: &LowerOptions,
    calib: Option<&SetCalibration>,
) -> Result<SetFirmware> {
    if set.profile.output_per_event_scaled() {
        return Err(Error::Usage(format!(
            "particle-level model '{}': profile {} has an in-layer norm, whose firmware outputs \
             are PyTorch's divided by a per-particle factor (docs/semantics.md); pooling such \
             values is not the model's pool — only profiles without an in-layer norm (bithep, \
             ms-b158) compile particle models",
            set.name, set.profile.name
        )));
    }
    let phi = lower(&set.phi, opts, calib.map(|c| &c.phi))?;
    let pool = lower_pool(set, &phi)?;
    let mut origin = format!(
        "{} pool of {} particles of Φ's output {}",
        set.pool.as_str(),
        set.particles,
        phi.output_type()
    );
    let jet = match set.jet_features {
        0 => None,
        g => {
            let j = JetConcatFw::new(g, phi.input_type(), &pool)
                .map_err(|d| Error::too_wide("jet_concat", set.phi.layers.len() + 1, d))?;
            origin = format!("{origin}, concatenated with {g} jet inputs {}", j.in_type);
            Some(j)
        }
    };
    let rho_opts = LowerOptions {
        input_type: jet.as_ref().map_or(pool.out_type, |j| j.out_type),
        input_type_origin: origin,
        ..opts.clone()
    };
    let rho = lower(&set.rho, &rho_opts, calib.map(|c| &c.rho))?;
    Ok(SetFirmware {
        name: set.name.clone(),
        phi,
        pool,
        jet,
        rho,
    })
}

/// The pool's exact ranges and its (signed) type ([`PoolFw::new`]).
fn lower_pool(set: &SetModel, phi: &crate::ir::firmware::Firmware) -> Result<PoolFw> {
    PoolFw::new(set.pool, set.particles, phi)
        .map_err(|d| Error::too_wide("pool", set.phi.layers.len(), d))
}
