//! Statistics of one set of outputs against another: argmax agreement, ROC AUC, output error.

use super::{Agreement, ReferenceOutputs, ReferenceReport};

/// Area under the ROC curve of `score` for binary labels (ties get half credit).
pub fn auc(score: &[f64], label: &[i64]) -> Option<f64> {
    let mut idx: Vec<usize> = (0..score.len()).collect();
    idx.sort_by(|&a, &b| score[a].total_cmp(&score[b]));
    let (mut rank_sum, mut npos) = (0f64, 0usize);
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && score[idx[j + 1]] == score[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            if label[k] == 1 {
                rank_sum += avg;
                npos += 1;
            }
        }
        i = j + 1;
    }
    let nneg = score.len() - npos;
    if npos == 0 || nneg == 0 {
        return None;
    }
    Some((rank_sum - (npos * (npos + 1)) as f64 / 2.0) / (npos as f64 * nneg as f64))
}

/// Index of the largest value (the first one on equality).
pub fn argmax<T: Copy + Into<f64>>(v: &[T]) -> usize {
    v.iter()
        .enumerate()
        .fold((0, f64::NEG_INFINITY), |b, (i, &x)| {
            let x: f64 = x.into();
            if x > b.1 {
                (i, x)
            } else {
                b
            }
        })
        .0
}

/// Binary-classification score: `y1 - y0` for two outputs, `y0` for one.
pub fn score(v: &[f64]) -> f64 {
    if v.len() >= 2 {
        v[1] - v[0]
    } else {
        v[0]
    }
}

/// Running comparison of outputs with the PyTorch reference, split by whether the float
/// model hit an exact rounding tie on the event.
#[derive(Clone, Debug, Default)]
pub struct RefAcc {
    events: usize,
    agree: usize,
    max_abs_error: f64,
    /// False once an event was added with [`RefAcc::add_argmax_only`].
    values_incomparable: bool,
    tie_events: usize,
    tie_disagreements: usize,
}

impl RefAcc {
    /// Adds one event: outputs `y`, reference outputs `r`, `tie` if the float model hit a tie.
    pub fn add(&mut self, y: &[f64], r: &[f32], tie: bool) {
        let same = argmax(y) == argmax(r);
        self.events += 1;
        self.agree += usize::from(same);
        self.tie_events += usize::from(tie);
        self.tie_disagreements += usize::from(tie && !same);
        for (p, q) in y.iter().zip(r) {
            self.max_abs_error = self.max_abs_error.max((p - *q as f64).abs());
        }
    }

    /// Adds one event whose outputs are not in the reference's units (a per-event positive
    /// factor apart, docs/semantics.md "Output units"): only the argmax is compared.
    pub fn add_argmax_only(&mut self, y: &[f64], r: &[f32], tie: bool) {
        let same = argmax(y) == argmax(r);
        self.events += 1;
        self.agree += usize::from(same);
        self.tie_events += usize::from(tie);
        self.tie_disagreements += usize::from(tie && !same);
        self.values_incomparable = true;
    }

    /// Argmax agreement over every event, and the largest output difference (`None` when the
    /// outputs were not in comparable units).
    pub fn agreement(&self) -> Agreement {
        Agreement {
            argmax_agreement: self.agree as f64 / self.events.max(1) as f64,
            max_abs_error: (!self.values_incomparable).then_some(self.max_abs_error),
        }
    }

    /// Agreement on the events without ties (every event if all have ties).
    pub fn agreement_without_ties(&self) -> f64 {
        let n = self.events - self.tie_events;
        let agree_no_tie = self.agree - (self.tie_events - self.tie_disagreements);
        if n == 0 {
            self.agree as f64 / self.events.max(1) as f64
        } else {
            agree_no_tie as f64 / n as f64
        }
    }

    /// The float model's report against `r`.
    pub fn report(&self, r: &ReferenceOutputs) -> ReferenceReport {
        let without = self.agreement_without_ties();
        ReferenceReport {
            path: r.path.display().to_string(),
            events: self.events,
            float: self.agreement(),
            tie_events: self.tie_events,
            tie_disagreements: self.tie_disagreements,
            agreement_without_ties: without,
            min_agreement: r.min_agreement,
            passed: without >= r.min_agreement,
        }
    }
}
