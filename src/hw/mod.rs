//! The hardware IR: the lowered firmware as a word-level netlist with a pipeline schedule.
//!
//! [`build`] turns a [`Firmware`] into a [`netlist::Netlist`] (every node with its proven
//! interval and narrowest word; identical sub-trees hash-consed), [`schedule`] places pipeline
//! registers, [`csd`] turns constant multiplies into shift-and-add (per
//! [`schedule::ConstMul`]), and [`Design`] holds both. Two siblings read it: the Verilog printer
//! ([`crate::back::rtl`]) and the cost model ([`crate::estimate`]). [`eval`] interprets a
//! netlist (tests: the netlist equals the emulator).

pub mod build;
pub mod csd;
pub mod eval;
pub mod netlist;
pub mod schedule;

use crate::ir::firmware::{Firmware, FwKind, Quantizer};
use crate::ir::set::SetFirmware;
use netlist::Netlist;
use schedule::{PipelineOptions, Schedule};

/// A scheduled design: everything the printer and the estimator need.
pub struct Design {
    pub netlist: Netlist,
    pub schedule: Schedule,
    pub pipeline: PipelineOptions,
}

impl Design {
    /// Builds and schedules `fw`. Each dynamic quantizer shifts its reciprocal
    /// ([`build::FineShift::Reciprocal`], the fewest LUTs) unless shifting its inputs instead
    /// gives a shorter pipeline; layers are tried in order, a change kept only if it shortens it.
    pub fn new(fw: &Firmware, pipeline: PipelineOptions) -> Design {
        let mut graphs = build::Graphs::new();
        let mut make = |fine: &[build::FineShift]| {
            Design::scheduled(
                &build::build_with(fw, pipeline.adders, fine, &mut graphs),
                pipeline,
            )
        };
        let mut fine = vec![build::FineShift::Reciprocal; fw.layers.len()];
        let mut best = make(&fine);
        for l in 0..fw.layers.len() {
            let dynamic = matches!(&fw.layers[l].kind,
                FwKind::Ternary(t) if matches!(t.quant, Quantizer::Dynamic { .. }));
            if !dynamic {
                continue;
            }
            fine[l] = build::FineShift::Inputs;
            let d = make(&fine);
            if d.latency() < best.latency() {
                best = d;
            } else {
                fine[l] = build::FineShift::Reciprocal;
            }
        }
        best
    }
    /// Builds and schedules particle-level firmware ([`build::build_set`]); every dynamic
    /// quantizer shifts its reciprocal.
    pub fn for_set(fw: &SetFirmware, pipeline: PipelineOptions) -> Design {
        let nl = build::build_set(fw, pipeline.adders, &mut build::Graphs::new());
        Design::scheduled(&nl, pipeline)
    }

    /// A built netlist with its constant multiplies rewritten ([`csd::rewrite`]) and scheduled.
    pub fn scheduled(nl: &Netlist, pipeline: PipelineOptions) -> Design {
        let netlist = csd::rewrite(nl, pipeline.const_mul);
        let schedule = schedule::schedule(&netlist, pipeline);
        Design {
            netlist,
            schedule,
            pipeline,
        }
    }

    pub fn latency(&self) -> u32 {
        self.schedule.latency
    }

    /// Per firmware stage (`n_layers` of them): the number of nodes of the ternary layers'
    /// sums ([`netlist::Class::TernaryAdder`]: adders and negations) and the longest chain of
    /// them (the sum's adder depth), and its quantizers and requantizers built as threshold
    /// comparisons ([`netlist::Op::Thresholds`]).
    pub fn ternary_adders(&self, n_layers: usize) -> Vec<AdderStats> {
        let nodes = &self.netlist.nodes;
        let mut depth = vec![0u32; nodes.len()];
        let mut out = vec![AdderStats::default(); n_layers];
        for (i, n) in nodes.iter().enumerate() {
            if matches!(n.op, netlist::Op::Thresholds { .. }) && n.layer < n_layers {
                out[n.layer].thresholds += 1;
            }
            if n.class != netlist::Class::TernaryAdder || n.layer >= n_layers {
                continue;
            }
            let d_in = self
                .netlist
                .operands(netlist::Sig(i as u32))
                .iter()
                .map(|o| depth[o.0 as usize])
                .max()
                .unwrap_or(0);
            let is_op = !matches!(n.op, netlist::Op::Const(_));
            depth[i] = d_in + u32::from(is_op);
            let st = &mut out[n.layer];
            st.count += u64::from(is_op);
            st.depth = st.depth.max(depth[i]);
        }
        out
    }
}

/// The adders of one ternary layer's sums (see [`Design::ternary_adders`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct AdderStats {
    pub count: u64,
    pub depth: u32,
    /// Quantizers and requantizers of the stage built as threshold comparisons.
    pub thresholds: u64,
}
