//! `compile` and `csim` (HLS backend). Placeholder until the HLS backend lands.

use clap::Args;

#[derive(Args, Debug)]
pub struct CompileArgs {
    #[command(flatten)]
    pub model: crate::pipeline::ModelArgs,
}

#[derive(Args, Debug)]
pub struct CsimArgs {
    pub dir: std::path::PathBuf,
}

pub fn run_compile(_a: CompileArgs) -> anyhow::Result<i32> {
    anyhow::bail!("compile: the HLS backend is not implemented yet")
}

pub fn run_csim(_a: CsimArgs) -> anyhow::Result<i32> {
    anyhow::bail!("csim: the HLS backend is not implemented yet")
}
