//! The fast emulator of particle-level firmware: the fast emulator of `Φ` on every real
//! particle of a batch at once, the integer pool per jet, then the fast emulator of `F`.
//! Equal to [`crate::reference::set::run`] bit for bit (padded particle slots are not
//! evaluated; a masked pool ignores them).

use super::fast::FastEmulator;
use crate::ir::set::SetFirmware;
use crate::reference::set::pool_codes;
use rayon::prelude::*;

pub struct SetEmulator<'a> {
    fw: &'a SetFirmware,
    phi: FastEmulator<'a>,
    rho: FastEmulator<'a>,
}

impl<'a> SetEmulator<'a> {
    pub fn new(fw: &'a SetFirmware) -> SetEmulator<'a> {
        SetEmulator {
            fw,
            phi: FastEmulator::new(&fw.phi),
            rho: FastEmulator::new(&fw.rho),
        }
    }

    /// Runs `n` jets: `x[n·N·F]` particle-major, `mask[n·N]`; returns `F`'s output codes
    /// `[n·n_out]`.
    pub fn run_batch(&self, x: &[f32], mask: &[u8]) -> Vec<i64> {
        let (n_part, f, l) = (self.fw.pool.n, self.fw.phi.n_in, self.fw.phi.n_out);
        let jets = mask.len() / n_part;
        assert_eq!(
            x.len(),
            jets * n_part * f,
            "x and mask describe different jets"
        );
        // Φ on the real particles only, in one parallel batch.
        let real: Vec<usize> = (0..jets * n_part).filter(|&i| mask[i] != 0).collect();
        let rows: Vec<f32> = real
            .iter()
            .flat_map(|&i| x[i * f..(i + 1) * f].iter().copied())
            .collect();
        let phi_real = self.phi.run_batch(&rows);
        // Back into slots (padded slots stay 0 and are masked out by the pool).
        let mut phi_out = vec![0i64; jets * n_part * l];
        for (k, &i) in real.iter().enumerate() {
            phi_out[i * l..(i + 1) * l].copy_from_slice(&phi_real[k * l..(k + 1) * l]);
        }
        let mut pooled = vec![0i64; jets * l];
        pooled
            .par_chunks_mut(l.max(1))
            .zip(phi_out.par_chunks(n_part * l))
            .zip(mask.par_chunks(n_part))
            .for_each(|((o, p), m)| pool_codes(&self.fw.pool, p, m, o));
        self.rho.run_codes_batch(&pooled)
    }
}
