//! Verilator RTL simulation equals the emulator, bit for bit, with the promised timing.
//!
//! For every shipped model (models/*/*.safetensors) in every activation mode, 10,000 events
//! (test jets where the model takes jet features, else adversarial samples: saturation, zeros,
//! exact ties) and for random corner-case models (all-zero weights, one input, one output,
//! 512 inputs, affine/dense stages, unsigned input, wide types) at several pipeline depths, the
//! generated Verilog is simulated; every output must equal the emulator's, every event's
//! measured latency must equal the pipeline depth the schedule promised (which `estimate` and
//! report.json print: it is read off the same schedule, so it is exact by construction and not
//! checked against itself here), and the events must leave one per clock
//! (`cycles = events + bubbles + latency - 1`).
//!
//! Needs Verilator (scripts/deps.sh installs it): without it the tests FAIL.

mod common;

use bit2hls::back::rtl::{self, sim::RtlSimOutcome, RtlOptions};
use bit2hls::hw::schedule::PipelineOptions;
use bit2hls::ir::firmware::{Firmware, Mode};
use bit2hls::ir::{Model, Profile, ProfileName};
use bit2hls::target::{parts, AdderOptions, Adders, RequantCircuit};
use bit2hls::testutil::random_mlp;
use common::*;

struct Job {
    label: String,
    fw: Firmware,
    x: Vec<f32>,
    pipeline: PipelineOptions,
}

fn simulate(j: &Job) -> Result<RtlSimOutcome, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let prj = dir.path().join("prj");
    let o = RtlOptions {
        name: "dut".into(),
        part: parts::DEFAULT_PART.into(),
        clock_ns: 5.0,
        pipeline: j.pipeline,
    };
    let (files, design) =
        rtl::render(&j.fw, &o, "test", &j.x, serde_json::json!({})).map_err(|e| e.to_string())?;
    // Strict Verilog-2001 is checked once per design by `every_design_is_strict_verilog_2001`.
    let mut problems = Vec::new();
    bit2hls::back::hls::write_project(&files, &prj, true).map_err(|e| e.to_string())?;
    let r = rtl::sim::rtlsim(&prj, None, None).map_err(|e| format!("rtlsim failed: {e}"))?;
    let events = j.x.len() / j.fw.n_in;
    if r.events != events || r.received != events {
        problems.push(format!(
            "{} events sent, {} read back, {} results",
            events, r.events, r.received
        ));
    }
    if r.mismatches != 0 {
        problems.push(format!("{} mismatches\n{}", r.mismatches, r.stderr));
    }
    if r.latency_errors != 0 || r.latency != design.latency() {
        problems.push(format!(
            "latency: test bench measured {} ({} events off), schedule promised {}",
            r.latency,
            r.latency_errors,
            design.latency()
        ));
    }
    if r.cycles != events as u64 + r.bubbles + r.latency as u64 - 1 {
        problems.push(format!(
            "{} cycles for {} events + {} bubbles at latency {}: not one per clock",
            r.cycles, events, r.bubbles, r.latency
        ));
    }
    if problems.is_empty() {
        Ok(r)
    } else {
        Err(problems.join("; "))
    }
}

/// Simulates every job (two at a time); fails listing every failing configuration.
fn simulate_all(jobs: &[Job]) {
    let f = run_on_two_threads(
        jobs,
        |j| j.label.clone(),
        |j| {
            simulate(j).map(|r| {
                format!(
                    "{} events, 0 mismatches, latency {} cycles, verilator {:.1} s",
                    r.events, r.latency, r.build_secs
                )
            })
        },
    );
    assert!(
        f.is_empty(),
        "{} failing configurations:\n{}",
        f.len(),
        f.join("\n")
    );
}

/// Every adder structure is simulated: shared (depth cap 0, the default), shared without a cap,
/// and plain trees, chosen by the pipeline depth so that each meets several models; and every
/// requantizer circuit: thresholds at 3 and 6 adders per stage (the activation-bits models, two
/// random ones), the constant multiply at 2 and 5, the default (auto) otherwise.
fn adders_for(stages: u32) -> AdderOptions {
    let (adders, max_extra_depth) = match stages % 3 {
        0 => (Adders::Shared, None),
        1 => (Adders::Shared, Some(0)),
        _ => (Adders::Trees, Some(0)),
    };
    let requant = match (stages + 1) % 3 {
        0 => RequantCircuit::Multiply,
        1 => RequantCircuit::Thresholds,
        _ => RequantCircuit::Auto,
    };
    AdderOptions {
        adders,
        max_extra_depth,
        requant,
    }
}

/// One job per mode of `modes`: `model` lowered with the input type and fractional bits, the
/// test-bench inputs `x` (calibrated on `calib` for static mode), `stages` adders per stage.
#[allow(clippy::too_many_arguments)]
fn jobs_for(
    label: &str,
    model: &Model,
    input_type: Option<&'static str>,
    frac_bits: i32,
    x: &[f32],
    calib: Option<&[f32]>,
    stages: u32,
    modes: &[Mode],
) -> Vec<Job> {
    modes
        .iter()
        .map(|&mode| Job {
            label: format!(
                "{label} / {mode} / {stages} adders per stage / {:?}",
                adders_for(stages)
            ),
            fw: lower_frac(model, mode, input_type, calib, frac_bits),
            x: x.to_vec(),
            pipeline: PipelineOptions {
                adders_per_stage: stages,
                adders: adders_for(stages),
                const_mul: bit2hls::hw::schedule::ConstMul::default(),
            },
        })
        .collect()
}

/// Random corner-case models at several pipeline depths, 1,000 events each, in two of the
/// three modes (rotating, so that every mode meets six of the nine models; CI time: each design
/// is one Verilator build). The netlists of every mode are checked against the emulator on
/// random models by the property tests of `hw`; this test checks their Verilog and timing.
fn random_jobs() -> Vec<Job> {
    let n = 1000;
    let mut jobs = Vec::new();
    let mut k = 0;
    let mut add =
        |label: &str, m: Model, it: Option<&'static str>, frac: i32, seed: u64, stages: u32| {
            let x = tb_samples(m.inputs, n, seed);
            let modes: Vec<Mode> = (0..3)
                .filter(|i| *i != k % 3)
                .map(|i| Mode::ALL[i])
                .collect();
            k += 1;
            jobs.extend(jobs_for(label, &m, it, frac, &x, None, stages, &modes));
        };
    add(
        "4-8-3 bias",
        random_mlp(&[4, 8, 3], 11, true),
        None,
        12,
        1,
        1,
    );
    add(
        "16-64-32-5 no bias",
        random_mlp(&[16, 64, 32, 5], 12, false),
        None,
        12,
        2,
        3,
    );
    add(
        "6-5-4 all-zero weights",
        zero_weights(random_mlp(&[6, 5, 4], 13, true)),
        None,
        12,
        3,
        2,
    );
    add(
        "1-8-4 one input",
        random_mlp(&[1, 8, 4], 14, true),
        None,
        12,
        4,
        4,
    );
    add(
        "8-6-1 one output",
        random_mlp(&[8, 6, 1], 15, true),
        Some("ap_fixed<8,3>"),
        12,
        5,
        5,
    );
    add(
        "512-16-4 wide",
        random_mlp(&[512, 16, 4], 16, true),
        None,
        12,
        6,
        4,
    );
    add(
        "mixed affine/dense/ternary",
        mixed_model(17),
        Some("ap_fixed<12,4>"),
        12,
        7,
        2,
    );
    add(
        "ReLU first, unsigned input",
        relu_first(random_mlp(&[5, 7, 3], 18, true)),
        Some("ap_ufixed<10,4>"),
        12,
        8,
        3,
    );
    add(
        "wide types",
        random_mlp(&[12, 10, 4], 19, true),
        Some("ap_fixed<24,4>"),
        24,
        9,
        64,
    );
    jobs
}

#[test]
fn random_models_rtl_equals_emulator() {
    simulate_all(&random_jobs());
}

/// Profiles with an in-layer norm (centring tree, code-unit dequantization), every mode.
#[test]
fn norm_profiles_rtl_equals_emulator() {
    simulate_all(&norm_jobs());
}

fn norm_jobs() -> Vec<Job> {
    let n = 1000;
    let mut jobs = Vec::new();
    let cases = [
        (
            "kyegomez 16-32-32-2 bias",
            ProfileName::Kyegomez,
            random_mlp(&[16, 32, 32, 2], 31, true),
            None,
            2,
        ),
        (
            "schneiderkamp 16-32-32-2 bias",
            ProfileName::Schneiderkamp,
            random_mlp(&[16, 32, 32, 2], 32, true),
            None,
            3,
        ),
        (
            "schneiderkamp 1-8-4 one input",
            ProfileName::Schneiderkamp,
            random_mlp(&[1, 8, 4], 33, true),
            None,
            1,
        ),
        (
            "schneiderkamp ReLU first, unsigned input",
            ProfileName::Schneiderkamp,
            relu_first(random_mlp(&[5, 7, 3], 34, false)),
            Some("ap_ufixed<10,4>"),
            4,
        ),
    ];
    for (i, (label, profile, mut m, it, stages)) in cases.into_iter().enumerate() {
        m.profile = Profile::named(profile);
        let x = tb_samples(m.inputs, n, 40 + i as u64);
        jobs.extend(jobs_for(label, &m, it, 12, &x, None, stages, &Mode::ALL));
    }
    jobs
}

const EVENTS: usize = 10_000;

/// Activation bits b = 2, 3, 4 ([`ACT_BITS_HLS`], b read from the model file), every mode, 2,000 events.
#[test]
fn act_bits_rtl_equals_emulator() {
    simulate_all(&act_bits_jobs());
}

fn act_bits_jobs() -> Vec<Job> {
    let mut jobs = Vec::new();
    for (b, m) in act_bits_models(&ACT_BITS_HLS) {
        let x = tb_samples(m.inputs, 2000, 50 + b as u64);
        jobs.extend(jobs_for(
            &format!("act_bits b={b}"),
            &m,
            None,
            12,
            &x,
            None,
            3,
            &Mode::ALL,
        ));
    }
    jobs
}

/// Every shipped model in every mode, 10,000 events each (one job per distinct firmware).
fn shipped_jobs() -> Vec<Job> {
    let root = repo().join("models");
    let paths = shipped_models();
    assert!(
        paths.len() >= 3,
        "expected the shipped models under {}",
        root.display()
    );
    let jets = bit2hls::io::npz::read_dataset(&root.join("data/test_jets.npz"))
        .expect("models/data/test_jets.npz reads");
    let calib = bit2hls::io::npz::read_dataset(&root.join("data/calib_jets.npz"))
        .expect("models/data/calib_jets.npz reads");
    let mut jobs = Vec::new();
    for p in &paths {
        let m = bit2hls::front::load(p, &Default::default())
            .unwrap_or_else(|e| panic!("shipped model {} does not load: {e}", p.display()))
            .model;
        let label = p.strip_prefix(repo()).unwrap_or(p).display().to_string();
        if jets.cols == m.inputs {
            let x = &jets.x[..EVENTS.min(jets.rows) * m.inputs];
            jobs.extend(jobs_for(
                &label,
                &m,
                None,
                12,
                x,
                Some(&calib.x),
                4,
                &Mode::ALL,
            ));
        } else {
            let x = tb_samples(m.inputs, EVENTS, 31);
            jobs.extend(jobs_for(&label, &m, None, 12, &x, None, 4, &Mode::ALL));
        }
    }
    // Models stored in different formats that lower to the same firmware (seq_nobias, seq_i8,
    // seq_hfpacked) are simulated once.
    let mut unique: Vec<Job> = Vec::new();
    for j in jobs {
        match unique
            .iter()
            .find(|u| u.fw.layers == j.fw.layers && u.fw.options == j.fw.options && u.x == j.x)
        {
            Some(u) => eprintln!("{}: same firmware as {}", j.label, u.label),
            None => unique.push(j),
        }
    }
    unique
}

/// Every shipped model in every mode, 10,000 events each.
#[test]
fn shipped_models_rtl_equals_emulator() {
    let jobs = shipped_jobs();
    assert!(
        jobs.iter().all(|j| j.x.len() / j.fw.n_in >= EVENTS),
        "every model gets 10,000 events"
    );
    simulate_all(&jobs);
}

/// Every design the RTL tests above simulate (random corner cases, norm profiles, activation
/// bits and shipped models, every mode and pipeline depth) declares each identifier before its
/// first use and parses as Verilog-2001 with Icarus (checked here once per design, not again
/// inside each simulation; this test needs no Verilator).
#[test]
fn every_design_is_strict_verilog_2001() {
    let jobs: Vec<Job> = random_jobs()
        .into_iter()
        .chain(norm_jobs())
        .chain(act_bits_jobs())
        .chain(shipped_jobs())
        .collect();
    assert!(jobs.len() >= 30, "{} designs", jobs.len());
    let f = run_on_two_threads(
        &jobs,
        |j| j.label.clone(),
        |j| {
            let o = RtlOptions {
                name: "dut".into(),
                part: parts::DEFAULT_PART.into(),
                clock_ns: 5.0,
                pipeline: j.pipeline,
            };
            let (files, _) =
                rtl::render(&j.fw, &o, "test", &j.x[..j.fw.n_in], serde_json::json!({}))
                    .map_err(|e| e.to_string())?;
            let p = strict_verilog_problems(&files);
            if p.is_empty() {
                Ok(String::new())
            } else {
                Err(p.join("; "))
            }
        },
    );
    assert!(f.is_empty(), "{} designs fail:\n{}", f.len(), f.join("\n"));
}

/// The checker finds a use before the declaration, a double declaration, and nothing in a
/// correct module (based literals, system functions, port lists, comments).
#[test]
fn declaration_checker_finds_uses_before_declarations() {
    let ok = "`timescale 1ns / 1ps\nmodule m (input clk, input [3:0] x_0, output [1:0] y);\n\
              // a comment n9\n    wire [3:0] a = x_0 + 4'hf; reg [1:0] r, q; integer i;\n\
              always @(posedge clk) begin r <= $signed(a[1:0]); for (i = 0; i < 2; i = i + 1) q <= r; end\n\
              assign y = q;\nendmodule\n";
    assert_eq!(used_before_declared(ok), Vec::<String>::new());
    let late = ok.replace(
        "assign y = q;",
        "assign y = late;\n    wire [1:0] late = r;",
    );
    assert_eq!(used_before_declared(&late), vec!["late".to_string()]);
    let twice = ok.replace("integer i;", "integer i; wire a;");
    assert_eq!(
        used_before_declared(&twice),
        vec!["a (declared twice)".to_string()]
    );
}
