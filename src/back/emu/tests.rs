//! Property tests ("problems" in tract's sense): random small networks and adversarial inputs;
//! the emulator must equal the naive wide-integer reference and stay inside every proven range.

use super::naive;
use super::problem::{build, problem, problem_all_profiles, run_counted, Problem};
use crate::front::{ArchOrigin, Loaded};
use crate::ir::firmware::{HiddenUnits, Mode, Requant};
use crate::pass::calibrate::calibrate;
use crate::pipeline::{lower_for, FwOptions};
use crate::reference::fixed::Emulator;
use crate::testutil::Rng;
use proptest::prelude::*;

/// Inputs that stress the ranges: extremes, a single outlier, zeros, random codes.
pub(crate) fn adversarial_inputs(n_in: usize, lo: i64, hi: i64, seed: u64) -> Vec<Vec<i64>> {
    let mut r = Rng(seed);
    let mut v = vec![vec![hi; n_in], vec![lo; n_in], vec![0; n_in]];
    v.push(
        (0..n_in)
            .map(|k| if k % 2 == 0 { hi } else { lo })
            .collect(),
    );
    let mut one = vec![0; n_in];
    one[0] = lo;
    v.push(one);
    let mut small = vec![1; n_in];
    small[n_in - 1] = -1;
    v.push(small);
    for _ in 0..40 {
        v.push(
            (0..n_in)
                .map(|_| lo + (r.next_u64() % ((hi - lo + 1) as u64)) as i64)
                .collect(),
        );
    }
    v
}

pub(crate) fn fw_args(p: &Problem) -> FwOptions {
    FwOptions {
        mode: Mode::Dynamic,
        calib: None,
        input_type: Some(format!("ap_fixed<{},{}>", p.in_width, p.in_int)),
        input_bits: 16,
        frac_bits: p.frac_bits,
        const_bits: 18,
        weight_bits: 12,
        calib_quantile: 1.0,
        ..FwOptions::default()
    }
}

/// The firmware of problem `p` in every mode, calibrated on 64 Gaussian events seeded with
/// `calib_seed` and lowered with [`fw_args`]; `Err` where the lowering refuses.
pub(crate) fn lower_all_modes(
    p: &Problem,
    calib_seed: u64,
) -> Vec<(Mode, crate::Result<crate::ir::firmware::Firmware>)> {
    let loaded = Loaded {
        model: build(p),
        origin: ArchOrigin::Inferred,
        notes: vec![],
        task: Default::default(),
    };
    let cal = calibrate(
        &loaded.model,
        &crate::testutil::gaussian(64 * p.widths[0], calib_seed),
    );
    let mut forms: Vec<(Mode, FwOptions)> = Mode::ALL.map(|m| (m, fw_args(p))).to_vec();
    forms.extend([
        // Static mode's other requantization forms: fused with 1–4 digits (the default above
        // has DEFAULT_REQUANT_DIGITS), and separate.
        (
            Mode::Static,
            FwOptions {
                requant_digits: 1 + (p.seed % 4) as u32,
                ..fw_args(p)
            },
        ),
        (
            Mode::Static,
            FwOptions {
                requant: Requant::Separate,
                ..fw_args(p)
            },
        ),
        // Static mode's first quantizer with 1–3 signed digits (1: a power of two).
        (
            Mode::Static,
            FwOptions {
                input_digits: Some(1 + (p.seed % 3) as u32),
                ..fw_args(p)
            },
        ),
        // Dynamic mode's other forms: hidden values in real units, and the reciprocal's guard
        // bits 0..=12 (the default above has scaled units and DEFAULT_RECIP_GUARD_BITS).
        (
            Mode::Dynamic,
            FwOptions {
                hidden_units: HiddenUnits::Real,
                recip_guard_bits: (p.seed % 13) as i32,
                ..fw_args(p)
            },
        ),
    ]);
    forms
        .into_iter()
        .map(|(mode, args)| (mode, lower_for(&loaded, &args, mode, Some(&cal))))
        .collect()
}

/// Range analysis is sound and the emulator equals the naive i128 reference (192 problems in
/// every mode; at least 90 % of the pairs must lower).
#[test]
fn emulator_matches_naive_and_ranges_hold() {
    run_counted(
        "proptest-regressions/back/emu/tests.txt",
        192,
        problem_all_profiles(24, 20),
        0.9,
        |p, tally| {
            for (mode, fw) in lower_all_modes(&p, p.seed ^ 1) {
                let fw = match fw {
                    Ok(fw) => fw,
                    // A refusal must be the documented width limit, never anything else.
                    Err(e) => {
                        prop_assert!(e.to_string().contains("bits"), "{e}");
                        tally.skipped();
                        continue;
                    }
                };
                tally.ran();
                let emu = Emulator::new(&fw);
                let t = fw.input_type();
                for x in
                    adversarial_inputs(fw.n_in, t.min_code() as i64, t.max_code() as i64, p.seed)
                {
                    let mut out = vec![0i64; fw.n_out];
                    let r = emu.run_checked(&x, &mut out, None);
                    prop_assert!(r.is_ok(), "mode {mode}: range violated: {:?}", r);
                    prop_assert_eq!(&out, &naive::run(&fw, &x), "mode {}", mode);
                }
            }
            Ok(())
        },
    );
}

/// With scale 127 the codes of the dynamic modes never reach -128 (reference §1.2), and the
/// accumulator of a K-input layer needs at most 8 + ceil(log2 K) bits.
#[test]
fn accumulator_width_bound() {
    for k in [1usize, 2, 3, 16, 64, 100, 256, 512] {
        let model = crate::testutil::random_mlp(&[k, 4], k as u64, false);
        let loaded = Loaded {
            model,
            origin: ArchOrigin::Inferred,
            notes: vec![],
            task: Default::default(),
        };
        let args = FwOptions {
            mode: Mode::Dynamic,
            input_type: Some("ap_fixed<16,6>".into()),
            ..FwOptions::default()
        };
        let fw = lower_for(&loaded, &args, Mode::Dynamic, None).unwrap();
        let crate::ir::firmware::FwKind::Ternary(t) = &fw.layers[0].kind else {
            panic!()
        };
        assert_eq!((t.code_range.lo, t.code_range.hi), (-127, 127));
        let bound = 8 + (k as f64).log2().ceil() as u32;
        assert!(
            t.acc_type.width <= bound,
            "K={k}: {} > {bound}",
            t.acc_type.width
        );
    }
}

#[test]
fn round_div_ties_to_even() {
    assert_eq!(naive::round_div(5, 2), 2);
    assert_eq!(naive::round_div(7, 2), 4);
    assert_eq!(naive::round_div(-5, 2), -2);
    assert_eq!(naive::round_div(-7, 2), -4);
    assert_eq!(naive::round_div(1, 3), 0);
    assert_eq!(naive::round_div(2, 3), 1);
}

/// The count is enforced: a property whose cases are mostly skipped fails.
#[test]
#[should_panic(expected = "(problem, mode) pairs ran (the lowering refused the others)")]
fn counted_property_fails_when_most_cases_skip() {
    run_counted(
        "proptest-regressions/unused.txt",
        20,
        problem(4, 8),
        0.9,
        |p, tally| {
            if p.seed % 4 == 0 {
                tally.ran();
            } else {
                tally.skipped();
            }
            Ok(())
        },
    );
}

/// The in-layer-norm profiles (centring stage, code-unit dequantization) lower in every mode on
/// 64 random networks and the emulator equals the naive reference inside its proven ranges.
/// No case may be skipped: every lowering must succeed.
#[test]
fn norm_profiles_match_naive_in_every_mode() {
    use crate::ir::ProfileName;
    let mut ran = 0;
    for profile in [ProfileName::Kyegomez, ProfileName::Schneiderkamp] {
        for seed in 0..64u64 {
            let p = Problem {
                widths: vec![1 + (seed as usize % 9), 9, 5, 3],
                seed,
                bias: seed % 2 == 0,
                dense_first: false,
                batchnorm: false,
                zero_frac: [0.0, 0.33, 0.9, 1.0][seed as usize % 4],
                in_width: 12,
                in_int: 4,
                frac_bits: 10,
                profile,
                events: 0,
            };
            for (mode, fw) in lower_all_modes(&p, seed) {
                let fw = fw.unwrap();
                let emu = Emulator::new(&fw);
                let t = fw.input_type();
                for x in adversarial_inputs(fw.n_in, t.min_code() as i64, t.max_code() as i64, seed)
                {
                    let mut out = vec![0i64; fw.n_out];
                    let r = emu.run_checked(&x, &mut out, None);
                    assert!(r.is_ok(), "{profile} seed {seed} {mode}: {r:?}");
                    assert_eq!(out, naive::run(&fw, &x), "{profile} seed {seed} {mode}");
                }
                ran += 1;
            }
        }
    }
    // Three modes plus static's two other requantization forms, its few-digit input quantizer
    // and dynamic's real units (lower_all_modes).
    assert_eq!(ran, 2 * 64 * 7);
}
