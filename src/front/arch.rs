//! The architecture document (docs/schema.md) and inference from tensor names.

use super::tensors::{StoredDtype, TensorFile};
use crate::error::{Error, Result};
use serde::Deserialize;
use std::collections::BTreeMap;

/// Version 2, written by models/export.py when a chain's document has `profile_params`.
pub const SCHEMA: &str = "bit2hls.arch/2";
/// Version 3: version 2 plus particle-level models (`particles` and a `pool` layer).
pub const SCHEMA_V3: &str = "bit2hls.arch/3";
/// Version 4: version 3 plus `task` (classification or regression).
pub const SCHEMA_V4: &str = "bit2hls.arch/4";
/// Version 1: everything of version 2 except `profile_params`; still read.
pub const SCHEMA_V1: &str = "bit2hls.arch/1";
pub const METADATA_KEY: &str = "bit2hls.arch";

/// The architecture document, versions 1 to 4 (docs/schema.md).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchDoc {
    pub schema: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub inputs: Option<usize>,
    #[serde(default)]
    pub profile: Option<String>,
    #[serde(default)]
    pub input_type: Option<String>,
    /// Parameters of the profile the model was trained with (version 2), e.g. its activation
    /// bits; the command line's `--act-bits`, `--act-qmax`, … override them.
    #[serde(default)]
    pub profile_params: Option<ProfileParams>,
    /// A particle-level model (version 3): the layers before `pool` act on every particle.
    #[serde(default)]
    pub particles: Option<ParticlesDoc>,
    /// What the outputs are (version 4); classification when absent.
    #[serde(default)]
    pub task: Option<TaskDoc>,
    pub layers: Vec<ArchLayer>,
}

/// `task` of a version-4 document.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TaskDoc {
    pub kind: TaskKind,
    /// Regression only: the target is defined modulo this period (e.g. π).
    #[serde(default)]
    pub period: Option<f64>,
    /// Regression only: what the outputs estimate, for labels.
    #[serde(default)]
    pub target: Option<String>,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
#[serde(rename_all = "lowercase")]
pub enum TaskKind {
    Classification,
    Regression,
}

impl TaskDoc {
    /// The checked task.
    pub fn task(&self) -> std::result::Result<crate::ir::task::Task, String> {
        use crate::ir::task::Task;
        match self.kind {
            TaskKind::Classification => match (&self.period, &self.target) {
                (None, None) => Ok(Task::Classification),
                _ => Err("'task': 'period' and 'target' are for \"kind\": \"regression\"".into()),
            },
            TaskKind::Regression => match self.period {
                Some(p) if !(p.is_finite() && p > 0.0) => Err(format!(
                    "'task': period {p} must be a positive number (e.g. 3.141592653589793 for an \
                     angle defined modulo π)"
                )),
                period => Ok(Task::Regression {
                    period,
                    target: self.target.clone(),
                }),
            },
        }
    }
}

/// `particles` of a version-3 document: the shape of one jet's input `x[max, features]`.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ParticlesDoc {
    /// Largest number of particles per jet `N`.
    pub max: usize,
    /// Features per particle `F`.
    pub features: usize,
    /// Per-jet inputs `G` concatenated after the pool (a `jet_concat` layer); 0 = none.
    #[serde(default)]
    pub jet_features: usize,
}

/// `profile_params` of a version-2 document: overrides of the named profile's parameters.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProfileParams {
    /// Activation bits b: Q = 2^(b-1) − 1 (BitHEP's Q_b) and clamp [−2^(b-1), 2^(b-1) − 1].
    #[serde(default)]
    pub act_bits: Option<u32>,
    /// Activation scale numerator Q, after `act_bits`.
    #[serde(default)]
    pub act_qmax: Option<i32>,
    /// Activation code clamp [lo, hi], after `act_bits`.
    #[serde(default)]
    pub act_clamp: Option<(i32, i32)>,
    #[serde(default)]
    pub eps_act: Option<f32>,
    #[serde(default)]
    pub eps_w: Option<f32>,
}

impl ProfileParams {
    /// The same parameters as profile overrides.
    pub fn overrides(&self) -> crate::ir::profile::ProfileOverrides {
        crate::ir::profile::ProfileOverrides {
            act_bits: self.act_bits,
            act_qmax: self.act_qmax,
            act_clamp: self.act_clamp,
            eps_act: self.eps_act,
            eps_w: self.eps_w,
            ..Default::default()
        }
    }

    /// `key value` pairs of the parameters that are set, for the note printed when they are used.
    pub fn describe(&self) -> String {
        let mut v = Vec::new();
        if let Some(b) = self.act_bits {
            v.push(format!("act_bits {b}"));
        }
        if let Some(q) = self.act_qmax {
            v.push(format!("act_qmax {q}"));
        }
        if let Some((lo, hi)) = self.act_clamp {
            v.push(format!("act_clamp [{lo}, {hi}]"));
        }
        if let Some(e) = self.eps_act {
            v.push(format!("eps_act {e:e}"));
        }
        if let Some(e) = self.eps_w {
            v.push(format!("eps_w {e:e}"));
        }
        v.join(", ")
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum ArchLayer {
    Bitlinear {
        #[serde(default)]
        name: Option<String>,
        weight: String,
        #[serde(default)]
        bias: Option<String>,
        /// β tensor for I8 codes.
        #[serde(default)]
        beta: Option<String>,
        /// Scale tensor for the HF packed layout.
        #[serde(default)]
        weight_scale: Option<String>,
        /// `"beta"` or `"inv_beta"`.
        #[serde(default)]
        weight_scale_is: Option<String>,
        /// True out_features (HF packed layout).
        #[serde(default)]
        out: Option<usize>,
    },
    Linear {
        #[serde(default)]
        name: Option<String>,
        weight: String,
        #[serde(default)]
        bias: Option<String>,
    },
    Relu {},
    Batchnorm {
        #[serde(default)]
        name: Option<String>,
        weight: String,
        bias: String,
        running_mean: String,
        running_var: String,
        #[serde(default)]
        eps: Option<f64>,
    },
    Affine {
        #[serde(default)]
        name: Option<String>,
        scale: String,
        shift: String,
    },
    /// Masked pooling over the particle axis (version 3, particle models only).
    Pool {
        kind: crate::ir::set::PoolKind,
    },
    /// `[pooled, jet]`: the pool's output followed by the `particles.jet_features` per-jet
    /// inputs (version 3; right after the pool).
    #[serde(rename = "jet_concat")]
    JetConcat {},
}

/// An activation op bit2hls knows by name but does not compile (docs/schema.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnsupportedOp {
    Tanh,
    Gelu,
    Silu,
    Sigmoid,
    Softmax,
    Elu,
    Leakyrelu,
    Relu6,
    Hardtanh,
    Hardswish,
    Hardsigmoid,
    Softplus,
    Mish,
    Prelu,
    Selu,
}

impl UnsupportedOp {
    /// The PyTorch module name (`nn.Tanh`, …).
    pub fn torch_name(self) -> &'static str {
        match self {
            UnsupportedOp::Tanh => "Tanh",
            UnsupportedOp::Gelu => "GELU",
            UnsupportedOp::Silu => "SiLU",
            UnsupportedOp::Sigmoid => "Sigmoid",
            UnsupportedOp::Softmax => "Softmax",
            UnsupportedOp::Elu => "ELU",
            UnsupportedOp::Leakyrelu => "LeakyReLU",
            UnsupportedOp::Relu6 => "ReLU6",
            UnsupportedOp::Hardtanh => "Hardtanh",
            UnsupportedOp::Hardswish => "Hardswish",
            UnsupportedOp::Hardsigmoid => "Hardsigmoid",
            UnsupportedOp::Softplus => "Softplus",
            UnsupportedOp::Mish => "Mish",
            UnsupportedOp::Prelu => "PReLU",
            UnsupportedOp::Selu => "SELU",
        }
    }
}

/// Refuses layers whose `op` is a known activation the firmware cannot compute
/// (models/export.py writes them as they are), naming the layer.
fn refuse_unsupported(value: &serde_json::Value, origin: &std::path::Path) -> Result<()> {
    let layers = value.get("layers").and_then(|l| l.as_array());
    for (i, layer) in layers.into_iter().flatten().enumerate() {
        let Some(op) = layer.get("op").and_then(|o| o.as_str()) else {
            continue;
        };
        let Ok(op) = serde_json::from_value::<UnsupportedOp>(op.into()) else {
            continue;
        };
        let name = layer
            .get("name")
            .and_then(|n| n.as_str())
            .map(|n| format!(" '{n}'"))
            .unwrap_or_default();
        return Err(Error::Arch {
            path: origin.to_path_buf(),
            detail: format!(
                "layer #{i}{name}: op '{}' (nn.{}) is not supported: bit2hls compiles only ReLU \
                 (or no activation) between layers, and will not approximate it silently — \
                 retrain with nn.ReLU",
                layer["op"].as_str().unwrap_or_default(),
                op.torch_name()
            ),
        });
    }
    Ok(())
}

/// Parses and version-checks a document. `origin` names where it came from in errors.
pub fn parse(text: &str, origin: &std::path::Path) -> Result<ArchDoc> {
    let invalid = |e: serde_json::Error| Error::Arch {
        path: origin.to_path_buf(),
        detail: format!("invalid JSON document: {e}"),
    };
    let value: serde_json::Value = serde_json::from_str(text).map_err(invalid)?;
    refuse_unsupported(&value, origin)?;
    let doc: ArchDoc = serde_json::from_str(text).map_err(invalid)?;
    check_version(&doc).map_err(|detail| Error::Arch {
        path: origin.to_path_buf(),
        detail,
    })?;
    if doc.layers.is_empty() {
        return Err(Error::Arch {
            path: origin.to_path_buf(),
            detail: "'layers' is empty".into(),
        });
    }
    Ok(doc)
}

/// The schema must be a known version, and a version-1 document cannot carry version-2 keys.
fn check_version(doc: &ArchDoc) -> std::result::Result<(), String> {
    if ![SCHEMA_V4, SCHEMA_V3, SCHEMA, SCHEMA_V1].contains(&doc.schema.as_str()) {
        return Err(format!(
            "schema '{}' is not supported (expected '{SCHEMA_V4}', '{SCHEMA_V3}', '{SCHEMA}' or \
             '{SCHEMA_V1}')",
            doc.schema
        ));
    }
    check_particles(doc)?;
    if let Some(t) = &doc.task {
        if doc.schema != SCHEMA_V4 {
            return Err(format!(
                "key 'task' needs schema '{SCHEMA_V4}' (the document says '{}')",
                doc.schema
            ));
        }
        t.task()?;
    }
    if doc.schema == SCHEMA_V1 && doc.profile_params.is_some() {
        return Err(format!(
            "key 'profile_params' needs schema '{SCHEMA}' (the document says '{SCHEMA_V1}')"
        ));
    }
    if doc
        .profile_params
        .as_ref()
        .is_some_and(|p| *p == ProfileParams::default())
    {
        return Err("'profile_params' is empty".into());
    }
    Ok(())
}

/// `particles` needs version 3 and exactly one `pool` layer with layers on both sides; a `pool`
/// needs `particles`.
fn check_particles(doc: &ArchDoc) -> std::result::Result<(), String> {
    let pools: Vec<usize> = doc
        .layers
        .iter()
        .enumerate()
        .filter(|(_, l)| matches!(l, ArchLayer::Pool { .. }))
        .map(|(i, _)| i)
        .collect();
    let concats: Vec<usize> = doc
        .layers
        .iter()
        .enumerate()
        .filter(|(_, l)| matches!(l, ArchLayer::JetConcat {}))
        .map(|(i, _)| i)
        .collect();
    let Some(p) = &doc.particles else {
        return match (pools.first(), concats.first()) {
            (Some(i), _) | (None, Some(i)) => Err(format!(
                "layer {i} is a '{}', which needs a particle-level model: add \
                 \"particles\": {{\"max\": N, \"features\": F}} (schema '{SCHEMA_V3}')",
                if pools.first() == Some(i) {
                    "pool"
                } else {
                    "jet_concat"
                }
            )),
            (None, None) => Ok(()),
        };
    };
    if doc.schema != SCHEMA_V3 && doc.schema != SCHEMA_V4 {
        return Err(format!(
            "key 'particles' needs schema '{SCHEMA_V3}' or later (the document says '{}')",
            doc.schema
        ));
    }
    if p.max == 0 || p.features == 0 {
        return Err(format!(
            "'particles': max {} and features {} must both be at least 1",
            p.max, p.features
        ));
    }
    if doc.inputs.is_some() {
        return Err("'inputs' is for chains; a particle model gives 'particles.features'".into());
    }
    check_concat(p, &pools, &concats)?;
    let after = usize::from(p.jet_features > 0);
    match pools.as_slice() {
        [i] if *i > 0 && *i + 1 + after < doc.layers.len() => Ok(()),
        [i] => Err(format!(
            "the 'pool' (layer {i}) needs layers before it (applied to every particle) and \
             after it (applied to the pooled jet)"
        )),
        [] => Err(
            "a particle-level model needs one {\"op\": \"pool\", \"kind\": \"sum\"} \
                   layer between the per-particle and the per-jet layers"
                .into(),
        ),
        more => Err(format!(
            "{} 'pool' layers (at {more:?}): bit2hls compiles one pool per model",
            more.len()
        )),
    }
}

/// `particles.jet_features` G > 0 needs exactly one `jet_concat` layer right after the pool;
/// G = 0 allows none.
fn check_concat(
    p: &ParticlesDoc,
    pools: &[usize],
    concats: &[usize],
) -> std::result::Result<(), String> {
    match (p.jet_features, concats) {
        (0, []) => Ok(()),
        (0, [i, ..]) => Err(format!(
            "layer {i} is a 'jet_concat' but 'particles' has no \"jet_features\": give the \
             number of per-jet inputs G, or remove the layer"
        )),
        (g, []) => Err(format!(
            "'particles' has jet_features {g} but no layer is a {{\"op\": \"jet_concat\"}}: \
             put one right after the pool"
        )),
        (_, [c]) if pools.len() == 1 && *c == pools[0] + 1 => Ok(()),
        (_, [c]) => Err(format!(
            "the 'jet_concat' (layer {c}) must come right after the pool (layer {:?})",
            pools.first()
        )),
        (_, more) => Err(format!(
            "{} 'jet_concat' layers (at {more:?}): bit2hls compiles one, right after the pool",
            more.len()
        )),
    }
}

/// Hidden activation inserted between inferred linear layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HiddenAct {
    Relu,
    None,
}

impl crate::choice::Choice for HiddenAct {
    const ALL: &'static [HiddenAct] = &[HiddenAct::Relu, HiddenAct::None];
    fn name(self) -> &'static str {
        match self {
            HiddenAct::Relu => "relu",
            HiddenAct::None => "none",
        }
    }
    fn help(self) -> &'static str {
        match self {
            HiddenAct::Relu => "ReLU between inferred linear layers (printed as an assumption)",
            HiddenAct::None => "no activation between inferred linear layers",
        }
    }
}

/// The execution order of layer modules, when their names make it unambiguous.
///
/// Module paths form a tree of dot-separated components. Wherever two or more layers branch
/// apart, every sibling component there must be a numeric `nn.Sequential` index (`net.0`,
/// `net.2`, `layers.10` after `layers.9`); siblings are then ordered numerically. A single
/// layer needs no order. Anything else (attribute names such as `inp`/`hid`/`out`, numeric
/// mixed with names, a module that has parameters and sub-modules) is ambiguous: `Err` says
/// why, and the caller refuses the file.
pub fn execution_order(modules: &[String]) -> std::result::Result<Vec<String>, String> {
    let paths: Vec<(Vec<&str>, &String)> = modules
        .iter()
        .map(|m| {
            let parts = if m.is_empty() {
                vec![]
            } else {
                m.split('.').collect()
            };
            (parts, m)
        })
        .collect();
    let mut out = Vec::with_capacity(modules.len());
    order_subtree(paths, 0, &mut out)?;
    Ok(out)
}

/// A module path split into components, with the module name it came from.
type SplitPath<'a> = (Vec<&'a str>, &'a String);

/// Appends the modules of one subtree (all sharing their first `depth` components) in order.
fn order_subtree<'a>(
    paths: Vec<SplitPath<'a>>,
    depth: usize,
    out: &mut Vec<String>,
) -> std::result::Result<(), String> {
    if paths.len() <= 1 {
        out.extend(paths.into_iter().map(|(_, m)| m.clone()));
        return Ok(());
    }
    if let Some((_, m)) = paths.iter().find(|(p, _)| p.len() == depth) {
        return Err(format!(
            "module '{}' has its own parameters and also sub-modules with parameters, so its \
             place among them is unknown",
            display_module(m)
        ));
    }
    let mut groups: BTreeMap<&str, Vec<SplitPath>> = BTreeMap::new();
    for p in paths {
        groups.entry(p.0[depth]).or_default().push(p);
    }
    if groups.len() == 1 {
        let (_, g) = groups.into_iter().next().expect("one group");
        return order_subtree(g, depth + 1, out);
    }
    let canonical = |c: &str| c.parse::<u64>().ok().filter(|n| n.to_string() == c);
    let names: Vec<&str> = groups.keys().copied().collect();
    if names.iter().any(|c| canonical(c).is_none()) {
        let prefix = groups.values().next().expect("non-empty")[0].0[..depth].join(".");
        let at = if prefix.is_empty() {
            "at the top level".to_string()
        } else {
            format!("inside '{prefix}'")
        };
        return Err(format!(
            "the sibling modules {at} are named {} — names, not numeric nn.Sequential indices, so \
             their execution order is unknown (PyTorch stores parameters in attribute order, not \
             call order)",
            names
                .iter()
                .map(|n| format!("'{n}'"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let mut sorted: Vec<(u64, Vec<SplitPath>)> = groups
        .into_iter()
        .map(|(k, g)| (canonical(k).expect("checked numeric"), g))
        .collect();
    sorted.sort_by_key(|(n, _)| *n);
    for (_, g) in sorted {
        order_subtree(g, depth + 1, out)?;
    }
    Ok(())
}

fn display_module(m: &str) -> String {
    if m.is_empty() {
        "<root>".into()
    } else {
        m.to_string()
    }
}

/// What inference assumed between two linear layers (parameter-free activations leave no
/// tensor in a state dict, so this is never read from the file).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssumedActivation {
    pub act: HiddenAct,
    /// Module name of the linear layer before.
    pub after: String,
    /// Module name of the linear layer after.
    pub before: String,
}

/// What to do when an assumed activation is wrong (printed once after the assumptions).
pub const ASSUMED_ACT_ADVICE: &str = "activations leave no tensor in a state dict; if your model \
     uses another one (Tanh, GELU, SiLU, …) or none, give an architecture document (--arch FILE \
     or <model>.json, docs/schema.md) or write the file with models/export.py";

impl std::fmt::Display for AssumedActivation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self.act {
            HiddenAct::Relu => "ReLU",
            HiddenAct::None => "no activation (--hidden-act none)",
        };
        write!(
            f,
            "assumed {what} between '{}' and '{}'",
            self.after, self.before
        )
    }
}

/// A model inferred from tensor names, with what had to be assumed.
#[derive(Clone, Debug)]
pub struct Inferred {
    pub layers: Vec<ArchLayer>,
    pub assumed: Vec<AssumedActivation>,
}

/// Infers the layer list of a plain `nn.Sequential`-style state dict (docs/schema.md).
pub fn infer(
    file: &TensorFile,
    hidden_act: HiddenAct,
    float_layers: &[String],
    weight_scale_is: Option<&str>,
) -> Result<Inferred> {
    let arch_err = |detail: String| Error::Arch {
        path: file.path.clone(),
        detail,
    };
    let mut modules: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for name in file.tensors.keys() {
        let (module, leaf) = match name.rfind('.') {
            Some(i) => (name[..i].to_string(), name[i + 1..].to_string()),
            None => (String::new(), name.clone()),
        };
        modules.entry(module).or_default().push(leaf);
    }
    let layer_modules: Vec<String> = modules
        .iter()
        .filter(|(_, leaves)| {
            leaves
                .iter()
                .any(|l| l == "weight" || l == "weight_ternary")
        })
        .map(|(m, _)| m.clone())
        .collect();
    let order = execution_order(&layer_modules).map_err(|why| {
        arch_err(format!(
            "cannot infer the layer order from the tensor names: {why}. Layers found: {}. Give \
             the order with an architecture document (--arch FILE, or a sidecar <model>.json; \
             docs/schema.md), or write the file with models/export.py's save_for_bit2hls, which \
             records it",
            layer_modules
                .iter()
                .map(|m| display_module(m))
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;

    let full = |module: &str, leaf: &str| {
        if module.is_empty() {
            leaf.to_string()
        } else {
            format!("{module}.{leaf}")
        }
    };
    let mut layers = Vec::new();
    let mut assumed = Vec::new();
    let mut linear_index = 0usize;
    let mut previous_linear: Option<String> = None;
    for module in &order {
        let leaves = &modules[module];
        let has = |l: &str| leaves.iter().any(|x| x == l);
        let weight = full(module, "weight");
        let bias = has("bias").then(|| full(module, "bias"));
        let display = display_module(module);
        if has("running_mean") && has("running_var") && has("weight") {
            layers.push(ArchLayer::Batchnorm {
                name: Some(display),
                weight,
                bias: full(module, "bias"),
                running_mean: full(module, "running_mean"),
                running_var: full(module, "running_var"),
                eps: None,
            });
            continue;
        }
        let wname = if has("weight_ternary") {
            full(module, "weight_ternary")
        } else {
            weight.clone()
        };
        let Ok(meta) = file.meta(&wname) else {
            continue;
        };
        if meta.shape.len() != 2 {
            return Err(arch_err(format!(
                "tensor '{wname}' has shape {:?}; only linear layers ([out,in]) and BatchNorm1d can be inferred \
                 from tensor names — give an architecture document (docs/schema.md) for anything else",
                meta.shape
            )));
        }
        if let Some(after) = previous_linear.replace(display.clone()) {
            if hidden_act == HiddenAct::Relu {
                layers.push(ArchLayer::Relu {});
            }
            assumed.push(AssumedActivation {
                act: hidden_act,
                after,
                before: display.clone(),
            });
        }
        let keep_float = float_layers
            .iter()
            .any(|f| f == &display || f.parse::<usize>().ok() == Some(linear_index));
        linear_index += 1;
        let layer = match meta.dtype {
            StoredDtype::F32 | StoredDtype::F16 | StoredDtype::BF16 if keep_float => {
                ArchLayer::Linear {
                    name: Some(display),
                    weight: wname,
                    bias,
                }
            }
            StoredDtype::F32 | StoredDtype::F16 | StoredDtype::BF16 => ArchLayer::Bitlinear {
                name: Some(display),
                weight: wname,
                bias,
                beta: None,
                weight_scale: None,
                weight_scale_is: None,
                out: None,
            },
            StoredDtype::I8 => {
                let beta = ["weight_beta", "beta", "weight_scale"]
                    .iter()
                    .find(|l| has(l))
                    .map(|l| full(module, l))
                    .ok_or_else(|| {
                        arch_err(format!(
                            "I8 ternary weight '{wname}' needs a β tensor '{}' (or '{}')",
                            full(module, "weight_beta"),
                            full(module, "beta")
                        ))
                    })?;
                ArchLayer::Bitlinear {
                    name: Some(display),
                    weight: wname,
                    bias,
                    beta: Some(beta),
                    weight_scale: None,
                    weight_scale_is: None,
                    out: None,
                }
            }
            StoredDtype::U8 => {
                if !has("weight_scale") {
                    return Err(arch_err(format!(
                        "U8 packed weight '{wname}' needs a '{}' tensor",
                        full(module, "weight_scale")
                    )));
                }
                ArchLayer::Bitlinear {
                    name: Some(display),
                    weight: wname,
                    bias,
                    beta: None,
                    weight_scale: Some(full(module, "weight_scale")),
                    weight_scale_is: weight_scale_is.map(str::to_string),
                    out: None,
                }
            }
            StoredDtype::Other => {
                return Err(file.tensor_error(
                    &wname,
                    format!(
                        "unsupported dtype {} (expected F32, F16, BF16, I8 or U8)",
                        meta.dtype_name
                    ),
                ))
            }
        };
        layers.push(layer);
    }
    if linear_index == 0 {
        return Err(arch_err(
            "no linear layer found: expected tensors named '[prefix.]<i>.weight' of shape [out,in], \
             or an architecture document (docs/schema.md)"
                .into(),
        ));
    }
    Ok(Inferred { layers, assumed })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A schema-3 document: `particles` as given, then `layers` (JSON objects).
    fn doc(particles: &str, layers: &[&str]) -> ArchDoc {
        let text = format!(
            r#"{{"schema": "{SCHEMA_V3}", {particles} "layers": [{}]}}"#,
            layers.join(", ")
        );
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    const LIN: &str = r#"{"op": "bitlinear", "weight": "w"}"#;
    const POOL: &str = r#"{"op": "pool", "kind": "sum"}"#;
    const CAT: &str = r#"{"op": "jet_concat"}"#;
    const P: &str = r#""particles": {"max": 4, "features": 3},"#;
    const PJ: &str = r#""particles": {"max": 4, "features": 3, "jet_features": 2},"#;

    #[test]
    fn particle_documents_place_the_pool_and_the_jet_concat() {
        assert_eq!(check_version(&doc(P, &[LIN, POOL, LIN])), Ok(()));
        assert_eq!(check_version(&doc(PJ, &[LIN, POOL, CAT, LIN])), Ok(()));
        let refused = [
            (doc(P, &[LIN, POOL, CAT, LIN]), "has no \"jet_features\""),
            (
                doc(PJ, &[LIN, POOL, LIN]),
                "no layer is a {\"op\": \"jet_concat\"}",
            ),
            (
                doc(PJ, &[LIN, CAT, POOL, LIN]),
                "must come right after the pool",
            ),
            (
                doc(PJ, &[LIN, POOL, LIN, CAT]),
                "must come right after the pool",
            ),
            (
                doc(PJ, &[LIN, POOL, CAT, CAT, LIN]),
                "2 'jet_concat' layers",
            ),
            (doc(PJ, &[LIN, POOL, CAT]), "needs layers before it"),
            (doc("", &[LIN, CAT, LIN]), "layer 1 is a 'jet_concat'"),
        ];
        for (d, want) in refused {
            let e = check_version(&d).expect_err(want);
            assert!(e.contains(want), "{e}\nexpected: {want}");
        }
    }
}
