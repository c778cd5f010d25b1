//! The firmware IR: the network as integer arithmetic with exact types.
//!
//! This is the contract between the emulator, the HLS C++ and any RTL (docs/arithmetic.md gives
//! the same definitions in prose). Every integer here stands for `code · 2^-frac` of the type it
//! is declared with; every type was derived by range analysis in [`crate::pass::lower`].

use super::fixed::{FixedType, Interval};
use super::{Matrix, Profile};
use serde::Serialize;
use std::fmt;

/// Activation quantization mode (DESIGN.md §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Per-sample max|x| and a fixed-point reciprocal: faithful BitNet.
    Dynamic,
    /// Per-sample max|x| rounded up to a power of two: shifts only.
    #[serde(rename = "dynamic-pow2")]
    DynamicPow2,
    /// Per-layer scale calibrated on data: constant multiplications only.
    Static,
}

impl Mode {
    pub const ALL: [Mode; 3] = [Mode::Dynamic, Mode::DynamicPow2, Mode::Static];
    pub fn as_str(&self) -> &'static str {
        match self {
            Mode::Dynamic => "dynamic",
            Mode::DynamicPow2 => "dynamic-pow2",
            Mode::Static => "static",
        }
    }
}

impl crate::choice::Choice for Mode {
    const ALL: &'static [Mode] = &Mode::ALL;
    fn name(self) -> &'static str {
        self.as_str()
    }
    fn help(self) -> &'static str {
        match self {
            Mode::Dynamic => "per-sample max|x| and a fixed-point reciprocal: faithful BitNet",
            Mode::DynamicPow2 => "per-sample max|x| rounded up to a power of two: shifts only",
            Mode::Static => "per-layer scale calibrated on data: constant multiplications only",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Static mode between two ternary stages: how the accumulator becomes the next stage's codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Requant {
    /// One affine map `clamp(rnd(acc·E_n + H_n, P))` with `E_n` of a few signed digits.
    Fused,
    /// Dequantize to `Y_n` (bias added), then quantize `Y·R_s`: two constant multiplies.
    Separate,
}

impl crate::choice::Choice for Requant {
    const ALL: &'static [Requant] = &[Requant::Fused, Requant::Separate];
    fn name(self) -> &'static str {
        match self {
            Requant::Fused => "fused",
            Requant::Separate => "separate",
        }
    }
    fn help(self) -> &'static str {
        match self {
            Requant::Fused => "accumulator straight to the next layer's codes (one affine map)",
            Requant::Separate => "dequantize, add the bias, then quantize (two multiplies)",
        }
    }
}

/// Dynamic mode between two ternary stages: the units of the hidden values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HiddenUnits {
    /// `Y = rnd(acc·M, s) + B` in scaled units ([`Dequant::Scaled`]): no constant multiply.
    Scaled,
    /// `Y = rnd(acc·M·C_n, s) + B` in the real units of the float model.
    Real,
}

impl crate::choice::Choice for HiddenUnits {
    const ALL: &'static [HiddenUnits] = &[HiddenUnits::Scaled, HiddenUnits::Real];
    fn name(self) -> &'static str {
        match self {
            HiddenUnits::Scaled => "scaled",
            HiddenUnits::Real => "real",
        }
    }
    fn help(self) -> &'static str {
        match self {
            HiddenUnits::Scaled => {
                "hidden values times a per-layer constant (acc·M only; the next absmax ignores it)"
            }
            HiddenUnits::Real => "hidden values in the float model's units (acc·M·C per output)",
        }
    }
}

/// How a ternary layer turns its input vector `V` into activation codes.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "mode", rename_all = "kebab-case")]
pub enum Quantizer {
    /// `M = max(max_k |V_k|, m_floor)`, `e = bitlen(M)` (so `2^(e-1) ≤ M < 2^e`),
    /// `R = floor((Q·2^(G+e) + floor(M/2)) / M)` (a normalized reciprocal, always `G + 8` bits),
    /// `q_k = clamp(round(V_k·R / 2^(G+e)))`. Dequantization multiplies by `M`.
    Dynamic {
        /// Type of `M` (unsigned integer).
        m_type: FixedType,
        /// The eps clamp, in input codes: `max(1, ceil(eps · 2^frac_in))`.
        m_floor: i64,
        /// Guard bits `G`.
        guard: i32,
        /// Type of `e`.
        e_type: FixedType,
        /// Type of `R` (unsigned integer).
        recip_type: FixedType,
        /// Type of `V_k·R` (signed integer).
        prod_type: FixedType,
    },
    /// `M` as above, `e = ceil(log2 M)`, `q_k = clamp(round(Q·V_k / 2^e))`.
    /// Dequantization shifts by `e`.
    Pow2 {
        m_type: FixedType,
        m_floor: i64,
        /// Largest `e`.
        e_max: i32,
        /// Type of `e`.
        e_type: FixedType,
        /// Type of `Q·V_k`.
        prod_type: FixedType,
    },
    /// `q_k = clamp(round(V_k·R / 2^P))` with a constant `R = round(Q·2^(P-frac_in) / m_cal)`.
    Static {
        /// Calibrated max|x| at this layer's input (float).
        m_cal: f64,
        recip: i64,
        recip_frac: i32,
        prod_type: FixedType,
    },
    /// `q_k = V_k`: the input already is this layer's codes, because the previous stage
    /// requantized straight into them ([`Dequant::Requant`]; static mode only).
    Codes {
        /// Calibrated max|x| at this layer's input (float; already folded into the previous
        /// stage's `E_n`, `H_n`, recorded for reports).
        m_cal: f64,
    },
}

/// The ranges of the centring stage for inputs in `in_ranges`: the union of every prefix sum
/// of `S = ΣV` (the running sum of generated code must fit too) and the exact range of each
/// `U_k = K·V_k − S = (K−1)·V_k − Σ_{j≠k} V_j` (every input appears once). `None` when an
/// i128 bound overflows (only possible for ranges read from an edited file).
pub fn centre_ranges(in_ranges: &[Interval]) -> Option<(Interval, Vec<Interval>)> {
    let k1 = in_ranges.len() as i128 - 1;
    let (mut sum, mut prefixes) = (Interval::point(0), Interval::point(0));
    for r in in_ranges {
        sum = Interval::new(sum.lo.checked_add(r.lo)?, sum.hi.checked_add(r.hi)?);
        prefixes = prefixes.union(sum);
    }
    let u = in_ranges
        .iter()
        .map(|r| {
            let (others_lo, others_hi) = (sum.lo.checked_sub(r.lo)?, sum.hi.checked_sub(r.hi)?);
            Some(Interval::new(
                r.lo.checked_mul(k1)?.checked_sub(others_hi)?,
                r.hi.checked_mul(k1)?.checked_sub(others_lo)?,
            ))
        })
        .collect::<Option<Vec<_>>>()?;
    Some((prefixes, u))
}

/// `m_floor` of a quantizer reading inputs with `frac_in` fractional bits: the eps clamp
/// `max(1, ceil(eps_act · 2^frac_in))` in input codes, or 1 under an in-layer norm (whose eps
/// clamps never act on a non-zero input, docs/semantics.md).
pub fn m_floor(p: &super::Profile, frac_in: i32) -> i64 {
    if p.output_per_event_scaled() {
        1
    } else {
        ((p.eps_act as f64) * (2f64).powi(frac_in)).ceil().max(1.0) as i64
    }
}

/// Layer-norm mean subtraction in front of the quantizer (profiles with a parameter-free
/// LayerNorm): `S = Σ_k V_k`, `U_k = K·V_k − S`; the quantizer then reads `U` instead of `V`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CenterFw {
    /// Type of `S` (integer, frac of the input codes).
    pub sum_type: FixedType,
    /// Type of every `U_k` (integer).
    pub u_type: FixedType,
}

/// What the dequantization multiplies the accumulator by (docs/arithmetic.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Dequant {
    /// `acc·M·C_n` (dynamic), `acc·C_n·2^e` (pow2), `acc·C_n` with `m_cal` in `C_n` (static):
    /// the output is in the units of the layer input.
    InputUnits,
    /// `acc·C_n` with `C_n = β/Q` in every mode: the output is in code units, PyTorch's output
    /// divided by the per-event `max(max|x̂|, eps)` of the normalized input (profiles with an
    /// in-layer norm, docs/semantics.md).
    CodeUnits,
    /// Dynamic mode, a stage whose consumer is a dynamic ternary stage: `Y_n = rnd(acc_n·M, shift)
    /// + B_n` (`scale` all 1, `scale_frac` 0), an integer (frac 0) in *scaled units* — the real
    /// output times a positive per-layer constant `κ ≥ 2^frac_bits`. The next quantizer's codes
    /// `round(Q·Y/max|Y|)` do not depend on `κ`, so the dequantization's constant multiply
    /// disappears (docs/arithmetic.md, "Scaled units"). Lowering uses it only when
    /// `eps_act·κ ≤ 1`, so the next stage's eps clamp is `m_floor = 1` as in any integer input.
    Scaled,
    /// Fused requantization (static mode, the next stage is ternary with
    /// [`Quantizer::Codes`]): `q'_n = clamp(rnd(acc_n·E_n + H_n, shift), lo, hi)`, then the
    /// stage's ReLU. `scale` holds `E_n` and `bias` holds `H_n`, both with `shift` fractional
    /// bits (`scale_frac = shift`); the output is the next stage's integer codes (frac 0).
    Requant { lo: i64, hi: i64 },
}

/// A ternary BitLinear layer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TernaryFw {
    /// Mean subtraction before the quantizer (`None`: the quantizer reads the input).
    pub center: Option<CenterFw>,
    pub quant: Quantizer,
    /// Activation code numerator `Q` (127 or 128).
    pub qmax: i64,
    /// Code clamp range.
    pub clamp: (i64, i64),
    /// Proven range of the codes.
    pub code_range: Interval,
    pub weights: Matrix<i8>,
    /// Proven range of each output's accumulator `acc_n = Σ_k T[n][k]·q_k`.
    pub acc_ranges: Vec<Interval>,
    /// One type for all accumulators of the layer (integer).
    pub acc_type: FixedType,
    /// Per-output dequantization constant `C_n` (frac `scale_frac`).
    pub scale: Vec<i64>,
    pub scale_frac: i32,
    /// Right shift `s` of the dequantization product (negative: left shift).
    pub shift: i32,
    /// Type of the dequantization product before the shift.
    pub dequant_type: FixedType,
    pub dequant: Dequant,
    /// Per-output bias in output codes.
    pub bias: Vec<i64>,
}

/// A full-precision linear layer in fixed point: `Y_n = round(Σ_k W_nk·X_k / 2^shift) + B_n`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DenseFw {
    pub weights: Matrix<i64>,
    pub weight_type: FixedType,
    pub acc_ranges: Vec<Interval>,
    pub acc_type: FixedType,
    pub shift: i32,
    pub bias: Vec<i64>,
}

/// Per-channel constant affine: `Y_k = round(X_k·A_k / 2^shift) + B_k`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AffineFw {
    pub scale: Vec<i64>,
    pub scale_frac: i32,
    pub shift: i32,
    pub prod_type: FixedType,
    pub bias: Vec<i64>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FwKind {
    Ternary(TernaryFw),
    Dense(DenseFw),
    Affine(AffineFw),
}

/// One firmware stage: a linear-type layer with its folded affine, bias and ReLU.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FwLayer {
    /// Name of the float layer this stage computes.
    pub name: String,
    /// Indices of the float [`crate::ir::Layer`]s folded into this stage.
    pub sources: Vec<usize>,
    pub n_in: usize,
    pub n_out: usize,
    pub in_type: FixedType,
    #[serde(flatten)]
    pub kind: FwKind,
    pub relu: bool,
    /// Proven range of each output (after ReLU).
    pub out_ranges: Vec<Interval>,
    pub out_type: FixedType,
}

/// Options of the lowering that change the arithmetic (all recorded in reports).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LowerOptions {
    pub mode: Mode,
    pub input_type: FixedType,
    /// Whether `input_type` was chosen by the user, the architecture, calibration, or is the default.
    pub input_type_origin: String,
    /// Fractional bits of hidden and output values.
    pub frac_bits: i32,
    /// Why `frac_bits` is fewer than requested, when the lowering chose them
    /// ([`crate::pipeline::FwOptions::frac_auto`]); `None`: as requested.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frac_bits_origin: Option<String>,
    /// Signed width of dequantization / requantization constants.
    pub const_bits: u32,
    /// Signed width of full-precision layer weights.
    pub weight_bits: u32,
    /// Extra reciprocal bits beyond the width of `M` (dynamic mode).
    pub recip_guard_bits: i32,
    /// Static mode: between two ternary stages, requantize the accumulator straight into the
    /// next stage's codes ([`Dequant::Requant`]) with `E_n` rounded to this many non-zero
    /// canonical signed digits; `None`: dequantize, then quantize (two constant multiplies).
    pub requant_digits: Option<u32>,
    /// Static mode with fused requantization: signed digits of every [`Quantizer::Static`]
    /// constant `R_s` (`None`: full `const_bits` precision).
    pub input_digits: Option<u32>,
    /// Dynamic mode: hidden values between ternary stages in scaled units
    /// ([`Dequant::Scaled`], where the arithmetic allows) or in real units.
    pub hidden_units: HiddenUnits,
}

/// The lowered network.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Firmware {
    pub name: String,
    pub profile: Profile,
    pub options: LowerOptions,
    pub n_in: usize,
    pub n_out: usize,
    pub layers: Vec<FwLayer>,
}

impl Firmware {
    pub fn mode(&self) -> Mode {
        self.options.mode
    }
    pub fn input_type(&self) -> FixedType {
        self.options.input_type
    }
    pub fn output_type(&self) -> FixedType {
        self.layers
            .last()
            .map(|l| l.out_type)
            .unwrap_or(self.options.input_type)
    }
}
