//! An integer interpreter of the [`Netlist`]: the value of every node for one event.
//!
//! It states the meaning of each primitive on integers (the printer's bit-level Verilog must
//! implement the same, which the Verilator tests check) and is used by the property tests:
//! on random models and adversarial inputs the outputs must equal the emulator's and every
//! node must stay inside its interval and its word — so no printed width can overflow.

use super::netlist::{Bit, Netlist, Op, Sig};
use crate::ir::fixed::shift_round_i128;

/// A node whose value left its interval or word (a compiler bug).
#[derive(Debug, Clone, PartialEq)]
pub struct OutOfRange {
    pub node: usize,
    pub op: String,
    pub value: i128,
    pub lo: i128,
    pub hi: i128,
}

fn bitlen(v: i128) -> i128 {
    if v <= 0 {
        0
    } else {
        128 - v.leading_zeros() as i128
    }
}

/// Values of every node for the input codes `x`.
pub fn eval(nl: &Netlist, x: &[i64]) -> Result<Vec<i128>, OutOfRange> {
    let mut v: Vec<i128> = Vec::with_capacity(nl.nodes.len());
    for (i, n) in nl.nodes.iter().enumerate() {
        let g = |s: &Sig| v[s.0 as usize];
        let bit = |b: &Bit| match b {
            Bit::Const(b) => i128::from(*b),
            Bit::Of(h, k) => (g(h) >> k) & 1,
        };
        let val = match &n.op {
            Op::Input(k) => x[*k] as i128,
            Op::Const(c) => *c as i128,
            Op::Add { a, b, sub } => {
                if *sub {
                    g(a) - g(b)
                } else {
                    g(a) + g(b)
                }
            }
            Op::Neg(a) => -g(a),
            Op::Abs(a) => g(a).abs(),
            Op::Max(a, b) => g(a).max(g(b)),
            Op::MaxConst(a, c) => g(a).max(*c as i128),
            Op::BitLen { a, min } => bitlen(g(a)).max(*min as i128),
            Op::ShlVar { a, e, base, half } => {
                let s = if *half { g(a) >> 1 } else { g(a) };
                s << (*base as i128 - g(e))
            }
            Op::DivInit { h, q, qshift, wr } => (((*q as i128) << qshift) + g(h)) >> wr,
            Op::DivStep {
                prev,
                first,
                d,
                nbit,
            } => {
                let wd = nl.node(*d).width;
                let rem = if *first {
                    g(prev)
                } else {
                    g(prev) & ((1i128 << wd) - 1)
                };
                let cat = 2 * rem + bit(nbit);
                if cat >= g(d) {
                    (1i128 << wd) | (cat - g(d))
                } else {
                    cat
                }
            }
            Op::DivStep4 {
                prev,
                d,
                d3,
                hi,
                lo,
            } => {
                let wd = nl.node(*d).width;
                let rem = g(prev) & ((1i128 << wd) - 1);
                let cat = 4 * rem + 2 * bit(hi) + bit(lo);
                let (d, d3) = (g(d), g(d3));
                let q = [d3, 2 * d, d]
                    .iter()
                    .position(|&m| cat >= m)
                    .map_or(0, |p| 3 - p as i128);
                (q << wd) | (cat - q * d)
            }
            Op::DivQuot { steps, wd } => steps.iter().fold(0i128, |q, s| {
                let n = nl.node(*s).op.quotient_bits();
                (q << n) | ((g(s) >> wd) & ((1 << n) - 1))
            }),
            Op::Mul(a, b) => g(a) * g(b),
            Op::MulConst(a, c) => g(a) * *c as i128,
            Op::ShiftRound(a, s) => shift_round_i128(g(a), *s),
            Op::RoundOffset { a, s, odd } => {
                let (u, mask) = (g(a), (1i128 << s) - 1);
                let q = u >> s;
                match (odd, u & mask) {
                    (false, 0) => q & !1,
                    (true, low) if low == mask => q | 1,
                    _ => q,
                }
            }
            Op::ShiftRoundVar {
                a,
                e,
                base,
                step,
                neg,
            } => {
                let k = *step as i128 * g(e);
                let s = if *neg {
                    *base as i128 - k
                } else {
                    *base as i128 + k
                };
                shift_round_i128(g(a), s as i32)
            }
            Op::Field { a, lo, n } => (g(a) >> lo) & ((1i128 << n) - 1),
            Op::Clamp { a, lo, hi } => g(a).clamp(*lo as i128, *hi as i128),
            Op::AddConst(a, c) => g(a) + *c as i128,
            Op::Relu(a) => g(a).max(0),
            Op::Select { en, a } => {
                if g(en) != 0 {
                    g(a)
                } else {
                    0
                }
            }
            Op::Lookup { idx, table } => table[g(idx) as usize] as i128,
            Op::Thresholds { a, t, down, base } => {
                let v = g(a);
                let n = t
                    .iter()
                    .filter(|&&c| {
                        if *down {
                            v <= c as i128
                        } else {
                            v >= c as i128
                        }
                    })
                    .count();
                *base as i128 + n as i128
            }
            Op::SignOf { a, s } => {
                if g(s) < 0 {
                    -g(a)
                } else {
                    g(a)
                }
            }
        };
        let (wlo, whi) = if n.signed {
            (-(1i128 << (n.width - 1)), (1i128 << (n.width - 1)) - 1)
        } else {
            (0, (1i128 << n.width) - 1)
        };
        let (lo, hi) = (n.iv.lo.max(wlo), n.iv.hi.min(whi));
        if val < lo || val > hi {
            return Err(OutOfRange {
                node: i,
                op: format!("{:?}", n.op),
                value: val,
                lo,
                hi,
            });
        }
        v.push(val);
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::back::emu::problem::{problem_all_profiles, run_counted};
    use crate::back::emu::tests::{adversarial_inputs, lower_all_modes};
    use crate::hw::csd::rewrite;
    use crate::hw::schedule::ConstMul;
    use crate::reference::fixed::Emulator;
    use proptest::prelude::*;

    /// Every adder structure in turn: plain trees, shared with the depth cap 0, 1 and none;
    /// and every requantizer circuit (multiply, thresholds, auto) in a cycle of another length.
    fn adder_options(seed: u64) -> crate::target::AdderOptions {
        use crate::target::{AdderOptions, Adders, RequantCircuit};
        let (adders, max_extra_depth) = match seed % 4 {
            0 => (Adders::Trees, Some(0)),
            1 => (Adders::Shared, Some(0)),
            2 => (Adders::Shared, Some(1)),
            _ => (Adders::Shared, None),
        };
        let requant = match seed % 3 {
            0 => RequantCircuit::Multiply,
            1 => RequantCircuit::Thresholds,
            _ => RequantCircuit::Auto,
        };
        AdderOptions {
            adders,
            max_extra_depth,
            requant,
        }
    }

    fn outputs(nl: &Netlist, vals: &[i128]) -> Vec<i64> {
        nl.outputs
            .iter()
            .map(|s| vals[s.0 as usize] as i64)
            .collect()
    }

    /// The netlist with every dynamic quantizer's fine shift on its inputs
    /// ([`crate::hw::build::FineShift::Inputs`]; the default build shifts the reciprocal).
    fn inputs_shifted(
        fw: &crate::ir::firmware::Firmware,
        o: crate::target::AdderOptions,
    ) -> Netlist {
        use crate::hw::build::{build_with, FineShift, Graphs};
        let fine = vec![FineShift::Inputs; fw.layers.len()];
        build_with(fw, o, &fine, &mut Graphs::new())
    }

    /// Both fine-shift forms of a dynamic quantizer round on a 4-bit grid of shifts (so the
    /// property test below exercises them, not the plain form), and shift what they say.
    #[test]
    fn dynamic_quantizers_use_the_coarse_shift() {
        use crate::back::emu::problem::Problem;
        use crate::ir::{firmware::Mode, ProfileName};
        let p = Problem {
            widths: vec![6, 8, 3],
            seed: 5,
            bias: true,
            dense_first: false,
            batchnorm: false,
            zero_frac: 0.33,
            in_width: 12,
            in_int: 4,
            frac_bits: 10,
            profile: ProfileName::Bithep,
            events: 0,
        };
        let (_, fw) = lower_all_modes(&p, 5)
            .into_iter()
            .find(|(m, _)| *m == Mode::Dynamic)
            .unwrap();
        let fw = fw.unwrap();
        let o = adder_options(5);
        for (nl, shifted) in [
            (crate::hw::build::build(&fw, o), 2usize),
            (inputs_shifted(&fw, o), 6 + 8),
        ] {
            let steps: Vec<u32> = nl
                .nodes
                .iter()
                .filter_map(|n| match n.op {
                    Op::ShiftRoundVar { step, .. } => Some(step),
                    _ => None,
                })
                .collect();
            assert_eq!(steps, vec![4; 6 + 8]);
            let shl = |n: &crate::hw::netlist::Node| {
                matches!(
                    n.op,
                    Op::ShlVar {
                        half: false,
                        base: 3,
                        ..
                    }
                )
            };
            assert_eq!(nl.nodes.iter().filter(|n| shl(n)).count(), shifted);
        }
    }

    /// `RoundOffset` after the folded constant is `rnd(v, s) + b` (half to even) for every `v`,
    /// shift and bias parity, including every tie; the naive reference is the emulator's
    /// `shift_round` followed by the addition.
    #[test]
    fn round_offset_is_rounding_then_bias() {
        use crate::ir::fixed::{shift_round, Interval};
        for s in 1..=6u32 {
            for b in -9i64..=9 {
                let mut nl = Netlist::default();
                let x = nl.input(0, Interval::new(-300, 300));
                let k = (b << s) + (1 << (s - 1)) - (b & 1);
                let u = nl.add_const(x, k);
                let y = nl.round_offset(u, s, b);
                nl.outputs = vec![y];
                for v in -300..=300i64 {
                    let vals = eval(&nl, &[v]).expect("in range");
                    let want = shift_round(v, s as i32) + b;
                    assert_eq!(vals[y.0 as usize], want as i128, "v {v} s {s} b {b}");
                }
            }
        }
    }

    /// The netlist (as built, and with constant multiplies as shift-and-add) computes the
    /// emulator's outputs, and no node leaves its interval or word
    /// (128 problems in every mode; at least 90 % of the pairs must lower).
    #[test]
    fn netlist_equals_emulator_and_stays_in_range() {
        run_counted(
            "proptest-regressions/hw/eval.txt",
            128,
            problem_all_profiles(20, 20),
            0.9,
            |p, tally| {
                for (mode, fw) in lower_all_modes(&p, p.seed ^ 1) {
                    let Ok(fw) = fw else {
                        tally.skipped();
                        continue;
                    };
                    tally.ran();
                    let nl = crate::hw::build::build(&fw, adder_options(p.seed));
                    let lut = rewrite(&nl, ConstMul::Lut);
                    let inputs = inputs_shifted(&fw, adder_options(p.seed));
                    let emu = Emulator::new(&fw);
                    let t = fw.input_type();
                    for x in adversarial_inputs(
                        fw.n_in,
                        t.min_code() as i64,
                        t.max_code() as i64,
                        p.seed,
                    ) {
                        let mut out = vec![0i64; fw.n_out];
                        emu.run_codes(&x, &mut out);
                        for (form, nl) in [("dsp", &nl), ("lut", &lut), ("inputs", &inputs)] {
                            let vals = eval(nl, &x);
                            prop_assert!(vals.is_ok(), "mode {mode} {form}: {:?}", vals);
                            prop_assert_eq!(
                                &outputs(nl, &vals.unwrap()),
                                &out,
                                "mode {} {}",
                                mode,
                                form
                            );
                        }
                    }
                }
                Ok(())
            },
        );
    }

    /// In-layer-norm profiles: the netlist (centring adder tree, code-unit dequantization)
    /// equals the emulator in every mode on 32 random networks; no lowering may fail.
    #[test]
    fn norm_profiles_netlist_equals_emulator() {
        use crate::back::emu::problem::Problem;
        use crate::ir::ProfileName;
        for profile in [ProfileName::Kyegomez, ProfileName::Schneiderkamp] {
            for seed in 0..32u64 {
                let p = Problem {
                    widths: vec![1 + (seed as usize % 7), 8, 3],
                    seed,
                    bias: seed % 2 == 1,
                    dense_first: false,
                    batchnorm: false,
                    zero_frac: [0.0, 0.33, 0.9][seed as usize % 3],
                    in_width: 10,
                    in_int: 3,
                    frac_bits: 9,
                    profile,
                    events: 0,
                };
                for (mode, fw) in lower_all_modes(&p, seed) {
                    let fw = fw.unwrap();
                    let nl = crate::hw::build::build(&fw, adder_options(seed));
                    let lut = rewrite(&nl, ConstMul::Lut);
                    let emu = Emulator::new(&fw);
                    let t = fw.input_type();
                    for x in
                        adversarial_inputs(fw.n_in, t.min_code() as i64, t.max_code() as i64, seed)
                    {
                        let mut out = vec![0i64; fw.n_out];
                        emu.run_codes(&x, &mut out);
                        for (form, nl) in [("dsp", &nl), ("lut", &lut)] {
                            let vals = eval(nl, &x).unwrap_or_else(|e| {
                                panic!("{profile} {seed} {mode} {form}: {e:?}")
                            });
                            assert_eq!(
                                outputs(nl, &vals),
                                out,
                                "{profile} seed {seed} {mode} {form}"
                            );
                        }
                    }
                }
            }
        }
    }
}
