//! `validate` for particle-level models: the float model (PyTorch semantics) and the firmware
//! of each mode on the jets of a particle data set ([`crate::io::particles`]), with the same
//! figures and the same [`Report`] as for chains. Codes are not compared layer by layer
//! (`flipped_codes` is empty): `Φ` runs once per particle.

use super::stats::auc;
use super::{
    check_reference, check_target_rows, output_tie, regression_targets, with_regression,
    FloatEvent, ModeReport, ReferenceOutputs, Report, Sums,
};
use crate::back::emu::set::SetEmulator;
use crate::error::{Error, Result};
use crate::io::particles::{read_jets, Jets};
use crate::ir::firmware::Mode;
use crate::ir::set::{SetFirmware, SetModel};
use crate::pass::calibrate::CalibRule;
use crate::pass::set::{calibrate_set, SetCalibration};
use crate::pipeline::{default_calib_rule, lower_set_for, set_calibration, FwOptions};
use crate::reference::fixed::code_to_f64;
use crate::reference::float;
use rayon::prelude::*;
use std::path::Path;

/// [`super::compute`] for a particle-level model. `notes` receives what reading the files
/// assumed (particle slots dropped or added).
#[allow(clippy::too_many_arguments)]
pub fn compute_set(
    set: &SetModel,
    task: &crate::ir::task::Task,
    assumptions: Vec<String>,
    fw_args: &FwOptions,
    rule: Option<CalibRule>,
    data: &Path,
    modes: &[Mode],
    reference: Option<&ReferenceOutputs>,
    notes: &mut Vec<String>,
) -> Result<Report> {
    let jets = read_jets(data, set.into(), !task.is_regression())?;
    notes.extend(jets.notes.iter().cloned());
    if jets.jets == 0 {
        return Err(Error::Data {
            path: data.to_path_buf(),
            detail: "'x' has no jets".into(),
        });
    }
    if let Some(r) = reference {
        check_reference(r, set.outputs())?;
        if r.rows != jets.jets {
            return Err(Error::Data {
                path: r.path.clone(),
                detail: format!(
                    "has {} events, {} has {} jets: the reference must be the PyTorch outputs \
                     on the same jets, in the same order",
                    r.rows,
                    data.display(),
                    jets.jets
                ),
            });
        }
    }
    let targets = regression_targets(task, &set.profile, data)?;
    check_target_rows(data, jets.jets, set.outputs(), targets.as_ref())?;
    let fws = set_firmwares(set, fw_args, &jets, modes, rule, notes)?;
    let fl = float_events(set, &jets);
    let mut sums = Sums::new(
        jets.y.as_deref(),
        reference,
        modes.len(),
        0,
        task.is_regression(),
    );
    sums.add_float(&fl);
    for (m, (fw, _)) in fws.iter().enumerate() {
        let codes = SetEmulator::new(fw).run_batch(&jets.x, &jets.mask, &jets.jet);
        let t = fw.output_type();
        let res: Vec<(Vec<f64>, Vec<Vec<i32>>)> = codes
            .chunks(fw.n_out())
            .map(|o| (o.iter().map(|&c| code_to_f64(c, t)).collect(), vec![]))
            .collect();
        sums.add_mode(m, &res, &fl);
    }
    let r = report(set, assumptions, &sums, &fws, modes, jets.jets);
    Ok(with_regression(
        r,
        task,
        &sums,
        modes,
        set.outputs(),
        targets.as_ref(),
    ))
}

/// Lowers for every mode, with the calibration note each mode uses (static mode without
/// `--calib` is calibrated on the data itself, as for chains).
fn set_firmwares(
    set: &SetModel,
    fw_args: &FwOptions,
    jets: &Jets,
    modes: &[Mode],
    rule: Option<CalibRule>,
    notes: &mut Vec<String>,
) -> Result<Vec<(SetFirmware, Option<String>)>> {
    let user = set_calibration(set, fw_args, rule)?.map(|(c, n)| {
        notes.extend(n);
        c
    });
    let own: Option<SetCalibration> = match (&user, modes.contains(&Mode::Static)) {
        (None, true) => {
            let p = &set.profile;
            let r = rule.unwrap_or_else(|| default_calib_rule(p));
            Some(
                calibrate_set(set, &jets.x, &jets.mask, &jets.jet)
                    .map(|c| c.with_rule(r, fw_args.calib_quantile, p)),
            )
        }
        _ => None,
    };
    modes
        .iter()
        .map(|&mode| {
            let (cal, note) = match (&user, &own, mode) {
                (Some(c), _, _) => (
                    Some(c),
                    Some(format!(
                        "{} particles / {} jets from --calib, static scale = {}",
                        c.phi.samples, c.rho.samples, c.phi.rule
                    )),
                ),
                (None, Some(c), Mode::Static) => (
                    Some(c),
                    Some(format!(
                        "calibrated on the validation data itself (no --calib), static scale = {}",
                        c.phi.rule
                    )),
                ),
                _ => (None, None),
            };
            Ok((lower_set_for(set, fw_args, mode, cal)?, note))
        })
        .collect()
}

/// The float model on every jet; a jet is a tie when an activation of `Φ` (any real particle)
/// or of `F` lands on a rounding tie, or its two largest outputs are equal.
fn float_events(set: &SetModel, jets: &Jets) -> Vec<FloatEvent> {
    let f = set.features;
    (0..jets.jets)
        .into_par_iter()
        .map(|j| {
            let (x, m, v) = jets.get(j);
            let mut taps = Vec::new();
            for (i, _) in m.iter().enumerate().filter(|(_, v)| **v != 0) {
                float::forward(&set.phi, &x[i * f..(i + 1) * f], Some(&mut taps));
            }
            let input = crate::reference::set::rho_input_float(set, x, m, v);
            let y: Vec<f64> = float::forward(&set.rho, &input, Some(&mut taps))
                .iter()
                .map(|&v| v as f64)
                .collect();
            FloatEvent {
                y_fw: y.clone(),
                tie: taps.iter().any(|t| t.ties > 0) || output_tie(&y),
                y,
                codes: vec![],
            }
        })
        .collect()
}

fn report(
    set: &SetModel,
    assumptions: Vec<String>,
    sums: &Sums,
    fws: &[(SetFirmware, Option<String>)],
    modes: &[Mode],
    rows: usize,
) -> Report {
    let binary = sums
        .labels
        .is_some_and(|y| y.iter().all(|&l| l == 0 || l == 1));
    let auc_of = |s: &[f32]| -> Option<f64> {
        if !binary {
            return None;
        }
        auc(
            &s.iter().map(|&v| v as f64).collect::<Vec<_>>(),
            sums.labels?,
        )
    };
    let has_labels = sums.labels.is_some();
    let modes = modes
        .iter()
        .zip(&sums.modes)
        .zip(fws)
        .map(|((&mode, acc), (fw, note))| ModeReport {
            mode,
            events: rows,
            argmax_agreement: acc.agree as f64 / rows as f64,
            accuracy: has_labels.then(|| acc.correct as f64 / rows as f64),
            auc: auc_of(&acc.scores),
            max_abs_error: acc.max_abs_error,
            flipped_codes: vec![],
            input_type: format!(
                "{} per particle [{}]",
                fw.phi.input_type(),
                fw.phi.options.input_type_origin
            ),
            output_type: super::output_text(fw.output_type(), &fw.rho.options),
            calibration: note.clone(),
            reference: sums.reference.map(|_| acc.reference.agreement()),
        })
        .collect();
    Report {
        model: set.name.clone(),
        profile: set.profile.name.to_string(),
        events: rows,
        float_accuracy: has_labels.then(|| sums.float_correct as f64 / rows as f64),
        float_auc: auc_of(&sums.float_scores),
        modes,
        assumptions,
        reference: sums.reference.map(|r| sums.float_ref.report(r)),
        task: Default::default(),
        regression: None,
    }
}
