//! HLS backend: an hls4ml-style Vitis HLS project from the lowered [`Firmware`].
//!
//! [`render`] builds every file in memory (deterministic: no timestamps, sorted maps);
//! [`write_project`] writes them to a temporary sibling directory and renames it into place.
//! The C++ computes exactly the integers of [`crate::reference::fixed::Emulator`]
//! (docs/arithmetic.md); [`csim`] proves it with g++ and the ap_types headers.
//!
//! Layout of a project (docs/hls.md): `firmware/<name>.cpp|.h`, `firmware/defines.h`,
//! `firmware/parameters.h`, `firmware/weights/`, `firmware/nnet_utils/`, `<name>_test.cpp`,
//! `tb_data/`, `build_prj.tcl`, `vivado_synth.tcl`, `vivado_scripts/`, `report.json`,
//! `firmware.json` (the complete firmware, for `csim --input`).

pub mod adders;
pub mod csim;
pub mod lanes;
pub mod layers;
pub mod set;
pub mod tbdata;
pub mod types;
pub mod view;

use crate::hw::schedule::ConstMul;
use crate::ir::firmware::{Firmware, FwKind};
use crate::ir::fixed::{FixedType, Interval};
use crate::project::names::Namer;
use crate::project::{ProjectError, Result};
use crate::target::{AdderOptions, Strategy};
use askama::Template;
use layers::{gen_layer, Impl, Io};
use serde::Serialize;
use std::path::{Path, PathBuf};
use types::{CType, Types};
use view::*;

/// Project options.
#[derive(Clone, Debug)]
pub struct HlsOptions {
    /// Project and top-function name.
    pub name: String,
    pub part: String,
    /// Clock period in ns.
    pub clock_ns: f64,
    pub strategy: Strategy,
    pub reuse: usize,
    /// Adder structure of the ternary layers (latency strategy).
    pub adders: AdderOptions,
    /// Constant multiplies: [`ConstMul::Lut`] binds them to fabric (`BIND_OP ... impl=fabric`);
    /// `Dsp` and `Auto` leave the choice to Vitis.
    pub const_mul: ConstMul,
}

/// The `defines.h` feature macros of `c`: `B2H_CONST_MUL_FABRIC` for [`ConstMul::Lut`].
fn const_mul_flags(c: ConstMul) -> Vec<(String, String)> {
    match c {
        ConstMul::Lut => vec![(
            "B2H_CONST_MUL_FABRIC".to_string(),
            "constant multiplies bound to fabric (shift-and-add), not DSPs (--const-mul lut)"
                .to_string(),
        )],
        ConstMul::Dsp | ConstMul::Auto => Vec::new(),
    }
}

impl Default for HlsOptions {
    fn default() -> Self {
        HlsOptions {
            name: "myproject".into(),
            part: crate::target::parts::DEFAULT_PART.into(),
            clock_ns: 5.0,
            strategy: Strategy::Latency,
            reuse: 1,
            adders: AdderOptions::default(),
            const_mul: ConstMul::default(),
        }
    }
}

/// Where the project came from (recorded in report.json).
#[derive(Clone, Debug, Default)]
pub struct ProjectMeta {
    /// The model file as the user named it.
    pub model: String,
    /// Where the test-bench inputs came from.
    pub tb_source: String,
    /// The calibration file, if any.
    pub calib: Option<String>,
}

/// The kernel headers, copied verbatim into `firmware/nnet_utils/`.
pub const KERNELS: &[(&str, &str)] = &[
    (
        "nnet_b2h_common.h",
        include_str!("../../../templates/hls/nnet_utils/nnet_b2h_common.h"),
    ),
    (
        "nnet_b2h_ternary.h",
        include_str!("../../../templates/hls/nnet_utils/nnet_b2h_ternary.h"),
    ),
    (
        "nnet_b2h_dense.h",
        include_str!("../../../templates/hls/nnet_utils/nnet_b2h_dense.h"),
    ),
];

/// Shared Tcl, copied into `vivado_scripts/`.
pub const TCL: &[(&str, &str)] = &[(
    "b2h_common.tcl",
    include_str!("../../../vivado_scripts/b2h_common.tcl"),
)];

/// Checks the options against the firmware: part, name, clock, reuse factor.
pub fn check_options(fw: &Firmware, o: &HlsOptions) -> Result<()> {
    crate::target::parts::lookup(&o.part)?;
    Namer::check_top(&o.name).map_err(ProjectError::Option)?;
    if !(o.clock_ns.is_finite() && o.clock_ns > 0.0 && o.clock_ns <= 1000.0) {
        return Err(ProjectError::Option(format!(
            "--clock {} ns: expected a period in (0, 1000] ns",
            o.clock_ns
        )));
    }
    if o.reuse == 0 {
        return Err(ProjectError::Option(
            "--reuse 0: the reuse factor is at least 1".into(),
        ));
    }
    if o.strategy == Strategy::Latency && o.reuse != 1 {
        return Err(ProjectError::Option(format!(
            "--reuse {} needs --strategy resource (the latency strategy has II = 1, reuse 1)",
            o.reuse
        )));
    }
    if fw.layers.is_empty() {
        return Err(ProjectError::Option(
            "the model has no layers to generate".into(),
        ));
    }
    let out = fw.output_type();
    if !(0..=58).contains(&out.frac) {
        return Err(ProjectError::Option(format!(
            "output type {out}: the test bench needs 0..58 fractional bits"
        )));
    }
    for (i, l) in fw.layers.iter().enumerate() {
        if matches!(l.kind, FwKind::Affine(_)) {
            continue;
        }
        let size = l.n_in * l.n_out;
        if size % o.reuse != 0 {
            let divs: Vec<String> = (1..=size)
                .filter(|d| size % d == 0)
                .map(|d| d.to_string())
                .collect();
            let valid = if divs.len() > 24 {
                format!("{}, ... ({} divisors)", divs[..24].join(", "), divs.len())
            } else {
                divs.join(", ")
            };
            return Err(ProjectError::Reuse {
                layer: l.name.clone(),
                index: i + 1,
                reuse: o.reuse,
                n_in: l.n_in,
                n_out: l.n_out,
                size,
                valid,
            });
        }
    }
    Ok(())
}

fn render_err(file: &str) -> impl Fn(askama::Error) -> ProjectError + '_ {
    move |e| ProjectError::Template {
        file: file.to_string(),
        detail: e.to_string(),
    }
}

fn fmt_clock(c: f64) -> String {
    format!("{c}")
}

#[derive(Serialize)]
struct LayerReport {
    index: usize,
    name: String,
    kind: &'static str,
    n_in: usize,
    n_out: usize,
    relu: bool,
    in_type: String,
    out_type: String,
    out_range: [i64; 2],
    #[serde(skip_serializing_if = "Option::is_none")]
    ternary: Option<TernaryReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dense: Option<DenseReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    affine: Option<AffineReport>,
}

#[derive(Serialize)]
struct TernaryReport {
    quantizer: serde_json::Value,
    qmax: i64,
    clamp: [i64; 2],
    code_range: [i64; 2],
    code_type: String,
    acc_type: String,
    acc_range: [i64; 2],
    dequant_type: String,
    scale_frac: i32,
    shift: i32,
    weights_plus: usize,
    weights_minus: usize,
    weights_zero: usize,
}

#[derive(Serialize)]
struct DenseReport {
    weight_type: String,
    acc_type: String,
    acc_range: [i64; 2],
    shift: i32,
}

#[derive(Serialize)]
struct AffineReport {
    prod_type: String,
    scale_frac: i32,
    shift: i32,
}

#[derive(Serialize)]
struct ProjectReport {
    name: String,
    part: String,
    family: String,
    clock_ns: f64,
    strategy: &'static str,
    reuse: usize,
    ii: usize,
}

#[derive(Serialize)]
struct Report<'a> {
    generator: &'static str,
    generator_version: &'static str,
    report_version: u32,
    project: ProjectReport,
    model: &'a str,
    firmware_name: &'a str,
    calib: Option<&'a str>,
    profile: &'a crate::ir::Profile,
    profile_description: String,
    mode: &'static str,
    options: &'a crate::ir::firmware::LowerOptions,
    input: serde_json::Value,
    output: serde_json::Value,
    layers: Vec<LayerReport>,
    test_bench: serde_json::Value,
    files: Vec<String>,
}

fn iv(i: Interval) -> [i64; 2] {
    [i.lo as i64, i.hi as i64]
}

fn union(v: &[Interval]) -> Interval {
    v.iter()
        .copied()
        .reduce(Interval::union)
        .unwrap_or(Interval::point(0))
}

/// The report entries of `fw`'s layers, numbered from `first` (0-based) in the project.
fn layer_reports(fw: &Firmware, first: usize) -> Vec<LayerReport> {
    fw.layers
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let mut r = LayerReport {
                index: first + i + 1,
                name: l.name.clone(),
                kind: match l.kind {
                    FwKind::Ternary(_) => "ternary",
                    FwKind::Dense(_) => "dense",
                    FwKind::Affine(_) => "affine",
                },
                n_in: l.n_in,
                n_out: l.n_out,
                relu: l.relu,
                in_type: l.in_type.cpp(),
                out_type: l.out_type.cpp(),
                out_range: iv(union(&l.out_ranges)),
                ternary: None,
                dense: None,
                affine: None,
            };
            match &l.kind {
                FwKind::Ternary(t) => {
                    let plus = t.weights.data.iter().filter(|&&v| v == 1).count();
                    let minus = t.weights.data.iter().filter(|&&v| v == -1).count();
                    r.ternary = Some(TernaryReport {
                        quantizer: serde_json::to_value(&t.quant).unwrap_or_default(),
                        qmax: t.qmax,
                        clamp: [t.clamp.0, t.clamp.1],
                        code_range: iv(t.code_range),
                        code_type: CType::int_of(t.code_range).cpp(),
                        acc_type: CType::code_of(t.acc_type).cpp(),
                        acc_range: iv(union(&t.acc_ranges)),
                        dequant_type: CType::code_of(t.dequant_type).cpp(),
                        scale_frac: t.scale_frac,
                        shift: t.shift,
                        weights_plus: plus,
                        weights_minus: minus,
                        weights_zero: t.weights.data.len() - plus - minus,
                    })
                }
                FwKind::Dense(d) => {
                    r.dense = Some(DenseReport {
                        weight_type: d.weight_type.cpp(),
                        acc_type: d.acc_type.cpp(),
                        acc_range: iv(union(&d.acc_ranges)),
                        shift: d.shift,
                    })
                }
                FwKind::Affine(a) => {
                    r.affine = Some(AffineReport {
                        prod_type: CType::code_of(a.prod_type).cpp(),
                        scale_frac: a.scale_frac,
                        shift: a.shift,
                    })
                }
            }
            r
        })
        .collect()
}

fn report_json(
    fw: &Firmware,
    o: &HlsOptions,
    meta: &ProjectMeta,
    tb_samples: usize,
    files: Vec<String>,
) -> String {
    let layers = layer_reports(fw, 0);
    let p = &fw.profile;
    let rep = Report {
        generator: "bit2hls",
        generator_version: env!("CARGO_PKG_VERSION"),
        report_version: 1,
        project: ProjectReport {
            name: o.name.clone(),
            part: o.part.clone(),
            family: crate::target::parts::lookup(&o.part)
                .map_or("?", |p| p.family)
                .to_string(),
            clock_ns: o.clock_ns,
            strategy: o.strategy.as_str(),
            reuse: o.reuse,
            ii: if o.strategy == Strategy::Latency {
                1
            } else {
                o.reuse
            },
        },
        model: &meta.model,
        firmware_name: &fw.name,
        calib: meta.calib.as_deref(),
        profile: p,
        profile_description: p.describe(),
        mode: fw.mode().as_str(),
        options: &fw.options,
        input: serde_json::json!({"n": fw.n_in, "type": fw.input_type().cpp(), "origin": fw.options.input_type_origin}),
        output: serde_json::json!({"n": fw.n_out, "type": fw.output_type().cpp()}),
        layers,
        test_bench: serde_json::json!({"samples": tb_samples, "source": meta.tb_source}),
        files,
    };
    let mut s = serde_json::to_string_pretty(&rep).expect("report serializes");
    s.push('\n');
    s
}

/// The code of one chain of layers, numbered from `first` (0-based) in the project.
pub(crate) struct ChainCode {
    pub configs: Vec<ConfigView>,
    pub layers: Vec<TopLayerView>,
    pub weights: Vec<(String, String)>,
    pub sizes: Vec<(String, String)>,
}

/// Generates the stages of `fw` reading `input = (variable, type)` whose values lie in
/// `in_ranges`, the last one writing `output = (variable, type)`.
pub(crate) fn gen_chain(
    fw: &Firmware,
    first: usize,
    input: (&str, &str),
    in_ranges: Vec<Interval>,
    output: (&str, &str),
    imp: &Impl,
    types: &mut Types,
) -> Result<ChainCode> {
    let mut c = ChainCode {
        configs: Vec::new(),
        layers: Vec::new(),
        weights: Vec::new(),
        sizes: Vec::new(),
    };
    let (mut inp, mut in_t, mut in_ranges) = (input.0.to_string(), input.1.to_string(), in_ranges);
    let last = fw.layers.len().saturating_sub(1);
    for (k, l) in fw.layers.iter().enumerate() {
        let i = first + k;
        let out_alias = types.name(CType::Fixed(l.out_type));
        let io = Io {
            input: inp,
            in_t,
            output: if k == last {
                output.0.to_string()
            } else {
                format!("layer{}_out", i + 1)
            },
            out_t: if k == last {
                output.1.to_string()
            } else {
                out_alias
            },
            declare_output: k != last,
        };
        let g = gen_layer(i, l, &in_ranges, &io, imp, types);
        c.sizes
            .push((format!("N_LAYER_{}", i + 1), l.n_out.to_string()));
        c.configs.push(g.config);
        c.layers.push(g.top);
        let text = g.weights.render().map_err(render_err(&g.weights_file))?;
        c.weights.push((g.weights_file, text));
        (inp, in_t, in_ranges) = (io.output, io.out_t, l.out_ranges.clone());
    }
    Ok(c)
}

/// What a chain's and a particle model's projects have in common, before rendering.
pub(crate) struct ProjectParts {
    pub kernels: Vec<(&'static str, &'static str)>,
    pub header: Vec<String>,
    pub functions: Vec<TopFnView>,
    pub signature: String,
    pub signature_comment: String,
    pub configs: Vec<ConfigView>,
    pub weights: Vec<(String, String)>,
    pub sizes: Vec<(String, String)>,
    pub types: Types,
    pub aliases: Vec<(String, String)>,
    pub test: TestCpp,
}

/// The firmware sources, kernels, scripts and test bench of a project (not its data files).
pub(crate) fn project_files(o: &HlsOptions, p: ProjectParts) -> Result<Vec<(String, String)>> {
    let name = &o.name;
    let mut files: Vec<(String, String)> = Vec::new();
    let top = TopCpp {
        name: name.clone(),
        header: p.header,
        functions: p.functions,
    };
    files.push((
        format!("firmware/{name}.cpp"),
        top.render().map_err(render_err("top.cpp"))?,
    ));
    let top_h = TopH {
        name: name.clone(),
        guard: format!("{}_H_", name.to_uppercase()),
        signature_comment: p.signature_comment,
        signature: p.signature,
    };
    files.push((
        format!("firmware/{name}.h"),
        top_h.render().map_err(render_err("top.h"))?,
    ));
    let params = ParametersH {
        kernels: p.kernels.iter().map(|k| k.0.to_string()).collect(),
        configs: p.configs,
        weight_includes: p.weights.iter().map(|w| w.0.clone()).collect(),
    };
    files.push((
        "firmware/parameters.h".into(),
        params.render().map_err(render_err("parameters.h"))?,
    ));
    let defines = DefinesH {
        flags: const_mul_flags(o.const_mul),
        sizes: p.sizes,
        typedefs: p.types.typedefs(),
        aliases: p.aliases,
    };
    files.push((
        "firmware/defines.h".into(),
        defines.render().map_err(render_err("defines.h"))?,
    ));
    for (f, text) in p.weights {
        files.push((format!("firmware/weights/{f}"), text));
    }
    for (f, text) in &p.kernels {
        files.push((format!("firmware/nnet_utils/{f}"), text.to_string()));
    }
    for (f, text) in TCL {
        files.push((format!("vivado_scripts/{f}"), text.to_string()));
    }
    files.push((
        format!("{name}_test.cpp"),
        p.test.render().map_err(render_err("test.cpp"))?,
    ));
    let clock = fmt_clock(o.clock_ns);
    let b = BuildPrjTcl {
        name: name.clone(),
        part: o.part.clone(),
        clock: clock.clone(),
    };
    files.push((
        "build_prj.tcl".into(),
        b.render().map_err(render_err("build_prj.tcl"))?,
    ));
    let v = VivadoSynthTcl {
        name: name.clone(),
        part: o.part.clone(),
        clock,
    };
    files.push((
        "vivado_synth.tcl".into(),
        v.render().map_err(render_err("vivado_synth.tcl"))?,
    ));
    Ok(files)
}

/// The test bench of a project whose top reads `input` and writes `output` values.
pub(crate) fn test_view(
    name: &str,
    input: FixedType,
    output: FixedType,
    mask: bool,
    jet: bool,
) -> TestCpp {
    TestCpp {
        name: name.to_string(),
        in_frac: input.frac.to_string(),
        in_min: format!("{}.0", input.min_code()),
        in_max: format!("{}.0", input.max_code()),
        in_type: input.cpp(),
        out_frac: output.frac.to_string(),
        out_type: output.cpp(),
        out_wide: (output.width > 53).to_string(),
        mask,
        jet,
    }
}

/// Adds the report (listing every file, itself included) and sorts the files by path; every
/// file ends with a newline.
pub(crate) fn finish_files(
    mut files: Vec<(String, String)>,
    report: impl FnOnce(Vec<String>) -> String,
) -> Vec<(String, String)> {
    for f in files.iter_mut() {
        if !f.1.ends_with('\n') {
            f.1.push('\n');
        }
    }
    let mut names: Vec<String> = files.iter().map(|f| f.0.clone()).collect();
    names.push("report.json".into());
    names.sort();
    files.push(("report.json".into(), report(names)));
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files
}

/// Every file of the project, `(relative path, contents)`, sorted by path.
/// `tb_x` are the test-bench inputs (`k · fw.n_in` floats).
pub fn render(
    fw: &Firmware,
    o: &HlsOptions,
    meta: &ProjectMeta,
    tb_x: &[f32],
) -> Result<Vec<(String, String)>> {
    check_options(fw, o)?;
    let mut types = Types::default();
    let input_alias = types.name(CType::Fixed(fw.input_type()));
    let result_alias = types.name(CType::Fixed(fw.output_type()));
    let imp = Impl {
        strategy: o.strategy,
        reuse: o.reuse,
        adders: o.adders,
    };
    let chain = gen_chain(
        fw,
        0,
        ("x", "input_t"),
        vec![fw.input_type().interval(); fw.n_in],
        ("y", "result_t"),
        &imp,
        &mut types,
    )?;
    let mut sizes = vec![
        ("N_INPUT".to_string(), fw.n_in.to_string()),
        ("N_OUTPUT".to_string(), fw.n_out.to_string()),
    ];
    sizes.extend(chain.sizes);
    let name = &o.name;
    let ii = if o.strategy == Strategy::Latency {
        1
    } else {
        o.reuse
    };
    let pragmas = vec![
        "#pragma HLS ARRAY_RESHAPE variable=x complete dim=0".to_string(),
        "#pragma HLS ARRAY_PARTITION variable=y complete dim=0".to_string(),
        "#pragma HLS INTERFACE ap_vld port=x,y".to_string(),
        format!("#pragma HLS PIPELINE II={ii}"),
    ];
    let signature = format!("void {name}(input_t x[N_INPUT], result_t y[N_OUTPUT])");
    let parts = ProjectParts {
        kernels: KERNELS.to_vec(),
        header: vec![
            format!(
                "{name}: generated by bit2hls {} from model '{}'. Do not edit.",
                env!("CARGO_PKG_VERSION"),
                fw.name
            ),
            format!(
                "Activation mode {}, strategy {} (II={ii}{}). Arithmetic: bit2hls docs/arithmetic.md.",
                fw.mode(),
                o.strategy.as_str(),
                if o.strategy == Strategy::Resource { format!(", reuse {}", o.reuse) } else { String::new() }
            ),
        ],
        functions: vec![TopFnView {
            comment: Vec::new(),
            signature: signature.clone(),
            pragmas,
            layers: chain.layers,
        }],
        signature,
        signature_comment: format!(
            "{} inputs ({}) -> {} outputs ({})",
            fw.n_in,
            fw.input_type(),
            fw.n_out,
            fw.output_type()
        ),
        configs: chain.configs,
        weights: chain.weights,
        sizes,
        types,
        aliases: vec![
            (input_alias, "input_t".into()),
            (result_alias, "result_t".into()),
        ],
        test: test_view(name, fw.input_type(), fw.output_type(), false, false),
    };
    let mut files = project_files(o, parts)?;
    let n_tb = tb_x.len() / fw.n_in.max(1);
    files.push((
        "tb_data/tb_input_features.dat".into(),
        tbdata::input_text(tb_x, fw.n_in),
    ));
    files.push((
        "tb_data/tb_output_predictions.dat".into(),
        tbdata::predictions_text(fw, tb_x),
    ));
    files.push(("firmware.json".into(), crate::ir::serial::to_json(fw)));
    Ok(finish_files(files, |names| {
        report_json(fw, o, meta, n_tb, names)
    }))
}

/// Whether `dir` exists and has entries.
fn non_empty(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .map(|mut d| d.next().is_some())
        .unwrap_or(false)
}

/// Writes `files` under `dir`: into a temporary sibling directory first, renamed into place
/// only when complete. An existing non-empty `dir` is refused unless `force`.
pub fn write_project(files: &[(String, String)], dir: &Path, force: bool) -> Result<()> {
    if dir.exists() && !dir.is_dir() {
        return Err(ProjectError::io(dir, "exists and is not a directory"));
    }
    if dir.is_dir() && non_empty(dir) && !force {
        return Err(ProjectError::OutputExists {
            path: dir.to_path_buf(),
        });
    }
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent)
        .map_err(|e| ProjectError::io(&parent, format!("cannot create: {e}")))?;
    let base = dir
        .file_name()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| "prj".into());
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{base}.bit2hls-"))
        .tempdir_in(&parent)
        .map_err(|e| {
            ProjectError::io(&parent, format!("cannot create a temporary directory: {e}"))
        })?;
    for (rel, text) in files {
        let p = tmp.path().join(rel);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).map_err(|e| ProjectError::io(d, e))?;
        }
        std::fs::write(&p, text).map_err(|e| ProjectError::io(&p, e))?;
    }
    if dir.exists() {
        // Move the old directory aside, then the new one in; drop the old one last.
        let old = tempfile::Builder::new()
            .prefix(&format!(".{base}.old-"))
            .tempdir_in(&parent)
            .map_err(|e| {
                ProjectError::io(&parent, format!("cannot create a temporary directory: {e}"))
            })?;
        let old_path = old.path().join("old");
        std::fs::rename(dir, &old_path)
            .map_err(|e| ProjectError::io(dir, format!("cannot move aside: {e}")))?;
        if let Err(e) = std::fs::rename(tmp.path(), dir) {
            let _ = std::fs::rename(&old_path, dir);
            return Err(ProjectError::io(
                dir,
                format!("cannot move the new project into place: {e}"),
            ));
        }
        let _ = tmp.keep();
        drop(old);
    } else {
        std::fs::rename(tmp.path(), dir)
            .map_err(|e| ProjectError::io(dir, format!("cannot move into place: {e}")))?;
        let _ = tmp.keep();
    }
    Ok(())
}

#[cfg(test)]
mod tcl_tests {
    /// `b2h_compare_logs` (vivado_scripts/b2h_common.tcl) compares exact decimal text: two
    /// outputs equal as doubles but not as numbers (1 + 2^-54 and 1) are a mismatch.
    #[test]
    fn vivado_log_comparison_is_exact() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("tb_data")).unwrap();
        let tiny = "1.000000000000000055511151231257827021181583404541015625";
        let want = format!("0.5 {tiny}\n-2 3\n");
        std::fs::write(d.path().join("tb_data/tb_output_predictions.dat"), want).unwrap();
        std::fs::write(d.path().join("tb_data/csim_results.log"), "0.5 1\n-2 3\n").unwrap();
        let script = format!(
            "source {{{}}}; b2h_compare_logs {{{}}}",
            concat!(env!("CARGO_MANIFEST_DIR"), "/vivado_scripts/b2h_common.tcl"),
            d.path().display()
        );
        let out = std::process::Command::new("tclsh")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write;
                c.stdin.take().unwrap().write_all(script.as_bytes())?;
                c.wait_with_output()
            })
            .expect("tclsh (scripts/deps.sh installs it)");
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(text.trim(), "validation: 2 samples, 1 mismatches");
    }
}
