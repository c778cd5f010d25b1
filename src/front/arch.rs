//! The architecture document (docs/schema.md) and inference from tensor names.

use super::tensors::{StoredDtype, TensorFile};
use crate::error::{Error, Result};
use serde::Deserialize;
use std::collections::BTreeMap;

pub const SCHEMA: &str = "bit2hls.arch/1";
pub const METADATA_KEY: &str = "bit2hls.arch";

/// The architecture document, version 1.
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
    pub layers: Vec<ArchLayer>,
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
}

/// Parses and version-checks a document. `origin` names where it came from in errors.
pub fn parse(text: &str, origin: &std::path::Path) -> Result<ArchDoc> {
    let doc: ArchDoc = serde_json::from_str(text).map_err(|e| Error::Arch {
        path: origin.to_path_buf(),
        detail: format!("invalid JSON document: {e}"),
    })?;
    if doc.schema != SCHEMA {
        return Err(Error::Arch {
            path: origin.to_path_buf(),
            detail: format!(
                "schema '{}' is not supported (expected '{SCHEMA}')",
                doc.schema
            ),
        });
    }
    if doc.layers.is_empty() {
        return Err(Error::Arch {
            path: origin.to_path_buf(),
            detail: "'layers' is empty".into(),
        });
    }
    Ok(doc)
}

/// Hidden activation inserted between inferred linear layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum HiddenAct {
    Relu,
    None,
}

/// Orders module paths with numeric components compared as numbers.
fn natural_key(path: &str) -> Vec<(u8, u64, String)> {
    path.split('.')
        .map(|c| match c.parse::<u64>() {
            Ok(n) => (0, n, String::new()),
            Err(_) => (1, 0, c.to_string()),
        })
        .collect()
}

/// Infers the layer list of a plain `nn.Sequential`-style state dict (docs/schema.md).
pub fn infer(
    file: &TensorFile,
    hidden_act: HiddenAct,
    float_layers: &[String],
    weight_scale_is: Option<&str>,
) -> Result<Vec<ArchLayer>> {
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
    let mut order: Vec<&String> = modules.keys().collect();
    order.sort_by_key(|m| natural_key(m));

    let full = |module: &str, leaf: &str| {
        if module.is_empty() {
            leaf.to_string()
        } else {
            format!("{module}.{leaf}")
        }
    };
    let mut layers = Vec::new();
    let mut linear_index = 0usize;
    for module in order {
        let leaves = &modules[module];
        let has = |l: &str| leaves.iter().any(|x| x == l);
        let weight = full(module, "weight");
        let bias = has("bias").then(|| full(module, "bias"));
        let display = if module.is_empty() {
            "<root>".to_string()
        } else {
            module.clone()
        };
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
        if linear_index > 0 && hidden_act == HiddenAct::Relu {
            layers.push(ArchLayer::Relu {});
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
    Ok(layers)
}
