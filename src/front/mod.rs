//! Front end: `.safetensors` (+ architecture) → [`Model`].

pub mod arch;
pub mod tensors;
pub mod ternarize;

use crate::error::{Error, Result};
use crate::ir::fixed::FixedType;
use crate::ir::set::{Net, SetModel};
use crate::ir::{
    Affine, BitLinear, Layer, LayerKind, Linear, Matrix, Model, Profile, ProfileName, WeightSource,
};
use arch::{ArchLayer, HiddenAct};
use std::path::{Path, PathBuf};
pub use tensors::TensorFile;
use ternarize::{ternarize, unpack_hf};

/// What the user may tell the front end beyond the file.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// Explicit architecture document.
    pub arch: Option<PathBuf>,
    /// Overrides the document's profile.
    pub profile: Option<ProfileName>,
    /// Per-decision overrides of the profile.
    pub overrides: crate::ir::profile::ProfileOverrides,
    pub hidden_act: HiddenAct,
    /// Linear layers (index among linear layers, or module name) kept full precision when inferring.
    pub float_layers: Vec<String>,
    /// Meaning of `weight_scale` for the HF packed layout when inferring: `beta` or `inv_beta`.
    pub weight_scale_is: Option<String>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            arch: None,
            profile: None,
            overrides: Default::default(),
            hidden_act: HiddenAct::Relu,
            float_layers: vec![],
            weight_scale_is: None,
        }
    }
}

/// Where the architecture came from (reported by `inspect`).
#[derive(Clone, Debug, PartialEq)]
pub enum ArchOrigin {
    File(PathBuf),
    Sidecar(PathBuf),
    Metadata,
    Inferred,
}

/// Something the front end assumed or noticed while reading the model.
#[derive(Clone, Debug, PartialEq)]
pub enum Note {
    /// Inference had to assume a parameter-free activation between two linear layers: a
    /// warning every command prints (stderr), because the firmware is wrong if it is wrong.
    Assumed(arch::AssumedActivation),
    /// Information (weights near rounding ties, bias conventions, …): shown by `inspect`.
    Info(String),
    /// Profile parameters the architecture document set (its activation bits, …): every command
    /// prints it (stderr), because the firmware's arithmetic depends on it.
    Params(String),
}

impl Note {
    /// True for assumptions the user must see on every command.
    pub fn is_warning(&self) -> bool {
        matches!(self, Note::Assumed(_))
    }
}

impl std::fmt::Display for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Note::Assumed(a) => a.fmt(f),
            Note::Info(s) | Note::Params(s) => f.write_str(s),
        }
    }
}

/// A loaded model with notes for the user: a chain ([`Model`], what most commands read) or any
/// model ([`Net`], [`load_net`]).
pub struct Loaded<M = Model> {
    pub model: M,
    pub origin: ArchOrigin,
    pub notes: Vec<Note>,
    /// What the outputs are (the document's `task`; classification without one).
    pub task: crate::ir::task::Task,
}

impl<M> Loaded<M> {
    /// The profile parameters read from the architecture document ([`Note::Params`]).
    pub fn params(&self) -> Vec<String> {
        self.notes
            .iter()
            .filter(|n| matches!(n, Note::Params(_)))
            .map(|n| n.to_string())
            .collect()
    }

    /// The assumptions ([`Note::is_warning`]) as sentences.
    pub fn warnings(&self) -> Vec<String> {
        self.notes
            .iter()
            .filter(|n| n.is_warning())
            .map(|n| n.to_string())
            .collect()
    }
}

/// Why a profile could not be built: from the document's parameters or from the command line.
enum ProfileError {
    Doc(String),
    Cli(String),
}

impl ProfileError {
    fn at(self, arch_path: &Path) -> Error {
        match self {
            ProfileError::Doc(detail) => Error::Arch {
                path: arch_path.to_path_buf(),
                detail: format!("profile_params: {detail}"),
            },
            ProfileError::Cli(e) => Error::Usage(e),
        }
    }
}

/// The named profile with the document's `profile_params`, then the command line's overrides
/// (which win); notes which document parameters were used.
fn profile_with_params(
    name: ProfileName,
    doc: Option<&arch::ArchDoc>,
    opts: &LoadOptions,
    notes: &mut Vec<Note>,
) -> std::result::Result<Profile, ProfileError> {
    let mut profile = Profile::named(name);
    if let Some(params) = doc.and_then(|d| d.profile_params.as_ref()) {
        profile = profile
            .with(&params.overrides())
            .map_err(ProfileError::Doc)?;
        notes.push(Note::Params(format!(
            "profile parameters from the architecture document: {} (activation scale Q {}, \
             clamp [{}, {}]); command-line --act-bits/--act-qmax/--eps-* override them",
            params.describe(),
            profile.act_qmax,
            profile.act_clamp.0,
            profile.act_clamp.1
        )));
    }
    profile.with(&opts.overrides).map_err(ProfileError::Cli)
}

/// Reads a chain model file and its architecture; a particle-level model is refused (commands
/// that compile those read them with [`load_net`]).
pub fn load(path: &Path, opts: &LoadOptions) -> Result<Loaded> {
    chain_only(path, load_net(path, opts)?)
}

/// [`load`] on bytes already in memory; `path` names the file in messages and locates a sidecar.
pub fn load_bytes(path: &Path, bytes: Vec<u8>, opts: &LoadOptions) -> Result<Loaded> {
    chain_only(path, load_net_bytes(path, bytes, opts)?)
}

/// Which commands read particle-level models (named in the refusal of the others).
pub const SET_COMMANDS: &str =
    "validate, emulate, bench --model and compile (--backend hls then csim; --backend verilog then rtlsim, synth)";

fn chain_only(path: &Path, l: Loaded<Net>) -> Result<Loaded> {
    match l.model {
        Net::Chain(model) => Ok(Loaded {
            model,
            origin: l.origin,
            notes: l.notes,
            task: l.task,
        }),
        Net::Set(s) => Err(Error::Arch {
            path: path.to_path_buf(),
            detail: format!(
                "'{}' is a particle-level model ({} particles × {} features, {} pool); this \
             command compiles chains only so far — {SET_COMMANDS} read particle models \
             (README, Limitations)",
                s.name,
                s.particles,
                s.features,
                s.pool.as_str()
            ),
        }),
    }
}

/// Reads any model file (a chain or a particle-level model) and its architecture.
pub fn load_net(path: &Path, opts: &LoadOptions) -> Result<Loaded<Net>> {
    let bytes = std::fs::read(path).map_err(|e| Error::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    load_net_bytes(path, bytes, opts)
}

/// [`load_net`] on bytes already in memory.
pub fn load_net_bytes(path: &Path, bytes: Vec<u8>, opts: &LoadOptions) -> Result<Loaded<Net>> {
    let file = TensorFile::from_bytes(path, bytes)?;
    // Before inference: a `….norm.weight` would otherwise be reported as a layer-order problem.
    if let Some(p) = opts.profile {
        norm_check::refuse_norm_parameters(&file, p)?;
    }
    let sidecar = path.with_extension("json");
    let mut notes = Vec::new();
    let (doc_layers, origin, doc) = if let Some(a) = &opts.arch {
        let text = std::fs::read_to_string(a).map_err(|e| Error::Io {
            path: a.clone(),
            source: e,
        })?;
        let doc = arch::parse(&text, a)?;
        (doc.layers.clone(), ArchOrigin::File(a.clone()), Some(doc))
    } else if sidecar.is_file() {
        let text = std::fs::read_to_string(&sidecar).map_err(|e| Error::Io {
            path: sidecar.clone(),
            source: e,
        })?;
        let doc = arch::parse(&text, &sidecar)?;
        (
            doc.layers.clone(),
            ArchOrigin::Sidecar(sidecar.clone()),
            Some(doc),
        )
    } else if let Some(text) = file.metadata.get(arch::METADATA_KEY) {
        let doc = arch::parse(text, path)?;
        (doc.layers.clone(), ArchOrigin::Metadata, Some(doc))
    } else {
        let inferred = arch::infer(
            &file,
            opts.hidden_act,
            &opts.float_layers,
            opts.weight_scale_is.as_deref(),
        )?;
        notes.extend(inferred.assumed.into_iter().map(Note::Assumed));
        (inferred.layers, ArchOrigin::Inferred, None)
    };
    let arch_path = match &origin {
        ArchOrigin::File(p) | ArchOrigin::Sidecar(p) => p.clone(),
        _ => path.to_path_buf(),
    };
    let arch_err = |detail: String| Error::Arch {
        path: arch_path.clone(),
        detail,
    };

    let profile_name = match (
        opts.profile,
        doc.as_ref().and_then(|d| d.profile.as_deref()),
    ) {
        (Some(p), _) => p,
        (None, Some(s)) => s.parse::<ProfileName>().map_err(arch_err)?,
        (None, None) => ProfileName::Bithep,
    };
    if opts.profile.is_none() {
        // A profile named by the architecture document (checked above when given by the user).
        norm_check::refuse_norm_parameters(&file, profile_name)?;
    }
    let profile = profile_with_params(profile_name, doc.as_ref(), opts, &mut notes)
        .map_err(|e| e.at(&arch_path))?;
    let input_type = match doc.as_ref().and_then(|d| d.input_type.as_deref()) {
        Some(s) => Some(FixedType::parse(s).ok_or_else(|| {
            arch_err(format!(
                "input_type '{s}' is not a fixed-point type like ap_fixed<16,6> (width 2..62)"
            ))
        })?),
        None => None,
    };

    let name = doc
        .as_ref()
        .and_then(|d| d.name.clone())
        .unwrap_or_else(|| {
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "model".into())
        });
    let chain =
        |layers: &[ArchLayer], offset: usize, inputs: Option<usize>, notes: &mut Vec<Note>| {
            build_chain(&file, layers, offset, inputs, &profile, opts, notes).and_then(
                |(layers, inputs)| {
                    inputs.map(|i| (layers, i)).ok_or_else(|| {
                        arch_err("cannot determine the input width: no linear layer".into())
                    })
                },
            )
        };
    let particles = doc.as_ref().and_then(|d| d.particles);
    let model = match particles {
        None => {
            let (layers, inputs) = chain(
                &doc_layers,
                0,
                doc.as_ref().and_then(|d| d.inputs),
                &mut notes,
            )?;
            Net::Chain(Model {
                name,
                inputs,
                profile,
                layers,
                input_type,
            })
        }
        Some(p) => {
            // check_particles proved there is exactly one pool with layers on both sides.
            let at = doc_layers
                .iter()
                .position(|l| matches!(l, ArchLayer::Pool { .. }))
                .ok_or_else(|| arch_err("a particle-level model needs a 'pool' layer".into()))?;
            let ArchLayer::Pool { kind } = doc_layers[at] else {
                unreachable!("position() found a pool")
            };
            let (phi, _) = chain(&doc_layers[..at], 0, Some(p.features), &mut notes)?;
            let phi = Model {
                name: format!("{name}.phi"),
                inputs: p.features,
                profile: profile.clone(),
                layers: phi,
                input_type,
            };
            // check_particles proved a jet_concat follows the pool exactly when G > 0.
            let g = p.jet_features;
            let first = at + 1 + usize::from(g > 0);
            let (rho, rho_in) = chain(
                &doc_layers[first..],
                first,
                Some(phi.outputs() + g),
                &mut notes,
            )?;
            let rho = Model {
                name: format!("{name}.rho"),
                inputs: rho_in,
                profile: profile.clone(),
                layers: rho,
                input_type: None,
            };
            Net::Set(SetModel {
                name,
                profile,
                particles: p.max,
                features: p.features,
                phi,
                pool: kind,
                jet_features: g,
                rho,
                input_type,
            })
        }
    };
    let task = match doc.as_ref().and_then(|d| d.task.as_ref()) {
        Some(t) => t.task().map_err(arch_err)?,
        None => Default::default(),
    };
    Ok(Loaded {
        model,
        origin,
        notes,
        task,
    })
}

/// Builds the chain `layers` (the document's layers from index `offset`): each layer, the
/// profile notes, and the check that shapes chain from `inputs` (if known). Returns the layers
/// and the input width (`None` when no layer has one).
fn build_chain(
    file: &TensorFile,
    doc_layers: &[ArchLayer],
    offset: usize,
    inputs: Option<usize>,
    profile: &Profile,
    opts: &LoadOptions,
    notes: &mut Vec<Note>,
) -> Result<(Vec<Layer>, Option<usize>)> {
    let mut layers = Vec::new();
    let linear_ins: Vec<Option<usize>> = doc_layers
        .iter()
        .map(|l| match l {
            ArchLayer::Bitlinear { weight, .. } | ArchLayer::Linear { weight, .. } => {
                file.meta(weight).ok().and_then(|m| m.shape.get(1).copied())
            }
            _ => None,
        })
        .collect();
    for (i, al) in doc_layers.iter().enumerate() {
        let next_in = linear_ins[i + 1..].iter().flatten().next().copied();
        let layer = build_layer(file, al, offset + i, next_in, profile, opts, notes)?;
        layers.push(layer);
    }
    notes.extend(
        norm_check::profile_notes(profile, &layers)
            .into_iter()
            .map(Note::Info),
    );
    check_widths(&layers, offset, inputs)?;
    let inputs = inputs.or_else(|| {
        layers.iter().find_map(|l| match (&l.kind, l.shape()) {
            (_, Some((n_in, _))) => Some(n_in),
            (LayerKind::Affine(a), None) => Some(a.scale.len()),
            _ => None,
        })
    });
    if !layers.iter().any(|l| l.shape().is_some()) {
        return Ok((layers, None));
    }
    Ok((layers, inputs))
}

/// Shapes must chain, starting from `inputs` when it is known.
fn check_widths(layers: &[Layer], offset: usize, inputs: Option<usize>) -> Result<()> {
    let mut width = inputs;
    for (i, l) in layers.iter().enumerate() {
        match (l.shape(), &l.kind) {
            (Some((n_in, n_out)), _) => {
                if let Some(w) = width {
                    if w != n_in {
                        return Err(Error::layer(
                            &l.name,
                            offset + i,
                            format!("takes {n_in} inputs but the previous layer (or the input) gives {w}"),
                        ));
                    }
                }
                width = Some(n_out);
            }
            (None, LayerKind::Affine(a)) => {
                if let Some(w) = width {
                    if w != a.scale.len() {
                        return Err(Error::layer(
                            &l.name,
                            offset + i,
                            format!("has {} channels but its input has {w}", a.scale.len()),
                        ));
                    }
                }
                width = Some(a.scale.len());
            }
            _ => {}
        }
    }
    Ok(())
}

fn build_layer(
    file: &TensorFile,
    al: &ArchLayer,
    index: usize,
    next_in: Option<usize>,
    profile: &Profile,
    opts: &LoadOptions,
    notes: &mut Vec<Note>,
) -> Result<Layer> {
    let shape2 = |name: &str| -> Result<(usize, usize)> {
        let m = file.meta(name)?;
        match m.shape.as_slice() {
            [r, c] if *r > 0 && *c > 0 => Ok((*r, *c)),
            s => Err(file.tensor_error(
                name,
                format!("expected a 2-D weight [out,in] with non-zero sizes, found shape {s:?}"),
            )),
        }
    };
    let bias_of = |b: &Option<String>, n: usize| -> Result<Option<Vec<f32>>> {
        b.as_ref().map(|b| file.f32(b, &[n])).transpose()
    };
    let name_or = |n: &Option<String>, t: &str| {
        n.clone()
            .unwrap_or_else(|| t.rsplit_once('.').map(|x| x.0).unwrap_or(t).to_string())
    };
    Ok(match al {
        ArchLayer::Relu {} => Layer {
            name: format!("relu{index}"),
            kind: LayerKind::Relu,
        },
        ArchLayer::Pool { .. } | ArchLayer::JetConcat {} => {
            return Err(Error::layer(
                "pool",
                index,
                "a pool or jet_concat inside a chain (the document's particle check places it)",
            ))
        }
        ArchLayer::Linear { name, weight, bias } => {
            let (r, c) = shape2(weight)?;
            let w = file.f32(weight, &[r, c])?;
            Layer {
                name: name_or(name, weight),
                kind: LayerKind::Linear(Linear {
                    weight: Matrix::new(r, c, w),
                    bias: bias_of(bias, r)?,
                }),
            }
        }
        ArchLayer::Bitlinear {
            name,
            weight,
            bias,
            beta,
            weight_scale,
            weight_scale_is,
            out,
        } => {
            let lname = name_or(name, weight);
            let meta = file.meta(weight)?;
            let (r, c) = shape2(weight)?;
            let bl = match meta.dtype {
                tensors::StoredDtype::F32
                | tensors::StoredDtype::F16
                | tensors::StoredDtype::BF16 => {
                    let w = Matrix::new(r, c, file.f32(weight, &[r, c])?);
                    let t = ternarize(&w, profile);
                    if t.tie_fragile > 0 {
                        notes.push(Note::Info(format!(
                            "layer '{lname}': {} weight(s) lie within 1e-5 of a rounding tie; PyTorch's own β could round them differently",
                            t.tie_fragile
                        )));
                    }
                    BitLinear {
                        codes: t.codes,
                        beta: t.beta,
                        bias: bias_of(bias, r)?,
                        source: WeightSource::FloatMaster,
                        master: Some(w),
                    }
                }
                tensors::StoredDtype::I8 => {
                    let codes = file.i8(weight, &[r, c])?;
                    if let Some(i) = codes.iter().position(|v| !(-1..=1).contains(v)) {
                        return Err(file.tensor_error(
                            weight,
                            format!(
                                "ternary code {} at [{}][{}] is outside {{-1,0,1}}",
                                codes[i],
                                i / c,
                                i % c
                            ),
                        ));
                    }
                    let bname = beta.as_ref().ok_or_else(|| {
                        Error::layer(&lname, index, format!("I8 codes in '{weight}' need a β tensor ('beta' in the architecture)"))
                    })?;
                    let b = file.f32_numel(bname, 1)?[0];
                    if b <= 0.0 {
                        return Err(
                            file.tensor_error(bname, format!("β must be positive, found {b}"))
                        );
                    }
                    BitLinear {
                        codes: Matrix::new(r, c, codes),
                        beta: b,
                        bias: bias_of(bias, r)?,
                        source: WeightSource::TernaryI8,
                        master: None,
                    }
                }
                tensors::StoredDtype::U8 => {
                    let sname = weight_scale.as_ref().ok_or_else(|| {
                        Error::layer(
                            &lname,
                            index,
                            format!("packed U8 weight '{weight}' needs 'weight_scale'"),
                        )
                    })?;
                    let is = weight_scale_is.as_deref().or(opts.weight_scale_is.as_deref()).ok_or_else(|| {
                        Error::layer(
                            &lname,
                            index,
                            format!(
                                "the meaning of '{sname}' is not given: set \"weight_scale_is\": \"beta\" (AutoBitLinear, \
                                 Microsoft converter) or \"inv_beta\" (HF BitLinear) in the architecture, or pass \
                                 --weight-scale-is; bit2hls never guesses it"
                            ),
                        )
                    })?;
                    let scale_is_beta = match is {
                        "beta" => true,
                        "inv_beta" | "inv-beta" => false,
                        other => {
                            return Err(Error::layer(
                                &lname,
                                index,
                                format!("weight_scale_is '{other}': expected 'beta' or 'inv_beta'"),
                            ))
                        }
                    };
                    let n_out = out
                        .or_else(|| {
                            bias.as_ref()
                                .and_then(|b| file.meta(b).ok())
                                .and_then(|m| m.shape.first().copied())
                        })
                        .or(next_in)
                        .unwrap_or(4 * r);
                    if n_out.div_ceil(4) != r {
                        return Err(file.tensor_error(
                            weight,
                            format!("packed rows {r} do not match out_features {n_out} (expected ceil({n_out}/4) = {})", n_out.div_ceil(4)),
                        ));
                    }
                    let packed = file.u8(weight, &[r, c])?;
                    let codes = unpack_hf(&packed, r, c, n_out).map_err(|(row, col)| {
                        file.tensor_error(
                            weight,
                            format!("packed code 3 (invalid) for row {row}, column {col}"),
                        )
                    })?;
                    let s = file.f32_numel(sname, 1)?[0];
                    if s <= 0.0 {
                        return Err(file.tensor_error(
                            sname,
                            format!("weight_scale must be positive, found {s}"),
                        ));
                    }
                    let beta = if scale_is_beta { s } else { 1.0 / s };
                    let mut b = bias_of(bias, n_out)?;
                    if let (true, Some(b)) = (scale_is_beta, b.as_mut()) {
                        // AutoBitLinear (offline) computes F.linear(x, W, bias) * weight_scale:
                        // its bias is scaled by β too (reference §3.3).
                        b.iter_mut().for_each(|v| *v *= beta);
                        notes.push(Note::Info(format!(
                            "layer '{lname}': bias scaled by weight_scale (AutoBitLinear convention for weight_scale_is = beta)"
                        )));
                    }
                    BitLinear {
                        codes,
                        beta,
                        bias: b,
                        source: WeightSource::HfPacked { scale_is_beta },
                        master: None,
                    }
                }
                tensors::StoredDtype::Other => {
                    return Err(file.tensor_error(
                        weight,
                        format!(
                            "unsupported dtype {} (expected F32, F16, BF16, I8 or U8)",
                            meta.dtype_name
                        ),
                    ))
                }
            };
            Layer {
                name: lname,
                kind: LayerKind::BitLinear(bl),
            }
        }
        ArchLayer::Batchnorm {
            name,
            weight,
            bias,
            running_mean,
            running_var,
            eps,
        } => {
            let n = file.meta(weight)?.shape.iter().product::<usize>();
            if n == 0 {
                return Err(file.tensor_error(weight, "batch-norm weight has no elements"));
            }
            let g = file.f32(weight, &[n])?;
            let b = file.f32(bias, &[n])?;
            let mean = file.f32(running_mean, &[n])?;
            let var = file.f32(running_var, &[n])?;
            let eps = eps.unwrap_or(1e-5) as f32;
            if let Some(i) = var.iter().position(|v| *v < 0.0) {
                return Err(file.tensor_error(
                    running_var,
                    format!("variance {} at {i} is negative", var[i]),
                ));
            }
            // Eval-mode BatchNorm1d, in PyTorch's op order: (x - mean) / sqrt(var + eps) * g + b.
            let scale: Vec<f32> = (0..n).map(|i| g[i] / (var[i] + eps).sqrt()).collect();
            let shift: Vec<f32> = (0..n).map(|i| b[i] - mean[i] * scale[i]).collect();
            Layer {
                name: name_or(name, weight),
                kind: LayerKind::Affine(Affine {
                    scale,
                    shift,
                    origin: "batchnorm",
                }),
            }
        }
        ArchLayer::Affine { name, scale, shift } => {
            let n = file.meta(scale)?.shape.iter().product::<usize>();
            if n == 0 {
                return Err(file.tensor_error(scale, "affine scale has no elements"));
            }
            Layer {
                name: name_or(name, scale),
                kind: LayerKind::Affine(Affine {
                    scale: file.f32(scale, &[n])?,
                    shift: file.f32(shift, &[n])?,
                    origin: "affine",
                }),
            }
        }
    })
}

mod norm_check;
#[cfg(test)]
mod tests;
