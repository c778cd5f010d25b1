//! Verilator simulation of particle-level firmware equals the reference, bit for bit.
//!
//! The random sum-pooled particle model models/pfn_random/pfn_sum in every activation mode and
//! the max-pooled pfn_max (batch-norm in Φ, a full-precision layer in F) in static mode (CI; `pfn_act4` and the trained `qg_pfn_small` with 10,000 test jets run in the ignored
//! test below, `cargo test --release --test rtl_set -- --ignored`, minutes each): the golden
//! jets (random multiplicities) plus adversarial jets — no particle, one particle, every slot full with
//! saturating features of both signs, all-zero features, and junk in padded slots; each with a
//! copy of Φ per particle (one jet per clock) and with Φ shared over the particle axis
//! (`--particle-reuse`, one jet every R clocks). Every output must equal
//! [`bit2hls::reference::set::run`], with the promised latency and initiation interval.
//!
//! Needs Verilator (scripts/deps.sh installs it): without it the tests FAIL.

mod common;

use bit2hls::back::rtl::{self, RtlOptions};
use bit2hls::front::{load_net, LoadOptions};
use bit2hls::hw::schedule::{ConstMul, PipelineOptions};
use bit2hls::ir::firmware::Mode;
use bit2hls::ir::set::{Net, PoolKind, SetFirmware, SetModel};
use bit2hls::pass::set::calibrate_set;
use bit2hls::pipeline::lower_set_for;
use bit2hls::target::parts;
use common::*;
use std::path::PathBuf;

struct Job {
    label: String,
    fw: SetFirmware,
    x: Vec<f32>,
    mask: Vec<u8>,
    /// Particles per copy of Φ (`--particle-reuse`).
    reuse: usize,
}

fn simulate(j: &Job) -> Result<String, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let prj = dir.path().join("prj");
    let pipeline = PipelineOptions {
        adders_per_stage: 4,
        adders: Default::default(),
        const_mul: ConstMul::default(),
    };
    let o = RtlOptions {
        name: "dut".into(),
        part: parts::DEFAULT_PART.into(),
        clock_ns: 5.0,
        pipeline,
    };
    let (files, design) = rtl::render_set(
        &j.fw,
        &o,
        j.reuse,
        "test",
        &j.x,
        &j.mask,
        serde_json::json!({}),
    )
    .map_err(|e| e.to_string())?;
    let mut problems = strict_verilog_problems(&files);
    bit2hls::back::hls::write_project(&files, &prj, true).map_err(|e| e.to_string())?;
    let r = rtl::sim::rtlsim(&prj, None, None).map_err(|e| format!("rtlsim failed: {e}"))?;
    let jets = j.mask.len() / j.fw.pool.n;
    if r.events != jets || r.received != jets {
        problems.push(format!(
            "{jets} jets sent, {} read back, {} results",
            r.events, r.received
        ));
    }
    if r.mismatches != 0 {
        problems.push(format!("{} mismatches\n{}", r.mismatches, r.stderr));
    }
    if r.latency_errors != 0 || r.latency != design.latency() {
        problems.push(format!(
            "latency: measured {} ({} off), schedule promised {}",
            r.latency,
            r.latency_errors,
            design.latency()
        ));
    }
    if r.cycles != jets as u64 + r.bubbles + r.latency as u64 - 1 {
        problems.push(format!(
            "{} cycles for {jets} jets: not one per clock",
            r.cycles
        ));
    }
    // The test bench sends a jet every II cycles: the idle cycles between are its bubbles.
    let ii = design.ii() as u64;
    if r.bubbles < (jets as u64 - 1) * (ii - 1) {
        problems.push(format!("{} bubbles for {jets} jets at II {ii}", r.bubbles));
    }
    if problems.is_empty() {
        Ok(format!(
            "{jets} jets, 0 mismatches, latency {} cycles",
            r.latency
        ))
    } else {
        Err(problems.join("; "))
    }
}

/// Adversarial jets for `s`: empty; one particle at +max; full at ±max alternating; full of
/// zeros; empty slots holding junk between real ones.
fn adversarial(s: &SetModel) -> (Vec<f32>, Vec<u8>) {
    let (n, f) = (s.particles, s.features);
    let big = 1e4f32;
    let mut x = Vec::new();
    let mut mask = Vec::new();
    let mut jet = |xs: Vec<f32>, ms: Vec<u8>| {
        x.extend(xs);
        mask.extend(ms);
    };
    jet(vec![0.0; n * f], vec![0; n]);
    let mut one = vec![0.0; n * f];
    one[..f].fill(big);
    let mut m1 = vec![0; n];
    m1[0] = 1;
    jet(one, m1);
    jet(
        (0..n * f)
            .map(|k| if k % 2 == 0 { big } else { -big })
            .collect(),
        vec![1; n],
    );
    jet(vec![0.0; n * f], vec![1; n]);
    jet(vec![-big; n * f], (0..n).map(|i| (i % 2) as u8).collect());
    (x, mask)
}

/// (model, jets file) pairs.
fn random_models() -> Vec<(PathBuf, PathBuf)> {
    let d = repo().join("models").join("pfn_random");
    vec![
        (d.join("pfn_sum.safetensors"), d.join("pfn_sum_golden.npz")),
        (d.join("pfn_max.safetensors"), d.join("pfn_max_golden.npz")),
    ]
}

/// The models CI does not simulate (minutes of Verilator each), on up to 10,000 jets.
fn slow_models() -> Vec<(PathBuf, PathBuf)> {
    let root = repo().join("models");
    let d = root.join("pfn_random");
    let mut v = vec![(
        d.join("pfn_act4.safetensors"),
        d.join("pfn_act4_golden.npz"),
    )];
    let m = root.join("qg_pfn_small").join("qg_pfn_small.safetensors");
    if m.is_file() {
        v.push((m, root.join("data").join("test_particles.npz")));
    }
    v
}

fn jobs(models: Vec<(PathBuf, PathBuf)>, max_jets: usize) -> Vec<Job> {
    let mut jobs = Vec::new();
    for (model, data) in models {
        let Net::Set(s) = load_net(&model, &LoadOptions::default()).unwrap().model else {
            panic!("{}: not a particle model", model.display());
        };
        let j = bit2hls::io::particles::read_jets(&data, s.particles, s.features, false).unwrap();
        let k = j.jets.min(max_jets);
        let (mut x, mut mask) = (
            j.x[..k * s.jet_len()].to_vec(),
            j.mask[..k * s.particles].to_vec(),
        );
        let cal = calibrate_set(&s, &x, &mask);
        let (ax, am) = adversarial(&s);
        x.extend(ax);
        mask.extend(am);
        // A max-pooled model in static mode only (the pool's logic is the same in every mode).
        let modes: &[Mode] = match s.pool {
            PoolKind::Sum => &Mode::ALL,
            PoolKind::Max => &[Mode::Static],
        };
        for &mode in modes {
            let fw = lower_set_for(&s, &fw_args(mode, None), mode, Some(&cal)).unwrap();
            // One copy of Φ per particle, and Φ shared: 3 particles per copy (static, a last
            // group with empty slots when 3 does not divide N) or 2 (the dynamic modes).
            let shared = if mode == Mode::Static { 3 } else { 2 };
            for reuse in [1, shared] {
                jobs.push(Job {
                    label: format!("{} {mode} reuse {reuse}", s.name),
                    fw: fw.clone(),
                    x: x.clone(),
                    mask: mask.clone(),
                    reuse,
                });
            }
        }
    }
    jobs
}

#[test]
fn particle_models_rtl_equals_reference() {
    let f = run_on_two_threads(
        &jobs(random_models(), 10_000),
        |j| j.label.clone(),
        simulate,
    );
    assert!(f.is_empty(), "{} failing:\n{}", f.len(), f.join("\n"));
}

#[test]
#[ignore = "minutes of Verilator per design: run with --ignored"]
fn trained_particle_models_rtl_equals_reference() {
    let f = run_on_two_threads(&jobs(slow_models(), 10_000), |j| j.label.clone(), simulate);
    assert!(f.is_empty(), "{} failing:\n{}", f.len(), f.join("\n"));
}
