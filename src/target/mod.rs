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

/// How the circuit of a ternary layer is built: its sums as trees or a shared graph (and for
/// the shared graph how many adder levels an output may have beyond its plain tree's
/// `⌈log2 nnz⌉`), and the circuit of its static requantizers. Never changes a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct AdderOptions {
    pub adders: Adders,
    /// `None`: no cap (fewest adders); `Some(0)`: no output deeper than its plain tree.
    pub max_extra_depth: Option<u32>,
    /// The circuit of each static quantizer and fused requantizer (Verilog backend).
    pub requant: RequantCircuit,
}

/// The circuit of a static quantizer or fused requantizer `clamp(rnd(a·E + H, s), lo, hi)`,
/// a monotone map of `a` onto a few codes (docs/rtl.md, "Threshold requantizers"). Exact
/// either way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RequantCircuit {
    /// The constant multiply (shift-and-add or DSP, `--const-mul`), the rounding and the clamp.
    Multiply,
    /// One comparison of `a` with a constant per code step that `a`'s proven range can reach,
    /// and an encoder (FINN's MultiThreshold).
    Thresholds,
    /// Thresholds where they are estimated to take fewer LUTs ([`thresholds_cheaper`]).
    #[default]
    Auto,
}

impl crate::choice::Choice for RequantCircuit {
    const ALL: &'static [RequantCircuit] = &[
        RequantCircuit::Auto,
        RequantCircuit::Multiply,
        RequantCircuit::Thresholds,
    ];
    fn name(self) -> &'static str {
        match self {
            RequantCircuit::Multiply => "multiply",
            RequantCircuit::Thresholds => "thresholds",
            RequantCircuit::Auto => "auto",
        }
    }
    fn help(self) -> &'static str {
        match self {
            RequantCircuit::Multiply => "constant multiply, rounding and clamp",
            RequantCircuit::Thresholds => {
                "one comparison per reachable code step and an encoder (MultiThreshold)"
            }
            RequantCircuit::Auto => "thresholds where they are estimated to be smaller",
        }
    }
}

/// Whether [`RequantCircuit::Auto`] builds a requantizer with `n` thresholds (code steps its
/// input's range reaches) as threshold comparisons. An empirical rule, measured with Yosys on
/// `qg_mlp_tiny` and `qg_sparse_b6_small` at b = 3, 4, 6 and 8, with and without a power-of-two
/// input scale (docs/rtl.md, "Threshold requantizers"):
/// - a fused requantizer (`fused`: a hidden layer's accumulator into the next layer's codes):
///   thresholds took fewer LUTs at 3–31 steps (8–15 LUT less each) and many more at 127 steps
///   (b = 8: about 200 LUT more each); with a limit of 63, three of `qg_mlp`'s requantizers
///   (two above 31 steps) became thresholds and the design 133 LUT larger, so up to 31 steps;
/// - a static quantizer of the network's inputs (16-bit values, a constant of `digits` signed
///   digits): thresholds took fewer LUTs only at 7 steps with a full-precision constant (38 LUT
///   less each), more at 15 steps (15 more) and at any count when the constant is a power of two
///   (`digits` = 1: a rounding shift and a clamp, 16–130 LUT less than thresholds), so up to 7
///   steps with at least 3 digits.
pub fn thresholds_cheaper(n: usize, digits: u32, fused: bool) -> bool {
    if fused {
        n <= 31
    } else {
        n <= 7 && digits >= 3
    }
}

impl Default for AdderOptions {
    fn default() -> Self {
        AdderOptions {
            adders: Adders::Shared,
            max_extra_depth: Some(0),
            requant: RequantCircuit::default(),
        }
    }
}
