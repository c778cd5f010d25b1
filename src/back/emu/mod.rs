//! Emulators: the float reference and the bit-exact firmware emulator.
pub mod fast;
pub mod fixed;
pub mod float;
#[cfg(test)]
mod naive;
#[cfg(test)]
pub(crate) mod problem;
#[cfg(test)]
pub(crate) mod tests;
