//! The model IR.
//!
//! Two levels, in pipeline order:
//!
//! 1. [`Model`]: the float network as the user trained it — a list of [`Layer`]s with float
//!    parameters and ternary codes. The float reference ([`crate::reference::float`]) runs it.
//! 2. [`firmware::Firmware`]: the same network lowered by [`crate::pass`] to integer arithmetic,
//!    every value with an exact [`fixed::FixedType`] proven by range analysis. The bit-exact
//!    emulator and every hardware backend consume only this level.

pub mod firmware;
pub mod fixed;
pub mod profile;
pub mod serial;
pub mod set;
pub mod task;
pub mod validate;

use serde::Serialize;

pub use profile::{Profile, ProfileName};

/// A dense row-major matrix `[rows][cols]` (PyTorch `[out, in]` layout).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Matrix<T> {
    pub rows: usize,
    pub cols: usize,
    #[serde(skip)]
    pub data: Vec<T>,
}

impl<T: Copy> Matrix<T> {
    pub fn new(rows: usize, cols: usize, data: Vec<T>) -> Matrix<T> {
        assert_eq!(rows * cols, data.len());
        Matrix { rows, cols, data }
    }
    #[inline]
    pub fn at(&self, r: usize, c: usize) -> T {
        self.data[r * self.cols + c]
    }
    pub fn row(&self, r: usize) -> &[T] {
        &self.data[r * self.cols..(r + 1) * self.cols]
    }
}

/// Where a BitLinear's ternary codes came from (reference D14).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WeightSource {
    /// Float master weights, ternarized by the profile.
    FloatMaster,
    /// I8 codes plus a β tensor.
    TernaryI8,
    /// Hugging Face bitnet U8 packed layout; `weight_scale` meant β (`true`) or 1/β.
    HfPacked { scale_is_beta: bool },
}

/// A ternary BitLinear layer: `y = (T · Q(x)) · (m/Q) · β + bias`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BitLinear {
    /// Ternary codes in {-1, 0, 1}, `[out, in]`.
    pub codes: Matrix<i8>,
    /// Per-tensor weight scale β.
    pub beta: f32,
    pub bias: Option<Vec<f32>>,
    pub source: WeightSource,
    /// The float master weights when the file had them (only used to report tie-fragile codes).
    #[serde(skip)]
    pub master: Option<Matrix<f32>>,
}

/// A full-precision linear layer (kept float in training, fixed-point multiplies in firmware).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Linear {
    pub weight: Matrix<f32>,
    pub bias: Option<Vec<f32>>,
}

/// Per-channel `y = scale · x + shift` (BatchNorm in eval mode is lowered to this).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Affine {
    pub scale: Vec<f32>,
    pub shift: Vec<f32>,
    /// Where it came from, for reports (`batchnorm` or `affine`).
    pub origin: &'static str,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum LayerKind {
    BitLinear(BitLinear),
    Linear(Linear),
    Relu,
    Affine(Affine),
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Layer {
    /// Name from the file (module path) or the architecture document.
    pub name: String,
    #[serde(flatten)]
    pub kind: LayerKind,
}

impl Layer {
    /// `(inputs, outputs)` for layers that change the width; `None` for element-wise ones.
    pub fn shape(&self) -> Option<(usize, usize)> {
        match &self.kind {
            LayerKind::BitLinear(b) => Some((b.codes.cols, b.codes.rows)),
            LayerKind::Linear(l) => Some((l.weight.cols, l.weight.rows)),
            LayerKind::Relu | LayerKind::Affine(_) => None,
        }
    }
    pub fn op_name(&self) -> &'static str {
        match &self.kind {
            LayerKind::BitLinear(_) => "bitlinear",
            LayerKind::Linear(_) => "linear",
            LayerKind::Relu => "relu",
            LayerKind::Affine(a) => a.origin,
        }
    }
}

/// The float network.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Model {
    pub name: String,
    pub inputs: usize,
    pub profile: Profile,
    pub layers: Vec<Layer>,
    /// Input type requested by the architecture document, if any.
    pub input_type: Option<fixed::FixedType>,
}

impl Model {
    /// Output width.
    pub fn outputs(&self) -> usize {
        self.layers
            .iter()
            .rev()
            .find_map(|l| l.shape().map(|s| s.1))
            .unwrap_or(self.inputs)
    }
}
