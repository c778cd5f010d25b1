//! bit2hls: ternary BitNet networks → FPGA firmware.
//!
//! Pipeline: [`front`] (safetensors + architecture) → [`ir::Model`] (float network) →
//! [`pass`] (ternarize, fold, lower with range analysis) → [`ir::firmware::Firmware`] (exact
//! integer arithmetic) → [`back`] (bit-exact emulator, HLS project, …).
#![warn(clippy::print_stdout)]

pub mod back;
pub mod choice;
pub mod cli;
pub mod cmvm;
pub mod error;
pub mod estimate;
pub mod front;
#[doc(hidden)]
pub mod fuzzing;
pub mod hw;
pub mod io;
pub mod ir;
pub mod pass;
pub mod pipeline;
pub mod project;
pub mod reference;
pub mod report;
pub mod synth;
pub mod synthetic;
pub mod target;
pub mod testutil;
pub mod validate;

pub use error::{Error, Result};
