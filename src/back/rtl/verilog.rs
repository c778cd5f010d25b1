//! Prints a scheduled [`Netlist`] as one synthesizable Verilog-2001 module.
//!
//! Every signal is a plain (unsigned) bit vector of its node's width; arithmetic is done
//! modulo `2^W` on operands explicitly sign- or zero-extended to a common width `W`, then
//! sliced to the result width. This is exact because each result's interval fits its width,
//! and it keeps one carry chain per adder (implicitly signed `a - b` trees let Yosys fold a
//! whole tree into one `$macc` and map it about 2× larger). Comparisons, multiplies and
//! arithmetic shifts use `$signed` on operands extended by one bit where unsigned.
//! The module's ports: `clk`, `rst` (synchronous, clears `valid` only), `valid_in`,
//! `x_<k>` (input codes), `valid_out`, `y_<n>` (output codes, registered).

use crate::hw::netlist::{zero_lsbs, Bit, Netlist, Op, Sig};
use crate::hw::schedule::Schedule;
use std::fmt::Write;

/// One place that names identifiers.
pub struct Names;

impl Names {
    pub fn input(k: usize) -> String {
        format!("x_{k}")
    }
    pub fn output(n: usize) -> String {
        format!("y_{n}")
    }
    /// Node `i`'s value as computed in its own stage.
    pub fn node(i: usize) -> String {
        format!("n{i}")
    }
    /// Node `i`'s value carried into stage `t`.
    pub fn at(i: usize, own: u32, t: u32) -> String {
        if t == own {
            Self::node(i)
        } else {
            format!("n{i}_s{t}")
        }
    }
    /// A helper wire of node `i`.
    pub fn aux(i: usize, what: &str) -> String {
        format!("n{i}_{what}")
    }
}

/// A constant as an unsigned `w`-bit literal of its two's-complement pattern.
fn lit(v: i128, w: u32) -> String {
    let mask = if w >= 127 {
        u128::MAX
    } else {
        (1u128 << w) - 1
    };
    format!("{w}'h{:x}", (v as u128) & mask)
}

/// Resizes signal `name` (`w` bits, `signed`) to `to` bits: extension or truncation.
fn ext(name: &str, w: u32, signed: bool, to: u32) -> String {
    use std::cmp::Ordering::*;
    match to.cmp(&w) {
        Equal => name.to_string(),
        Less => format!("{name}[{}:0]", to - 1),
        Greater if signed => {
            if w == 1 {
                format!("{{{to}{{{name}}}}}")
            } else {
                format!("{{{{{}{{{name}[{}]}}}}, {name}}}", to - w, w - 1)
            }
        }
        Greater => format!("{{{}'b0, {name}}}", to - w),
    }
}

/// Bits of `v` as a two's-complement constant.
fn sbits(v: i128) -> u32 {
    crate::ir::fixed::Interval::point(v).bits() + u32::from(v >= 0)
}

fn decl(out: &mut String, name: &str, w: u32, expr: &str) {
    let _ = writeln!(out, "    wire [{}:0] {name} = {expr};", w - 1);
}

/// `n<i> = a · rhs` as a signed product (`a` extended by one bit when unsigned; `rhs` is an
/// expression already `wr` bits wide and signed), sliced to `w` bits.
fn product(o: &mut String, i: usize, w: u32, (na, wa, sa): (&str, u32, bool), rhs: &str, wr: u32) {
    let wa1 = wa + u32::from(!sa);
    let ww = (wa1 + wr).max(w);
    let p = Names::aux(i, "p");
    decl(
        o,
        &p,
        ww,
        &format!("$signed({}) * $signed({rhs})", ext(na, wa, sa, wa1)),
    );
    decl(o, &Names::node(i), w, &ext(&p, ww, true, w));
}

/// `n<i> = rnd(a, s_e)` for the shift `s_e` selected by the signal `e` (`amounts`: every value of
/// `e` in its proven range with its shift). Per value, the floor's bits and the rounding bit are
/// a constant slice and the sticky bit a constant OR; a `case` selects them (values outside the
/// proven range are don't-cares), then one ties-to-even increment.
fn shift_round_select(
    o: &mut String,
    i: usize,
    w: u32,
    (na, wa, sa): (String, u32, bool),
    ne: &str,
    we: u32,
    amounts: &[(i128, u32)],
) {
    let amax = amounts.iter().map(|&(_, s)| s).max().unwrap_or(0);
    let ww = wa.max(amax + w) + 1;
    let (x, t, st) = (
        Names::aux(i, "x"),
        Names::aux(i, "t"),
        Names::aux(i, "sticky"),
    );
    decl(o, &x, ww, &ext(&na, wa, sa, ww));
    let _ = writeln!(o, "    reg [{w}:0] {t};");
    let _ = writeln!(o, "    reg {st};");
    let _ = writeln!(o, "    always @* begin");
    let _ = writeln!(o, "        case ({ne})");
    for &(v, s) in amounts {
        let window = if s == 0 {
            format!("{{{x}[{}:0], 1'b0}}", w - 1)
        } else {
            format!("{x}[{}:{}]", s + w - 1, s - 1)
        };
        let sticky = if s >= 2 {
            format!("|{x}[{}:0]", s - 2)
        } else {
            "1'b0".to_string()
        };
        let _ = writeln!(
            o,
            "        {}: begin {t} = {window}; {st} = {sticky}; end",
            lit(v, we)
        );
    }
    let _ = writeln!(
        o,
        "        default: begin {t} = {{{}{{1'bx}}}}; {st} = 1'bx; end",
        w + 1
    );
    let _ = writeln!(o, "        endcase");
    let _ = writeln!(o, "    end");
    decl(
        o,
        &Names::node(i),
        w,
        &format!("{t}[{w}:1] + ({t}[0] & ({st} | {t}[1]))"),
    );
}

/// The module body (declarations and logic) for the netlist under a schedule. Every
/// identifier is declared before its first use (Verilog-2001 requires it; Vivado enforces it):
/// the pipeline registers first, then each node's wires in netlist (topological) order.
pub fn body(nl: &Netlist, sch: &Schedule) -> String {
    let mut o = String::new();
    // Registers carrying values across stages.
    let mut regs = String::new();
    for (i, node) in nl.nodes.iter().enumerate() {
        let (s0, s1) = (sch.stage[i], sch.last_use[i]);
        for t in s0 + 1..=s1 {
            let _ = writeln!(o, "    reg [{}:0] {};", node.width - 1, Names::at(i, s0, t));
            let _ = writeln!(
                regs,
                "        {} <= {};",
                Names::at(i, s0, t),
                Names::at(i, s0, t - 1)
            );
        }
    }
    let mut layer = usize::MAX;
    for (i, node) in nl.nodes.iter().enumerate() {
        if node.layer != layer && !matches!(node.op, Op::Input(_)) {
            layer = node.layer;
            let _ = writeln!(o, "    // ---- firmware layer {} ----", layer + 1);
        }
        let st = sch.stage[i];
        // Operand `s` as seen in this node's stage, with its word.
        let arg = |s: Sig| {
            let j = s.0 as usize;
            (
                Names::at(j, sch.stage[j], st),
                nl.nodes[j].width,
                nl.nodes[j].signed,
            )
        };
        // A numerator bit of a division step.
        let bit = |b: &Bit| match b {
            Bit::Const(b) => format!("1'b{}", u8::from(*b)),
            Bit::Of(h, k) => format!("{}[{k}]", arg(*h).0),
        };
        let w = node.width;
        let me = Names::node(i);
        match &node.op {
            Op::Input(k) => decl(&mut o, &me, w, &Names::input(*k)),
            Op::Const(c) => decl(&mut o, &me, w, &lit(*c as i128, w)),
            Op::Add { a, b, sub } => {
                let ((na, wa, sa), (nb, wb, sb)) = (arg(*a), arg(*b));
                let ww = wa.max(wb).max(w);
                let acc = Names::aux(i, "acc");
                let op = if *sub { '-' } else { '+' };
                decl(
                    &mut o,
                    &acc,
                    ww,
                    &format!("{} {op} {}", ext(&na, wa, sa, ww), ext(&nb, wb, sb, ww)),
                );
                decl(&mut o, &me, w, &ext(&acc, ww, true, w));
            }
            Op::Neg(a) => {
                let (na, wa, sa) = arg(*a);
                let ww = wa.max(w);
                let t = Names::aux(i, "neg");
                decl(&mut o, &t, ww, &format!("-{}", ext(&na, wa, sa, ww)));
                decl(&mut o, &me, w, &ext(&t, ww, true, w));
            }
            Op::Abs(a) => {
                let (na, wa, sa) = arg(*a);
                let ww = wa.max(w);
                let e = ext(&na, wa, sa, ww);
                let t = Names::aux(i, "abs");
                decl(&mut o, &t, ww, &format!("{na}[{}] ? -{e} : {e}", wa - 1));
                decl(&mut o, &me, w, &ext(&t, ww, true, w));
            }
            Op::Max(a, b) => {
                let ((na, wa, sa), (nb, wb, sb)) = (arg(*a), arg(*b));
                let ww = wa.max(wb) + 1;
                let (ea, eb) = (ext(&na, wa, sa, ww), ext(&nb, wb, sb, ww));
                let t = Names::aux(i, "max");
                decl(
                    &mut o,
                    &t,
                    ww,
                    &format!("($signed({ea}) > $signed({eb})) ? {ea} : {eb}"),
                );
                decl(&mut o, &me, w, &ext(&t, ww, true, w));
            }
            Op::MaxConst(a, c) => {
                let (na, wa, sa) = arg(*a);
                let ww = (wa + 1).max(sbits(*c as i128));
                let ea = ext(&na, wa, sa, ww);
                let cl = lit(*c as i128, ww);
                let t = Names::aux(i, "max");
                decl(
                    &mut o,
                    &t,
                    ww,
                    &format!("($signed({ea}) > $signed({cl})) ? {ea} : {cl}"),
                );
                decl(&mut o, &me, w, &ext(&t, ww, true, w));
            }
            Op::Clamp { a, lo, hi } => {
                let (na, wa, sa) = arg(*a);
                let ww = (wa + 1).max(sbits(*lo as i128)).max(sbits(*hi as i128));
                let ea = ext(&na, wa, sa, ww);
                let (l, h) = (lit(*lo as i128, ww), lit(*hi as i128, ww));
                let t = Names::aux(i, "clamp");
                decl(
                    &mut o,
                    &t,
                    ww,
                    &format!("($signed({ea}) < $signed({l})) ? {l} : (($signed({ea}) > $signed({h})) ? {h} : {ea})"),
                );
                decl(&mut o, &me, w, &ext(&t, ww, true, w));
            }
            Op::Select { en, a } => {
                let ((ne, _, _), (na, wa, sa)) = (arg(*en), arg(*a));
                let ww = wa.max(w);
                let ea = ext(&na, wa, sa, ww);
                let t = Names::aux(i, "sel");
                decl(&mut o, &t, ww, &format!("{ne}[0] ? {ea} : {}", lit(0, ww)));
                decl(&mut o, &me, w, &ext(&t, ww, sa, w));
            }
            Op::Lookup { idx, table } => {
                let (ni, wi, _) = arg(*idx);
                let iv = nl.iv(*idx);
                let mut e = lit(table[iv.hi as usize] as i128, w);
                for k in (iv.lo..iv.hi).rev() {
                    e = format!(
                        "({ni} == {wi}'d{k}) ? {} : {e}",
                        lit(table[k as usize] as i128, w)
                    );
                }
                decl(&mut o, &me, w, &e);
            }
            Op::Thresholds { a, t, down, base } => {
                let (na, wa, sa) = arg(*a);
                // The thresholds lie inside a's range, so a's signed word holds them.
                let ww = wa + 1;
                let ea = ext(&na, wa, sa, ww);
                let cmp = if *down { "<=" } else { ">=" };
                let mut e = lit(*base as i128, w);
                if !t.is_empty() {
                    // th[k] is comparison k + 1; th[k] implies th[k − 1].
                    let th = Names::aux(i, "th");
                    let bits: Vec<String> = t
                        .iter()
                        .rev()
                        .map(|&c| format!("($signed({ea}) {cmp} $signed({}))", lit(c as i128, ww)))
                        .collect();
                    decl(
                        &mut o,
                        &th,
                        t.len() as u32,
                        &format!("{{{}}}", bits.join(", ")),
                    );
                    for k in 1..=t.len() {
                        let v = lit(*base as i128 + k as i128, w);
                        e = format!("{th}[{}] ? {v} : ({e})", k - 1);
                    }
                }
                decl(&mut o, &me, w, &e);
            }
            Op::SignOf { a, s } => {
                let ((na, wa, sa), (ns, ws, _)) = (arg(*a), arg(*s));
                let ww = wa.max(w) + 1;
                let ea = ext(&na, wa, sa, ww);
                let t = Names::aux(i, "sgn");
                decl(&mut o, &t, ww, &format!("{ns}[{}] ? -{ea} : {ea}", ws - 1));
                decl(&mut o, &me, w, &ext(&t, ww, true, w));
            }
            Op::Relu(a) => {
                let (na, wa, sa) = arg(*a);
                let ww = wa.max(w);
                let ea = ext(&na, wa, sa, ww);
                let t = Names::aux(i, "relu");
                decl(
                    &mut o,
                    &t,
                    ww,
                    &format!("{na}[{}] ? {} : {ea}", wa - 1, lit(0, ww)),
                );
                decl(&mut o, &me, w, &ext(&t, ww, false, w));
            }
            Op::AddConst(a, c) => {
                let (na, wa, sa) = arg(*a);
                let ww = wa.max(w).max(sbits(*c as i128)) + 1;
                // Below the constant's trailing zeros the sum is `a`'s bits; below `a`'s known
                // zero bits (a shifted copy) it is the constant's: only the bits above are an
                // adder (a rounding offset or a shifted bias has many such bits).
                let tz = c.trailing_zeros().min(ww - 1);
                let zl = zero_lsbs(nl, *a).min(ww - 1);
                let lo = tz.max(zl);
                let x = Names::aux(i, "x");
                decl(&mut o, &x, ww, &ext(&na, wa, sa, ww));
                let hi = format!(
                    "{x}[{}:{lo}] + {}",
                    ww - 1,
                    lit((*c as i128) >> lo, ww - lo)
                );
                let t = Names::aux(i, "acc");
                let expr = if lo == 0 {
                    hi
                } else {
                    let th = Names::aux(i, "hi");
                    decl(&mut o, &th, ww - lo, &hi);
                    let low = if zl >= tz {
                        lit(*c as i128, lo)
                    } else {
                        format!("{x}[{}:0]", lo - 1)
                    };
                    format!("{{{th}, {low}}}")
                };
                decl(&mut o, &t, ww, &expr);
                decl(&mut o, &me, w, &ext(&t, ww, true, w));
            }
            Op::RoundOffset { a, s, odd } => {
                let (na, wa, sa) = arg(*a);
                let s = *s;
                let ww = wa.max(s + w) + 1;
                let x = Names::aux(i, "x");
                decl(&mut o, &x, ww, &ext(&na, wa, sa, ww));
                // Bit 0 of `a >> s`: cleared on a tie of an even bias (low `s` bits all zero),
                // set on a tie of an odd bias (all one).
                let b0 = if *odd {
                    format!("{x}[{s}] | (&{x}[{}:0])", s - 1)
                } else {
                    format!("{x}[{s}] & (|{x}[{}:0])", s - 1)
                };
                let expr = if w == 1 {
                    b0
                } else {
                    format!("{{{x}[{}:{}], {b0}}}", s + w - 1, s + 1)
                };
                decl(&mut o, &me, w, &expr);
            }
            Op::BitLen { a, min } => {
                let (na, wa, _) = arg(*a);
                let it = Names::aux(i, "i");
                let _ = writeln!(o, "    reg [{}:0] {me};", w - 1);
                let _ = writeln!(o, "    integer {it};");
                let _ = writeln!(
                    o,
                    "    always @* begin {me} = {}; for ({it} = 0; {it} < {wa}; {it} = {it} + 1) if ({na}[{it}]) {me} = {it} + 1; end",
                    lit(*min as i128, w)
                );
            }
            Op::ShlVar { a, e, base, half } => {
                let ((na, wa, sa), (ne, we, _)) = (arg(*a), arg(*e));
                let wamt = sbits(*base as i128).max(we + 1);
                let amt = Names::aux(i, "amt");
                decl(
                    &mut o,
                    &amt,
                    wamt,
                    &format!(
                        "{} - {}",
                        lit(*base as i128, wamt),
                        ext(&ne, we, false, wamt)
                    ),
                );
                if *half && wa > 1 {
                    let hs = Names::aux(i, "half");
                    decl(&mut o, &hs, wa - 1, &format!("{na}[{}:1]", wa - 1));
                    decl(
                        &mut o,
                        &me,
                        w,
                        &format!("{} << {amt}", ext(&hs, wa - 1, false, w)),
                    );
                } else if *half {
                    decl(&mut o, &me, w, &lit(0, w));
                } else {
                    decl(&mut o, &me, w, &format!("{} << {amt}", ext(&na, wa, sa, w)));
                }
            }
            Op::DivInit { h, q, qshift, wr } => {
                let (nh, wh, _) = arg(*h);
                let tw = (qshift + sbits(*q as i128)).max(wr + w).max(wh);
                let num = Names::aux(i, "num");
                decl(
                    &mut o,
                    &num,
                    tw,
                    &format!(
                        "{} | {}",
                        lit((*q as i128) << qshift, tw),
                        ext(&nh, wh, false, tw)
                    ),
                );
                decl(&mut o, &me, w, &format!("{num}[{}:{wr}]", wr + w - 1));
            }
            Op::DivStep { prev, d, nbit, .. } => {
                let ((np, _, _), (nd, wd, _)) = (arg(*prev), arg(*d));
                let cat = Names::aux(i, "cat");
                let t = Names::aux(i, "t");
                decl(
                    &mut o,
                    &cat,
                    wd + 1,
                    &format!("{{{np}[{}:0], {}}}", wd - 1, bit(nbit)),
                );
                decl(
                    &mut o,
                    &t,
                    wd + 2,
                    &format!("{{1'b0, {cat}}} - {{2'b0, {nd}}}"),
                );
                decl(
                    &mut o,
                    &me,
                    wd + 1,
                    &format!(
                        "{t}[{}] ? {{1'b0, {cat}[{}:0]}} : {{1'b1, {t}[{}:0]}}",
                        wd + 1,
                        wd - 1,
                        wd - 1
                    ),
                );
            }
            Op::DivStep4 {
                prev,
                d,
                d3,
                hi,
                lo,
            } => {
                let ((np, _, _), (nd, wd, _), (n3, w3, s3)) = (arg(*prev), arg(*d), arg(*d3));
                let cat = Names::aux(i, "cat");
                decl(
                    &mut o,
                    &cat,
                    wd + 2,
                    &format!("{{{np}[{}:0], {}, {}}}", wd - 1, bit(hi), bit(lo)),
                );
                // cat − k·d for k = 1, 2, 3 in wd + 3 bits; the sign bit says k·d > cat.
                let wt = wd + 3;
                let subs = [
                    format!("{{3'b0, {nd}}}"),
                    format!("{{2'b0, {nd}, 1'b0}}"),
                    ext(&n3, w3, s3, wt),
                ];
                let t: Vec<String> = (1..=3).map(|k| Names::aux(i, &format!("t{k}"))).collect();
                for (tk, sk) in t.iter().zip(&subs) {
                    decl(&mut o, tk, wt, &format!("{{1'b0, {cat}}} - {sk}"));
                }
                let pick = |k: usize, q: &str| format!("{{2'b{q}, {}[{}:0]}}", t[k], wd - 1);
                decl(
                    &mut o,
                    &me,
                    wd + 2,
                    &format!(
                        "!{}[{}] ? {} : !{}[{}] ? {} : !{}[{}] ? {} : {{2'b00, {cat}[{}:0]}}",
                        t[2],
                        wt - 1,
                        pick(2, "11"),
                        t[1],
                        wt - 1,
                        pick(1, "10"),
                        t[0],
                        wt - 1,
                        pick(0, "01"),
                        wd - 1
                    ),
                );
            }
            Op::DivQuot { steps, wd } => {
                let mut n = 0u32;
                let bits: Vec<String> = steps
                    .iter()
                    .map(|s| {
                        let bits = nl.node(*s).op.quotient_bits();
                        let top = wd + bits - 1;
                        n += bits;
                        format!("{}[{top}:{wd}]", arg(*s).0)
                    })
                    .collect();
                let raw = Names::aux(i, "q");
                decl(&mut o, &raw, n, &format!("{{{}}}", bits.join(", ")));
                decl(&mut o, &me, w, &ext(&raw, n, false, w));
            }
            Op::Mul(a, b) => {
                let ((na, wa, sa), (nb, wb, sb)) = (arg(*a), arg(*b));
                let wb1 = wb + u32::from(!sb);
                product(&mut o, i, w, (&na, wa, sa), &ext(&nb, wb, sb, wb1), wb1);
            }
            Op::MulConst(a, c) => {
                let (na, wa, sa) = arg(*a);
                let wc = sbits(*c as i128);
                product(&mut o, i, w, (&na, wa, sa), &lit(*c as i128, wc), wc);
            }
            Op::ShiftRound(a, s) => {
                let (na, wa, sa) = arg(*a);
                let s = *s;
                if s <= 0 {
                    let k = (-s) as u32;
                    if w <= k {
                        decl(&mut o, &me, w, &lit(0, w));
                    } else if k == 0 {
                        decl(&mut o, &me, w, &ext(&na, wa, sa, w));
                    } else {
                        decl(
                            &mut o,
                            &me,
                            w,
                            &format!("{{{}, {}'b0}}", ext(&na, wa, sa, w - k), k),
                        );
                    }
                } else {
                    let s = s as u32;
                    let ww = (wa + 1).max(s + 2).max(w + s);
                    let ea = Names::aux(i, "x");
                    decl(&mut o, &ea, ww, &ext(&na, wa, sa, ww));
                    let sum = Names::aux(i, "sum");
                    decl(
                        &mut o,
                        &sum,
                        ww,
                        &format!(
                            "{ea} + {} + {{{}'b0, {ea}[{s}]}}",
                            lit((1i128 << (s - 1)) - 1, ww),
                            ww - 1
                        ),
                    );
                    decl(&mut o, &me, w, &format!("{sum}[{}:{s}]", s + w - 1));
                }
            }
            Op::ShiftRoundVar {
                a,
                e,
                base,
                step,
                neg,
            } => {
                let amounts = crate::hw::netlist::var_shift_amounts(nl.iv(*e), *base, *step, *neg);
                let (ne, we, _) = arg(*e);
                shift_round_select(&mut o, i, w, arg(*a), &ne, we, &amounts);
            }
            Op::Field { a, lo, n } => {
                let (na, wa, _) = arg(*a);
                let hi = (lo + n).min(wa);
                if hi <= *lo {
                    decl(&mut o, &me, w, &lit(0, w));
                } else {
                    let f = Names::aux(i, "f");
                    decl(&mut o, &f, hi - lo, &format!("{na}[{}:{lo}]", hi - 1));
                    decl(&mut o, &me, w, &ext(&f, hi - lo, false, w));
                }
            }
        }
    }
    if !regs.is_empty() {
        let _ = writeln!(o, "    always @(posedge clk) begin\n{regs}    end");
    }
    o
}
