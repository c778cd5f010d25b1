//! Data files: `.npy` streaming, `.npz` datasets.
pub mod npy;
pub mod npz;
pub mod particles;
