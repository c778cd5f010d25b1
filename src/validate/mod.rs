//! Validation statistics: the firmware of each activation mode against bit2hls's float model
//! and, when given, against the user's own PyTorch outputs on the same events.
//!
//! Library code (no command line): `bit2hls validate` and `compile --data` print and record
//! what [`compute`] returns; `report` turns it into report.html.

pub mod example;
pub mod regression;
pub mod set;
mod stats;
#[cfg(test)]
mod tests;

use crate::error::{Error, Result};
use crate::io::npy::stream_npz_member;
use crate::io::npz::read_labels;
use crate::ir::firmware::{Firmware, FwKind, Mode};
use crate::pass::calibrate::CalibRule;
use crate::pipeline::{lower_for, FwOptions};
use crate::reference::fixed::{code_to_f64, CodeTaps, Emulator};
use crate::reference::float;
use rayon::prelude::*;
use serde::Serialize;
pub use stats::{argmax, auc, score, RefAcc};
use std::path::{Path, PathBuf};

/// Default of `--min-agreement`: the float model must pick the PyTorch model's output (argmax)
/// on at least this fraction of the events without exact rounding ties.
pub const DEFAULT_MIN_AGREEMENT: f64 = 0.999;

/// Agreement of one firmware mode with the float model (and with PyTorch, if given).
#[derive(Serialize, Debug, Clone)]
pub struct ModeReport {
    pub mode: Mode,
    pub events: usize,
    pub argmax_agreement: f64,
    pub accuracy: Option<f64>,
    pub auc: Option<f64>,
    pub max_abs_error: f64,
    /// Per BitLinear layer: (layer name, fraction of activation codes that differ from the float model's).
    pub flipped_codes: Vec<(String, f64)>,
    pub input_type: String,
    pub output_type: String,
    pub calibration: Option<String>,
    /// Firmware vs the PyTorch reference outputs (None without `--reference`).
    pub reference: Option<Agreement>,
}

/// Argmax agreement and largest output difference of one model against another.
#[derive(Serialize, Debug, Clone, Copy, PartialEq)]
pub struct Agreement {
    /// Fraction of events where both pick the same output.
    pub argmax_agreement: f64,
    /// Largest |difference| of any output of any event; `None` when the two are not in the
    /// same units (firmware of a profile with an in-layer norm against PyTorch: the firmware's
    /// outputs are PyTorch's divided by a positive per-event factor, docs/semantics.md).
    pub max_abs_error: Option<f64>,
}

/// The float model against the user's PyTorch outputs.
#[derive(Serialize, Debug, Clone)]
pub struct ReferenceReport {
    /// The reference file.
    pub path: String,
    pub events: usize,
    /// Over every event.
    pub float: Agreement,
    /// Events where the float model's activations land on a .5 rounding tie (exactly, or within
    /// a few float32 ulps; bias-free nets hit exact ones; PyTorch settles them by float noise,
    /// bit2hls by round-half-even), or whose two largest outputs are equal to within
    /// [`OUTPUT_TIE_REL`] (the argmax is float noise).
    pub tie_events: usize,
    /// Events that disagree on the argmax and are tie events: not counted as errors.
    pub tie_disagreements: usize,
    /// Agreement on the events without ties (all events if every event has one).
    pub agreement_without_ties: f64,
    /// The threshold `agreement_without_ties` is held to.
    pub min_agreement: f64,
    /// `agreement_without_ties >= min_agreement`: false means the profile or architecture does
    /// not describe the PyTorch model (the command then exits with code 2).
    pub passed: bool,
}

/// Everything `validate` measured on one data set.
#[derive(Serialize, Debug)]
pub struct Report {
    pub model: String,
    pub profile: String,
    pub events: usize,
    pub float_accuracy: Option<f64>,
    pub float_auc: Option<f64>,
    pub modes: Vec<ModeReport>,
    /// What inference assumed about the model (activations between layers).
    pub assumptions: Vec<String>,
    /// The float model against the PyTorch reference outputs, if given (for a regressor: by
    /// value, [`regression::reference_report`]).
    pub reference: Option<ReferenceReport>,
    /// What the outputs are (the architecture document's `task`).
    pub task: crate::ir::task::Task,
    /// A regressor's figures (None for classifiers).
    pub regression: Option<regression::RegressionReport>,
}

/// The user's PyTorch outputs `[events, outputs]` on the validation inputs.
pub struct ReferenceOutputs {
    pub path: PathBuf,
    pub rows: usize,
    pub cols: usize,
    /// Row-major values.
    pub values: Vec<f32>,
    /// Threshold of [`ReferenceReport::passed`].
    pub min_agreement: f64,
}

impl ReferenceOutputs {
    /// Reads a 2-D float32/float64 `.npy` file `[events, outputs]`; a 1-D array `[events]` is
    /// the outputs of a one-output model.
    pub fn read(path: &Path, min_agreement: f64) -> Result<ReferenceOutputs> {
        if !(0.0..=1.0).contains(&min_agreement) {
            return Err(Error::Usage(format!(
                "--min-agreement {min_agreement} must be a fraction in 0..1 (0.999 = 99.9 %)"
            )));
        }
        let mut rows = crate::io::npy::NpyRows::open(path)?;
        let (r, c) = if rows.one_d {
            (rows.cols, 1)
        } else {
            (rows.rows, rows.cols)
        };
        let mut values = Vec::with_capacity(r * c);
        let mut buf = Vec::new();
        while rows.next_chunk(65536, &mut buf)? > 0 {
            values.extend_from_slice(&buf);
        }
        Ok(ReferenceOutputs {
            path: path.to_path_buf(),
            rows: r,
            cols: c,
            values,
            min_agreement,
        })
    }

    /// Members of a data `.npz` taken as the PyTorch reference when no file is given.
    pub const NPZ_MEMBERS: [&'static str; 2] = ["ref", "torch"];

    /// The reference stored in the data set itself: its `ref` or `torch` member, if it has one
    /// ([`Self::NPZ_MEMBERS`]). `path` then reads `data.npz:ref`.
    pub fn from_data(data: &Path, min_agreement: f64) -> Result<Option<ReferenceOutputs>> {
        let file = std::fs::File::open(data).map_err(|e| Error::Io {
            path: data.to_path_buf(),
            source: e,
        })?;
        let names: Vec<String> = match zip::ZipArchive::new(std::io::BufReader::new(file)) {
            Ok(z) => z.file_names().map(str::to_string).collect(),
            Err(_) => return Ok(None), // reported when `x` is read
        };
        let Some(member) = Self::NPZ_MEMBERS
            .into_iter()
            .find(|m| names.iter().any(|n| *n == format!("{m}.npy")))
        else {
            return Ok(None);
        };
        let mut values = Vec::new();
        let (rows, cols) = stream_npz_member(data, member, 65536, |_, _, v| {
            values.extend_from_slice(v);
            Ok(())
        })?;
        // A 1-D member [events] streams as one row: one output per event.
        let (rows, cols) = if rows == 1 && cols > 1 && one_d_member(data, member) {
            (cols, 1)
        } else {
            (rows, cols)
        };
        Ok(Some(ReferenceOutputs {
            path: PathBuf::from(format!("{}:{member}", data.display())),
            rows,
            cols,
            values,
            min_agreement,
        }))
    }

    fn row(&self, i: usize) -> &[f32] {
        &self.values[i * self.cols..(i + 1) * self.cols]
    }
}

/// True when the `.npy` member `member` of the `.npz` file `data` is 1-D.
fn one_d_member(data: &Path, member: &str) -> bool {
    let Ok(file) = std::fs::File::open(data) else {
        return false;
    };
    let Ok(mut z) = zip::ZipArchive::new(std::io::BufReader::new(file)) else {
        return false;
    };
    let Ok(entry) = z.by_name(&format!("{member}.npy")) else {
        return false;
    };
    let len = entry.size();
    crate::io::npy::NpyRows::from_reader(data, entry, len).is_ok_and(|r| r.one_d)
}

/// Running agreement statistics of one firmware mode.
struct ModeAcc {
    agree: usize,
    correct: usize,
    max_abs_error: f64,
    flips: Vec<(usize, usize)>,
    scores: Vec<f32>,
    reference: RefAcc,
}

/// Lowers the model for every mode, with the calibration note each mode uses.
fn firmwares(
    loaded: &crate::front::Loaded,
    fw_args: &FwOptions,
    data: &Path,
    modes: &[Mode],
    rule: Option<CalibRule>,
) -> Result<Vec<(Firmware, Option<String>)>> {
    let user_calib = crate::pipeline::calibration_with(loaded, fw_args, rule)?;
    let data_calib = if user_calib.is_none() && modes.contains(&Mode::Static) {
        let cal = crate::pipeline::calibrate_file(loaded, data)?;
        Some(crate::pipeline::apply_rule(cal, loaded, fw_args, rule)?)
    } else {
        None
    };
    let mut fws = Vec::new();
    for &mode in modes {
        let (cal, note) = match (&user_calib, &data_calib, mode) {
            (Some(c), _, _) => (
                Some(c),
                Some(format!(
                    "{} events from --calib, static scale = {}",
                    c.samples, c.rule
                )),
            ),
            (None, Some(c), Mode::Static) => (
                Some(c),
                Some(format!(
                    "calibrated on the validation data itself (no --calib), static scale = {}",
                    c.rule
                )),
            ),
            _ => (None, None),
        };
        fws.push((lower_for(loaded, fw_args, mode, cal)?, note));
    }
    Ok(fws)
}

/// Relative difference of the float model's two largest outputs below which the argmax is
/// decided by float summation noise (an output tie).
pub const OUTPUT_TIE_REL: f64 = 1e-6;

/// True when the two largest outputs are equal to within [`OUTPUT_TIE_REL`].
fn output_tie(y: &[f64]) -> bool {
    let mut v: Vec<f64> = y.to_vec();
    v.sort_by(|a, b| b.total_cmp(a));
    v.len() >= 2 && (v[0] - v[1]) <= OUTPUT_TIE_REL * v[0].abs().max(v[1].abs())
}

/// Float outputs of one event, its activation codes per BitLinear layer, and whether the
/// event is a tie: an activation on a .5 rounding tie ([`float::count_ties`]) or an output tie.
struct FloatEvent {
    /// PyTorch's units.
    y: Vec<f64>,
    /// The firmware's units (= `y` unless the profile scales outputs per event).
    y_fw: Vec<f64>,
    codes: Vec<Vec<i32>>,
    tie: bool,
}

fn float_events(model: &crate::ir::Model, x: &[f32], k: usize) -> Vec<FloatEvent> {
    x.par_chunks(k)
        .map(|x| {
            let mut taps = Vec::new();
            let y: Vec<f64> = float::forward(model, x, Some(&mut taps))
                .iter()
                .map(|&v| v as f64)
                .collect();
            let y_fw = if model.profile.output_per_event_scaled() {
                float::forward_units(model, x, None, float::Units::Firmware)
                    .iter()
                    .map(|&v| v as f64)
                    .collect()
            } else {
                y.clone()
            };
            FloatEvent {
                y_fw,
                tie: taps.iter().any(|t| t.ties > 0) || output_tie(&y),
                y,
                codes: taps.into_iter().map(|t| t.codes).collect(),
            }
        })
        .collect()
}

fn firmware_events(
    emu: &Emulator,
    fw: &Firmware,
    x: &[f32],
    k: usize,
) -> Vec<(Vec<f64>, CodeTaps)> {
    let out_t = fw.output_type();
    x.par_chunks(k)
        .map(|x| {
            let mut inp = vec![0i64; k];
            emu.quantize_input(x, &mut inp);
            let mut out = vec![0i64; fw.n_out];
            let mut taps = Vec::new();
            emu.run_with_taps(&inp, &mut out, &mut taps);
            (out.iter().map(|&c| code_to_f64(c, out_t)).collect(), taps)
        })
        .collect()
}

/// Checks the reference file against the model and the data before anything runs.
fn check_reference(r: &ReferenceOutputs, outputs: usize) -> Result<()> {
    if r.cols != outputs {
        return Err(Error::Data {
            path: r.path.clone(),
            detail: format!(
                "has {} outputs per event, the model has {outputs}: expected the PyTorch model's \
                 outputs [events, {outputs}] on the same inputs, in the same order",
                r.cols
            ),
        });
    }
    Ok(())
}

/// Running sums over the events streamed so far.
struct Sums<'a> {
    labels: Option<&'a [i64]>,
    reference: Option<&'a ReferenceOutputs>,
    /// Events before the current chunk.
    seen: usize,
    float_correct: usize,
    float_scores: Vec<f32>,
    float_ref: RefAcc,
    modes: Vec<ModeAcc>,
    /// Every event's outputs, kept for a regressor's figures.
    values: Option<regression::Values>,
}

impl<'a> Sums<'a> {
    fn label(&self, i: usize) -> Option<i64> {
        self.labels.and_then(|y| y.get(self.seen + i).copied())
    }

    fn reference_row(&self, i: usize) -> Option<&'a [f32]> {
        let r: &'a ReferenceOutputs = self.reference?;
        (self.seen + i < r.rows).then(|| r.row(self.seen + i))
    }

    /// Empty sums for `modes` firmware modes with `n_tern` ternary layers each; `values` keeps
    /// every output (a regressor).
    fn new(
        labels: Option<&'a [i64]>,
        reference: Option<&'a ReferenceOutputs>,
        modes: usize,
        n_tern: usize,
        values: bool,
    ) -> Sums<'a> {
        Sums {
            labels,
            reference,
            seen: 0,
            float_correct: 0,
            float_scores: Vec::new(),
            float_ref: RefAcc::default(),
            modes: (0..modes)
                .map(|_| ModeAcc {
                    agree: 0,
                    correct: 0,
                    max_abs_error: 0.0,
                    flips: vec![(0, 0); n_tern],
                    scores: Vec::new(),
                    reference: RefAcc::default(),
                })
                .collect(),
            values: values.then(|| regression::Values {
                modes: vec![Vec::new(); modes],
                ..Default::default()
            }),
        }
    }

    /// Adds the float model's events of one chunk.
    fn add_float(&mut self, fl: &[FloatEvent]) {
        if let Some(v) = self.values.as_mut() {
            for f in fl {
                v.float.extend_from_slice(&f.y);
                v.ties.push(f.tie);
            }
        }
        for (i, f) in fl.iter().enumerate() {
            if self.label(i).is_some_and(|l| argmax(&f.y) as i64 == l) {
                self.float_correct += 1;
            }
            self.float_scores.push(score(&f.y) as f32);
            if let Some(r) = self.reference_row(i) {
                self.float_ref.add(&f.y, r, f.tie);
            }
        }
    }

    /// Adds one mode's firmware events of one chunk, compared with the float events `fl`.
    fn add_mode(&mut self, m: usize, res: &[(Vec<f64>, CodeTaps)], fl: &[FloatEvent]) {
        if let Some(v) = self.values.as_mut() {
            for (o, _) in res {
                v.modes[m].extend_from_slice(o);
            }
        }
        for (i, ((o, taps), f)) in res.iter().zip(fl).enumerate() {
            let correct = self.label(i).is_some_and(|l| argmax(o) as i64 == l);
            let reference = self.reference_row(i);
            let acc = &mut self.modes[m];
            acc.agree += usize::from(argmax(o) == argmax(&f.y));
            acc.correct += usize::from(correct);
            for (p, q) in o.iter().zip(&f.y_fw) {
                acc.max_abs_error = acc.max_abs_error.max((p - q).abs());
            }
            for (j, (ta, tb)) in taps.iter().zip(&f.codes).enumerate() {
                acc.flips[j].0 += ta.iter().zip(tb).filter(|(p, q)| p != q).count();
                acc.flips[j].1 += ta.len();
            }
            acc.scores.push(score(o) as f32);
            match reference {
                Some(r) if f.y_fw != f.y => acc.reference.add_argmax_only(o, r, f.tie),
                Some(r) => acc.reference.add(o, r, f.tie),
                None => {}
            }
        }
    }
}

/// Runs the float model and the firmware of each mode over the data set `data` and compares
/// them with each other, with the labels `y` if the file has them, and with `reference`.
/// `progress` is called with the number of events of each chunk once it is done. `rule` is the
/// static-scale calibration rule (`None`: [`crate::pipeline::default_calib_rule`]).
/// The output type, and when the lowering chose fewer fractional bits than requested, how many
/// and why.
fn output_text(t: crate::ir::fixed::FixedType, o: &crate::ir::firmware::LowerOptions) -> String {
    match &o.frac_bits_origin {
        Some(why) => format!("{t} [{} fractional bits: {why}]", o.frac_bits),
        None => t.to_string(),
    }
}

pub fn compute(
    loaded: &crate::front::Loaded,
    fw_args: &FwOptions,
    rule: Option<CalibRule>,
    data: &Path,
    modes: &[Mode],
    reference: Option<&ReferenceOutputs>,
    progress: &mut dyn FnMut(usize),
) -> Result<Report> {
    let model = &loaded.model;
    let k = model.inputs;
    // A regressor has no class labels: its targets are `target` (regression_targets).
    let labels = match loaded.task.is_regression() {
        true => None,
        false => read_labels(data)?,
    };
    if let Some(r) = reference {
        check_reference(r, model.outputs())?;
    }
    let fws = firmwares(loaded, fw_args, data, modes, rule)?;
    let emus: Vec<Emulator> = fws.iter().map(|(fw, _)| Emulator::new(fw)).collect();
    let n_tern = fws.first().map_or(0, |(fw, _)| {
        fw.layers
            .iter()
            .filter(|l| matches!(l.kind, FwKind::Ternary(_)))
            .count()
    });
    let targets = regression_targets(&loaded.task, &model.profile, data)?;
    let mut sums = Sums::new(
        labels.as_deref(),
        reference,
        modes.len(),
        n_tern,
        loaded.task.is_regression(),
    );
    let (rows, _) = stream_npz_member(data, "x", 65536, |n, cols, x| {
        if cols != k {
            return Err(Error::Data {
                path: data.to_path_buf(),
                detail: format!("'x' has {cols} features, the model takes {k}"),
            });
        }
        let fl = float_events(model, x, k);
        sums.add_float(&fl);
        for (m, (emu, (fw, _))) in emus.iter().zip(&fws).enumerate() {
            sums.add_mode(m, &firmware_events(emu, fw, x, k), &fl);
        }
        sums.seen += n;
        progress(n);
        Ok(())
    })?;
    check_rows(data, rows, labels.as_deref(), reference)?;
    check_target_rows(data, rows, model.outputs(), targets.as_ref())?;
    let r = report(loaded, &sums, &fws, modes, rows);
    Ok(with_regression(
        r,
        &loaded.task,
        &sums,
        modes,
        model.outputs(),
        targets.as_ref(),
    ))
}

/// A regressor's targets (the data's `target`, if any); refuses a regressor whose profile
/// scales the outputs per event (its firmware values are not the model's values).
fn regression_targets(
    task: &crate::ir::task::Task,
    profile: &crate::ir::Profile,
    data: &Path,
) -> Result<Option<crate::io::npz::Targets>> {
    if !task.is_regression() {
        return Ok(None);
    }
    if profile.output_per_event_scaled() {
        return Err(Error::Usage(format!(
            "the model is a regressor, but profile {} divides its outputs by a positive \
             per-event factor in firmware (docs/semantics.md, output units): its values cannot \
             be validated; use a profile without an in-layer norm",
            profile.name
        )));
    }
    let targets = crate::io::npz::read_targets(data)?;
    if targets.is_none() && crate::io::npy::npz_has(data, "y")? {
        return Err(Error::Data {
            path: data.to_path_buf(),
            detail: "has 'y' but no 'target': 'y' holds class labels; the model is a regressor, \
                     whose targets go under 'target' ([events] or [events, outputs], float)"
                .into(),
        });
    }
    Ok(targets)
}

/// `target` must have one row per event and one column per output.
fn check_target_rows(
    data: &Path,
    rows: usize,
    outputs: usize,
    targets: Option<&crate::io::npz::Targets>,
) -> Result<()> {
    match targets {
        Some(t) if t.rows != rows || t.cols != outputs => Err(Error::Data {
            path: data.to_path_buf(),
            detail: format!(
                "'target' is [{}, {}], expected [{rows}, {outputs}] (one target per event and \
                 model output)",
                t.rows, t.cols
            ),
        }),
        _ => Ok(()),
    }
}

/// `r` with a regressor's figures and its value-by-value PyTorch check (unchanged for a
/// classifier).
fn with_regression(
    mut r: Report,
    task: &crate::ir::task::Task,
    sums: &Sums,
    modes: &[Mode],
    outputs: usize,
    targets: Option<&crate::io::npz::Targets>,
) -> Report {
    r.task = task.clone();
    if let Some(v) = &sums.values {
        r.regression = Some(regression::figures(
            task,
            modes,
            v,
            outputs,
            targets,
            sums.reference,
        ));
        r.reference = sums
            .reference
            .map(|rf| regression::reference_report(v, outputs, rf));
    }
    r
}

/// The row counts of `x`, `y` and the reference must match.
fn check_rows(
    data: &Path,
    rows: usize,
    labels: Option<&[i64]>,
    reference: Option<&ReferenceOutputs>,
) -> Result<()> {
    let data_err = |detail: String| Error::Data {
        path: data.to_path_buf(),
        detail,
    };
    if let Some(y) = labels {
        if y.len() != rows {
            return Err(data_err(format!(
                "'y' has {} labels for {rows} events",
                y.len()
            )));
        }
    }
    if rows == 0 {
        return Err(data_err("'x' has no events".into()));
    }
    match reference {
        Some(r) if r.rows != rows => Err(Error::Data {
            path: r.path.clone(),
            detail: format!(
                "has {} events, {} has {rows}: the reference must be the PyTorch outputs on \
                 the same inputs, in the same order",
                r.rows,
                data.display()
            ),
        }),
        _ => Ok(()),
    }
}

/// The report of finished sums over `rows` events.
fn report(
    loaded: &crate::front::Loaded,
    sums: &Sums,
    fws: &[(Firmware, Option<String>)],
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
            flipped_codes: flipped(fw, &acc.flips),
            input_type: format!("{} [{}]", fw.input_type(), fw.options.input_type_origin),
            output_type: output_text(fw.output_type(), &fw.options),
            calibration: note.clone(),
            reference: sums.reference.map(|_| acc.reference.agreement()),
        })
        .collect();
    Report {
        model: loaded.model.name.clone(),
        profile: loaded.model.profile.name.to_string(),
        events: rows,
        float_accuracy: has_labels.then(|| sums.float_correct as f64 / rows as f64),
        float_auc: auc_of(&sums.float_scores),
        modes,
        assumptions: loaded.warnings(),
        reference: sums.reference.map(|r| sums.float_ref.report(r)),
        task: Default::default(),
        regression: None,
    }
}

/// Per ternary layer of `fw`: (name, fraction of flipped codes).
fn flipped(fw: &Firmware, flips: &[(usize, usize)]) -> Vec<(String, f64)> {
    fw.layers
        .iter()
        .filter(|l| matches!(l.kind, FwKind::Ternary(_)))
        .map(|l| l.name.clone())
        .zip(flips)
        .map(|(n, (d, t))| (n, *d as f64 / (*t).max(1) as f64))
        .collect()
}
