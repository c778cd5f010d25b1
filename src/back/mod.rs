//! Backends: everything that consumes the lowered [`crate::ir::firmware::Firmware`].
pub mod emu;
pub mod hls;
pub mod rtl;
