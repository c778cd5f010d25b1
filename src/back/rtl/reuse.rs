//! Particle-level designs that share `Φ` over the particle axis (`--particle-reuse R`): one jet
//! every `R` clocks, `G = ⌈N/R⌉` copies of `Φ`.
//!
//! The top module holds the jet for `R` cycles and feeds particle group `r` (particles
//! `r·G … r·G + G − 1`, empty slots beyond `N`) to the group core (`<name>_phi`: `Φ` on `G`
//! particles and their masked sums, [`crate::hw::build::build_group`]) in cycle `r`; an
//! accumulator adds the `R` partial sums (or keeps their max), and the pooled vector enters `F`'s core
//! (`<name>_rho`, [`crate::hw::build::build_rho`]). Integer sums are associative, so the
//! outputs are the reference's exactly. Latency `R + L_Φ + L_F + 1` cycles (`L` the cores'
//! pipelines), initiation interval `R`.

use super::verilog::Names;
use super::{module_text, Result};
use crate::hw::build::{build_group, build_rho, max_offset, Graphs};
use crate::hw::schedule::PipelineOptions;
use crate::hw::Design;
use crate::ir::set::{PoolKind, SetFirmware};
use std::fmt::Write;

/// The two scheduled cores of a shared-`Φ` design.
pub struct ReuseDesign {
    pub reuse: usize,
    /// Particles per group (`Φ` copies).
    pub group: usize,
    pub phi: Design,
    pub rho: Design,
}

impl ReuseDesign {
    pub fn new(fw: &SetFirmware, reuse: usize, pipeline: PipelineOptions) -> ReuseDesign {
        let group = fw.pool.n.div_ceil(reuse);
        let mut graphs = Graphs::new();
        let phi = Design::scheduled(
            &build_group(fw, group, pipeline.adders, &mut graphs),
            pipeline,
        );
        let rho = Design::scheduled(&build_rho(fw, pipeline.adders, &mut graphs), pipeline);
        ReuseDesign {
            reuse,
            group,
            phi,
            rho,
        }
    }

    /// Clock cycles from a jet's `valid_in` to its `valid_out` (as the test bench counts them).
    pub fn latency(&self) -> u32 {
        self.reuse as u32 + self.phi.latency() + self.rho.latency() + 1
    }
}

/// The Verilog of the whole design: the two cores and the top module `name`.
pub fn verilog(fw: &SetFirmware, d: &ReuseDesign, name: &str, title: &str) -> Result<String> {
    let (phi_name, rho_name) = (format!("{name}_phi"), format!("{name}_rho"));
    let it = fw.phi.input_type();
    // What the group core gives and F's core reads: the pool's type, or a mean's sums.
    let pt = fw.pool.acc_type;
    let mut s = module_text(
        &d.phi,
        &phi_name,
        &format!("{title}: Φ on {} particles and their masked sums", d.group),
        &it.cpp(),
        &pt.cpp(),
    )?;
    s.push('\n');
    s.push_str(&module_text(
        &d.rho,
        &rho_name,
        &format!("{title}: F on the pooled jet"),
        &pt.cpp(),
        &fw.output_type().cpp(),
    )?);
    s.push('\n');
    s.push_str(&top(fw, d, name, title, &phi_name, &rho_name));
    Ok(s)
}

fn top(fw: &SetFirmware, d: &ReuseDesign, name: &str, title: &str, phi: &str, rho: &str) -> String {
    let (n, f, g, r) = (fw.pool.n, fw.features(), d.group, d.reuse);
    let nj = fw.jet_features();
    let jet_port = |k: usize| Names::input(n * f + n + k);
    let w = fw.phi.input_type().width;
    let l = fw.phi.n_out;
    // The accumulators' and pooled registers' width: the pool's type, or for a mean the sum's
    // (F's core divides).
    let p = fw.pool.acc_type.width;
    let aw = d.phi.netlist.out_width;
    let ow = d.rho.netlist.out_width;
    let la = d.phi.latency();
    let cw = usize::BITS - (r.max(2) - 1).leading_zeros();
    let mut o = String::new();
    let _ = writeln!(o, "// {title}");
    let _ = writeln!(o, "// Top: one jet every {r} clocks (valid_in at most every {r} cycles), {g} copies of Φ shared by {n} particles; latency {} cycles.", d.latency());
    let _ = writeln!(
        o,
        "// Ports: x_<i*{f}+f> features of particle i, x_<{}+i> its mask bit{}; y_<n> output codes.",
        n * f,
        if nj > 0 {
            format!(", x_<{}+k> per-jet input k", n * f + n)
        } else {
            String::new()
        }
    );
    let _ = writeln!(o, "`timescale 1ns / 1ps\nmodule {name} (\n    input clk,\n    input rst,\n    input valid_in,");
    for k in 0..n * f {
        let _ = writeln!(o, "    input [{}:0] {},", w - 1, Names::input(k));
    }
    for i in 0..n {
        let _ = writeln!(o, "    input [0:0] {},", Names::input(n * f + i));
    }
    for k in 0..nj {
        let _ = writeln!(o, "    input [{}:0] {},", w - 1, jet_port(k));
    }
    let _ = writeln!(o, "    output valid_out,");
    let outs: Vec<String> = (0..fw.n_out())
        .map(|k| format!("    output [{}:0] {}", ow - 1, Names::output(k)))
        .collect();
    let _ = writeln!(o, "{}\n);", outs.join(",\n"));
    // Hold registers and the group counter.
    for k in 0..n * f {
        let _ = writeln!(o, "    reg [{}:0] h_{k};", w - 1);
    }
    for i in 0..n {
        let _ = writeln!(o, "    reg m_{i};");
    }
    for k in 0..nj {
        let _ = writeln!(o, "    reg [{}:0] j_{k};", w - 1);
    }
    let _ = writeln!(o, "    reg busy;\n    reg [{}:0] grp;", cw - 1);
    let _ = writeln!(o, "    always @(posedge clk) begin\n        if (rst) begin busy <= 1'b0; grp <= 0; end\n        else if (valid_in) begin busy <= 1'b1; grp <= 0; end\n        else if (busy) begin if (grp == {}) busy <= 1'b0; grp <= grp + 1'b1; end\n    end", r - 1);
    let _ = writeln!(o, "    always @(posedge clk) if (valid_in) begin");
    for k in 0..n * f {
        let _ = writeln!(o, "        h_{k} <= {};", Names::input(k));
    }
    for i in 0..n {
        let _ = writeln!(o, "        m_{i} <= {}[0];", Names::input(n * f + i));
    }
    for k in 0..nj {
        let _ = writeln!(o, "        j_{k} <= {};", jet_port(k));
    }
    let _ = writeln!(o, "    end");
    // Group multiplexers.
    let pick = |slot: usize, of: &dyn Fn(usize) -> Option<String>, zero: &str| -> String {
        let mut e = zero.to_string();
        for grp in (0..r).rev() {
            let v = of(grp * g + slot).unwrap_or_else(|| zero.to_string());
            e = format!("(grp == {grp}) ? {v} : {e}");
        }
        e
    };
    for j in 0..g {
        for ff in 0..f {
            let e = pick(
                j,
                &|pi| (pi < n).then(|| format!("h_{}", pi * f + ff)),
                &format!("{w}'d0"),
            );
            let _ = writeln!(o, "    wire [{}:0] a_x_{} = {e};", w - 1, j * f + ff);
        }
        let e = pick(j, &|pi| (pi < n).then(|| format!("m_{pi}")), "1'b0");
        let _ = writeln!(o, "    wire [0:0] a_x_{} = {e};", g * f + j);
    }
    // Group core.
    let _ = writeln!(o, "    wire a_valid;");
    for k in 0..l {
        let _ = writeln!(o, "    wire [{}:0] a_y_{k};", aw - 1);
    }
    let mut ports: Vec<String> = vec![
        ".clk(clk)".into(),
        ".rst(rst)".into(),
        ".valid_in(busy)".into(),
    ];
    ports.extend((0..g * f + g).map(|k| format!(".{}(a_x_{k})", Names::input(k))));
    ports.push(".valid_out(a_valid)".into());
    ports.extend((0..l).map(|k| format!(".{}(a_y_{k})", Names::output(k))));
    let _ = writeln!(o, "    {phi} u_phi ({});", ports.join(", "));
    // First/last flags along the core's pipeline.
    let flags = |what: &str, cond: String| {
        format!(
            "    reg [{m}:0] {what}_sr;\n    always @(posedge clk) {what}_sr <= {};",
            if la == 1 {
                cond
            } else {
                format!("{{{what}_sr[{}:0], {cond}}}", la - 2)
            },
            m = la - 1
        )
    };
    let _ = writeln!(o, "{}", flags("first", "busy && grp == 0".into()));
    let _ = writeln!(o, "{}", flags("last", format!("busy && grp == {}", r - 1)));
    let _ = writeln!(
        o,
        "    wire a_first = first_sr[{}];\n    wire a_last = last_sr[{}];",
        la - 1,
        la - 1
    );
    // Accumulators and the pooled registers.
    let _ = writeln!(
        o,
        "    reg pool_v;\n    always @(posedge clk) pool_v <= !rst && a_valid && a_last;"
    );
    // A max pool over Φ outputs that can be negative runs in the offset domain of
    // `hw::build::max_offset` (0 = no real particle yet): accumulate at the group core's width,
    // subtract the offset when the jet is complete.
    let offsets: Vec<Option<i64>> = (0..l).map(|k| max_offset(fw, k)).collect();
    let pa = if offsets.iter().any(Option::is_some) {
        p.max(aw)
    } else {
        p
    };
    for (k, off) in offsets.iter().enumerate() {
        let e = if aw >= pa {
            format!("a_y_{k}[{}:0]", pa - 1)
        } else {
            format!("{{{{{}{{a_y_{k}[{}]}}}}, a_y_{k}}}", pa - aw, aw - 1)
        };
        let _ = writeln!(
            o,
            "    wire [{}:0] e_{k} = {e};\n    reg [{}:0] acc_{k};\n    reg [{}:0] pool_{k};",
            pa - 1,
            pa - 1,
            p - 1
        );
        let combine = match fw.pool.kind {
            PoolKind::Sum | PoolKind::Mean => format!("acc_{k} + e_{k}"),
            PoolKind::Max => format!("(($signed(acc_{k}) > $signed(e_{k})) ? acc_{k} : e_{k})"),
        };
        let _ = writeln!(
            o,
            "    wire [{}:0] s_{k} = a_first ? e_{k} : {combine};",
            pa - 1
        );
        let pooled = match off {
            Some(c) => {
                let _ = writeln!(o, "    wire [{}:0] d_{k} = s_{k} - {pa}'d{c};", pa - 1);
                format!("(s_{k} == 0) ? {p}'d0 : d_{k}[{}:0]", p - 1)
            }
            None if pa == p => format!("s_{k}"),
            None => format!("s_{k}[{}:0]", p - 1),
        };
        let _ = writeln!(o, "    always @(posedge clk) if (a_valid) begin acc_{k} <= s_{k}; if (a_last) pool_{k} <= {pooled}; end");
    }
    for k in 0..nj {
        let names = [format!("j_{k}"), format!("jd_{k}_"), format!("pj_{k}")];
        delay_to_pool(&mut o, &names, w, la);
    }
    let mean = fw.pool.mean.is_some();
    if mean {
        // The number of real particles, delayed with the jet for F's core (which divides).
        let nw = usize::BITS - n.leading_zeros();
        let terms: Vec<String> = (0..n)
            .map(|i| match nw {
                1 => format!("m_{i}"),
                _ => format!("{{{}'d0, m_{i}}}", nw - 1),
            })
            .collect();
        let _ = writeln!(o, "    wire [{}:0] cnt = {};", nw - 1, terms.join(" + "));
        delay_to_pool(&mut o, &["cnt".into(), "cd_".into(), "pc".into()], nw, la);
    }
    // F's core.
    let mut ports: Vec<String> = vec![
        ".clk(clk)".into(),
        ".rst(rst)".into(),
        ".valid_in(pool_v)".into(),
    ];
    ports.extend((0..l).map(|k| format!(".{}(pool_{k})", Names::input(k))));
    if mean {
        ports.push(format!(".{}(pc)", Names::input(l)));
    }
    let first_jet = l + usize::from(mean);
    ports.extend((0..nj).map(|k| format!(".{}(pj_{k})", Names::input(first_jet + k))));
    ports.push(".valid_out(valid_out)".into());
    ports.extend((0..fw.n_out()).map(|k| format!(".{}({})", Names::output(k), Names::output(k))));
    let _ = writeln!(o, "    {rho} u_rho ({});\nendmodule", ports.join(", "));
    o
}

/// A per-jet value `src` (`w` bits, computed from the held jet: a per-jet input `j_<k>` or the
/// particle count) delayed along the group core's `la` stages (registers `<delay><stage>`) like
/// the `last` flag, so that `dst` is latched with the pooled registers: the jet's own value
/// even when the next jet has already been taken in. `names` = `[src, delay, dst]`.
fn delay_to_pool(o: &mut String, names: &[String; 3], w: u32, la: u32) {
    let [src, d, dst] = names;
    for s in 0..la {
        let prev = if s == 0 {
            src.to_string()
        } else {
            format!("{d}{}", s - 1)
        };
        let _ = writeln!(
            o,
            "    reg [{}:0] {d}{s};\n    always @(posedge clk) {d}{s} <= {prev};",
            w - 1
        );
    }
    let _ = writeln!(
        o,
        "    reg [{}:0] {dst};\n    always @(posedge clk) if (a_valid && a_last) {dst} <= {d}{};",
        w - 1,
        la - 1
    );
}
