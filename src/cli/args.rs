//! Command-line flags shared by several commands: how to read the model ([`ModelArgs`]) and the
//! firmware arithmetic ([`FwArgs`]), and the value parser for the library's [`Choice`] enums.

use crate::choice::Choice;
use crate::front::arch::HiddenAct;
use crate::front::{load, load_net, LoadOptions, Loaded};
use crate::ir::firmware::{HiddenUnits, Mode, Requant};
use crate::ir::profile::{ActScaleOp, ProfileOverrides, WeightDiv};
use crate::ir::set::Net;
use crate::ir::ProfileName;
use crate::pass::calibrate::CalibRule;
use crate::pipeline::FwOptions;
use crate::target::{AdderOptions, Adders, RequantCircuit};
use crate::Result;
use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::Args;
use std::path::PathBuf;

/// A clap value parser for a library enum: lists the names and help of every value.
pub fn choice<T: Choice + Send + Sync + Clone>() -> impl TypedValueParser<Value = T> {
    PossibleValuesParser::new(
        T::ALL
            .iter()
            .map(|v| PossibleValue::new(v.name()).help(v.help())),
    )
    .try_map(|s| T::parse_name(&s))
}

/// How to read the model.
#[derive(Args, Clone, Debug)]
pub struct ModelArgs {
    /// The model (.safetensors).
    pub model: PathBuf,
    /// Architecture document (default: `<model>.json` next to it, then the file's metadata,
    /// then inference from tensor names).
    #[arg(long)]
    pub arch: Option<PathBuf>,
    /// Float semantics profile (overrides the architecture's).
    #[arg(long, value_parser = choice::<ProfileName>())]
    pub profile: Option<ProfileName>,
    #[command(flatten)]
    pub overrides: ProfileOverrideArgs,
    /// Activation between inferred linear layers.
    #[arg(long, value_parser = choice::<HiddenAct>(), default_value = "relu")]
    pub hidden_act: HiddenAct,
    /// Inferred linear layers kept full precision (indices among linear layers, or module names).
    #[arg(long, value_delimiter = ',')]
    pub float_layers: Vec<String>,
    /// Meaning of `weight_scale` in Hugging Face packed U8 weights: beta or inv_beta.
    #[arg(long)]
    pub weight_scale_is: Option<String>,
}

impl ModelArgs {
    /// The defaults for the model file `path` (as if only the path were given on the command line).
    pub fn from_path(path: &std::path::Path) -> ModelArgs {
        #[derive(clap::Parser)]
        struct Wrap {
            #[command(flatten)]
            m: ModelArgs,
        }
        use clap::Parser;
        let mut w = Wrap::parse_from(["bit2hls", "placeholder"]);
        w.m.model = path.to_path_buf();
        w.m
    }
}

/// Firmware arithmetic choices.
#[derive(Args, Clone, Debug)]
pub struct FwArgs {
    /// Activation quantization mode.
    #[arg(long, value_parser = choice::<Mode>(), default_value = "dynamic")]
    pub mode: Mode,
    /// Calibration data (.npz with `x`): static-mode scales, and the input type if not given.
    #[arg(long)]
    pub calib: Option<PathBuf>,
    /// Firmware input type, e.g. `ap_fixed<16,6>`.
    #[arg(long)]
    pub input_type: Option<String>,
    /// Static-mode scale of each layer: this quantile of the calibration samples' max|x|
    /// (1 = the maximum; the default 0.999 lets the rarest outliers saturate instead of
    /// coarsening every other event's codes).
    #[arg(long, default_value_t = 0.999)]
    pub calib_quantile: f64,
    /// Static-mode scale rule: `quantile` (--calib-quantile of the per-sample max|x|) or `mse`
    /// (least mean squared quantization error per layer). Default: `mse` for activation codes
    /// narrower than 8 bits, `quantile` at 8 bits (docs/arithmetic.md §Calibration).
    #[arg(long, value_parser = choice::<CalibRule>())]
    pub calib_rule: Option<CalibRule>,
    /// Input width used when the input type is chosen from calibration data.
    #[arg(long, default_value_t = 16)]
    pub input_bits: u32,
    /// Fractional bits of hidden and output values [default: 12, or fewer when a value would
    /// need more than 62 bits (said in the output)].
    #[arg(long)]
    pub frac_bits: Option<i32>,
    /// Signed width of quantized scale constants.
    #[arg(long, default_value_t = 18)]
    pub const_bits: u32,
    /// Signed width of full-precision layer weights.
    #[arg(long, default_value_t = 16)]
    pub weight_bits: u32,
    /// Static mode, between two ternary layers: one affine map from the accumulator to the
    /// next layer's codes (fused), or dequantize then quantize (separate).
    #[arg(long, value_parser = choice::<Requant>(), default_value = "fused")]
    pub requant: Requant,
    /// Non-zero canonical signed digits of each fused requantization constant.
    #[arg(long, default_value_t = crate::pipeline::DEFAULT_REQUANT_DIGITS)]
    pub requant_digits: u32,
    /// Static mode with fused requantization: non-zero signed digits of the input quantizer's
    /// constant (the first layer's, and any after a full-precision layer; default
    /// --requant-digits + 2; 1 = a power of two, a plain shift).
    #[arg(long)]
    pub input_digits: Option<u32>,
    /// Dynamic mode, between two ternary layers: hidden values in scaled units (acc·M only, no
    /// constant multiply; the next layer's absmax quantizer ignores the scale) or real units.
    #[arg(long, value_parser = choice::<HiddenUnits>(), default_value = "scaled")]
    pub hidden_units: HiddenUnits,
    /// Dynamic mode: guard bits G of the per-sample reciprocal (G + 8 bits; one division step
    /// each).
    #[arg(long, default_value_t = crate::pipeline::DEFAULT_RECIP_GUARD_BITS)]
    pub recip_guard_bits: i32,
}

impl FwArgs {
    /// The library's options for these flags.
    pub fn options(&self) -> FwOptions {
        FwOptions {
            mode: self.mode,
            calib: self.calib.clone(),
            input_type: self.input_type.clone(),
            calib_quantile: self.calib_quantile,
            input_bits: self.input_bits,
            frac_bits: self.frac_bits.unwrap_or(12),
            frac_auto: self.frac_bits.is_none(),
            frac_note: None,
            const_bits: self.const_bits,
            weight_bits: self.weight_bits,
            requant: self.requant,
            requant_digits: self.requant_digits,
            input_digits: self.input_digits,
            hidden_units: self.hidden_units,
            recip_guard_bits: self.recip_guard_bits,
        }
    }
}

/// Per-decision overrides of the profile (docs/semantics.md).
#[derive(Args, Clone, Debug, Default)]
pub struct ProfileOverrideArgs {
    /// Activation bits b (BitHEP's b, default 8): Q = 2^(b-1) - 1 and clamp [-2^(b-1), 2^(b-1) - 1]
    /// (Q = 2^(b-1) under a profile with Q 128). Overrides the architecture's profile_params.
    #[arg(long, value_parser = clap::value_parser!(u32).range(2..=16))]
    pub act_bits: Option<u32>,
    /// Activation scale numerator Q (D3): 127 (BitNet FAQ, BitHEP) or 128 (paper Q_b = 2^(b-1));
    /// any 1..=32768 (applied after --act-bits).
    #[arg(long, value_parser = clap::value_parser!(i32).range(1..=32768))]
    pub act_qmax: Option<i32>,
    /// Symmetric activation clamp [-hi, hi] ([-127, 127] instead of [-128, 127] at 8 bits; D3).
    #[arg(long)]
    pub act_clamp_symmetric: bool,
    /// eps of the activation absmax clamp (D4).
    #[arg(long)]
    pub eps_act: Option<f32>,
    /// eps of the weight mean|W| clamp (D4).
    #[arg(long)]
    pub eps_w: Option<f32>,
    /// W / β or W · (1/β) (D9).
    #[arg(long, value_parser = choice::<WeightDiv>())]
    pub weight_div: Option<WeightDiv>,
    /// How PyTorch evaluates Q / m (D12).
    #[arg(long, value_parser = choice::<ActScaleOp>())]
    pub act_scale_op: Option<ActScaleOp>,
}

impl ProfileOverrideArgs {
    /// The library's overrides for these flags.
    pub fn overrides(&self) -> ProfileOverrides {
        ProfileOverrides {
            act_bits: self.act_bits,
            act_qmax: self.act_qmax,
            act_clamp: None,
            act_clamp_symmetric: self.act_clamp_symmetric,
            eps_act: self.eps_act,
            eps_w: self.eps_w,
            weight_div: self.weight_div,
            act_scale_op: self.act_scale_op,
        }
    }
}

impl ModelArgs {
    pub fn load(&self) -> Result<Loaded> {
        load(&self.model, &self.load_options())
    }

    /// Loads any model (a chain or a particle-level model).
    pub fn load_net(&self) -> Result<Loaded<Net>> {
        load_net(&self.model, &self.load_options())
    }

    fn load_options(&self) -> LoadOptions {
        LoadOptions {
            arch: self.arch.clone(),
            profile: self.profile,
            overrides: self.overrides.overrides(),
            hidden_act: self.hidden_act,
            float_layers: self.float_layers.clone(),
            weight_scale_is: self.weight_scale_is.clone(),
        }
    }
}

/// The adder structure of ternary layers (Verilog backend, HLS latency strategy, estimates).
#[derive(Args, Clone, Debug)]
pub struct AdderArgs {
    /// shared: sub-sums shared across a layer's outputs (fewer adders); trees: one tree per
    /// output.
    #[arg(long, value_parser = choice::<Adders>(), default_value = "shared")]
    pub adders: Adders,
    /// Shared adders: levels an output may have beyond its plain tree (`none`: no cap, fewest
    /// adders, possibly deeper).
    #[arg(long, default_value = "0", value_parser = parse_depth_cap)]
    pub max_extra_depth: DepthCap,
    /// Static quantizers and fused requantizers: a constant multiply, threshold comparisons
    /// (MultiThreshold), or whichever is estimated smaller (Verilog backend).
    #[arg(long, value_parser = choice::<RequantCircuit>(), default_value = "auto")]
    pub requant_circuit: RequantCircuit,
}

/// `--max-extra-depth`: a number of adder levels or `none`.
#[derive(Clone, Copy, Debug)]
pub struct DepthCap(pub Option<u32>);

fn parse_depth_cap(s: &str) -> std::result::Result<DepthCap, String> {
    match s {
        "none" => Ok(DepthCap(None)),
        _ => s
            .parse::<u32>()
            .ok()
            .filter(|&n| n <= 64)
            .map(|n| DepthCap(Some(n)))
            .ok_or_else(|| format!("'{s}': expected a number of adder levels 0..=64 or `none`")),
    }
}

impl AdderArgs {
    pub fn options(&self) -> AdderOptions {
        AdderOptions {
            adders: self.adders,
            max_extra_depth: self.max_extra_depth.0,
            requant: self.requant_circuit,
        }
    }
}
