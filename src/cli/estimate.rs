//! `bit2hls estimate MODEL` (stub).
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct EstimateArgs {
    pub model: PathBuf,
}

pub fn run(a: EstimateArgs) -> anyhow::Result<i32> {
    anyhow::bail!("{}: estimate is not implemented yet", a.model.display())
}
