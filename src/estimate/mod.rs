//! Resource and latency estimates for a named part and clock, and the trigger verdict.
//!
//! The numbers come from the RTL netlist the Verilog backend would emit
//! ([`crate::back::rtl`]), costed per primitive with coefficients calibrated against Yosys
//! (docs/estimate.md). `parts` holds the device table, `verdict` the 40 MHz trigger check.

pub mod cmvm;
pub mod parts;
pub mod verdict;

use serde::Serialize;

/// Which generated design an estimate describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    /// The Verilog RTL of `compile --backend verilog` (calibrated against Yosys).
    Verilog,
    /// The HLS C++ project (derived from the RTL netlist; not checked against Vitis HLS).
    Hls,
}

impl Backend {
    pub fn as_str(&self) -> &'static str {
        match self {
            Backend::Verilog => "verilog",
            Backend::Hls => "hls",
        }
    }
}

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
        Resources { lut: self.lut + o.lut, ff: self.ff + o.ff, dsp: self.dsp + o.dsp, bram: self.bram + o.bram }
    }
}

/// Estimate of one firmware stage.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LayerEstimate {
    /// Stage index in the firmware.
    pub index: usize,
    /// Name of the float layer the stage computes.
    pub name: String,
    /// "ternary", "dense" or "affine".
    pub kind: &'static str,
    pub n_in: usize,
    pub n_out: usize,
    pub resources: Resources,
    /// Clock cycles this stage adds to the latency.
    pub latency_cycles: u32,
    /// Initiation interval of the stage in cycles.
    pub ii: u32,
}

/// Estimate of a whole design.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Estimate {
    pub backend: Backend,
    /// "latency" or "resource".
    pub strategy: &'static str,
    /// Activation mode of the firmware.
    pub mode: crate::ir::firmware::Mode,
    /// Full part name (as in [`parts::PARTS`]).
    pub part: &'static str,
    pub clock_ns: f64,
    pub layers: Vec<LayerEstimate>,
    /// Resources of the layers plus the design's own (I/O registers, valid pipeline).
    pub total: Resources,
    pub latency_cycles: u32,
    pub latency_ns: f64,
    /// Initiation interval in cycles (1 for the RTL and the latency strategy).
    pub ii: u32,
}
