//! Emulators: the float reference and the bit-exact firmware emulator.
pub mod fixed;
pub mod float;
