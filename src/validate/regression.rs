//! Validation of regressors (architecture document `task: regression`): the outputs are values,
//! so the firmware is compared with the float model and with PyTorch value by value, and every
//! model with the regression target, when the data has one (`target`), through its residuals
//! `prediction − target` (wrapped into `[−P/2, P/2)` for a target defined modulo `P`).

use super::{Agreement, ReferenceOutputs, ReferenceReport};
use crate::io::npz::Targets;
use crate::ir::firmware::Mode;
use crate::ir::task::{wrap, Task};
use serde::Serialize;

/// Largest |float − PyTorch| of an output, relative to the largest |PyTorch output| over the
/// data, for the two to count as the same value (float32 summation noise is ~1e-6).
pub const VALUE_TOL_REL: f64 = 1e-4;
/// Bins of the residual histograms.
pub const RESIDUAL_BINS: usize = 40;
/// Bins per axis of the target-vs-prediction histograms.
pub const TRUTH_BINS: usize = 24;

/// Every event's outputs, kept for the regression figures (row-major `[events, outputs]`).
#[derive(Debug, Default)]
pub(super) struct Values {
    pub float: Vec<f64>,
    pub modes: Vec<Vec<f64>>,
    /// Events on which the float model hit a rounding tie ([`super::FloatEvent::tie`]).
    pub ties: Vec<bool>,
}

/// |a − b| over every event of one output.
#[derive(Serialize, Debug, Clone, Copy, PartialEq)]
pub struct Diff {
    pub max_abs: f64,
    pub mean_abs: f64,
}

/// Counts of values in equal bins of `[lo, hi)` (values outside are counted in `under`/`over`).
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct Histogram {
    pub lo: f64,
    pub hi: f64,
    pub counts: Vec<u64>,
    pub under: u64,
    pub over: u64,
}

impl Histogram {
    fn new(lo: f64, hi: f64, bins: usize) -> Histogram {
        Histogram {
            lo,
            hi,
            counts: vec![0; bins],
            under: 0,
            over: 0,
        }
    }

    fn bin(&self, v: f64) -> Option<usize> {
        let b = ((v - self.lo) / (self.hi - self.lo) * self.counts.len() as f64).floor();
        (b >= 0.0 && b < self.counts.len() as f64).then_some(b as usize)
    }

    fn add(&mut self, v: f64) {
        match self.bin(v) {
            Some(b) => self.counts[b] += 1,
            None if v < self.lo => self.under += 1,
            None => self.over += 1,
        }
    }
}

/// Target (x) against prediction (y) in `bins × bins` cells of `[lo, hi)²`, row-major by
/// prediction bin; events outside either range are not counted.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct Hist2d {
    pub lo: f64,
    pub hi: f64,
    pub bins: usize,
    pub counts: Vec<u64>,
}

/// Residuals `prediction − target` of one model on one output.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct Residuals {
    pub mean: f64,
    /// Standard deviation.
    pub std: f64,
    /// Half the distance between the 15.87 % and 84.13 % quantiles (= σ for a Gaussian; robust
    /// against tails and, for a periodic target, against the flat part of the distribution).
    pub width68: f64,
    /// ⟨sin²(π·r/P)⟩ for a target defined modulo `P` (the seed's loss for `P = π`): 0.5 means no
    /// information, 0 a perfect prediction.
    pub mean_sin2: Option<f64>,
    pub hist: Histogram,
    pub truth_vs_pred: Hist2d,
}

/// One firmware mode on one output.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct ModeFigures {
    pub mode: Mode,
    /// Firmware − float model.
    pub vs_float: Diff,
    /// Firmware − PyTorch (with `--reference`).
    pub vs_reference: Option<Diff>,
    /// Firmware − target (when the data has `target`).
    pub residuals: Option<Residuals>,
}

/// Figures of one output.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct OutputFigures {
    pub output: usize,
    /// Float model − target.
    pub float: Option<Residuals>,
    /// PyTorch − target.
    pub reference: Option<Residuals>,
    pub modes: Vec<ModeFigures>,
}

/// Everything `validate` measured on a regressor.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct RegressionReport {
    pub task: Task,
    /// The data file's `target` member was used (else only differences between models).
    pub has_target: bool,
    pub outputs: Vec<OutputFigures>,
}

fn column(v: &[f64], cols: usize, o: usize) -> impl Iterator<Item = f64> + '_ {
    v.iter().skip(o).step_by(cols).copied()
}

fn diff(a: impl Iterator<Item = f64>, b: impl Iterator<Item = f64>) -> Diff {
    let (mut max_abs, mut sum, mut n) = (0f64, 0f64, 0usize);
    for (p, q) in a.zip(b) {
        let d = (p - q).abs();
        max_abs = max_abs.max(d);
        sum += d;
        n += 1;
    }
    Diff {
        max_abs,
        mean_abs: sum / n.max(1) as f64,
    }
}

/// The value at fraction `q` of sorted `v` (linear interpolation).
fn quantile(v: &[f64], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let p = q * (v.len() - 1) as f64;
    let (i, f) = (p.floor() as usize, p.fract());
    v[i] + f * (v[(i + 1).min(v.len() - 1)] - v[i])
}

/// `pred − target`, wrapped into `[−P/2, P/2)` for a period `P`.
fn residual(period: Option<f64>, pred: f64, target: f64) -> f64 {
    match period {
        Some(p) => wrap(pred - target, p),
        None => pred - target,
    }
}

/// Axes shared by every model's histograms of one output, so that they can be overlaid.
#[derive(Clone, Copy, Debug)]
struct Axes {
    period: Option<f64>,
    /// Residual histogram range.
    res: (f64, f64),
    /// Target / prediction range of the 2-D histogram (for a periodic target: one period
    /// starting at the smallest target, predictions wrapped into it).
    truth: (f64, f64),
}

impl Axes {
    fn new(period: Option<f64>, reference_res: &[f64], target: &[f64]) -> Axes {
        let lo_t = target.iter().copied().fold(f64::INFINITY, f64::min);
        let hi_t = target.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        match period {
            Some(p) => Axes {
                period,
                res: (-p / 2.0, p / 2.0),
                truth: (lo_t, lo_t + p),
            },
            None => {
                let mut s = reference_res.to_vec();
                s.sort_by(f64::total_cmp);
                let w = (quantile(&s, 0.99) - quantile(&s, 0.01)).max(1e-12);
                let m = quantile(&s, 0.5);
                let pad = 0.02 * (hi_t - lo_t).max(1e-12);
                Axes {
                    period,
                    res: (m - w, m + w),
                    truth: (lo_t - pad, hi_t + pad),
                }
            }
        }
    }

    fn residual(&self, pred: f64, target: f64) -> f64 {
        residual(self.period, pred, target)
    }

    /// The prediction on the 2-D histogram's axis.
    fn shown(&self, pred: f64) -> f64 {
        match self.period {
            Some(p) => self.truth.0 + (pred - self.truth.0).rem_euclid(p),
            None => pred,
        }
    }
}

fn residuals(pred: &[f64], target: &[f64], ax: &Axes) -> Residuals {
    let r: Vec<f64> = pred
        .iter()
        .zip(target)
        .map(|(&p, &t)| ax.residual(p, t))
        .collect();
    let n = r.len().max(1) as f64;
    let mean = r.iter().sum::<f64>() / n;
    let std = (r.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
    let mut sorted = r.clone();
    sorted.sort_by(f64::total_cmp);
    let width68 = (quantile(&sorted, 0.8413) - quantile(&sorted, 0.1587)) / 2.0;
    let mean_sin2 = ax.period.map(|p| {
        r.iter()
            .map(|v| (std::f64::consts::PI * v / p).sin().powi(2))
            .sum::<f64>()
            / n
    });
    let mut hist = Histogram::new(ax.res.0, ax.res.1, RESIDUAL_BINS);
    r.iter().for_each(|&v| hist.add(v));
    let grid = Histogram::new(ax.truth.0, ax.truth.1, TRUTH_BINS);
    let mut counts = vec![0u64; TRUTH_BINS * TRUTH_BINS];
    for (&p, &t) in pred.iter().zip(target) {
        if let (Some(bt), Some(bp)) = (grid.bin(t), grid.bin(ax.shown(p))) {
            counts[bp * TRUTH_BINS + bt] += 1;
        }
    }
    Residuals {
        mean,
        std,
        width68,
        mean_sin2,
        hist,
        truth_vs_pred: Hist2d {
            lo: ax.truth.0,
            hi: ax.truth.1,
            bins: TRUTH_BINS,
            counts,
        },
    }
}

/// The regression figures of every output. `outputs` values per event; `targets` and
/// `reference`, when given, have as many rows as there are events (checked by the caller).
pub(super) fn figures(
    task: &Task,
    modes: &[Mode],
    v: &Values,
    outputs: usize,
    targets: Option<&Targets>,
    reference: Option<&ReferenceOutputs>,
) -> RegressionReport {
    let period = task.period();
    let refv: Option<Vec<f64>> = reference.map(|r| r.values.iter().map(|&x| x as f64).collect());
    let outputs = (0..outputs)
        .map(|o| {
            let float: Vec<f64> = column(&v.float, outputs, o).collect();
            let target: Option<Vec<f64>> = targets.map(|t| column(&t.values, t.cols, o).collect());
            let torch: Option<Vec<f64>> = refv.as_ref().map(|r| column(r, outputs, o).collect());
            let ax = target.as_ref().map(|t| {
                let res: Vec<f64> = float
                    .iter()
                    .zip(t)
                    .map(|(&p, &q)| residual(period, p, q))
                    .collect();
                (Axes::new(period, &res, t), t)
            });
            OutputFigures {
                output: o,
                float: ax.as_ref().map(|(ax, t)| residuals(&float, t, ax)),
                reference: ax
                    .as_ref()
                    .zip(torch.as_ref())
                    .map(|((ax, t), r)| residuals(r, t, ax)),
                modes: modes
                    .iter()
                    .zip(&v.modes)
                    .map(|(&mode, fw)| {
                        let fw: Vec<f64> = column(fw, outputs, o).collect();
                        ModeFigures {
                            mode,
                            vs_float: diff(fw.iter().copied(), float.iter().copied()),
                            vs_reference: torch
                                .as_ref()
                                .map(|r| diff(fw.iter().copied(), r.iter().copied())),
                            residuals: ax.as_ref().map(|(ax, t)| residuals(&fw, t, ax)),
                        }
                    })
                    .collect(),
            }
        })
        .collect();
    RegressionReport {
        task: task.clone(),
        has_target: targets.is_some(),
        outputs,
    }
}

/// The float model against PyTorch for a regressor: an event agrees when every output is within
/// [`VALUE_TOL_REL`] of that output's largest |PyTorch value|; events on a rounding tie of the
/// float model are set aside as for classifiers (PyTorch settles them by float noise).
pub(super) fn reference_report(
    v: &Values,
    outputs: usize,
    r: &ReferenceOutputs,
) -> ReferenceReport {
    let scale: Vec<f64> = (0..outputs)
        .map(|o| {
            r.values
                .iter()
                .skip(o)
                .step_by(outputs)
                .fold(0f64, |m, &x| m.max((x as f64).abs()))
                .max(f64::MIN_POSITIVE)
        })
        .collect();
    let (mut agree, mut ties, mut tie_dis, mut max_abs) = (0usize, 0usize, 0usize, 0f64);
    let events = v.ties.len();
    for (e, &tie) in v.ties.iter().enumerate() {
        let mut same = true;
        for (o, s) in scale.iter().enumerate() {
            let d = (v.float[e * outputs + o] - r.values[e * outputs + o] as f64).abs();
            max_abs = max_abs.max(d);
            same &= d <= VALUE_TOL_REL * s;
        }
        agree += usize::from(same);
        ties += usize::from(tie);
        tie_dis += usize::from(tie && !same);
    }
    let clean = events - ties;
    let without = if clean == 0 {
        agree as f64 / events.max(1) as f64
    } else {
        (agree - (ties - tie_dis)) as f64 / clean as f64
    };
    ReferenceReport {
        path: r.path.display().to_string(),
        events,
        float: Agreement {
            argmax_agreement: agree as f64 / events.max(1) as f64,
            max_abs_error: Some(max_abs),
        },
        tie_events: ties,
        tie_disagreements: tie_dis,
        agreement_without_ties: without,
        min_agreement: r.min_agreement,
        passed: without >= r.min_agreement,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    fn ax(period: Option<f64>, target: &[f64]) -> Axes {
        Axes::new(period, &[-1.0, 1.0], target)
    }

    #[test]
    fn periodic_residuals_wrap_and_sin2_is_the_seeds_loss() {
        let t = [0.1, 3.0, 1.5, 0.0];
        // predictions off by +0.2, −0.3 (through the period boundary), +π (= 0), −0.1
        let p = [0.3, 3.0 - 0.3 + PI, 1.5 + PI, -0.1 + 2.0 * PI];
        let r = residuals(&p, &t, &ax(Some(PI), &t));
        let want = [0.2f64, -0.3, 0.0, -0.1];
        let mean = want.iter().sum::<f64>() / 4.0;
        assert!((r.mean - mean).abs() < 1e-12, "{}", r.mean);
        let sin2 = want.iter().map(|v| v.sin().powi(2)).sum::<f64>() / 4.0;
        assert!((r.mean_sin2.unwrap() - sin2).abs() < 1e-12);
        assert_eq!(r.hist.counts.iter().sum::<u64>(), 4);
        // every prediction lands in the 2-D histogram (wrapped into [0, π))
        assert_eq!(r.truth_vs_pred.counts.iter().sum::<u64>(), 4);
        // a perfect prediction has sin² = 0, a uniform one ≈ 0.5
        let u: Vec<f64> = (0..1000).map(|i| i as f64 * PI / 1000.0).collect();
        let z = vec![0.0; 1000];
        let r = residuals(&u, &z, &ax(Some(PI), &z));
        assert!((r.mean_sin2.unwrap() - 0.5).abs() < 1e-3);
    }

    #[test]
    fn plain_residuals_and_widths() {
        let t: Vec<f64> = (0..10001).map(|i| i as f64 / 10000.0).collect();
        let p: Vec<f64> = t.iter().map(|v| v + 0.25).collect();
        let r = residuals(&p, &t, &ax(None, &t));
        assert!((r.mean - 0.25).abs() < 1e-9 && r.std < 1e-9 && r.width68 < 1e-9);
        assert_eq!(r.mean_sin2, None);
        // uniform residuals on [−1, 1): std 1/√3, width68 0.6826
        let e: Vec<f64> = (0..20000).map(|i| -1.0 + i as f64 / 10000.0).collect();
        let z = vec![0.0; e.len()];
        let r = residuals(&e, &z, &ax(None, &z));
        assert!((r.std - 1.0 / 3f64.sqrt()).abs() < 1e-3, "{}", r.std);
        assert!((r.width68 - 0.6826).abs() < 1e-3, "{}", r.width68);
    }

    #[test]
    fn reference_agreement_is_by_value_and_sets_ties_aside() {
        let v = Values {
            float: vec![1.0, 2.0, 3.0, 4.0],
            modes: vec![],
            ties: vec![false, false, true, false],
        };
        let r = ReferenceOutputs {
            path: "ref.npy".into(),
            rows: 4,
            cols: 1,
            // event 1 differs by 1e-5 of the scale (agrees), event 2 is a tie that differs,
            // event 3 differs by 1e-3 of the scale (disagrees)
            values: vec![1.0, 2.00004, 3.5, 4.004],
            min_agreement: 0.5,
        };
        let rep = reference_report(&v, 1, &r);
        assert_eq!((rep.tie_events, rep.tie_disagreements), (1, 1));
        assert!((rep.agreement_without_ties - 2.0 / 3.0).abs() < 1e-12);
        assert!((rep.float.max_abs_error.unwrap() - 0.5).abs() < 1e-6);
        assert!(rep.passed);
    }
}
