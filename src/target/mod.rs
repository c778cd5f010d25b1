//! The target description: FPGA parts and their capacities ([`parts`]), resource vectors and
//! implementation strategies. Backends and the estimator read it; it depends on nothing but serde.

pub mod parts;

use serde::Serialize;

pub use parts::{Part, PARTS};

/// FPGA resources of a design or of one layer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Resources {
    pub lut: u64,
    pub ff: u64,
    pub dsp: u64,
    /// 36 Kb block RAMs.
    pub bram: u64,
}

impl std::ops::Add for Resources {
    type Output = Resources;
    fn add(self, o: Resources) -> Resources {
        Resources {
            lut: self.lut + o.lut,
            ff: self.ff + o.ff,
            dsp: self.dsp + o.dsp,
            bram: self.bram + o.bram,
        }
    }
}

/// Implementation strategy (DESIGN.md §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// II = 1: weights are constants, each output an add/subtract tree over its non-zero inputs.
    Latency,
    /// II = reuse: ternary weights as 2-bit lanes in ROM, decoded to add/subtract/skip.
    Resource,
}

impl crate::choice::Choice for Strategy {
    const ALL: &'static [Strategy] = &[Strategy::Latency, Strategy::Resource];
    fn name(self) -> &'static str {
        self.as_str()
    }
    fn help(self) -> &'static str {
        match self {
            Strategy::Latency => "II = 1: weights are constants, each output an add/subtract tree",
            Strategy::Resource => "II = reuse: ternary weights as 2-bit lanes in ROM",
        }
    }
}

impl Strategy {
    pub fn as_str(&self) -> &'static str {
        match self {
            Strategy::Latency => "latency",
            Strategy::Resource => "resource",
        }
    }
}
