//! Synthesis of a Verilog project directory.
//!
//! Layout read: `DIR/report.json` (a JSON object with `project.backend == "verilog"` and
//! `project.name`, the top module) and `DIR/rtl/*.v` (every Verilog source). Written:
//! `DIR/synth.json` (the [`SynthReport`], pretty JSON, replaced atomically) and
//! `DIR/synth/yosys.log`.

use super::error::SynthError;
use super::{synth_files, SynthOptions, SynthReport};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The project's report, relative to its directory.
pub const REPORT_FILE: &str = "report.json";
/// The directory of the Verilog sources.
pub const RTL_DIR: &str = "rtl";
/// The synthesis report written by [`synth_project`].
pub const SYNTH_JSON: &str = "synth.json";
/// The yosys log kept by [`synth_project`].
pub const LOG_FILE: &str = "synth/yosys.log";

const HOW: &str = "write a Verilog project with `bit2hls compile --backend verilog`";

/// Synthesizes the Verilog project in `dir` and writes `dir/synth.json` and `dir/synth/yosys.log`.
///
/// The top module is `opts.top` if given, else `project.name` from `report.json`. A stale
/// `synth.json` is removed before yosys runs, so after a failure none is left that disagrees
/// with the sources. Errors name the file and what was expected.
pub fn synth_project(dir: &Path, opts: &SynthOptions) -> Result<SynthReport, SynthError> {
    if !dir.is_dir() {
        return Err(SynthError::NotADirectory {
            path: dir.to_path_buf(),
        });
    }
    let top = project_top(&dir.join(REPORT_FILE), opts.top.as_deref())?;
    let sources = rtl_sources(&dir.join(RTL_DIR))?;

    let out = dir.join(SYNTH_JSON);
    match std::fs::remove_file(&out) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(SynthError::io(&out, e)),
        _ => {}
    }
    let log = dir.join(LOG_FILE);
    let log_dir = log.parent().expect("LOG_FILE has a directory");
    std::fs::create_dir_all(log_dir).map_err(|e| SynthError::io(log_dir, e))?;

    let opts = SynthOptions {
        top: Some(top),
        ..opts.clone()
    };
    let mut report = synth_files(&sources, &opts, Some(&log))?;
    report.sources = sources
        .iter()
        .map(|s| s.strip_prefix(dir).unwrap_or(s).display().to_string())
        .collect();
    write_json_atomic(&out, &report)?;
    Ok(report)
}

/// Checks `report.json` and returns the top module: `top` if given, else `project.name`.
pub fn project_top(path: &Path, top: Option<&str>) -> Result<String, SynthError> {
    let err = |detail: String| SynthError::Report {
        path: path.to_path_buf(),
        detail,
    };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(err(format!(
                "missing: not a Verilog project (expected report.json and rtl/*.v; {HOW})"
            )))
        }
        Err(e) => return Err(SynthError::io(path, e)),
    };
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| err(format!("not valid JSON: {e}")))?;
    let project = v
        .get("project")
        .and_then(|p| p.as_object())
        .ok_or_else(|| {
            err(format!(
                "expected a JSON object with a \"project\" object ({HOW})"
            ))
        })?;
    match project.get("backend") {
        Some(serde_json::Value::String(b)) if b == "verilog" => {}
        Some(b) => {
            return Err(err(format!(
            "project.backend is {b}, expected \"verilog\": synth needs a Verilog project ({HOW})"
        )))
        }
        None => {
            return Err(err(format!(
                "project.backend is missing, expected \"verilog\" ({HOW})"
            )))
        }
    }
    if let Some(t) = top {
        return Ok(t.to_string());
    }
    match project.get("name") {
        Some(serde_json::Value::String(n)) if !n.is_empty() => Ok(n.clone()),
        Some(n) => Err(err(format!(
            "project.name is {n}, expected the top module name as a string (or pass --top NAME)"
        ))),
        None => Err(err(
            "project.name is missing, expected the top module name (or pass --top NAME)".into(),
        )),
    }
}

/// The `.v` files directly in `rtl`, sorted by name.
fn rtl_sources(rtl: &Path) -> Result<Vec<PathBuf>, SynthError> {
    if !rtl.is_dir() {
        return Err(SynthError::NoVerilog {
            path: rtl.to_path_buf(),
            detail: format!("missing: expected a directory of Verilog sources ({HOW})"),
        });
    }
    let mut files = Vec::new();
    for e in std::fs::read_dir(rtl).map_err(|e| SynthError::io(rtl, e))? {
        let p = e.map_err(|e| SynthError::io(rtl, e))?.path();
        if p.extension().is_some_and(|x| x == "v") && p.is_file() {
            files.push(p);
        }
    }
    if files.is_empty() {
        return Err(SynthError::NoVerilog {
            path: rtl.to_path_buf(),
            detail: "no .v file in it".into(),
        });
    }
    files.sort();
    Ok(files)
}

/// Writes `value` as pretty JSON to a temporary file next to `path`, then renames it into place.
fn write_json_atomic(path: &Path, value: &SynthReport) -> Result<(), SynthError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| SynthError::io(dir, e))?;
    let mut text = serde_json::to_string_pretty(value).expect("a SynthReport serializes");
    text.push('\n');
    tmp.write_all(text.as_bytes())
        .map_err(|e| SynthError::io(tmp.path(), e))?;
    tmp.persist(path)
        .map_err(|e| SynthError::io(path, e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(dir: &Path, json: &str) -> PathBuf {
        let p = dir.join(REPORT_FILE);
        std::fs::write(&p, json).unwrap();
        p
    }

    #[test]
    fn report_json_checks() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join(REPORT_FILE);
        let msg = || project_top(&p, None).unwrap_err().to_string();
        assert!(msg().contains("report.json: missing"), "{}", msg());
        report(d.path(), "{");
        assert!(msg().contains("not valid JSON"));
        report(d.path(), r#"{"project": {"name": "t"}}"#);
        assert!(msg().contains("project.backend is missing"));
        report(d.path(), r#"{"project": {"name": "t", "backend": "hls"}}"#);
        assert!(msg().contains("\"hls\", expected \"verilog\""));
        report(d.path(), r#"{"project": {"backend": "verilog"}}"#);
        assert!(msg().contains("project.name is missing"));
        assert_eq!(project_top(&p, Some("given")).unwrap(), "given");
        report(
            d.path(),
            r#"{"project": {"backend": "verilog", "name": 3}}"#,
        );
        assert!(msg().contains("project.name is 3"));
        report(
            d.path(),
            r#"{"project": {"backend": "verilog", "name": "net"}}"#,
        );
        assert_eq!(project_top(&p, None).unwrap(), "net");
        assert_eq!(project_top(&p, Some("layer1")).unwrap(), "layer1");
    }

    #[test]
    fn rtl_checks() {
        let d = tempfile::tempdir().unwrap();
        let rtl = d.path().join(RTL_DIR);
        assert!(rtl_sources(&rtl)
            .unwrap_err()
            .to_string()
            .contains("rtl: missing"));
        std::fs::create_dir(&rtl).unwrap();
        std::fs::write(rtl.join("notes.txt"), "").unwrap();
        assert!(rtl_sources(&rtl)
            .unwrap_err()
            .to_string()
            .contains("no .v file"));
        std::fs::write(rtl.join("b.v"), "").unwrap();
        std::fs::write(rtl.join("a.v"), "").unwrap();
        let names: Vec<_> = rtl_sources(&rtl)
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_owned())
            .collect();
        assert_eq!(names, ["a.v", "b.v"]);
    }
}
