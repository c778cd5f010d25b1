//! Emulators: the float reference and the bit-exact firmware emulator.
pub mod fast;
pub mod fixed;
pub mod float;
#[cfg(test)]
mod naive;
#[cfg(test)]
mod problem;
#[cfg(test)]
mod tests;
