//! `bit2hls emulate`: stream a .npy through the firmware emulator or the float reference.

use super::args::{FwArgs, ModelArgs};
use crate::back::emu::fast::FastEmulator;
use crate::error::Error;
use crate::io::npy::{NpyRows, NpyWriter};
use crate::pipeline::{calibration_with, lower_for};
use crate::reference::fixed::code_to_f64;
use crate::reference::float;
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
    /// Input events: .npy, float32 or float64, shape [events, inputs]; for a particle-level
    /// model an .npz with `x` [jets, particles, features] and `mask` [jets, particles].
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
    let net = a.model.load_net()?;
    if let crate::ir::set::Net::Set(set) = &net.model {
        super::print_notes(&a.model, &net);
        return run_set(&a, set);
    }
    let loaded = super::load_model(&a.model)?;
    let calib = calibration_with(&loaded, &a.fw.options(), a.fw.calib_rule)?;
    let fw = lower_for(&loaded, &a.fw.options(), a.fw.mode, calib.as_ref())?;
    super::note_frac(&fw.options);
    let mut rows = NpyRows::open(&a.input)?;
    if rows.cols != fw.n_in {
        return Err(Error::Data {
            path: a.input.clone(),
            detail: format!(
                "events have {} features, the model takes {}",
                rows.cols, fw.n_in
            ),
        }
        .into());
    }
    let out_dir = a
        .output
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| ".".into());
    let tmp = tempfile::Builder::new()
        .prefix(".bit2hls-")
        .suffix(".npy.part")
        .tempfile_in(&out_dir)
        .with_context(|| format!("cannot create a temporary file in {}", out_dir.display()))?;
    let descr = if a.float {
        "<f4"
    } else if a.raw {
        "<i8"
    } else {
        "<f8"
    };
    let mut w = NpyWriter::create(tmp.path(), descr, rows.rows, fw.n_out)?;
    let emu = FastEmulator::new(&fw);
    let out_t = fw.output_type();
    let pb = if a.quiet || rows.rows < 1_000_000 {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(rows.rows as u64)
    };
    pb.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} events {per_sec} eta {eta}")
            .expect("valid template"),
    );
    let chunk = a.chunk.max(1);
    let mut saturated = 0usize;
    let in_t = fw.input_type();
    let sat = crate::ir::fixed::SaturationBounds::new(in_t);
    let n_events = rows.rows;
    // Three stages overlap: a reader thread, the (parallel) emulator here, a writer thread.
    let (tx_in, rx_in) = std::sync::mpsc::sync_channel::<crate::Result<Vec<f32>>>(2);
    let (tx_out, rx_out) = std::sync::mpsc::sync_channel::<Vec<u8>>(2);
    std::thread::scope(|s| -> anyhow::Result<()> {
        s.spawn(move || loop {
            let mut buf = Vec::new();
            match rows.next_chunk(chunk, &mut buf) {
                Ok(0) => break,
                Ok(_) => {
                    if tx_in.send(Ok(buf)).is_err() {
                        break;
                    }
                }
                Err(e) => {
                    let _ = tx_in.send(Err(e));
                    break;
                }
            }
        });
        let writer = s.spawn(move || -> std::io::Result<NpyWriter> {
            for b in rx_out {
                w.write_bytes(&b)?;
            }
            Ok(w)
        });
        let computed = (|| -> anyhow::Result<()> {
            for item in rx_in {
                let buf = item?;
                let n = buf.len() / fw.n_in;
                saturated += buf.iter().filter(|v| sat.saturates(**v as f64)).count();
                let bytes: Vec<u8> = if a.float {
                    let ys: Vec<f32> = buf
                        .par_chunks(fw.n_in)
                        .flat_map_iter(|x| float::forward(&loaded.model, x, None))
                        .collect();
                    ys.iter().flat_map(|v| v.to_le_bytes()).collect()
                } else {
                    let codes = emu.run_batch(&buf);
                    if a.raw {
                        codes.iter().flat_map(|v| v.to_le_bytes()).collect()
                    } else {
                        codes
                            .iter()
                            .flat_map(|&c| code_to_f64(c, out_t).to_le_bytes())
                            .collect()
                    }
                };
                if tx_out.send(bytes).is_err() {
                    break; // the writer failed; its error is reported below
                }
                pb.inc(n as u64);
            }
            Ok(())
        })();
        drop(tx_out);
        let w = writer.join().expect("writer thread does not panic")?;
        computed?;
        w.finish()?;
        Ok(())
    })?;
    pb.finish_and_clear();
    tmp.persist(&a.output)
        .with_context(|| format!("cannot write {}", a.output.display()))?;
    if saturated > 0 && !a.float {
        eprintln!(
            "warning: {saturated} input value(s) saturated in the input type {in_t} ({})",
            fw.options.input_type_origin
        );
    }
    if !a.quiet {
        eprintln!(
            "{} events → {} ({}, output {})",
            n_events,
            a.output.display(),
            if a.float {
                "float reference".to_string()
            } else {
                format!("firmware, mode {}", fw.mode())
            },
            if a.float {
                "f32".to_string()
            } else if a.raw {
                format!("raw codes of {out_t}")
            } else {
                out_t.to_string()
            }
        );
    }
    Ok(0)
}

/// `emulate` of a particle-level model: all jets of the input `.npz` in memory, the set
/// emulator (or the float reference), one output row per jet.
fn run_set(a: &EmulateArgs, set: &crate::ir::set::SetModel) -> anyhow::Result<i32> {
    use crate::back::emu::set::SetEmulator;
    let fo = a.fw.options();
    let calib = crate::pipeline::set_calibration(set, &fo, a.fw.calib_rule)?.map(|(c, notes)| {
        notes.iter().for_each(|n| eprintln!("note: {n}"));
        c
    });
    let fw = crate::pipeline::lower_set_for(set, &fo, a.fw.mode, calib.as_ref())?;
    super::note_frac(&fw.rho.options);
    let jets = crate::io::particles::read_jets(&a.input, set.into(), false)?;
    jets.notes.iter().for_each(|n| eprintln!("note: {n}"));
    let o = set.outputs();
    let out_t = fw.output_type();
    let (descr, bytes): (&str, Vec<u8>) = if a.float {
        let ys: Vec<f32> = (0..jets.jets)
            .into_par_iter()
            .flat_map_iter(|j| {
                let (x, m, v) = jets.get(j);
                crate::reference::set::forward(set, x, m, v)
            })
            .collect();
        ("<f4", ys.iter().flat_map(|v| v.to_le_bytes()).collect())
    } else {
        let codes = SetEmulator::new(&fw).run_batch(&jets.x, &jets.mask, &jets.jet);
        if a.raw {
            ("<i8", codes.iter().flat_map(|v| v.to_le_bytes()).collect())
        } else {
            let v = codes
                .iter()
                .flat_map(|&c| code_to_f64(c, out_t).to_le_bytes());
            ("<f8", v.collect())
        }
    };
    let out_dir = a
        .output
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| ".".into());
    let tmp = tempfile::Builder::new()
        .prefix(".bit2hls-")
        .suffix(".npy.part")
        .tempfile_in(&out_dir)
        .with_context(|| format!("cannot create a temporary file in {}", out_dir.display()))?;
    let mut w = NpyWriter::create(tmp.path(), descr, jets.jets, o)?;
    w.write_bytes(&bytes)?;
    w.finish()?;
    tmp.persist(&a.output)
        .with_context(|| format!("cannot write {}", a.output.display()))?;
    if !a.quiet {
        eprintln!(
            "{} jets → {} ({})",
            jets.jets,
            a.output.display(),
            if a.float {
                "float reference, f32".to_string()
            } else {
                format!("particle firmware, mode {}, output {out_t}", fw.phi.mode())
            }
        );
    }
    Ok(0)
}
