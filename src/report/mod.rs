//! Self-contained `report.html`: estimates, trigger verdict and firmware-vs-float validation of
//! one model, for every activation mode.
//!
//! [`render_html`] turns a [`ReportInput`] into one HTML file with inline CSS and inline SVG: no
//! scripts, fonts, images or other external references, and no timestamps (the same input gives
//! the same bytes). Every number, label and bar width is computed in Rust ([`view`]); the askama
//! template `templates/report/report.html` only lays them out, with HTML escaping.

pub mod compare;
pub mod regression;
mod scatter;
pub mod view;

use crate::estimate::verdict::Verdict;
use crate::estimate::Estimate;
use crate::ir::firmware::Mode;
use crate::target::parts::Part;
use crate::validate::{Agreement, ModeReport, ReferenceReport, Report};
use askama::Template;
use serde::Serialize;

/// Agreement of one firmware mode with the float model on a data set. Fractions (0.9995 =
/// 99.95 %), not percentages.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ValidationSummary {
    /// Number of events compared.
    pub events: usize,
    /// Fraction of events where firmware and float model pick the same output (argmax).
    pub argmax_agreement: f64,
    /// Firmware accuracy on the labels (None without labels).
    pub accuracy: Option<f64>,
    /// Firmware ROC AUC (binary labels only).
    pub auc: Option<f64>,
    /// Firmware accuracy − float accuracy (None unless both are known).
    pub accuracy_delta: Option<f64>,
    /// Largest |firmware output − float output|.
    pub max_abs_error: f64,
    /// Firmware against the user's PyTorch outputs (None without a reference).
    pub reference: Option<Agreement>,
}

impl From<&ModeReport> for ValidationSummary {
    /// Without the float accuracy: `accuracy_delta` is None (see [`ValidationSummary::with_float`]).
    fn from(m: &ModeReport) -> Self {
        ValidationSummary {
            events: m.events,
            argmax_agreement: m.argmax_agreement,
            accuracy: m.accuracy,
            auc: m.auc,
            accuracy_delta: None,
            max_abs_error: m.max_abs_error,
            reference: m.reference,
        }
    }
}

impl ValidationSummary {
    /// Sets `accuracy_delta` from the float model's accuracy (None when either is unknown).
    pub fn with_float(mut self, float_accuracy: Option<f64>) -> Self {
        self.accuracy_delta = self.accuracy.zip(float_accuracy).map(|(a, f)| a - f);
        self
    }

    /// One summary per mode of a `validate` report, with `accuracy_delta` filled in; none for
    /// a regressor (argmax and accuracy mean nothing there: [`ReportInput::regression`]).
    pub fn from_report(r: &Report) -> Vec<(Mode, ValidationSummary)> {
        if r.regression.is_some() {
            return Vec::new();
        }
        r.modes
            .iter()
            .map(|m| {
                (
                    m.mode,
                    ValidationSummary::from(m).with_float(r.float_accuracy),
                )
            })
            .collect()
    }
}

/// Everything about one activation mode.
#[derive(Clone, Debug)]
pub struct ModeEntry {
    pub mode: Mode,
    pub estimate: Estimate,
    pub verdict: Verdict,
    /// None when no data set was given.
    pub validation: Option<ValidationSummary>,
}

/// What a report shows.
#[derive(Clone, Debug)]
pub struct ReportInput {
    /// Model name (e.g. the firmware name).
    pub model: String,
    /// The model file as the user named it.
    pub model_path: String,
    pub part: &'static Part,
    /// Clock period in ns.
    pub clock_ns: f64,
    /// The mode the project was compiled for: its layers and verdict are detailed.
    pub selected: Mode,
    /// One entry per activation mode, in display order (usually [`Mode::ALL`]). If `selected`
    /// has no entry, the first entry is detailed; with no entries the report says so.
    pub modes: Vec<ModeEntry>,
    /// Accuracy of the float model on the validation data (fraction).
    pub float_accuracy: Option<f64>,
    /// ROC AUC of the float model on the validation data.
    pub float_auc: Option<f64>,
    /// The float model against the user's PyTorch outputs (None without a reference).
    pub reference: Option<ReferenceReport>,
    /// What the front end assumed about the model (activations between inferred layers).
    pub assumptions: Vec<String>,
    /// Free-form lines on where the numbers come from (tool version, options, data files).
    pub provenance: Vec<String>,
    /// Particle-level models: estimates against the number of particles and the particle
    /// reuse factor (empty for chains: no section).
    pub scaling: Vec<crate::estimate::scaling::ScalePoint>,
    /// A regressor's validation figures (None for classifiers and without data).
    pub regression: Option<crate::validate::regression::RegressionReport>,
    /// Designs of other flows to compare with (`--compare FILE`; empty: no section).
    pub compare: Vec<compare::Reference>,
}

/// Renders the report. Never fails: if the template cannot be written (it only formats
/// strings, so this does not happen in practice) the page carries the error message instead.
pub fn render_html(r: &ReportInput) -> String {
    let v = view::ReportView::new(r);
    v.render().unwrap_or_else(|e| {
        let msg = e.to_string().replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
        format!("<!DOCTYPE html>\n<html><body><p>bit2hls: rendering report.html failed: {msg}</p></body></html>\n")
    })
}
