//! Any bytes as one of the files a command reads from a project directory (or a data file
//! given to it): the first byte chooses the file, the rest is its contents. Every reader
//! returns a value or an error, never panics.
//!
//! 0: report.json (csim, rtlsim and synth project checks); 1: the `--input` .npy of csim and
//! rtlsim (next to a valid firmware.json); 2: synth.json; 3: Yosys / simulator text output;
//! 4: an .npz data set (validate --data, calibrate).
#![no_main]
use bit2hls::back::hls::csim;
use bit2hls::back::rtl::sim;
use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::OnceLock;

/// A scratch project directory (one per fuzzing process), with a valid firmware.json.
fn dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("bit2hls-fuzz-project-{}", std::process::id()));
        std::fs::create_dir_all(d.join("tb_data")).unwrap();
        std::fs::create_dir_all(d.join("firmware")).unwrap();
        std::fs::write(d.join("firmware.json"), include_str!("../seeds/read_firmware/qg_mlp_tiny-dynamic.json")).unwrap();
        for f in ["firmware/myproject.cpp", "myproject_test.cpp"] {
            std::fs::write(d.join(f), "").unwrap();
        }
        d
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, body)) = data.split_first() else { return };
    let d = dir();
    let text = String::from_utf8_lossy(body);
    match sel % 5 {
        0 => {
            std::fs::write(d.join("report.json"), body).unwrap();
            let _ = csim::project_name(d);
            let _ = sim::project_name(d);
            let _ = bit2hls::synth::project_top(&d.join("report.json"), None);
        }
        1 => {
            let p = d.join("input.npy");
            std::fs::write(&p, body).unwrap();
            let _ = csim::regenerate_tb(d, &p, Some(64));
            let _ = sim::regenerate_tb(d, &p, Some(64));
        }
        2 => {
            let _ = serde_json::from_str::<bit2hls::synth::SynthReport>(&text);
        }
        3 => {
            let _ = bit2hls::synth::parse_stat(&text);
            let _ = bit2hls::synth::parse_ltp(&text);
            let _ = bit2hls::synth::parse_warnings(&text);
            let _ = sim::parse_summary(&text);
        }
        _ => {
            let p = d.join("data.npz");
            std::fs::write(&p, body).unwrap();
            let _ = bit2hls::io::npz::read_dataset(&p);
        }
    }
});
