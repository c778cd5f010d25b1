//! The float semantics profile: which BitLinear variant the float model computes
//! (reference decisions D1–D12). Recorded in the IR and printed in every report.

use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// Named profiles. Each sets every field of [`Profile`] at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum ProfileName {
    /// BitHEP `BitLinear158b`: eps 1e-8, `W/β`, scale 127, clamp [-128,127].
    Bithep,
    /// Microsoft b1.58 FAQ / 1bitLLM: eps 1e-5, `W·(1/β)`, scale 127, clamp [-128,127].
    MsB158,
}

impl fmt::Display for ProfileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProfileName::Bithep => "bithep",
            ProfileName::MsB158 => "ms-b158",
        })
    }
}

impl FromStr for ProfileName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "bithep" => Ok(ProfileName::Bithep),
            "ms-b158" => Ok(ProfileName::MsB158),
            _ => Err(format!("unknown profile '{s}' (known: bithep, ms-b158)")),
        }
    }
}

/// How the weight is divided by β before rounding (D9).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum WeightDiv {
    /// `W / β` (BitHEP).
    Divide,
    /// `W * (1/β)` (FAQ, Hugging Face).
    MulReciprocal,
}

/// How the activation scale `Q / m` is evaluated in f32 (D12, reference §9).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum ActScaleOp {
    /// `Q * (1/m)`: what PyTorch does for `scalar / tensor` (two roundings).
    TorchReciprocal,
    /// `Q / m`, correctly rounded.
    Divide,
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
}

/// Per-decision overrides of a named profile (each `None` keeps the profile's choice).
#[derive(Clone, Debug, Default, PartialEq, clap::Args)]
pub struct ProfileOverrides {
    /// Activation scale numerator Q (D3): 127 (BitNet FAQ, BitHEP) or 128 (paper Q_b = 2^(b-1)).
    #[arg(long, value_parser = clap::value_parser!(i32).range(127..=128))]
    pub act_qmax: Option<i32>,
    /// Symmetric activation clamp [-127, 127] instead of [-128, 127] (D3).
    #[arg(long)]
    pub act_clamp_symmetric: bool,
    /// eps of the activation absmax clamp (D4).
    #[arg(long)]
    pub eps_act: Option<f32>,
    /// eps of the weight mean|W| clamp (D4).
    #[arg(long)]
    pub eps_w: Option<f32>,
    /// W / β or W · (1/β) (D9).
    #[arg(long, value_enum)]
    pub weight_div: Option<WeightDiv>,
    /// How PyTorch evaluates Q / m (D12).
    #[arg(long, value_enum)]
    pub act_scale_op: Option<ActScaleOp>,
}

impl Profile {
    /// Applies overrides; returns an error message for values out of range.
    pub fn with(mut self, o: &ProfileOverrides) -> Result<Profile, String> {
        if let Some(q) = o.act_qmax {
            self.act_qmax = q;
        }
        if o.act_clamp_symmetric {
            self.act_clamp = (-127, 127);
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
            },
            ProfileName::MsB158 => Profile {
                name,
                act_qmax: 127,
                act_clamp: (-128, 127),
                eps_act: 1e-5,
                eps_w: 1e-5,
                weight_div: WeightDiv::MulReciprocal,
                act_scale_op: ActScaleOp::TorchReciprocal,
            },
        }
    }

    /// One-line description for reports.
    pub fn describe(&self) -> String {
        format!(
            "{}: per-sample absmax, scale {}, clamp [{},{}], round half to even, eps_act {:e} (clamp), \
             beta = max(mean|W|, {:e}), codes = clamp(round(W {} beta), -1, 1), float bias after dequantization",
            self.name,
            self.act_qmax,
            self.act_clamp.0,
            self.act_clamp.1,
            self.eps_act,
            self.eps_w,
            match self.weight_div {
                WeightDiv::Divide => "/",
                WeightDiv::MulReciprocal => "* 1/",
            }
        )
    }
}
