//! Particle-level jobs shared by the Verilator (rtl_set) and C-simulation (csim_set) tests:
//! models, their jets (real or golden jets plus [`bit2hls::synthetic::adversarial_jets`]) and
//! the lowered firmware of each mode.
#![allow(dead_code)]

use super::common::{fw_args_frac, repo};
use bit2hls::front::{load_net, LoadOptions};
use bit2hls::io::particles::Jets;
use bit2hls::ir::firmware::Mode;
use bit2hls::ir::set::{Net, SetFirmware, SetModel};
use bit2hls::pass::set::calibrate_set;
use bit2hls::pipeline::lower_set_for;
use std::path::PathBuf;

pub struct Job {
    pub label: String,
    pub fw: SetFirmware,
    /// The test-bench jets.
    pub tb: Jets,
    /// Particles per copy of Φ (`--particle-reuse`).
    pub reuse: usize,
}

/// A model, the jets it runs on, and its fractional bits (`--frac-bits`).
#[derive(Clone)]
pub struct SetCase {
    pub model: PathBuf,
    pub jets: PathBuf,
    pub frac_bits: i32,
    /// Remove the ReLU that ends Φ (a max pool over signed values).
    pub drop_final_relu: bool,
}

fn case(model: PathBuf, jets: PathBuf, frac_bits: i32) -> SetCase {
    SetCase {
        model,
        jets,
        frac_bits,
        drop_final_relu: false,
    }
}

/// The random sum-, max- and mean-pooled models with their golden jets.
pub fn random_models() -> Vec<SetCase> {
    let d = repo().join("models").join("pfn_random");
    vec![
        case(
            d.join("pfn_mean.safetensors"),
            d.join("pfn_mean_golden.npz"),
            12,
        ),
        case(
            d.join("pfn_sum.safetensors"),
            d.join("pfn_sum_golden.npz"),
            12,
        ),
        case(
            d.join("pfn_max.safetensors"),
            d.join("pfn_max_golden.npz"),
            12,
        ),
    ]
}

/// The random model with 2 per-jet inputs concatenated after the pool (`jet_concat`).
pub fn jet_model() -> SetCase {
    let d = repo().join("models").join("pfn_random");
    case(
        d.join("pfn_jet.safetensors"),
        d.join("pfn_jet_golden.npz"),
        12,
    )
}

/// The random model with 4-bit activations.
pub fn act4_model() -> SetCase {
    let d = repo().join("models").join("pfn_random");
    case(
        d.join("pfn_act4.safetensors"),
        d.join("pfn_act4_golden.npz"),
        12,
    )
}

/// The trained models on the shipped test jets, 8 fractional bits (fewer where a value would not
/// fit 62 bits: `qg_pfn` dynamic gets 7, [`bit2hls::pipeline::FwOptions::frac_auto`]).
pub fn trained_models() -> Vec<SetCase> {
    shipped(
        &["qg_pfn_small", "qg_pfn_small32", "qg_pfn"],
        "test_particles.npz",
    )
}

/// The shipped models `names` (`models/<name>/<name>.safetensors`) on `models/data/<data>`, 8
/// fractional bits.
fn shipped(names: &[&str], data: &str) -> Vec<SetCase> {
    let root = repo().join("models");
    names
        .iter()
        .map(|m| {
            case(
                root.join(m).join(format!("{m}.safetensors")),
                root.join("data").join(data),
                8,
            )
        })
        .collect()
}

/// The W decay-plane regressors (issue 13) on their shipped test jets (`test_wz.npz`), 8
/// fractional bits: the BitNet `wz_pfn`, `wz_pfn_partial` (full-precision Φ) and `wz_pfn_float`
/// (every layer full precision).
pub fn regression_models() -> Vec<SetCase> {
    shipped(&["wz_pfn", "wz_pfn_partial", "wz_pfn_float"], "test_wz.npz")
}

pub fn load_set(model: &std::path::Path) -> SetModel {
    match load_net(model, &LoadOptions::default()).unwrap().model {
        Net::Set(s) => s,
        Net::Chain(_) => panic!("{}: not a particle model", model.display()),
    }
}

/// `pfn_max` without the ReLU that ends its Φ: a max pool over outputs that can be negative.
pub fn signed_max_model() -> SetCase {
    let mut c = random_models().remove(1);
    c.drop_final_relu = true;
    c
}

/// Up to `max_jets` jets of `c.jets` followed by the adversarial jets, and the model; the
/// number of real jets.
pub fn jets(c: &SetCase, max_jets: usize) -> (SetModel, Jets, usize) {
    let mut s = load_set(&c.model);
    if c.drop_final_relu {
        let last = s.phi.layers.pop().expect("Φ has layers");
        assert!(
            matches!(last.kind, bit2hls::ir::LayerKind::Relu),
            "{}: Φ does not end with a ReLU",
            c.model.display()
        );
        s.name.push_str("_signed");
    }
    let mut j =
        bit2hls::io::particles::read_first_jets(&c.jets, (&s).into(), Some(max_jets)).unwrap();
    let real = j.jets;
    let a = bit2hls::synthetic::adversarial_jets((&s).into(), s.particles + 40, 1e4, 7);
    j.x.extend(a.x);
    j.mask.extend(a.mask);
    j.jet.extend(a.jet);
    j.jets += a.jets;
    (s, j, real)
}

/// The jobs of `cases`: every mode `modes(model)` gives, each with the reuse factors
/// `reuses(mode)`. Static mode is calibrated on the case's real jets.
pub fn jobs(
    cases: &[SetCase],
    max_jets: usize,
    modes: impl Fn(&SetModel) -> Vec<Mode>,
    reuses: impl Fn(&SetModel, Mode) -> Vec<usize>,
) -> Vec<Job> {
    let mut jobs = Vec::new();
    for c in cases {
        let (s, tb, real) = jets(c, max_jets);
        let g = s.jet_features;
        let cal = calibrate_set(
            &s,
            &tb.x[..real * s.jet_len()],
            &tb.mask[..real * s.particles],
            &tb.jet[..real * g],
        );
        for mode in modes(&s) {
            let fw = lower_set_for(&s, &fw_args_frac(mode, None, c.frac_bits), mode, Some(&cal))
                .unwrap();
            for reuse in reuses(&s, mode) {
                jobs.push(Job {
                    label: format!("{} {mode} reuse {reuse}", s.name),
                    fw: fw.clone(),
                    tb: tb.clone(),
                    reuse,
                });
            }
        }
    }
    jobs
}
