//! `bit2hls validate`: firmware vs float on a data set, for every activation mode.

use crate::back::emu::fixed::{code_to_f64, CodeTaps, Emulator};
use crate::back::emu::float;
use crate::io::npy::stream_npz_member;
use crate::ir::firmware::Mode;
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
    v.iter()
        .enumerate()
        .fold(
            (0, f64::NEG_INFINITY),
            |b, (i, &x)| if x > b.1 { (i, x) } else { b },
        )
        .0
}

/// Binary-classification score: `y1 - y0` for two outputs, `y0` for one.
fn score(v: &[f64]) -> f64 {
    if v.len() >= 2 {
        v[1] - v[0]
    } else {
        v[0]
    }
}

/// Running agreement statistics of one firmware mode.
struct ModeAcc {
    agree: usize,
    correct: usize,
    max_abs_error: f64,
    flips: Vec<(usize, usize)>,
    scores: Vec<f32>,
}

/// Reads integer labels `y` (any integer or float dtype, 1-D) if the file has them.
fn read_labels(path: &std::path::Path) -> anyhow::Result<Option<Vec<i64>>> {
    use ndarray::{Array1, Ix1, OwnedRepr};
    let mut npz = ndarray_npy::NpzReader::new(std::fs::File::open(path)?)
        .map_err(|e| anyhow::anyhow!("{}: not a readable .npz: {e}", path.display()))?;
    let names = npz.names()?;
    if !names.iter().any(|n| n == "y" || n == "y.npy") {
        return Ok(None);
    }
    let y: Array1<i64> = if let Ok(a) = npz.by_name::<OwnedRepr<i64>, Ix1>("y") {
        a
    } else if let Ok(a) = npz.by_name::<OwnedRepr<i32>, Ix1>("y") {
        a.mapv(i64::from)
    } else if let Ok(a) = npz.by_name::<OwnedRepr<f32>, Ix1>("y") {
        a.mapv(|v| v as i64)
    } else {
        let a: Array1<f64> = npz.by_name("y").map_err(|e| {
            anyhow::anyhow!(
                "{}: 'y' must be a 1-D array of integer labels: {e}",
                path.display()
            )
        })?;
        a.mapv(|v| v as i64)
    };
    Ok(Some(y.to_vec()))
}

pub fn run(a: ValidateArgs) -> anyhow::Result<i32> {
    let loaded = super::load_model(&a.model)?;
    let modes = if a.only.is_empty() {
        Mode::ALL.to_vec()
    } else {
        a.only.clone()
    };
    let report = compute(&loaded, &a.fw, &a.data, &modes)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&report);
    }
    Ok(0)
}

/// Runs the float model and the firmware of each mode over the data set `data` and compares.
pub fn compute(
    loaded: &crate::front::Loaded,
    fw_args: &FwArgs,
    data: &std::path::Path,
    modes: &[Mode],
) -> anyhow::Result<Report> {
    let model = &loaded.model;
    let k = model.inputs;
    let labels = read_labels(data)?;
    let binary = labels
        .as_ref()
        .is_some_and(|y| y.iter().all(|&l| l == 0 || l == 1));

    let user_calib = crate::pipeline::calibration(loaded, fw_args)?;
    let data_calib = if user_calib.is_none() && modes.contains(&Mode::Static) {
        Some(crate::pipeline::calibrate_file(loaded, data)?.with_quantile(fw_args.calib_quantile))
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
    let emus: Vec<Emulator> = fws.iter().map(|(fw, _)| Emulator::new(fw)).collect();
    let n_tern = fws.first().map(|(fw, _)| {
        fw.layers
            .iter()
            .filter(|l| matches!(l.kind, crate::ir::firmware::FwKind::Ternary(_)))
            .count()
    });
    let mut accs: Vec<ModeAcc> = modes
        .iter()
        .map(|_| ModeAcc {
            agree: 0,
            correct: 0,
            max_abs_error: 0.0,
            flips: vec![(0, 0); n_tern.unwrap_or(0)],
            scores: Vec::new(),
        })
        .collect();
    let (mut float_correct, mut float_scores, mut seen) = (0usize, Vec::<f32>::new(), 0usize);

    let pb = indicatif::ProgressBar::new_spinner();
    pb.set_style(
        indicatif::ProgressStyle::with_template("validating {pos} events ({per_sec}) {elapsed}")
            .expect("valid template"),
    );
    let (rows, _) = stream_npz_member(data, "x", 65536, |n, cols, x| {
        if cols != k {
            return Err(crate::Error::Data {
                path: data.to_path_buf(),
                detail: format!("'x' has {cols} features, the model takes {k}"),
            });
        }
        let fl: Vec<(Vec<f64>, Vec<Vec<i32>>)> = x
            .par_chunks(k)
            .map(|x| {
                let mut taps = Vec::new();
                let y = float::forward(model, x, Some(&mut taps));
                (
                    y.iter().map(|&v| v as f64).collect(),
                    taps.into_iter().map(|t| t.codes).collect(),
                )
            })
            .collect();
        for (i, (fy, _)) in fl.iter().enumerate() {
            if let Some(y) = &labels {
                if y.get(seen + i).is_some_and(|&l| argmax(fy) as i64 == l) {
                    float_correct += 1;
                }
            }
            float_scores.push(score(fy) as f32);
        }
        for ((emu, (fw, _)), acc) in emus.iter().zip(&fws).zip(accs.iter_mut()) {
            let out_t = fw.output_type();
            let res: Vec<(Vec<f64>, CodeTaps)> = x
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
            for (i, ((o, taps), (fy, ftaps))) in res.iter().zip(&fl).enumerate() {
                if argmax(o) == argmax(fy) {
                    acc.agree += 1;
                }
                if let Some(y) = &labels {
                    if y.get(seen + i).is_some_and(|&l| argmax(o) as i64 == l) {
                        acc.correct += 1;
                    }
                }
                for (p, q) in o.iter().zip(fy) {
                    acc.max_abs_error = acc.max_abs_error.max((p - q).abs());
                }
                for (j, (ta, tb)) in taps.iter().zip(ftaps).enumerate() {
                    acc.flips[j].0 += ta.iter().zip(tb).filter(|(p, q)| p != q).count();
                    acc.flips[j].1 += ta.len();
                }
                acc.scores.push(score(o) as f32);
            }
        }
        seen += n;
        pb.inc(n as u64);
        Ok(())
    })?;
    pb.finish_and_clear();
    if let Some(y) = &labels {
        anyhow::ensure!(
            y.len() == rows,
            "{}: 'y' has {} labels for {rows} events",
            data.display(),
            y.len()
        );
    }
    anyhow::ensure!(rows > 0, "{}: 'x' has no events", data.display());
    let auc_of = |s: &[f32]| -> Option<f64> {
        if !binary {
            return None;
        }
        auc(
            &s.iter().map(|&v| v as f64).collect::<Vec<_>>(),
            labels.as_ref()?,
        )
    };
    let reports = modes
        .iter()
        .zip(&accs)
        .zip(&fws)
        .map(|((&mode, acc), (fw, note))| {
            let names: Vec<String> = fw
                .layers
                .iter()
                .filter(|l| matches!(l.kind, crate::ir::firmware::FwKind::Ternary(_)))
                .map(|l| l.name.clone())
                .collect();
            ModeReport {
                mode,
                events: rows,
                argmax_agreement: acc.agree as f64 / rows as f64,
                accuracy: labels.as_ref().map(|_| acc.correct as f64 / rows as f64),
                auc: auc_of(&acc.scores),
                max_abs_error: acc.max_abs_error,
                flipped_codes: names
                    .into_iter()
                    .zip(&acc.flips)
                    .map(|(n, (d, t))| (n, *d as f64 / (*t).max(1) as f64))
                    .collect(),
                input_type: format!("{} [{}]", fw.input_type(), fw.options.input_type_origin),
                output_type: fw.output_type().to_string(),
                calibration: note.clone(),
            }
        })
        .collect();
    let report = Report {
        model: model.name.clone(),
        profile: model.profile.name.to_string(),
        events: rows,
        float_accuracy: labels.as_ref().map(|_| float_correct as f64 / rows as f64),
        float_auc: auc_of(&float_scores),
        modes: reports,
    };
    Ok(report)
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
