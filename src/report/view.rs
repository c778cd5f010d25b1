//! The view model of report.html: pre-formatted strings, CSS classes and bar widths only. The
//! template `templates/report/report.html` lays them out and computes nothing.

use super::scatter::{scatter, Datum, Scatter};
use super::{ModeEntry, ReportInput, ValidationSummary};
use crate::estimate::verdict::{fmt_int, fmt_num, fmt_pct, Verdict};
use crate::estimate::{Estimate, Resources};
use askama::Template;

/// What the trade-off table says for a mode without validation data.
pub const NO_DATA: &str = "no data given: run compile with --data";
/// What the accuracy columns say for a regressor.
pub const REGRESSOR: &str = "a regressor: its values are compared in the Regression section";

/// A horizontal bar: its number and its width as a CSS percentage ("100.0%").
pub struct Bar {
    pub value: String,
    pub width: String,
}

/// Width of `v` on a scale where `max` is 100 % (0 % when `max` is 0), as "12.3%".
pub fn bar_width(v: u64, max: u64) -> String {
    if max == 0 {
        return "0.0%".into();
    }
    format!("{:.1}%", 100.0 * (v.min(max) as f64) / max as f64)
}

fn bar(v: u64, max: u64) -> Bar {
    Bar {
        value: fmt_int(v),
        width: bar_width(v, max),
    }
}

/// One firmware stage in the per-layer section.
pub struct LayerRow {
    pub index: String,
    pub name: String,
    pub kind: String,
    pub dims: String,
    pub lut: Bar,
    pub ff: Bar,
    pub dsp: Bar,
    pub bram: String,
    pub cycles: Bar,
}

/// A row of plain numbers under the layers (the design's own logic, the total).
pub struct SumRow {
    pub name: String,
    pub lut: String,
    pub ff: String,
    pub dsp: String,
    pub bram: String,
    pub cycles: String,
}

/// One resource against the part and the budget.
pub struct TotalRow {
    pub name: String,
    pub used: String,
    pub capacity: String,
    pub share: String,
    /// Share of the budget used, as a bar width (capped at 100 %).
    pub budget_width: String,
    pub budget_used: String,
    /// "ok" or "over".
    pub class: &'static str,
    pub status: &'static str,
}

/// A labelled fact with a CSS class ("ok", "over" or "").
pub struct Fact {
    pub key: String,
    pub value: String,
    pub class: &'static str,
}

/// The detailed sections of the selected mode.
pub struct Detail {
    pub mode: String,
    /// Set when the selected mode had no entry and another one is shown.
    pub note: String,
    pub layers: Vec<LayerRow>,
    /// The design's own logic (total − layers), when there is any.
    pub own: Option<SumRow>,
    pub total: SumRow,
    pub totals: Vec<TotalRow>,
    pub facts: Vec<Fact>,
    pub budget: String,
    pub copies_note: String,
}

/// One activation mode in the trade-off table.
pub struct ModeRow {
    pub mode: String,
    /// "selected" for the selected mode, else "".
    pub class: &'static str,
    pub selected: bool,
    pub has_data: bool,
    pub accuracy: String,
    pub agreement: String,
    pub no_data: String,
    pub lut: String,
    pub ff: String,
    pub dsp: String,
    pub cycles: String,
    pub ns: String,
    pub interval: String,
    pub verdict: &'static str,
    /// "pass" or "fail".
    pub verdict_class: &'static str,
    pub reasons: String,
}

/// One row of the float-vs-firmware table.
pub struct CompRow {
    pub name: String,
    pub class: &'static str,
    pub events: String,
    pub agreement: String,
    pub accuracy: String,
    pub delta: String,
    pub auc: String,
    pub max_err: String,
}

/// The float model and each firmware mode against the user's PyTorch outputs.
pub struct PytorchView {
    /// The reference file.
    pub path: String,
    /// "pass" or "fail".
    pub class: &'static str,
    /// "PASS" or "FAIL".
    pub word: &'static str,
    /// One sentence: the float agreement without ties against the threshold.
    pub verdict: String,
    /// Rounding-tie events, and how many of them disagree.
    pub ties: String,
    /// (model, agreement, max |error|): the float model, then each validated mode.
    pub rows: Vec<(String, String, String)>,
}

impl PytorchView {
    fn new(f: &crate::validate::ReferenceReport, modes: &[ModeEntry]) -> PytorchView {
        let mut rows = vec![(
            "float model".to_string(),
            pct2(f.float.argmax_agreement),
            f.float.max_abs_error.map_or("n/a (units)".into(), fmt_err),
        )];
        rows.extend(modes.iter().filter_map(|m| {
            let a = m.validation.as_ref()?.reference?;
            Some((
                m.mode.as_str().to_string(),
                pct2(a.argmax_agreement),
                a.max_abs_error
                    .map_or("n/a (per-event scale)".into(), fmt_err),
            ))
        }));
        PytorchView {
            path: f.path.clone(),
            class: if f.passed { "pass" } else { "fail" },
            word: if f.passed { "PASS" } else { "FAIL" },
            verdict: format!(
                "The float model agrees with PyTorch on {:.3} % of the {} events without \
                 rounding ties (threshold {:.3} %).",
                100.0 * f.agreement_without_ties,
                fmt_int((f.events - f.tie_events) as u64),
                100.0 * f.min_agreement
            ),
            ties: format!(
                "On {} events an activation lies on a .5 rounding tie or the top two outputs are \
                 equal to within float noise (PyTorch settles those by float noise); {} of them \
                 disagree and are not counted as errors.",
                fmt_int(f.tie_events as u64),
                fmt_int(f.tie_disagreements as u64)
            ),
            rows,
        }
    }
}

/// The whole page.
#[derive(Template)]
#[template(path = "report/report.html")]
pub struct ReportView {
    pub title: String,
    pub model: String,
    pub model_path: String,
    pub part: String,
    pub family: String,
    pub capacity: String,
    pub clock: String,
    pub mode: String,
    pub backend: String,
    /// "pass", "fail" or "none".
    pub badge_class: &'static str,
    pub badge: &'static str,
    /// Under a PASS badge: what passed (empty on FAIL).
    pub verdict_line: String,
    /// Under a FAIL badge: why.
    pub reasons: Vec<String>,
    pub detail: Option<Detail>,
    pub modes: Vec<ModeRow>,
    pub quality_axis: String,
    pub scatter: Option<Scatter>,
    pub no_data_note: String,
    pub float_row: Option<CompRow>,
    pub comparison: Vec<CompRow>,
    /// Present when the user gave PyTorch reference outputs.
    pub pytorch: Option<PytorchView>,
    /// Assumptions the front end made about the model (shown as warnings).
    pub assumptions: Vec<String>,
    pub provenance: Vec<String>,
    /// Particle-level models: the estimate against N and R (empty: no section).
    pub scaling: Vec<ScaleRow>,
    /// A regressor's section (None for classifiers).
    pub regression: Option<super::regression::RegressionView>,
    /// Against other designs (`--compare`; None without).
    pub compare: Option<super::compare::CompareView>,
}

/// One row of the particle-axis table.
pub struct ScaleRow {
    pub particles: String,
    pub reuse: String,
    pub copies: String,
    pub lut: String,
    pub ff: String,
    pub dsp: String,
    pub cycles: String,
    pub ns: String,
    pub interval: String,
    /// "pass" when a jet every 25 ns fits (interval ≤ 25 ns), else "fail".
    pub class: &'static str,
}

fn scale_rows(points: &[crate::estimate::scaling::ScalePoint], clock_ns: f64) -> Vec<ScaleRow> {
    points
        .iter()
        .map(|p| {
            let interval = f64::from(p.ii) * clock_ns;
            ScaleRow {
                particles: p.particles.to_string(),
                reuse: p.reuse.to_string(),
                copies: p.phi_copies.to_string(),
                lut: fmt_int(p.lut),
                ff: fmt_int(p.ff),
                dsp: fmt_int(p.dsp),
                cycles: p.latency_cycles.to_string(),
                ns: fmt_num(p.latency_ns),
                interval: format!("{} ns", fmt_num(interval)),
                class: if interval <= 25.0 { "pass" } else { "fail" },
            }
        })
        .collect()
}

fn pct2(f: f64) -> String {
    format!("{:.2} %", 100.0 * f)
}

fn opt<T>(v: Option<T>, g: impl Fn(T) -> String) -> String {
    v.map(g).unwrap_or_else(|| "–".into())
}

fn fmt_err(e: f64) -> String {
    if e == 0.0 {
        "0".into()
    } else if (1e-3..1e4).contains(&e.abs()) {
        format!("{e:.4}")
    } else {
        format!("{e:.3e}")
    }
}

fn clock(ns: f64) -> String {
    format!("{} MHz ({} ns)", fmt_num(1000.0 / ns), fmt_num(ns))
}

fn layer_rows(est: &Estimate) -> Vec<LayerRow> {
    let max = |g: fn(&Resources) -> u64| {
        est.layers
            .iter()
            .map(|l| g(&l.resources))
            .max()
            .unwrap_or(0)
    };
    let (ml, mf, md) = (max(|r| r.lut), max(|r| r.ff), max(|r| r.dsp));
    let mc = est
        .layers
        .iter()
        .map(|l| u64::from(l.latency_cycles))
        .max()
        .unwrap_or(0);
    est.layers
        .iter()
        .map(|l| LayerRow {
            index: l.index.to_string(),
            name: l.name.clone(),
            kind: l.kind.to_string(),
            dims: format!("{}×{}", l.n_in, l.n_out),
            lut: bar(l.resources.lut, ml),
            ff: bar(l.resources.ff, mf),
            dsp: bar(l.resources.dsp, md),
            bram: fmt_int(l.resources.bram),
            cycles: bar(u64::from(l.latency_cycles), mc),
        })
        .collect()
}

fn detail(e: &ModeEntry, note: String) -> Detail {
    let est = &e.estimate;
    let v = &e.verdict;
    let sum = est
        .layers
        .iter()
        .fold(Resources::default(), |a, l| a + l.resources);
    let t = est.total;
    let own = Resources {
        lut: t.lut.saturating_sub(sum.lut),
        ff: t.ff.saturating_sub(sum.ff),
        dsp: t.dsp.saturating_sub(sum.dsp),
        bram: t.bram.saturating_sub(sum.bram),
    };
    let layer_cycles: u32 = est.layers.iter().map(|l| l.latency_cycles).sum();
    let own_cycles = est.latency_cycles.saturating_sub(layer_cycles);
    let own = (own != Resources::default() || own_cycles > 0).then(|| SumRow {
        name: "I/O registers and control".into(),
        lut: fmt_int(own.lut),
        ff: fmt_int(own.ff),
        dsp: fmt_int(own.dsp),
        bram: fmt_int(own.bram),
        cycles: own_cycles.to_string(),
    });
    let total = SumRow {
        name: "total".into(),
        lut: fmt_int(t.lut),
        ff: fmt_int(t.ff),
        dsp: fmt_int(t.dsp),
        bram: fmt_int(t.bram),
        cycles: est.latency_cycles.to_string(),
    };
    let totals = [
        ("LUT", t.lut, v.capacity.lut, v.lut_share),
        ("FF", t.ff, v.capacity.ff, v.ff_share),
        ("DSP", t.dsp, v.capacity.dsp, v.dsp_share),
        ("BRAM (36 Kb)", t.bram, v.capacity.bram, v.bram_share),
    ]
    .into_iter()
    .map(|(name, used, cap, share)| {
        let of_budget = if v.budget_share > 0.0 {
            share / v.budget_share
        } else {
            f64::INFINITY
        };
        let fits = of_budget <= 1.0 + 1e-9;
        TotalRow {
            name: name.into(),
            used: fmt_int(used),
            capacity: fmt_int(cap),
            share: fmt_pct(share),
            budget_width: format!("{:.1}%", 100.0 * of_budget.clamp(0.0, 1.0)),
            budget_used: format!("{} of the budget", fmt_pct(of_budget)),
            class: if fits { "ok" } else { "over" },
            status: if fits { "fits" } else { "over budget" },
        }
    })
    .collect();
    let facts = vec![
        Fact {
            key: "Event interval".into(),
            value: format!(
                "{} ns (II {} × {} ns) {} {} ns allowed (TMUX {} × {} ns)",
                fmt_num(v.event_interval_ns),
                v.ii,
                fmt_num(v.clock_ns),
                if v.accepts_event_rate { "≤" } else { ">" },
                fmt_num(v.allowed_interval_ns),
                v.tmux,
                fmt_num(v.event_period_ns)
            ),
            class: if v.accepts_event_rate { "ok" } else { "over" },
        },
        Fact {
            key: "Latency".into(),
            value: format!("{} cycles = {} ns", v.latency_cycles, fmt_num(v.latency_ns)),
            class: "",
        },
        Fact {
            key: "Strategy".into(),
            value: format!("{}, {} backend", est.strategy, est.backend.as_str()),
            class: "",
        },
    ];
    let copies_note = if v.tmux > 1 {
        format!(
            "Shares are those of one copy. With TMUX {0} the system runs {0} copies, one per part; \
             all {0} on one part would use {1} of it.",
            v.tmux,
            fmt_pct(v.all_copies_max_share)
        )
    } else {
        String::new()
    };
    Detail {
        mode: e.mode.as_str().into(),
        note,
        layers: layer_rows(est),
        own,
        total,
        totals,
        facts,
        budget: fmt_pct(v.budget_share),
        copies_note,
    }
}

fn mode_row(e: &ModeEntry, selected: bool, regressor: bool) -> ModeRow {
    let est = &e.estimate;
    let v: &Verdict = &e.verdict;
    let val = e.validation.as_ref();
    ModeRow {
        mode: e.mode.as_str().into(),
        class: if selected { "selected" } else { "" },
        selected,
        has_data: val.is_some(),
        accuracy: opt(val.and_then(|s| s.accuracy), pct2),
        agreement: opt(val.map(|s| s.argmax_agreement), pct2),
        no_data: if regressor { REGRESSOR } else { NO_DATA }.into(),
        lut: fmt_int(est.total.lut),
        ff: fmt_int(est.total.ff),
        dsp: fmt_int(est.total.dsp),
        cycles: est.latency_cycles.to_string(),
        ns: fmt_num(est.latency_ns),
        interval: format!("{} ns", fmt_num(v.event_interval_ns)),
        verdict: v.label(),
        verdict_class: if v.ok { "pass" } else { "fail" },
        reasons: v.reasons.join("; "),
    }
}

fn comp_row(name: &str, class: &'static str, s: &ValidationSummary) -> CompRow {
    CompRow {
        name: name.into(),
        class,
        events: fmt_int(s.events as u64),
        agreement: pct2(s.argmax_agreement),
        accuracy: opt(s.accuracy, pct2),
        delta: opt(s.accuracy_delta, |d| {
            let pp = 100.0 * d;
            // No "-0.00": a delta that rounds to zero prints as ±0.00.
            if (pp * 100.0).round() == 0.0 {
                "±0.00 pp".into()
            } else {
                format!("{pp:+.2} pp")
            }
        }),
        auc: opt(s.auc, |a| format!("{a:.4}")),
        max_err: fmt_err(s.max_abs_error),
    }
}

/// Quality plotted against LUT: accuracy when every validated mode has it, else agreement.
/// Returns the axis title and one value (in %) per entry.
/// A regressor's quality per mode (lower is better): ⟨sin²⟩ of output 0 for a periodic target,
/// else its residual standard deviation; None without a target.
fn regression_quality(
    g: &crate::validate::regression::RegressionReport,
    modes: &[ModeEntry],
) -> Option<(String, Vec<Option<f64>>)> {
    let o = g.outputs.first().filter(|_| g.has_target)?;
    let periodic = g.task.period().is_some();
    let ys = modes
        .iter()
        .map(|m| {
            let f = o.modes.iter().find(|f| f.mode == m.mode)?;
            let r = f.residuals.as_ref()?;
            if periodic {
                r.mean_sin2
            } else {
                Some(r.std)
            }
        })
        .collect();
    let title = if periodic {
        "⟨sin²⟩ of output 0 (lower is better)"
    } else {
        "residual std of output 0 (lower is better)"
    };
    Some((title.into(), ys))
}

fn quality(modes: &[ModeEntry]) -> (String, Vec<Option<f64>>) {
    let vals: Vec<&ValidationSummary> =
        modes.iter().filter_map(|m| m.validation.as_ref()).collect();
    let use_acc = !vals.is_empty() && vals.iter().all(|s| s.accuracy.is_some());
    let title = if use_acc {
        "firmware accuracy (%)"
    } else {
        "argmax agreement with float (%)"
    };
    let ys = modes
        .iter()
        .map(|m| {
            m.validation
                .as_ref()
                .and_then(|s| {
                    if use_acc {
                        s.accuracy
                    } else {
                        Some(s.argmax_agreement)
                    }
                })
                .map(|f| 100.0 * f)
        })
        .collect();
    (title.into(), ys)
}

impl ReportView {
    /// Computes every string of the page from `r`.
    pub fn new(r: &ReportInput) -> ReportView {
        let sel_idx = r.modes.iter().position(|m| m.mode == r.selected);
        let shown = sel_idx.or(if r.modes.is_empty() { None } else { Some(0) });
        let shown_entry = shown.map(|i| &r.modes[i]);
        let note = match (sel_idx, shown_entry) {
            (None, Some(e)) => format!(
                "No estimate for the selected mode {}; showing {}.",
                r.selected, e.mode
            ),
            _ => String::new(),
        };
        let (badge_class, badge, verdict_line, reasons) = match shown_entry {
            // PASS: the summary without its "PASS: " prefix; FAIL: the list of reasons.
            Some(e) if e.verdict.ok => {
                let s = e.verdict.summary();
                (
                    "pass",
                    "PASS",
                    s.strip_prefix("PASS: ").unwrap_or(&s).to_string(),
                    Vec::new(),
                )
            }
            Some(e) => ("fail", "FAIL", String::new(), e.verdict.reasons.clone()),
            None => (
                "none",
                "NO ESTIMATE",
                "no estimate was given".to_string(),
                Vec::new(),
            ),
        };
        let (quality_axis, ys) = r
            .regression
            .as_ref()
            .and_then(|g| regression_quality(g, &r.modes))
            .unwrap_or_else(|| quality(&r.modes));
        let data: Vec<Datum> = r
            .modes
            .iter()
            .zip(&ys)
            .filter_map(|(m, y)| {
                y.map(|y| Datum {
                    x: m.estimate.total.lut as f64,
                    y,
                    label: m.mode.as_str().into(),
                    class: format!(
                        "pt m-{}{}",
                        m.mode.as_str(),
                        if Some(m.mode) == shown_entry.map(|e| e.mode) {
                            " sel"
                        } else {
                            ""
                        }
                    ),
                })
            })
            .collect();
        let any_data = !data.is_empty();
        let comparison: Vec<CompRow> = r
            .modes
            .iter()
            .filter_map(|m| {
                m.validation
                    .as_ref()
                    .map(|s| comp_row(m.mode.as_str(), "", s))
            })
            .collect();
        let float_row = (r.float_accuracy.is_some() || r.float_auc.is_some()).then(|| CompRow {
            name: "float model".into(),
            class: "float",
            events: comparison
                .first()
                .map(|c| c.events.clone())
                .unwrap_or_else(|| "–".into()),
            agreement: "100.00 %".into(),
            accuracy: opt(r.float_accuracy, pct2),
            delta: "–".into(),
            auc: opt(r.float_auc, |a| format!("{a:.4}")),
            max_err: "0".into(),
        });
        let p = r.part;
        ReportView {
            title: format!("bit2hls report: {}", r.model),
            model: r.model.clone(),
            model_path: r.model_path.clone(),
            part: p.name.into(),
            family: p.family.into(),
            capacity: format!(
                "{} LUT · {} FF · {} DSP · {} BRAM36",
                fmt_int(p.lut),
                fmt_int(p.ff),
                fmt_int(p.dsp),
                fmt_int(p.bram36)
            ),
            clock: clock(r.clock_ns),
            mode: r.selected.as_str().into(),
            backend: shown_entry
                .map(|e| {
                    format!(
                        "{} estimate, {} strategy",
                        e.estimate.backend.as_str(),
                        e.estimate.strategy
                    )
                })
                .unwrap_or_default(),
            badge_class,
            badge,
            verdict_line,
            reasons,
            detail: shown_entry.map(|e| detail(e, note)),
            modes: r
                .modes
                .iter()
                .enumerate()
                .map(|(i, m)| mode_row(m, Some(i) == shown, r.regression.is_some()))
                .collect(),
            quality_axis: quality_axis.clone(),
            scatter: if any_data {
                scatter(&data, "LUT (whole design)", &quality_axis)
            } else {
                None
            },
            no_data_note: match (any_data, &r.regression) {
                (_, Some(_)) => REGRESSOR.into(),
                (true, None) => String::new(),
                (false, None) => NO_DATA.into(),
            },
            float_row,
            comparison,
            pytorch: r.reference.as_ref().map(|f| PytorchView::new(f, &r.modes)),
            assumptions: r.assumptions.clone(),
            provenance: r.provenance.clone(),
            scaling: scale_rows(&r.scaling, r.clock_ns),
            regression: r
                .regression
                .as_ref()
                .map(|g| super::regression::RegressionView::new(g, r.selected)),
            compare: super::compare::CompareView::new(&r.compare, &r.modes, r.clock_ns),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bar_widths() {
        assert_eq!(bar_width(10, 10), "100.0%");
        assert_eq!(bar_width(5, 10), "50.0%");
        assert_eq!(bar_width(1, 3), "33.3%");
        assert_eq!(bar_width(0, 0), "0.0%");
        assert_eq!(bar_width(20, 10), "100.0%");
    }

    #[test]
    fn small_formatters() {
        assert_eq!(pct2(0.99951), "99.95 %");
        assert_eq!(clock(5.0), "200 MHz (5 ns)");
        assert_eq!(clock(3.0), "333.333 MHz (3 ns)");
        assert_eq!(fmt_err(0.0), "0");
        assert_eq!(fmt_err(0.01234), "0.0123");
        assert_eq!(fmt_err(1.5e-6), "1.500e-6");
    }
}
