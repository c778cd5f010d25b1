//! The body of a ternary layer's accumulate function (latency strategy): one expression per
//! output over its non-zero inputs, or the shared adder graph of [`crate::cmvm`] as one
//! declared temporary per adder. Both compute `acc[n] = Σ_k W_nk·q[k]` exactly.

use super::layers::add_sub_tree;
use super::types::CType;
use crate::cmvm::{self, Graph, Operand, Term};
use crate::ir::fixed::Interval;
use crate::ir::Matrix;
use crate::target::{AdderOptions, Adders};

/// The statements of `accumulate(q, acc)` for the ternary `w` on codes in `code`.
pub fn accumulate_lines(w: &Matrix<i8>, code: Interval, o: AdderOptions) -> Vec<String> {
    match o.adders {
        Adders::Trees => (0..w.rows).map(|n| tree_line(w.row(n), n)).collect(),
        Adders::Shared => {
            let g = cmvm::shared(
                w,
                &cmvm::Options {
                    max_extra_depth: o.max_extra_depth,
                    ..Default::default()
                },
            );
            graph_lines(&g, code)
        }
    }
}

fn tree_line(row: &[i8], n: usize) -> String {
    let pick = |s: i8| -> Vec<String> {
        row.iter()
            .enumerate()
            .filter(|(_, &v)| v == s)
            .map(|(k, _)| format!("q[{k}]"))
            .collect()
    };
    format!("acc[{n}] = {};", add_sub_tree(&pick(1), &pick(-1)))
}

/// `s<i>` = adder `i`, declared at the narrowest integer type of its proven interval (every
/// adder sums distinct inputs, so interval arithmetic is exact).
fn graph_lines(g: &Graph, code: Interval) -> Vec<String> {
    let mut ivs: Vec<Interval> = Vec::with_capacity(g.adders.len());
    let mut lines = Vec::with_capacity(g.adders.len() + g.outputs.len());
    for (i, ad) in g.adders.iter().enumerate() {
        let iv = signed_iv(&ivs, code, ad.a).add(signed_iv(&ivs, code, ad.b));
        lines.push(format!(
            "{} s{i} = {};",
            CType::int_of(iv).cpp(),
            sum_text(ad.a, ad.b)
        ));
        ivs.push(iv);
    }
    for (n, o) in g.outputs.iter().enumerate() {
        let v = match o {
            None => "0".to_string(),
            Some(t) => format!("{}{}", if t.neg { "-" } else { "" }, operand(t.op)),
        };
        lines.push(format!("acc[{n}] = {v};"));
    }
    lines
}

fn operand(op: Operand) -> String {
    match op {
        Operand::Input(k) => format!("q[{k}]"),
        Operand::Adder(i) => format!("s{i}"),
    }
}

/// `±a ± b` as C++ (the first term's sign written only when negative).
fn sum_text(a: Term, b: Term) -> String {
    let first = format!("{}{}", if a.neg { "-" } else { "" }, operand(a.op));
    format!(
        "{first} {} {}",
        if b.neg { "-" } else { "+" },
        operand(b.op)
    )
}

fn signed_iv(ivs: &[Interval], code: Interval, t: Term) -> Interval {
    let iv = match t.op {
        Operand::Input(_) => code,
        Operand::Adder(i) => ivs[i],
    };
    if t.neg {
        iv.neg()
    } else {
        iv
    }
}
