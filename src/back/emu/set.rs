//! The fast emulator of particle-level firmware: the fast emulator of `Φ` on every real
//! particle of a batch at once, the integer pool per jet, then the fast emulator of `F`.
//! Equal to [`crate::reference::set::run`] bit for bit (padded particle slots are not
//! evaluated; a masked pool ignores them).

use super::fast::{FastEmulator, FastScratch, Kernel, LANES};
use crate::ir::set::{PoolKind, SetFirmware};
use crate::reference::set::{concat_codes, pool_codes};
use rayon::prelude::*;

pub struct SetEmulator<'a> {
    fw: &'a SetFirmware,
    phi: FastEmulator<'a>,
    rho: FastEmulator<'a>,
    /// Pool from the lane kernels' blocks when exact (else from `Φ`'s output codes).
    lane_pool: bool,
}

impl<'a> SetEmulator<'a> {
    /// With the fastest kernels this CPU runs that the environment allows ([`Kernel::from_env`]).
    pub fn new(fw: &'a SetFirmware) -> SetEmulator<'a> {
        Self::with_kernel(fw, Kernel::from_env())
    }

    /// With the fastest kernels this CPU runs that are no faster than `kernel`.
    pub fn with_kernel(fw: &'a SetFirmware, kernel: Kernel) -> SetEmulator<'a> {
        SetEmulator {
            fw,
            phi: FastEmulator::with_kernel(&fw.phi, kernel),
            rho: FastEmulator::with_kernel(&fw.rho, kernel),
            lane_pool: true,
        }
    }

    /// The kernels that run `Φ` and `F` ([`FastEmulator::kernel`]).
    pub fn kernels(&self) -> [&'static str; 2] {
        [self.phi.kernel(), self.rho.kernel()]
    }

    /// Which parts run on the reference emulator instead of the lane kernels, and why
    /// (`("Φ" | "F", reason)`).
    pub fn fallbacks(&self) -> Vec<(&'static str, &str)> {
        [("Φ", &self.phi), ("F", &self.rho)]
            .into_iter()
            .filter_map(|(part, e)| e.fallback_reason().map(|r| (part, r)))
            .collect()
    }

    /// The emulator that always pools `Φ`'s output codes (tests: the other path).
    #[cfg(test)]
    pub(crate) fn pooling_codes(fw: &'a SetFirmware) -> SetEmulator<'a> {
        SetEmulator {
            lane_pool: false,
            ..SetEmulator::new(fw)
        }
    }

    /// Whether [`Self::run_batch`] pools straight from the lane kernels (tests).
    #[cfg(test)]
    pub(crate) fn pools_in_lanes(&self) -> bool {
        self.lane_pool && self.exact_f64_pool() && self.phi.is_fast()
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
        let (n_part, f) = (self.fw.pool.n, self.fw.phi.n_in);
        b.rows.clear();
        b.counts.clear();
        for (xj, mj) in x.chunks(n_part * f).zip(mask.chunks(n_part)) {
            let before = b.rows.len();
            for (p, _) in xj.chunks(f).zip(mj).filter(|(_, m)| **m != 0) {
                b.rows.extend_from_slice(p);
            }
            b.counts.push((b.rows.len() - before) / f.max(1));
        }
        if !self.pool_in_lanes(b) {
            self.pool_codes_of_rows(b);
        }
        match &self.fw.jet {
            None => self.rho.run_codes_serial_into(&mut b.rho_s, &b.pooled, out),
            Some(jc) => {
                let (g, r, l) = (jc.n, self.fw.rho.n_in, self.fw.phi.n_out);
                b.rho_in.resize(b.counts.len() * r, 0);
                for ((p, v), o) in b
                    .pooled
                    .chunks(l)
                    .zip(jet.chunks(g))
                    .zip(b.rho_in.chunks_mut(r))
                {
                    concat_codes(Some(jc), p, v, o);
                }
                self.rho.run_codes_serial_into(&mut b.rho_s, &b.rho_in, out);
            }
        }
    }

    /// Pools `Φ`'s outputs straight from the lane kernels' blocks into `b.pooled` (sum or max
    /// of each jet's consecutive rows, in f64: exact while [`Self::exact_f64_pool`]; a mean
    /// then divides the sum, [`crate::ir::set::PoolFw::finish`]). `false`
    /// when that does not hold or `Φ` runs on the reference.
    fn pool_in_lanes(&self, b: &mut Buffers) -> bool {
        if !self.lane_pool || !self.exact_f64_pool() {
            return false;
        }
        let l = self.fw.phi.n_out;
        let max = self.fw.pool.kind == PoolKind::Max;
        b.acc.clear();
        b.acc.resize(
            b.counts.len() * l,
            if max { f64::NEG_INFINITY } else { 0.0 },
        );
        let (counts, acc) = (&b.counts, &mut b.acc);
        // The jet of the next row and the rows of that jet still to come.
        let (mut jet, mut left) = (0usize, 0usize);
        let mut sink = |_e0: usize, nb: usize, out: &[[f64; LANES]]| {
            let mut a = 0;
            while a < nb {
                while left == 0 {
                    left = counts[jet];
                    jet += 1;
                }
                let e = (a + left).min(nb);
                let dst = &mut acc[(jet - 1) * l..jet * l];
                for (d, row) in dst.iter_mut().zip(out) {
                    *d = if max {
                        lane_max(*d, &row[a..e])
                    } else {
                        *d + lane_sum(&row[a..e])
                    };
                }
                left -= e - a;
                a = e;
            }
        };
        if !self.phi.run_serial_blocks(&mut b.phi_s, &b.rows, &mut sink) {
            return false;
        }
        b.pooled.resize(b.counts.len() * l, 0);
        for ((o, a), c) in b
            .pooled
            .chunks_mut(l.max(1))
            .zip(acc.chunks(l.max(1)))
            .zip(counts)
        {
            for (o, a) in o.iter_mut().zip(a) {
                *o = self.fw.pool.finish(*a as i64, *c);
            }
        }
        true
    }

    /// Whether every partial sum of up to `N` of `Φ`'s outputs is an integer below 2^53.
    fn exact_f64_pool(&self) -> bool {
        self.phi
            .output_bound()
            .is_some_and(|b| b * (self.fw.pool.n as f64) < 9_007_199_254_740_992.0)
    }

    /// `Φ`'s output codes of every row (the reference when the lane kernels do not run `Φ`),
    /// then [`pool_codes`] per jet.
    fn pool_codes_of_rows(&self, b: &mut Buffers) {
        let (n_part, f, l) = (self.fw.pool.n, self.fw.phi.n_in, self.fw.phi.n_out);
        let real = b.rows.len() / f.max(1);
        b.phi.resize(real * l, 0);
        self.phi.run_serial_into(&mut b.phi_s, &b.rows, &mut b.phi);
        // A jet's real particles are consecutive rows of `phi`: pool them as a full jet.
        b.ones.resize(n_part, 1);
        b.pooled.resize(b.counts.len() * l, 0);
        let mut k = 0;
        for (&c, o) in b.counts.iter().zip(b.pooled.chunks_mut(l.max(1))) {
            pool_codes(&self.fw.pool, &b.phi[k * l..(k + c) * l], &b.ones[..c], o);
            k += c;
        }
    }
}

/// `Σ v` of integers whose partial sums are exact in f64 (so any order gives the same sum).
#[inline]
fn lane_sum(v: &[f64]) -> f64 {
    let mut s = [0f64; 4];
    let chunks = v.chunks_exact(4);
    let rest = chunks.remainder().iter().sum::<f64>();
    for c in chunks {
        for k in 0..4 {
            s[k] += c[k];
        }
    }
    (s[0] + s[1]) + (s[2] + s[3]) + rest
}

/// `max(m, max v)`.
#[inline]
fn lane_max(m: f64, v: &[f64]) -> f64 {
    let mut s = [m; 4];
    let chunks = v.chunks_exact(4);
    let rest = chunks.remainder().iter().fold(m, |a, &b| a.max(b));
    for c in chunks {
        for k in 0..4 {
            s[k] = s[k].max(c[k]);
        }
    }
    s[0].max(s[1]).max(s[2].max(s[3])).max(rest)
}

/// Jets per parallel task of [`SetEmulator::run_batch`].
pub const JETS_PER_TASK: usize = 256;

/// Per-thread buffers of [`SetEmulator::run_batch`].
#[derive(Default)]
struct Buffers {
    rows: Vec<f32>,
    /// Real particles of each jet of the task.
    counts: Vec<usize>,
    /// Pool accumulators of the lane path.
    acc: Vec<f64>,
    phi_s: FastScratch,
    rho_s: FastScratch,
    phi: Vec<i64>,
    ones: Vec<u8>,
    pooled: Vec<i64>,
    rho_in: Vec<i64>,
}
