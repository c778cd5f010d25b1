//! Xilinx cell types (as mapped by yosys `synth_xilinx`) grouped into the usual resource classes.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Resource counts derived from a cell-type histogram. Every count is a number of cells; a cell
/// type that fits no class (IBUF, OBUF, BUFG, INV, LUTRAM, ...) is only in the histogram.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Resources {
    /// LUT1..LUT6.
    pub lut: u64,
    /// "LUT1".."LUT6" → count, only the sizes present.
    pub lut_by_size: BTreeMap<String, u64>,
    /// Flip-flops: every `FD*` cell (FDRE, FDSE, FDCE, FDPE, and their `_1` variants).
    pub ff: u64,
    /// CARRY4 + CARRY8 (yosys 0.23 maps carries to CARRY4 even for UltraScale+).
    pub carry: u64,
    /// DSP slices: every `DSP*` cell (DSP48E1, DSP48E2, ...).
    pub dsp: u64,
    /// RAMB36* cells.
    pub bram36: u64,
    /// RAMB18* cells.
    pub bram18: u64,
    /// Block RAM in RAMB36 units: `bram36 + bram18 / 2`.
    pub bram: f64,
    /// MUXF7 + MUXF8 + MUXF9.
    pub muxf: u64,
    /// Shift-register LUTs: SRL16E, SRLC16E, SRLC32E.
    pub srl: u64,
}

impl Resources {
    /// Classifies a cell-type histogram.
    pub fn from_cells(cells: &BTreeMap<String, u64>) -> Resources {
        let mut r = Resources::default();
        for (ty, &n) in cells {
            let t = ty.as_str();
            if is_lut(t) {
                r.lut += n;
                *r.lut_by_size.entry(ty.clone()).or_insert(0) += n;
            } else if t.starts_with("FD") {
                r.ff += n;
            } else if t == "CARRY4" || t == "CARRY8" {
                r.carry += n;
            } else if t.starts_with("DSP") {
                r.dsp += n;
            } else if t.starts_with("RAMB36") {
                r.bram36 += n;
            } else if t.starts_with("RAMB18") {
                r.bram18 += n;
            } else if matches!(t, "MUXF7" | "MUXF8" | "MUXF9") {
                r.muxf += n;
            } else if matches!(t, "SRL16E" | "SRLC16E" | "SRLC32E") {
                r.srl += n;
            }
        }
        r.bram = r.bram36 as f64 + r.bram18 as f64 / 2.0;
        r
    }
}

fn is_lut(t: &str) -> bool {
    matches!(t, "LUT1" | "LUT2" | "LUT3" | "LUT4" | "LUT5" | "LUT6")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        let cells: BTreeMap<String, u64> = [
            ("LUT1", 1),
            ("LUT2", 2),
            ("LUT6", 3),
            ("LUT6_2", 100), // not a yosys cell; must not be taken for a LUT6
            ("FDRE", 4),
            ("FDSE", 5),
            ("FDCE", 6),
            ("FDPE", 7),
            ("CARRY4", 8),
            ("CARRY8", 9),
            ("DSP48E2", 10),
            ("RAMB36E2", 11),
            ("RAMB18E2", 3),
            ("MUXF7", 12),
            ("MUXF8", 13),
            ("SRLC32E", 14),
            ("SRL16E", 15),
            ("IBUF", 1000),
            ("INV", 1000),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
        let r = Resources::from_cells(&cells);
        assert_eq!(r.lut, 6);
        assert_eq!(r.lut_by_size.len(), 3);
        assert_eq!(r.ff, 4 + 5 + 6 + 7);
        assert_eq!(r.carry, 17);
        assert_eq!(r.dsp, 10);
        assert_eq!((r.bram36, r.bram18, r.bram), (11, 3, 12.5));
        assert_eq!(r.muxf, 25);
        assert_eq!(r.srl, 29);
    }
}
