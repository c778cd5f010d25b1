//! The FPGA parts `compile` accepts (names as Vivado spells them).

use super::error::HlsError;

/// `(part, family, LUT, FF, DSP, BRAM36)`.
pub const PARTS: &[(&str, &str, u32, u32, u32, u32)] = &[
    ("xcvu9p-flga2104-2L-e", "Virtex UltraScale+", 1_182_240, 2_364_480, 6_840, 2_160),
    ("xcvu13p-flga2577-2-e", "Virtex UltraScale+", 1_728_000, 3_456_000, 12_288, 2_688),
    ("xcku15p-ffva1760-2-e", "Kintex UltraScale+", 522_720, 1_045_440, 1_968, 984),
    ("xczu9eg-ffvb1156-2-e", "Zynq UltraScale+", 274_080, 548_160, 2_520, 912),
    ("xc7vx690t-ffg1761-2", "Virtex-7", 433_200, 866_400, 3_600, 1_470),
];

pub const DEFAULT_PART: &str = "xcvu9p-flga2104-2L-e";

/// Checks `part` against the table.
pub fn check(part: &str) -> Result<&'static str, HlsError> {
    PARTS.iter().find(|p| p.0 == part).map(|p| p.1).ok_or_else(|| HlsError::UnknownPart {
        part: part.to_string(),
        known: PARTS.iter().map(|p| p.0).collect::<Vec<_>>().join(", "),
    })
}
