//! RTL simulation with Verilator: build the project's test bench, run it, read its summary.
//!
//! The test bench (`tb/tb_<name>.cpp`) streams the events of `tb_data/tb_input_codes.dat` one
//! per clock (with bubbles in the first half), and checks every output against
//! `tb_data/tb_output_codes.dat` (the emulator's codes) and every event's latency against the
//! design's. Equality is exact: a single differing bit is a mismatch.

use crate::io::npy::NpyRows;
use crate::io::particles::read_first_jets;
use crate::ir::serial::{self, AnyFirmware};
use crate::project::{ProjectError, Result};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// What the test bench reported.
#[derive(Clone, Debug, PartialEq)]
pub struct RtlSimOutcome {
    pub events: usize,
    pub received: usize,
    pub mismatches: usize,
    /// The design's latency in cycles (from the test bench).
    pub latency: u32,
    /// Events whose output came after a different number of cycles.
    pub latency_errors: usize,
    /// Cycles from the first event in to the last result out.
    pub cycles: u64,
    /// Cycles without an event (`valid_in` low) while events were pending, after the first.
    pub bubbles: u64,
    pub build_secs: f64,
    pub run_secs: f64,
    pub stderr: String,
}

fn not_project(dir: &Path, why: &str) -> ProjectError {
    ProjectError::io(dir, format!("not a bit2hls Verilog project: {why}"))
}

/// The module name from `report.json` (`project.name`, with `project.backend == "verilog"`).
pub fn project_name(dir: &Path) -> Result<String> {
    let rp = dir.join("report.json");
    let text = std::fs::read_to_string(&rp).map_err(|_| not_project(dir, "no report.json"))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|_| not_project(dir, "report.json is not JSON"))?;
    if v.pointer("/project/backend").and_then(|b| b.as_str()) != Some("verilog") {
        return Err(not_project(
            dir,
            "report.json has no project.backend = \"verilog\"",
        ));
    }
    let name = v
        .pointer("/project/name")
        .and_then(|n| n.as_str())
        .ok_or_else(|| not_project(dir, "report.json has no project.name"))?
        .to_string();
    crate::project::names::Namer::check_top(&name)
        .map_err(|_| not_project(dir, "invalid project name"))?;
    Ok(name)
}

/// Replaces the test-bench codes with those of the float inputs in `input` (.npy samples, or a
/// particle .npz for a particle-level project), the expected outputs recomputed by the
/// emulator from the project's `firmware.json`.
pub fn regenerate_tb(dir: &Path, input: &Path, samples: Option<usize>) -> Result<usize> {
    let fp = dir.join("firmware.json");
    let text = std::fs::read_to_string(&fp).map_err(|e| ProjectError::io(&fp, e))?;
    let (ci, co, cols_in, cols_out, n) = match serial::from_json_any(&text, &fp)? {
        AnyFirmware::Chain(fw) => {
            let x = read_samples(input, fw.n_in, samples)?;
            let (ci, co) = super::tb_codes(&fw, &x);
            (ci, co, fw.n_in, fw.n_out, x.len() / fw.n_in.max(1))
        }
        AnyFirmware::Set(fw) => {
            let tb = read_first_jets(input, (&fw).into(), samples)?;
            let (ci, co) = super::set_tb_codes(&fw, &tb);
            let (p, f, g) = (fw.pool.n, fw.features(), fw.jet_features());
            (ci, co, p * f + p + g, fw.n_out(), tb.jets)
        }
    };
    let d = dir.join("tb_data");
    std::fs::write(
        d.join("tb_input_codes.dat"),
        super::codes_text(&ci, cols_in),
    )
    .map_err(|e| ProjectError::io(&d, e))?;
    std::fs::write(
        d.join("tb_output_codes.dat"),
        super::codes_text(&co, cols_out),
    )
    .map_err(|e| ProjectError::io(&d, e))?;
    Ok(n)
}

/// At most `samples` rows of the .npy `input`, `n_in` finite features each.
fn read_samples(input: &Path, n_in: usize, samples: Option<usize>) -> Result<Vec<f32>> {
    let mut rows = NpyRows::open(input).map_err(|e| ProjectError::io(input, e))?;
    if rows.cols != n_in {
        return Err(ProjectError::io(
            input,
            format!(
                "samples have {} features, the design takes {n_in}",
                rows.cols
            ),
        ));
    }
    let mut x = Vec::new();
    rows.next_chunk(samples.unwrap_or(rows.rows).min(rows.rows), &mut x)
        .map_err(|e| ProjectError::io(input, e))?;
    if let Some(i) = x.iter().position(|v| !v.is_finite()) {
        return Err(ProjectError::io(
            input,
            format!(
                "sample {}, feature {}: {} is not finite",
                i / n_in,
                i % n_in,
                x[i]
            ),
        ));
    }
    Ok(x)
}

/// Test benches of at most this many events are compiled without C++ optimisation: the build
/// dominates (`qg_mlp` static: 12.9 s at Verilator's default `-Os`, 8.0 s at `-O0`; running
/// 1,000 events takes 0.00 s vs 0.01 s), larger ones with Verilator's defaults.
const UNOPTIMISED_EVENTS: usize = 200_000;

/// Builds the Verilator model of the project into `DIR/sim/` and returns the executable.
pub fn build(dir: &Path, name: &str) -> Result<(PathBuf, f64)> {
    let t0 = Instant::now();
    let mdir = dir.join("sim");
    let events = std::fs::read(dir.join("tb_data/tb_input_codes.dat"))
        .map(|b| b.iter().filter(|&&c| c == b'\n').count())
        .unwrap_or(usize::MAX);
    let quick = events <= UNOPTIMISED_EVENTS;
    let mut cmd = Command::new("verilator");
    if quick {
        cmd.args(["-MAKEFLAGS", "OPT_FAST=-O0 OPT_SLOW=-O0 OPT_GLOBAL=-O0"]);
    }
    cmd.current_dir(dir)
        .args([
            "--cc",
            "--exe",
            "--build",
            "-j",
            "2",
            "--x-assign",
            "unique",
            "--x-initial",
            "unique",
        ])
        .args(["-Wno-WIDTH", "-Wno-UNUSED"])
        .args(["-CFLAGS", if quick { "-O0" } else { "-O1" }])
        .args(["--Mdir", "sim", "-o", "tb"])
        .arg("--top-module")
        .arg(name)
        .arg(format!("rtl/{name}.v"))
        .arg(format!("tb/tb_{name}.cpp"));
    let out = cmd.output().map_err(|e| {
        ProjectError::io(
            Path::new("verilator"),
            format!("cannot run ({e}); install Verilator with scripts/deps.sh (apt-get install verilator)"),
        )
    })?;
    if !out.status.success() {
        let log = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = log.lines().rev().take(30).collect();
        return Err(ProjectError::io(
            dir,
            format!(
                "verilator failed ({}):\n{}",
                out.status,
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            ),
        ));
    }
    // An absolute path: the test bench runs with the project as its working directory.
    let exe = mdir.join("tb");
    let exe = exe
        .canonicalize()
        .map_err(|e| ProjectError::io(&exe, format!("verilator built no test bench: {e}")))?;
    Ok((exe, t0.elapsed().as_secs_f64()))
}

/// Parses the test bench's summary line.
pub fn parse_summary(stdout: &str) -> Option<(usize, usize, usize, u32, usize, u64, u64)> {
    let line = stdout.lines().rev().find(|l| l.starts_with("events "))?;
    let f: Vec<&str> = line.split_whitespace().collect();
    let get = |key: &str| {
        f.iter()
            .position(|w| *w == key)
            .and_then(|i| f.get(i + 1))
            .and_then(|v| v.parse::<u64>().ok())
    };
    Some((
        get("events")? as usize,
        get("received")? as usize,
        get("mismatches")? as usize,
        get("latency")? as u32,
        get("latency_errors")? as usize,
        get("cycles")?,
        get("bubbles")?,
    ))
}

/// Builds and runs the test bench of the project in `dir` (optionally on new inputs).
pub fn rtlsim(dir: &Path, input: Option<&Path>, samples: Option<usize>) -> Result<RtlSimOutcome> {
    let name = project_name(dir)?;
    if let Some(inp) = input {
        regenerate_tb(dir, inp, samples)?;
    }
    let (exe, build_secs) = build(dir, &name)?;
    let t0 = Instant::now();
    let out = Command::new(&exe)
        .current_dir(dir)
        .args(["tb_data/tb_input_codes.dat", "tb_data/tb_output_codes.dat"])
        .output()
        .map_err(|e| ProjectError::io(&exe, format!("cannot run: {e}")))?;
    let run_secs = t0.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let (events, received, mismatches, latency, latency_errors, cycles, bubbles) =
        parse_summary(&stdout).ok_or_else(|| {
            ProjectError::io(
                &exe,
                format!(
                    "the test bench printed no summary ({}):\n{stderr}",
                    out.status
                ),
            )
        })?;
    Ok(RtlSimOutcome {
        events,
        received,
        mismatches,
        latency,
        latency_errors,
        cycles,
        bubbles,
        build_secs,
        run_secs,
        stderr,
    })
}
