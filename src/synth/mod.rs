//! Open-source synthesis of generated RTL with Yosys (tested with Yosys 0.23).
//!
//! [`synth_files`] runs one yosys process:
//!
//! ```text
//! yosys -q -l LOG -p 'read_verilog "F1" "F2"...; synth_xilinx -family xcup -flatten -top TOP;
//!     tee -q -o stat.txt stat; tee -q -o ltp.txt ltp -noff;
//!     delete t:FD* t:SRL* t:RAMB*; tee -q -o ltp_comb.txt ltp -noff'
//! ```
//!
//! and parses the cell histogram and the longest paths into a [`SynthReport`] with the pure
//! parsers of [`parse`]. [`synth_project`] does the same for a Verilog project directory
//! (`report.json` + `rtl/*.v`) and writes `synth.json` and `synth/yosys.log` into it.
//!
//! Two depths are reported, both counted in cells (IBUF/OBUF included):
//! - `ltp`: `ltp -noff` on the mapped netlist, as in the da4ml anchor. After mapping, `-noff`
//!   no longer skips flip-flops (it only knows yosys' internal `$dff` cells, not FDRE), so on a
//!   registered design this path runs *through* the registers, and a feedback loop (a counter)
//!   makes it meaningless: `ltp_loop` says so.
//! - `ltp_comb`: the same after deleting flip-flops, shift registers and block RAMs, i.e. the
//!   deepest combinational path between registers and ports. Equal to `ltp` on a combinational
//!   design.

pub mod cells;
pub mod error;
pub mod parse;
mod project;
mod yosys;

pub use cells::Resources;
pub use error::{ParseError, SynthError};
pub use parse::{parse_ltp, parse_stat, parse_warnings, LtpPath, Stat, StatBlock};
pub use project::{project_top, synth_project, LOG_FILE, REPORT_FILE, RTL_DIR, SYNTH_JSON};

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// How to synthesize.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SynthOptions {
    /// `synth_xilinx -family` (default `xcup`, UltraScale+).
    pub family: String,
    /// The top module. Required by [`synth_files`]; for [`synth_project`] it overrides the
    /// project's `project.name`.
    pub top: Option<String>,
    /// The yosys executable (default `yosys`, looked up in PATH).
    pub yosys: PathBuf,
}

impl Default for SynthOptions {
    fn default() -> Self {
        SynthOptions {
            family: "xcup".into(),
            top: None,
            yosys: PathBuf::from("yosys"),
        }
    }
}

/// What yosys made of a design. All counts are cells of the flattened, Xilinx-mapped netlist.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SynthReport {
    /// Top module.
    pub top: String,
    /// `synth_xilinx -family`.
    pub family: String,
    /// LUT, FF, CARRY, DSP, BRAM, MUXF and SRL counts (flattened into the JSON: `lut`, `ff`, ...).
    #[serde(flatten)]
    pub resources: Resources,
    /// Total number of cells (the sum of `cells`).
    pub cells_total: u64,
    /// Every cell type → count (including IBUF, OBUF, BUFG, INV).
    pub cells: BTreeMap<String, u64>,
    /// Longest topological path of the mapped netlist (`ltp -noff`), in cells; runs through
    /// flip-flops (see the module documentation).
    pub ltp: u64,
    /// yosys reported a loop while computing `ltp` (a feedback path through a register): `ltp`
    /// is then not a meaningful depth; use `ltp_comb`.
    pub ltp_loop: bool,
    /// Longest path with flip-flops, SRLs and block RAMs cut: the deepest combinational path.
    pub ltp_comb: u64,
    /// Distinct yosys warnings, in order.
    pub warnings: Vec<String>,
    /// The Verilog sources, in the order read.
    pub sources: Vec<String>,
    /// `yosys -V`.
    pub yosys_version: String,
    /// The yosys script, exactly as passed to `yosys -p` (run in a temporary directory).
    pub command: String,
    /// Wall time of the yosys run, seconds.
    pub wall_s: f64,
}

/// Synthesizes `files` (plain Verilog) with yosys and parses the result.
///
/// `log_path` is where the yosys log is written (its directory must exist); without it the log
/// is discarded. Errors: no file, a file that does not exist, no top module in `opts`, yosys
/// missing or failing (with the end of its log), or output this parser does not understand.
pub fn synth_files(
    files: &[PathBuf],
    opts: &SynthOptions,
    log_path: Option<&Path>,
) -> Result<SynthReport, SynthError> {
    if files.is_empty() {
        return Err(SynthError::NoVerilog {
            path: PathBuf::from("."),
            detail: "no Verilog file given".into(),
        });
    }
    for f in files {
        if !f.is_file() {
            return Err(SynthError::NoVerilog {
                path: f.clone(),
                detail: "no such Verilog file".into(),
            });
        }
    }
    let top = opts
        .top
        .as_deref()
        .ok_or_else(|| SynthError::Invalid("no top module given (--top NAME)".into()))?;
    let script = yosys::script(files, &opts.family, top)?;
    let version = yosys::version(&opts.yosys)?;
    let out = yosys::run(&opts.yosys, &script, log_path)?;
    let bad = |what: &str, e: ParseError| SynthError::Unparsable {
        source_name: format!("yosys {what} output (script: {script})"),
        version: version.clone(),
        what: e.0,
    };
    let stat = parse_stat(&out.stat).map_err(|e| bad("stat", e))?;
    let design = stat.design(top).map_err(|e| bad("stat", e))?;
    let ltp_of = |text: &str, what: &str| -> Result<LtpPath, SynthError> {
        let paths = parse_ltp(text).map_err(|e| bad(what, e))?;
        paths.get(top).cloned().ok_or_else(|| {
            bad(
                what,
                ParseError(format!(
                    "no longest path for top module '{top}' (found: {:?})",
                    paths.keys()
                )),
            )
        })
    };
    let ltp = ltp_of(&out.ltp, "ltp")?;
    let ltp_comb = ltp_of(&out.ltp_comb, "ltp (cut at flip-flops)")?;
    Ok(SynthReport {
        top: top.to_string(),
        family: opts.family.clone(),
        resources: Resources::from_cells(&design.cells),
        cells_total: design.cells_total,
        cells: design.cells.clone(),
        ltp: ltp.length,
        ltp_loop: ltp.loop_detected,
        ltp_comb: ltp_comb.length,
        warnings: parse_warnings(&out.stderr),
        sources: files.iter().map(|f| f.display().to_string()).collect(),
        yosys_version: version,
        command: out.script,
        wall_s: out.wall_s,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn testdata(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/synth/testdata")
            .join(name)
    }

    /// Runs yosys (needs it installed: scripts/deps.sh) on the fixture design: the report must
    /// match the captured fixture output, so the fixtures stay the output of the real flow.
    #[test]
    fn synth_fixture_end_to_end() {
        let opts = SynthOptions {
            top: Some("fixture_top".into()),
            ..Default::default()
        };
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("y.log");
        let r = synth_files(&[testdata("fixture.v")], &opts, Some(&log)).unwrap();
        let want = parse_stat(include_str!("testdata/fixture.stat")).unwrap();
        assert_eq!(r.cells, want.modules["fixture_top"].cells);
        assert_eq!(
            (
                r.resources.lut,
                r.resources.ff,
                r.resources.carry,
                r.resources.dsp,
                r.resources.bram18,
                r.resources.muxf,
                r.resources.srl
            ),
            (55, 28, 16, 1, 1, 2, 1)
        );
        assert_eq!(r.resources.bram, 0.5);
        assert_eq!((r.ltp, r.ltp_loop, r.ltp_comb), (14, true, 12));
        assert!(
            r.warnings.iter().any(|w| w.starts_with("Detected loop")),
            "{:?}",
            r.warnings
        );
        assert!(r.yosys_version.starts_with("Yosys "));
        assert!(std::fs::read_to_string(&log)
            .unwrap()
            .contains("synth_xilinx"));
    }

    #[test]
    fn yosys_failure_quotes_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let v = dir.path().join("bad.v");
        std::fs::write(
            &v,
            "module bad(input a, output b);\n  assign b = a &;\nendmodule\n",
        )
        .unwrap();
        let log = dir.path().join("y.log");
        let opts = SynthOptions {
            top: Some("bad".into()),
            ..Default::default()
        };
        let e = synth_files(&[v], &opts, Some(&log))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("yosys failed") && e.contains("syntax error") && e.contains("y.log"),
            "{e}"
        );
    }

    #[test]
    fn input_errors() {
        let opts = SynthOptions {
            top: Some("t".into()),
            ..Default::default()
        };
        assert!(matches!(
            synth_files(&[], &opts, None),
            Err(SynthError::NoVerilog { .. })
        ));
        let e = synth_files(&[PathBuf::from("/nonexistent/x.v")], &opts, None).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/x.v"), "{e}");
        let no_top = SynthOptions::default();
        assert!(synth_files(&[testdata("fixture.v")], &no_top, None)
            .unwrap_err()
            .to_string()
            .contains("--top"));
        let no_yosys = SynthOptions {
            yosys: "/nonexistent/yosys".into(),
            ..opts
        };
        let e = synth_files(&[testdata("fixture.v")], &no_yosys, None).unwrap_err();
        assert!(matches!(e, SynthError::YosysNotFound { .. }), "{e}");
    }
}
