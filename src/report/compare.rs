//! Other designs of the same task to compare with (`--compare FILE`): points of another flow
//! (e.g. HGQ2 + da4ml on the same jets and split), read from a JSON file the user writes or
//! edits, and validated (every error names the file, the point and the field).
//!
//! ```json
//! {"name": "HGQ2 + da4ml", "source": "same jets and split, Yosys 0.23",
//!  "points": [{"label": "beta 3e-6", "auc": 0.8734, "lut": 2039, "ff": 462, "dsp": 0,
//!              "latency_cycles": 5, "clock_ns": 5.0}]}
//! ```
//!
//! `source` says where the numbers come from; `name` (short, for the table) is optional. Of a
//! point only `label` and `lut` are required; `auc` places it in the plot.

use super::scatter::{scatter_log_x, Datum, Scatter};
use super::ModeEntry;
use crate::error::Error;
use crate::estimate::verdict::fmt_int;
use serde::Deserialize;
use std::path::Path;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDoc {
    #[serde(default)]
    name: Option<String>,
    source: String,
    points: Vec<RefPoint>,
}

/// The points of one `--compare` file.
#[derive(Clone, Debug, PartialEq)]
pub struct Reference {
    /// Short name of the flow for the table (`name`, else the file's name).
    pub name: String,
    /// Where the numbers come from, as the file says.
    pub source: String,
    /// The file as the user named it.
    pub file: String,
    pub points: Vec<RefPoint>,
}

/// One design of another flow (a point of the file, as written there).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefPoint {
    pub label: String,
    /// ROC AUC on the test set (0..=1).
    #[serde(default)]
    pub auc: Option<f64>,
    /// Accuracy on the test set (0..=1).
    #[serde(default)]
    pub accuracy: Option<f64>,
    pub lut: u64,
    #[serde(default)]
    pub ff: Option<u64>,
    #[serde(default)]
    pub dsp: Option<u64>,
    #[serde(default)]
    pub latency_cycles: Option<u32>,
    /// Clock period of `latency_cycles`, ns.
    #[serde(default)]
    pub clock_ns: Option<f64>,
}

/// Reads and validates a `--compare` file.
pub fn read(path: &Path) -> Result<Reference, Error> {
    let data = |detail: String| Error::Data {
        path: path.to_path_buf(),
        detail,
    };
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let doc: FileDoc = serde_json::from_str(&text).map_err(|e| {
        data(format!(
            "not a comparison file ({e}); expected {{\"name\": \"...\", \"source\": \"...\", \"points\": \
             [{{\"label\": \"...\", \"lut\": N, \"auc\": 0.87, ...}}]}} (keys of a point: label, \
             lut, auc, accuracy, ff, dsp, latency_cycles, clock_ns)"
        ))
    })?;
    if doc.source.trim().is_empty() {
        return Err(data(
            "'source' is empty: say where the numbers come from".into(),
        ));
    }
    if doc.points.is_empty() {
        return Err(data("'points' is empty: give at least one design".into()));
    }
    for (i, p) in doc.points.iter().enumerate() {
        let at = |field: &str, want: &str| data(format!("points[{i}].{field}: expected {want}"));
        if p.label.trim().is_empty() {
            return Err(at("label", "a non-empty name"));
        }
        for (name, v) in [("auc", p.auc), ("accuracy", p.accuracy)] {
            if v.is_some_and(|v| !(v > 0.0 && v <= 1.0)) {
                return Err(at(name, "a fraction in (0, 1] (0.8734, not 87.34)"));
            }
        }
        if p.clock_ns.is_some_and(|c| !(c > 0.0 && c.is_finite())) {
            return Err(at("clock_ns", "a positive clock period in ns"));
        }
        if p.clock_ns.is_some() && p.latency_cycles.is_none() {
            return Err(at("latency_cycles", "a cycle count when clock_ns is given"));
        }
    }
    let stem = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    Ok(Reference {
        name: doc.name.filter(|n| !n.trim().is_empty()).unwrap_or(stem),
        source: doc.source,
        file: path.display().to_string(),
        points: doc.points,
    })
}

/// One row of the comparison table.
pub struct CompareRow {
    pub design: String,
    /// Where the row's numbers come from.
    pub flow: String,
    pub auc: String,
    pub accuracy: String,
    pub lut: String,
    pub ff: String,
    pub dsp: String,
    pub latency: String,
    /// CSS class: "own" (this model) or "peer".
    pub class: &'static str,
}

/// The "against other designs" section.
pub struct CompareView {
    /// One line per file: its source and name.
    pub sources: Vec<String>,
    pub rows: Vec<CompareRow>,
    /// Test AUC against LUT (log axis): this model's modes and every point with an AUC.
    pub plot: Option<Scatter>,
    /// Why this model has no point in the plot (empty when it has).
    pub note: String,
}

fn latency(cycles: Option<u32>, clock_ns: Option<f64>) -> String {
    match (cycles, clock_ns) {
        (Some(c), Some(t)) => format!("{c} cycles = {} ns", fmt_ns(c as f64 * t)),
        (Some(c), None) => format!("{c} cycles"),
        _ => "–".into(),
    }
}

fn fmt_ns(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

impl CompareView {
    /// The section for `refs` beside the report's modes (None without `--compare` files).
    pub fn new(refs: &[Reference], modes: &[ModeEntry], clock_ns: f64) -> Option<CompareView> {
        if refs.is_empty() {
            return None;
        }
        let frac = |v: Option<f64>, pct: bool| match v {
            Some(v) if pct => format!("{:.2} %", 100.0 * v),
            Some(v) => format!("{v:.4}"),
            None => "–".into(),
        };
        let mut rows = Vec::new();
        let mut data = Vec::new();
        for m in modes {
            let v = m.validation.as_ref();
            let auc = v.and_then(|s| s.auc);
            let e = &m.estimate;
            rows.push(CompareRow {
                design: format!("this model, {}", m.mode),
                flow: format!("bit2hls {} estimate", e.backend.as_str()),
                auc: frac(auc, false),
                accuracy: frac(v.and_then(|s| s.accuracy), true),
                lut: fmt_int(e.total.lut),
                ff: fmt_int(e.total.ff),
                dsp: fmt_int(e.total.dsp),
                latency: latency(Some(e.latency_cycles), Some(clock_ns)),
                class: "own",
            });
            if let Some(a) = auc {
                data.push(Datum {
                    x: e.total.lut as f64,
                    y: a,
                    label: m.mode.as_str().into(),
                    class: format!("pt m-{}", m.mode.as_str()),
                });
            }
        }
        let own_points = data.len();
        for r in refs {
            for p in &r.points {
                rows.push(CompareRow {
                    design: p.label.clone(),
                    flow: r.name.clone(),
                    auc: frac(p.auc, false),
                    accuracy: frac(p.accuracy, true),
                    lut: fmt_int(p.lut),
                    ff: p.ff.map_or("–".into(), fmt_int),
                    dsp: p.dsp.map_or("–".into(), fmt_int),
                    latency: latency(p.latency_cycles, p.clock_ns),
                    class: "peer",
                });
                if let Some(a) = p.auc {
                    data.push(Datum {
                        x: p.lut as f64,
                        y: a,
                        label: p.label.clone(),
                        class: "pt peer".into(),
                    });
                }
            }
        }
        let note = if own_points == 0 {
            "This model has no test AUC here (give labelled data with two classes, --data), so \
             only the other designs are plotted."
                .to_string()
        } else {
            String::new()
        };
        Some(CompareView {
            sources: refs
                .iter()
                .map(|r| format!("{} ({})", r.source, r.file))
                .collect(),
            rows,
            plot: scatter_log_x(&data, "LUT (log scale)", "test AUC"),
            note,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn try_read(text: &str) -> Result<Reference, String> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("peers.json");
        std::fs::write(&p, text).unwrap();
        read(&p).map_err(|e| e.to_string())
    }

    #[test]
    fn reads_a_valid_file() {
        let r = try_read(
            r#"{"source": "s", "points": [{"label": "a", "auc": 0.87, "lut": 10,
                "latency_cycles": 5, "clock_ns": 5.0}, {"label": "b", "lut": 3}]}"#,
        )
        .unwrap();
        assert_eq!(r.points.len(), 2);
        assert_eq!(r.points[0].auc, Some(0.87));
        assert_eq!(r.points[1].auc, None);
        assert_eq!(
            r.name, "peers.json",
            "the file's name when the file has no name"
        );
    }

    /// Every refusal names the file and the point's field, and says what to give.
    #[test]
    fn refuses_what_it_cannot_use() {
        for (text, want) in [
            (r#"{"source": "s", "points": []}"#, "'points' is empty"),
            (
                r#"{"source": " ", "points": [{"label": "a", "lut": 1}]}"#,
                "'source' is empty",
            ),
            (
                r#"{"source": "s", "points": [{"label": "", "lut": 1}]}"#,
                "points[0].label",
            ),
            (
                r#"{"source": "s", "points": [{"label": "a", "lut": 1}, {"label": "b", "lut": 1, "auc": 87.3}]}"#,
                "points[1].auc: expected a fraction",
            ),
            (
                r#"{"source": "s", "points": [{"label": "a", "lut": 1, "clock_ns": 5}]}"#,
                "points[0].latency_cycles",
            ),
            (
                r#"{"source": "s", "points": [{"label": "a", "lut": 1, "luts": 2}]}"#,
                "unknown field `luts`",
            ),
            (
                r#"{"source": "s", "points": [{"label": "a"}]}"#,
                "missing field `lut`",
            ),
            ("[1, 2]", "not a comparison file"),
        ] {
            let e = try_read(text).unwrap_err();
            assert!(e.contains("peers.json") && e.contains(want), "{text}: {e}");
        }
    }
}
