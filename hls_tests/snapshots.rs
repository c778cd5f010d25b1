//! insta snapshots of every generated file of two small projects, so every change of the
//! generated code shows up in review: a seeded all-ternary 4-8-3 model with biases (both
//! strategies, every mode, HLS and Verilog) and a mixed model with full-precision (dense) and
//! BatchNorm (affine) stages, whose kernels the first one never reaches.
//! Update with `INSTA_UPDATE=always cargo test --test hls_snapshots` (or cargo insta review).

mod common;

use bit2hls::back::hls::{self, ProjectMeta};
use bit2hls::ir::firmware::Mode;
use bit2hls::ir::set::PoolKind;
use bit2hls::ir::{
    Affine, BitLinear, Layer, LayerKind, Linear, Matrix, Model, Profile, ProfileName, WeightSource,
};
use bit2hls::target::Strategy;
use common::*;

/// The model a snapshot is taken of.
#[derive(Clone, Copy)]
enum Net {
    /// `random_mlp(&[4, 8, 3])`: BitLinear, ReLU, BitLinear.
    Ternary,
    /// [`mixed_model`]: Linear, BatchNorm, ReLU, BitLinear, BatchNorm, ReLU, Linear.
    Mixed,
    /// The ternary model under another semantics profile (in-layer norms: centring stage,
    /// code-unit dequantization).
    Profiled(ProfileName),
    /// The ternary model at 3 activation bits (its requantizers as threshold comparisons).
    ThreeBits,
}

impl Net {
    fn model(self) -> Model {
        match self {
            Net::Ternary => bit2hls::testutil::random_mlp(&[4, 8, 3], 2026, true),
            Net::Mixed => mixed_model(),
            Net::Profiled(p) => {
                let mut m = Net::Ternary.model();
                m.profile = Profile::named(p);
                m
            }
            Net::ThreeBits => {
                let mut m = Net::Ternary.model();
                m.profile.set_act_bits(3).unwrap();
                m
            }
        }
    }
    fn file(self) -> &'static str {
        match self {
            Net::Ternary | Net::Profiled(_) | Net::ThreeBits => "random_4_8_3.safetensors",
            Net::Mixed => "mixed_4_8_6_3.safetensors",
        }
    }
    /// Prefix of the snapshot names (empty for the original model, so its names stay).
    fn prefix(self) -> String {
        match self {
            Net::Ternary => String::new(),
            Net::Mixed => "mixed__".into(),
            Net::Profiled(p) => format!("{p}__"),
            Net::ThreeBits => "b3_thresholds__".into(),
        }
    }
}

/// 4 → Linear(8) → BatchNorm → ReLU → BitLinear(6) → BatchNorm → ReLU → Linear(3), seeded:
/// a full-precision first and last layer (dense kernels) and folded batch norms.
fn mixed_model() -> Model {
    let mut r = bit2hls::testutil::Rng(77);
    let mut normal =
        |n: usize, s: f64| -> Vec<f32> { (0..n).map(|_| (r.normal() * s) as f32).collect() };
    let dense = |name: &str, w: Vec<f32>, rows, cols, b: Vec<f32>| Layer {
        name: name.into(),
        kind: LayerKind::Linear(Linear {
            weight: Matrix::new(rows, cols, w),
            bias: Some(b),
        }),
    };
    let bn = |name: &str, scale: Vec<f32>, shift: Vec<f32>| Layer {
        name: name.into(),
        kind: LayerKind::Affine(Affine {
            scale: scale.iter().map(|v| 1.0 + v.abs()).collect(),
            shift,
            origin: "batchnorm",
        }),
    };
    let relu = |i: usize| Layer {
        name: format!("relu{i}"),
        kind: LayerKind::Relu,
    };
    let l1 = dense("fc1", normal(32, 0.5), 8, 4, normal(8, 0.1));
    let bn1 = bn("bn1", normal(8, 0.3), normal(8, 0.1));
    let codes: Vec<i8> = (0..48).map(|i| ((i * 7 + 3) % 3) as i8 - 1).collect();
    let l2 = Layer {
        name: "fc2".into(),
        kind: LayerKind::BitLinear(BitLinear {
            codes: Matrix::new(6, 8, codes),
            beta: 0.35,
            bias: Some(normal(6, 0.1)),
            source: WeightSource::TernaryI8,
            master: None,
        }),
    };
    let bn2 = bn("bn2", normal(6, 0.3), normal(6, 0.1));
    let l3 = dense("fc3", normal(18, 0.5), 3, 6, normal(3, 0.1));
    Model {
        name: "mixed_4_8_6_3".into(),
        inputs: 4,
        profile: Profile::named(ProfileName::Bithep),
        layers: vec![l1, bn1, relu(1), l2, bn2, relu(2), l3],
        input_type: None,
    }
}

fn snapshot_project(mode: Mode, strategy: Strategy, reuse: usize, verbatim: bool) {
    snapshot_hls(Net::Ternary, mode, strategy, reuse, verbatim);
}

fn snapshot_hls(net: Net, mode: Mode, strategy: Strategy, reuse: usize, verbatim: bool) {
    let model = net.model();
    let fw = lower(&model, mode, None, None);
    let x = tb_samples(4, 8, 1);
    let meta = ProjectMeta {
        model: net.file().into(),
        tb_source: "snapshot samples".into(),
        calib: None,
    };
    let files = hls::render(&fw, &opts(strategy, reuse), &meta, &x).unwrap();
    assert_files(&files, |path| {
        // The kernels and shared Tcl are verbatim copies: snapshotted once.
        (verbatim || !is_verbatim_copy(path)).then(|| {
            format!(
                "{}{}__{}__{}",
                net.prefix(),
                mode,
                strategy.as_str(),
                path.replace('/', "__")
            )
        })
    });
}

#[test]
fn latency_dynamic() {
    snapshot_project(Mode::Dynamic, Strategy::Latency, 1, true);
}

#[test]
fn resource_dynamic_pow2() {
    snapshot_project(Mode::DynamicPow2, Strategy::Resource, 4, false);
}

#[test]
fn latency_static() {
    snapshot_project(Mode::Static, Strategy::Latency, 1, false);
}

/// Every file of the Verilog project (and the estimate recorded in its report.json).
fn snapshot_rtl(mode: Mode, adders_per_stage: u32) {
    snapshot_verilog(Net::Ternary, mode, adders_per_stage);
}

fn snapshot_verilog(net: Net, mode: Mode, adders_per_stage: u32) {
    use bit2hls::back::rtl::{self, RtlOptions};
    use bit2hls::hw::{schedule::PipelineOptions, Design};
    use bit2hls::target::{AdderOptions, RequantCircuit};
    let model = net.model();
    let fw = lower(&model, mode, None, None);
    let x = tb_samples(4, 8, 1);
    let requant = match net {
        Net::ThreeBits => RequantCircuit::Thresholds,
        _ => RequantCircuit::default(),
    };
    let pipeline = PipelineOptions {
        adders_per_stage,
        adders: AdderOptions {
            requant,
            ..Default::default()
        },
        const_mul: bit2hls::hw::schedule::ConstMul::default(),
    };
    let part = bit2hls::target::parts::default_part();
    let est = bit2hls::estimate::design::estimate_rtl(&fw, &Design::new(&fw, pipeline), part, 5.0);
    let o = RtlOptions {
        name: "myproject".into(),
        part: part.name.into(),
        clock_ns: 5.0,
        pipeline,
    };
    let (files, _) = rtl::render(
        &fw,
        &o,
        net.file(),
        &x,
        serde_json::json!({ "estimate": est }),
    )
    .unwrap();
    let problems = strict_verilog_problems(&files);
    assert!(problems.is_empty(), "{mode}: {problems:?}");
    assert_files(&files, |path| {
        Some(format!(
            "{}verilog__{}__{}",
            net.prefix(),
            mode,
            path.replace('/', "__")
        ))
    });
}

#[test]
fn verilog_dynamic() {
    snapshot_rtl(Mode::Dynamic, 3);
}

#[test]
fn verilog_dynamic_pow2() {
    snapshot_rtl(Mode::DynamicPow2, 2);
}

#[test]
fn verilog_static() {
    snapshot_rtl(Mode::Static, 4);
}

/// Static mode at 3 activation bits with every quantizer and requantizer as threshold
/// comparisons (`Op::Thresholds`).
#[test]
fn verilog_static_thresholds() {
    snapshot_verilog(Net::ThreeBits, Mode::Static, 4);
}

#[test]
fn mixed_latency_dynamic() {
    snapshot_hls(Net::Mixed, Mode::Dynamic, Strategy::Latency, 1, false);
}

#[test]
fn mixed_resource_static() {
    snapshot_hls(Net::Mixed, Mode::Static, Strategy::Resource, 2, false);
}

#[test]
fn mixed_verilog_dynamic_pow2() {
    snapshot_verilog(Net::Mixed, Mode::DynamicPow2, 3);
}

#[test]
fn mixed_verilog_static() {
    snapshot_verilog(Net::Mixed, Mode::Static, 4);
}

/// In-layer-norm profiles: centring stage (schneiderkamp) and code-unit dequantization.
#[test]
fn schneiderkamp_latency_dynamic() {
    snapshot_hls(
        Net::Profiled(ProfileName::Schneiderkamp),
        Mode::Dynamic,
        Strategy::Latency,
        1,
        false,
    );
}

#[test]
fn kyegomez_resource_static() {
    snapshot_hls(
        Net::Profiled(ProfileName::Kyegomez),
        Mode::Static,
        Strategy::Resource,
        4,
        false,
    );
}

#[test]
fn schneiderkamp_verilog_dynamic_pow2() {
    snapshot_verilog(
        Net::Profiled(ProfileName::Schneiderkamp),
        Mode::DynamicPow2,
        2,
    );
}

/// A seeded particle-level model: `Φ` = 3-4-2 BitLinear MLP, sum over 3 particles, `F` =
/// 2-3-2; static mode calibrated on 8 random jets.
fn set_model() -> bit2hls::ir::set::SetModel {
    use bit2hls::ir::set::{PoolKind, SetModel};
    use bit2hls::synthetic::random_mlp;
    let phi = random_mlp(&[3, 4, 2], 31, true);
    let rho = random_mlp(&[2, 3, 2], 32, true);
    SetModel {
        name: "set_3x3".into(),
        profile: phi.profile.clone(),
        particles: 3,
        features: 3,
        phi,
        pool: PoolKind::Sum,
        jet_features: 0,
        rho,
        input_type: None,
    }
}

/// Jets: empty, one particle, full, and one with a gap (slots 0 and 2).
fn set_jets(s: &bit2hls::ir::set::SetModel) -> bit2hls::io::particles::Jets {
    let x = tb_samples(s.features, 4 * s.particles, 5);
    let mask = vec![0, 0, 0, 1, 0, 0, 1, 1, 1, 1, 0, 1];
    let g = s.jet_features;
    let jet = tb_samples(g.max(1), 4, 9)[..4 * g].to_vec();
    bit2hls::io::particles::Jets {
        x,
        mask,
        jet,
        jets: 4,
        particles: s.particles,
        features: s.features,
        y: None,
        notes: Vec::new(),
    }
}

/// `set_3x3` with `pool` (and `jet` per-jet inputs after it), lowered for `mode` (input
/// `ap_fixed<12,5>`, calibrated on its jets), and the jets.
fn set_firmware(
    mode: Mode,
    pool: PoolKind,
    jet: usize,
) -> (bit2hls::ir::set::SetFirmware, bit2hls::io::particles::Jets) {
    let mut s = set_model();
    s.pool = pool;
    if jet > 0 {
        s.jet_features = jet;
        s.rho = bit2hls::synthetic::random_mlp(&[2 + jet, 3, 2], 33, true);
        s.rho.profile = s.phi.profile.clone();
        s.name = "set_3x3_jet".into();
    }
    let tb = set_jets(&s);
    let cal = bit2hls::pass::set::calibrate_set(&s, &tb.x, &tb.mask, &tb.jet);
    let fw = bit2hls::pipeline::lower_set_for(
        &s,
        &fw_args(mode, Some("ap_fixed<12,5>")),
        mode,
        Some(&cal),
    )
    .unwrap();
    (fw, tb)
}

fn snapshot_set_verilog(mode: Mode, reuse: usize, jet: usize) {
    snapshot_set_verilog_pool(mode, PoolKind::Sum, reuse, jet)
}

/// The Verilog of `set_3x3` with `pool` (snapshot names carry the pool unless it is a sum).
fn snapshot_set_verilog_pool(mode: Mode, pool: PoolKind, reuse: usize, jet: usize) {
    use bit2hls::back::rtl::{self, RtlOptions};
    use bit2hls::hw::{schedule::PipelineOptions, Design};
    let (fw, tb) = set_firmware(mode, pool, jet);
    let pipeline = PipelineOptions {
        adders_per_stage: 3,
        adders: Default::default(),
        const_mul: bit2hls::hw::schedule::ConstMul::default(),
    };
    let part = bit2hls::target::parts::default_part();
    let est = bit2hls::estimate::design::estimate_rtl_set(
        &fw,
        &Design::for_set(&fw, pipeline),
        part,
        5.0,
    );
    let o = RtlOptions {
        name: "myproject".into(),
        part: part.name.into(),
        clock_ns: 5.0,
        pipeline,
    };
    let (files, _) = rtl::render_set(
        &fw,
        &o,
        reuse,
        &fw.name,
        &tb,
        serde_json::json!({ "estimate": est }),
    )
    .unwrap();
    let problems = strict_verilog_problems(&files);
    assert!(problems.is_empty(), "{mode}: {problems:?}");
    let r = if reuse > 1 {
        format!("reuse{reuse}__")
    } else {
        String::new()
    };
    let r = if jet > 0 { format!("jet{jet}__{r}") } else { r };
    let r = if pool == PoolKind::Sum {
        r
    } else {
        format!("{}__{r}", pool.as_str())
    };
    assert_files(&files, |path| {
        Some(format!(
            "set_verilog__{r}{}__{}",
            mode,
            path.replace('/', "__")
        ))
    });
}

#[test]
fn set_verilog_dynamic() {
    snapshot_set_verilog(Mode::Dynamic, 1, 0);
}

#[test]
fn set_verilog_jet_inputs() {
    snapshot_set_verilog(Mode::Static, 1, 2);
    snapshot_set_verilog(Mode::Static, 2, 2);
}

#[test]
fn set_verilog_static() {
    snapshot_set_verilog(Mode::Static, 1, 0);
}

#[test]
fn set_verilog_static_particle_reuse() {
    snapshot_set_verilog(Mode::Static, 2, 0);
}

/// A mean pool: the count, the reciprocal ROM and the divisions, with one Φ per particle and
/// with Φ shared (the count delayed to F's core, which divides).
#[test]
fn set_verilog_static_mean() {
    snapshot_set_verilog_pool(Mode::Static, PoolKind::Mean, 1, 0);
    snapshot_set_verilog_pool(Mode::Static, PoolKind::Mean, 2, 0);
}

/// Every file of the HLS project of the particle-level model `set_3x3`, sum or max pool;
/// `reuse` ≥ 2 adds the shared-Φ pragmas.
fn snapshot_set_hls(mode: Mode, pool: PoolKind, reuse: usize, jet: usize) {
    use bit2hls::back::hls::{set::render_set, HlsOptions, ProjectMeta};
    let (fw, tb) = set_firmware(mode, pool, jet);
    let meta = ProjectMeta {
        model: format!("{}.safetensors", fw.name),
        tb_source: "snapshot jets".into(),
        calib: None,
    };
    let files = render_set(&fw, &HlsOptions::default(), reuse, &meta, &tb).unwrap();
    assert_files(&files, |path| {
        // The chain kernels and shared Tcl are snapshotted with the chain projects, the pool
        // kernel with the sum-pooled project.
        let pool_kernel = path.ends_with("nnet_b2h_pool.h");
        let copy = (is_verbatim_copy(path) && !pool_kernel)
            || (pool_kernel && (reuse > 1 || jet > 0 || pool != PoolKind::Sum));
        let j = if jet > 0 {
            format!("jet{jet}__")
        } else {
            String::new()
        };
        (!copy).then(|| {
            format!(
                "set_hls__{j}{}__{mode}__reuse{reuse}__{}",
                pool.as_str(),
                path.replace('/', "__")
            )
        })
    });
}

#[test]
fn set_hls_dynamic_sum() {
    snapshot_set_hls(Mode::Dynamic, PoolKind::Sum, 1, 0);
}

#[test]
fn set_hls_jet_inputs() {
    snapshot_set_hls(Mode::Static, PoolKind::Sum, 1, 2);
}

#[test]
fn set_hls_static_max_shared() {
    snapshot_set_hls(Mode::Static, PoolKind::Max, 2, 0);
}

#[test]
fn set_hls_static_mean() {
    snapshot_set_hls(Mode::Static, PoolKind::Mean, 1, 0);
}

/// Snapshots every file of `files` under the name `name(path)` gives (`None`: not snapshotted).
fn assert_files(files: &[(String, String)], name: impl Fn(&str) -> Option<String>) {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        for (path, text) in files {
            if let Some(n) = name(path) {
                insta::assert_snapshot!(n, text);
            }
        }
    });
}

/// Kernel headers and shared Tcl: copied verbatim into every project.
fn is_verbatim_copy(path: &str) -> bool {
    path.starts_with("firmware/nnet_utils/") || path.starts_with("vivado_scripts/")
}
