//! C-simulation equals the emulator: for random models (including the corner cases an HLS
//! generator gets wrong: all-zero weights, one input, one output, a 512-wide layer,
//! full-precision and affine stages, a leading ReLU with an unsigned input, a narrow saturating
//! input type, wide (multi-word ap_int) intermediates) and for every
//! strategy × activation mode, the generated project is built with g++ against the ap_types
//! headers and run on 1,000 samples; every output must equal Emulator::run_codes exactly.
//! Also every shipped model under models/*/*.safetensors.
//!
//! Needs g++ and the ap_types headers (scripts/setup_ap_types.sh): without them the tests FAIL.

mod common;

use bit2hls::ir::firmware::{Firmware, Mode};
use bit2hls::ir::{Model, Profile, ProfileName};
use bit2hls::target::Strategy;
use bit2hls::testutil::random_mlp;
use common::*;

const SAMPLES: usize = 1000;

struct Case {
    label: String,
    model: Model,
    input_type: Option<&'static str>,
    frac_bits: i32,
    calib_x: Option<Vec<f32>>,
    x: Vec<f32>,
    modes: Vec<Mode>,
    strategies: Vec<(Strategy, usize)>,
}

fn case(
    label: &str,
    model: Model,
    input_type: Option<&'static str>,
    reuse: usize,
    seed: u64,
) -> Case {
    let x = tb_samples(model.inputs, SAMPLES, seed);
    Case {
        label: label.to_string(),
        model,
        input_type,
        frac_bits: 12,
        calib_x: None,
        x,
        modes: Mode::ALL.to_vec(),
        strategies: vec![(Strategy::Latency, 1), (Strategy::Resource, reuse)],
    }
}

/// Runs every (case, mode, strategy) on two worker threads; returns the failures.
/// (case index, mode, strategy, reuse factor).
type Job = (usize, Mode, Strategy, usize);

/// Every case in each of its modes and strategies.
fn all_jobs(cases: &[Case]) -> Vec<Job> {
    cases
        .iter()
        .enumerate()
        .flat_map(|(i, c)| {
            c.modes
                .iter()
                .flat_map(move |&m| c.strategies.iter().map(move |&(s, r)| (i, m, s, r)))
        })
        .collect()
}

fn run_all(cases: &[Case]) -> Vec<String> {
    run_jobs(cases, &all_jobs(cases))
}

fn run_jobs(cases: &[Case], jobs: &[Job]) -> Vec<String> {
    let what = |&(ci, mode, strategy, reuse): &Job| {
        format!(
            "{} / {mode} / {} (reuse {reuse})",
            cases[ci].label,
            strategy.as_str()
        )
    };
    run_on_two_threads(jobs, what, |&(ci, mode, strategy, reuse)| {
        let c = &cases[ci];
        let fw: Firmware = lower_frac(
            &c.model,
            mode,
            c.input_type,
            c.calib_x.as_deref(),
            c.frac_bits,
        );
        let dir = tempfile::tempdir().unwrap();
        let prj = dir.path().join("prj");
        write(&fw, &opts(strategy, reuse), &c.x, &prj);
        if strategy == Strategy::Latency {
            assert_predictions_are_emulator(&fw, &c.x, &prj);
        }
        let r = run_csim(&prj);
        if r.mismatches != 0 || r.samples != c.x.len() / c.model.inputs {
            Err(format!(
                "{} mismatches over {} samples\n{}",
                r.mismatches, r.samples, r.stderr
            ))
        } else {
            Ok(format!(
                "{} samples, {} mismatches, g++ {:.1} s",
                r.samples, r.mismatches, r.build_secs
            ))
        }
    })
}

#[test]
fn random_models_csim_equals_emulator() {
    let cases = vec![
        case("4-8-3 bias", random_mlp(&[4, 8, 3], 11, true), None, 4, 1),
        case(
            "16-64-32-5 no bias",
            random_mlp(&[16, 64, 32, 5], 12, false),
            None,
            32,
            2,
        ),
        case(
            "6-5-4 all-zero weights",
            zero_weights(random_mlp(&[6, 5, 4], 13, true)),
            None,
            2,
            3,
        ),
        case(
            "1-8-4 one input",
            random_mlp(&[1, 8, 4], 14, true),
            None,
            4,
            4,
        ),
        case(
            "8-6-1 one output",
            random_mlp(&[8, 6, 1], 15, true),
            Some("ap_fixed<8,3>"),
            6,
            5,
        ),
        case(
            "512-16-4 wide",
            random_mlp(&[512, 16, 4], 16, true),
            None,
            64,
            6,
        ),
        case(
            "mixed affine/dense/ternary",
            mixed_model(17),
            Some("ap_fixed<12,4>"),
            3,
            7,
        ),
        case(
            "ReLU first, unsigned input",
            relu_first(random_mlp(&[5, 7, 3], 18, true)),
            Some("ap_ufixed<10,4>"),
            7,
            8,
        ),
        Case {
            frac_bits: 24,
            ..case(
                "wide types (ap_fixed<24,4> in, 24 frac bits)",
                random_mlp(&[12, 10, 4], 19, true),
                Some("ap_fixed<24,4>"),
                5,
                9,
            )
        },
    ];
    let f = run_all(&cases);
    assert!(
        f.is_empty(),
        "{} failing configurations:\n{}",
        f.len(),
        f.join("\n")
    );
}

/// The same model under another profile (codes and β unchanged).
fn with_profile(mut m: Model, p: ProfileName) -> Model {
    m.profile = Profile::named(p);
    m
}

/// Profiles with an in-layer norm (centring stage, code-unit dequantization), every mode and
/// strategy, including one input (U ≡ 0) and an unsigned input behind a leading ReLU.
#[test]
fn norm_profiles_csim_equals_emulator() {
    let (k, s) = (ProfileName::Kyegomez, ProfileName::Schneiderkamp);
    let cases = vec![
        case(
            "kyegomez 16-32-32-2 bias",
            with_profile(random_mlp(&[16, 32, 32, 2], 31, true), k),
            None,
            8,
            11,
        ),
        case(
            "schneiderkamp 16-32-32-2 bias",
            with_profile(random_mlp(&[16, 32, 32, 2], 32, true), s),
            None,
            8,
            12,
        ),
        case(
            "schneiderkamp 1-8-4 one input",
            with_profile(random_mlp(&[1, 8, 4], 33, true), s),
            None,
            4,
            13,
        ),
        case(
            "schneiderkamp ReLU first, unsigned input",
            with_profile(relu_first(random_mlp(&[5, 7, 3], 34, false)), s),
            Some("ap_ufixed<10,4>"),
            7,
            14,
        ),
    ];
    let f = run_all(&cases);
    assert!(
        f.is_empty(),
        "{} failing configurations:\n{}",
        f.len(),
        f.join("\n")
    );
}

/// Activation bits b = 2, 3, 4 ([`ACT_BITS_HLS`], b read from the model file): every mode, latency strategy
/// (the resource strategy's loops do not depend on b; leaving it out halves this test's time).
#[test]
fn act_bits_csim_equals_emulator() {
    let cases: Vec<Case> = act_bits_models(&ACT_BITS_HLS)
        .into_iter()
        .map(|(b, m)| Case {
            strategies: vec![(Strategy::Latency, 1)],
            ..case(&format!("act_bits b={b}"), m, None, 1, 40 + b as u64)
        })
        .collect();
    let f = run_all(&cases);
    assert!(
        f.is_empty(),
        "{} failing configurations:\n{}",
        f.len(),
        f.join("\n")
    );
}

/// Every shipped model: dynamic and dynamic-pow2, and static when the test jets exist.
#[test]
fn shipped_models_csim_equals_emulator() {
    let root = repo().join("models");
    let paths = shipped_models();
    let jets = root.join("data/test_jets.npz");
    let jets = if jets.is_file() {
        Some(bit2hls::io::npz::read_dataset(&jets).expect("test_jets.npz reads"))
    } else {
        None
    };
    let mut cases = Vec::new();
    for p in &paths {
        let loaded = bit2hls::front::load(p, &Default::default())
            .unwrap_or_else(|e| panic!("shipped model {} does not load: {e}", p.display()));
        let m = loaded.model;
        // The largest reuse factor in {4, 2, 1} that divides every weighted layer.
        let sizes: Vec<usize> = m
            .layers
            .iter()
            .filter_map(|l| l.shape())
            .map(|(a, b)| a * b)
            .collect();
        let reuse = [4usize, 2, 1]
            .into_iter()
            .find(|r| sizes.iter().all(|s| s % r == 0))
            .unwrap_or(1);
        let jets_fit = jets.as_ref().filter(|d| d.cols == m.inputs);
        let (x, modes, calib_x) = match jets_fit {
            Some(d) => {
                let n = d.rows.min(SAMPLES);
                (
                    d.x[..n * m.inputs].to_vec(),
                    Mode::ALL.to_vec(),
                    Some(d.x.clone()),
                )
            }
            None => (
                tb_samples(m.inputs, SAMPLES, 21),
                vec![Mode::Dynamic, Mode::DynamicPow2],
                None,
            ),
        };
        let label = p.strip_prefix(repo()).unwrap_or(p).display().to_string();
        // Models stored in different formats (seq_nobias, seq_i8, seq_hfpacked) are the same
        // network: C-simulated once.
        if let Some(u) = cases
            .iter()
            .find(|u: &&Case| u.model.layers == m.layers && u.model.profile == m.profile)
        {
            eprintln!("{label}: same network as {}", u.label);
            continue;
        }
        cases.push(Case {
            label,
            model: m,
            input_type: None,
            frac_bits: 12,
            calib_x,
            x,
            modes,
            strategies: vec![(Strategy::Latency, 1), (Strategy::Resource, reuse)],
        });
    }
    eprintln!("{} shipped networks", cases.len());
    // Every model in every mode with the latency strategy; the resource strategy (whose loops do
    // not depend on the mode) in one mode per model, rotating, so that each mode meets it on
    // several models. Halves this test's compilations.
    let jobs: Vec<Job> = all_jobs(&cases)
        .into_iter()
        .filter(|&(ci, mode, strategy, _)| {
            let modes = &cases[ci].modes;
            strategy == Strategy::Latency || modes[ci % modes.len()] == mode
        })
        .collect();
    let f = run_jobs(&cases, &jobs);
    assert!(
        f.is_empty(),
        "{} failing configurations:\n{}",
        f.len(),
        f.join("\n")
    );
}
