//! The cost model: LUT, FF and DSP of every netlist primitive, from its word widths.
//!
//! Each node contributes *features* (bits of carry chains, of 2:1 selections, of barrel
//! shifters, …) that follow from the widths the Verilog printer uses; LUTs are a weighted sum
//! of the features with coefficients fitted to Yosys 0.23 `synth_xilinx -family xcup` on the
//! calibration set (docs/estimate.md). Flip-flops are the pipeline register bits, counted
//! exactly. DSPs follow Yosys' `mul2dsp` rules for DSP48E2 (27×18 signed).

use crate::hw::netlist::{const_lsbs, threshold_bits, zero_lsbs, Bit, Netlist, Op, Sig};
use crate::hw::schedule::Schedule;
use crate::ir::fixed::Interval;
use serde::Serialize;

/// Per-node quantities the coefficients multiply.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Features {
    /// Bits of adders and subtractors (carry chains) of the ternary trees.
    pub tree_bits: f64,
    /// Bits of tree adders whose operands are both non-negative (codes after a ReLU): Yosys'
    /// `alumacc` merges such chains into `$macc` cells, which map to more LUTs.
    pub utree_bits: f64,
    /// Bits of other carry chains (rounding, bias, negation, comparisons, division steps).
    pub carry_bits: f64,
    /// Bits compared by the comparisons with constants of threshold requantizers (a bit below
    /// a threshold's trailing zeros is not compared: `a ≥ m·2^z` is `a >> z ≥ m`): fused
    /// requantizers of accumulators ...
    pub cmp_bits: f64,
    /// ... and static quantizers of layer inputs, which Yosys maps at several times the LUTs
    /// per compared bit (docs/estimate.md).
    pub qcmp_bits: f64,
    /// Bits of 2:1 selections (max, clamp, ReLU, |x|, division steps).
    pub mux_bits: f64,
    /// Bits × stages of barrel shifters among more than 4 amounts (the reciprocal's
    /// normalizers).
    pub shift_bits: f64,
    /// Selections among a variable shift's amounts: (output bits + 2) × (amounts − 1) for the
    /// rounding shifts printed as a `case` of constant slices, output bits × (amounts − 1) for
    /// shifts among at most 4 amounts.
    pub sel_bits: f64,
    /// Bits multiplied in LUTs (multiplies too small for a DSP).
    pub lut_mul_bits: f64,
    /// Bits of the adders that sum the partial products of a multiply split over several DSPs.
    pub dsp_add_bits: f64,
    pub dsp: f64,
    /// DSPs of variable multiplies (`a·b`; not constant multiplies kept on DSPs).
    pub var_dsp: f64,
    /// Pipeline register bits kept as flip-flops.
    pub ff: f64,
    /// Shift-register LUTs (SRL16E/SRLC32E) Yosys makes of register chains of 3 or more.
    pub srl: f64,
}

impl std::ops::AddAssign for Features {
    fn add_assign(&mut self, o: Features) {
        self.tree_bits += o.tree_bits;
        self.utree_bits += o.utree_bits;
        self.carry_bits += o.carry_bits;
        self.cmp_bits += o.cmp_bits;
        self.qcmp_bits += o.qcmp_bits;
        self.mux_bits += o.mux_bits;
        self.shift_bits += o.shift_bits;
        self.sel_bits += o.sel_bits;
        self.lut_mul_bits += o.lut_mul_bits;
        self.dsp_add_bits += o.dsp_add_bits;
        self.dsp += o.dsp;
        self.var_dsp += o.var_dsp;
        self.ff += o.ff;
        self.srl += o.srl;
    }
}

/// LUTs per feature unit (fitted; docs/estimate.md has the fit and its residuals).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Coefficients {
    pub tree: f64,
    pub utree: f64,
    pub carry: f64,
    pub cmp: f64,
    pub qcmp: f64,
    pub mux: f64,
    pub shift: f64,
    pub sel: f64,
    pub lut_mul: f64,
    pub dsp_add: f64,
    /// LUTs per DSP48E2 of a variable multiply (the logic Yosys leaves around it).
    pub var_dsp: f64,
}

/// The calibrated coefficients. `cmp`, `qcmp`, `shift`, `sel` and `var_dsp` refitted
/// 2026-12-05 on 26 designs of today's RTL (random layers; `qg_mlp_tiny`, `qg_sparse_b6_small`
/// and `qg_sparse_b6_tiny` in every mode and with threshold requantizers at b = 3, 4, 6, 8), the
/// others held at the values of the older, wider calibration set (a free fit drove `mux` and
/// `carry` to 0 and then missed a DSP-constant design by 25 %); `qg_mlp` and `qg_sparse_b6`
/// were held out (docs/estimate.md).
pub const COEFFS: Coefficients = Coefficients {
    tree: 0.9075,
    utree: 0.1377,
    carry: 0.1255,
    cmp: 0.0316,
    qcmp: 0.159,
    mux: 0.3004,
    shift: 5.7791,
    sel: 0.292,
    // No calibration design keeps a multiply in LUTs: one LUT per partial-product bit, unfitted.
    lut_mul: 1.0,
    dsp_add: 1.3177,
    var_dsp: 7.2397,
};

impl Coefficients {
    /// LUTs: logic plus the SRLs (Vivado counts both as LUTs).
    pub fn lut(&self, f: &Features) -> f64 {
        f.srl
            + self.tree * f.tree_bits
            + self.utree * f.utree_bits
            + self.carry * f.carry_bits
            + self.cmp * f.cmp_bits
            + self.qcmp * f.qcmp_bits
            + self.mux * f.mux_bits
            + self.shift * f.shift_bits
            + self.sel * f.sel_bits
            + self.lut_mul * f.lut_mul_bits
            + self.dsp_add * f.dsp_add_bits
            + self.var_dsp * f.var_dsp
    }
}

fn sbits(v: i128) -> u32 {
    Interval::point(v).bits() + u32::from(v >= 0)
}

/// DSP48E2 slices Yosys uses for a signed `a`×`b`-bit product (`mul2dsp`: 27×18 signed,
/// products narrower than 9 bits or with a 1-bit operand stay in LUTs; wider ones are split
/// into 26×17-bit partial products).
pub fn dsp_count(a: u32, b: u32) -> u32 {
    let (big, small) = if a >= b { (a, b) } else { (b, a) };
    if small < 2 || a + b < 9 {
        return 0;
    }
    if big <= 27 && small <= 18 {
        return 1;
    }
    // Split the operands so each piece fits a 27x18 multiplier; try both orientations.
    let split = |x: u32, y: u32| {
        x.saturating_sub(1).div_ceil(26).max(1) * y.saturating_sub(1).div_ceil(17).max(1)
    };
    split(big, small).min(split(small, big))
}

/// Features of node `s` (its own logic; not its registers).
pub fn node_features(nl: &Netlist, s: Sig) -> Features {
    let node = nl.node(s);
    let w = node.width as f64;
    let wof = |x: &Sig| nl.node(*x).width;
    let signed_w = |x: &Sig| nl.node(*x).width + u32::from(!nl.node(*x).signed);
    let mut f = Features::default();
    match &node.op {
        Op::Input(_)
        | Op::Const(_)
        | Op::Field { .. }
        | Op::DivInit { .. }
        | Op::DivQuot { .. } => {}
        Op::Add { a, b, sub } => {
            // Low bits where the operand that is added (or subtracted) is known zero are wires:
            // the shifted copies of a shift-and-add constant multiply (hw::csd).
            let wires = if *sub {
                zero_lsbs(nl, *b)
            } else {
                zero_lsbs(nl, *a).max(zero_lsbs(nl, *b))
            };
            // Above the wires and below an operand's constant bits (a folded constant): a carry
            // chain with one constant operand, priced like a constant add.
            let constant = const_lsbs(nl, *a).max(const_lsbs(nl, *b)).max(wires);
            f.carry_bits = (constant.min(node.width) - wires.min(node.width)) as f64;
            let bits = (w - constant as f64).max(1.0);
            if nl.node(*a).signed || nl.node(*b).signed {
                f.tree_bits = bits
            } else {
                f.utree_bits = bits
            }
        }
        Op::Neg(_) => f.carry_bits = w,
        // Bits below the constant's trailing zeros are wires (back::rtl prints them so).
        Op::AddConst(a, c) => {
            let wires = c.trailing_zeros().max(zero_lsbs(nl, *a));
            f.carry_bits = (w - wires.min(64) as f64).max(1.0)
        }
        // One LUT per 5 low bits of the tie's OR, one for bit 0.
        Op::RoundOffset { s, .. } => f.mux_bits = (1 + s.div_ceil(5)) as f64,
        Op::Abs(a) => {
            f.carry_bits = wof(a) as f64;
            f.mux_bits = w;
        }
        Op::Max(a, b) => {
            f.carry_bits = wof(a).max(wof(b)) as f64;
            f.mux_bits = w;
        }
        Op::MaxConst(a, _) => {
            f.carry_bits = wof(a) as f64;
            f.mux_bits = w;
        }
        Op::Clamp { a, .. } => {
            f.carry_bits = 2.0 * wof(a) as f64;
            f.mux_bits = w;
        }
        Op::Relu(_) => f.mux_bits = w,
        // An AND per bit; priced as a 2:1 selection.
        Op::Select { .. } => f.mux_bits = w,
        // A ROM of one LUT6 per output bit and 6 index bits (a mean pool's 2^5–2^6 entries).
        Op::Lookup { idx, .. } => f.mux_bits = w * (wof(idx) as f64 / 6.0).ceil().max(1.0),
        // One comparison with a constant per threshold (a carry chain over a's bits) and an
        // encoder of the thermometer code, priced as a selection per output bit and 6 inputs.
        Op::Thresholds { a, t, down, .. } => {
            let wa = wof(a);
            let bits = t
                .iter()
                .map(|&c| f64::from(threshold_bits(c, *down, wa)))
                .sum();
            if node.class == crate::hw::netlist::Class::Quantizer {
                f.qcmp_bits = bits
            } else {
                f.cmp_bits = bits
            }
            f.mux_bits = w * ((t.len() + 1) as f64 / 6.0).ceil();
        }
        // A conditional negation: a carry chain and a selection per bit.
        Op::SignOf { .. } => {
            f.carry_bits = w;
            f.mux_bits = w;
        }
        Op::BitLen { a, .. } => f.mux_bits = wof(a) as f64,
        Op::ShlVar { e, .. } => {
            // Printed as `a << amt`. A shift among at most 4 amounts (the quantizers' fine
            // pre-shift) is one 4:1 selection per bit, priced as one; a wider one (the
            // reciprocal's normalizers) is a logarithmic shifter, one 2:1 stage per amount bit.
            let iv = nl.iv(*e);
            let amounts = (iv.hi - iv.lo + 1).max(1);
            if amounts <= 4 {
                f.sel_bits = w * (amounts - 1) as f64;
            } else {
                let stages = 128 - (iv.hi.max(1) as u128).leading_zeros();
                f.shift_bits = w * stages as f64;
            }
        }
        Op::DivStep { d, .. } => {
            f.carry_bits = (wof(d) + 1) as f64;
            f.mux_bits = wof(d) as f64;
        }
        // Three subtractions and a 4:1 selection (two LUTs) per remainder bit.
        Op::DivStep4 { d, .. } => {
            f.carry_bits = 3.0 * (wof(d) + 3) as f64;
            f.mux_bits = 2.0 * wof(d) as f64;
        }
        Op::Mul(a, b) => {
            let (x, y) = (signed_w(a), signed_w(b));
            let n = dsp_count(x, y);
            if n == 0 {
                f.lut_mul_bits = (x * y) as f64;
            }
            f.dsp = n as f64;
            f.var_dsp = n as f64;
            f.dsp_add_bits = n.saturating_sub(1) as f64 * w;
        }
        Op::MulConst(a, c) => {
            let c = *c;
            if c != 0 && (c.unsigned_abs().is_power_of_two()) {
                f.carry_bits = if c < 0 { w } else { 0.0 };
            } else if c != 0 {
                let (x, y) = (signed_w(a), sbits(c as i128));
                let n = dsp_count(x, y);
                if n == 0 {
                    f.lut_mul_bits = (x * y) as f64;
                }
                f.dsp = n as f64;
                f.dsp_add_bits = n.saturating_sub(1) as f64 * w;
            }
        }
        Op::ShiftRound(a, s) => {
            if *s > 0 {
                f.carry_bits = (wof(a) as i64 - *s as i64 + 1).max(1) as f64;
            }
        }
        Op::ShiftRoundVar {
            e, base, step, neg, ..
        } => {
            // Printed as a selection among constant slices (back::rtl::verilog): per value of
            // `e`, the w + 1 window bits and a sticky bit; the sticky bits' OR trees; one
            // w-bit ties-to-even increment.
            let amounts = crate::hw::netlist::var_shift_amounts(nl.iv(*e), *base, *step, *neg);
            let n = amounts.len().max(1) as f64;
            f.sel_bits = (w + 2.0) * (n - 1.0);
            f.carry_bits = w + amounts
                .iter()
                .map(|&(_, s)| s.saturating_sub(1) as f64)
                .sum::<f64>();
        }
    }
    f
}

/// Shortest register chain Yosys (`shregmap -minlen 3` in `synth_xilinx`) turns into an SRL.
pub const SRL_MIN_LEN: u32 = 3;

/// Flip-flop bits and SRL LUTs of the registers carrying each node: the chain from the node's
/// stage to its last use, cut after every register that is read (an SRL has one output);
/// segments of [`SRL_MIN_LEN`] or more registers become one SRL per bit (per 32 stages).
pub fn registers(nl: &Netlist, sch: &Schedule) -> Vec<(f64, f64)> {
    // (stage, bits read): division steps read one bit of `h` and one quotient bit of each step.
    let mut reads: Vec<Vec<(u32, u32)>> = vec![Vec::new(); nl.nodes.len()];
    for i in 0..nl.nodes.len() {
        let st = sch.stage[i];
        match &nl.nodes[i].op {
            Op::DivStep { prev, d, nbit, .. } => {
                reads[prev.0 as usize].push((st, u32::MAX));
                reads[d.0 as usize].push((st, u32::MAX));
                if let Bit::Of(h, _) = nbit {
                    reads[h.0 as usize].push((st, 1));
                }
            }
            Op::DivStep4 {
                prev,
                d,
                d3,
                hi,
                lo,
                ..
            } => {
                for s in [prev, d, d3] {
                    reads[s.0 as usize].push((st, u32::MAX));
                }
                for b in [hi, lo] {
                    if let Bit::Of(h, _) = b {
                        reads[h.0 as usize].push((st, 1));
                    }
                }
            }
            Op::DivQuot { steps, .. } => steps.iter().for_each(|s| {
                let bits = nl.node(*s).op.quotient_bits();
                reads[s.0 as usize].push((st, bits))
            }),
            _ => {
                for o in nl.operands(Sig(i as u32)) {
                    reads[o.0 as usize].push((st, u32::MAX));
                }
            }
        }
    }
    for o in &nl.outputs {
        reads[o.0 as usize].push((sch.out_stage, u32::MAX));
    }
    reads
        .iter_mut()
        .enumerate()
        .map(|(i, r)| {
            let s0 = sch.stage[i];
            // Low bits known to be constants (zeros of a shifted value, a folded constant)
            // need no register: Yosys removes such flip-flops (opt_dff).
            let sig = Sig(i as u32);
            let konst = zero_lsbs(nl, sig).max(const_lsbs(nl, sig));
            let w = nl.nodes[i].width.saturating_sub(konst);
            r.retain(|&(t, _)| t > s0);
            // Bits a register at stage t must hold: all, if a full read comes at or after t,
            // else the number of single-bit reads at or after t.
            let need = |t: u32| -> u32 {
                if r.iter().any(|&(u, b)| u >= t && b == u32::MAX) {
                    w
                } else {
                    (r.iter().filter(|&&(u, _)| u >= t).count() as u32).min(w)
                }
            };
            let mut stops: Vec<u32> = r.iter().map(|&(t, _)| t).collect();
            stops.sort_unstable();
            stops.dedup();
            let (mut ff, mut srl, mut prev) = (0.0, 0.0, s0);
            for &t in &stops {
                let k = t - prev;
                let bits = need(t) as f64;
                if k >= SRL_MIN_LEN {
                    srl += bits * k.div_ceil(32) as f64;
                } else {
                    ff += bits * k as f64;
                }
                prev = t;
            }
            (ff, srl)
        })
        .collect()
}

/// Features of every node plus its registers, summed per firmware layer (index = layer), and
/// the design-level part (output registers and the valid pipeline) separately.
pub fn features(nl: &Netlist, sch: &Schedule, n_layers: usize) -> (Vec<Features>, Features) {
    let mut per = vec![Features::default(); n_layers.max(1)];
    let regs = registers(nl, sch);
    for i in 0..nl.nodes.len() {
        let s = Sig(i as u32);
        let mut f = node_features(nl, s);
        (f.ff, f.srl) = regs[i];
        let l = nl.nodes[i].layer.min(per.len() - 1);
        per[l] += f;
    }
    let io = Features {
        ff: (nl.outputs.len() as u64 * nl.out_width as u64 + sch.latency as u64) as f64,
        ..Default::default()
    };
    (per, io)
}
