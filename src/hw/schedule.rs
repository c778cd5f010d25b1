//! Pipeline schedule: which clock stage computes each node, where registers go.
//!
//! Every primitive has a combinational depth in *adder levels* ([`levels`]). Nodes are placed
//! as soon as possible: a node stays in its operands' stage while the stage's depth stays within
//! `adders_per_stage`, otherwise it starts the next stage. Multipliers take a whole stage (so
//! their DSP has a full clock). A value used in a later stage than its own is carried by one
//! register per stage crossed; the outputs are registered after the last stage, so the
//! latency is `last stage + 1` cycles, and a new event is accepted every clock (II = 1).

use super::netlist::{Netlist, Op, Sig};
use crate::target::AdderOptions;
use serde::Serialize;

/// How the hardware is built: register density, the ternary sums' adder structure and the
/// form of constant multiplies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct PipelineOptions {
    /// Adder levels per clock stage (≥ 1).
    pub adders_per_stage: u32,
    /// Structure of the ternary layers' sums.
    pub adders: AdderOptions,
    /// Constant multiplies as DSPs or as shift-and-add in LUTs ([`super::csd`]).
    pub const_mul: ConstMul,
}

/// How a multiply by a constant is built.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConstMul {
    /// Shift-and-add over the constant's canonical signed digits: no DSP, `digits − 1` adders
    /// in `⌈log2 digits⌉` levels.
    #[default]
    Lut,
    /// One multiplier (a DSP48E2 when the operands are wide enough).
    Dsp,
    /// Shift-and-add when the constant has at most [`super::csd::AUTO_MAX_DIGITS`] non-zero
    /// canonical signed digits, else a DSP.
    Auto,
}

impl crate::choice::Choice for ConstMul {
    const ALL: &'static [ConstMul] = &[ConstMul::Lut, ConstMul::Dsp, ConstMul::Auto];
    fn name(self) -> &'static str {
        match self {
            ConstMul::Lut => "lut",
            ConstMul::Dsp => "dsp",
            ConstMul::Auto => "auto",
        }
    }
    fn help(self) -> &'static str {
        match self {
            ConstMul::Lut => "shift-and-add over canonical signed digits (no DSP)",
            ConstMul::Dsp => "one multiplier per constant multiply (DSPs)",
            ConstMul::Auto => "shift-and-add for constants of at most 4 signed digits, else DSP",
        }
    }
}

impl PipelineOptions {
    /// Levels that fit a clock period: one adder level (an 8–20 bit carry chain plus routing)
    /// is taken as [`ADDER_LEVEL_NS`] ns on UltraScale+, a conservative figure.
    pub fn for_clock(clock_ns: f64) -> PipelineOptions {
        let n = (clock_ns / ADDER_LEVEL_NS).floor();
        PipelineOptions {
            adders_per_stage: n.clamp(1.0, 64.0) as u32,
            adders: AdderOptions::default(),
            const_mul: ConstMul::default(),
        }
    }
}

/// Assumed delay of one adder level, in ns (see [`PipelineOptions::for_clock`]).
pub const ADDER_LEVEL_NS: f64 = 1.25;

/// Combinational depth of a primitive in adder levels; `stage` is the levels of a whole stage.
/// A multiply (a DSP) takes a whole stage. Constant multiplies built in LUTs are no longer
/// `MulConst` nodes after [`super::csd::rewrite`]: their shifts are wiring (0) and their adders
/// one level each, so such a product costs its tree's `⌈log2 digits⌉` levels.
pub fn levels(op: &Op, stage: u32) -> u32 {
    match op {
        Op::Input(_)
        | Op::Const(_)
        | Op::Field { .. }
        | Op::DivInit { .. }
        | Op::DivQuot { .. } => 0,
        Op::ShiftRound(_, s) if *s <= 0 => 0,
        // Wiring and one LUT on bit 0, whose tie test reads the low bits of the adder that
        // computes the operand: its carry chain settles them first.
        Op::RoundOffset { .. } => 0,
        Op::Mul(..) | Op::MulConst(..) => stage,
        Op::ShiftRoundVar { .. } => 2,
        _ => 1,
    }
}

#[derive(Clone, Debug)]
pub struct Schedule {
    /// Stage of each node.
    pub stage: Vec<u32>,
    /// Depth (levels) of each node inside its stage.
    pub depth: Vec<u32>,
    /// Last stage in which each node's value is read (its own stage if only read there).
    pub last_use: Vec<u32>,
    /// Stage whose values the output registers capture.
    pub out_stage: u32,
    /// Cycles from `valid_in` to `valid_out`.
    pub latency: u32,
}

impl Schedule {
    /// Adder levels used in each pipeline stage (the deepest node of the stage).
    pub fn stage_levels(&self) -> Vec<u32> {
        let last = self
            .stage
            .iter()
            .copied()
            .max()
            .unwrap_or(0)
            .max(self.out_stage);
        let mut v = vec![0u32; last as usize + 1];
        for (&s, &d) in self.stage.iter().zip(&self.depth) {
            let l = &mut v[s as usize];
            *l = (*l).max(d);
        }
        v
    }

    /// Registers carrying node `s` (one per stage crossed) and their total bits.
    pub fn reg_bits(&self, nl: &Netlist, s: Sig) -> u64 {
        let i = s.0 as usize;
        (self.last_use[i] - self.stage[i]) as u64 * nl.nodes[i].width as u64
    }
}

pub fn schedule(nl: &Netlist, o: PipelineOptions) -> Schedule {
    let n = o.adders_per_stage.max(1);
    let len = nl.nodes.len();
    let mut stage = vec![0u32; len];
    let mut depth = vec![0u32; len];
    for i in 0..len {
        let s = Sig(i as u32);
        let ops = nl.operands(s);
        let s_in = ops.iter().map(|o| stage[o.0 as usize]).max().unwrap_or(0);
        let d_in = ops
            .iter()
            .filter(|o| stage[o.0 as usize] == s_in)
            .map(|o| depth[o.0 as usize])
            .max()
            .unwrap_or(0);
        let l = levels(&nl.nodes[i].op, n);
        if l == 0 || d_in + l <= n {
            stage[i] = s_in;
            depth[i] = d_in + l;
        } else {
            stage[i] = s_in + 1;
            depth[i] = l;
        }
    }
    let out_stage = nl
        .outputs
        .iter()
        .map(|o| stage[o.0 as usize])
        .max()
        .unwrap_or(0);
    let mut last_use = stage.clone();
    for i in 0..len {
        for o in nl.operands(Sig(i as u32)) {
            let j = o.0 as usize;
            last_use[j] = last_use[j].max(stage[i]);
        }
    }
    for o in &nl.outputs {
        let j = o.0 as usize;
        last_use[j] = last_use[j].max(out_stage);
    }
    Schedule {
        stage,
        depth,
        last_use,
        out_stage,
        latency: out_stage + 1,
    }
}
