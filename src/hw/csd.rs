//! Constant multiplies as shift-and-add: a netlist pass that rewrites every [`Op::MulConst`]
//! into the canonical-signed-digit (CSD) form of its constant.
//!
//! `a · c` with `c = Σ_i s_i · 2^k_i` (`s_i = ±1`, no two adjacent non-zero digits: the CSD form
//! has the fewest non-zero digits of any signed-digit form) becomes the left shifts
//! `a · 2^k_i` (wiring, [`Op::ShiftRound`] with a negative amount) summed by a balanced
//! add/subtract tree: `digits − 1` adders in `⌈log2 digits⌉` levels, no DSP. The result is the
//! same integer, so the rewritten netlist computes exactly what the original did.

use super::netlist::{Netlist, Node, Op, Sig};
use super::schedule::ConstMul;
pub use crate::ir::fixed::csd_digits;

/// Number of non-zero CSD digits of `c` (0 for 0).
pub fn csd_count(c: i64) -> u32 {
    csd_digits(c).len() as u32
}

/// Whether `a · c` is built as shift-and-add under the option.
pub fn in_luts(c: i64, opt: ConstMul) -> bool {
    match opt {
        ConstMul::Lut => true,
        ConstMul::Dsp => false,
        ConstMul::Auto => csd_count(c) <= AUTO_MAX_DIGITS,
    }
}

/// [`ConstMul::Auto`] builds constants with at most this many non-zero digits in LUTs: up to
/// three adders, about the LUTs of the DSP's own routing and input registers.
pub const AUTO_MAX_DIGITS: u32 = 4;

/// The netlist with every constant multiply that [`in_luts`] selects rewritten as
/// shift-and-add. Other nodes are copied with their intervals; layers and classes are kept;
/// the rewritten product's root keeps the product's (exact) interval.
pub fn rewrite(nl: &Netlist, opt: ConstMul) -> Netlist {
    if opt == ConstMul::Dsp {
        return nl.clone();
    }
    let mut out = Netlist::default();
    out.out_width = nl.out_width;
    out.out_signed = nl.out_signed;
    let fold = folded_products(nl, opt);
    let mut map: Vec<Sig> = Vec::with_capacity(nl.nodes.len());
    for (i, node) in nl.nodes.iter().enumerate() {
        out.cur_layer = node.layer;
        out.cur_class = Some(node.class);
        let s = match node.op {
            // Built by the AddConst that reads it (its only reader); never read through `map`.
            Op::MulConst(..) if fold[i] => Sig(u32::MAX),
            Op::MulConst(a, c) if in_luts(c, opt) => {
                shift_add(&mut out, map[a.0 as usize], c, 0, node)
            }
            Op::AddConst(p, k) if fold[p.0 as usize] => {
                let Op::MulConst(a, c) = nl.node(p).op else {
                    unreachable!("folded_products marks constant multiplies only")
                };
                shift_add(&mut out, map[a.0 as usize], c, k, node)
            }
            _ => out.push(remap(&node.op, &map), node.iv),
        };
        map.push(s);
    }
    out.inputs = nl.inputs.iter().map(|s| map[s.0 as usize]).collect();
    out.outputs = nl.outputs.iter().map(|s| map[s.0 as usize]).collect();
    out
}

/// Constant multiplies built in LUTs whose only reader is an [`Op::AddConst`]: the constant
/// is then one more term of the product's adder tree ([`shift_add`]) instead of an adder after
/// it.
fn folded_products(nl: &Netlist, opt: ConstMul) -> Vec<bool> {
    let mut readers = vec![0u32; nl.nodes.len()];
    for i in 0..nl.nodes.len() {
        for o in nl.operands(Sig(i as u32)) {
            readers[o.0 as usize] += 1;
        }
    }
    for o in &nl.outputs {
        readers[o.0 as usize] += 1;
    }
    let mut fold = vec![false; nl.nodes.len()];
    for n in &nl.nodes {
        if let Op::AddConst(p, _) = n.op {
            let j = p.0 as usize;
            if readers[j] == 1
                && matches!(nl.nodes[j].op, Op::MulConst(_, c) if c != 0 && in_luts(c, opt))
            {
                fold[j] = true;
            }
        }
    }
    fold
}

/// `a · c + k` as a balanced tree of shifted copies of `a`, the constant `k` (when not 0)
/// added to the last copy, which is the shallowest leaf of the tree (so that it costs no level
/// when the number of digits is not a power of two); the root gets `node.iv`.
fn shift_add(nl: &mut Netlist, a: Sig, c: i64, k: i64, node: &Node) -> Sig {
    if c == 0 {
        return nl.push(Op::Const(k), node.iv);
    }
    // Positive digits first, so the tree's root is a subtraction, not a negation, whenever
    // one digit is positive (and the highest digit of a positive constant is).
    let mut terms: Vec<(Sig, bool)> = csd_digits(c)
        .into_iter()
        .map(|(k, pos)| (nl.shift_round(a, -(k as i32)), pos))
        .collect();
    terms.sort_by_key(|&(_, pos)| !pos);
    if k != 0 {
        let (t, pos) = terms.pop().expect("a non-zero constant has a digit");
        let any_pos = pos || terms.iter().any(|&(_, p)| p);
        let leaf = if any_pos {
            // The term enters the sum with its sign: +(t + k) or −(t − k).
            (nl.add_const(t, if pos { k } else { -k }), pos)
        } else {
            // All digits negative: k − t is a positive leaf, so the root needs no negation.
            let kc = nl.push(Op::Const(k), crate::ir::fixed::Interval::point(k as i128));
            (nl.add(kc, t, true), true)
        };
        terms.push(leaf);
    }
    let (s, pos) = subtree(nl, &terms, Some(node.iv));
    if pos {
        s
    } else {
        nl.push(Op::Neg(s), node.iv)
    }
}

/// Balanced tree over `(term, positive)`; `root` (when given) is the interval of the root.
fn subtree(
    nl: &mut Netlist,
    items: &[(Sig, bool)],
    root: Option<crate::ir::fixed::Interval>,
) -> (Sig, bool) {
    if items.len() == 1 {
        return items[0];
    }
    let mid = items.len().div_ceil(2);
    let (a, pa) = subtree(nl, &items[..mid], None);
    let (b, pb) = subtree(nl, &items[mid..], None);
    let (x, y, sub, pos) = match (pa, pb) {
        (true, true) => (a, b, false, true),
        (true, false) => (a, b, true, true),
        (false, true) => (b, a, true, true),
        (false, false) => (a, b, false, false),
    };
    match root {
        // The root of a positive result is the product itself: its exact interval.
        Some(iv) if pos => (nl.push(Op::Add { a: x, b: y, sub }, iv), pos),
        _ => (nl.add(x, y, sub), pos),
    }
}

/// `op` with its operands replaced by `map[operand]`.
fn remap(op: &Op, map: &[Sig]) -> Op {
    let m = |s: &Sig| map[s.0 as usize];
    match op {
        Op::Input(_) | Op::Const(_) => op.clone(),
        Op::Add { a, b, sub } => Op::Add {
            a: m(a),
            b: m(b),
            sub: *sub,
        },
        Op::Neg(a) => Op::Neg(m(a)),
        Op::Abs(a) => Op::Abs(m(a)),
        Op::Max(a, b) => Op::Max(m(a), m(b)),
        Op::MaxConst(a, c) => Op::MaxConst(m(a), *c),
        Op::BitLen { a, min } => Op::BitLen { a: m(a), min: *min },
        Op::ShlVar { a, e, base, half } => Op::ShlVar {
            a: m(a),
            e: m(e),
            base: *base,
            half: *half,
        },
        Op::DivInit { h, q, qshift, wr } => Op::DivInit {
            h: m(h),
            q: *q,
            qshift: *qshift,
            wr: *wr,
        },
        Op::DivStep {
            prev,
            first,
            d,
            nbit,
        } => Op::DivStep {
            prev: m(prev),
            first: *first,
            d: m(d),
            nbit: nbit.map(|h| m(&h)),
        },
        Op::DivStep4 {
            prev,
            d,
            d3,
            hi,
            lo,
        } => Op::DivStep4 {
            prev: m(prev),
            d: m(d),
            d3: m(d3),
            hi: hi.map(|h| m(&h)),
            lo: lo.map(|h| m(&h)),
        },
        Op::DivQuot { steps, wd } => Op::DivQuot {
            steps: steps.iter().map(m).collect(),
            wd: *wd,
        },
        Op::Mul(a, b) => Op::Mul(m(a), m(b)),
        Op::MulConst(a, c) => Op::MulConst(m(a), *c),
        Op::ShiftRound(a, s) => Op::ShiftRound(m(a), *s),
        Op::RoundOffset { a, s, odd } => Op::RoundOffset {
            a: m(a),
            s: *s,
            odd: *odd,
        },
        Op::ShiftRoundVar {
            a,
            e,
            base,
            step,
            neg,
        } => Op::ShiftRoundVar {
            a: m(a),
            e: m(e),
            base: *base,
            step: *step,
            neg: *neg,
        },
        Op::Field { a, lo, n } => Op::Field {
            a: m(a),
            lo: *lo,
            n: *n,
        },
        Op::Clamp { a, lo, hi } => Op::Clamp {
            a: m(a),
            lo: *lo,
            hi: *hi,
        },
        Op::AddConst(a, c) => Op::AddConst(m(a), *c),
        Op::Relu(a) => Op::Relu(m(a)),
        Op::Select { en, a } => Op::Select { en: m(en), a: m(a) },
        Op::Lookup { idx, table } => Op::Lookup {
            idx: m(idx),
            table: table.clone(),
        },
        Op::SignOf { a, s } => Op::SignOf { a: m(a), s: m(s) },
        Op::Thresholds { a, t, down, base } => Op::Thresholds {
            a: m(a),
            t: t.clone(),
            down: *down,
            base: *base,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::fixed::Interval;

    #[test]
    fn csd_digits_sum_to_the_constant_and_are_non_adjacent() {
        let mut cases: Vec<i64> = (-300..300).collect();
        cases.extend([
            i64::MAX,
            i64::MIN,
            i64::MIN + 1,
            0x2AAAA,
            -0x15555,
            127,
            131071,
        ]);
        for c in cases {
            let d = csd_digits(c);
            let sum: i128 = d
                .iter()
                .map(|&(k, p)| if p { 1i128 << k } else { -(1i128 << k) })
                .sum();
            assert_eq!(sum, c as i128, "{c}");
            for w in d.windows(2) {
                assert!(w[1].0 >= w[0].0 + 2, "{c}: adjacent digits {d:?}");
            }
        }
        assert_eq!(csd_count(7), 2); // 8 − 1
        assert_eq!(csd_count(0x2AAAA), 9);
        assert_eq!(csd_count(-1), 1);
    }

    #[test]
    fn csd_round_keeps_at_most_the_digits_asked_and_halves_the_error_per_digit() {
        use crate::ir::fixed::csd_round;
        for v in (-5000i64..5000)
            .step_by(7)
            .chain([131071, -131071, 0x2AAAA])
        {
            for d in 0..6 {
                let r = csd_round(v, d);
                assert!(csd_count(r) <= d, "{v} {d} -> {r}");
                // Each greedy step at least halves the remainder (ties: the smaller power).
                assert!(
                    (v - r).unsigned_abs() <= (v.unsigned_abs() >> d) + 1,
                    "{v} {d} -> {r}"
                );
            }
            assert_eq!(csd_round(v, 40), v, "{v}");
        }
        assert_eq!(csd_round(0b1011_1000, 2), 0b1100_0000);
    }

    /// Every constant multiply becomes adders and shifts with the same value on every input of
    /// the operand's range, each node within its interval; Auto keeps dense constants.
    #[test]
    fn rewrite_is_exact_and_removes_multiplies() {
        for c in [
            -1000i64, -129, -127, -8, -3, -1, 0, 2, 3, 7, 127, 1000, 0x2AAAB, 131071,
        ] {
            let mut nl = Netlist::default();
            let x = nl.input(0, Interval::new(-200, 150));
            let p = nl.push(
                Op::MulConst(x, c),
                Interval::new(-200, 150).mul(Interval::point(c as i128)),
            );
            let y = nl.shift_round(p, 3);
            nl.outputs = vec![y];
            let lut = rewrite(&nl, ConstMul::Lut);
            assert!(
                !lut.nodes.iter().any(|n| matches!(n.op, Op::MulConst(..))),
                "{c}"
            );
            assert!(!lut.nodes.iter().any(|n| matches!(n.op, Op::Mul(..))));
            let adders = lut
                .nodes
                .iter()
                .filter(|n| matches!(n.op, Op::Add { .. }))
                .count();
            assert_eq!(adders as u32, csd_count(c).saturating_sub(1), "{c}");
            for v in -200..=150i64 {
                let a = super::super::eval::eval(&nl, &[v]).unwrap();
                let b = super::super::eval::eval(&lut, &[v]).unwrap();
                assert_eq!(
                    a[nl.outputs[0].0 as usize], b[lut.outputs[0].0 as usize],
                    "{c} · {v}"
                );
            }
            let auto = rewrite(&nl, ConstMul::Auto);
            let kept = auto.nodes.iter().any(|n| matches!(n.op, Op::MulConst(..)));
            assert_eq!(kept, csd_count(c) > AUTO_MAX_DIGITS, "{c}");
        }
    }
}
