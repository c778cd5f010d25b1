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

/// How the add/subtract trees of the ternary layers are built (latency strategy, both
/// backends). Exact either way: the choice changes the circuit, never a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Adders {
    /// One balanced tree per output over its non-zero inputs.
    Trees,
    /// Sub-sums `x_i ± x_j` shared across the outputs of a layer (common-subexpression
    /// elimination, `crate::cmvm`), docs/cmvm.md.
    Shared,
}

impl crate::choice::Choice for Adders {
    const ALL: &'static [Adders] = &[Adders::Shared, Adders::Trees];
    fn name(self) -> &'static str {
        match self {
            Adders::Trees => "trees",
            Adders::Shared => "shared",
        }
    }
    fn help(self) -> &'static str {
        match self {
            Adders::Trees => "one balanced add/subtract tree per output, no sharing",
            Adders::Shared => "share sub-sums across the outputs of a layer (fewer adders)",
        }
    }
}

/// The adder structure of the ternary layers: trees or a shared graph, and for the shared graph
/// how many adder levels an output may have beyond its plain tree's `⌈log2 nnz⌉`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct AdderOptions {
    pub adders: Adders,
    /// `None`: no cap (fewest adders); `Some(0)`: no output deeper than its plain tree.
    pub max_extra_depth: Option<u32>,
}

impl Default for AdderOptions {
    fn default() -> Self {
        AdderOptions {
            adders: Adders::Shared,
            max_extra_depth: Some(0),
        }
    }
}
