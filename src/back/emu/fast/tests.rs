//! The fast emulator must give exactly the integers of the reference, for every event.

use super::{FastEmulator, Kernel, LANES};
use crate::back::emu::problem::{build, problem, run_counted};
use crate::front::{ArchOrigin, Loaded};
use crate::ir::firmware::{Firmware, Mode, Requant};
use crate::pass::calibrate::calibrate;
use crate::pipeline::{lower_for, FwOptions};
use crate::reference::fixed::Emulator;
use crate::testutil::{random_mlp, Rng};
use proptest::prelude::*;
use proptest::strategy::ValueTree;

fn fw_args(input_type: String, frac_bits: i32) -> FwOptions {
    FwOptions {
        mode: Mode::Dynamic,
        calib: None,
        input_type: Some(input_type),
        input_bits: 16,
        frac_bits,
        const_bits: 18,
        weight_bits: 12,
        calib_quantile: 1.0,
        ..FwOptions::default()
    }
}

/// Input codes that stress every path: extremes, alternating signs, zeros, a single outlier,
/// ±1, then `extra` random codes (uniform, and small-magnitude so that M is small).
fn adversarial_codes(n_in: usize, lo: i64, hi: i64, extra: usize, seed: u64) -> Vec<i64> {
    let mut r = Rng(seed);
    let mut v: Vec<Vec<i64>> = vec![vec![hi; n_in], vec![lo; n_in], vec![0; n_in]];
    v.push(
        (0..n_in)
            .map(|k| if k % 2 == 0 { hi } else { lo })
            .collect(),
    );
    for pos in [0, n_in / 2, n_in - 1] {
        for val in [lo, hi, 1, -1] {
            let mut one = vec![0; n_in];
            one[pos] = val.clamp(lo, hi);
            v.push(one);
        }
    }
    let mut small = vec![1.min(hi); n_in];
    small[n_in - 1] = (-1).max(lo);
    v.push(small);
    for i in 0..extra {
        let span = if i % 3 == 0 { (hi - lo + 1) as u64 } else { 7 };
        let base = if i % 3 == 0 { lo } else { (-3).max(lo) };
        v.push(
            (0..n_in)
                .map(|_| (base + (r.next_u64() % span) as i64).clamp(lo, hi))
                .collect(),
        );
    }
    v.concat()
}

/// Float inputs: gaussian at several scales, exact rounding ties, saturating values, ±inf, NaN,
/// signed zeros, subnormals.
fn adversarial_floats(n_in: usize, frac: i32, extra: usize, seed: u64) -> Vec<f32> {
    let mut r = Rng(seed);
    let ulp = (2f64).powi(-frac);
    let specials = [
        0.0f32,
        -0.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        f32::MAX,
        f32::MIN,
        1e-40,
        -1e-40,
        (0.5 * ulp) as f32,
        (1.5 * ulp) as f32,
        (-2.5 * ulp) as f32,
        (-0.5 * ulp) as f32,
        1e30,
        -1e30,
    ];
    let mut v = Vec::new();
    for i in 0..(specials.len() + extra) {
        let scale = [1.0, 0.01, 30.0, 1000.0][i % 4];
        for k in 0..n_in {
            let x = if i < specials.len() && (k + i) % 2 == 0 {
                specials[(i + k) % specials.len()]
            } else if i % 5 == 1 {
                // a tie: (integer + 1/2) units of the input type
                (((r.next_u64() % 200) as f64 - 100.0 + 0.5) * ulp) as f32
            } else {
                (r.normal() * scale) as f32
            };
            v.push(x);
        }
    }
    v
}

fn reference_codes(fw: &Firmware, codes: &[i64]) -> Vec<i64> {
    let emu = Emulator::new(fw);
    let mut out = vec![0i64; codes.len() / fw.n_in * fw.n_out];
    for (xs, os) in codes.chunks(fw.n_in).zip(out.chunks_mut(fw.n_out)) {
        emu.run_codes(xs, os);
    }
    out
}

fn reference_floats(fw: &Firmware, x: &[f32]) -> Vec<i64> {
    let emu = Emulator::new(fw);
    let mut out = vec![0i64; x.len() / fw.n_in * fw.n_out];
    let mut inp = vec![0i64; fw.n_in];
    for (xs, os) in x.chunks(fw.n_in).zip(out.chunks_mut(fw.n_out)) {
        emu.quantize_input(xs, &mut inp);
        emu.run_codes(&inp, os);
    }
    out
}

/// Every kernel this CPU runs.
fn kernels() -> Vec<Kernel> {
    Kernel::ALL.into_iter().filter(|k| k.supported()).collect()
}

/// `with_kernel(fw, k)` runs the fastest kernel this CPU has that is no faster than `k` (it is
/// a safe function: it must never run AVX2 or AVX-512 code on a CPU without it).
#[test]
fn with_kernel_checks_the_cpu() {
    let fw = bench_fw(&[16, 64, 5], Mode::Dynamic, true);
    let avx2 = if Kernel::Avx2.supported() {
        "avx2"
    } else {
        "portable"
    };
    let avx512 = if Kernel::Avx512.supported() {
        "avx512"
    } else {
        avx2
    };
    assert_eq!(
        FastEmulator::with_kernel(&fw, Kernel::Avx512).kernel(),
        avx512
    );
    assert_eq!(FastEmulator::with_kernel(&fw, Kernel::Avx2).kernel(), avx2);
    assert_eq!(
        FastEmulator::with_kernel(&fw, Kernel::Portable).kernel(),
        "portable"
    );
    assert_eq!(Kernel::best().name(), avx512);
}

/// Asserts event by event (so a failure names the event).
fn assert_same(fw: &Firmware, what: &str, got: &[i64], want: &[i64]) {
    assert_eq!(got.len(), want.len(), "{what}: output length");
    for (i, (g, w)) in got.chunks(fw.n_out).zip(want.chunks(fw.n_out)).enumerate() {
        assert_eq!(g, w, "{what}: event {i}");
    }
}

fn check_fw(fw: &Firmware, seed: u64, extra: usize) {
    let t = fw.input_type();
    let codes = adversarial_codes(
        fw.n_in,
        t.min_code() as i64,
        t.max_code() as i64,
        extra,
        seed,
    );
    let want = reference_codes(fw, &codes);
    let floats = adversarial_floats(fw.n_in, t.frac, extra, seed ^ 0x55);
    let want_f = reference_floats(fw, &floats);
    for k in kernels() {
        let fast = FastEmulator::with_kernel(fw, k);
        let what = format!("mode {} kernel {}", fw.mode(), fast.kernel());
        assert_same(
            fw,
            &format!("{what} codes"),
            &fast.run_codes_batch(&codes),
            &want,
        );
        assert_same(
            fw,
            &format!("{what} floats"),
            &fast.run_batch(&floats),
            &want_f,
        );
        // Every prefix length around block boundaries (tails).
        for n in [0usize, 1, LANES - 1, LANES, LANES + 1] {
            let n = n.min(floats.len() / fw.n_in);
            assert_same(
                fw,
                &format!("{what} floats[..{n}]"),
                &fast.run_batch(&floats[..n * fw.n_in]),
                &want_f[..n * fw.n_out],
            );
        }
    }
}

/// Random models × all modes × adversarial inputs: identical to `Emulator::run_codes`
/// (160 problems by default, PROPTEST_CASES=N for a longer run; at least 90 % of the
/// (problem, mode) pairs must lower).
#[test]
fn fast_matches_reference_on_random_models() {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(160);
    // Firmware whose plan has i32 requantization stages.
    let int_requant = std::sync::atomic::AtomicUsize::new(0);
    // Firmware with outputs proven always 0 (left out of the next stage's lists).
    let dead = std::sync::atomic::AtomicUsize::new(0);
    // Firmware with outputs requantized in the one-rounding form, and with outputs that keep
    // the exact form (a tie or a fold differs somewhere in their range).
    let (one, exact) = (
        std::sync::atomic::AtomicUsize::new(0),
        std::sync::atomic::AtomicUsize::new(0),
    );

    run_counted(
        "proptest-regressions/back/emu/fast/tests.txt",
        cases,
        problem(40, 24),
        0.9,
        |p, tally| {
            let model = build(&p);
            let loaded = Loaded {
                model,
                origin: ArchOrigin::Inferred,
                notes: vec![],
                task: Default::default(),
            };
            let calib_x = crate::testutil::gaussian(64 * p.widths[0], p.seed ^ 1);
            let cal = calibrate(&loaded.model, &calib_x);
            let args = fw_args(
                format!("ap_fixed<{},{}>", p.in_width, p.in_int),
                p.frac_bits,
            );
            for mode in Mode::ALL {
                let Ok(fw) = lower_for(&loaded, &args, mode, Some(&cal)) else {
                    tally.skipped();
                    continue;
                };
                tally.ran();
                let fast = FastEmulator::new(&fw);
                if fast.int_requant_stages() > 0 {
                    int_requant.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                if fast.dead_outputs() > 0 {
                    dead.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                let (o, e) = fast.one_rounding_outputs();
                if o > 0 {
                    one.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                if e > 0 {
                    exact.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }

                check_fw(&fw, p.seed, p.events);
            }
            Ok(())
        },
    );
    // The i32 requantization path was among the random models (static mode, fused).
    assert!(int_requant.into_inner() > 0);
    assert!(dead.into_inner() > 0);
    assert!(one.into_inner() > 0);
    assert!(exact.into_inner() > 0);
}

fn bench_fw(widths: &[usize], mode: Mode, bias: bool) -> Firmware {
    let model = random_mlp(widths, 1234, bias);
    let loaded = Loaded {
        model,
        origin: ArchOrigin::Inferred,
        notes: vec![],
        task: Default::default(),
    };
    let args = FwOptions {
        mode,
        calib: None,
        input_type: Some("ap_fixed<16,6>".into()),
        input_bits: 16,
        frac_bits: 12,
        const_bits: 18,
        weight_bits: 16,
        calib_quantile: 1.0,
        // Static mode: both requantization forms on the kernels.
        requant: if bias {
            Requant::Fused
        } else {
            Requant::Separate
        },
        ..FwOptions::default()
    };
    let cal = (mode == Mode::Static).then(|| {
        calibrate(
            &loaded.model,
            &crate::testutil::gaussian(4096 * widths[0], 7),
        )
    });
    lower_for(&loaded, &args, mode, cal.as_ref()).unwrap()
}

/// The benchmark shapes run on the lane kernels (no fallback) and match, in every mode.
#[test]
fn fast_matches_reference_on_bench_shapes() {
    for widths in [&[16usize, 64, 32, 32, 5][..], &[64, 256, 256, 256, 10][..]] {
        for mode in Mode::ALL {
            for bias in [false, true] {
                let fw = bench_fw(widths, mode, bias);
                let fast = FastEmulator::new(&fw);
                assert!(
                    fast.is_fast(),
                    "{widths:?} {mode}: falls back: {:?}",
                    fast.fallback_reason()
                );
                if widths.len() == 5 && widths[1] == 256 && mode == Mode::Dynamic {
                    // The deep layers' dequantization products exceed 2^53: the i64 path runs.
                    assert!(fast.i64_stages() >= 1);
                }
                if mode == Mode::Static && bias {
                    // Fused requantization runs in i32 lanes between ternary stages where the
                    // products fit (AVX2 kernel; all of them in the small shape). Separate
                    // requantization's `Y·R_s` products are too wide for i32.
                    let want = if widths[1] == 64 { widths.len() - 2 } else { 1 };
                    assert!(fast.int_requant_stages() >= want, "{widths:?}");
                }
                check_fw(&fw, 42, 300);
                // Gaussian events like the benchmark, 1000 + a tail.
                let x = crate::testutil::gaussian(1037 * widths[0], 99);
                assert_same(
                    &fw,
                    "gaussian",
                    &fast.run_batch(&x),
                    &reference_floats(&fw, &x),
                );
            }
        }
    }
}

/// Firmware the lane kernels cannot prove exact runs on the reference, with the same answers.
#[test]
fn wide_types_fall_back_to_reference() {
    let model = random_mlp(&[8, 16, 4], 5, true);
    let loaded = Loaded {
        model,
        origin: ArchOrigin::Inferred,
        notes: vec![],
        task: Default::default(),
    };
    let cal = calibrate(&loaded.model, &crate::testutil::gaussian(64 * 8, 9));
    let mut found = 0;
    for ty in [
        "ap_fixed<36,12>",
        "ap_fixed<40,16>",
        "ap_fixed<44,20>",
        "ap_fixed<48,20>",
    ] {
        for mode in Mode::ALL {
            let Ok(fw) = lower_for(&loaded, &fw_args(ty.into(), 20), mode, Some(&cal)) else {
                continue;
            };
            let fast = FastEmulator::new(&fw);
            if fast.is_fast() {
                continue;
            }
            found += 1;
            assert_eq!(fast.kernel(), "reference");
            let floats = adversarial_floats(fw.n_in, fw.input_type().frac, 50, 3);
            assert_same(
                &fw,
                "fallback",
                &fast.run_batch(&floats),
                &reference_floats(&fw, &floats),
            );
            let t = fw.input_type();
            let codes = adversarial_codes(fw.n_in, t.min_code() as i64, t.max_code() as i64, 50, 3);
            assert_same(
                &fw,
                "fallback codes",
                &fast.run_codes_batch(&codes),
                &reference_codes(&fw, &codes),
            );
        }
    }
    assert!(found > 0, "no wide firmware lowered");
}

/// Most random problems must take the fast path, or the property test proves little.
#[test]
fn random_problems_mostly_fast() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (mut fast, mut total) = (0, 0);
    for _ in 0..200 {
        let p = problem(40, 24).new_tree(&mut runner).unwrap().current();
        let loaded = Loaded {
            model: build(&p),
            origin: ArchOrigin::Inferred,
            notes: vec![],
            task: Default::default(),
        };
        let cal = calibrate(
            &loaded.model,
            &crate::testutil::gaussian(64 * p.widths[0], p.seed ^ 1),
        );
        let args = fw_args(
            format!("ap_fixed<{},{}>", p.in_width, p.in_int),
            p.frac_bits,
        );
        for mode in Mode::ALL {
            if let Ok(fw) = lower_for(&loaded, &args, mode, Some(&cal)) {
                total += 1;
                if FastEmulator::new(&fw).is_fast() {
                    fast += 1;
                } else {
                    eprintln!("fallback: {:?}", FastEmulator::new(&fw).fallback_reason());
                }
            }
        }
    }
    assert!(
        fast * 10 >= total * 9,
        "only {fast}/{total} random problems take the fast path"
    );
}

#[test]
#[ignore]
fn print_bench_types() {
    for widths in [&[16usize, 64, 32, 32, 5][..], &[64, 256, 256, 256, 10][..]] {
        for mode in Mode::ALL {
            let fw = bench_fw(widths, mode, false);
            eprintln!(
                "{widths:?} {mode}: {:?}",
                FastEmulator::new(&fw).fallback_reason()
            );
            for l in &fw.layers {
                if let crate::ir::firmware::FwKind::Ternary(t) = &l.kind {
                    let cmax = t.scale.iter().map(|c| c.abs()).max().unwrap();
                    eprintln!(
                        "  in {} out {} acc {} dequant {} shift {} cmax {} quant {:?}",
                        l.in_type, l.out_type, t.acc_type, t.dequant_type, t.shift, cmax, t.quant
                    );
                }
            }
        }
    }
}

/// The one-rounding requantization is used exactly where no accumulator of the range tells it
/// from the exact form: `rnd(3·acc, 2)` has ties at `acc ≡ 2 (mod 4)`; half up and half to
/// even agree at `acc = 2` (6/4 → 2) but not at `acc = −2` (−6/4 → −1 vs −2).
#[test]
fn one_rounding_only_where_no_tie_differs() {
    let ir = super::IntRequant {
        c: vec![3],
        b: vec![0],
        s1: 0,
        r: 1,
        p: 2,
        relu: false,
        lo: -128,
        hi: 127,
        u8_out: false,
        one: vec![],
        one_lo: -128,
    };
    assert_eq!(super::one_rounding(&ir, 0, 1.0), Some((3, 2)));
    assert_eq!(super::one_rounding(&ir, 0, 2.0), None);
    // With a ReLU the negative side clamps to 0 in both forms: no tie differs up to acc = 5.
    let relu = super::IntRequant {
        relu: true,
        one_lo: 0,
        ..ir
    };
    assert_eq!(super::one_rounding(&relu, 0, 5.0), Some((3, 2)));
    assert_eq!(super::one_rounding(&relu, 0, 6.0), None);
}
