//! What a network's outputs mean: class scores or values (the architecture document's `task`,
//! docs/schema.md). Only validation and the report depend on it: compilation, the emulator and
//! the trigger verdict are the same for both.

use serde::Serialize;

/// The task a model was trained for.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Task {
    /// Class scores: validation compares the argmax, accuracy and AUC (the default when the
    /// architecture document says nothing).
    #[default]
    Classification,
    /// Values: validation compares the values themselves and, with a target in the data, the
    /// residuals `prediction − target`.
    Regression {
        /// The target is defined modulo `period` (an angle modulo π, say): residuals are wrapped
        /// into `[−period/2, period/2)` and the loss `⟨sin²(π·r/period)⟩` is reported (the
        /// seed's loss `sin²(f − φ)` for `period = π`).
        period: Option<f64>,
        /// What the outputs estimate (e.g. `phi_decay`), for labels.
        target: Option<String>,
    },
}

impl Task {
    pub fn is_regression(&self) -> bool {
        matches!(self, Task::Regression { .. })
    }

    /// The period of a periodic regression target.
    pub fn period(&self) -> Option<f64> {
        match self {
            Task::Regression { period, .. } => *period,
            Task::Classification => None,
        }
    }
}

impl std::fmt::Display for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Task::Classification => f.write_str("classification"),
            Task::Regression { period, target } => {
                f.write_str("regression")?;
                if let Some(t) = target {
                    write!(f, " of {t}")?;
                }
                if let Some(p) = period {
                    write!(f, " (modulo {p})")?;
                }
                Ok(())
            }
        }
    }
}

/// Wraps `r` into `[−period/2, period/2)`.
pub fn wrap(r: f64, period: f64) -> f64 {
    r - period * (r / period + 0.5).floor()
}

#[cfg(test)]
mod tests {
    use super::wrap;
    use std::f64::consts::PI;

    #[test]
    fn wrap_lands_in_the_half_open_interval() {
        for (r, want) in [
            (0.0, 0.0),
            (PI / 2.0, -PI / 2.0),
            (-PI / 2.0, -PI / 2.0),
            (0.75 * PI, -0.25 * PI),
            (-0.75 * PI, 0.25 * PI),
            (3.0 * PI + 0.1, 0.1),
        ] {
            let w = wrap(r, PI);
            assert!((w - want).abs() < 1e-12, "wrap({r}) = {w}, want {want}");
            assert!((-PI / 2.0..PI / 2.0).contains(&w));
        }
    }
}
