//! The pipeline as the CLI drives it: load → (calibrate) → lower. Shared by every command.

use crate::error::{Error, Result};
use crate::front::arch::HiddenAct;
use crate::front::{load, LoadOptions, Loaded};
use crate::io::npy::stream_npz_member;
use crate::ir::firmware::{Firmware, LowerOptions, Mode};
use crate::ir::fixed::FixedType;
use crate::ir::ProfileName;
use crate::pass::calibrate::{calibrate, input_type_for, Calibration};
use crate::pass::lower::lower;
use clap::Args;
use std::path::PathBuf;

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
    #[arg(long, value_enum)]
    pub profile: Option<ProfileName>,
    #[command(flatten)]
    pub overrides: crate::ir::profile::ProfileOverrides,
    /// Activation between inferred linear layers.
    #[arg(long, value_enum, default_value = "relu")]
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
    #[arg(long, value_enum, default_value = "dynamic")]
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
    /// Input width used when the input type is chosen from calibration data.
    #[arg(long, default_value_t = 16)]
    pub input_bits: u32,
    /// Fractional bits of hidden and output values.
    #[arg(long, default_value_t = 12)]
    pub frac_bits: i32,
    /// Signed width of quantized scale constants.
    #[arg(long, default_value_t = 18)]
    pub const_bits: u32,
    /// Signed width of full-precision layer weights.
    #[arg(long, default_value_t = 16)]
    pub weight_bits: u32,
}

impl Default for FwArgs {
    /// The command-line defaults.
    fn default() -> FwArgs {
        FwArgs {
            mode: Mode::Dynamic,
            calib: None,
            input_type: None,
            calib_quantile: 0.999,
            input_bits: 16,
            frac_bits: 12,
            const_bits: 18,
            weight_bits: 16,
        }
    }
}

impl ModelArgs {
    pub fn load(&self) -> Result<Loaded> {
        load(
            &self.model,
            &LoadOptions {
                arch: self.arch.clone(),
                profile: self.profile,
                overrides: self.overrides.clone(),
                hidden_act: self.hidden_act,
                float_layers: self.float_layers.clone(),
                weight_scale_is: self.weight_scale_is.clone(),
            },
        )
    }
}

/// The default input type when neither the user, the architecture nor calibration chose one.
pub const DEFAULT_INPUT_TYPE: FixedType = FixedType {
    signed: true,
    width: 16,
    frac: 10,
};

/// Lowers `loaded` for `mode` (overriding `args.mode`); `calib` is the calibration, if any.
pub fn lower_for(
    loaded: &Loaded,
    args: &FwArgs,
    mode: Mode,
    calib: Option<&Calibration>,
) -> Result<Firmware> {
    if !(2..=30).contains(&args.input_bits) {
        return Err(Error::Usage(format!(
            "--input-bits {} is out of range 2..30",
            args.input_bits
        )));
    }
    if !(0..=40).contains(&args.frac_bits) {
        return Err(Error::Usage(format!(
            "--frac-bits {} is out of range 0..40",
            args.frac_bits
        )));
    }
    if !(4..=32).contains(&args.const_bits) || !(2..=32).contains(&args.weight_bits) {
        return Err(Error::Usage(
            "--const-bits must be in 4..32 and --weight-bits in 2..32".into(),
        ));
    }
    let (input_type, origin) = if let Some(s) = &args.input_type {
        let t = FixedType::parse(s).ok_or_else(|| {
            Error::Usage(format!(
                "--input-type '{s}' is not a type like ap_fixed<16,6> (signed, width 2..62)"
            ))
        })?;
        (t, "--input-type".to_string())
    } else if let Some(t) = loaded.model.input_type {
        (t, "architecture".to_string())
    } else if let Some(c) = calib {
        (
            input_type_for(c.input_absmax, args.input_bits),
            format!("calibration (max|x| = {})", c.input_absmax),
        )
    } else {
        (
            DEFAULT_INPUT_TYPE,
            "default (no --input-type, architecture input_type or --calib given)".to_string(),
        )
    };
    let opts = LowerOptions {
        mode,
        input_type,
        input_type_origin: origin,
        frac_bits: args.frac_bits,
        const_bits: args.const_bits,
        weight_bits: args.weight_bits,
        recip_guard_bits: 10,
    };
    lower(&loaded.model, &opts, calib)
}

/// Calibrates on the `x` array of the `--calib` file (streamed), if one was given.
pub fn calibration(loaded: &Loaded, args: &FwArgs) -> Result<Option<Calibration>> {
    let Some(path) = &args.calib else {
        return Ok(None);
    };
    let q = args.calib_quantile;
    if !(q > 0.0 && q <= 1.0) {
        return Err(Error::Usage(format!(
            "--calib-quantile {q}: must be in (0, 1]"
        )));
    }
    calibrate_file(loaded, path).map(|c| Some(c.with_quantile(q)))
}

/// Streams `x` of an `.npz` through the float reference and collects the calibration statistics.
pub fn calibrate_file(loaded: &Loaded, path: &std::path::Path) -> Result<Calibration> {
    let mut cal = Calibration::default();
    let inputs = loaded.model.inputs;
    stream_npz_member(path, "x", 65536, |_, cols, x| {
        if cols != inputs {
            return Err(Error::Data {
                path: path.to_path_buf(),
                detail: format!("'x' has {cols} features, the model takes {inputs}"),
            });
        }
        cal.merge(&calibrate(&loaded.model, x));
        Ok(())
    })?;
    if cal.samples == 0 {
        return Err(Error::Data {
            path: path.to_path_buf(),
            detail: "'x' has no events to calibrate on".into(),
        });
    }
    Ok(cal)
}
