//! The fast emulator of particle-level firmware: the fast emulator of `Φ` on every real
//! particle of a batch at once, the integer pool per jet, then the fast emulator of `F`.
//! Equal to [`crate::reference::set::run`] bit for bit (padded particle slots are not
//! evaluated; a masked pool ignores them).

use super::fast::FastEmulator;
use crate::ir::set::SetFirmware;
use crate::reference::set::{concat_codes, pool_codes};
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

    /// Runs `n` jets: `x[n·N·F]` particle-major, `mask[n·N]`, jet inputs `jet[n·G]` (empty
    /// without); returns `F`'s output codes `[n·n_out]`. Jets are split into tasks of [`JETS_PER_TASK`]; each runs `Φ` on its real
    /// particles only (gathered into one batch), pools each jet's rows and runs `F` on the
    /// pooled codes, on one thread with buffers it reuses.
    pub fn run_batch(&self, x: &[f32], mask: &[u8], jet: &[f32]) -> Vec<i64> {
        let (n_part, f, g) = (self.fw.pool.n, self.fw.phi.n_in, self.fw.jet_features());
        let o = self.fw.rho.n_out;
        let jets = mask.len() / n_part;
        assert_eq!(
            x.len(),
            jets * n_part * f,
            "x and mask describe different jets"
        );
        assert_eq!(
            jet.len(),
            jets * g,
            "jet inputs and mask describe different jets"
        );
        let mut out = vec![0i64; jets * o];
        let tasks = jets.div_ceil(JETS_PER_TASK);
        out.par_chunks_mut(JETS_PER_TASK * o.max(1))
            .zip((0..tasks).into_par_iter())
            .for_each_init(Buffers::default, |b, (oc, t)| {
                let (a, e) = (t * JETS_PER_TASK, ((t + 1) * JETS_PER_TASK).min(jets));
                let xc = &x[a * n_part * f..e * n_part * f];
                let jc = &jet[a * g..e * g];
                self.run_task(b, xc, &mask[a * n_part..e * n_part], jc, oc)
            });
        out
    }

    fn run_task(&self, b: &mut Buffers, x: &[f32], mask: &[u8], jet: &[f32], out: &mut [i64]) {
        let (n_part, f, l) = (self.fw.pool.n, self.fw.phi.n_in, self.fw.phi.n_out);
        let jets = mask.len() / n_part;
        b.rows.clear();
        for (p, _) in x.chunks(f).zip(mask).filter(|(_, m)| **m != 0) {
            b.rows.extend_from_slice(p);
        }
        let real = b.rows.len() / f.max(1);
        b.phi.resize(real * l, 0);
        self.phi.run_serial_into(&b.rows, &mut b.phi);
        // A jet's real particles are consecutive rows of `phi`: pool them as a full jet.
        b.ones.resize(n_part, 1);
        b.pooled.resize(jets * l, 0);
        let mut k = 0;
        for (m, o) in mask.chunks(n_part).zip(b.pooled.chunks_mut(l.max(1))) {
            let c = m.iter().filter(|v| **v != 0).count();
            pool_codes(&self.fw.pool, &b.phi[k * l..(k + c) * l], &b.ones[..c], o);
            k += c;
        }
        match &self.fw.jet {
            None => self.rho.run_codes_serial_into(&b.pooled, out),
            Some(jc) => {
                let (g, r) = (jc.n, self.fw.rho.n_in);
                b.rho_in.resize(jets * r, 0);
                for ((p, v), o) in b
                    .pooled
                    .chunks(l)
                    .zip(jet.chunks(g))
                    .zip(b.rho_in.chunks_mut(r))
                {
                    concat_codes(Some(jc), p, v, o);
                }
                self.rho.run_codes_serial_into(&b.rho_in, out);
            }
        }
    }
}

/// Jets per parallel task of [`SetEmulator::run_batch`].
pub const JETS_PER_TASK: usize = 256;

/// Per-thread buffers of [`SetEmulator::run_batch`].
#[derive(Default)]
struct Buffers {
    rows: Vec<f32>,
    phi: Vec<i64>,
    ones: Vec<u8>,
    pooled: Vec<i64>,
    rho_in: Vec<i64>,
}
