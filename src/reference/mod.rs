//! The executable specifications every other part is checked against:
//!
//! - [`float`] — the float network ([`crate::ir::Model`]) exactly as the profile says PyTorch
//!   computes it (calibration, validation);
//! - [`fixed`] — the reference emulator of the lowered firmware
//!   ([`crate::ir::firmware::Firmware`]): docs/arithmetic.md in code. The HLS and Verilog
//!   backends take their test-bench expectations from it; the fast emulator
//!   ([`crate::back::emu::fast`]) must equal it bit for bit.
//!
//! Both depend only on [`crate::ir`], so passes and backends may use them without importing
//! each other.

pub mod fixed;
pub mod float;
pub mod set;
