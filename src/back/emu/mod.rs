//! The fast bit-exact emulator of the firmware (lane kernels, AVX2 where the CPU has it). The
//! reference emulator it must equal lives in [`crate::reference::fixed`].
pub mod fast;
#[cfg(test)]
mod naive;
#[cfg(test)]
pub(crate) mod problem;
pub mod set;
#[cfg(test)]
mod set_tests;
#[cfg(test)]
pub(crate) mod tests;
