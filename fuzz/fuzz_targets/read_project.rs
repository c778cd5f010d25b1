//! Any bytes as a file of a project directory: see `bit2hls::fuzzing::read_project`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::OnceLock;

fn dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let fw = include_str!("../seeds/read_firmware/qg_mlp_tiny-dynamic.json");
        bit2hls::fuzzing::scratch_project(&std::env::temp_dir(), fw)
    })
}

fuzz_target!(|data: &[u8]| bit2hls::fuzzing::read_project(dir(), data));
