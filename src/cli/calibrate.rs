//! `bit2hls calibrate`: the estimator against Yosys, on random ternary layers and on models.
//!
//! `calibrate write --out DIR` writes one Verilog project per design (random layers of the
//! given shapes and, with `--model`, each model in each activation mode); `bit2hls synth`
//! synthesizes them (or `calibrate run` does all of it); `calibrate table --out DIR` prints
//! estimate, Yosys and their ratio for every design that has a `synth.json`.

use super::args::ModelArgs;
use crate::back::rtl;
use crate::estimate::cmvm::{cmvm_netlist, random_ternary};
use crate::estimate::cost::{features, Features};
use crate::estimate::{resources, Resources};
use crate::hw::schedule::PipelineOptions;
use crate::hw::Design;
use crate::ir::firmware::Mode;
use crate::pipeline::FwOptions;
use crate::pipeline::{calibration, lower_for};
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
    /// Tabulate estimate vs Yosys for the designs under --out (same options as `write`).
    Table(WriteArgs),
    /// Fit the LUT coefficients to the synthesized designs (weighted least squares on the
    /// relative error) and print them.
    Fit(WriteArgs),
}

#[derive(Args, Debug)]
pub struct WriteArgs {
    #[arg(long)]
    pub out: PathBuf,
    /// Random layer shapes `INxOUT`.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "16x64,64x32,32x32,32x5,64x256,256x256"
    )]
    pub layers: Vec<String>,
    /// Share of zero weights in the random layers.
    #[arg(long, default_value_t = 1.0 / 3.0)]
    pub zeros: f64,
    /// Input bits of the random layers.
    #[arg(long, default_value_t = 8)]
    pub bits: u32,
    /// Models to add (each in every activation mode); the calibration file of --calib is used.
    /// `PATH@SPEC` adds a variant: SPEC is comma-separated `b=N` (activation bits), `id=N`
    /// (input digits), `rq=multiply|thresholds|auto` (requantizer circuit), `mode=M` (only that
    /// mode), e.g. `models/qg_mlp_tiny/qg_mlp_tiny.safetensors@b=3,rq=thresholds,mode=static`.
    #[arg(long = "model")]
    pub models: Vec<String>,
    #[arg(long)]
    pub calib: Option<PathBuf>,
    #[arg(long, default_value_t = 4)]
    pub adders_per_stage: u32,
    #[command(flatten)]
    pub adder_args: super::args::AdderArgs,
    /// Constant multiplies: shift-and-add in LUTs or DSPs.
    #[arg(long, value_parser = super::args::choice::<crate::hw::schedule::ConstMul>(), default_value = "lut")]
    pub const_mul: crate::hw::schedule::ConstMul,
    /// Print JSON (table).
    #[arg(long)]
    pub json: bool,
    /// Print a Markdown table (table).
    #[arg(long)]
    pub markdown: bool,
}

/// A written design and what the estimator needs of it.
pub struct Written {
    pub name: String,
    pub dir: PathBuf,
    pub design: Design,
    pub n_layers: usize,
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
    let (a, b) = s
        .split_once('x')
        .ok_or_else(|| anyhow::anyhow!("layer shape '{s}': expected INxOUT, e.g. 16x64"))?;
    let bad =
        || anyhow::anyhow!("layer shape '{s}': expected INxOUT with 1..=2^20 weights, e.g. 16x64");
    let (n_in, n_out): (usize, usize) = (
        a.trim().parse().map_err(|_| bad())?,
        b.trim().parse().map_err(|_| bad())?,
    );
    anyhow::ensure!(
        n_in >= 1 && n_out >= 1 && n_in.checked_mul(n_out).is_some_and(|n| n <= 1 << 20),
        bad()
    );
    Ok((n_in, n_out))
}

/// Writes every design (unless `dry`); returns them.
pub fn write_all(a: &WriteArgs, dry: bool) -> anyhow::Result<Vec<Written>> {
    let p = PipelineOptions {
        adders_per_stage: a.adders_per_stage,
        adders: a.adder_args.options(),
        const_mul: a.const_mul,
    };
    let mut dirs = Vec::new();
    for l in &a.layers {
        let (n_in, n_out) = shape(l)?;
        let seed = 1000 * n_in as u64 + 10 * n_out as u64 + 12345;
        let w = random_ternary(n_out, n_in, a.zeros, seed);
        let nl = cmvm_netlist(&w, a.bits, p.adders);
        let sch = crate::hw::schedule::schedule(&nl, p);
        let d = Design {
            netlist: nl,
            schedule: sch,
            pipeline: p,
        };
        let name = format!("t{n_in}x{n_out}");
        let dir = a.out.join(&name);
        let title = format!(
            "{name}: random ternary layer {n_in}x{n_out}, {:.0}% zeros, seed {seed}",
            a.zeros * 100.0
        );
        if !dry {
            let text = rtl::module_text(&d, &name, &title, &format!("int{}", a.bits), "int")?;
            write_design(&dir, &name, text, d.latency())?;
        }
        dirs.push(Written {
            name,
            dir,
            design: d,
            n_layers: 1,
        });
    }
    for spec in &a.models {
        let v = Variant::parse(spec)?;
        let mut ma = ModelArgs::from_path(&v.path);
        ma.overrides.act_bits = v.act_bits.or(ma.overrides.act_bits);
        let loaded = super::load_model(&ma)?;
        let stem = v
            .path
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_else(|| "model".into());
        let mut p = p;
        if let Some(rq) = v.requant {
            p.adders.requant = rq;
        }
        for mode in Mode::ALL
            .into_iter()
            .filter(|m| v.mode.is_none_or(|o| o == *m))
        {
            let mut fa = FwOptions {
                mode,
                calib: a.calib.clone(),
                ..FwOptions::default()
            };
            if v.input_digits.is_some() {
                fa.input_digits = v.input_digits;
            }
            let cal = calibration(&loaded, &fa)?;
            let fw = lower_for(&loaded, &fa, mode, cal.as_ref())?;
            let d = Design::new(&fw, p);
            let name = format!("{stem}{}_{}", v.suffix, mode.as_str().replace('-', "_"));
            let dir = a.out.join(&name);
            if !dry {
                write_design(&dir, &name, rtl::verilog_text(&fw, &d, &name)?, d.latency())?;
            }
            dirs.push(Written {
                name,
                dir,
                design: d,
                n_layers: fw.layers.len(),
            });
        }
    }
    Ok(dirs)
}

pub fn run(a: CalibrateArgs) -> anyhow::Result<i32> {
    match a.what {
        CalibrateCmd::Write(w) => {
            for d in write_all(&w, false)? {
                println!("{}", d.dir.display());
            }
            Ok(0)
        }
        CalibrateCmd::Run(w) => {
            let designs = write_all(&w, false)?;
            let pb = super::progress(
                Some(designs.len() as u64),
                "{spinner} yosys {pos}/{len} designs [{bar:30}] {elapsed}, now {msg}",
            );
            for d in &designs {
                pb.set_message(d.name.clone());
                let r = crate::synth::synth_project(&d.dir, &crate::synth::SynthOptions::default());
                let r = r.inspect_err(|_| pb.finish_and_clear())?;
                let line = format!(
                    "{}: {} LUT, {} FF, {} DSP ({:.0} s)",
                    d.dir.display(),
                    r.resources.lut,
                    r.resources.ff,
                    r.resources.dsp,
                    r.wall_s
                );
                if pb.is_hidden() {
                    eprintln!("{line}");
                } else {
                    pb.println(line);
                }
                pb.inc(1);
            }
            pb.finish_and_clear();
            table(&w)
        }
        CalibrateCmd::Table(w) => table(&w),
        CalibrateCmd::Fit(w) => fit(&w),
    }
}

/// One design's estimate next to Yosys.
#[derive(serde::Serialize)]
pub struct Row {
    pub name: String,
    pub features: Features,
    pub est: Resources,
    pub yosys: Resources,
    pub lut_ratio: f64,
    pub ff_ratio: f64,
    pub latency: u32,
}

fn rows(w: &WriteArgs) -> anyhow::Result<Vec<Row>> {
    let mut out = Vec::new();
    for d in write_all(w, true)? {
        let sj = d.dir.join(crate::synth::SYNTH_JSON);
        let Ok(text) = std::fs::read_to_string(&sj) else {
            continue;
        };
        let r: crate::synth::SynthReport = serde_json::from_str(&text).map_err(|e| {
            anyhow::anyhow!(
                "{}: not a synth.json written by `bit2hls synth` ({e}); delete it or run synth again",
                sj.display()
            )
        })?;
        let (per, io) = features(&d.design.netlist, &d.design.schedule, d.n_layers);
        let mut f = io;
        for p in per {
            f += p;
        }
        let est = resources(&f);
        let yosys = Resources {
            lut: r.resources.lut + r.resources.srl,
            ff: r.resources.ff,
            dsp: r.resources.dsp,
            bram: r.resources.bram.ceil() as u64,
        };
        out.push(Row {
            name: d.name,
            features: f,
            est,
            yosys,
            lut_ratio: est.lut as f64 / yosys.lut.max(1) as f64,
            ff_ratio: est.ff as f64 / yosys.ff.max(1) as f64,
            latency: d.design.latency(),
        });
    }
    Ok(out)
}

fn table(w: &WriteArgs) -> anyhow::Result<i32> {
    let rows = rows(w)?;
    if w.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(0);
    }
    if w.markdown {
        println!("| design | LUT est. | LUT Yosys | ratio | FF est. | FF Yosys | DSP est. | DSP Yosys | latency (cycles) |");
        println!("|---|---|---|---|---|---|---|---|---|");
        for r in &rows {
            println!(
                "| {} | {} | {} | {:.3} | {} | {} | {} | {} | {} |",
                r.name,
                r.est.lut,
                r.yosys.lut,
                r.lut_ratio,
                r.est.ff,
                r.yosys.ff,
                r.est.dsp,
                r.yosys.dsp,
                r.latency
            );
        }
        return Ok(0);
    }
    println!(
        "{:<28} {:>8} {:>8} {:>6} {:>8} {:>8} {:>6} {:>5} {:>5} {:>5} {:>4}",
        "design",
        "LUT est",
        "LUT ys",
        "ratio",
        "FF est",
        "FF ys",
        "ratio",
        "DSPe",
        "DSPy",
        "lat",
        ""
    );
    let mut worst: f64 = 0.0;
    for r in &rows {
        worst = worst.max((r.lut_ratio - 1.0).abs());
        println!(
            "{:<28} {:>8} {:>8} {:>6.3} {:>8} {:>8} {:>6.3} {:>5} {:>5} {:>5}",
            r.name,
            r.est.lut,
            r.yosys.lut,
            r.lut_ratio,
            r.est.ff,
            r.yosys.ff,
            r.ff_ratio,
            r.est.dsp,
            r.yosys.dsp,
            r.latency
        );
    }
    println!(
        "{} designs; largest LUT error {:.1} %",
        rows.len(),
        worst * 100.0
    );
    Ok(0)
}

fn fit(w: &WriteArgs) -> anyhow::Result<i32> {
    let rows = rows(w)?;
    let x: Vec<[f64; 11]> = rows
        .iter()
        .map(|r| {
            let f = &r.features;
            [
                f.tree_bits,
                f.utree_bits,
                f.carry_bits,
                f.cmp_bits,
                f.qcmp_bits,
                f.mux_bits,
                f.shift_bits,
                f.sel_bits,
                f.lut_mul_bits,
                f.dsp_add_bits,
                f.var_dsp,
            ]
        })
        .collect();
    let y: Vec<f64> = rows
        .iter()
        .map(|r| r.yosys.lut as f64 - r.features.srl)
        .collect();
    let c = crate::estimate::fit::weighted_least_squares(&x, &y)?;
    println!(
        "tree {:.4} utree {:.4} carry {:.4} cmp {:.4} qcmp {:.4} mux {:.4} shift {:.4} sel {:.4} lut_mul {:.4} dsp_add {:.4} var_dsp {:.4}",
        c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10]
    );
    // Out-of-sample predictions: each design by a fit without it (leave-one-out), and by a fit
    // without every mode of its model (leave-one-model-out; a random layer is its own model).
    let without = |i: usize, drop: &dyn Fn(usize) -> bool| -> f64 {
        let (xo, yo): (Vec<[f64; 11]>, Vec<f64>) = x
            .iter()
            .zip(&y)
            .enumerate()
            .filter(|(j, _)| !drop(*j))
            .map(|(_, (a, b))| (*a, *b))
            .unzip();
        crate::estimate::fit::weighted_least_squares(&xo, &yo)
            .map(|co| x[i].iter().zip(&co).map(|(a, b)| a * b).sum::<f64>() + rows[i].features.srl)
            .unwrap_or(f64::NAN)
    };
    for (i, (r, xi)) in rows.iter().zip(&x).enumerate() {
        let p: f64 = xi.iter().zip(&c).map(|(a, b)| a * b).sum::<f64>() + r.features.srl;
        let loo = without(i, &|j| j == i);
        let lomo = without(i, &|j| model_of(&rows[j].name) == model_of(&r.name));
        let yl = r.yosys.lut.max(1) as f64;
        println!(
            "{:<28} fitted {:>8.0} yosys {:>8} ratio {:.3} leave-one-out {:.3} leave-one-model-out {:.3}",
            r.name,
            p,
            r.yosys.lut,
            p / yl,
            loo / yl,
            lomo / yl
        );
    }
    Ok(0)
}

/// The model a calibration design was written from: its name without the variant and mode
/// suffixes.
fn model_of(design: &str) -> &str {
    if let Some((m, _)) = design.split_once("__") {
        return m;
    }
    ["_dynamic_pow2", "_dynamic", "_static"]
        .iter()
        .find_map(|m| design.strip_suffix(m))
        .unwrap_or(design)
}

/// A `--model PATH[@SPEC]` of `calibrate`: a model and the lowering options of the variant.
struct Variant {
    path: PathBuf,
    act_bits: Option<u32>,
    input_digits: Option<u32>,
    requant: Option<crate::target::RequantCircuit>,
    mode: Option<Mode>,
    /// `__` and the spec as an identifier (`__b3_id1_rqthresholds`); empty without a spec.
    suffix: String,
}

impl Variant {
    fn parse(s: &str) -> anyhow::Result<Variant> {
        use crate::choice::Choice;
        let (path, spec) = s.split_once('@').unwrap_or((s, ""));
        let mut v = Variant {
            path: PathBuf::from(path),
            act_bits: None,
            input_digits: None,
            requant: None,
            mode: None,
            suffix: String::new(),
        };
        let num = |k: &str, x: &str| {
            x.parse::<u32>()
                .map_err(|_| anyhow::anyhow!("--model {s}: '{k}={x}': expected a number"))
        };
        for item in spec.split(',').filter(|i| !i.is_empty()) {
            let (k, x) = item.split_once('=').ok_or_else(|| {
                anyhow::anyhow!("--model {s}: '{item}': expected KEY=VALUE (b, id, rq, mode)")
            })?;
            match k {
                "b" => v.act_bits = Some(num(k, x)?),
                "id" => v.input_digits = Some(num(k, x)?),
                "rq" => {
                    v.requant = Some(
                        Choice::parse_name(x).map_err(|e| anyhow::anyhow!("--model {s}: {e}"))?,
                    )
                }
                "mode" => {
                    v.mode = Some(
                        Choice::parse_name(x).map_err(|e| anyhow::anyhow!("--model {s}: {e}"))?,
                    )
                }
                _ => anyhow::bail!("--model {s}: unknown key '{k}' (expected b, id, rq, mode)"),
            }
            if k != "mode" {
                v.suffix.push_str(&format!("_{k}{x}"));
            }
        }
        if !v.suffix.is_empty() {
            v.suffix.insert(0, '_');
        }
        Ok(v)
    }
}
