//! Passes over the float model, in the order the pipeline runs them (the order is this code,
//! [`crate::pipeline`], not a registry). Ternarization of float master weights happens in the
//! front end ([`crate::front::ternarize`]): the model IR already holds ternary codes and β.
//!
//! 1. [`calibrate`] — (static mode, or an input type chosen from data) per-layer activation
//!    statistics from the float reference.
//! 2. [`fold`] — groups the float layers into firmware stages: a linear layer, the affine /
//!    batch-norm layers right after it (folded into its per-output constants) and its ReLU.
//! 3. [`lower`] — range analysis and constant quantization: every value gets an exact type.

pub mod calibrate;
pub mod fold;
pub mod lower;
pub mod set;
