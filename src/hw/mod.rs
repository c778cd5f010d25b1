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

use crate::ir::firmware::Firmware;
use netlist::Netlist;
use schedule::{PipelineOptions, Schedule};

/// A scheduled design: everything the printer and the estimator need.
pub struct Design {
    pub netlist: Netlist,
    pub schedule: Schedule,
    pub pipeline: PipelineOptions,
}

impl Design {
    pub fn new(fw: &Firmware, pipeline: PipelineOptions) -> Design {
        let netlist = csd::rewrite(&build::build(fw), pipeline.const_mul);
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
}
