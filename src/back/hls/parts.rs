//! The FPGA parts `compile` accepts: a thin wrapper over the shared table
//! [`crate::estimate::parts`], with errors as [`HlsError`].

use super::error::HlsError;
use crate::estimate::parts as table;

pub use table::{Part, PARTS};

/// Full Vivado name of the default part.
pub const DEFAULT_PART: &str = table::DEFAULT_PART;

/// Checks `part` (full Vivado name or short device name, any case) against the table and returns
/// its family.
pub fn check(part: &str) -> Result<&'static str, HlsError> {
    lookup(part).map(|p| p.family)
}

/// The full Vivado name of `part` (full or short name, any case): what `set_part` needs.
pub fn full_name(part: &str) -> Result<&'static str, HlsError> {
    lookup(part).map(|p| p.name)
}

fn lookup(part: &str) -> Result<&'static Part, HlsError> {
    table::lookup(part).map_err(|e| match e {
        table::PartError::Unknown { part, known } => HlsError::UnknownPart { part, known },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_accepts_full_and_short_names() {
        assert_eq!(check(DEFAULT_PART).unwrap(), "Virtex UltraScale+");
        assert_eq!(check("xcku15p").unwrap(), "Kintex UltraScale+");
        assert_eq!(check("XC7VX690T").unwrap(), "Virtex-7");
        assert_eq!(full_name("xczu9eg").unwrap(), "xczu9eg-ffvb1156-2-e");
        let msg = check("xc7z020clg400-1").unwrap_err().to_string();
        assert!(
            msg.contains("unknown part 'xc7z020clg400-1'") && msg.contains("xc7vx690t-ffg1761-2"),
            "{msg}"
        );
    }
}
