//! Running yosys: the script, the process, and collecting its text outputs.
//!
//! One yosys process per synthesis, run in a fresh temporary directory that receives the `stat`
//! and `ltp` outputs (`tee -q -o`); the Verilog sources and the log are named by absolute path.

use super::error::SynthError;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// Where `tee` writes, relative to the run directory.
pub(crate) const STAT_FILE: &str = "stat.txt";
pub(crate) const LTP_FILE: &str = "ltp.txt";
pub(crate) const LTP_COMB_FILE: &str = "ltp_comb.txt";

/// Cells at which [`LTP_COMB_FILE`]'s path is cut: flip-flops, shift registers and block RAMs
/// (all clocked). DSP slices are kept whole, with or without internal registers.
pub(crate) const SEQUENTIAL_CELLS: &str = "t:FD* t:SRL* t:RAMB*";

/// Lines of the log quoted in [`SynthError::YosysFailed`].
const TAIL_LINES: usize = 20;

/// The text yosys produced in one successful run.
#[derive(Debug)]
pub(crate) struct RunOutput {
    pub stat: String,
    pub ltp: String,
    pub ltp_comb: String,
    pub stderr: String,
    pub script: String,
    pub wall_s: f64,
}

/// `yosys -V`, e.g. `Yosys 0.23 (git sha1 7ce5011c24b)`.
pub(crate) fn version(program: &Path) -> Result<String, SynthError> {
    let out = Command::new(program)
        .arg("-V")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| SynthError::YosysNotFound {
            program: program.to_path_buf(),
            detail: e.to_string(),
        })?;
    let v = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || !v.starts_with("Yosys") {
        return Err(SynthError::YosysNotFound {
            program: program.to_path_buf(),
            detail: format!(
                "'{} -V' did not print a Yosys version ({}): {v}",
                program.display(),
                out.status
            ),
        });
    }
    Ok(v)
}

/// A Verilog identifier that can be put in a yosys command unquoted.
pub(crate) fn check_top(top: &str) -> Result<(), SynthError> {
    let ok = top.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && top
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    if ok {
        Ok(())
    } else {
        Err(SynthError::Invalid(format!(
            "top module '{top}' is not a plain Verilog identifier (letters, digits, '_', '$'; not starting with a digit)"
        )))
    }
}

/// A `synth_xilinx -family` value: lowercase letters and digits (yosys itself rejects unknown ones).
pub(crate) fn check_family(family: &str) -> Result<(), SynthError> {
    if !family.is_empty()
        && family
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    {
        Ok(())
    } else {
        Err(SynthError::Invalid(format!(
            "family '{family}' is not a synth_xilinx family (e.g. xcup, xcu, xc7)"
        )))
    }
}

/// The absolute path of `f` as a string that can be put in a yosys script in double quotes.
fn script_path(f: &Path) -> Result<String, SynthError> {
    let abs = std::path::absolute(f).map_err(|e| SynthError::io(f, e))?;
    let s = abs.to_str().ok_or_else(|| {
        SynthError::Invalid(format!(
            "{}: the path is not UTF-8, which yosys scripts cannot name",
            f.display()
        ))
    })?;
    if s.contains(['"', '\n', '\r']) {
        return Err(SynthError::Invalid(format!(
            "{}: the path contains a double quote or a line break, which yosys scripts cannot name",
            f.display()
        )));
    }
    Ok(s.to_string())
}

/// The yosys script: read the sources, `synth_xilinx -flatten`, then `stat`, `ltp -noff` on the
/// mapped netlist, and `ltp -noff` again after deleting the sequential cells.
pub(crate) fn script(files: &[PathBuf], family: &str, top: &str) -> Result<String, SynthError> {
    check_top(top)?;
    check_family(family)?;
    let mut srcs = Vec::with_capacity(files.len());
    for f in files {
        srcs.push(format!("\"{}\"", script_path(f)?));
    }
    Ok(format!(
        "read_verilog {}; synth_xilinx -family {family} -flatten -top {top}; \
         tee -q -o {STAT_FILE} stat; tee -q -o {LTP_FILE} ltp -noff; \
         delete {SEQUENTIAL_CELLS}; tee -q -o {LTP_COMB_FILE} ltp -noff",
        srcs.join(" ")
    ))
}

/// Runs `program -q -l LOG -p SCRIPT` in a temporary directory. `log` is where the log is kept
/// (its directory must exist); without it the log lives in the temporary directory and is lost.
pub(crate) fn run(
    program: &Path,
    script: &str,
    log: Option<&Path>,
) -> Result<RunOutput, SynthError> {
    let tmp = tempfile::Builder::new()
        .prefix("bit2hls-synth")
        .tempdir()
        .map_err(|e| SynthError::io(std::env::temp_dir(), e))?;
    let log_abs = match log {
        Some(l) => std::path::absolute(l).map_err(|e| SynthError::io(l, e))?,
        None => tmp.path().join("yosys.log"),
    };
    let t0 = Instant::now();
    let out = Command::new(program)
        .current_dir(tmp.path())
        .arg("-q")
        .arg("-l")
        .arg(&log_abs)
        .arg("-p")
        .arg(script)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| SynthError::YosysNotFound {
            program: program.to_path_buf(),
            detail: e.to_string(),
        })?;
    let wall_s = t0.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        let logged = std::fs::read_to_string(&log_abs).unwrap_or_default();
        let source = if logged.trim().is_empty() {
            &stderr
        } else {
            &logged
        };
        return Err(SynthError::YosysFailed {
            status: out.status.to_string(),
            log: if log.is_some() {
                log_abs.display().to_string()
            } else {
                "not kept (no log path given)".into()
            },
            tail: tail(source, TAIL_LINES),
        });
    }
    let read = |name: &str| {
        let p = tmp.path().join(name);
        std::fs::read_to_string(&p).map_err(|e| SynthError::Unparsable {
            source_name: name.to_string(),
            version: "yosys".into(),
            what: format!("yosys exited 0 but did not write {name}: {e}"),
        })
    };
    Ok(RunOutput {
        stat: read(STAT_FILE)?,
        ltp: read(LTP_FILE)?,
        ltp_comb: read(LTP_COMB_FILE)?,
        stderr,
        script: script.to_string(),
        wall_s,
    })
}

/// The last `n` lines of `text`.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_quotes_absolute_paths() {
        let s = script(
            &[PathBuf::from("/a b/x.v"), PathBuf::from("/c;d.v")],
            "xcup",
            "top_1",
        )
        .unwrap();
        assert!(s.starts_with("read_verilog \"/a b/x.v\" \"/c;d.v\"; synth_xilinx -family xcup -flatten -top top_1;"), "{s}");
        assert!(
            s.ends_with("delete t:FD* t:SRL* t:RAMB*; tee -q -o ltp_comb.txt ltp -noff"),
            "{s}"
        );
    }

    #[test]
    fn rejects_what_yosys_cannot_take() {
        assert!(script(&[PathBuf::from("/x\"y.v")], "xcup", "t").is_err());
        assert!(script(&[PathBuf::from("/x.v")], "xcup", "t; shell").is_err());
        assert!(script(&[PathBuf::from("/x.v")], "xcup", "9t").is_err());
        assert!(script(&[PathBuf::from("/x.v")], "xc up", "t").is_err());
        assert!(script(&[PathBuf::from("/x.v")], "", "t").is_err());
    }

    #[test]
    fn tail_keeps_last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail("a", 5), "a");
    }

    #[test]
    fn missing_program_is_not_found() {
        let e = version(Path::new("/nonexistent/yosys")).unwrap_err();
        assert!(e.to_string().contains("scripts/deps.sh"), "{e}");
    }
}
