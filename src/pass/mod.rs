//! Passes, in the order the pipeline runs them (the order is this code, not a registry):
//!
//! 1. [`ternarize`] — float master weights → ternary codes + β (run by the front end per layer,
//!    because the profile decides how).
//! 2. [`fold`] — groups the float layers into firmware stages: a linear layer, the affine /
//!    batch-norm layers right after it (folded into its per-output constants) and its ReLU.
//! 3. [`lower`] — range analysis and constant quantization: every value gets an exact type.

pub mod calibrate;
pub mod fold;
pub mod lower;
pub mod ternarize;
