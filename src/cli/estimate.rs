//! `bit2hls estimate MODEL --part P --clock C`: resources, latency and the trigger verdict.

use super::args::{FwArgs, ModelArgs};
use crate::estimate::design::{estimate_hls, estimate_rtl};
use crate::estimate::verdict::{render_table, Verdict, VerdictOptions};
use crate::estimate::{parse_clock, Backend, Estimate};
use crate::hw::Design;
use crate::ir::firmware::Mode;
use crate::pipeline::{calibration_with, lower_for};
use crate::target::parts;
use crate::target::Strategy;
use clap::Args;
use std::time::Instant;

#[derive(Args, Debug)]
pub struct EstimateArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub fw: FwArgs,
    /// FPGA part (full or short name, e.g. xcvu9p).
    #[arg(long, default_value = parts::DEFAULT_PART)]
    pub part: String,
    /// Clock: a period (5, 5ns) or a frequency (200MHz).
    #[arg(long, default_value = "5ns")]
    pub clock: String,
    /// verilog (calibrated against Yosys) or hls (derived from it, not checked against Vitis).
    #[arg(long, value_parser = super::args::choice::<Backend>(), default_value = "verilog")]
    pub backend: Backend,
    /// HLS strategy (with --backend hls).
    #[arg(long, value_parser = super::args::choice::<Strategy>(), default_value = "latency")]
    pub strategy: Strategy,
    /// HLS reuse factor (resource strategy).
    #[arg(long, default_value_t = 1)]
    pub reuse: usize,
    /// Adder levels between pipeline registers (default: from the clock).
    #[arg(long)]
    pub adders_per_stage: Option<u32>,
    #[command(flatten)]
    pub adder_args: super::args::AdderArgs,
    /// Constant multiplies: shift-and-add in LUTs or DSPs.
    #[arg(long, value_parser = super::args::choice::<crate::hw::schedule::ConstMul>(), default_value = "lut")]
    pub const_mul: crate::hw::schedule::ConstMul,
    /// Time-multiplexing factor: copies of the design that take events in turn.
    #[arg(long, default_value_t = 1)]
    pub tmux: u32,
    /// Share of the part the design may use.
    #[arg(long, default_value_t = 0.10)]
    pub budget: f64,
    /// Time between events in ns (40 MHz LHC bunch crossings: 25).
    #[arg(long, default_value_t = 25.0)]
    pub event_period: f64,
    /// Estimate every activation mode (default: only --mode).
    #[arg(long)]
    pub all_modes: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: EstimateArgs) -> anyhow::Result<i32> {
    let t0 = Instant::now();
    let (out, pipeline) = estimates(&a)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&json(&out))?);
    } else {
        for (e, v) in &out {
            println!(
                "{} — mode {}, {} backend ({} adder levels per stage)",
                a.model.model.display(),
                e.mode,
                e.backend.as_str(),
                pipeline.adders_per_stage
            );
            println!("{}", render_table(e, v));
            println!("{}", adder_summary(e, pipeline.adders));
        }
        eprintln!("estimated in {:.0} ms", t0.elapsed().as_secs_f64() * 1e3);
    }
    Ok(0)
}

/// What `--json` prints: one `{"estimate", "verdict"}` per mode.
pub fn json(out: &[(Estimate, Verdict)]) -> serde_json::Value {
    out.iter()
        .map(|(e, v)| serde_json::json!({"estimate": e, "verdict": v}))
        .collect()
}

/// The estimate and verdict of every requested mode, and the pipeline they used.
pub fn estimates(
    a: &EstimateArgs,
) -> anyhow::Result<(
    Vec<(Estimate, Verdict)>,
    crate::hw::schedule::PipelineOptions,
)> {
    let part = parts::lookup(&a.part)?;
    let clock_ns = parse_clock(&a.clock).map_err(anyhow::Error::msg)?;
    let pipeline = super::hls::pipeline_options(
        a.adders_per_stage,
        clock_ns,
        a.adder_args.options(),
        a.const_mul,
    )?;
    let vo = VerdictOptions {
        event_period_ns: a.event_period,
        tmux: a.tmux,
        budget_share: a.budget,
    };
    vo.validate().map_err(anyhow::Error::msg)?;
    anyhow::ensure!(a.reuse >= 1, "--reuse 0: the reuse factor is at least 1");
    anyhow::ensure!(
        a.backend == Backend::Hls || (a.strategy == Strategy::Latency && a.reuse == 1),
        "--strategy/--reuse apply to --backend hls; the Verilog backend is latency-only (II = 1)"
    );
    let loaded = super::load_model(&a.model)?;
    let calib = calibration_with(&loaded, &a.fw.options(), a.fw.calib_rule)?;
    let modes: Vec<Mode> = if a.all_modes {
        Mode::ALL.to_vec()
    } else {
        vec![a.fw.mode]
    };
    let mut out = Vec::new();
    for mode in modes {
        let fw = lower_for(&loaded, &a.fw.options(), mode, calib.as_ref())?;
        let d = Design::new(&fw, pipeline);
        let est = match a.backend {
            Backend::Verilog => estimate_rtl(&fw, &d, part, clock_ns),
            Backend::Hls => estimate_hls(&fw, &d, part, clock_ns, a.strategy, a.reuse),
        };
        let v = Verdict::new(&est, part, &vo);
        out.push((est, v));
    }
    Ok((out, pipeline))
}

/// One line on the ternary sums (adders and depth per layer) and the levels of each stage.
fn adder_summary(e: &Estimate, o: crate::target::AdderOptions) -> String {
    use crate::choice::Choice;
    let per: Vec<String> = e
        .layers
        .iter()
        .filter(|l| l.kind == "ternary")
        .map(|l| format!("{} {} (depth {})", l.name, l.adders, l.adder_depth))
        .collect();
    let cap = o
        .max_extra_depth
        .map_or("no depth cap".to_string(), |d| format!("depth cap +{d}"));
    let mut s = format!(
        "ternary adders ({}, {cap}): {}",
        o.adders.name(),
        per.join(", ")
    );
    let thr: u64 = e.layers.iter().map(|l| l.threshold_requantizers).sum();
    if thr > 0 || o.requant != crate::target::RequantCircuit::Auto {
        let per: Vec<String> = e
            .layers
            .iter()
            .filter(|l| l.kind == "ternary")
            .map(|l| format!("{} {}", l.name, l.threshold_requantizers))
            .collect();
        s.push_str(&format!(
            "\n(re)quantizers as threshold comparisons (--requant-circuit {}): {}",
            o.requant.name(),
            per.join(", ")
        ));
    }
    if !e.stage_levels.is_empty() {
        let l: Vec<String> = e.stage_levels.iter().map(|x| x.to_string()).collect();
        s.push_str(&format!(
            "\nadder levels per pipeline stage: {}",
            l.join(" ")
        ));
    }
    s
}
