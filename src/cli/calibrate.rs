//! `bit2hls calibrate`: the estimator against Yosys, on random ternary layers and on models.
//!
//! `calibrate write --out DIR` writes one Verilog project per design (random layers of the
//! given shapes and, with `--model`, each model in each activation mode); `bit2hls synth`
//! synthesizes them (or `calibrate run` does all of it); `calibrate table --out DIR` prints
//! estimate, Yosys and their ratio for every design that has a `synth.json`.

use crate::back::rtl::schedule::PipelineOptions;
use crate::back::rtl::{self, Design};
use crate::estimate::cmvm::{cmvm_netlist, random_ternary};
use crate::ir::firmware::Mode;
use crate::pipeline::{calibration, lower_for, FwArgs, ModelArgs};
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct CalibrateArgs {
    #[command(subcommand)]
    pub what: CalibrateCmd,
}

#[derive(Subcommand, Debug)]
pub enum CalibrateCmd {
    /// Write the designs.
    Write(WriteArgs),
    /// Write, synthesize (Yosys) and tabulate.
    Run(WriteArgs),
    /// Tabulate estimate vs Yosys for the designs under --out.
    Table(TableArgs),
}

#[derive(Args, Debug)]
pub struct WriteArgs {
    #[arg(long)]
    pub out: PathBuf,
    /// Random layer shapes `INxOUT`.
    #[arg(long, value_delimiter = ',', default_value = "16x64,64x32,32x32,32x5,64x256,256x256")]
    pub layers: Vec<String>,
    /// Share of zero weights in the random layers.
    #[arg(long, default_value_t = 1.0 / 3.0)]
    pub zeros: f64,
    /// Input bits of the random layers.
    #[arg(long, default_value_t = 8)]
    pub bits: u32,
    /// Models to add (each in every activation mode); the calibration file of --calib is used.
    #[arg(long = "model")]
    pub models: Vec<PathBuf>,
    #[arg(long)]
    pub calib: Option<PathBuf>,
    #[arg(long, default_value_t = 4)]
    pub adders_per_stage: u32,
}

#[derive(Args, Debug)]
pub struct TableArgs {
    #[arg(long)]
    pub out: PathBuf,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

fn write_design(dir: &Path, name: &str, text: String, latency: u32) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir.join("rtl"))?;
    std::fs::write(dir.join("rtl").join(format!("{name}.v")), text)?;
    let rep = serde_json::json!({"generator": "bit2hls", "project": {"name": name, "backend": "verilog", "latency_cycles": latency}});
    std::fs::write(dir.join("report.json"), serde_json::to_string_pretty(&rep)?)?;
    Ok(())
}

/// Parses `INxOUT`.
fn shape(s: &str) -> anyhow::Result<(usize, usize)> {
    let (a, b) = s.split_once('x').ok_or_else(|| anyhow::anyhow!("layer shape '{s}': expected INxOUT, e.g. 16x64"))?;
    Ok((a.trim().parse()?, b.trim().parse()?))
}

/// Writes every design; returns their directories.
pub fn write_all(a: &WriteArgs) -> anyhow::Result<Vec<PathBuf>> {
    let p = PipelineOptions { adders_per_stage: a.adders_per_stage };
    let mut dirs = Vec::new();
    for l in &a.layers {
        let (n_in, n_out) = shape(l)?;
        let seed = 1000 * n_in as u64 + 10 * n_out as u64 + 12345;
        let w = random_ternary(n_out, n_in, a.zeros, seed);
        let nl = cmvm_netlist(&w, a.bits);
        let sch = rtl::schedule::schedule(&nl, p);
        let d = Design { netlist: nl, schedule: sch, pipeline: p };
        let name = format!("t{n_in}x{n_out}");
        let dir = a.out.join(&name);
        let title = format!("{name}: random ternary layer {n_in}x{n_out}, {:.0}% zeros, seed {seed}", a.zeros * 100.0);
        let text = rtl::module_text(&d, &name, &title, &format!("int{}", a.bits), "int")?;
        write_design(&dir, &name, text, d.latency())?;
        dirs.push(dir);
    }
    for m in &a.models {
        let ma = ModelArgs::from_path(m);
        let loaded = ma.load()?;
        let stem = m.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_else(|| "model".into());
        for mode in Mode::ALL {
            let fa = FwArgs { mode, calib: a.calib.clone(), ..FwArgs::default() };
            let cal = calibration(&loaded, &fa)?;
            let fw = lower_for(&loaded, &fa, mode, cal.as_ref())?;
            let d = Design::new(&fw, p);
            let name = format!("{}_{}", stem, mode.as_str().replace('-', "_"));
            let dir = a.out.join(&name);
            write_design(&dir, &name, rtl::verilog_text(&fw, &d, &name)?, d.latency())?;
            dirs.push(dir);
        }
    }
    Ok(dirs)
}

pub fn run(a: CalibrateArgs) -> anyhow::Result<i32> {
    match a.what {
        CalibrateCmd::Write(w) => {
            for d in write_all(&w)? {
                println!("{}", d.display());
            }
            Ok(0)
        }
        CalibrateCmd::Run(w) => {
            let dirs = write_all(&w)?;
            for d in &dirs {
                let r = crate::synth::synth_project(d, &crate::synth::SynthOptions::default())?;
                eprintln!("{}: {} LUT, {} FF, {} DSP ({:.0} s)", d.display(), r.lut, r.ff, r.dsp, r.wall_s);
            }
            table(&TableArgs { out: w.out.clone(), json: false })
        }
        CalibrateCmd::Table(t) => table(&t),
    }
}

fn table(_t: &TableArgs) -> anyhow::Result<i32> {
    anyhow::bail!("table: not yet")
}
