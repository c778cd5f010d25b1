//! C-simulation of particle-level HLS projects equals the reference, bit for bit.
//!
//! Every activation mode of the random sum-, mean- and max-pooled models and of `pfn_jet` (per-jet
//! inputs after the pool) (golden jets) and of the
//! trained `qg_pfn_small`, `qg_pfn_small32` and `qg_pfn` on 10,000 shipped test jets each, all followed by the
//! adversarial jets of [`bit2hls::synthetic::adversarial_jets`] (no particle, one particle in
//! each slot, identical particles, saturating features of both signs, all-zero features,
//! non-contiguous masks, junk in padded slots): the project's test bench, built with g++ and the
//! ap_types headers, must reproduce [`bit2hls::reference::set::run`] exactly on every jet.
//! The particle reuse factor only changes pragmas (snapshots cover them), so each mode is
//! simulated once.
//!
//! Needs g++ and the ap_types headers (scripts/deps.sh): without them the tests FAIL.

mod common;
mod set_jobs;

use bit2hls::back::hls::csim::{csim, CsimOptions};
use bit2hls::back::hls::set::render_set;
use bit2hls::back::hls::{write_project, HlsOptions, ProjectMeta};
use bit2hls::ir::firmware::Mode;
use bit2hls::ir::set::SetModel;
use common::*;
use set_jobs::*;

fn simulate(j: &Job) -> Result<String, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let prj = dir.path().join("prj");
    let o = HlsOptions {
        name: "dut".into(),
        ..HlsOptions::default()
    };
    let files = render_set(&j.fw, &o, j.reuse, &ProjectMeta::default(), &j.tb)
        .map_err(|e| e.to_string())?;
    write_project(&files, &prj, true).map_err(|e| e.to_string())?;
    let r = csim(&prj, &CsimOptions::default()).map_err(|e| format!("csim failed: {e}"))?;
    let jets = j.tb.jets;
    if r.samples != jets {
        return Err(format!("{jets} jets written, {} simulated", r.samples));
    }
    if r.mismatches != 0 {
        return Err(format!("{} mismatches\n{}", r.mismatches, r.stderr));
    }
    Ok(format!("{jets} jets, 0 mismatches"))
}

fn all_modes(_: &bit2hls::ir::set::SetModel) -> Vec<Mode> {
    Mode::ALL.to_vec()
}

#[test]
fn random_particle_models_csim_equals_reference() {
    let mut cases = random_models();
    cases.push(act4_model());
    cases.push(signed_max_model());
    cases.push(jet_model());
    let f = run_on_two_threads(
        &jobs(&cases, 10_000, all_modes, |_, _| vec![1]),
        |j| j.label.clone(),
        simulate,
    );
    assert!(f.is_empty(), "{} failing:\n{}", f.len(), f.join("\n"));
}

/// The regressors on 10,000 of their test jets: the BitNet in every mode, the partially and the
/// fully full-precision one in one mode each (CI time; their layers are the BitNet's kinds).
#[test]
fn regression_models_csim_equals_reference_on_10k_test_jets() {
    let modes = |s: &SetModel| match s.name.as_str() {
        "wz_pfn_partial" => vec![Mode::Dynamic],
        "wz_pfn_float" => vec![Mode::Static],
        _ => Mode::ALL.to_vec(),
    };
    let cases = regression_models();
    assert_eq!(cases.len(), 3);
    let f = run_on_two_threads(
        &jobs(&cases, 10_000, modes, |_, m| {
            vec![if m == Mode::Static { 4 } else { 1 }]
        }),
        |j| j.label.clone(),
        simulate,
    );
    assert!(f.is_empty(), "{} failing:\n{}", f.len(), f.join("\n"));
}

#[test]
fn trained_particle_models_csim_equals_reference_on_10k_test_jets() {
    let f = run_on_two_threads(
        &jobs(&trained_models(), 10_000, all_modes, |_, m| {
            // The shared-Φ pragmas once, on the static model.
            vec![if m == Mode::Static { 4 } else { 1 }]
        }),
        |j| j.label.clone(),
        simulate,
    );
    assert!(f.is_empty(), "{} failing:\n{}", f.len(), f.join("\n"));
}
