//! The RTL netlist: a dataflow graph of word-level primitives with exact widths.
//!
//! [`super::build`] lowers a [`crate::ir::firmware::Firmware`] into it, [`super::schedule`]
//! places pipeline registers, [`super::verilog`] prints it and [`crate::estimate`] costs it, so
//! the estimate describes exactly the circuit that is emitted. Every node's value is an integer
//! of its [`Interval`]; its word is the narrowest two's-complement (signed) or unsigned vector
//! holding that interval, so no primitive can overflow.

use crate::ir::fixed::Interval;
use std::collections::HashMap;

/// Handle of a node (index into [`Netlist::nodes`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sig(pub u32);

/// Where a numerator bit of a division step comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Bit {
    Const(bool),
    Of(Sig, u32),
}

impl Bit {
    /// The same bit with its signal replaced by `f(signal)`.
    pub fn map(self, f: impl Fn(Sig) -> Sig) -> Bit {
        match self {
            Bit::Of(h, i) => Bit::Of(f(h), i),
            b => b,
        }
    }
}

/// A word-level primitive. Semantics are on integers (the node's value), never on bit patterns,
/// except for the division nodes, whose packed layout is stated.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// Input port `k` of the design.
    Input(usize),
    /// A constant (only for outputs that are constant).
    Const(i64),
    /// `a + b` or `a − b`: one carry chain, operands sign-extended to `max(wa, wb) + 1` bits.
    Add { a: Sig, b: Sig, sub: bool },
    /// `−a`.
    Neg(Sig),
    /// `|a|` (unsigned result).
    Abs(Sig),
    /// `max(a, b)` of two non-negative values.
    Max(Sig, Sig),
    /// `max(a, c)`.
    MaxConst(Sig, i64),
    /// `max(bitlen(a), min)` (`bitlen`: leading-one position + 1; 0 for 0) of a non-negative
    /// value.
    BitLen { a: Sig, min: u32 },
    /// `(half ? floor(a/2) : a) << (base − e)` for a signal `e` with `e ≤ base` (a barrel shift:
    /// normalizes the divisor of the reciprocal, or pre-shifts a quantizer input); `half` only
    /// for a non-negative `a`.
    ShlVar {
        a: Sig,
        e: Sig,
        base: i32,
        half: bool,
    },
    /// First remainder of the reciprocal division: `N >> wr` with `N = (q << qshift) + h`.
    DivInit {
        h: Sig,
        q: i64,
        qshift: u32,
        wr: u32,
    },
    /// One restoring-division step with divisor `d` (`wd` bits, MSB set). `prev` is the previous
    /// step (packed: bit `wd` = quotient bit, bits `[wd-1:0]` = remainder) or the [`Op::DivInit`]
    /// remainder; the numerator bit `nbit` is shifted in. Output packed as described.
    DivStep {
        prev: Sig,
        first: bool,
        d: Sig,
        nbit: Bit,
    },
    /// Two restoring-division steps at once (radix 4): `cat = 4·rem + 2·hi + lo` with `rem`
    /// the remainder bits `[wd-1:0]` of `prev` (a step of either radix, or the
    /// [`Op::DivInit`] remainder), the digit `q ∈ 0..=3` the largest with `q·d ≤ cat` (three
    /// subtractions of `d`, `2d` and `d3 = 3d` in parallel), the output packed as bits
    /// `[wd+1:wd]` = `q`, `[wd-1:0]` = `cat − q·d`.
    DivStep4 {
        prev: Sig,
        d: Sig,
        d3: Sig,
        hi: Bit,
        lo: Bit,
    },
    /// The quotient: the digits of `steps` (one bit per [`Op::DivStep`], two per
    /// [`Op::DivStep4`]), most significant first.
    DivQuot { steps: Vec<Sig>, wd: u32 },
    /// `a · b` (a DSP multiplier).
    Mul(Sig, Sig),
    /// `a · c` for a constant `c`.
    MulConst(Sig, i64),
    /// `rnd(a, s)`: `a · 2^-s` rounded half to even (an exact left shift when `s ≤ 0`).
    ShiftRound(Sig, i32),
    /// `rnd(v, s) + b` for `s ≥ 1` (half to even) where the builder has added the rounding
    /// offset and the bias into the adder that computes `a`: `a = v + b·2^s + 2^(s−1)` for an
    /// even `b`, `a = v + b·2^s + 2^(s−1) − 1` for an odd `b` (`odd`). What remains is `a >> s`
    /// with bit 0 cleared (even `b`) when the low `s` bits of `a` are all zero, or set (odd `b`)
    /// when they are all one: those are the ties, where the result must have `b`'s parity.
    /// No carry chain.
    RoundOffset { a: Sig, s: u32, odd: bool },
    /// `rnd(a, base + step·e)` (`neg`: `base − step·e`) for a signal `e`, the shift `≥ 0` for
    /// every `e` in range (the builder pre-shifts to guarantee it). A `step` above 1 means fewer
    /// distinct shifts, so a narrower selection per output bit.
    ShiftRoundVar {
        a: Sig,
        e: Sig,
        base: i32,
        step: u32,
        neg: bool,
    },
    /// Bits `[lo, lo + n)` of a non-negative `a`: `floor(a / 2^lo) mod 2^n` (wiring).
    Field { a: Sig, lo: u32, n: u32 },
    /// `clamp(a, lo, hi)`.
    Clamp { a: Sig, lo: i64, hi: i64 },
    /// `en ? a : 0` for a 1-bit `en` (a particle's mask gating its values into a pool).
    Select { en: Sig, a: Sig },
    /// `a + c`.
    AddConst(Sig, i64),
    /// `max(a, 0)`.
    Relu(Sig),
    /// `table[idx]` for a non-negative `idx` inside the table (a small ROM: the reciprocals
    /// of a mean pool by particle count).
    Lookup { idx: Sig, table: Vec<i64> },
    /// `s < 0 ? −a : a` for a non-negative `a` (gives a magnitude the sign of `s`).
    SignOf { a: Sig, s: Sig },
    /// `base + #{k : a ≥ t_k}` (`down`: `#{k : a ≤ t_k}`), where a comparison that holds
    /// implies the one before it (`t` increasing, or decreasing for `down`): a monotone
    /// requantizer as comparisons with constants and an encoder (FINN's MultiThreshold). Equal
    /// thresholds are a step of more than one code.
    Thresholds {
        a: Sig,
        t: Vec<i64>,
        down: bool,
        base: i64,
    },
}

impl Op {
    /// Quotient bits a division step gives its [`Op::DivQuot`]: 1 for [`Op::DivStep`], 2 for
    /// [`Op::DivStep4`], 0 for any other primitive.
    pub fn quotient_bits(&self) -> u32 {
        match self {
            Op::DivStep { .. } => 1,
            Op::DivStep4 { .. } => 2,
            _ => 0,
        }
    }
}

/// Cost class of a node (what the estimator prices and reports).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// Add/subtract trees of ternary layers.
    TernaryAdder,
    /// The activation quantizer (max tree, exponent, reciprocal, multipliers, rounding).
    Quantizer,
    /// Dequantization, bias, ReLU and full-precision arithmetic.
    Dequant,
    Io,
}

/// A node: its primitive, value range and word.
#[derive(Clone, Debug)]
pub struct Node {
    pub op: Op,
    pub iv: Interval,
    pub width: u32,
    pub signed: bool,
    /// Firmware stage (layer index) the node belongs to.
    pub layer: usize,
    pub class: Class,
}

/// The whole design: nodes in topological order.
#[derive(Clone, Debug, Default)]
pub struct Netlist {
    pub nodes: Vec<Node>,
    /// Input port nodes, in input order.
    pub inputs: Vec<Sig>,
    /// Output nodes, in output order; each is printed at [`Netlist::out_width`] bits.
    pub outputs: Vec<Sig>,
    pub out_width: u32,
    pub out_signed: bool,
    /// Hash-consing: identical primitives on identical operands are one node.
    memo: HashMap<(Op, usize), Sig>,
    /// Layer and class the next nodes are attributed to.
    pub cur_layer: usize,
    pub cur_class: Option<Class>,
}

impl Netlist {
    pub fn node(&self, s: Sig) -> &Node {
        &self.nodes[s.0 as usize]
    }
    pub fn iv(&self, s: Sig) -> Interval {
        self.node(s).iv
    }

    /// Adds a node with value range `iv` (word from the interval), or returns the existing
    /// identical node of the same layer.
    pub fn push(&mut self, op: Op, iv: Interval) -> Sig {
        let key = (op, self.cur_layer);
        if let Some(&s) = self.memo.get(&key) {
            return s;
        }
        let (mut width, mut signed) = word(iv);
        if matches!(key.0, Op::Add { .. }) && !signed {
            // A non-negative sum keeps a (zero) sign bit computed by its adder: consumers then
            // sign-extend it, and Yosys cannot merge the tree into one `$macc` (it merges
            // zero-extended unsigned add chains, which map to about 1.4x the LUTs).
            width += 1;
            signed = true;
        }
        let s = Sig(self.nodes.len() as u32);
        self.nodes.push(Node {
            op: key.0.clone(),
            iv,
            width,
            signed,
            layer: self.cur_layer,
            class: self.cur_class.unwrap_or(Class::Dequant),
        });
        self.memo.insert(key, s);
        s
    }

    /// Adds a node with an explicit unsigned word (packed division values).
    pub fn push_packed(&mut self, op: Op, width: u32) -> Sig {
        let s = self.push(op, Interval::new(0, (1i128 << width) - 1));
        debug_assert_eq!(self.node(s).width, width);
        s
    }

    pub fn input(&mut self, k: usize, iv: Interval) -> Sig {
        let s = self.push(Op::Input(k), iv);
        self.inputs.push(s);
        s
    }

    pub fn add(&mut self, a: Sig, b: Sig, sub: bool) -> Sig {
        let (ia, ib) = (self.iv(a), self.iv(b));
        let iv = if sub { ia.add(ib.neg()) } else { ia.add(ib) };
        self.push(Op::Add { a, b, sub }, iv)
    }

    pub fn neg(&mut self, a: Sig) -> Sig {
        let iv = self.iv(a).neg();
        self.push(Op::Neg(a), iv)
    }

    pub fn abs(&mut self, a: Sig) -> Sig {
        let ia = self.iv(a);
        if ia.lo >= 0 {
            return a;
        }
        let hi = ia.abs_max();
        let lo = if ia.hi >= 0 { 0 } else { -ia.hi };
        self.push(Op::Abs(a), Interval::new(lo, hi))
    }

    pub fn max(&mut self, a: Sig, b: Sig) -> Sig {
        let (ia, ib) = (self.iv(a), self.iv(b));
        let (a, b) = if a <= b { (a, b) } else { (b, a) };
        self.push(
            Op::Max(a, b),
            Interval::new(ia.lo.max(ib.lo), ia.hi.max(ib.hi)),
        )
    }

    pub fn max_const(&mut self, a: Sig, c: i64) -> Sig {
        let ia = self.iv(a);
        if ia.lo >= c as i128 {
            return a;
        }
        self.push(
            Op::MaxConst(a, c),
            Interval::new(ia.lo.max(c as i128), ia.hi.max(c as i128)),
        )
    }

    pub fn mul(&mut self, a: Sig, b: Sig) -> Sig {
        let iv = self.iv(a).mul(self.iv(b));
        self.push(Op::Mul(a, b), iv)
    }

    pub fn mul_const(&mut self, a: Sig, c: i64) -> Sig {
        if c == 1 {
            return a;
        }
        let iv = self.iv(a).mul(Interval::point(c as i128));
        self.push(Op::MulConst(a, c), iv)
    }

    pub fn shift_round(&mut self, a: Sig, s: i32) -> Sig {
        if s == 0 {
            return a;
        }
        let iv = self.iv(a).shift_round(s);
        self.push(Op::ShiftRound(a, s), iv)
    }

    /// `rnd(v, s) + b` from `a = v + b·2^s + 2^(s−1) − [b odd]` ([`Op::RoundOffset`]), `s ≥ 1`;
    /// `bias` is `b`.
    pub fn round_offset(&mut self, a: Sig, s: u32, bias: i64) -> Sig {
        debug_assert!(s >= 1);
        let odd = bias & 1 == 1;
        let off = ((bias as i128) << s) + (1i128 << (s - 1)) - i128::from(odd);
        let ia = self.iv(a);
        let v = Interval::new(ia.lo - off, ia.hi - off).shift_round(s as i32);
        let iv = v.add(Interval::point(bias as i128));
        self.push(Op::RoundOffset { a, s, odd }, iv)
    }

    pub fn clamp(&mut self, a: Sig, lo: i64, hi: i64) -> Sig {
        let ia = self.iv(a);
        if ia.lo >= lo as i128 && ia.hi <= hi as i128 {
            return a;
        }
        self.push(Op::Clamp { a, lo, hi }, ia.clamp(lo as i128, hi as i128))
    }

    pub fn add_const(&mut self, a: Sig, c: i64) -> Sig {
        if c == 0 {
            return a;
        }
        let iv = self.iv(a).add(Interval::point(c as i128));
        self.push(Op::AddConst(a, c), iv)
    }

    pub fn relu(&mut self, a: Sig) -> Sig {
        let ia = self.iv(a);
        if ia.lo >= 0 {
            return a;
        }
        self.push(Op::Relu(a), ia.relu())
    }

    /// `en ? a : 0` ([`Op::Select`]) for an `en` in `[0, 1]`.
    pub fn select(&mut self, en: Sig, a: Sig) -> Sig {
        debug_assert!(
            self.iv(en).lo >= 0 && self.iv(en).hi <= 1,
            "a select needs a 1-bit enable"
        );
        let iv = self.iv(a).union(Interval::point(0));
        self.push(Op::Select { en, a }, iv)
    }

    /// Bits `[lo, lo + n)` of the non-negative `a` ([`Op::Field`]).
    pub fn field(&mut self, a: Sig, lo: u32, n: u32) -> Sig {
        let ia = self.iv(a);
        debug_assert!(ia.lo >= 0, "a field of a negative value");
        let (l, h) = (ia.lo >> lo, ia.hi >> lo);
        let iv = if h >> n == l >> n {
            // No wrap-around of the field inside the range.
            Interval::new(l & ((1 << n) - 1), h & ((1 << n) - 1))
        } else {
            Interval::new(0, (1 << n) - 1)
        };
        self.push(Op::Field { a, lo, n }, iv)
    }

    /// `table[idx]` ([`Op::Lookup`]) for an `idx` whose range lies inside the table.
    pub fn lookup(&mut self, idx: Sig, table: Vec<i64>) -> Sig {
        let ii = self.iv(idx);
        debug_assert!(
            ii.lo >= 0 && (ii.hi as usize) < table.len(),
            "a lookup past its table"
        );
        let vals = &table[ii.lo as usize..=ii.hi as usize];
        let lo = *vals.iter().min().expect("a non-empty table") as i128;
        let hi = *vals.iter().max().expect("a non-empty table") as i128;
        self.push(Op::Lookup { idx, table }, Interval::new(lo, hi))
    }

    /// `s < 0 ? −a : a` ([`Op::SignOf`]) for a non-negative `a`; `a` itself when `s` is never
    /// negative.
    pub fn sign_of(&mut self, a: Sig, s: Sig) -> Sig {
        let (ia, is) = (self.iv(a), self.iv(s));
        debug_assert!(ia.lo >= 0, "sign_of takes a magnitude");
        if is.lo >= 0 {
            return a;
        }
        let hi = if is.hi >= 0 { ia.hi } else { -ia.lo };
        let lo = -ia.hi;
        self.push(Op::SignOf { a, s }, Interval::new(lo, hi))
    }

    /// `base + #{k : a ≥ t_k}` ([`Op::Thresholds`]; `down`: `a ≤ t_k`) for thresholds in
    /// implication order (increasing, or decreasing for `down`), all inside `a`'s range.
    pub fn thresholds(&mut self, a: Sig, t: Vec<i64>, down: bool, base: i64) -> Sig {
        debug_assert!(
            t.windows(2)
                .all(|p| if down { p[0] >= p[1] } else { p[0] <= p[1] }),
            "thresholds out of order"
        );
        let iv = Interval::new(base as i128, base as i128 + t.len() as i128);
        self.push(Op::Thresholds { a, t, down, base }, iv)
    }

    /// Operands of a node, in order.
    pub fn operands(&self, s: Sig) -> Vec<Sig> {
        match &self.node(s).op {
            Op::Input(_) | Op::Const(_) => vec![],
            Op::Add { a, b, .. } | Op::Max(a, b) | Op::Mul(a, b) => vec![*a, *b],
            Op::Neg(a)
            | Op::Abs(a)
            | Op::MaxConst(a, _)
            | Op::BitLen { a, .. }
            | Op::MulConst(a, _)
            | Op::ShiftRound(a, _)
            | Op::RoundOffset { a, .. }
            | Op::Clamp { a, .. }
            | Op::AddConst(a, _)
            | Op::Relu(a)
            | Op::Field { a, .. }
            | Op::Thresholds { a, .. } => vec![*a],
            Op::ShlVar { a, e, .. } | Op::ShiftRoundVar { a, e, .. } => vec![*a, *e],
            Op::Select { en, a } => vec![*en, *a],
            Op::Lookup { idx, .. } => vec![*idx],
            Op::SignOf { a, s } => vec![*a, *s],
            Op::DivInit { h, .. } => vec![*h],
            Op::DivStep { prev, d, nbit, .. } => match nbit {
                Bit::Of(h, _) => vec![*prev, *d, *h],
                Bit::Const(_) => vec![*prev, *d],
            },
            Op::DivStep4 {
                prev,
                d,
                d3,
                hi,
                lo,
                ..
            } => {
                let mut v = vec![*prev, *d, *d3];
                for b in [hi, lo] {
                    if let Bit::Of(h, _) = b {
                        if !v.contains(h) {
                            v.push(*h);
                        }
                    }
                }
                v
            }
            Op::DivQuot { steps, .. } => steps.clone(),
        }
    }
}

/// `(e, shift)` for every value `e` of the interval: the shifts `base ± step·e` of an
/// [`Op::ShiftRoundVar`] (all `≥ 0`, as the builder guarantees).
pub fn var_shift_amounts(e_iv: Interval, base: i32, step: u32, neg: bool) -> Vec<(i128, u32)> {
    (e_iv.lo..=e_iv.hi)
        .map(|v| {
            let k = step as i128 * v;
            let s = if neg {
                base as i128 - k
            } else {
                base as i128 + k
            };
            (v, s.max(0) as u32)
        })
        .collect()
}

/// Low bits of node `s` known to be zero from its structure (left shifts and their sums).
pub fn zero_lsbs(nl: &Netlist, s: Sig) -> u32 {
    match &nl.node(s).op {
        Op::ShiftRound(a, k) if *k < 0 => zero_lsbs(nl, *a) + k.unsigned_abs(),
        Op::Add { a, b, .. } => zero_lsbs(nl, *a).min(zero_lsbs(nl, *b)),
        Op::Neg(a) => zero_lsbs(nl, *a),
        Op::AddConst(a, c) => zero_lsbs(nl, *a).min(c.trailing_zeros()),
        Op::Const(c) => c.trailing_zeros(),
        _ => 0,
    }
}

/// Low bits of node `s` that are constants because a constant was added where the other
/// operand's bits are known zero (a folded bias or rounding offset on a shifted copy,
/// [`super::csd`]); 0 when there is no such constant. An adder reading it has, below these
/// bits, one constant operand: a carry chain without logic, not a full adder.
pub fn const_lsbs(nl: &Netlist, s: Sig) -> u32 {
    match &nl.node(s).op {
        Op::Const(_) => 64,
        Op::AddConst(a, _) => zero_lsbs(nl, *a),
        Op::ShiftRound(a, k) if *k < 0 => match const_lsbs(nl, *a) {
            0 => 0,
            c => c + k.unsigned_abs(),
        },
        Op::Add { a, b, .. } => const_lsbs(nl, *a).min(const_lsbs(nl, *b)),
        Op::Neg(a) => const_lsbs(nl, *a),
        _ => 0,
    }
}

/// Bits of a `wa`-bit value that the comparison `a ≥ t` (`down`: `a ≤ t`, i.e. `a < t + 1`)
/// depends on: `a ≥ m·2^z` is `a >> z ≥ m`, so the `z` trailing zeros of the constant are not
/// compared (at least 1).
pub fn threshold_bits(t: i64, down: bool, wa: u32) -> u32 {
    let k = if down { t.wrapping_add(1) } else { t };
    wa.saturating_sub(k.trailing_zeros()).max(1)
}

/// The word of an interval: `(width, signed)`.
pub fn word(iv: Interval) -> (u32, bool) {
    (iv.bits().max(1), iv.lo < 0)
}
