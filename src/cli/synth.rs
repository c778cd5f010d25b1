//! `bit2hls synth DIR`: synthesize a Verilog project with Yosys, write DIR/synth.json.
use crate::synth::{synth_project, SynthOptions, SynthReport, LOG_FILE, SYNTH_JSON};
use anyhow::Context;
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct SynthArgs {
    /// A Verilog project directory written by `bit2hls compile --backend verilog`
    /// (report.json + rtl/*.v).
    pub dir: PathBuf,
    /// Top module [default: project.name from DIR/report.json].
    #[arg(long)]
    pub top: Option<String>,
    /// Xilinx family for `synth_xilinx -family` (xcup = UltraScale+, xcu, xc7, ...).
    #[arg(long, default_value = "xcup")]
    pub family: String,
    /// The yosys executable.
    #[arg(long, default_value = "yosys")]
    pub yosys: PathBuf,
    /// Print the synthesis report as JSON instead of a summary.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: SynthArgs) -> anyhow::Result<i32> {
    let opts = SynthOptions {
        family: a.family,
        top: a.top,
        yosys: a.yosys,
    };
    let pb = super::progress(
        None,
        &format!(
            "{{spinner}} yosys synth_xilinx -family {} on {}: {{elapsed}} (takes minutes)",
            opts.family,
            a.dir.display()
        ),
    );
    let r = synth_project(&a.dir, &opts);
    pb.finish_and_clear();
    let r = r?;
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&r).context("cannot serialize the synthesis report")?
        );
    } else {
        print!("{}", summary(&r));
        println!(
            "wrote {} (log: {})",
            a.dir.join(SYNTH_JSON).display(),
            a.dir.join(LOG_FILE).display()
        );
    }
    Ok(0)
}

fn summary(r: &SynthReport) -> String {
    let sizes: Vec<String> = r
        .resources
        .lut_by_size
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    let mut s = format!(
        "{} ({}), {}, {:.1} s\n",
        r.top, r.family, r.yosys_version, r.wall_s
    );
    s += &format!("  LUT    {:>8}   ({})\n", r.resources.lut, sizes.join(", "));
    s += &format!("  FF     {:>8}\n", r.resources.ff);
    s += &format!("  CARRY  {:>8}\n", r.resources.carry);
    s += &format!("  DSP    {:>8}\n", r.resources.dsp);
    s += &format!(
        "  BRAM   {:>8}   (RAMB36 {}, RAMB18 {})\n",
        r.resources.bram, r.resources.bram36, r.resources.bram18
    );
    if r.resources.muxf > 0 || r.resources.srl > 0 {
        s += &format!(
            "  MUXF   {:>8}\n  SRL    {:>8}\n",
            r.resources.muxf, r.resources.srl
        );
    }
    let loop_note = if r.ltp_loop {
        ", through a feedback loop: not a depth"
    } else {
        ""
    };
    s += &format!(
        "  depth  {:>8}   cells between registers/ports (ltp through registers: {}{loop_note})\n",
        r.ltp_comb, r.ltp
    );
    if !r.warnings.is_empty() {
        s += &format!(
            "  {} yosys warning(s), first: {}\n",
            r.warnings.len(),
            r.warnings[0]
        );
    }
    s
}
