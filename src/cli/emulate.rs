//! `bit2hls emulate`: stream a .npy through the firmware emulator or the float reference.

use crate::back::emu::fast::FastEmulator;
use crate::back::emu::fixed::code_to_f64;
use crate::back::emu::float;
use crate::error::Error;
use crate::io::npy::{NpyRows, NpyWriter};
use crate::pipeline::{calibration, lower_for, FwArgs, ModelArgs};
use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct EmulateArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub fw: FwArgs,
    /// Input events: .npy, float32 or float64, shape [events, inputs].
    #[arg(long)]
    pub input: PathBuf,
    /// Output .npy: float64 real values of the firmware outputs (float32 with --float).
    #[arg(long)]
    pub output: PathBuf,
    /// Run the float reference (PyTorch fake-quant semantics) instead of the firmware.
    #[arg(long)]
    pub float: bool,
    /// Write the raw integer output codes (int64) instead of real values.
    #[arg(long, conflicts_with = "float")]
    pub raw: bool,
    /// Events per chunk.
    #[arg(long, default_value_t = 65536)]
    pub chunk: usize,
    /// Hide the progress bar.
    #[arg(long)]
    pub quiet: bool,
}

pub fn run(a: EmulateArgs) -> anyhow::Result<i32> {
    let loaded = a.model.load()?;
    let calib = calibration(&loaded, &a.fw)?;
    let fw = lower_for(&loaded, &a.fw, a.fw.mode, calib.as_ref())?;
    let mut rows = NpyRows::open(&a.input)?;
    if rows.cols != fw.n_in {
        return Err(Error::Data {
            path: a.input.clone(),
            detail: format!("events have {} features, the model takes {}", rows.cols, fw.n_in),
        }
        .into());
    }
    let out_dir = a.output.parent().filter(|p| !p.as_os_str().is_empty()).map(PathBuf::from).unwrap_or_else(|| ".".into());
    let tmp = tempfile::Builder::new()
        .prefix(".bit2hls-")
        .suffix(".npy.part")
        .tempfile_in(&out_dir)
        .with_context(|| format!("cannot create a temporary file in {}", out_dir.display()))?;
    let descr = if a.float { "<f4" } else if a.raw { "<i8" } else { "<f8" };
    let mut w = NpyWriter::create(tmp.path(), descr, rows.rows, fw.n_out)?;
    let emu = FastEmulator::new(&fw);
    let out_t = fw.output_type();
    let pb = if a.quiet || rows.rows < 1_000_000 { ProgressBar::hidden() } else { ProgressBar::new(rows.rows as u64) };
    pb.set_style(ProgressStyle::with_template("{bar:40} {pos}/{len} events {per_sec} eta {eta}").expect("valid template"));
    let mut buf = Vec::new();
    let chunk = a.chunk.max(1);
    let mut saturated = 0usize;
    let in_t = fw.input_type();
    let sat = crate::ir::fixed::SaturationBounds::new(in_t);
    loop {
        let n = rows.next_chunk(chunk, &mut buf)?;
        if n == 0 {
            break;
        }
        saturated += buf.iter().filter(|v| sat.saturates(**v as f64)).count();
        if a.float {
            let ys: Vec<f32> = buf
                .par_chunks(fw.n_in)
                .flat_map_iter(|x| float::forward(&loaded.model, x, None))
                .collect();
            w.write_f32(&ys)?;
        } else {
            let codes = emu.run_batch(&buf);
            if a.raw {
                w.write_i64(&codes)?;
            } else {
                let ys: Vec<f64> = codes.iter().map(|&c| code_to_f64(c, out_t)).collect();
                w.write_f64(&ys)?;
            }
        }
        pb.inc(n as u64);
    }
    pb.finish_and_clear();
    w.finish()?;
    tmp.persist(&a.output).with_context(|| format!("cannot write {}", a.output.display()))?;
    if saturated > 0 && !a.float {
        eprintln!(
            "warning: {saturated} input value(s) saturated in the input type {in_t} ({})",
            fw.options.input_type_origin
        );
    }
    if !a.quiet {
        eprintln!(
            "{} events → {} ({}, output {})",
            rows.rows,
            a.output.display(),
            if a.float { "float reference".to_string() } else { format!("firmware, mode {}", fw.mode()) },
            if a.float { "f32".to_string() } else if a.raw { format!("raw codes of {out_t}") } else { out_t.to_string() }
        );
    }
    Ok(0)
}
