//! Pure parsers of Yosys 0.23 text output: `stat`, `ltp -noff`, and the warnings on stderr.
//!
//! The formats (captured in `testdata/`):
//!
//! ```text
//! === fixture_top ===
//!
//!    Number of wires:                 83
//!    ...
//!    Number of cells:                261
//!      BUFG                            1
//!      CARRY4                         16
//! ```
//!
//! one block per module, plus a `=== design hierarchy ===` block with the totals when the design
//! still has a hierarchy; and for `ltp`, one `Longest topological path in <module> (length=N):`
//! line per module, preceded by `Warning: Detected loop at ... in <module>` lines when the module
//! has a combinational loop (as seen by `ltp`, which walks through mapped flip-flops).

use super::error::ParseError;
use std::collections::BTreeMap;

/// The cells of one `stat` block.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatBlock {
    /// The `Number of cells:` line.
    pub cells_total: u64,
    /// Cell type → count; the counts sum to `cells_total` (checked by [`parse_stat`]).
    pub cells: BTreeMap<String, u64>,
}

/// Everything `stat` printed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stat {
    /// Module name → its own cells (submodule instances appear as cells of their module type).
    pub modules: BTreeMap<String, StatBlock>,
    /// The `design hierarchy` block (whole-design totals), when yosys printed one.
    pub hierarchy: Option<StatBlock>,
}

impl Stat {
    /// The whole design's cells under `top`: the hierarchy totals if yosys printed them (only
    /// when a hierarchy survived), else the block of `top`.
    pub fn design(&self, top: &str) -> Result<&StatBlock, ParseError> {
        if let Some(h) = &self.hierarchy {
            return Ok(h);
        }
        self.modules.get(top).ok_or_else(|| {
            if self.modules.is_empty() {
                ParseError(format!(
                    "stat printed no module at all (is the top module '{top}' empty? yosys drops empty modules)"
                ))
            } else {
                ParseError(format!(
                    "stat has no block for top module '{top}' (found: {})",
                    self.modules.keys().cloned().collect::<Vec<_>>().join(", ")
                ))
            }
        })
    }
}

const HIERARCHY: &str = "design hierarchy";

/// Parses the output of yosys 0.23 `stat` (as written by `tee -o FILE stat`).
///
/// Errors when a block has no `Number of cells:` line, a cell line is malformed, or the cell
/// counts of a block do not sum to its `Number of cells:` (which means the format is not the one
/// this parser knows).
pub fn parse_stat(text: &str) -> Result<Stat, ParseError> {
    let mut stat = Stat::default();
    // (name, block, in the cell list)
    let mut cur: Option<(String, Option<StatBlock>, bool)> = None;
    let finish = |stat: &mut Stat,
                  cur: Option<(String, Option<StatBlock>, bool)>|
     -> Result<(), ParseError> {
        let Some((name, block, _)) = cur else {
            return Ok(());
        };
        let block = block.ok_or_else(|| {
            ParseError(format!(
                "stat block '{name}' has no 'Number of cells:' line"
            ))
        })?;
        let sum: u64 = block.cells.values().sum();
        if sum != block.cells_total {
            return Err(ParseError(format!(
                "stat block '{name}': the cell counts sum to {sum}, but 'Number of cells:' says {}",
                block.cells_total
            )));
        }
        if name == HIERARCHY {
            stat.hierarchy = Some(block);
        } else if stat.modules.insert(name.clone(), block).is_some() {
            return Err(ParseError(format!(
                "stat has two blocks for module '{name}'"
            )));
        }
        Ok(())
    };
    for line in text.lines() {
        let t = line.trim();
        if let Some(name) = t.strip_prefix("=== ").and_then(|r| r.strip_suffix(" ===")) {
            finish(&mut stat, cur.take())?;
            cur = Some((name.to_string(), None, false));
            continue;
        }
        let Some((name, block, in_cells)) = cur.as_mut() else {
            continue;
        };
        if let Some(n) = t.strip_prefix("Number of cells:") {
            let n = n.trim();
            let total = n.parse::<u64>().map_err(|_| {
                ParseError(format!(
                    "stat block '{name}': 'Number of cells:' is followed by '{n}', not a count"
                ))
            })?;
            *block = Some(StatBlock {
                cells_total: total,
                cells: BTreeMap::new(),
            });
            *in_cells = true;
            continue;
        }
        if !*in_cells {
            continue;
        }
        if t.is_empty()
            || t.starts_with("Number of ")
            || t.starts_with("Chip area")
            || t.starts_with("Estimated ")
        {
            *in_cells = false;
            continue;
        }
        let mut it = t.split_whitespace();
        let (Some(ty), Some(count), None) = (it.next(), it.next(), it.next()) else {
            return Err(ParseError(format!(
                "stat block '{name}': cell line '{t}' is not '<type> <count>'"
            )));
        };
        let count = count.parse::<u64>().map_err(|_| {
            ParseError(format!(
                "stat block '{name}': cell line '{t}' is not '<type> <count>'"
            ))
        })?;
        let b = block.as_mut().expect("in_cells implies a block");
        *b.cells.entry(ty.to_string()).or_insert(0) += count;
    }
    finish(&mut stat, cur)?;
    Ok(stat)
}

/// The longest topological path `ltp` found in one module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LtpPath {
    /// Number of cells on the path (edges between its nodes; IBUF/OBUF included).
    pub length: u64,
    /// `ltp` warned about a loop in this module: the length is then not a meaningful depth.
    pub loop_detected: bool,
}

/// Parses the output of yosys 0.23 `ltp` (as written by `tee -o FILE ltp -noff`): module name →
/// its longest path. Errors when no `Longest topological path in` line is found or one is
/// malformed.
pub fn parse_ltp(text: &str) -> Result<BTreeMap<String, LtpPath>, ParseError> {
    const HEAD: &str = "Longest topological path in ";
    let mut out = BTreeMap::new();
    let mut loops = std::collections::BTreeSet::new();
    for line in text.lines() {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("Warning: Detected loop at ") {
            if let Some((_, module)) = rest.rsplit_once(" in ") {
                loops.insert(module.trim().to_string());
            }
            continue;
        }
        let Some(rest) = t.strip_prefix(HEAD) else {
            continue;
        };
        let bad = || {
            ParseError(format!(
                "ltp line '{t}' is not '{HEAD}<module> (length=<n>):'"
            ))
        };
        let (module, len) = rest.rsplit_once(" (length=").ok_or_else(bad)?;
        let len = len
            .strip_suffix("):")
            .ok_or_else(bad)?
            .parse::<u64>()
            .map_err(|_| bad())?;
        if out
            .insert(
                module.to_string(),
                LtpPath {
                    length: len,
                    loop_detected: false,
                },
            )
            .is_some()
        {
            return Err(ParseError(format!(
                "ltp printed two paths for module '{module}'"
            )));
        }
    }
    if out.is_empty() {
        return Err(ParseError(format!(
            "no '{HEAD}<module> (length=<n>):' line"
        )));
    }
    for m in loops {
        if let Some(p) = out.get_mut(&m) {
            p.loop_detected = true;
        }
    }
    Ok(out)
}

/// The distinct `Warning: ...` messages in yosys' stderr (or log), in order of first appearance,
/// without the `Warning: ` prefix. Also finds a warning glued to the end of another line (yosys
/// prints its closing `Warnings: N unique messages, M total` without a newline).
pub fn parse_warnings(text: &str) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for line in text.lines() {
        if let Some(i) = line.find("Warning: ") {
            let w = line[i + "Warning: ".len()..].trim();
            if !w.is_empty() && seen.insert(w.to_string()) {
                out.push(w.to_string());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    //! The fixtures are real yosys 0.23 output for `testdata/fixture.v` and `testdata/hier.v`
    //! (see `testdata/README.md`); the expected counts were read off them by hand.
    use super::*;

    const FIX_STAT: &str = include_str!("testdata/fixture.stat");
    const FIX_LTP: &str = include_str!("testdata/fixture.ltp");
    const FIX_LTP_COMB: &str = include_str!("testdata/fixture.ltp_comb");
    const FIX_STDERR: &str = include_str!("testdata/fixture.stderr");
    const HIER_STAT: &str = include_str!("testdata/hier.stat");
    const HIER_LTP: &str = include_str!("testdata/hier.ltp");
    const HIER_LTP_COMB: &str = include_str!("testdata/hier.ltp_comb");

    fn map(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn stat_of_flat_design() {
        let s = parse_stat(FIX_STAT).unwrap();
        assert!(s.hierarchy.is_none());
        assert_eq!(s.modules.keys().collect::<Vec<_>>(), ["fixture_top"]);
        let b = s.design("fixture_top").unwrap();
        assert_eq!(b.cells_total, 261);
        let want = map(&[
            ("BUFG", 1),
            ("CARRY4", 16),
            ("DSP48E2", 1),
            ("FDCE", 4),
            ("FDRE", 24),
            ("IBUF", 107),
            ("INV", 1),
            ("LUT2", 49),
            ("LUT4", 2),
            ("LUT6", 4),
            ("MUXF7", 2),
            ("OBUF", 48),
            ("RAMB18E2", 1),
            ("SRLC32E", 1),
        ]);
        assert_eq!(b.cells, want);
    }

    #[test]
    fn stat_of_hierarchy_uses_totals() {
        let s = parse_stat(HIER_STAT).unwrap();
        assert_eq!(s.modules.len(), 2);
        assert_eq!(s.modules["add8"].cells, map(&[("CARRY4", 3), ("LUT2", 8)]));
        assert_eq!(s.modules["hier_top"].cells["add8"], 2);
        assert_eq!(s.modules["hier_top"].cells_total, 68);
        let h = s.design("hier_top").unwrap();
        assert_eq!(h.cells_total, 88);
        // The instance list ("hier_top 1", "add8 2") before the totals is not taken for cells.
        assert_eq!(
            h.cells,
            map(&[
                ("BUFG", 1),
                ("CARRY4", 9),
                ("FDRE", 10),
                ("IBUF", 33),
                ("LUT2", 25),
                ("OBUF", 10)
            ])
        );
    }

    #[test]
    fn stat_errors() {
        // counts that do not add up
        let broken = FIX_STAT.replace(
            "LUT2                           49",
            "LUT2                           48",
        );
        let e = parse_stat(&broken).unwrap_err();
        assert!(e.0.contains("sum to 260") && e.0.contains("261"), "{e}");
        // malformed cell line
        let broken = FIX_STAT.replace("LUT2                           49", "LUT2  forty-nine");
        assert!(parse_stat(&broken)
            .unwrap_err()
            .0
            .contains("LUT2  forty-nine"));
        // no cells line
        let e = parse_stat("=== m ===\n\n   Number of wires: 3\n").unwrap_err();
        assert!(
            e.0.contains("'m'") && e.0.contains("Number of cells"),
            "{e}"
        );
        // nothing printed (empty top) and wrong top
        assert!(parse_stat("\n3. Printing statistics.\n")
            .unwrap()
            .design("t")
            .unwrap_err()
            .0
            .contains("empty"));
        assert!(parse_stat(FIX_STAT)
            .unwrap()
            .design("other")
            .unwrap_err()
            .0
            .contains("fixture_top"));
    }

    #[test]
    fn ltp_through_flip_flops_detects_the_counter_loop() {
        let l = parse_ltp(FIX_LTP).unwrap();
        assert_eq!(l.len(), 1);
        assert_eq!(
            l["fixture_top"],
            LtpPath {
                length: 14,
                loop_detected: true
            }
        );
    }

    #[test]
    fn ltp_cut_at_flip_flops() {
        let l = parse_ltp(FIX_LTP_COMB).unwrap();
        assert_eq!(
            l["fixture_top"],
            LtpPath {
                length: 12,
                loop_detected: false
            }
        );
    }

    #[test]
    fn ltp_per_module() {
        let l = parse_ltp(HIER_LTP).unwrap();
        assert_eq!(
            l["add8"],
            LtpPath {
                length: 4,
                loop_detected: false
            }
        );
        assert_eq!(
            l["hier_top"],
            LtpPath {
                length: 8,
                loop_detected: false
            }
        );
        assert_eq!(parse_ltp(HIER_LTP_COMB).unwrap()["hier_top"].length, 6);
    }

    #[test]
    fn ltp_errors() {
        assert!(parse_ltp("4. Executing LTP pass (find longest path).\n")
            .unwrap_err()
            .0
            .contains("no 'Longest"));
        let e = parse_ltp("Longest topological path in m (length=x):\n").unwrap_err();
        assert!(e.0.contains("length=x"), "{e}");
    }

    #[test]
    fn warnings_deduplicated_in_order() {
        let w = parse_warnings(FIX_STDERR);
        assert_eq!(w.len(), 12);
        assert_eq!(
            w[0],
            "Resizing cell port fixture_top.mem.0.0.ADDRARDADDR from 16 bits to 14 bits."
        );
        assert!(w[11].starts_with("Detected loop at") && w[11].ends_with("X [3] in fixture_top"));
        let glued = "Warnings: 2 unique messages, 3 totalWarning: A.\nWarning: A.\nWarning: B.\n";
        assert_eq!(parse_warnings(glued), ["A.", "B."]);
    }
}
