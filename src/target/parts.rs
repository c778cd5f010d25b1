//! The FPGA parts bit2hls knows: Vivado names and resource capacities.
//!
//! Capacities are the device totals of the Xilinx/AMD product tables (DS890 for UltraScale+,
//! DS180 for 7 series): CLB LUTs, CLB flip-flops, DSP slices and 36 Kb block RAMs (UltraRAM is
//! not counted). A part can be named by its full Vivado name (`xcvu9p-flga2104-2L-e`) or by its
//! device name (`xcvu9p`), in any letter case.

use super::Resources;
use serde::Serialize;
use thiserror::Error;

/// One FPGA part and its capacity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Part {
    /// Full Vivado part name (device, package, speed grade, temperature), e.g. `xcvu9p-flga2104-2L-e`.
    pub name: &'static str,
    /// Device name without package and speed grade, e.g. `xcvu9p`.
    pub short: &'static str,
    /// Device family, e.g. `Virtex UltraScale+`.
    pub family: &'static str,
    /// CLB LUTs.
    pub lut: u64,
    /// CLB flip-flops.
    pub ff: u64,
    /// DSP slices (DSP48E2 on UltraScale+, DSP48E1 on 7 series).
    pub dsp: u64,
    /// 36 Kb block RAMs.
    pub bram36: u64,
}

impl Part {
    /// The capacity as [`Resources`] (`bram` counts 36 Kb blocks, as in estimates).
    pub fn capacity(&self) -> Resources {
        Resources {
            lut: self.lut,
            ff: self.ff,
            dsp: self.dsp,
            bram: self.bram36,
        }
    }
}

/// The known parts. The first one is the default.
pub const PARTS: &[Part] = &[
    Part {
        name: "xcvu9p-flga2104-2L-e",
        short: "xcvu9p",
        family: "Virtex UltraScale+",
        lut: 1_182_240,
        ff: 2_364_480,
        dsp: 6_840,
        bram36: 2_160,
    },
    Part {
        name: "xcvu13p-flga2577-2-e",
        short: "xcvu13p",
        family: "Virtex UltraScale+",
        lut: 1_728_000,
        ff: 3_456_000,
        dsp: 12_288,
        bram36: 2_688,
    },
    Part {
        name: "xcku15p-ffva1760-2-e",
        short: "xcku15p",
        family: "Kintex UltraScale+",
        lut: 522_720,
        ff: 1_045_440,
        dsp: 1_968,
        bram36: 984,
    },
    Part {
        name: "xczu9eg-ffvb1156-2-e",
        short: "xczu9eg",
        family: "Zynq UltraScale+",
        lut: 274_080,
        ff: 548_160,
        dsp: 2_520,
        bram36: 912,
    },
    Part {
        name: "xc7vx690t-ffg1761-2",
        short: "xc7vx690t",
        family: "Virtex-7",
        lut: 433_200,
        ff: 866_400,
        dsp: 3_600,
        bram36: 1_470,
    },
];

/// Full name of the default part (the VU9P of hls4ml's examples and of many L1 trigger boards).
pub const DEFAULT_PART: &str = "xcvu9p-flga2104-2L-e";

/// The part named [`DEFAULT_PART`].
pub fn default_part() -> &'static Part {
    &PARTS[0]
}

/// A part name that is not in [`PARTS`].
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum PartError {
    #[error("unknown part '{part}'; known parts: {known}")]
    Unknown {
        /// The name as given.
        part: String,
        /// The known parts, `full (short)`, comma-separated.
        known: String,
    },
}

/// The known parts as `full (short)`, comma-separated, for error messages.
pub fn known_parts() -> String {
    PARTS
        .iter()
        .map(|p| format!("{} ({})", p.name, p.short))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Finds a part by its full Vivado name or its short device name, ignoring letter case and
/// surrounding white space.
pub fn lookup(name: &str) -> Result<&'static Part, PartError> {
    let n = name.trim();
    PARTS
        .iter()
        .find(|p| p.name.eq_ignore_ascii_case(n) || p.short.eq_ignore_ascii_case(n))
        .ok_or_else(|| PartError::Unknown {
            part: name.to_string(),
            known: known_parts(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_part_is_first_and_found() {
        assert_eq!(default_part().name, DEFAULT_PART);
        assert_eq!(lookup(DEFAULT_PART).unwrap(), default_part());
    }

    #[test]
    fn full_and_short_names_any_case() {
        for p in PARTS {
            assert_eq!(lookup(p.name).unwrap(), p);
            assert_eq!(lookup(p.short).unwrap(), p);
            assert_eq!(lookup(&p.name.to_uppercase()).unwrap(), p);
            assert_eq!(lookup(&format!(" {} ", p.short.to_uppercase())).unwrap(), p);
        }
        assert_eq!(lookup("XCKU15P").unwrap().lut, 522_720);
    }

    #[test]
    fn names_are_unique_and_short_is_a_prefix() {
        for (i, a) in PARTS.iter().enumerate() {
            assert!(a.name.starts_with(a.short), "{}", a.name);
            assert!(
                a.name.as_bytes().get(a.short.len()) == Some(&b'-'),
                "{}",
                a.name
            );
            for b in &PARTS[i + 1..] {
                assert!(!a.short.eq_ignore_ascii_case(b.short));
            }
        }
    }

    #[test]
    fn capacities_are_consistent() {
        for p in PARTS {
            // Every CLB of these families has 8 LUTs and 16 flip-flops.
            assert_eq!(p.ff, 2 * p.lut, "{}", p.name);
            assert!(p.dsp > 0 && p.bram36 > 0);
            assert_eq!(
                p.capacity(),
                Resources {
                    lut: p.lut,
                    ff: p.ff,
                    dsp: p.dsp,
                    bram: p.bram36
                }
            );
        }
    }

    #[test]
    fn unknown_part_lists_known_ones() {
        let e = lookup("xc7z020clg400-1").unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.starts_with("unknown part 'xc7z020clg400-1'; known parts: "),
            "{msg}"
        );
        for p in PARTS {
            assert!(
                msg.contains(p.name) && msg.contains(&format!("({})", p.short)),
                "{msg}"
            );
        }
        assert!(lookup("").is_err());
        // A prefix of a short name is not a name.
        assert!(lookup("xcvu").is_err());
    }
}
