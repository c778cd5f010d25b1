//! C-simulation without Vitis: build the project's test bench with g++ against the Xilinx
//! ap_types headers, run it, and count mismatches against the emulator's expected outputs.

use super::tbdata;
use crate::io::npy::NpyRows;
use crate::ir::serial::{self, AnyFirmware};
use crate::project::{ProjectError, Result};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// Options of [`csim`].
#[derive(Clone, Debug, Default)]
pub struct CsimOptions {
    /// Run at most this many samples.
    pub samples: Option<usize>,
    /// Replace the test-bench inputs with this .npy and recompute the expected outputs.
    pub input: Option<PathBuf>,
    /// The ap_types directory (else `AP_TYPES_DIR`, else the setup script's cache).
    pub ap_types: Option<PathBuf>,
}

/// What a C-simulation found.
#[derive(Clone, Debug)]
pub struct CsimOutcome {
    pub samples: usize,
    pub mismatches: usize,
    pub build_secs: f64,
    pub run_secs: f64,
    /// The test bench's output (mismatch details on stderr).
    pub stdout: String,
    pub stderr: String,
}

/// The cache directory scripts/setup_ap_types.sh fills.
pub fn default_ap_types_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("bit2hls").join("ap_types"))
}

/// Finds the ap_types headers: `explicit`, then `$AP_TYPES_DIR`, then the cache.
pub fn find_ap_types(explicit: Option<&Path>) -> Result<PathBuf> {
    let mut tried = Vec::new();
    let candidates: Vec<(String, PathBuf)> = if let Some(p) = explicit {
        vec![("--ap-types".into(), p.to_path_buf())]
    } else {
        let mut v = Vec::new();
        if let Some(p) = std::env::var_os("AP_TYPES_DIR").filter(|v| !v.is_empty()) {
            v.push(("AP_TYPES_DIR".into(), PathBuf::from(p)));
        }
        if let Some(p) = default_ap_types_dir() {
            v.push(("cache".into(), p));
        }
        v
    };
    for (what, p) in candidates {
        if p.join("ap_fixed.h").is_file() && p.join("ap_int.h").is_file() {
            return Ok(p);
        }
        tried.push(format!("{} ({what})", p.display()));
    }
    Err(ProjectError::NoApTypes {
        searched: if tried.is_empty() {
            "nowhere: no HOME".into()
        } else {
            tried.join(", ")
        },
    })
}

/// Checks that `dir` is a project written by `compile`; returns its name.
pub fn project_name(dir: &Path) -> Result<String> {
    let not = |d: &str| ProjectError::NotAProject {
        path: dir.to_path_buf(),
        detail: d.to_string(),
    };
    if !dir.is_dir() {
        return Err(not("no such directory"));
    }
    let rp = dir.join("report.json");
    let text = std::fs::read_to_string(&rp).map_err(|_| not("no report.json"))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|_| not("report.json is not JSON"))?;
    if v.get("generator").and_then(|g| g.as_str()) != Some("bit2hls") {
        return Err(not("report.json was not written by bit2hls"));
    }
    let name = v
        .pointer("/project/name")
        .and_then(|n| n.as_str())
        .ok_or_else(|| not("report.json has no project.name"))?
        .to_string();
    crate::project::names::Namer::check_top(&name)
        .map_err(|_| not("report.json has an invalid project name"))?;
    for f in [
        format!("firmware/{name}.cpp"),
        format!("{name}_test.cpp"),
        "firmware.json".into(),
    ] {
        if !dir.join(&f).is_file() {
            return Err(not(&format!("{f} is missing")));
        }
    }
    Ok(name)
}

fn write_atomic(path: &Path, text: &str) -> Result<()> {
    let tmp = path.with_extension("dat.part");
    std::fs::write(&tmp, text).map_err(|e| ProjectError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| ProjectError::io(path, e))
}

/// Replaces the test-bench inputs with `input` (.npy samples, or a particle .npz for a
/// particle-level project) and recomputes the expected outputs with the emulator from the
/// project's firmware.json. Returns the number of samples.
pub fn regenerate_tb(dir: &Path, input: &Path, samples: Option<usize>) -> Result<usize> {
    let fp = dir.join("firmware.json");
    let text = std::fs::read_to_string(&fp).map_err(|e| ProjectError::io(&fp, e))?;
    let fw = match serial::from_json_any(&text, &fp)? {
        AnyFirmware::Chain(fw) => fw,
        AnyFirmware::Set(fw) => {
            let tb = crate::io::particles::read_first_jets(input, (&fw).into(), samples)?;
            for (f, text) in super::set::tb_files(&fw, &tb) {
                write_atomic(&dir.join(f), &text)?;
            }
            return Ok(tb.jets);
        }
    };
    let data_err = |e: crate::Error| ProjectError::Project {
        path: input.to_path_buf(),
        detail: e.to_string(),
    };
    let mut rows = NpyRows::open(input).map_err(data_err)?;
    if rows.cols != fw.n_in {
        return Err(ProjectError::Project {
            path: input.to_path_buf(),
            detail: format!(
                "samples have {} features, the model takes {}",
                rows.cols, fw.n_in
            ),
        });
    }
    let n = samples.unwrap_or(rows.rows).min(rows.rows);
    if n == 0 {
        return Err(ProjectError::Project {
            path: input.to_path_buf(),
            detail: "no samples".into(),
        });
    }
    let mut x = Vec::new();
    rows.next_chunk(n, &mut x).map_err(data_err)?;
    if let Some(i) = x.iter().position(|v| !v.is_finite()) {
        return Err(ProjectError::Project {
            path: input.to_path_buf(),
            detail: format!(
                "sample {}, feature {}: {} is not finite",
                i / fw.n_in,
                i % fw.n_in,
                x[i]
            ),
        });
    }
    write_atomic(
        &dir.join("tb_data/tb_output_predictions.dat"),
        &tbdata::predictions_text(&fw, &x),
    )?;
    write_atomic(
        &dir.join("tb_data/tb_input_features.dat"),
        &tbdata::input_text(&x, fw.n_in),
    )?;
    Ok(n)
}

/// The C++ compiler: `$CXX` or `g++`.
fn cxx() -> String {
    std::env::var("CXX")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "g++".into())
}

/// Compiles the test bench into `out_dir`; returns the executable.
pub fn build(dir: &Path, name: &str, ap_types: &Path, out_dir: &Path) -> Result<PathBuf> {
    let exe = out_dir.join(format!("{name}_csim"));
    // One translation unit (test bench + firmware): the ap_types headers are parsed once.
    let unity = out_dir.join(format!("{name}_csim.cpp"));
    let abs = std::fs::canonicalize(dir).map_err(|e| ProjectError::io(dir, e))?;
    let src = format!(
        "#include \"{}\"\n#include \"{}\"\n",
        abs.join(format!("firmware/{name}.cpp")).display(),
        abs.join(format!("{name}_test.cpp")).display()
    );
    std::fs::write(&unity, src).map_err(|e| ProjectError::io(&unity, e))?;
    let cc = cxx();
    let mut cmd = Command::new(&cc);
    cmd.arg("-O1").arg("-std=c++14");
    if let Some(pch_dir) = precompiled_header(&cc, ap_types) {
        cmd.arg("-I").arg(pch_dir).arg("-include").arg("b2h_pch.h");
    }
    let out = cmd
        .arg("-I")
        .arg(ap_types)
        .arg("-I")
        .arg(abs.join("firmware"))
        .arg("-I")
        .arg(&abs)
        .arg(&unity)
        .arg("-o")
        .arg(&exe)
        .output()
        .map_err(|e| {
            ProjectError::Tool(format!(
                "cannot run the C++ compiler '{cc}': {e}; install g++ (or set CXX)"
            ))
        })?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let head: String = err.lines().take(40).collect::<Vec<_>>().join("\n");
        return Err(ProjectError::Tool(format!(
            "{cc} failed to build the test bench of {}:\n{head}",
            dir.display()
        )));
    }
    Ok(exe)
}

/// FNV-1a, for cache keys.
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    })
}

/// A precompiled header of ap_fixed.h + ap_int.h (the bulk of every build's parse time), cached
/// next to the headers' cache and keyed by compiler, flags and header identity. `None` (build
/// without it) whenever it cannot be made; g++ also ignores a PCH that does not fit the build.
fn precompiled_header(cc: &str, ap_types: &Path) -> Option<PathBuf> {
    let version = Command::new(cc).arg("--version").output().ok()?;
    let stamp = |f: &str| {
        std::fs::metadata(ap_types.join(f))
            .ok()
            .map(|m| format!("{}:{:?}", m.len(), m.modified().ok()))
            .unwrap_or_default()
    };
    let key = format!(
        "{}|{}|{}|{}|-O1 -std=c++14",
        String::from_utf8_lossy(&version.stdout),
        ap_types.display(),
        stamp("ap_fixed.h"),
        stamp("ap_int.h")
    );
    let dir = default_ap_types_dir()?
        .with_file_name("pch")
        .join(format!("{:016x}", fnv(&key)));
    let gch = dir.join("b2h_pch.h.gch");
    if gch.is_file() {
        return Some(dir);
    }
    std::fs::create_dir_all(&dir).ok()?;
    // Temporary names unique per process and call, renamed into place: test threads of one
    // process build it at the same time, and two writers of one file leave a corrupt header
    // that fails every later build.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let unique = format!("{}.{call}", std::process::id());
    let header = dir.join("b2h_pch.h");
    let header_tmp = dir.join(format!("b2h_pch.h.{unique}"));
    std::fs::write(
        &header_tmp,
        "#include \"ap_fixed.h\"\n#include \"ap_int.h\"\n",
    )
    .ok()?;
    std::fs::rename(&header_tmp, &header).ok()?;
    let tmp = dir.join(format!("b2h_pch.h.gch.{unique}"));
    let ok = Command::new(cc)
        .args(["-O1", "-std=c++14", "-x", "c++-header", "-I"])
        .arg(ap_types)
        .arg(&header)
        .arg("-o")
        .arg(&tmp)
        .output()
        .ok()?
        .status
        .success();
    if !ok || std::fs::rename(&tmp, &gch).is_err() {
        let _ = std::fs::remove_file(&tmp);
        return None;
    }
    Some(dir)
}

fn count(text: &str, suffix: &str) -> Option<usize> {
    text.lines()
        .find_map(|l| l.strip_suffix(suffix).and_then(|n| n.trim().parse().ok()))
}

/// Builds and runs the C-simulation of the project in `dir`.
pub fn csim(dir: &Path, o: &CsimOptions) -> Result<CsimOutcome> {
    let name = project_name(dir)?;
    let ap = find_ap_types(o.ap_types.as_deref())?;
    if let Some(input) = &o.input {
        regenerate_tb(dir, input, o.samples)?;
    }
    let build_dir = tempfile::Builder::new()
        .prefix("bit2hls-csim-")
        .tempdir()
        .map_err(|e| {
            ProjectError::Tool(format!("cannot create a temporary build directory: {e}"))
        })?;
    let t0 = Instant::now();
    let exe = build(dir, &name, &ap, build_dir.path())?;
    let build_secs = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let mut cmd = Command::new(&exe);
    cmd.current_dir(dir);
    if let Some(n) = o.samples {
        cmd.arg(n.to_string());
    }
    let out = cmd
        .output()
        .map_err(|e| ProjectError::Tool(format!("cannot run {}: {e}", exe.display())))?;
    let run_secs = t1.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let (Some(samples), Some(mismatches)) = (count_samples(&stdout), count(&stdout, " mismatches"))
    else {
        return Err(ProjectError::Tool(format!(
            "the test bench of {} failed (exit {:?}):\n{}{}",
            dir.display(),
            out.status.code(),
            stdout,
            stderr
        )));
    };
    if mismatches == 0 && !out.status.success() {
        return Err(ProjectError::Tool(format!(
            "the test bench exited with {:?}:\n{stdout}{stderr}",
            out.status.code()
        )));
    }
    Ok(CsimOutcome {
        samples,
        mismatches,
        build_secs,
        run_secs,
        stdout,
        stderr,
    })
}

fn count_samples(stdout: &str) -> Option<usize> {
    stdout.lines().find_map(|l| {
        l.split(" samples,")
            .next()
            .filter(|_| l.contains(" samples,"))
            .and_then(|n| n.trim().parse().ok())
    })
}
