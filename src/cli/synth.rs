//! `bit2hls synth DIR` (stub: filled by the synth work).
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct SynthArgs {
    /// A Verilog project directory written by `bit2hls compile --backend verilog`.
    pub dir: PathBuf,
}

pub fn run(a: SynthArgs) -> anyhow::Result<i32> {
    anyhow::bail!("{}: synth is not implemented yet", a.dir.display())
}
