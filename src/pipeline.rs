//! The pipeline after the front end: (calibrate) → lower, with the firmware options every
//! command shares. The command line's flags map onto [`FwOptions`] in [`crate::cli`].

use crate::error::{Error, Result};
use crate::front::Loaded;
use crate::io::npy::stream_npz_member;
use crate::io::particles::read_jets;
use crate::ir::firmware::{Firmware, HiddenUnits, LowerOptions, Mode, Requant};
use crate::ir::fixed::FixedType;
use crate::ir::set::{SetFirmware, SetModel};
use crate::ir::Profile;
use crate::pass::calibrate::{calibrate, input_type_for, CalibRule, Calibration};
use crate::pass::lower::lower;
use crate::pass::set::{calibrate_set, lower_set, SetCalibration};
use std::path::PathBuf;

/// Firmware arithmetic choices (the command line's `--mode`, `--calib`, ... in
/// [`crate::cli`]).
#[derive(Clone, Debug)]
pub struct FwOptions {
    /// Activation quantization mode.
    pub mode: Mode,
    /// Calibration data (.npz with `x`): static-mode scales, and the input type if not given.
    pub calib: Option<PathBuf>,
    /// Firmware input type, e.g. `ap_fixed<16,6>`.
    pub input_type: Option<String>,
    /// Static-mode scale of each layer: this quantile of the calibration samples' max|x|.
    pub calib_quantile: f64,
    /// Input width used when the input type is chosen from calibration data.
    pub input_bits: u32,
    /// Fractional bits of hidden and output values.
    pub frac_bits: i32,
    /// When a value would need more than [`crate::ir::fixed::MAX_WIDTH`] bits with
    /// `frac_bits`, lower with the largest smaller number (down to [`MIN_AUTO_FRAC_BITS`]) that
    /// fits; the firmware's `options.frac_bits` says which (the command line: `--frac-bits`
    /// not given).
    pub frac_auto: bool,
    /// Set by the lowering when it reduced `frac_bits` (recorded in the firmware's options).
    pub frac_note: Option<String>,
    /// Signed width of quantized scale constants.
    pub const_bits: u32,
    /// Signed width of full-precision layer weights.
    pub weight_bits: u32,
    /// Static mode: fused or separate requantization between ternary stages.
    pub requant: Requant,
    /// Non-zero signed digits of the fused requantization constants `E_n`.
    pub requant_digits: u32,
    /// Static mode with fused requantization: signed digits of the constant `R_s` of every
    /// static quantizer that reads values rather than codes (the first layer's, and any after a
    /// full-precision layer). `None`: `requant_digits` +
    /// [`crate::pass::lower::INPUT_EXTRA_DIGITS`]; 1 makes it a power of two, a shift.
    pub input_digits: Option<u32>,
    /// Dynamic mode: units of the hidden values between ternary stages.
    pub hidden_units: HiddenUnits,
    /// Dynamic mode: guard bits `G` of the per-sample reciprocal (`G + 8` bits for Q = 127).
    pub recip_guard_bits: i32,
}

/// Default of [`FwOptions::recip_guard_bits`] (docs/arithmetic.md, "Why these choices").
pub const DEFAULT_RECIP_GUARD_BITS: i32 = 6;

/// Default of [`FwOptions::requant_digits`]: the fewest digits that keep static agreement
/// within 0.05 percentage points of the separate form on the shipped models (docs/arithmetic.md).
pub const DEFAULT_REQUANT_DIGITS: u32 = 3;

impl Default for FwOptions {
    /// The command-line defaults.
    fn default() -> FwOptions {
        FwOptions {
            mode: Mode::Dynamic,
            calib: None,
            input_type: None,
            calib_quantile: 0.999,
            input_bits: 16,
            frac_bits: 12,
            frac_auto: true,
            frac_note: None,
            const_bits: 18,
            weight_bits: 16,
            requant: Requant::Fused,
            requant_digits: DEFAULT_REQUANT_DIGITS,
            input_digits: None,
            hidden_units: HiddenUnits::Scaled,
            recip_guard_bits: DEFAULT_RECIP_GUARD_BITS,
        }
    }
}

/// The default input type when neither the user, the architecture nor calibration chose one.
pub const DEFAULT_INPUT_TYPE: FixedType = FixedType {
    signed: true,
    width: 16,
    frac: 10,
};

/// The fewest fractional bits [`FwOptions::frac_auto`] goes down to.
pub const MIN_AUTO_FRAC_BITS: i32 = 4;

/// `lower(args)`, and with [`FwOptions::frac_auto`], on a value too wide for
/// [`crate::ir::fixed::MAX_WIDTH`], again with one fractional bit less, down to
/// [`MIN_AUTO_FRAC_BITS`]; the last error if none fits.
fn with_auto_frac<T>(args: &FwOptions, lower: impl Fn(&FwOptions) -> Result<T>) -> Result<T> {
    let mut a = args.clone();
    loop {
        match lower(&a) {
            Err(Error::TooWide { layer, detail, .. })
                if a.frac_auto && a.frac_bits > MIN_AUTO_FRAC_BITS =>
            {
                a.frac_bits -= 1;
                if a.frac_note.is_none() {
                    let d = detail.split(';').next().unwrap_or(&detail).to_string();
                    a.frac_note = Some(format!(
                        "--frac-bits not given, and with {}: layer '{layer}': {d}",
                        args.frac_bits
                    ));
                }
            }
            r => return r,
        }
    }
}

/// Lowers `loaded` for `mode` (overriding `args.mode`); `calib` is the calibration, if any.
/// The fractional bits may be fewer than `args.frac_bits` ([`FwOptions::frac_auto`]).
pub fn lower_for(
    loaded: &Loaded,
    args: &FwOptions,
    mode: Mode,
    calib: Option<&Calibration>,
) -> Result<Firmware> {
    with_auto_frac(args, |args| {
        let opts = lower_options(
            loaded.model.input_type,
            args,
            mode,
            calib.map(|c| c.input_absmax),
        )?;
        lower(&loaded.model, &opts, calib)
    })
}

/// Lowers a particle-level model for `mode`, with automatic fractional bits as [`lower_for`]
/// (its `Φ` reads the particle features, so the
/// input type comes from `Φ`'s calibration when none is given).
pub fn lower_set_for(
    set: &SetModel,
    args: &FwOptions,
    mode: Mode,
    calib: Option<&SetCalibration>,
) -> Result<SetFirmware> {
    with_auto_frac(args, |args| {
        let opts = lower_options(set.input_type, args, mode, calib.map(|c| c.input_absmax()))?;
        lower_set(set, &opts, calib)
    })
}

/// The firmware of any model for `args.mode`: calibrated on `args.calib` when given (static
/// mode needs it), then lowered ([`lower_for`], [`lower_set_for`]). The second value holds the
/// notes reading the calibration jets made (a particle-level file's conversions).
pub fn lower_net(
    net: &Loaded<crate::ir::set::Net>,
    args: &FwOptions,
    rule: Option<CalibRule>,
) -> Result<(crate::ir::serial::AnyFirmware, Vec<String>)> {
    use crate::ir::serial::AnyFirmware;
    use crate::ir::set::Net;
    match &net.model {
        Net::Chain(model) => {
            let loaded = Loaded {
                model: model.clone(),
                origin: net.origin.clone(),
                notes: net.notes.clone(),
                task: net.task.clone(),
            };
            let calib = calibration_with(&loaded, args, rule)?;
            let fw = lower_for(&loaded, args, args.mode, calib.as_ref())?;
            Ok((AnyFirmware::Chain(fw), Vec::new()))
        }
        Net::Set(set) => {
            let (calib, notes) = match set_calibration(set, args, rule)? {
                Some((c, n)) => (Some(c), n),
                None => (None, Vec::new()),
            };
            let fw = lower_set_for(set, args, args.mode, calib.as_ref())?;
            Ok((AnyFirmware::Set(fw), notes))
        }
    }
}

/// The checked lowering options of `args` for `mode`; the input type is the user's, else the
/// architecture's (`arch_type`), else one for calibration data of max|x| `calib_absmax`, else
/// [`DEFAULT_INPUT_TYPE`].
fn lower_options(
    arch_type: Option<FixedType>,
    args: &FwOptions,
    mode: Mode,
    calib_absmax: Option<f32>,
) -> Result<LowerOptions> {
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
    if !(1..=args.const_bits).contains(&args.requant_digits) {
        return Err(Error::Usage(format!(
            "--requant-digits {} is out of range 1..={}",
            args.requant_digits, args.const_bits
        )));
    }
    if args
        .input_digits
        .is_some_and(|d| !(1..=args.const_bits).contains(&d))
    {
        return Err(Error::Usage(format!(
            "--input-digits {} is out of range 1..={}",
            args.input_digits.unwrap_or(0),
            args.const_bits
        )));
    }
    if !(0..=20).contains(&args.recip_guard_bits) {
        return Err(Error::Usage(format!(
            "--recip-guard-bits {} is out of range 0..20",
            args.recip_guard_bits
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
    } else if let Some(t) = arch_type {
        (t, "architecture".to_string())
    } else if let Some(m) = calib_absmax {
        (
            input_type_for(m, args.input_bits),
            format!("calibration (max|x| = {m})"),
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
        frac_bits_origin: args.frac_note.clone(),
        const_bits: args.const_bits,
        weight_bits: args.weight_bits,
        recip_guard_bits: args.recip_guard_bits,
        requant_digits: match (mode, args.requant) {
            (Mode::Static, Requant::Fused) => Some(args.requant_digits),
            _ => None,
        },
        input_digits: match (mode, args.requant) {
            (Mode::Static, Requant::Fused) => Some(
                args.input_digits
                    .unwrap_or(args.requant_digits + crate::pass::lower::INPUT_EXTRA_DIGITS),
            ),
            _ => None,
        },
        hidden_units: args.hidden_units,
    };
    Ok(opts)
}

/// Calibrates a particle-level model on the jets of the `--calib` file, if one was given, with
/// the scale rule `rule` (`None`: [`default_calib_rule`]) on both chains. Returns the notes of
/// reading the file too.
pub fn set_calibration(
    set: &SetModel,
    args: &FwOptions,
    rule: Option<CalibRule>,
) -> Result<Option<(SetCalibration, Vec<String>)>> {
    let Some(path) = &args.calib else {
        return Ok(None);
    };
    let jets = read_jets(path, set.into(), false)?;
    if !jets.mask.iter().any(|m| *m != 0) {
        return Err(Error::Data {
            path: path.to_path_buf(),
            detail: "no real particle to calibrate on".into(),
        });
    }
    let q = args.calib_quantile;
    if !(q > 0.0 && q <= 1.0) {
        return Err(Error::Usage(format!(
            "--calib-quantile {q}: must be in (0, 1]"
        )));
    }
    let p = &set.profile;
    let rule = rule.unwrap_or_else(|| default_calib_rule(p));
    let cal = calibrate_set(set, &jets.x, &jets.mask, &jets.jet).map(|c| c.with_rule(rule, q, p));
    Ok(Some((cal, jets.notes)))
}

/// Calibrates on the `x` array of the `--calib` file (streamed), if one was given, with the
/// default rule ([`default_calib_rule`]).
pub fn calibration(loaded: &Loaded, args: &FwOptions) -> Result<Option<Calibration>> {
    calibration_with(loaded, args, None)
}

/// [`calibration`] with the static-scale rule `rule` (`None`: [`default_calib_rule`]).
pub fn calibration_with(
    loaded: &Loaded,
    args: &FwOptions,
    rule: Option<CalibRule>,
) -> Result<Option<Calibration>> {
    let Some(path) = &args.calib else {
        return Ok(None);
    };
    let cal = calibrate_file(loaded, path)?;
    apply_rule(cal, loaded, args, rule).map(Some)
}

/// The static-scale rule used when none is asked for: [`CalibRule::Mse`] for activation codes
/// narrower than 8 bits (`Q < 127`), where it raised the measured static firmware AUC, and
/// [`CalibRule::Quantile`] at 8 bits, where it kept more agreement with the float model
/// (docs/arithmetic.md §Calibration).
pub fn default_calib_rule(profile: &Profile) -> CalibRule {
    if profile.act_qmax < 127 {
        CalibRule::Mse
    } else {
        CalibRule::Quantile
    }
}

/// Sets `cal`'s static scales by `rule` (`None`: [`default_calib_rule`]) with
/// `args.calib_quantile`, after checking the quantile is in (0, 1].
pub fn apply_rule(
    cal: Calibration,
    loaded: &Loaded,
    args: &FwOptions,
    rule: Option<CalibRule>,
) -> Result<Calibration> {
    let q = args.calib_quantile;
    if !(q > 0.0 && q <= 1.0) {
        return Err(Error::Usage(format!(
            "--calib-quantile {q}: must be in (0, 1]"
        )));
    }
    let p = &loaded.model.profile;
    Ok(cal.with_rule(rule.unwrap_or_else(|| default_calib_rule(p)), q, p))
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

#[cfg(test)]
mod tests {
    use super::default_calib_rule;
    use crate::ir::profile::{Profile, ProfileName};
    use crate::pass::calibrate::CalibRule;

    #[test]
    fn default_rule_is_mse_only_below_8_bit_codes() {
        for (b, want) in [
            (8, CalibRule::Quantile),
            (6, CalibRule::Mse),
            (3, CalibRule::Mse),
        ] {
            for name in [ProfileName::Bithep, ProfileName::MsB158] {
                let mut p = Profile::named(name);
                p.set_act_bits(b).unwrap();
                assert_eq!(default_calib_rule(&p), want, "{name:?} b = {b}");
            }
        }
    }
}
