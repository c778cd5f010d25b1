//! `bit2hls validate`: firmware vs float on a data set, for every activation mode, and both
//! against the user's PyTorch outputs (`--reference`). The statistics live in
//! [`crate::validate`]; this module parses arguments and prints.

use super::args::{FwArgs, ModelArgs};
use crate::ir::firmware::Mode;
use crate::ir::set::Net;
use crate::validate::set::compute_set;
use crate::validate::{compute, ReferenceOutputs, ReferenceReport, Report, DEFAULT_MIN_AGREEMENT};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub fw: FwArgs,
    /// Data set: .npz with `x` [events, inputs] and optional integer labels `y`; for a
    /// particle-level model `x` [jets, particles, features] and `mask` [jets, particles].
    /// Default: the example stored in the model file by the Python package's
    /// `bit2hls.export(..., example_input=...)` (its inputs and PyTorch outputs).
    #[arg(long)]
    pub data: Option<PathBuf>,
    #[command(flatten)]
    pub reference: ReferenceArgs,
    /// Only these modes (default: all three).
    #[arg(long = "only", value_parser = super::args::choice::<Mode>())]
    pub only: Vec<Mode>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// The user's PyTorch outputs to check the float model (and so the profile and architecture)
/// against.
#[derive(Args, Debug, Clone)]
pub struct ReferenceArgs {
    /// The PyTorch model's outputs on the same inputs, in the same order (.npy [events,
    /// outputs], float32/float64; default: the data file's `ref` or `torch` member, if any).
    /// Reports float-vs-PyTorch and firmware-vs-PyTorch agreement; exit code 2 if the float
    /// model agrees on fewer than --min-agreement of the events without rounding ties.
    #[arg(long)]
    pub reference: Option<PathBuf>,
    /// Threshold for --reference, as a fraction (0.999 = 99.9 %).
    #[arg(long, default_value_t = DEFAULT_MIN_AGREEMENT)]
    pub min_agreement: f64,
}

impl ReferenceArgs {
    /// Reads the reference file, if one was given, else the `ref`/`torch` member of `data`.
    pub fn read(&self, data: Option<&std::path::Path>) -> crate::Result<Option<ReferenceOutputs>> {
        match (&self.reference, data) {
            (Some(p), _) => ReferenceOutputs::read(p, self.min_agreement).map(Some),
            (None, Some(d)) => ReferenceOutputs::from_data(d, self.min_agreement),
            (None, None) => Ok(None),
        }
    }
}

pub fn run(a: ValidateArgs) -> anyhow::Result<i32> {
    let report = report(&a)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&report);
    }
    Ok(reference_exit_code(report.reference.as_ref()))
}

/// The report `run` prints (notes go to stderr as the program prints them).
pub fn report(a: &ValidateArgs) -> anyhow::Result<Report> {
    let loaded = super::load_net(&a.model)?;
    let modes = if a.only.is_empty() {
        Mode::ALL.to_vec()
    } else {
        a.only.clone()
    };
    let stored;
    let data: &std::path::Path = match &a.data {
        Some(d) => d,
        None => {
            stored = stored_example(&a.model.model)?;
            &stored
        }
    };
    let mut reference = a.reference.read(Some(data))?;
    if let (None, None, Some(r)) = (&a.data, &a.reference.reference, reference.as_mut()) {
        // the stored example's outputs: name the model file, not the temporary copy
        r.path = PathBuf::from(format!(
            "{} ({})",
            a.model.model.display(),
            crate::validate::example::EXAMPLE_TENSOR
        ));
    }
    let report = match loaded.model {
        Net::Chain(model) => {
            let loaded = crate::front::Loaded {
                model,
                origin: loaded.origin,
                notes: loaded.notes,
                task: loaded.task,
            };
            compute_with_progress(
                &loaded,
                &a.fw.options(),
                a.fw.calib_rule,
                data,
                &modes,
                reference.as_ref(),
            )?
        }
        Net::Set(ref set) => {
            let mut notes = Vec::new();
            let r = compute_set(
                set,
                &loaded.task,
                loaded.warnings(),
                &a.fw.options(),
                a.fw.calib_rule,
                data,
                &modes,
                reference.as_ref(),
                &mut notes,
            );
            for n in notes {
                eprintln!("note: {n}");
            }
            r?
        }
    };
    Ok(report)
}

/// The example `bit2hls.export(..., example_input=...)` stored in the model file, as a temporary
/// .npz (for a `validate` without `--data`); an error saying what to give when there is none.
fn stored_example(model: &std::path::Path) -> crate::Result<tempfile::TempPath> {
    let stored = crate::validate::example::stored_example(model)?.ok_or_else(|| {
        crate::Error::Usage(format!(
            "validate needs --data: {} has no stored example (bit2hls.export(module, path, \
             example_input=x) stores one)",
            model.display()
        ))
    })?;
    eprintln!(
        "note: {}: validating on the example stored in the model file (inputs and PyTorch \
         outputs written by bit2hls.export)",
        model.display()
    );
    Ok(stored)
}

/// [`compute`] with a spinner on the terminal.
pub fn compute_with_progress(
    loaded: &crate::front::Loaded,
    fw: &crate::pipeline::FwOptions,
    rule: Option<crate::pass::calibrate::CalibRule>,
    data: &std::path::Path,
    modes: &[Mode],
    reference: Option<&ReferenceOutputs>,
) -> crate::Result<Report> {
    let pb = super::progress(
        None,
        "{spinner} validating {pos} events ({per_sec}) {elapsed}",
    );
    let r = compute(loaded, fw, rule, data, modes, reference, &mut |n| {
        pb.inc(n as u64)
    });
    pb.finish_and_clear();
    r
}

/// 0 unless the float model failed the PyTorch reference check; then prints why (stderr)
/// and returns 2.
pub fn reference_exit_code(r: Option<&ReferenceReport>) -> i32 {
    match r {
        Some(r) if !r.passed => {
            eprintln!(
                "error: the float model agrees with the PyTorch outputs in {} on {:.3} % of the \
                 events without rounding ties, below --min-agreement {:.3} %: bit2hls is not \
                 computing your model. Check the profile (--profile, docs/semantics.md), the layer \
                 order and the activations (give an architecture document, docs/schema.md), and \
                 that the reference rows are the same events as the data",
                r.path,
                100.0 * r.agreement_without_ties,
                100.0 * r.min_agreement
            );
            2
        }
        _ => 0,
    }
}

fn pct(v: Option<f64>) -> String {
    v.map(|x| format!("{:.3} %", 100.0 * x))
        .unwrap_or_else(|| "-".into())
}

fn print_table(r: &Report) {
    println!(
        "model {} (profile {}), {} events",
        r.model, r.profile, r.events
    );
    if let Some(reg) = &r.regression {
        print_regression(r, reg);
        return;
    }
    println!(
        "float model: accuracy {}, AUC {}",
        pct(r.float_accuracy),
        r.float_auc.map(|v| format!("{v:.4}")).unwrap_or("-".into())
    );
    println!("| mode | argmax agreement | accuracy | Δacc | AUC | max abs error | flipped codes per layer |");
    println!("|---|---|---|---|---|---|---|");
    for m in &r.modes {
        let d = match (m.accuracy, r.float_accuracy) {
            (Some(a), Some(f)) => format!("{:+.3} %", 100.0 * (a - f)),
            _ => "-".into(),
        };
        let flips: Vec<String> = m
            .flipped_codes
            .iter()
            .map(|(n, f)| format!("{n}: {:.3} %", 100.0 * f))
            .collect();
        println!(
            "| {} | {} | {} | {} | {} | {:.4e} | {} |",
            m.mode,
            pct(Some(m.argmax_agreement)),
            pct(m.accuracy),
            d,
            m.auc.map(|v| format!("{v:.4}")).unwrap_or("-".into()),
            m.max_abs_error,
            flips.join(", ")
        );
    }
    if let Some(f) = &r.reference {
        print_reference(r, f);
    }
    print_types(r);
}

/// Each mode's input and output types and calibration.
fn print_types(r: &Report) {
    for m in &r.modes {
        println!(
            "{}: input {}, output {}{}",
            m.mode,
            m.input_type,
            m.output_type,
            m.calibration
                .as_ref()
                .map(|c| format!(", calibration: {c}"))
                .unwrap_or_default()
        );
    }
}

/// A regressor: every model's values against each other and its residuals against the target.
fn print_regression(r: &Report, reg: &crate::validate::regression::RegressionReport) {
    use crate::validate::regression::{Diff, Residuals};
    println!("task: {}", reg.task);
    if !reg.has_target {
        println!("(the data has no 'target': residuals are not computed)");
    }
    let d = |d: Option<Diff>| {
        d.map_or("-".into(), |d| {
            format!("{:.4e} / {:.4e}", d.max_abs, d.mean_abs)
        })
    };
    let res = |x: Option<&Residuals>| match x {
        Some(x) => format!(
            "{:+.5} | {:.5} | {:.5} | {}",
            x.mean,
            x.std,
            x.width68,
            x.mean_sin2.map_or("-".into(), |v| format!("{v:.5}"))
        ),
        None => "- | - | - | -".into(),
    };
    for o in &reg.outputs {
        println!("output {}:", o.output);
        println!("| model | max / mean abs vs float | max / mean abs vs PyTorch | residual mean | std | 68 % half-width | ⟨sin²(π·r/P)⟩ |");
        println!("|---|---|---|---|---|---|---|");
        println!("| float | - | - | {} |", res(o.float.as_ref()));
        if o.reference.is_some() {
            println!("| PyTorch | - | - | {} |", res(o.reference.as_ref()));
        }
        for m in &o.modes {
            println!(
                "| {} | {} | {} | {} |",
                m.mode,
                d(Some(m.vs_float)),
                d(m.vs_reference),
                res(m.residuals.as_ref())
            );
        }
    }
    if let Some(f) = &r.reference {
        println!(
            "float vs PyTorch {} ({} events): within {:e} of each output's largest |value| on {} \
             of the {} events without rounding ties (--min-agreement {}): {}; largest |difference| {}",
            f.path,
            f.events,
            crate::validate::regression::VALUE_TOL_REL,
            pct(Some(f.agreement_without_ties)),
            f.events - f.tie_events,
            pct(Some(f.min_agreement)),
            if f.passed { "PASS" } else { "FAIL" },
            f.float
                .max_abs_error
                .map_or("-".into(), |e| format!("{e:.4e}"))
        );
    }
    print_types(r);
}

/// The float model and every mode against the PyTorch reference outputs.
fn print_reference(r: &Report, f: &ReferenceReport) {
    println!(
        "against the PyTorch outputs {} ({} events):",
        f.path, f.events
    );
    println!("| model | argmax agreement with PyTorch | max abs error |");
    println!("|---|---|---|");
    let err = |e: Option<f64>| {
        e.map_or(
            "n/a: firmware outputs are PyTorch's / a per-event factor (docs/semantics.md)".into(),
            |e| format!("{e:.4e}"),
        )
    };
    println!(
        "| float | {} | {} |",
        pct(Some(f.float.argmax_agreement)),
        err(f.float.max_abs_error)
    );
    for m in &r.modes {
        if let Some(a) = &m.reference {
            println!(
                "| {} | {} | {} |",
                m.mode,
                pct(Some(a.argmax_agreement)),
                err(a.max_abs_error)
            );
        }
    }
    println!(
        "rounding ties: on {} events an activation of the float model lies on a .5 rounding tie \
         (exactly or within float noise) or the top two outputs are equal to within 1e-6: \
         PyTorch settles those by float noise; {} of them disagree with PyTorch and are not \
         counted as errors",
        f.tie_events, f.tie_disagreements
    );
    println!(
        "float vs PyTorch on the {} events without ties: {} (--min-agreement {}): {}",
        f.events - f.tie_events,
        pct(Some(f.agreement_without_ties)),
        pct(Some(f.min_agreement)),
        if f.passed { "PASS" } else { "FAIL" }
    );
}
