//! The regression section of report.html: per output a table of residuals (float model,
//! PyTorch, each firmware mode), the residual histograms overlaid (inline SVG polylines) and
//! the target-against-prediction histogram of the selected mode (inline SVG cells). Every
//! coordinate is computed here as a string; the template only draws.

use crate::ir::firmware::Mode;
use crate::validate::regression::{Hist2d, Histogram, RegressionReport, Residuals};

const W: f64 = 520.0;
const H: f64 = 240.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 40.0;
/// The 2-D histogram is square.
const SQ: f64 = 240.0;

fn n(v: f64) -> String {
    format!("{v:.1}")
}

/// One model's row of the residual table.
pub struct RegRow {
    pub name: String,
    pub class: &'static str,
    pub vs_float: String,
    pub vs_torch: String,
    pub mean: String,
    pub std: String,
    pub width: String,
    pub sin2: String,
}

/// One curve of the residual histogram.
pub struct Curve {
    pub class: String,
    pub label: String,
    /// SVG polyline points.
    pub points: String,
}

/// The residual histograms of one output.
pub struct HistSvg {
    pub width: String,
    pub height: String,
    pub x0: String,
    pub x1: String,
    pub y0: String,
    pub y1: String,
    /// (x position, label) of the axis ticks.
    pub ticks: Vec<(String, String)>,
    pub tick_y: String,
    pub curves: Vec<Curve>,
    pub ymax: String,
    pub caption: String,
}

/// One non-empty cell of the 2-D histogram.
pub struct Cell {
    pub x: String,
    pub y: String,
    pub size: String,
    pub opacity: String,
}

/// Target (x) against the selected mode's prediction (y).
pub struct HeatSvg {
    pub size: String,
    pub x0: String,
    pub x1: String,
    pub y0: String,
    pub y1: String,
    pub lo: String,
    pub hi: String,
    pub cells: Vec<Cell>,
    pub caption: String,
}

/// Everything about one output.
pub struct OutputView {
    pub title: String,
    pub rows: Vec<RegRow>,
    pub hist: Option<HistSvg>,
    pub heat: Option<HeatSvg>,
}

/// The section.
pub struct RegressionView {
    pub task: String,
    pub note: String,
    pub outputs: Vec<OutputView>,
}

fn res_cells(r: Option<&Residuals>) -> (String, String, String, String) {
    match r {
        Some(r) => (
            format!("{:+.4}", r.mean),
            format!("{:.4}", r.std),
            format!("{:.4}", r.width68),
            r.mean_sin2.map_or("–".into(), |v| format!("{v:.4}")),
        ),
        None => ("–".into(), "–".into(), "–".into(), "–".into()),
    }
}

fn row(name: &str, class: &'static str, vf: String, vt: String, r: Option<&Residuals>) -> RegRow {
    let (mean, std, width, sin2) = res_cells(r);
    RegRow {
        name: name.into(),
        class,
        vs_float: vf,
        vs_torch: vt,
        mean,
        std,
        width,
        sin2,
    }
}

fn hist_svg(curves: &[(&str, String, &Histogram)]) -> Option<HistSvg> {
    let h = curves.first()?.2;
    let bins = h.counts.len();
    let ymax = curves
        .iter()
        .flat_map(|c| c.2.counts.iter().copied())
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let (x0, x1, y0, y1) = (LEFT, W - RIGHT, TOP, H - BOTTOM);
    let xs = |i: f64| x0 + (x1 - x0) * i / bins as f64;
    let ys = |c: u64| y1 - (y1 - y0) * c as f64 / ymax;
    let curves = curves
        .iter()
        .map(|(class, label, h)| {
            // a step curve: the bin's left and right edge at its height
            let pts: Vec<String> = h
                .counts
                .iter()
                .enumerate()
                .flat_map(|(i, &c)| {
                    [
                        format!("{},{}", n(xs(i as f64)), n(ys(c))),
                        format!("{},{}", n(xs(i as f64 + 1.0)), n(ys(c))),
                    ]
                })
                .collect();
            Curve {
                class: format!("curve {class}"),
                label: label.clone(),
                points: pts.join(" "),
            }
        })
        .collect();
    let ticks = (0..=4)
        .map(|k| {
            let f = k as f64 / 4.0;
            (
                n(x0 + (x1 - x0) * f),
                format!("{:.3}", h.lo + (h.hi - h.lo) * f),
            )
        })
        .collect();
    Some(HistSvg {
        width: n(W),
        height: n(H),
        x0: n(x0),
        x1: n(x1),
        y0: n(y0),
        y1: n(y1),
        ticks,
        tick_y: n(y1 + 16.0),
        curves,
        ymax: format!("{}", ymax as u64),
        caption: format!(
            "Residual prediction − target in {} bins of [{:.3}, {:.3}); events per bin (peak {}). \
             Outside the range: {} below, {} above (float model).",
            bins, h.lo, h.hi, ymax as u64, h.under, h.over
        ),
    })
}

fn heat_svg(h: &Hist2d, mode: Mode) -> HeatSvg {
    let (x0, y0) = (LEFT, TOP);
    let (x1, y1) = (x0 + SQ, y0 + SQ);
    let cell = SQ / h.bins as f64;
    let max = h.counts.iter().copied().max().unwrap_or(0).max(1) as f64;
    let cells = h
        .counts
        .iter()
        .enumerate()
        .filter(|(_, &c)| c > 0)
        .map(|(i, &c)| {
            let (bp, bt) = (i / h.bins, i % h.bins);
            Cell {
                x: n(x0 + bt as f64 * cell),
                y: n(y1 - (bp + 1) as f64 * cell),
                size: n(cell),
                opacity: format!("{:.3}", 0.08 + 0.92 * c as f64 / max),
            }
        })
        .collect();
    HeatSvg {
        size: n(SQ + LEFT + RIGHT + 24.0),
        x0: n(x0),
        x1: n(x1),
        y0: n(y0),
        y1: n(y1),
        lo: format!("{:.3}", h.lo),
        hi: format!("{:.3}", h.hi),
        cells,
        caption: format!(
            "Target (x) against the {mode} firmware's prediction (y), {}×{} cells of [{:.3}, \
             {:.3}); darker = more events (largest cell {}).",
            h.bins, h.bins, h.lo, h.hi, max as u64
        ),
    }
}

impl RegressionView {
    /// The section for `r`, with the 2-D histogram of mode `selected`.
    pub fn new(r: &RegressionReport, selected: Mode) -> RegressionView {
        let d = |x: Option<crate::validate::regression::Diff>| {
            x.map_or("–".into(), |d| {
                format!("{:.3e} / {:.3e}", d.max_abs, d.mean_abs)
            })
        };
        let outputs = r
            .outputs
            .iter()
            .map(|o| {
                let mut rows = vec![row(
                    "float model",
                    "float",
                    "–".into(),
                    "–".into(),
                    o.float.as_ref(),
                )];
                if o.reference.is_some() {
                    rows.push(row(
                        "PyTorch",
                        "float",
                        "–".into(),
                        "–".into(),
                        o.reference.as_ref(),
                    ));
                }
                let mut curves: Vec<(&str, String, &Histogram)> = Vec::new();
                if let Some(f) = &o.float {
                    curves.push(("float", "float model".into(), &f.hist));
                }
                for m in &o.modes {
                    rows.push(row(
                        m.mode.as_str(),
                        "",
                        d(Some(m.vs_float)),
                        d(m.vs_reference),
                        m.residuals.as_ref(),
                    ));
                    if let Some(x) = &m.residuals {
                        curves.push((m.mode.as_str(), m.mode.to_string(), &x.hist));
                    }
                }
                let shown = o
                    .modes
                    .iter()
                    .find(|m| m.mode == selected)
                    .or(o.modes.first());
                OutputView {
                    title: format!("output {}", o.output),
                    rows,
                    hist: hist_svg(&curves),
                    heat: shown.and_then(|m| {
                        m.residuals
                            .as_ref()
                            .map(|x| heat_svg(&x.truth_vs_pred, m.mode))
                    }),
                }
            })
            .collect();
        RegressionView {
            task: r.task.to_string(),
            note: if r.has_target {
                String::new()
            } else {
                "The validation data has no 'target': only the differences between the models \
                 are shown."
                    .into()
            },
            outputs,
        }
    }
}
