//! How a particle-level design scales: the estimate of its Verilog design against the number of
//! particle slots `N` and the particle reuse factor `R` (docs/particles.md).
//!
//! A Deep Sets model's weights do not depend on `N`, so the same model is lowered for every `N`
//! of the sweep; in static mode the scales come from the calibration of the model's own `N`
//! (`F`'s input statistics change with `N`, so those points are indicative only).

use super::design::{estimate_rtl_reuse, estimate_rtl_set};
use super::Estimate;
use crate::back::rtl::SetDesign;
use crate::hw::schedule::PipelineOptions;
use crate::ir::firmware::Mode;
use crate::ir::set::{SetFirmware, SetModel};
use crate::pass::set::SetCalibration;
use crate::pipeline::{lower_set_for, FwOptions};
use crate::target::Part;
use serde::Serialize;

/// The estimate of the design `compile --backend verilog` writes for `fw` with `reuse`
/// particles per copy of `Φ` (1: a copy per particle).
pub fn estimate_set(
    fw: &SetFirmware,
    reuse: usize,
    pipeline: PipelineOptions,
    part: &'static Part,
    clock_ns: f64,
) -> Estimate {
    match SetDesign::new(fw, reuse, pipeline) {
        SetDesign::Parallel(d) => estimate_rtl_set(fw, &d, part, clock_ns),
        SetDesign::Shared(r) => estimate_rtl_reuse(fw, &r.phi, &r.rho, reuse, part, clock_ns),
    }
}

/// One point of [`set_scaling`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScalePoint {
    pub particles: usize,
    pub reuse: usize,
    pub phi_copies: usize,
    pub lut: u64,
    pub ff: u64,
    pub dsp: u64,
    pub latency_cycles: u32,
    pub latency_ns: f64,
    /// Clocks between jets (`R`).
    pub ii: u32,
}

/// The particle counts of the sweep: 8, 16, 32 and the model's own `n`, ascending.
pub fn sweep_particles(n: usize) -> Vec<usize> {
    let mut v = vec![8, 16, 32, n];
    v.sort_unstable();
    v.dedup();
    v
}

/// The reuse factors of the sweep for `n` particles: 1, 2, 4, 5 (a jet every 25 ns at
/// 200 MHz), 8 and the compiled `r`, those ≤ `n`.
pub fn sweep_reuse(n: usize, r: usize) -> Vec<usize> {
    let mut v: Vec<usize> = [1, 2, 4, 5, 8, r].into_iter().filter(|&x| x <= n).collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// The estimate of `set` in `mode` at every `N` of [`sweep_particles`] with reuse `r`, and at
/// the model's `N` for every reuse factor of [`sweep_reuse`]. A point that does not lower
/// (e.g. a sum too wide for its `N`) is left out.
#[allow(clippy::too_many_arguments)]
pub fn set_scaling(
    set: &SetModel,
    args: &FwOptions,
    mode: Mode,
    calib: Option<&SetCalibration>,
    r: usize,
    pipeline: PipelineOptions,
    part: &'static Part,
    clock_ns: f64,
) -> Vec<ScalePoint> {
    let mut points = Vec::new();
    let mut pairs: Vec<(usize, usize)> = sweep_particles(set.particles)
        .into_iter()
        .map(|n| (n, r.min(n)))
        .collect();
    pairs.extend(
        sweep_reuse(set.particles, r)
            .into_iter()
            .map(|x| (set.particles, x)),
    );
    pairs.sort_unstable();
    pairs.dedup();
    for (n, reuse) in pairs {
        let s = SetModel {
            particles: n,
            ..set.clone()
        };
        let Ok(fw) = lower_set_for(&s, args, mode, calib) else {
            continue;
        };
        let e = estimate_set(&fw, reuse, pipeline, part, clock_ns);
        points.push(ScalePoint {
            particles: n,
            reuse,
            phi_copies: n.div_ceil(reuse),
            lut: e.total.lut,
            ff: e.total.ff,
            dsp: e.total.dsp,
            latency_cycles: e.latency_cycles,
            latency_ns: e.latency_ns,
            ii: e.ii,
        });
    }
    points
}
