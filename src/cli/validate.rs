//! `bit2hls validate`: firmware vs float on a data set, for every activation mode.

use crate::back::emu::fixed::{code_to_f64, CodeTaps, Emulator};
use crate::back::emu::float;
use crate::io::npz::read_dataset;
use crate::ir::firmware::Mode;
use crate::pass::calibrate::calibrate;
use crate::pipeline::{lower_for, FwArgs, ModelArgs};
use clap::Args;
use rayon::prelude::*;
use serde::Serialize;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub fw: FwArgs,
    /// Data set: .npz with `x` [events, inputs] and optional integer labels `y`.
    #[arg(long)]
    pub data: PathBuf,
    /// Only these modes (default: all three).
    #[arg(long = "only", value_enum)]
    pub only: Vec<Mode>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Agreement of one firmware mode with the float model.
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
}

#[derive(Serialize, Debug)]
pub struct Report {
    pub model: String,
    pub profile: String,
    pub events: usize,
    pub float_accuracy: Option<f64>,
    pub float_auc: Option<f64>,
    pub modes: Vec<ModeReport>,
}

/// Area under the ROC curve of `score` for binary labels (ties get half credit).
pub fn auc(score: &[f64], label: &[i64]) -> Option<f64> {
    let mut idx: Vec<usize> = (0..score.len()).collect();
    idx.sort_by(|&a, &b| score[a].total_cmp(&score[b]));
    let (mut rank_sum, mut npos) = (0f64, 0usize);
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && score[idx[j + 1]] == score[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            if label[k] == 1 {
                rank_sum += avg;
                npos += 1;
            }
        }
        i = j + 1;
    }
    let nneg = score.len() - npos;
    if npos == 0 || nneg == 0 {
        return None;
    }
    Some((rank_sum - (npos * (npos + 1)) as f64 / 2.0) / (npos as f64 * nneg as f64))
}

fn argmax(v: &[f64]) -> usize {
    v.iter().enumerate().fold((0, f64::NEG_INFINITY), |b, (i, &x)| if x > b.1 { (i, x) } else { b }).0
}

/// Binary-classification score: `y1 - y0` for two outputs, `y0` for one.
fn score(v: &[f64]) -> f64 {
    if v.len() >= 2 {
        v[1] - v[0]
    } else {
        v[0]
    }
}

pub fn run(a: ValidateArgs) -> anyhow::Result<i32> {
    let loaded = a.model.load()?;
    let ds = read_dataset(&a.data)?;
    anyhow::ensure!(
        ds.cols == loaded.model.inputs,
        "{}: 'x' has {} features, the model takes {}",
        a.data.display(),
        ds.cols,
        loaded.model.inputs
    );
    let k = ds.cols;
    let model = &loaded.model;
    // Float reference, with codes.
    let float_out: Vec<(Vec<f32>, Vec<Vec<i32>>)> = ds
        .x
        .par_chunks(k)
        .map(|x| {
            let mut taps = Vec::new();
            let y = float::forward(model, x, Some(&mut taps));
            (y, taps.into_iter().map(|t| t.codes).collect())
        })
        .collect();
    let binary = ds.y.as_ref().is_some_and(|y| y.iter().all(|&l| l == 0 || l == 1));
    let fy: Vec<Vec<f64>> = float_out.iter().map(|(y, _)| y.iter().map(|&v| v as f64).collect()).collect();
    let float_accuracy = ds.y.as_ref().map(|y| {
        fy.iter().zip(y).filter(|(o, &l)| argmax(o) as i64 == l).count() as f64 / ds.rows as f64
    });
    let float_auc = if binary { auc(&fy.iter().map(|o| score(o)).collect::<Vec<_>>(), ds.y.as_ref().unwrap()) } else { None };

    let modes = if a.only.is_empty() { Mode::ALL.to_vec() } else { a.only.clone() };
    let user_calib = crate::pipeline::calibration(&loaded, &a.fw)?;
    let mut reports = Vec::new();
    for mode in modes {
        let (cal, cal_note) = match (&user_calib, mode) {
            (Some(c), _) => (Some(c.clone()), Some(format!("{} events from --calib", c.samples))),
            (None, Mode::Static) => {
                (Some(calibrate(model, &ds.x)), Some("calibrated on the validation data itself (no --calib)".into()))
            }
            (None, _) => (None, None),
        };
        let fw = lower_for(&loaded, &a.fw, mode, cal.as_ref())?;
        let emu = Emulator::new(&fw);
        let out_t = fw.output_type();
        let res: Vec<(Vec<f64>, CodeTaps)> = ds
            .x
            .par_chunks(k)
            .map(|x| {
                let mut inp = vec![0i64; k];
                emu.quantize_input(x, &mut inp);
                let mut out = vec![0i64; fw.n_out];
                let mut taps = Vec::new();
                emu.run_with_taps(&inp, &mut out, &mut taps);
                (out.iter().map(|&c| code_to_f64(c, out_t)).collect(), taps)
            })
            .collect();
        let agree = res.iter().zip(&fy).filter(|((o, _), f)| argmax(o) == argmax(f)).count();
        let max_abs_error = res
            .iter()
            .zip(&fy)
            .flat_map(|((o, _), f)| o.iter().zip(f).map(|(a, b)| (a - b).abs()))
            .fold(0f64, f64::max);
        let accuracy = ds.y.as_ref().map(|y| {
            res.iter().zip(y).filter(|((o, _), &l)| argmax(o) as i64 == l).count() as f64 / ds.rows as f64
        });
        let fauc = if binary { auc(&res.iter().map(|(o, _)| score(o)).collect::<Vec<_>>(), ds.y.as_ref().unwrap()) } else { None };
        let tern_names: Vec<String> = fw
            .layers
            .iter()
            .filter(|l| matches!(l.kind, crate::ir::firmware::FwKind::Ternary(_)))
            .map(|l| l.name.clone())
            .collect();
        let flipped: Vec<(String, f64)> = tern_names
            .iter()
            .enumerate()
            .map(|(j, name)| {
                let (mut diff, mut tot) = (0usize, 0usize);
                for ((_, taps), (_, ftaps)) in res.iter().zip(&float_out) {
                    if let (Some(a), Some(b)) = (taps.get(j), ftaps.get(j)) {
                        diff += a.iter().zip(b).filter(|(x, y)| x != y).count();
                        tot += a.len();
                    }
                }
                (name.clone(), diff as f64 / tot.max(1) as f64)
            })
            .collect();
        reports.push(ModeReport {
            mode,
            events: ds.rows,
            argmax_agreement: agree as f64 / ds.rows as f64,
            accuracy,
            auc: fauc,
            max_abs_error,
            flipped_codes: flipped,
            input_type: format!("{} [{}]", fw.input_type(), fw.options.input_type_origin),
            output_type: out_t.to_string(),
            calibration: cal_note,
        });
    }
    let report = Report {
        model: model.name.clone(),
        profile: model.profile.name.to_string(),
        events: ds.rows,
        float_accuracy,
        float_auc,
        modes: reports,
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&report);
    }
    Ok(0)
}

fn pct(v: Option<f64>) -> String {
    v.map(|x| format!("{:.3} %", 100.0 * x)).unwrap_or_else(|| "-".into())
}

fn print_table(r: &Report) {
    println!("model {} (profile {}), {} events", r.model, r.profile, r.events);
    println!("float model: accuracy {}, AUC {}", pct(r.float_accuracy), r.float_auc.map(|v| format!("{v:.4}")).unwrap_or("-".into()));
    println!("| mode | argmax agreement | accuracy | Δacc | AUC | max abs error | flipped codes per layer |");
    println!("|---|---|---|---|---|---|---|");
    for m in &r.modes {
        let d = match (m.accuracy, r.float_accuracy) {
            (Some(a), Some(f)) => format!("{:+.3} %", 100.0 * (a - f)),
            _ => "-".into(),
        };
        let flips: Vec<String> = m.flipped_codes.iter().map(|(n, f)| format!("{n}: {:.3} %", 100.0 * f)).collect();
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
    for m in &r.modes {
        println!("{}: input {}, output {}{}", m.mode, m.input_type, m.output_type, m.calibration.as_ref().map(|c| format!(", calibration: {c}")).unwrap_or_default());
    }
}
