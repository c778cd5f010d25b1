//! Resource and latency estimates for a named part and clock, and the trigger verdict.
//!
//! The numbers come from the RTL netlist the Verilog backend would emit
//! ([`crate::back::rtl`]), costed per primitive with coefficients calibrated against Yosys
//! (docs/estimate.md). `parts` holds the device table, `verdict` the 40 MHz trigger check.

pub mod cmvm;
pub mod cost;
pub mod design;
pub mod fit;
pub mod scaling;
pub mod verdict;

use serde::Serialize;

pub use crate::target::Resources;

/// Which generated design an estimate describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    /// The Verilog RTL of `compile --backend verilog` (calibrated against Yosys).
    Verilog,
    /// The HLS C++ project (derived from the RTL netlist; not checked against Vitis HLS).
    Hls,
}

impl crate::choice::Choice for Backend {
    const ALL: &'static [Backend] = &[Backend::Verilog, Backend::Hls];
    fn name(self) -> &'static str {
        self.as_str()
    }
    fn help(self) -> &'static str {
        match self {
            Backend::Verilog => "the Verilog RTL (calibrated against Yosys)",
            Backend::Hls => {
                "the HLS C++ project (derived from the RTL netlist; not checked against Vitis HLS)"
            }
        }
    }
}

impl Backend {
    pub fn as_str(&self) -> &'static str {
        match self {
            Backend::Verilog => "verilog",
            Backend::Hls => "hls",
        }
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
    /// Ternary stages: adders (and negations) of the sums, and their depth in adder levels
    /// (0 for other stages and for the HLS resource strategy).
    pub adders: u64,
    pub adder_depth: u32,
    /// Verilog: the stage's quantizers and requantizers built as threshold comparisons
    /// (`--requant-circuit`).
    pub threshold_requantizers: u64,
}

/// Estimate of a whole design.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Estimate {
    pub backend: Backend,
    /// "latency" or "resource".
    pub strategy: &'static str,
    /// Activation mode of the firmware.
    pub mode: crate::ir::firmware::Mode,
    /// Full part name (as in [`crate::target::PARTS`]).
    pub part: &'static str,
    pub clock_ns: f64,
    pub layers: Vec<LayerEstimate>,
    /// Resources of the layers plus the design's own (I/O registers, valid pipeline).
    pub total: Resources,
    pub latency_cycles: u32,
    pub latency_ns: f64,
    /// Initiation interval in cycles (1 for the RTL and the latency strategy).
    pub ii: u32,
    /// Verilog: adder levels used in each pipeline stage (of `adders_per_stage`); empty for
    /// HLS estimates (Vitis schedules those).
    pub stage_levels: Vec<u32>,
}

/// Resources of summed features under the calibrated coefficients.
pub fn resources(f: &cost::Features) -> Resources {
    Resources {
        lut: cost::COEFFS.lut(f).round() as u64,
        ff: f.ff.round() as u64,
        dsp: f.dsp.round() as u64,
        bram: 0,
    }
}

/// Parses a clock given as a period (`5`, `5ns`, `4.0 ns`) or a frequency (`200MHz`, `0.2GHz`);
/// returns the period in ns.
pub fn parse_clock(s: &str) -> Result<f64, String> {
    let t = s.trim().to_ascii_lowercase().replace(' ', "");
    let (num, mul_ns): (&str, Option<f64>) = if let Some(v) = t.strip_suffix("mhz") {
        (v, None)
    } else if let Some(v) = t.strip_suffix("ghz") {
        (v, Some(-1.0))
    } else if let Some(v) = t.strip_suffix("ns") {
        (v, Some(1.0))
    } else {
        (t.as_str(), Some(1.0))
    };
    let v: f64 = num.parse().map_err(|_| {
        format!("--clock '{s}': expected a period (5, 5ns) or a frequency (200MHz)")
    })?;
    let ns = match mul_ns {
        None => 1000.0 / v,
        Some(m) if m < 0.0 => 1.0 / v,
        Some(_) => v,
    };
    if !(ns.is_finite() && ns > 0.0 && ns <= 1000.0) {
        return Err(format!("--clock '{s}': the period must be in (0, 1000] ns"));
    }
    Ok(ns)
}

#[cfg(test)]
mod tests {
    use super::parse_clock;

    #[test]
    fn clocks() {
        assert_eq!(parse_clock("5").unwrap(), 5.0);
        assert_eq!(parse_clock("4ns").unwrap(), 4.0);
        assert_eq!(parse_clock("200MHz").unwrap(), 5.0);
        assert_eq!(parse_clock("0.25 GHz").unwrap(), 4.0);
        assert!(parse_clock("0MHz").is_err());
        assert!(parse_clock("fast").is_err());
        assert!(parse_clock("-3").is_err());
    }
}
