//! Estimates of whole designs: the Verilog RTL (calibrated) and the HLS project (derived).

use super::cost::{features, Features};
use super::{resources, Backend, Estimate, LayerEstimate};
use crate::hw::schedule::PipelineOptions;
use crate::hw::Design;
use crate::ir::firmware::{Firmware, FwKind};
use crate::ir::set::SetFirmware;
use crate::target::Part;
use crate::target::Strategy;

fn kind(k: &FwKind) -> &'static str {
    match k {
        FwKind::Ternary(_) => "ternary",
        FwKind::Dense(_) => "dense",
        FwKind::Affine(_) => "affine",
    }
}

/// Per-layer cycles: the stages between the previous layer's last node and this layer's.
fn layer_cycles(d: &Design, n_layers: usize) -> Vec<u32> {
    let mut end = vec![0u32; n_layers];
    for (i, n) in d.netlist.nodes.iter().enumerate() {
        if n.layer < n_layers {
            end[n.layer] = end[n.layer].max(d.schedule.stage[i]);
        }
    }
    let mut prev = 0;
    end.iter()
        .map(|&e| {
            let e = e.max(prev);
            let c = e - prev;
            prev = e;
            c
        })
        .collect()
}

/// The estimate of the Verilog design `d` of `fw` (what `compile --backend verilog` writes).
pub fn estimate_rtl(fw: &Firmware, d: &Design, part: &'static Part, clock_ns: f64) -> Estimate {
    let stages = fw
        .layers
        .iter()
        .map(|l| Stage {
            name: l.name.clone(),
            kind: kind(&l.kind),
            n_in: l.n_in,
            n_out: l.n_out,
        })
        .collect();
    estimate_stages(stages, fw.mode(), d, part, clock_ns)
}

/// The estimate of the Verilog design `d` of particle-level firmware: `Φ`'s stages (all
/// particles' copies), the pool, then `F`'s stages.
pub fn estimate_rtl_set(
    fw: &SetFirmware,
    d: &Design,
    part: &'static Part,
    clock_ns: f64,
) -> Estimate {
    estimate_stages(set_stages(fw, fw.pool.n), fw.phi.mode(), d, part, clock_ns)
}

/// LUTs of the shared-Φ control logic per held input bit (the jet's `N·(F·w + 1)` feature and
/// mask bits): the `R:1` selections, the accumulators and the counter, and what the core
/// estimate misses in such designs. Fitted on six Yosys runs (docs/particles.md: `pfn_sum`
/// R = 2, 8; `qg_pfn_small8`, `qg_pfn_small` R = 5; `qg_pfn_small32` R = 5, 8): ratios 1.46–2.51,
/// leave-one-out error of the design's LUTs −2.8 … +9.2 %.
pub const CTRL_LUT_PER_HELD_BIT: f64 = 2.05;

/// The estimate of a design that shares `Φ` over the particle axis (`rtl::reuse`): the group
/// core's stages (`Φ` on `G` particles, their sums), `F`'s core, and a row for the control
/// logic ([`CTRL_LUT_PER_HELD_BIT`] LUTs per held bit; FF: the hold registers of the jet, the
/// accumulator and pooled registers, the valid pipeline, the per-jet inputs' delay line).
pub fn estimate_rtl_reuse(
    fw: &SetFirmware,
    phi: &Design,
    rho: &Design,
    reuse: usize,
    part: &'static Part,
    clock_ns: f64,
) -> Estimate {
    let g = fw.pool.n.div_ceil(reuse);
    let mut e = estimate_rtl_set_parts(fw, phi, rho, g, part, clock_ns);
    let (n, f) = (fw.pool.n, fw.features());
    let w = fw.phi.input_type().width as u64;
    let p = fw.pool.acc_type.width as u64;
    let l = fw.phi.n_out as u64;
    let held_bits = (n as u64) * (f as u64 * w + 1);
    // Per-jet inputs: held, delayed along the group core (`L_Φ` stages) and latched for F
    // (`rtl::reuse` jet_delay): flip-flops only.
    let jet_bits = fw.jet_features() as u64 * w * (phi.latency() as u64 + 2);
    let control = crate::target::Resources {
        lut: (CTRL_LUT_PER_HELD_BIT * held_bits as f64).round() as u64,
        ff: held_bits + 2 * l * p + 2 * phi.latency() as u64 + jet_bits,
        dsp: 0,
        bram: 0,
    };
    e.layers.push(LayerEstimate {
        index: e.layers.len() + 1,
        name: format!("particle reuse {reuse}: hold, {reuse}:1 selection, accumulators"),
        kind: "control",
        n_in: n * f + n,
        n_out: fw.phi.n_out,
        resources: control,
        latency_cycles: reuse as u32 + 1,
        ii: reuse as u32,
        adders: 0,
        adder_depth: 0,
        threshold_requantizers: 0,
    });
    e.total = e.total + control;
    e.latency_cycles = reuse as u32 + phi.latency() + rho.latency() + 1;
    e.latency_ns = e.latency_cycles as f64 * clock_ns;
    e.ii = reuse as u32;
    e
}

/// The stages of the group core (`g` particles) and of `F`'s core, summed.
fn estimate_rtl_set_parts(
    fw: &SetFirmware,
    phi: &Design,
    rho: &Design,
    g: usize,
    part: &'static Part,
    clock_ns: f64,
) -> Estimate {
    let stages = set_stages(fw, g);
    let n = stages.len();
    let (pa, ia) = features(&phi.netlist, &phi.schedule, n);
    let (pb, ib) = features(&rho.netlist, &rho.schedule, n);
    let (ca, cb) = (layer_cycles(phi, n), layer_cycles(rho, n));
    let (aa, ab) = (phi.ternary_adders(n), rho.ternary_adders(n));
    let layers: Vec<LayerEstimate> = stages
        .into_iter()
        .enumerate()
        .map(|(i, l)| LayerEstimate {
            index: i + 1,
            name: l.name,
            kind: l.kind,
            n_in: l.n_in,
            n_out: l.n_out,
            resources: resources(&pa[i]) + resources(&pb[i]),
            latency_cycles: ca[i] + cb[i],
            ii: 1,
            adders: aa[i].count + ab[i].count,
            adder_depth: aa[i].depth.max(ab[i].depth),
            threshold_requantizers: aa[i].thresholds + ab[i].thresholds,
        })
        .collect();
    let total = layers
        .iter()
        .fold(resources(&ia) + resources(&ib), |a, l| a + l.resources);
    Estimate {
        backend: Backend::Verilog,
        strategy: "latency",
        mode: fw.phi.mode(),
        part: part.name,
        clock_ns,
        layers,
        total,
        latency_cycles: 0,
        latency_ns: 0.0,
        ii: 1,
        stage_levels: phi.schedule.stage_levels(),
    }
}

/// The rows of a particle-level design with `g` copies of `Φ`.
fn set_stages(fw: &SetFirmware, g: usize) -> Vec<Stage> {
    let mut stages: Vec<Stage> = fw
        .phi
        .layers
        .iter()
        .map(|l| Stage {
            name: format!("{} (Φ, ×{g} particles)", l.name),
            kind: kind(&l.kind),
            n_in: l.n_in * g,
            n_out: l.n_out * g,
        })
        .collect();
    stages.push(Stage {
        name: format!("{} pool", fw.pool.kind.as_str()),
        kind: "pool",
        n_in: fw.phi.n_out * g,
        n_out: fw.phi.n_out,
    });
    stages.extend(fw.rho.layers.iter().map(|l| Stage {
        name: l.name.clone(),
        kind: kind(&l.kind),
        n_in: l.n_in,
        n_out: l.n_out,
    }));
    stages
}

/// One row of an estimate: the nodes of netlist stage (layer) index `i`.
struct Stage {
    name: String,
    kind: &'static str,
    n_in: usize,
    n_out: usize,
}

fn estimate_stages(
    stages: Vec<Stage>,
    mode: crate::ir::firmware::Mode,
    d: &Design,
    part: &'static Part,
    clock_ns: f64,
) -> Estimate {
    let n = stages.len();
    let (per, io) = features(&d.netlist, &d.schedule, n);
    let cycles = layer_cycles(d, n);
    let adders = d.ternary_adders(n);
    let layers: Vec<LayerEstimate> = stages
        .into_iter()
        .enumerate()
        .map(|(i, l)| LayerEstimate {
            index: i + 1,
            name: l.name,
            kind: l.kind,
            n_in: l.n_in,
            n_out: l.n_out,
            resources: resources(&per[i]),
            latency_cycles: cycles[i],
            ii: 1,
            adders: adders[i].count,
            adder_depth: adders[i].depth,
            threshold_requantizers: adders[i].thresholds,
        })
        .collect();
    let total = layers.iter().fold(resources(&io), |a, l| a + l.resources);
    let lat = d.latency();
    Estimate {
        backend: Backend::Verilog,
        strategy: "latency",
        mode,
        part: part.name,
        clock_ns,
        layers,
        total,
        latency_cycles: lat,
        latency_ns: lat as f64 * clock_ns,
        ii: 1,
        stage_levels: d.schedule.stage_levels(),
    }
}

/// The estimate of the HLS project. Not calibrated (no Vitis HLS here): the latency strategy
/// is taken as the RTL design (same arithmetic, same pipeline depth); the resource strategy
/// with reuse `R` shares each layer's adders `R` ways (LUTs of the trees ÷ R plus a 2-bit lane
/// decoder per adder), keeps the quantizer, and stores the weights as 2-bit lanes in ROM.
pub fn estimate_hls(
    fw: &Firmware,
    d: &Design,
    part: &'static Part,
    clock_ns: f64,
    strategy: Strategy,
    reuse: usize,
) -> Estimate {
    let mut e = estimate_rtl(fw, d, part, clock_ns);
    e.backend = Backend::Hls;
    e.strategy = strategy.as_str();
    e.stage_levels.clear();
    if strategy == Strategy::Latency || reuse <= 1 {
        return e;
    }
    let (per, io) = features(&d.netlist, &d.schedule, fw.layers.len());
    let r = reuse as f64;
    let mut extra_cycles = 0;
    for (le, (f, l)) in e.layers.iter_mut().zip(per.iter().zip(&fw.layers)) {
        if let FwKind::Ternary(_) = l.kind {
            let shared = Features {
                tree_bits: f.tree_bits / r,
                ff: f.ff + f.tree_bits / r,
                ..*f
            };
            let mut res = resources(&shared);
            // Weight ROM: 2 bits per weight, 64-bit lanes, 36 Kb blocks.
            let bits = 2 * l.n_in * l.n_out;
            res.bram = if bits > 16 * 1024 {
                bits.div_ceil(36 * 1024) as u64
            } else {
                0
            };
            // Lane decode: one LUT per weight lane and adder.
            res.lut += (l.n_in * l.n_out).div_ceil(reuse) as u64;
            le.resources = res;
            le.ii = reuse as u32;
            le.latency_cycles += reuse as u32;
            extra_cycles += reuse as u32;
        }
    }
    e.total = e.layers.iter().fold(resources(&io), |a, l| a + l.resources);
    e.ii = reuse as u32;
    e.latency_cycles += extra_cycles;
    e.latency_ns = e.latency_cycles as f64 * clock_ns;
    e
}

/// Estimates for every backend and strategy as `compile` records them in report.json.
pub fn estimate_all(
    fw: &Firmware,
    part: &'static Part,
    clock_ns: f64,
    pipeline: PipelineOptions,
    reuse: usize,
) -> Vec<Estimate> {
    let d = Design::new(fw, pipeline);
    let mut v = vec![
        estimate_rtl(fw, &d, part, clock_ns),
        estimate_hls(fw, &d, part, clock_ns, Strategy::Latency, 1),
    ];
    if reuse > 1 {
        v.push(estimate_hls(
            fw,
            &d,
            part,
            clock_ns,
            Strategy::Resource,
            reuse,
        ));
    }
    v
}
