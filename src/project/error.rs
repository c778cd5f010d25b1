//! Errors of the backends' project directories (HLS and Verilog). Each says where (directory, layer, option) and what to do.

use std::path::PathBuf;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ProjectError {
    #[error("{path}: the output directory exists and is not empty; use --force to replace it")]
    OutputExists { path: PathBuf },

    #[error("unknown part '{part}'; known parts: {known}")]
    UnknownPart { part: String, known: String },

    #[error(
        "layer '{layer}' (#{index}): reuse factor {reuse} does not divide n_in·n_out = {n_in}·{n_out} = {size}; \
         the reuse factor must divide n_in·n_out of every layer with weights (valid here: {valid})"
    )]
    Reuse {
        layer: String,
        index: usize,
        reuse: usize,
        n_in: usize,
        n_out: usize,
        size: usize,
        valid: String,
    },

    #[error("{0}")]
    Option(String),

    #[error("{path}: {detail}")]
    Io { path: PathBuf, detail: String },

    #[error(
        "the Xilinx ap_types headers (ap_fixed.h, ap_int.h) were not found (looked in: {searched}); \
         run scripts/setup_ap_types.sh (downloads the hls4ml wheel and extracts hls4ml/templates/vivado/ap_types \
         into ~/.cache/bit2hls/ap_types), or pass --ap-types DIR / set AP_TYPES_DIR"
    )]
    NoApTypes { searched: String },

    #[error("{path}: not a bit2hls HLS project ({detail}); create one with `bit2hls compile MODEL -o DIR`")]
    NotAProject { path: PathBuf, detail: String },

    #[error("{path}: {detail}")]
    Project { path: PathBuf, detail: String },

    #[error("{0}")]
    Tool(String),

    #[error("rendering {file}: {detail}")]
    Template { file: String, detail: String },

    /// A model or firmware file (`firmware.json`) that could not be read.
    #[error(transparent)]
    Model(#[from] crate::error::Error),
}

impl From<crate::target::parts::PartError> for ProjectError {
    fn from(e: crate::target::parts::PartError) -> ProjectError {
        match e {
            crate::target::parts::PartError::Unknown { part, known } => {
                ProjectError::UnknownPart { part, known }
            }
        }
    }
}

pub type Result<T> = std::result::Result<T, ProjectError>;

impl ProjectError {
    pub fn io(path: impl Into<PathBuf>, e: impl std::fmt::Display) -> ProjectError {
        ProjectError::Io {
            path: path.into(),
            detail: e.to_string(),
        }
    }
}
