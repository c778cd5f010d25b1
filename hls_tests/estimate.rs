//! The estimator against Yosys: for a random 16x64 ternary layer (1/3 zeros) and for the tiny
//! shipped model in every activation mode, the estimated LUTs (logic + SRL) must lie within
//! ±15 % of what Yosys 0.23 `synth_xilinx -family xcup -flatten` maps the generated Verilog to,
//! and the estimated DSPs within ±15 % too. Runs Yosys (scripts/deps.sh installs it): without
//! it the test FAILS. The full calibration table (all shipped models, six layer shapes) is
//! `bit2hls calibrate run` (docs/estimate.md).

mod common;

use bit2hls::back::rtl;
use bit2hls::estimate::cmvm::{cmvm_netlist, random_ternary};
use bit2hls::estimate::cost::features;
use bit2hls::estimate::{resources, Resources};
use bit2hls::hw::schedule::PipelineOptions;
use bit2hls::hw::Design;
use bit2hls::ir::firmware::Mode;
use bit2hls::synth::{synth_project, SynthOptions};
use common::*;
use std::path::Path;

fn synth(dir: &Path, name: &str, text: &str) -> bit2hls::synth::SynthReport {
    std::fs::create_dir_all(dir.join("rtl")).unwrap();
    std::fs::write(dir.join("rtl").join(format!("{name}.v")), text).unwrap();
    let rep = serde_json::json!({"project": {"name": name, "backend": "verilog"}});
    std::fs::write(dir.join("report.json"), rep.to_string()).unwrap();
    synth_project(dir, &SynthOptions::default()).unwrap_or_else(|e| panic!("yosys on {name}: {e}"))
}

fn estimate(d: &Design, n_layers: usize) -> Resources {
    let (per, io) = features(&d.netlist, &d.schedule, n_layers);
    per.iter().fold(resources(&io), |a, f| a + resources(f))
}

fn check(name: &str, est: Resources, r: &bit2hls::synth::SynthReport) -> Option<String> {
    let lut = (r.resources.lut + r.resources.srl) as f64;
    let lr = est.lut as f64 / lut;
    let dr = if r.resources.dsp == 0 {
        if est.dsp == 0 {
            1.0
        } else {
            f64::INFINITY
        }
    } else {
        est.dsp as f64 / r.resources.dsp as f64
    };
    eprintln!(
        "{name}: LUT est {} / yosys {} = {lr:.3}; DSP {} / {}; FF {} / {}",
        est.lut, lut, est.dsp, r.resources.dsp, est.ff, r.resources.ff
    );
    if (lr - 1.0).abs() > 0.15 || (dr - 1.0).abs() > 0.15 {
        Some(format!("{name}: LUT ratio {lr:.3}, DSP ratio {dr:.3}"))
    } else {
        None
    }
}

#[test]
fn estimate_within_15_percent_of_yosys() {
    let tmp = tempfile::tempdir().unwrap();
    // The coefficients were fitted on designs with DSP constant multiplies.
    let p = PipelineOptions {
        adders_per_stage: 4,
        adders: Default::default(),
        const_mul: bit2hls::hw::schedule::ConstMul::Dsp,
    };
    let mut bad = Vec::new();
    let w = random_ternary(64, 16, 1.0 / 3.0, 29_377);
    let nl = cmvm_netlist(&w, 8, p.adders);
    let sch = bit2hls::hw::schedule::schedule(&nl, p);
    let d = Design {
        netlist: nl,
        schedule: sch,
        pipeline: p,
    };
    let text = rtl::module_text(&d, "t16x64", "random 16x64", "int8", "int").unwrap();
    let r = synth(&tmp.path().join("t16x64"), "t16x64", &text);
    bad.extend(check("t16x64", estimate(&d, 1), &r));
    let model = repo().join("models/qg_mlp_tiny/qg_mlp_tiny.safetensors");
    let m = bit2hls::front::load(&model, &Default::default())
        .expect("qg_mlp_tiny loads")
        .model;
    let calib = bit2hls::io::npz::read_dataset(&repo().join("models/data/calib_jets.npz"))
        .expect("calib_jets.npz");
    for mode in Mode::ALL {
        let fw = lower(&m, mode, None, Some(&calib.x));
        let d = Design::new(&fw, p);
        let name = format!("tiny_{}", mode.as_str().replace('-', "_"));
        let r = synth(
            &tmp.path().join(&name),
            &name,
            &rtl::verilog_text(&fw, &d, &name).unwrap(),
        );
        bad.extend(check(&name, estimate(&d, fw.layers.len()), &r));
    }
    assert!(
        bad.is_empty(),
        "estimates off by more than 15 %:\n{}",
        bad.join("\n")
    );
}
