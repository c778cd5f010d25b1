//! Verilog RTL backend: the firmware as one pipelined Verilog-2001 module.
//!
//! [`build`] turns the firmware into a word-level [`netlist::Netlist`], [`schedule`] places
//! registers (`--adders-per-stage`), [`verilog`] prints it, and [`render`] assembles a project:
//!
//! - `rtl/<name>.v` — the design (ports `clk`, `rst`, `valid_in`, `x_<k>`, `valid_out`, `y_<n>`);
//! - `tb/tb_<name>.cpp` — a Verilator test bench (see [`sim`]);
//! - `tb_data/tb_input_codes.dat`, `tb_data/tb_output_codes.dat` — input codes and the
//!   emulator's output codes, one event per line;
//! - `synth.ys` — the Yosys script `bit2hls synth` runs; `vivado_synth.tcl` — out-of-context
//!   Vivado synthesis, place and route and timing (untested: no Vivado here);
//! - `firmware.json`; `report.json`; `report.html` (added by the CLI).

pub mod reuse;
pub mod sim;
pub mod verilog;

use crate::hw::netlist;
use crate::hw::schedule::PipelineOptions;
pub use crate::hw::Design;
use crate::io::particles::Jets;
use crate::ir::firmware::Firmware;
use crate::ir::serial;
use crate::ir::set::SetFirmware;
use crate::project::{ProjectError, Result};
use crate::reference::fixed::Emulator;
use askama::Template;
use serde::Serialize;
use std::fmt::Write;

/// Options of the Verilog project.
#[derive(Clone, Debug)]
pub struct RtlOptions {
    /// Module and project name.
    pub name: String,
    /// Full part name (recorded; the RTL itself is vendor-neutral).
    pub part: String,
    pub clock_ns: f64,
    pub pipeline: PipelineOptions,
}

#[derive(Template)]
#[template(path = "rtl/top.v.jinja", escape = "none")]
struct TopV {
    title: String,
    version: &'static str,
    pipeline: String,
    in_type: String,
    out_type: String,
    name: String,
    in_ports: Vec<String>,
    out_ports: Vec<String>,
    body: String,
    out_regs: Vec<String>,
    latency: u32,
    latency_m1: u32,
    valid_zero: String,
    valid_next: String,
}

#[derive(Template)]
#[template(path = "rtl/vivado_synth.tcl.jinja", escape = "none")]
struct VivadoTcl {
    name: String,
    part: String,
    clock: String,
}

#[derive(Template)]
#[template(path = "rtl/tb.cpp.jinja", escape = "none")]
struct TbCpp {
    name: String,
    version: &'static str,
    n_in: usize,
    n_out: usize,
    latency: u32,
    /// Cycles between events (1: one per clock).
    ii: u32,
    set_lines: Vec<String>,
    get_lines: Vec<String>,
}

fn render_err(what: &'static str) -> impl Fn(askama::Error) -> ProjectError {
    move |e| ProjectError::Option(format!("rendering {what}: {e}"))
}

/// The Verilog text of the design.
pub fn verilog_text(fw: &Firmware, d: &Design, name: &str) -> Result<String> {
    let title = format!("{name}: {} (bit2hls firmware, mode {})", fw.name, fw.mode());
    module_text(
        d,
        name,
        &title,
        &fw.input_type().cpp(),
        &fw.output_type().cpp(),
    )
}

/// The Verilog module of any scheduled design (`in_type`/`out_type` only label the ports).
pub fn module_text(
    d: &Design,
    name: &str,
    title: &str,
    in_type: &str,
    out_type: &str,
) -> Result<String> {
    let (nl, sch) = (&d.netlist, &d.schedule);
    let ow = nl.out_width;
    let lat = sch.latency;
    let out_regs = nl
        .outputs
        .iter()
        .enumerate()
        .map(|(n, s)| {
            let j = s.0 as usize;
            let node = &nl.nodes[j];
            let src = verilog::Names::at(j, sch.stage[j], sch.out_stage);
            let v = verilog::Names::output(n);
            let val = resize(&src, node.width, node.signed, ow);
            format!(
                "reg [{}:0] {v}_r; always @(posedge clk) {v}_r <= {val}; assign {v} = {v}_r;",
                ow - 1
            )
        })
        .collect();
    let t = TopV {
        title: title.to_string(),
        version: env!("CARGO_PKG_VERSION"),
        pipeline: format!(
            "Pipeline: {} adder levels per stage; {} nodes, {} register bits between stages.",
            d.pipeline.adders_per_stage,
            nl.nodes.len(),
            (0..nl.nodes.len())
                .map(|i| sch.reg_bits(nl, netlist::Sig(i as u32)))
                .sum::<u64>()
        ),
        in_type: in_type.to_string(),
        out_type: out_type.to_string(),
        name: name.to_string(),
        in_ports: nl
            .inputs
            .iter()
            .enumerate()
            .map(|(k, s)| format!("[{}:0] {}", nl.node(*s).width - 1, verilog::Names::input(k)))
            .collect(),
        out_ports: (0..nl.outputs.len())
            .map(|n| format!("[{}:0] {}", ow - 1, verilog::Names::output(n)))
            .collect(),
        body: verilog::body(nl, sch),
        out_regs,
        latency: lat,
        latency_m1: lat - 1,
        valid_zero: format!("{lat}'b0"),
        valid_next: if lat == 1 {
            "valid_in".into()
        } else {
            format!("{{valid_sr[{}:0], valid_in}}", lat - 2)
        },
    };
    t.render().map_err(render_err("the Verilog module"))
}

fn resize(name: &str, w: u32, signed: bool, to: u32) -> String {
    if to == w {
        name.to_string()
    } else if to < w {
        format!("{name}[{}:0]", to - 1)
    } else if signed {
        format!("{{{{{}{{{name}[{}]}}}}, {name}}}", to - w, w - 1)
    } else {
        format!("{{{}'b0, {name}}}", to - w)
    }
}

/// The Verilator test bench.
pub fn tb_text(fw: &Firmware, d: &Design, name: &str) -> Result<String> {
    let widths = vec![fw.input_type().width; fw.n_in];
    tb_text_ports(&widths, fw.output_type(), fw.n_out, (d.latency(), 1), name)
}

/// The Verilator test bench of a design with input ports of `in_widths` bits and `n_out`
/// outputs of type `ot`.
fn tb_text_ports(
    in_widths: &[u32],
    ot: crate::ir::fixed::FixedType,
    n_out: usize,
    (latency, ii): (u32, u32),
    name: &str,
) -> Result<String> {
    let mask = |w: u32| {
        if w >= 64 {
            "~0ULL".to_string()
        } else {
            format!("0x{:x}ULL", (1u128 << w) - 1)
        }
    };
    let t = TbCpp {
        name: name.to_string(),
        version: env!("CARGO_PKG_VERSION"),
        n_in: in_widths.len(),
        n_out,
        latency,
        ii,
        set_lines: in_widths
            .iter()
            .enumerate()
            .map(|(k, w)| {
                format!(
                    "top->{} = (uint64_t)x[{k}] & {};",
                    verilog::Names::input(k),
                    mask(*w)
                )
            })
            .collect(),
        get_lines: (0..n_out)
            .map(|n| {
                format!(
                    "y[{n}] = sext((uint64_t)top->{}, {}, {});",
                    verilog::Names::output(n),
                    ot.width,
                    ot.signed
                )
            })
            .collect(),
    };
    t.render().map_err(render_err("the test bench"))
}

/// Integer code lines, one event per line.
pub fn codes_text(codes: &[i64], cols: usize) -> String {
    let mut s = String::with_capacity(codes.len() * 6);
    for row in codes.chunks(cols.max(1)) {
        for (i, v) in row.iter().enumerate() {
            if i > 0 {
                s.push(' ');
            }
            let _ = write!(s, "{v}");
        }
        s.push('\n');
    }
    s
}

/// Input codes and expected output codes of float inputs `x` (row-major).
pub fn tb_codes(fw: &Firmware, x: &[f32]) -> (Vec<i64>, Vec<i64>) {
    let emu = Emulator::new(fw);
    let mut inp = vec![0i64; x.len()];
    for (o, xs) in inp.chunks_mut(fw.n_in.max(1)).zip(x.chunks(fw.n_in.max(1))) {
        emu.quantize_input(xs, o);
    }
    (inp, emu.run_batch(x))
}

#[derive(Serialize)]
struct RtlProjectReport<'a> {
    name: &'a str,
    backend: &'static str,
    part: &'a str,
    clock_ns: f64,
    adders_per_stage: u32,
    adders: crate::target::AdderOptions,
    latency_cycles: u32,
    ii: u32,
    tb_samples: usize,
}

/// Every file of the project, sorted by path; `extra_report` is merged into report.json
/// (the estimate).
pub fn render(
    fw: &Firmware,
    o: &RtlOptions,
    model: &str,
    tb_x: &[f32],
    extra_report: serde_json::Value,
) -> Result<(Vec<(String, String)>, Design)> {
    crate::project::names::Namer::check_top(&o.name).map_err(ProjectError::Option)?;
    if fw.layers.is_empty() {
        return Err(ProjectError::Option(
            "the model has no layers to generate".into(),
        ));
    }
    let d = Design::new(fw, o.pipeline);
    let name = o.name.as_str();
    let (ci, co) = tb_codes(fw, tb_x);
    let parts = Parts {
        verilog: verilog_text(fw, &d, name)?,
        tb: tb_text(fw, &d, name)?,
        codes_in: codes_text(&ci, fw.n_in),
        codes_out: codes_text(&co, fw.n_out),
        firmware_json: serial::to_json(fw),
        report: serde_json::json!({
            "model": model,
            "firmware_name": fw.name,
            "mode": fw.mode().as_str(),
            "input": {"n": fw.n_in, "type": fw.input_type().cpp()},
            "output": {"n": fw.n_out, "type": fw.output_type().cpp()},
        }),
        tb_samples: tb_x.len() / fw.n_in.max(1),
    };
    Ok((assemble(o, d.latency(), 1, parts, extra_report)?, d))
}

/// A particle-level design: `Φ` on every particle in parallel (one jet per clock), or shared
/// over the particle axis ([`reuse::ReuseDesign`], one jet every `R` clocks).
#[allow(clippy::large_enum_variant)]
pub enum SetDesign {
    Parallel(Design),
    Shared(Box<reuse::ReuseDesign>),
}

impl SetDesign {
    /// `reuse` 1: every particle has its copy of `Φ`; `reuse ≥ 2` shares it ([`reuse`]).
    pub fn new(fw: &SetFirmware, reuse: usize, pipeline: PipelineOptions) -> SetDesign {
        if reuse <= 1 {
            SetDesign::Parallel(Design::for_set(fw, pipeline))
        } else {
            SetDesign::Shared(Box::new(reuse::ReuseDesign::new(fw, reuse, pipeline)))
        }
    }
    pub fn latency(&self) -> u32 {
        match self {
            SetDesign::Parallel(d) => d.latency(),
            SetDesign::Shared(d) => d.latency(),
        }
    }
    /// Cycles between jets.
    pub fn ii(&self) -> u32 {
        match self {
            SetDesign::Parallel(_) => 1,
            SetDesign::Shared(d) => d.reuse as u32,
        }
    }
}

/// [`render`] for particle-level firmware (sum pooling): ports `x_<i·F + f>` (features of
/// particle `i`), `x_<N·F + i>` (its mask bit), then `x_<N·F + N + k>` (per-jet input `k`);
/// the test bench streams the jets `tb` with their expected codes from
/// [`crate::reference::set::SetReference`]. `reuse` ≥ 2 shares `Φ` over
/// the particle axis ([`reuse`]): one jet every `reuse` clocks.
#[allow(clippy::too_many_arguments)]
pub fn render_set(
    fw: &SetFirmware,
    o: &RtlOptions,
    reuse: usize,
    model: &str,
    tb: &Jets,
    extra_report: serde_json::Value,
) -> Result<(Vec<(String, String)>, SetDesign)> {
    crate::project::names::Namer::check_top(&o.name).map_err(ProjectError::Option)?;
    let (n, f) = (fw.pool.n, fw.features());
    if reuse == 0 || reuse > n {
        return Err(ProjectError::Option(format!(
            "--particle-reuse {reuse}: expected 1..={n} (particles per copy of Φ)"
        )));
    }
    let d = SetDesign::new(fw, reuse, o.pipeline);
    let name = o.name.as_str();
    let it = fw.phi.input_type();
    let g = fw.jet_features();
    let mut widths = vec![it.width; n * f];
    widths.extend(std::iter::repeat_n(1, n));
    widths.extend(std::iter::repeat_n(it.width, g));
    let (ci, co) = set_tb_codes(fw, tb);
    let title = format!(
        "{name}: {} (bit2hls particle-level firmware, mode {})",
        fw.name,
        fw.phi.mode()
    );
    let verilog = match &d {
        SetDesign::Parallel(d) => module_text(d, name, &title, &it.cpp(), &fw.output_type().cpp())?,
        SetDesign::Shared(rd) => reuse::verilog(fw, rd, name, &title)?,
    };
    let mut parts = Parts {
        verilog,
        tb: tb_text_ports(
            &widths,
            fw.output_type(),
            fw.n_out(),
            (d.latency(), d.ii()),
            name,
        )?,
        codes_in: codes_text(&ci, n * f + n + g),
        codes_out: codes_text(&co, fw.n_out()),
        firmware_json: crate::ir::serial::to_json_set(fw),
        report: serde_json::json!({
            "model": model,
            "firmware_name": fw.name,
            "mode": fw.phi.mode().as_str(),
            "particles": {"n": n, "features": f, "pool": fw.pool.kind.as_str(), "reuse": reuse, "phi_copies": n.div_ceil(reuse)},
            "input": {"n": n * f + n + g, "type": it.cpp(), "mask_ports": n},
            "output": {"n": fw.n_out(), "type": fw.output_type().cpp()},
        }),
        tb_samples: tb.jets,
    };
    if g > 0 {
        parts.report["input"]["jet_ports"] = g.into();
    }
    let files = assemble(o, d.latency(), d.ii(), parts, extra_report)?;
    Ok((files, d))
}

/// Input codes (per jet: every slot's feature codes, the mask bits, then the jet inputs'
/// codes) and the expected output codes of the jets `tb`.
pub fn set_tb_codes(fw: &SetFirmware, tb: &Jets) -> (Vec<i64>, Vec<i64>) {
    let (n, f, g) = (fw.pool.n, fw.features(), fw.jet_features());
    let reference = crate::reference::set::SetReference::new(fw);
    let mut ci = Vec::with_capacity(tb.x.len() + tb.mask.len() + tb.jet.len());
    let mut co = Vec::new();
    for j in 0..tb.jets {
        let (xj, mj, vj) = tb.get(j);
        let mut codes = vec![0i64; n * f + g];
        for (c, v) in codes.chunks_mut(f).zip(xj.chunks(f)) {
            reference.phi.quantize_input(v, c);
        }
        reference.phi.quantize_input(vj, &mut codes[n * f..]);
        ci.extend(&codes[..n * f]);
        ci.extend(mj.iter().map(|&m| i64::from(m != 0)));
        ci.extend(&codes[n * f..]);
        co.extend(reference.run(xj, mj, vj));
    }
    (ci, co)
}

/// What differs between a chain's project and a particle model's.
struct Parts {
    verilog: String,
    tb: String,
    codes_in: String,
    codes_out: String,
    firmware_json: String,
    /// Model, mode, input and output keys of report.json.
    report: serde_json::Value,
    tb_samples: usize,
}

/// The project's files, sorted by path.
fn assemble(
    o: &RtlOptions,
    latency: u32,
    ii: u32,
    p: Parts,
    extra_report: serde_json::Value,
) -> Result<Vec<(String, String)>> {
    let name = o.name.as_str();
    let mut files = vec![
        (format!("rtl/{name}.v"), p.verilog),
        (format!("tb/tb_{name}.cpp"), p.tb),
        ("tb_data/tb_input_codes.dat".into(), p.codes_in),
        ("tb_data/tb_output_codes.dat".into(), p.codes_out),
        (
            "synth.ys".into(),
            format!("read_verilog rtl/{name}.v\nsynth_xilinx -family xcup -flatten -top {name}\nstat\nltp -noff\n"),
        ),
        ("firmware.json".into(), p.firmware_json),
    ];
    let tcl = VivadoTcl {
        name: name.to_string(),
        part: o.part.clone(),
        clock: format!("{}", o.clock_ns),
    };
    files.push((
        "vivado_synth.tcl".into(),
        tcl.render().map_err(render_err("vivado_synth.tcl"))?,
    ));
    let mut report = serde_json::json!({
        "generator": "bit2hls",
        "generator_version": env!("CARGO_PKG_VERSION"),
        "report_version": 1,
        "project": RtlProjectReport {
            name,
            backend: "verilog",
            part: &o.part,
            clock_ns: o.clock_ns,
            adders_per_stage: o.pipeline.adders_per_stage,
            adders: o.pipeline.adders,
            latency_cycles: latency,
            ii,
            tb_samples: p.tb_samples,
        },
    });
    for extra in [p.report, extra_report] {
        if let (Some(r), serde_json::Value::Object(e)) = (report.as_object_mut(), extra) {
            r.extend(e);
        }
    }
    let mut text = serde_json::to_string_pretty(&report).unwrap_or_default();
    text.push('\n');
    files.push(("report.json".into(), text));
    for f in files.iter_mut() {
        if !f.1.ends_with('\n') {
            f.1.push('\n');
        }
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(files)
}
