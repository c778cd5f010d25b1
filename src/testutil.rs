//! Helpers for tests only: safetensors files built in memory, PyTorch-style state dicts.
//! Random models and inputs come from [`crate::synthetic`] (re-exported here for tests).

pub use crate::synthetic::{gaussian, random_mlp, Rng};

/// One tensor to write: name, safetensors dtype, shape, little-endian bytes.
pub struct RawTensor {
    pub name: String,
    pub dtype: safetensors::Dtype,
    pub shape: Vec<usize>,
    pub data: Vec<u8>,
}

impl RawTensor {
    pub fn f32(name: &str, shape: &[usize], v: &[f32]) -> RawTensor {
        RawTensor {
            name: name.into(),
            dtype: safetensors::Dtype::F32,
            shape: shape.to_vec(),
            data: v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        }
    }
    pub fn i8(name: &str, shape: &[usize], v: &[i8]) -> RawTensor {
        RawTensor {
            name: name.into(),
            dtype: safetensors::Dtype::I8,
            shape: shape.to_vec(),
            data: v.iter().map(|&x| x as u8).collect(),
        }
    }
    pub fn u8(name: &str, shape: &[usize], v: &[u8]) -> RawTensor {
        RawTensor {
            name: name.into(),
            dtype: safetensors::Dtype::U8,
            shape: shape.to_vec(),
            data: v.to_vec(),
        }
    }
}

/// Serializes tensors (and optional metadata) to safetensors bytes with the official writer.
pub fn safetensors_bytes(
    tensors: &[RawTensor],
    metadata: Option<Vec<(String, String)>>,
) -> Vec<u8> {
    let views: Vec<(String, safetensors::tensor::TensorView)> = tensors
        .iter()
        .map(|t| {
            (
                t.name.clone(),
                safetensors::tensor::TensorView::new(t.dtype, t.shape.clone(), &t.data)
                    .expect("valid view"),
            )
        })
        .collect();
    let md = metadata.map(|m| m.into_iter().collect::<std::collections::HashMap<_, _>>());
    safetensors::serialize(views, md).expect("serialize")
}

/// A float state dict of a BitLinear Sequential `widths` under `prefix` (`net.0.weight`, ...):
/// linear layers at even indices (ReLUs at odd ones have no tensors), like PyTorch writes it.
pub fn sequential_state_dict(
    widths: &[usize],
    prefix: &str,
    bias: bool,
    seed: u64,
) -> Vec<RawTensor> {
    let mut r = Rng(seed);
    let mut out = Vec::new();
    for (i, w) in widths.windows(2).enumerate() {
        let idx = 2 * i;
        let wts: Vec<f32> = (0..w[0] * w[1])
            .map(|_| (r.normal() * 0.3) as f32)
            .collect();
        out.push(RawTensor::f32(
            &format!("{prefix}{idx}.weight"),
            &[w[1], w[0]],
            &wts,
        ));
        if bias {
            let b: Vec<f32> = (0..w[1]).map(|_| (r.normal() * 0.1) as f32).collect();
            out.push(RawTensor::f32(&format!("{prefix}{idx}.bias"), &[w[1]], &b));
        }
    }
    out
}

/// The firmware options the golden and CLI tests lower with: the command-line defaults, except
/// that a static scale is the calibration maximum (`calib_quantile = 1`).
pub fn fw_options(mode: crate::ir::firmware::Mode) -> crate::pipeline::FwOptions {
    crate::pipeline::FwOptions {
        mode,
        calib_quantile: 1.0,
        ..crate::pipeline::FwOptions::default()
    }
}
