//! Particle-level models against PyTorch: every model with a particle golden file made by
//! models/pfn_random/make_pfn_random.py or models/training/train_pfn.py (PyTorch's outputs on
//! jets with random multiplicities, including empty and full jets).
//!
//! * the float reference reproduces PyTorch's outputs (≤ 1e-5 of the jet's largest output) on
//!   every jet without an activation near a rounding tie; jets with one (PyTorch settles it by
//!   float noise) may differ, on at most 1 % of the jets;
//! * the firmware of every mode runs (fast emulator = reference composition bit for bit) and
//!   its class agreement with PyTorch is printed (dynamic mode is held to ≥ 99 % on trained
//!   models).

use bit2hls::back::emu::fast::Kernel;
use bit2hls::back::emu::set::SetEmulator;
use bit2hls::front::{load, load_net, LoadOptions};
use bit2hls::io::npy::read_npz_array;
use bit2hls::ir::firmware::Mode;
use bit2hls::ir::set::{Net, SetModel};
use bit2hls::pass::set::calibrate_set;
use bit2hls::pipeline::{lower_set_for, FwOptions};
use bit2hls::reference::fixed::code_to_f64;
use bit2hls::reference::{float, set};
use std::path::{Path, PathBuf};

struct Golden {
    x: Vec<f32>,
    mask: Vec<u8>,
    /// Per-jet inputs `[jets · G]` (empty for models without).
    jet: Vec<f32>,
    y: Vec<f32>,
    jets: usize,
}

fn read_golden(p: &Path) -> Golden {
    let (xs, x) = read_npz_array(p, "x").unwrap();
    let (_, m) = read_npz_array(p, "mask").unwrap();
    let (_, y) = read_npz_array(p, "y").unwrap();
    let jet = if bit2hls::io::npy::npz_has(p, "jet").unwrap() {
        read_npz_array(p, "jet").unwrap().1
    } else {
        Vec::new()
    };
    Golden {
        x,
        mask: m.iter().map(|v| (*v != 0.0) as u8).collect(),
        jet,
        y,
        jets: xs[0],
    }
}

impl Golden {
    /// Jet `j`'s features, mask and per-jet inputs for model `s`.
    fn jet<'a>(&'a self, s: &SetModel, j: usize) -> (&'a [f32], &'a [u8], &'a [f32]) {
        let (nf, n, g) = (s.jet_len(), s.particles, s.jet_features);
        (
            &self.x[j * nf..(j + 1) * nf],
            &self.mask[j * n..(j + 1) * n],
            &self.jet[j * g..(j + 1) * g],
        )
    }
}

/// (model, golden, trained on real jets?)
fn cases() -> Vec<(PathBuf, PathBuf, bool)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let mut v: Vec<(PathBuf, PathBuf, bool)> =
        ["pfn_sum", "pfn_max", "pfn_act4", "pfn_jet", "pfn_mean"]
            .iter()
            .map(|n| {
                let d = root.join("pfn_random");
                (
                    d.join(format!("{n}.safetensors")),
                    d.join(format!("{n}_golden.npz")),
                    false,
                )
            })
            .collect();
    for n in [
        "qg_pfn",
        "qg_pfn_small",
        "qg_pfn_small32",
        "qg_pfn_small8",
        "wz_pfn",
        "wz_pfn_partial",
        "wz_pfn_float",
    ] {
        let d = root.join(n);
        if d.join("golden.npz").is_file() {
            v.push((
                d.join(format!("{n}.safetensors")),
                d.join("golden.npz"),
                true,
            ));
        }
    }
    v
}

fn set_of(path: &Path) -> SetModel {
    match load_net(path, &LoadOptions::default()).unwrap().model {
        Net::Set(s) => s,
        Net::Chain(_) => panic!("{}: read as a chain", path.display()),
    }
}

/// Whether an activation of the float model on this jet lies on a rounding tie.
fn tie_jet(s: &SetModel, x: &[f32], m: &[u8], jet: &[f32]) -> bool {
    let f = s.features;
    let mut taps = Vec::new();
    for (i, _) in m.iter().enumerate().filter(|(_, v)| **v != 0) {
        float::forward(&s.phi, &x[i * f..(i + 1) * f], Some(&mut taps));
    }
    float::forward(&s.rho, &set::rho_input_float(s, x, m, jet), Some(&mut taps));
    taps.iter().any(|t| t.ties > 0 || t.margin < 1e-4)
}

fn argmax(v: &[f64]) -> usize {
    (0..v.len()).fold(0, |b, i| if v[i] > v[b] { i } else { b })
}

#[test]
fn float_reference_matches_pytorch_on_particle_models() {
    for (model, golden, _) in cases() {
        let s = set_of(&model);
        let g = read_golden(&golden);
        let o = s.outputs();
        let (mut ties, mut tie_diffs) = (0, 0);
        for j in 0..g.jets {
            let (x, m, v) = g.jet(&s, j);
            let y = set::forward(&s, x, m, v);
            let want = &g.y[j * o..(j + 1) * o];
            // A regressor's one output can be near 0 where its terms are not: its scale is the
            // largest |output| over the golden jets (validate's regression rule).
            let scale = if o == 1 {
                g.y.iter().fold(1e-6f32, |a, v| a.max(v.abs()))
            } else {
                want.iter().fold(1e-6f32, |a, v| a.max(v.abs()))
            };
            let bad = y
                .iter()
                .zip(want)
                .position(|(a, b)| (a - b).abs() > 1e-5 * scale);
            let tie = tie_jet(&s, x, m, v);
            ties += usize::from(tie);
            match bad {
                None => {}
                Some(_) if tie => tie_diffs += 1,
                Some(k) => panic!(
                    "{}: jet {j} output {k}: bit2hls {}, PyTorch {} (no rounding tie)",
                    model.display(),
                    y[k],
                    want[k]
                ),
            }
        }
        eprintln!(
            "{}: {} jets, {ties} with an activation near a rounding tie, {tie_diffs} of them differ",
            model.display(),
            g.jets
        );
        assert!(
            tie_diffs * 100 <= g.jets,
            "{}: {tie_diffs} tie jets differ of {}",
            model.display(),
            g.jets
        );
        assert!(g.jets >= 100, "golden too small");
    }
}

#[test]
fn particle_firmware_runs_in_every_mode() {
    for (model, golden, trained) in cases() {
        let s = set_of(&model);
        let g = read_golden(&golden);
        let cal = calibrate_set(&s, &g.x, &g.mask, &g.jet);
        let o = s.outputs();
        for mode in Mode::ALL {
            // 8 fractional bits: with the default 12, the ranges of the 32-particle sum make
            // qg_pfn's last dequantization product 64 bits wide (refused; docs/particles.md).
            let args = FwOptions {
                mode,
                frac_bits: 8,
                ..FwOptions::default()
            };
            let fw = lower_set_for(&s, &args, mode, Some(&cal)).unwrap();
            let codes = SetEmulator::new(&fw).run_batch(&g.x, &g.mask, &g.jet);
            let reference = set::SetReference::new(&fw);
            let mut agree = 0;
            for j in 0..g.jets {
                let (x, m, v) = g.jet(&s, j);
                let c = &codes[j * o..(j + 1) * o];
                assert_eq!(
                    c,
                    &reference.run(x, m, v)[..],
                    "{} {mode} jet {j}",
                    model.display()
                );
                let y: Vec<f64> = c
                    .iter()
                    .map(|&v| code_to_f64(v, fw.output_type()))
                    .collect();
                let t: Vec<f64> = g.y[j * o..(j + 1) * o].iter().map(|&v| v as f64).collect();
                agree += usize::from(argmax(&y) == argmax(&t));
            }
            if o < 2 {
                continue; // a regressor (one output): its values are validate's business
            }
            let a = agree as f64 / g.jets as f64;
            eprintln!(
                "{} {mode}: class agreement with PyTorch {:.2} %",
                model.display(),
                100.0 * a
            );
            if trained && mode == Mode::Dynamic {
                assert!(a >= 0.99, "{} dynamic agreement {a}", model.display());
            }
        }
    }
}

#[test]
fn chain_commands_refuse_particle_models_by_name() {
    let (model, _, _) = &cases()[0];
    let e = load(model, &LoadOptions::default())
        .err()
        .expect("refused")
        .to_string();
    assert!(
        e.contains("particle-level model") && e.contains("pfn_sum"),
        "{e}"
    );
}

/// `qg_pfn`'s dynamic firmware does not fit 62 bits with 12 fractional bits: with
/// `frac_auto` (the command line without `--frac-bits`) the lowering takes the largest number
/// that fits and records why; with `--frac-bits 12` given, it refuses naming the layer.
#[test]
fn fractional_bits_are_reduced_only_when_automatic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("models")
        .join("qg_pfn");
    let s = set_of(&root.join("qg_pfn.safetensors"));
    let g = read_golden(&root.join("golden.npz"));
    let cal = calibrate_set(&s, &g.x, &g.mask, &g.jet);
    let fixed = FwOptions {
        frac_auto: false,
        ..FwOptions::default()
    };
    let e = lower_set_for(&s, &fixed, Mode::Dynamic, Some(&cal))
        .expect_err("12 fractional bits do not fit");
    assert!(
        matches!(e, bit2hls::Error::TooWide { .. }) && e.to_string().contains("more than the 62"),
        "{e}"
    );
    let fw = lower_set_for(&s, &FwOptions::default(), Mode::Dynamic, Some(&cal)).unwrap();
    let f = fw.rho.options.frac_bits;
    assert!((4..12).contains(&f), "{f}");
    let why = fw
        .rho
        .options
        .frac_bits_origin
        .clone()
        .expect("the reason is recorded");
    assert!(why.contains("--frac-bits not given"), "{why}");
    // The next larger number does not fit.
    let one_more = FwOptions {
        frac_bits: f + 1,
        frac_auto: false,
        ..FwOptions::default()
    };
    assert!(lower_set_for(&s, &one_more, Mode::Dynamic, Some(&cal)).is_err());
}

/// `qg_pfn` lowered as the CLI does (calibration on the shipped calibration jets, automatic
/// fractional bits): every part runs on the lane kernels in every mode — in dynamic mode F's
/// last layer needs the i128 dequantization — and equals the reference on 3,000 test jets with
/// every kernel the CPU runs.
#[test]
fn qg_pfn_runs_on_the_lane_kernels_in_every_mode() {
    use bit2hls::io::particles::{read_first_jets, read_jets};
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let s = set_of(&root.join("qg_pfn/qg_pfn.safetensors"));
    let cal_jets = read_jets(&root.join("data/calib_particles.npz"), (&s).into(), false).unwrap();
    let cal = calibrate_set(&s, &cal_jets.x, &cal_jets.mask, &cal_jets.jet);
    let jets = read_first_jets(
        &root.join("data/test_particles.npz"),
        (&s).into(),
        Some(3000),
    )
    .unwrap();
    let o = s.outputs();
    for mode in Mode::ALL {
        let args = FwOptions {
            mode,
            frac_auto: true,
            ..FwOptions::default()
        };
        let fw = lower_set_for(&s, &args, mode, Some(&cal)).unwrap();
        let reference = set::SetReference::new(&fw);
        let want: Vec<i64> = (0..jets.jets)
            .flat_map(|j| {
                let (x, m, v) = jets.get(j);
                reference.run(x, m, v)
            })
            .collect();
        // Every kernel this CPU runs (AVX-512, AVX2, portable).
        for kernel in Kernel::ALL.into_iter().filter(|k| k.supported()) {
            let emu = SetEmulator::with_kernel(&fw, kernel);
            assert!(emu.fallbacks().is_empty(), "{mode}: {:?}", emu.fallbacks());
            assert_eq!(emu.kernels(), [kernel.name(); 2]);
            let codes = emu.run_batch(&jets.x, &jets.mask, &jets.jet);
            for j in 0..jets.jets {
                assert_eq!(
                    &codes[j * o..(j + 1) * o],
                    &want[j * o..(j + 1) * o],
                    "{mode} {} jet {j}",
                    kernel.name()
                );
            }
        }
    }
}
