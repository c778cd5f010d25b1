//! C++ types of the generated code: one typedef per distinct type, named by its spelling.

use crate::ir::fixed::{FixedType, Interval};
use std::collections::BTreeSet;

/// A C++ type: an integer code (`ap_int` / `ap_uint`) or a fixed-point value type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CType {
    Int { signed: bool, width: u32 },
    Fixed(FixedType),
}

impl CType {
    /// The integer type holding every value of `iv`.
    pub fn int_of(iv: Interval) -> CType {
        let t = FixedType::fitting(iv, 0);
        CType::Int {
            signed: t.signed,
            width: t.width,
        }
    }
    /// The integer type of the codes of `t`.
    pub fn code_of(t: FixedType) -> CType {
        CType::Int {
            signed: t.signed,
            width: t.width,
        }
    }
    pub fn cpp(&self) -> String {
        match self {
            CType::Int {
                signed: true,
                width,
            } => format!("ap_int<{width}>"),
            CType::Int {
                signed: false,
                width,
            } => format!("ap_uint<{width}>"),
            CType::Fixed(t) => t.cpp(),
        }
    }
    /// The typedef name, derived from the spelling (so distinct types get distinct names).
    pub fn alias(&self) -> String {
        match self {
            CType::Int {
                signed: true,
                width,
            } => format!("int_{width}_t"),
            CType::Int {
                signed: false,
                width,
            } => format!("uint_{width}_t"),
            CType::Fixed(t) => {
                let i = t.int_bits();
                let i = if i < 0 {
                    format!("m{}", -i)
                } else {
                    i.to_string()
                };
                format!(
                    "{}fixed_{}_{}_t",
                    if t.signed { "" } else { "u" },
                    t.width,
                    i
                )
            }
        }
    }
}

/// The set of types the project uses (sorted, so defines.h is deterministic).
#[derive(Default)]
pub struct Types {
    set: BTreeSet<CType>,
}

impl Types {
    /// Registers `t` and returns its typedef name.
    pub fn name(&mut self, t: CType) -> String {
        self.set.insert(t);
        t.alias()
    }
    /// `(C++ spelling, typedef name)` in a stable order: fixed-point types first, then integers.
    pub fn typedefs(&self) -> Vec<(String, String)> {
        let mut v: Vec<&CType> = self.set.iter().collect();
        v.sort_by_key(|t| match t {
            CType::Fixed(f) => (0, f.signed, f.width, f.frac),
            CType::Int { signed, width } => (1, *signed, *width, 0),
        });
        v.into_iter().map(|t| (t.cpp(), t.alias())).collect()
    }
}
