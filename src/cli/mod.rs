#![allow(clippy::print_stdout)]
//! Command-line interface. Each command lives in its own module; errors are printed once here.

mod args;
mod bench;
mod calibrate;
mod cmvm;
mod emulate;
mod estimate;
pub mod hls;
mod inspect;
mod set;
mod synth;
pub mod validate;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "bit2hls",
    version,
    about = "Ternary BitNet (b1.58) networks → FPGA firmware for trigger systems"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Print the model after each pass: as loaded, ternarized, folded, lowered (types).
    Inspect(inspect::InspectArgs),
    /// Run the bit-exact firmware emulator (or the float reference) on a .npy file.
    Emulate(emulate::EmulateArgs),
    /// Compare firmware and float model on a labelled data set, for every activation mode.
    Validate(validate::ValidateArgs),
    /// Write an hls4ml-style Vitis HLS project, or a pipelined Verilog project (--backend verilog).
    Compile(hls::CompileArgs),
    /// C-simulate a generated project with g++ and the ap_types headers.
    Csim(hls::CsimArgs),
    /// Measure emulator throughput (events/s) on random ternary models.
    Bench(bench::BenchArgs),
    /// Simulate a Verilog project with Verilator against the emulator's outputs.
    Rtlsim(hls::RtlsimArgs),
    /// Synthesize a Verilog project with Yosys; writes synth.json (LUT/FF/CARRY/DSP, depth).
    Synth(synth::SynthArgs),
    /// Compare the estimator with Yosys on random ternary layers and models.
    Calibrate(calibrate::CalibrateArgs),
    /// Estimate LUT/FF/DSP/BRAM and latency for a part and clock, and the trigger verdict.
    Estimate(estimate::EstimateArgs),
    /// Adder sharing on one ternary matrix [out, in] (.npy): plain trees vs shared adders, JSON.
    Cmvm(cmvm::CmvmArgs),
}

/// Loads the model of any command and prints every assumption inference made (the activations
/// it assumed between layers) on stderr, so that no command compiles an inferred model silently.
pub fn load_model(args: &args::ModelArgs) -> crate::Result<crate::front::Loaded> {
    let loaded = args.load()?;
    print_notes(args, &loaded);
    Ok(loaded)
}

/// [`load_model`] for the commands that read particle-level models too.
pub fn load_net(
    args: &args::ModelArgs,
) -> crate::Result<crate::front::Loaded<crate::ir::set::Net>> {
    let loaded = args.load_net()?;
    print_notes(args, &loaded);
    Ok(loaded)
}

pub(crate) fn print_notes<M>(args: &args::ModelArgs, loaded: &crate::front::Loaded<M>) {
    for p in loaded.params() {
        eprintln!("note: {}: {p}", args.model.display());
    }
    let warnings = loaded.warnings();
    if !warnings.is_empty() {
        eprintln!(
            "warning: {}: {} ({})",
            args.model.display(),
            warnings.join("; "),
            crate::front::arch::ASSUMED_ACT_ADVICE
        );
    }
}

/// A progress indicator on stderr for long runs (Yosys): a bar over `len` steps, or a spinner
/// without `len`, ticking on its own thread so that it moves while a child process runs.
/// Hidden when stderr is not a terminal, so piped and logged output is unchanged.
/// Prints a note when the lowering chose fewer fractional bits than requested
/// ([`crate::pipeline::FwOptions::frac_auto`]).
pub fn note_frac(o: &crate::ir::firmware::LowerOptions) {
    if let Some(why) = &o.frac_bits_origin {
        eprintln!(
            "note: {} mode uses {} fractional bits ({why})",
            o.mode, o.frac_bits
        );
    }
}

pub fn progress(len: Option<u64>, template: &str) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let pb = match len {
        Some(n) => indicatif::ProgressBar::new(n),
        None => indicatif::ProgressBar::new_spinner(),
    };
    pb.set_style(indicatif::ProgressStyle::with_template(template).expect("valid template"));
    pb.enable_steady_tick(std::time::Duration::from_millis(250));
    pb
}

/// Runs the CLI; returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    match run_command(cli.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", message(&e));
            1
        }
    }
}

/// Runs one command given as its arguments (without the program name) exactly as the program
/// would, for front ends other than the command line (the Python package). `Ok((exit code,
/// report))`: the report is the JSON that `validate --json` and `estimate --json` print
/// (returned instead of printed, whatever `--json` says), `None` for the other commands, which
/// print as the program does. `Err` is the message the program prints after `error: `
/// (including clap's usage errors).
pub fn run_args(args: &[String]) -> Result<(i32, Option<serde_json::Value>), String> {
    let argv = std::iter::once("bit2hls".to_string()).chain(args.iter().cloned());
    let cli = Cli::try_parse_from(argv).map_err(|e| e.to_string())?;
    let r = match cli.command {
        Command::Validate(a) => validate::report(&a).and_then(|r| {
            let code = validate::reference_exit_code(r.reference.as_ref());
            Ok((code, Some(serde_json::to_value(&r)?)))
        }),
        Command::Estimate(a) => {
            estimate::estimates(&a).map(|(out, _)| (0, Some(estimate::json(&out))))
        }
        c => run_command(c).map(|code| (code, None)),
    };
    r.map_err(|e| message(&e))
}

fn run_command(command: Command) -> anyhow::Result<i32> {
    match command {
        Command::Inspect(a) => inspect::run(a),
        Command::Emulate(a) => emulate::run(a),
        Command::Validate(a) => validate::run(a),
        Command::Compile(a) => hls::run_compile(a),
        Command::Csim(a) => hls::run_csim(a),
        Command::Bench(a) => bench::run(a),
        Command::Synth(a) => synth::run(a),
        Command::Rtlsim(a) => hls::run_rtlsim(a),
        Command::Estimate(a) => estimate::run(a),
        Command::Calibrate(a) => calibrate::run(a),
        Command::Cmvm(a) => cmvm::run(a),
    }
}

/// The error and its causes, `outer: cause: …`, leaving out a cause whose text the message
/// already contains (the library's errors name their source themselves, e.g. "cannot read: …").
fn message(e: &anyhow::Error) -> String {
    let mut msg = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !msg.contains(&c) {
            msg.push_str(": ");
            msg.push_str(&c);
        }
    }
    msg
}
