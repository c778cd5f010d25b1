//! What the backends' project directories share: their error type and identifier rules.
//! The HLS and Verilog backends are siblings; both depend on this module, never on each other.

pub mod error;
pub mod names;

pub use error::{ProjectError, Result};
