//! View models of the generated files: pre-formatted strings only. The askama templates under
//! `templates/hls/` lay them out and compute nothing.

use askama::Template;

/// A constant array: `decl = { lines };`.
pub struct ArrayView {
    pub decl: String,
    pub lines: Vec<String>,
}

/// A generated function: `signature { pragmas body }`.
pub struct FnView {
    pub signature: String,
    pub pragmas: Vec<String>,
    pub body: Vec<String>,
}

/// One `struct configN` in parameters.h.
pub struct ConfigView {
    pub name: String,
    pub comment: String,
    /// `(existing typedef, member alias)`.
    pub typedefs: Vec<(String, String)>,
    pub consts: Vec<String>,
}

/// One stage's lines in the top function.
pub struct TopLayerView {
    pub comment: String,
    pub lines: Vec<String>,
}

/// One function of the top file: comment lines, `signature { pragmas; stages }`.
pub struct TopFnView {
    pub comment: Vec<String>,
    pub signature: String,
    pub pragmas: Vec<String>,
    pub layers: Vec<TopLayerView>,
}

#[derive(Template)]
#[template(path = "hls/firmware/top.cpp.jinja", escape = "none")]
pub struct TopCpp {
    pub name: String,
    pub header: Vec<String>,
    pub functions: Vec<TopFnView>,
}

#[derive(Template)]
#[template(path = "hls/firmware/top.h.jinja", escape = "none")]
pub struct TopH {
    pub name: String,
    pub guard: String,
    pub signature_comment: String,
    pub signature: String,
}

#[derive(Template)]
#[template(path = "hls/firmware/defines.h.jinja", escape = "none")]
pub struct DefinesH {
    /// Feature macros `(name, comment)`, each `#define`d without a value.
    pub flags: Vec<(String, String)>,
    pub sizes: Vec<(String, String)>,
    pub typedefs: Vec<(String, String)>,
    /// The interface types under their hls4ml names: `(typedef name, alias)`.
    pub aliases: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "hls/firmware/parameters.h.jinja", escape = "none")]
pub struct ParametersH {
    pub kernels: Vec<String>,
    pub configs: Vec<ConfigView>,
    pub weight_includes: Vec<String>,
}

#[derive(Template)]
#[template(path = "hls/firmware/weights.h.jinja", escape = "none")]
pub struct WeightsView {
    pub guard: String,
    pub comment: String,
    pub arrays: Vec<ArrayView>,
    pub function: Option<FnView>,
}

#[derive(Template)]
#[template(path = "hls/test.cpp.jinja", escape = "none")]
pub struct TestCpp {
    pub name: String,
    pub in_frac: String,
    pub in_min: String,
    pub in_max: String,
    pub in_type: String,
    pub out_frac: String,
    pub out_type: String,
    pub out_wide: String,
    /// Particle-level projects: the top also takes `mask[N_PARTICLES]`, read from
    /// `tb_data/tb_input_mask.dat`.
    pub mask: bool,
    /// Particle-level projects with per-jet inputs: the top also takes `jet[N_JET]`, read from
    /// `tb_data/tb_input_jet.dat` and quantized like the features.
    pub jet: bool,
}

#[derive(Template)]
#[template(path = "hls/build_prj.tcl.jinja", escape = "none")]
pub struct BuildPrjTcl {
    pub name: String,
    pub part: String,
    pub clock: String,
}

#[derive(Template)]
#[template(path = "hls/vivado_synth.tcl.jinja", escape = "none")]
pub struct VivadoSynthTcl {
    pub name: String,
    pub part: String,
    pub clock: String,
}
