//! The float semantics profile: which BitLinear variant the float model computes
//! (reference decisions D1–D12). Recorded in the IR and printed in every report.

use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// Named profiles. Each sets every field of [`Profile`] at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProfileName {
    /// BitHEP `BitLinear158b`: eps 1e-8, `W/β`, scale 127, clamp [-128,127].
    Bithep,
    /// Microsoft b1.58 FAQ / 1bitLLM: eps 1e-5, `W·(1/β)`, scale 127, clamp [-128,127].
    MsB158,
    /// kyegomez `bitnet` 0.2.5 `BitLinear`: binary `sign(W − mean W)·mean|W|`, parameter-free
    /// SimpleRMSNorm in the layer, scale 127, clamp [-128,127], bias saved but never used.
    Kyegomez,
    /// schneiderkamplab `bitlinear` 2.4.6 `BitLinear` defaults: ternary with β = median|W|,
    /// parameter-free LayerNorm in the layer, scale 128, clamp [-128,127], bias added before
    /// dequantization.
    Schneiderkamp,
}

impl ProfileName {
    pub const ALL: [ProfileName; 4] = [
        ProfileName::Bithep,
        ProfileName::MsB158,
        ProfileName::Kyegomez,
        ProfileName::Schneiderkamp,
    ];
}

impl fmt::Display for ProfileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(crate::choice::Choice::name(*self))
    }
}

impl FromStr for ProfileName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        ProfileName::ALL
            .into_iter()
            .find(|p| p.to_string() == s)
            .ok_or_else(|| {
                format!("unknown profile '{s}' (known: bithep, ms-b158, kyegomez, schneiderkamp)")
            })
    }
}

/// How the weight is divided by β before rounding (D9).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WeightDiv {
    /// `W / β` (BitHEP).
    Divide,
    /// `W * (1/β)` (FAQ, Hugging Face).
    MulReciprocal,
}

/// How the activation scale `Q / m` is evaluated in f32 (D12, reference §9).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActScaleOp {
    /// `Q * (1/m)`: what PyTorch does for `scalar / tensor` (two roundings).
    TorchReciprocal,
    /// `Q / m`, correctly rounded.
    Divide,
}

/// How the float master weight becomes codes and the scale β (D1, D2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WeightQuant {
    /// `β = max(mean|W|, eps_w)`, `codes = clamp(round(W/β), -1, 1)` (BitNet b1.58).
    AbsMeanTernary,
    /// `β = max(median|W|, eps_w)` (PyTorch's lower median), `codes = clamp(round(W·(1/β)), -1, 1)`.
    AbsMedianTernary,
    /// `β = mean|W|` (no eps), `codes = sign(W − mean W)` (0 only where `W` equals the f32 mean).
    SignBinary,
}

/// The parameter-free normalization a BitLinear applies to its input before quantization.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InNorm {
    /// None: the layer quantizes its input as is.
    None,
    /// zeta `SimpleRMSNorm`: `F.normalize(x, dim=-1)·K^-1/2` (L2 norm clamped at `eps_norm`).
    SimpleRms,
    /// `torch.layer_norm(x, [K])` without affine parameters: `(x − mean)/sqrt(var + eps_norm)`.
    LayerNorm,
}

/// Where (and whether) the layer's bias enters the output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BiasMode {
    /// `y = dequant(acc) + b` (BitHEP, b1.58 FAQ).
    AfterDequant,
    /// `y = (acc + b) / (s_w·s_x)`: the bias is added to the integer accumulator's float value.
    BeforeDequant,
    /// The bias tensor is stored but the forward pass never reads it (kyegomez `bitnet`).
    Unused,
}

/// The complete float semantics of a BitLinear layer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Profile {
    pub name: ProfileName,
    /// Activation scale numerator Q (127 or 128; D3).
    pub act_qmax: i32,
    /// Activation code clamp range (D3).
    pub act_clamp: (i32, i32),
    /// eps in `m = max(max|x|, eps)` (clamp style, D4).
    pub eps_act: f32,
    /// eps in `β = max(mean|W|, eps)` (clamp style, D4).
    pub eps_w: f32,
    pub weight_div: WeightDiv,
    pub act_scale_op: ActScaleOp,
    pub weight_quant: WeightQuant,
    pub in_norm: InNorm,
    /// eps of the input normalization (L2 clamp or variance eps; unused without one).
    pub eps_norm: f32,
    pub bias: BiasMode,
}

/// Largest activation code magnitude an override may ask for (the IR validator's bound).
const MAX_ACT_CODE: i32 = 1 << 15;

/// Per-decision overrides of a named profile (each `None` keeps the profile's choice; the
/// command line's `--act-qmax`, `--eps-act`, ... in [`crate::cli`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProfileOverrides {
    /// Activation bits b (BitHEP's `b`): sets Q and the clamp at once, Q = 2^(b-1) − 1 (or
    /// 2^(b-1) under a profile whose Q is a power of two) and clamp [−2^(b-1), 2^(b-1) − 1].
    /// Applied before `act_qmax` and `act_clamp`, which refine it.
    pub act_bits: Option<u32>,
    /// Activation scale numerator Q (D3): 127 (BitNet FAQ, BitHEP) or 128 (paper Q_b = 2^(b-1)).
    pub act_qmax: Option<i32>,
    /// Activation code clamp range [lo, hi] (D3).
    pub act_clamp: Option<(i32, i32)>,
    /// Symmetric activation clamp [-hi, hi] ([-127, 127] instead of [-128, 127] at 8 bits; D3).
    pub act_clamp_symmetric: bool,
    /// eps of the activation absmax clamp (D4).
    pub eps_act: Option<f32>,
    /// eps of the weight mean|W| clamp (D4).
    pub eps_w: Option<f32>,
    /// W / β or W · (1/β) (D9).
    pub weight_div: Option<WeightDiv>,
    /// How PyTorch evaluates Q / m (D12).
    pub act_scale_op: Option<ActScaleOp>,
}

impl crate::choice::Choice for ProfileName {
    const ALL: &'static [ProfileName] = &ProfileName::ALL;
    fn name(self) -> &'static str {
        match self {
            ProfileName::Bithep => "bithep",
            ProfileName::MsB158 => "ms-b158",
            ProfileName::Kyegomez => "kyegomez",
            ProfileName::Schneiderkamp => "schneiderkamp",
        }
    }
    fn help(self) -> &'static str {
        match self {
            ProfileName::Bithep => "BitHEP BitLinear158b: eps 1e-8, W/β, scale 127, clamp [-128,127]",
            ProfileName::MsB158 => "Microsoft b1.58 FAQ / 1bitLLM: eps 1e-5, W·(1/β), scale 127",
            ProfileName::Kyegomez => {
                "kyegomez bitnet 0.2.5: binary weights, in-layer SimpleRMSNorm, bias unused"
            }
            ProfileName::Schneiderkamp => {
                "schneiderkamplab bitlinear 2.4.6: median β, in-layer LayerNorm, scale 128, bias before dequantization"
            }
        }
    }
}

impl crate::choice::Choice for WeightDiv {
    const ALL: &'static [WeightDiv] = &[WeightDiv::Divide, WeightDiv::MulReciprocal];
    fn name(self) -> &'static str {
        match self {
            WeightDiv::Divide => "divide",
            WeightDiv::MulReciprocal => "mul-reciprocal",
        }
    }
    fn help(self) -> &'static str {
        match self {
            WeightDiv::Divide => "W / β (BitHEP)",
            WeightDiv::MulReciprocal => "W · (1/β) (FAQ, Hugging Face)",
        }
    }
}

impl crate::choice::Choice for ActScaleOp {
    const ALL: &'static [ActScaleOp] = &[ActScaleOp::TorchReciprocal, ActScaleOp::Divide];
    fn name(self) -> &'static str {
        match self {
            ActScaleOp::TorchReciprocal => "torch-reciprocal",
            ActScaleOp::Divide => "divide",
        }
    }
    fn help(self) -> &'static str {
        match self {
            ActScaleOp::TorchReciprocal => "Q · (1/m): what PyTorch does for scalar / tensor",
            ActScaleOp::Divide => "Q / m, correctly rounded",
        }
    }
}

impl Profile {
    /// Applies overrides; returns an error message for values out of range or overrides that the
    /// profile has no use for.
    pub fn with(mut self, o: &ProfileOverrides) -> Result<Profile, String> {
        if self.weight_quant == WeightQuant::SignBinary
            && (o.eps_w.is_some() || o.weight_div.is_some())
        {
            return Err(format!(
                "--eps-w and --weight-div have no effect under profile {}: its binary weights are \
                 sign(W - mean W) with beta = mean|W| (no eps, no division)",
                self.name
            ));
        }
        if let Some(b) = o.act_bits {
            self.set_act_bits(b)?;
        }
        if let Some(q) = o.act_qmax {
            if !(1..=MAX_ACT_CODE).contains(&q) {
                return Err(format!("act_qmax {q}: must be 1..={MAX_ACT_CODE}"));
            }
            self.act_qmax = q;
        }
        if let Some((lo, hi)) = o.act_clamp {
            if !((-MAX_ACT_CODE..0).contains(&lo) && 0 < hi && hi <= MAX_ACT_CODE) {
                return Err(format!(
                    "act_clamp [{lo}, {hi}]: must have lo < 0 < hi, |bounds| ≤ {MAX_ACT_CODE}"
                ));
            }
            self.act_clamp = (lo, hi);
        }
        if o.act_clamp_symmetric {
            self.act_clamp = (-self.act_clamp.1, self.act_clamp.1);
        }
        for (name, v) in [("eps-act", o.eps_act), ("eps-w", o.eps_w)] {
            if let Some(v) = v {
                if !(v.is_finite() && v > 0.0) {
                    return Err(format!("--{name} {v}: must be a positive number"));
                }
            }
        }
        if let Some(v) = o.eps_act {
            self.eps_act = v;
        }
        if let Some(v) = o.eps_w {
            self.eps_w = v;
        }
        if let Some(v) = o.weight_div {
            self.weight_div = v;
        }
        if let Some(v) = o.act_scale_op {
            self.act_scale_op = v;
        }
        Ok(self)
    }

    /// Sets Q and the clamp for `b` activation bits (see [`ProfileOverrides::act_bits`]): the
    /// clamp is the b-bit two's complement range, Q keeps the named profile's convention (127 →
    /// 2^(b-1) − 1, as BitHEP's Q_b; 128 → 2^(b-1), as `bitlinear`'s activation_range).
    pub fn set_act_bits(&mut self, b: u32) -> Result<(), String> {
        if !(2..=16).contains(&b) {
            return Err(format!("act_bits {b}: must be 2..=16"));
        }
        let half = 1i32 << (b - 1);
        // The convention of the named profile (not the current Q: 1 = 2^0 at b = 2 is ambiguous).
        let pow2 = Profile::named(self.name).act_qmax == 128;
        self.act_qmax = if pow2 { half } else { half - 1 };
        self.act_clamp = (-half, half - 1);
        Ok(())
    }

    pub fn named(name: ProfileName) -> Profile {
        match name {
            ProfileName::Bithep => Profile {
                name,
                act_qmax: 127,
                act_clamp: (-128, 127),
                eps_act: 1e-8,
                eps_w: 1e-8,
                weight_div: WeightDiv::Divide,
                act_scale_op: ActScaleOp::TorchReciprocal,
                weight_quant: WeightQuant::AbsMeanTernary,
                in_norm: InNorm::None,
                eps_norm: 0.0,
                bias: BiasMode::AfterDequant,
            },
            ProfileName::MsB158 => Profile {
                name,
                act_qmax: 127,
                act_clamp: (-128, 127),
                eps_act: 1e-5,
                eps_w: 1e-5,
                weight_div: WeightDiv::MulReciprocal,
                act_scale_op: ActScaleOp::TorchReciprocal,
                weight_quant: WeightQuant::AbsMeanTernary,
                in_norm: InNorm::None,
                eps_norm: 0.0,
                bias: BiasMode::AfterDequant,
            },
            // bitnet 0.2.5 bitnet/bitlinear.py: activation_quant (127 / clamp(max|x|, 1e-5)),
            // weight_quant (sign(w - w.mean()) * w.abs().mean()), SimpleRMSNorm(in_features)
            // from zetascale (F.normalize(x, dim=-1) * in_features**-0.5), F.linear without bias.
            ProfileName::Kyegomez => Profile {
                name,
                act_qmax: 127,
                act_clamp: (-128, 127),
                eps_act: 1e-5,
                eps_w: 0.0,
                weight_div: WeightDiv::Divide,
                act_scale_op: ActScaleOp::TorchReciprocal,
                weight_quant: WeightQuant::SignBinary,
                in_norm: InNorm::SimpleRms,
                eps_norm: 1e-12,
                bias: BiasMode::Unused,
            },
            // bitlinear 2.4.6 bitlinear/bitlinear.py defaults: eps 1e-5, weight_range 1.58 ->
            // (-1, 1), AbsMedian, activation_range 8 -> (-128, 127) so scale 128 / max|x|,
            // round_clamp, norm "LayerNorm" (torch.layer_norm, eps 1e-5), kernel F.linear with bias,
            // y = y_quant / (w_scale * x_scale).
            ProfileName::Schneiderkamp => Profile {
                name,
                act_qmax: 128,
                act_clamp: (-128, 127),
                eps_act: 1e-5,
                eps_w: 1e-5,
                weight_div: WeightDiv::MulReciprocal,
                act_scale_op: ActScaleOp::TorchReciprocal,
                weight_quant: WeightQuant::AbsMedianTernary,
                in_norm: InNorm::LayerNorm,
                eps_norm: 1e-5,
                bias: BiasMode::BeforeDequant,
            },
        }
    }

    /// Whether the firmware's outputs are the float model's outputs divided by a per-event
    /// positive factor (the in-layer norms; docs/semantics.md "Output units").
    pub fn output_per_event_scaled(&self) -> bool {
        self.in_norm != InNorm::None
    }

    /// One-line description for reports.
    pub fn describe(&self) -> String {
        let norm = match self.in_norm {
            InNorm::None => String::new(),
            InNorm::SimpleRms => format!("input x/max(|x|_2, {:e})/sqrt(K), ", self.eps_norm),
            InNorm::LayerNorm => format!("input layer_norm (eps {:e}), ", self.eps_norm),
        };
        let div = match self.weight_div {
            WeightDiv::Divide => "/",
            WeightDiv::MulReciprocal => "* 1/",
        };
        let weights = match self.weight_quant {
            WeightQuant::AbsMeanTernary => format!(
                "beta = max(mean|W|, {:e}), codes = clamp(round(W {div} beta), -1, 1)",
                self.eps_w
            ),
            WeightQuant::AbsMedianTernary => format!(
                "beta = max(median|W|, {:e}), codes = clamp(round(W {div} beta), -1, 1)",
                self.eps_w
            ),
            WeightQuant::SignBinary => "beta = mean|W|, codes = sign(W - mean W)".to_string(),
        };
        let bias = match self.bias {
            BiasMode::AfterDequant => "float bias after dequantization",
            BiasMode::BeforeDequant => "bias added before dequantization",
            BiasMode::Unused => "bias ignored (never used by the package)",
        };
        let units = if self.output_per_event_scaled() {
            "; firmware outputs in code units: PyTorch's output divided by the per-event max|x^| \
             of the last layer's normalized input (same signs and argmax)"
        } else {
            ""
        };
        format!(
            "{}: {norm}per-sample absmax, scale {}, clamp [{},{}], round half to even, eps_act {:e} (clamp), \
             {weights}, {bias}{units}",
            self.name, self.act_qmax, self.act_clamp.0, self.act_clamp.1, self.eps_act,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_useless_overrides_are_refused() {
        for p in ProfileName::ALL {
            assert_eq!(p.to_string().parse::<ProfileName>(), Ok(p));
            assert_eq!(Profile::named(p).name, p);
        }
        assert!("kyegomez-bitnet".parse::<ProfileName>().is_err());
        let eps = ProfileOverrides {
            eps_w: Some(1e-3),
            ..Default::default()
        };
        assert!(Profile::named(ProfileName::Kyegomez).with(&eps).is_err());
        let s = Profile::named(ProfileName::Schneiderkamp)
            .with(&eps)
            .unwrap();
        assert_eq!(s.eps_w, 1e-3);
    }

    #[test]
    fn act_bits_set_q_and_clamp_in_the_profiles_convention() {
        let bits = |name, b, q: Option<i32>, sym| {
            let o = ProfileOverrides {
                act_bits: Some(b),
                act_qmax: q,
                act_clamp_symmetric: sym,
                ..Default::default()
            };
            let p = Profile::named(name).with(&o).unwrap();
            (p.act_qmax, p.act_clamp)
        };
        let bithep = ProfileName::Bithep;
        assert_eq!(bits(bithep, 8, None, false), (127, (-128, 127)));
        assert_eq!(bits(bithep, 4, None, false), (7, (-8, 7)));
        assert_eq!(bits(bithep, 2, None, false), (1, (-2, 1)));
        assert_eq!(bits(bithep, 3, None, true), (3, (-3, 3)));
        assert_eq!(bits(bithep, 4, Some(8), false), (8, (-8, 7)));
        // b = 2 then b = 8 (a document's bits overridden on the command line): Q = 1 is not
        // taken for the power-of-two convention.
        let two = Profile::named(bithep)
            .with(&ProfileOverrides {
                act_bits: Some(2),
                ..Default::default()
            })
            .unwrap();
        let eight = ProfileOverrides {
            act_bits: Some(8),
            ..Default::default()
        };
        assert_eq!(two.with(&eight).unwrap().act_qmax, 127);
        assert_eq!(
            bits(ProfileName::Schneiderkamp, 4, None, false),
            (8, (-8, 7))
        );
        let bad_q = ProfileOverrides {
            act_qmax: Some(0),
            ..Default::default()
        };
        assert!(Profile::named(bithep).with(&bad_q).is_err());
        let bad_clamp = ProfileOverrides {
            act_clamp: Some((0, 7)),
            ..Default::default()
        };
        assert!(Profile::named(bithep).with(&bad_clamp).is_err());
        for b in [0, 1, 17] {
            let o = ProfileOverrides {
                act_bits: Some(b),
                ..Default::default()
            };
            let e = Profile::named(bithep).with(&o).unwrap_err();
            assert!(e.contains("act_bits"), "{e}");
        }
    }
}
