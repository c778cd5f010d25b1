//! Library errors. Every variant says where: file, tensor, layer (name and index), and what was
//! expected versus found.

use std::path::PathBuf;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum Error {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("{path}: not a valid safetensors file: {detail}")]
    Safetensors { path: PathBuf, detail: String },

    #[error("{path}: tensor '{tensor}': {detail}")]
    Tensor {
        path: PathBuf,
        tensor: String,
        detail: String,
    },

    #[error("{path}: architecture: {detail}")]
    Arch { path: PathBuf, detail: String },

    /// A value of layer `layer` needs more than [`crate::ir::fixed::MAX_WIDTH`] bits (fewer
    /// fractional bits may fit: [`crate::pipeline`] retries when they are automatic).
    #[error("layer '{layer}' (#{index}): {detail}")]
    TooWide {
        layer: String,
        index: usize,
        detail: String,
    },

    #[error("layer '{layer}' (#{index}): {detail}")]
    Layer {
        layer: String,
        index: usize,
        detail: String,
    },

    #[error("{path}: {detail}")]
    Data { path: PathBuf, detail: String },

    #[error("{0}")]
    Usage(String),

    #[error("{path}: {detail}")]
    Output { path: PathBuf, detail: String },
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// [`Error::TooWide`] of layer `layer` (#`index`).
    pub fn too_wide(layer: &str, index: usize, detail: impl Into<String>) -> Error {
        Error::TooWide {
            layer: layer.to_string(),
            index,
            detail: detail.into(),
        }
    }

    pub fn layer(layer: &str, index: usize, detail: impl Into<String>) -> Error {
        Error::Layer {
            layer: layer.to_string(),
            index,
            detail: detail.into(),
        }
    }
}
