//! `compile` (write an HLS project) and `csim` (C-simulate it with g++ and ap_types).

use super::args::{FwArgs, ModelArgs};
use crate::back::hls::csim::{csim, CsimOptions};
use crate::back::hls::{self, HlsOptions, ProjectMeta};
use crate::back::rtl::{self, RtlOptions};
use crate::hw::schedule::{ConstMul, PipelineOptions};
use crate::io::npy::NpyRows;
use crate::io::npz::read_dataset;
use crate::pipeline::{calibration_with, lower_for};
use crate::report::compare::Reference;
use crate::target::AdderOptions;
use crate::target::{parts, Strategy};
use anyhow::Context;
use clap::Args;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Args, Debug)]
pub struct CompileArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub fw: FwArgs,
    /// Output directory of the project.
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
    /// Project and top-function name.
    #[arg(long, default_value = "myproject")]
    pub name: String,
    /// FPGA part (one of the known parts; see docs/hls.md).
    #[arg(long, default_value = parts::DEFAULT_PART)]
    pub part: String,
    /// Clock period in ns.
    #[arg(long, default_value_t = 5.0)]
    pub clock: f64,
    /// latency (II=1, add/subtract trees) or resource (2-bit lanes in ROM, II=reuse).
    #[arg(long, value_parser = super::args::choice::<Strategy>(), default_value = "latency")]
    pub strategy: Strategy,
    /// Reuse factor of the resource strategy (must divide n_in·n_out of every layer).
    #[arg(long, default_value_t = 1)]
    pub reuse: usize,
    /// Test-bench inputs (.npy [samples, inputs]); default: the calibration file's x, else
    /// seeded Gaussian samples.
    #[arg(long)]
    pub tb_input: Option<PathBuf>,
    /// Number of test-bench samples.
    #[arg(long, default_value_t = 1000)]
    pub tb_samples: usize,
    /// Replace an existing non-empty output directory.
    #[arg(long)]
    pub force: bool,
    /// hls (a Vitis HLS C++ project) or verilog (pipelined RTL, one event per clock).
    #[arg(long, value_parser = super::args::choice::<crate::estimate::Backend>(), default_value = "hls")]
    pub backend: crate::estimate::Backend,
    /// Verilog backend: adder levels between pipeline registers (default: from --clock).
    #[arg(long)]
    pub adders_per_stage: Option<u32>,
    #[command(flatten)]
    pub adder_args: super::args::AdderArgs,
    /// Constant multiplies (static quantizers and dequantizations, full-precision weights):
    /// shift-and-add in LUTs or DSPs (Verilog netlist and estimate; HLS: a BIND_OP pragma).
    #[arg(long, value_parser = super::args::choice::<ConstMul>(), default_value = "lut")]
    pub const_mul: ConstMul,
    /// Labelled data (.npz with x, y): report.html then compares firmware and float model
    /// for every activation mode (accuracy vs LUT/latency).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// With --data: the PyTorch outputs on its inputs (see `validate --reference`).
    #[command(flatten)]
    pub reference: super::validate::ReferenceArgs,
    /// Particle-level models, Verilog: particles per copy of Φ (1: a copy per particle, one
    /// jet per clock; R: ⌈N/R⌉ copies, one jet every R clocks — 5 at 200 MHz still takes a jet
    /// every 25 ns).
    #[arg(long, default_value_t = 1)]
    pub particle_reuse: usize,
    /// report.html: designs of other flows on the same task to compare with, test AUC
    /// against LUT (JSON: {"name", "source", "points": [{"label", "lut", "auc", "ff", "dsp",
    /// "latency_cycles", "clock_ns"}]}; e.g. models/peers/qg_hgq_da4ml.json). Repeatable.
    #[arg(long = "compare", value_name = "FILE")]
    pub compare: Vec<PathBuf>,
    /// Trigger verdict: time-multiplexing factor.
    #[arg(long, default_value_t = 1)]
    pub tmux: u32,
    /// Trigger verdict: share of the part the design may use.
    #[arg(long, default_value_t = 0.10)]
    pub budget: f64,
}

/// The `--compare` files, read and validated (before any model is read: a bad file is
/// refused at once).
fn compare_files(a: &CompileArgs) -> anyhow::Result<Vec<Reference>> {
    Ok(a.compare
        .iter()
        .map(|p| crate::report::compare::read(p))
        .collect::<Result<_, _>>()?)
}

/// report.json additions (estimates and verdict of the compiled mode) and report.html.
fn estimates_and_html(
    a: &CompileArgs,
    compare: Vec<Reference>,
    loaded: &crate::front::Loaded,
    fw: &crate::ir::firmware::Firmware,
    calib: Option<&crate::pass::calibrate::Calibration>,
) -> anyhow::Result<(
    serde_json::Value,
    String,
    Option<crate::validate::ReferenceReport>,
)> {
    use crate::estimate::design::{estimate_all, estimate_hls, estimate_rtl};
    use crate::estimate::verdict::{Verdict, VerdictOptions};
    use crate::estimate::Backend;
    use crate::ir::firmware::Mode;
    use crate::report::{render_html, ModeEntry, ReportInput, ValidationSummary};
    let part = crate::target::parts::lookup(&a.part)?;
    let pipeline = pipeline_options(
        a.adders_per_stage,
        a.clock,
        a.adder_args.options(),
        a.const_mul,
    )?;
    let vo = VerdictOptions {
        event_period_ns: 25.0,
        tmux: a.tmux,
        budget_share: a.budget,
    };
    vo.validate().map_err(anyhow::Error::msg)?;
    let pick = |fw: &crate::ir::firmware::Firmware| -> crate::estimate::Estimate {
        let d = rtl::Design::new(fw, pipeline);
        match a.backend {
            Backend::Verilog => estimate_rtl(fw, &d, part, a.clock),
            Backend::Hls => estimate_hls(fw, &d, part, a.clock, a.strategy, a.reuse),
        }
    };
    let all = estimate_all(fw, part, a.clock, pipeline, a.reuse);
    let this = pick(fw);
    let verdict = Verdict::new(&this, part, &vo);
    let reference = a.reference.read(a.data.as_deref())?;
    anyhow::ensure!(
        reference.is_none() || a.data.is_some(),
        "--reference needs --data: the PyTorch outputs are compared event by event with the \
         data set's inputs"
    );
    let validation = match &a.data {
        Some(d) => {
            // Static mode needs calibration: without --calib, validate only the dynamic modes.
            let modes: Vec<Mode> = Mode::ALL
                .into_iter()
                .filter(|m| *m != Mode::Static || a.fw.calib.is_some())
                .collect();
            Some(super::validate::compute_with_progress(
                loaded,
                &a.fw.options(),
                a.fw.calib_rule,
                d,
                &modes,
                reference.as_ref(),
            )?)
        }
        None => None,
    };
    let mut modes = Vec::new();
    let mut skipped = Vec::new();
    for mode in Mode::ALL {
        let e = if mode == fw.mode() {
            this.clone()
        } else {
            match lower_for(loaded, &a.fw.options(), mode, calib) {
                Ok(f) => pick(&f),
                Err(e) => {
                    skipped.push(format!("{mode}: not estimated ({e})"));
                    continue;
                }
            }
        };
        let v = Verdict::new(&e, part, &vo);
        let val = validation.as_ref().and_then(|r| {
            ValidationSummary::from_report(r)
                .into_iter()
                .find(|(m, _)| *m == mode)
                .map(|(_, s)| s)
        });
        modes.push(ModeEntry {
            mode,
            estimate: e,
            verdict: v,
            validation: val,
        });
    }
    let mut provenance = vec![
        format!("bit2hls {}; estimates: {} backend, {} adder levels per stage, model calibrated against Yosys 0.23 (docs/estimate.md)", env!("CARGO_PKG_VERSION"), a.backend.as_str(), pipeline.adders_per_stage),
    ];
    provenance.extend(skipped);
    if let Some(d) = &a.data {
        provenance.push(format!("validation data: {}", d.display()));
    }
    if let Some(r) = &reference {
        provenance.push(format!(
            "PyTorch reference outputs: {} (--min-agreement {})",
            r.path.display(),
            r.min_agreement
        ));
    }
    if let Some(c) = &a.fw.calib {
        provenance.push(format!("calibration data: {}", c.display()));
    }
    let input = ReportInput {
        model: fw.name.clone(),
        model_path: a.model.model.display().to_string(),
        part,
        clock_ns: a.clock,
        selected: fw.mode(),
        modes,
        float_accuracy: validation.as_ref().and_then(|r| r.float_accuracy),
        float_auc: validation.as_ref().and_then(|r| r.float_auc),
        reference: validation.as_ref().and_then(|r| r.reference.clone()),
        regression: validation.as_ref().and_then(|r| r.regression.clone()),
        assumptions: loaded.warnings(),
        provenance,
        scaling: Vec::new(),
        compare,
    };
    let extra = serde_json::json!({
        "estimate": this,
        "estimates": all,
        "verdict": verdict,
        "validation": validation,
        "assumptions": loaded.warnings(),
    });
    let html = render_html(&input);
    Ok((extra, html, input.reference))
}

#[derive(Args, Debug)]
pub struct CsimArgs {
    /// A project directory written by `bit2hls compile`.
    pub dir: PathBuf,
    /// Run at most N samples.
    #[arg(long)]
    pub samples: Option<usize>,
    /// Replace the test-bench inputs with this .npy and recompute the expected outputs with
    /// the emulator (from the project's firmware.json).
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Directory of the Xilinx ap_types headers (default: $AP_TYPES_DIR, then
    /// ~/.cache/bit2hls/ap_types as filled by scripts/setup_ap_types.sh).
    #[arg(long)]
    pub ap_types: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct RtlsimArgs {
    /// A Verilog project directory written by `bit2hls compile --backend verilog`.
    pub dir: PathBuf,
    /// Replace the test-bench events with this .npy and recompute the expected outputs with
    /// the emulator (from the project's firmware.json).
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// With --input: use at most N events.
    #[arg(long)]
    pub samples: Option<usize>,
}

/// Seed of the Gaussian test-bench samples.
pub const TB_SEED: u64 = 0x0B17_2415;

fn tb_inputs(a: &CompileArgs, n_in: usize) -> anyhow::Result<(Vec<f32>, String)> {
    let n = a.tb_samples;
    anyhow::ensure!(n > 0, "--tb-samples must be at least 1");
    if let Some(p) = &a.tb_input {
        let mut rows = NpyRows::open(p)?;
        anyhow::ensure!(
            rows.cols == n_in,
            "{}: samples have {} features, the model takes {n_in}",
            p.display(),
            rows.cols
        );
        let mut x = Vec::new();
        let got = rows.next_chunk(n.min(rows.rows), &mut x)?;
        anyhow::ensure!(got > 0, "{}: no samples", p.display());
        if let Some(i) = x.iter().position(|v| !v.is_finite()) {
            anyhow::bail!(
                "{}: sample {}, feature {}: {} is not finite",
                p.display(),
                i / n_in,
                i % n_in,
                x[i]
            );
        }
        return Ok((x, format!("--tb-input {} ({got} samples)", p.display())));
    }
    if let Some(c) = &a.fw.calib {
        let ds = read_dataset(c)?;
        let rows = ds.rows.min(n);
        if rows > 0 && ds.cols == n_in {
            return Ok((
                ds.x[..rows * n_in].to_vec(),
                format!("calibration x of {} ({rows} samples)", c.display()),
            ));
        }
    }
    Ok((
        crate::synthetic::gaussian(n * n_in, TB_SEED),
        format!("standard normal samples, seed {TB_SEED:#x} ({n} samples)"),
    ))
}

pub fn run_compile(a: CompileArgs) -> anyhow::Result<i32> {
    let compare = compare_files(&a)?;
    let compare = match compile_set(&a, compare) {
        Ok(r) => return r,
        Err(c) => c,
    };
    if a.backend == crate::estimate::Backend::Verilog {
        return run_compile_rtl(a, compare);
    }
    anyhow::ensure!(
        a.adders_per_stage.is_none(),
        "--adders-per-stage applies to --backend verilog only"
    );
    let t0 = Instant::now();
    let opts = HlsOptions {
        name: a.name.clone(),
        part: parts::lookup(&a.part)
            .map_err(crate::project::ProjectError::from)?
            .name
            .to_string(),
        clock_ns: a.clock,
        strategy: a.strategy,
        reuse: a.reuse,
        adders: a.adder_args.options(),
        const_mul: a.const_mul,
    };
    // Cheap checks first, before the model is read.
    parts::lookup(&opts.part).map_err(crate::project::ProjectError::from)?;
    let (loaded, calib, fw) = load_and_lower(&a)?;
    hls::check_options(&fw, &opts)?;
    let (x, tb_source) = tb_inputs(&a, fw.n_in)?;
    let meta = ProjectMeta {
        model: a.model.model.display().to_string(),
        tb_source,
        calib: a.fw.calib.as_ref().zip(calib.as_ref()).map(|(p, c)| {
            format!(
                "{} ({} events; static scale = {})",
                p.display(),
                c.samples,
                c.rule
            )
        }),
    };
    let mut files = hls::render(&fw, &opts, &meta, &x)?;
    let (extra, html, reference) = estimates_and_html(&a, compare, &loaded, &fw, calib.as_ref())?;
    merge_report(&mut files, extra)?;
    files.push(("report.html".into(), html));
    files.sort_by(|p, q| p.0.cmp(&q.0));
    hls::write_project(&files, &a.output, a.force)
        .with_context(|| format!("writing {}", a.output.display()))?;
    eprintln!(
        "{}: {} project '{}' ({} files, mode {}, strategy {}{}, {} test-bench samples) in {:.0} ms",
        a.output.display(),
        opts.part,
        opts.name,
        files.len(),
        fw.mode(),
        opts.strategy.as_str(),
        if opts.strategy == Strategy::Resource {
            format!(", reuse {}", opts.reuse)
        } else {
            String::new()
        },
        x.len() / fw.n_in,
        t0.elapsed().as_secs_f64() * 1e3
    );
    Ok(super::validate::reference_exit_code(reference.as_ref()))
}

/// The particle-level path of `compile` when the model is one (`None` for a chain; its errors
/// are reported by the chain path, which reads the model again).
/// A particle-level model is compiled here (`Ok`, the command's result); a chain (or a file
/// the chain path will explain) gives `compare` back (`Err`).
fn compile_set(
    a: &CompileArgs,
    compare: Vec<Reference>,
) -> Result<anyhow::Result<i32>, Vec<Reference>> {
    let Ok(loaded) = a.model.load_net() else {
        return Err(compare);
    };
    match &loaded.model {
        crate::ir::set::Net::Set(s) => {
            super::print_notes(&a.model, &loaded);
            Ok(super::set::run_compile_set(
                a,
                s,
                &loaded.task,
                loaded.warnings(),
                compare,
            ))
        }
        crate::ir::set::Net::Chain(_) => Err(compare),
    }
}

/// An existing non-empty output directory is refused unless `--force`.
pub fn refuse_existing_output(a: &CompileArgs) -> anyhow::Result<()> {
    if a.output.is_dir()
        && !a.force
        && std::fs::read_dir(&a.output)
            .map(|mut d| d.next().is_some())
            .unwrap_or(false)
    {
        return Err(crate::project::ProjectError::OutputExists {
            path: a.output.clone(),
        }
        .into());
    }
    Ok(())
}

/// Refuses an existing non-empty output directory (unless `--force`), then loads, calibrates
/// and lowers the model.
fn load_and_lower(
    a: &CompileArgs,
) -> anyhow::Result<(
    crate::front::Loaded,
    Option<crate::pass::calibrate::Calibration>,
    crate::ir::firmware::Firmware,
)> {
    refuse_existing_output(a)?;
    let loaded = super::load_model(&a.model)?;
    let calib = calibration_with(&loaded, &a.fw.options(), a.fw.calib_rule)?;
    let fw = lower_for(&loaded, &a.fw.options(), a.fw.mode, calib.as_ref())?;
    super::note_frac(&fw.options);
    Ok((loaded, calib, fw))
}

/// Adds the keys of `extra` to the project's report.json.
pub(super) fn merge_report(
    files: &mut [(String, String)],
    extra: serde_json::Value,
) -> anyhow::Result<()> {
    let f = files
        .iter_mut()
        .find(|f| f.0 == "report.json")
        .ok_or_else(|| anyhow::anyhow!("no report.json rendered"))?;
    let mut v: serde_json::Value = serde_json::from_str(&f.1)?;
    if let (Some(o), serde_json::Value::Object(e)) = (v.as_object_mut(), extra) {
        o.extend(e);
    }
    f.1 = serde_json::to_string_pretty(&v)? + "\n";
    Ok(())
}

/// The pipeline options of `--adders-per-stage` / `--clock` / `--const-mul`.
pub fn pipeline_options(
    adders_per_stage: Option<u32>,
    clock_ns: f64,
    adders: AdderOptions,
    const_mul: ConstMul,
) -> anyhow::Result<PipelineOptions> {
    anyhow::ensure!(
        clock_ns.is_finite() && clock_ns > 0.0 && clock_ns <= 1000.0,
        "--clock {clock_ns} ns: expected a period in (0, 1000] ns"
    );
    match adders_per_stage {
        Some(0) => anyhow::bail!("--adders-per-stage 0: at least one adder level per stage"),
        Some(n) if n > 64 => anyhow::bail!("--adders-per-stage {n}: at most 64"),
        Some(n) => Ok(PipelineOptions {
            adders_per_stage: n,
            adders,
            const_mul,
        }),
        None => Ok(PipelineOptions {
            adders,
            const_mul,
            ..PipelineOptions::for_clock(clock_ns)
        }),
    }
}

fn run_compile_rtl(a: CompileArgs, compare: Vec<Reference>) -> anyhow::Result<i32> {
    let t0 = Instant::now();
    anyhow::ensure!(
        a.strategy == Strategy::Latency && a.reuse == 1,
        "--backend verilog implements the latency strategy only (II = 1)"
    );
    let part = parts::lookup(&a.part)
        .map_err(crate::project::ProjectError::from)?
        .name
        .to_string();
    let pipeline = pipeline_options(
        a.adders_per_stage,
        a.clock,
        a.adder_args.options(),
        a.const_mul,
    )?;
    let (loaded, calib, fw) = load_and_lower(&a)?;
    let (x, _tb_source) = tb_inputs(&a, fw.n_in)?;
    let o = RtlOptions {
        name: a.name.clone(),
        part,
        clock_ns: a.clock,
        pipeline,
    };
    let (extra, html, reference) = estimates_and_html(&a, compare, &loaded, &fw, calib.as_ref())?;
    let (mut files, design) =
        rtl::render(&fw, &o, &a.model.model.display().to_string(), &x, extra)?;
    files.push(("report.html".into(), html));
    files.sort_by(|p, q| p.0.cmp(&q.0));
    hls::write_project(&files, &a.output, a.force)
        .with_context(|| format!("writing {}", a.output.display()))?;
    eprintln!(
        "{}: Verilog project '{}' ({} files, mode {}, {} adder levels per stage, latency {} cycles, {} test-bench samples) in {:.0} ms",
        a.output.display(),
        o.name,
        files.len(),
        fw.mode(),
        pipeline.adders_per_stage,
        design.latency(),
        x.len() / fw.n_in,
        t0.elapsed().as_secs_f64() * 1e3
    );
    Ok(super::validate::reference_exit_code(reference.as_ref()))
}

pub fn run_csim(a: CsimArgs) -> anyhow::Result<i32> {
    let o = CsimOptions {
        samples: a.samples,
        input: a.input.clone(),
        ap_types: a.ap_types.clone(),
    };
    let r = csim(&a.dir, &o)?;
    eprint!("{}", r.stderr);
    println!(
        "{}: {} samples, {} mismatches (g++ build {:.1} s, run {:.2} s)",
        a.dir.display(),
        r.samples,
        r.mismatches,
        r.build_secs,
        r.run_secs
    );
    Ok(if r.mismatches == 0 { 0 } else { 1 })
}

pub fn run_rtlsim(a: RtlsimArgs) -> anyhow::Result<i32> {
    let r = rtl::sim::rtlsim(&a.dir, a.input.as_deref(), a.samples)?;
    eprint!("{}", r.stderr);
    println!(
        "{}: {} events, {} results, {} mismatches, latency {} cycles ({} latency errors), {} cycles for all events with {} bubbles (verilator build {:.1} s, run {:.2} s)",
        a.dir.display(),
        r.events,
        r.received,
        r.mismatches,
        r.latency,
        r.latency_errors,
        r.cycles,
        r.bubbles,
        r.build_secs,
        r.run_secs
    );
    Ok(
        if r.mismatches == 0 && r.latency_errors == 0 && r.received == r.events {
            0
        } else {
            1
        },
    )
}
