//! Particle-level jobs shared by the Verilator (rtl_set) and C-simulation (csim_set) tests:
//! models, their jets (real or golden jets plus [`bit2hls::synthetic::adversarial_jets`]) and
//! the lowered firmware of each mode.
#![allow(dead_code)]

use super::common::{fw_args_frac, repo};
use bit2hls::front::{load_net, LoadOptions};
use bit2hls::ir::firmware::Mode;
use bit2hls::ir::set::{Net, SetFirmware, SetModel};
use bit2hls::pass::set::calibrate_set;
use bit2hls::pipeline::lower_set_for;
use std::path::PathBuf;

pub struct Job {
    pub label: String,
    pub fw: SetFirmware,
    pub x: Vec<f32>,
    pub mask: Vec<u8>,
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

/// The random sum- and max-pooled models with their golden jets.
pub fn random_models() -> Vec<SetCase> {
    let d = repo().join("models").join("pfn_random");
    vec![
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

/// The random model with 4-bit activations.
pub fn act4_model() -> SetCase {
    let d = repo().join("models").join("pfn_random");
    case(
        d.join("pfn_act4.safetensors"),
        d.join("pfn_act4_golden.npz"),
        12,
    )
}

/// The trained models on the shipped test jets (`--frac-bits 8`, as their model cards say).
pub fn trained_models() -> Vec<SetCase> {
    let root = repo().join("models");
    let data = root.join("data").join("test_particles.npz");
    ["qg_pfn_small", "qg_pfn_small32", "qg_pfn"]
        .iter()
        .map(|m| {
            case(
                root.join(m).join(format!("{m}.safetensors")),
                data.clone(),
                8,
            )
        })
        .collect()
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

/// Up to `max_jets` jets of `c.jets` followed by the adversarial jets, and the model.
pub fn jets(c: &SetCase, max_jets: usize) -> (SetModel, Vec<f32>, Vec<u8>) {
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
    let j = bit2hls::io::particles::read_jets(&c.jets, s.particles, s.features, false).unwrap();
    let k = j.jets.min(max_jets);
    let (mut x, mut mask) = (
        j.x[..k * s.jet_len()].to_vec(),
        j.mask[..k * s.particles].to_vec(),
    );
    let (ax, am) =
        bit2hls::synthetic::adversarial_jets(s.particles, s.features, s.particles + 40, 1e4, 7);
    x.extend(ax);
    mask.extend(am);
    (s, x, mask)
}

/// The jobs of `cases`: every mode `modes(model)` gives, each with the reuse factors
/// `reuses(mode)`. Static mode is calibrated on the case's real jets.
pub fn jobs(
    cases: &[SetCase],
    max_jets: usize,
    modes: impl Fn(&SetModel) -> Vec<Mode>,
    reuses: impl Fn(Mode) -> Vec<usize>,
) -> Vec<Job> {
    let mut jobs = Vec::new();
    for c in cases {
        let (s, x, mask) = jets(c, max_jets);
        let real = mask.len() / s.particles - (s.particles + 40);
        let cal = calibrate_set(&s, &x[..real * s.jet_len()], &mask[..real * s.particles]);
        for mode in modes(&s) {
            let fw = lower_set_for(&s, &fw_args_frac(mode, None, c.frac_bits), mode, Some(&cal))
                .unwrap();
            for reuse in reuses(mode) {
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
