//! Errors of `bit2hls synth`. Each names the file or directory concerned and what was expected.

use std::path::PathBuf;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum SynthError {
    /// The yosys executable could not be started.
    #[error("yosys not found ('{program}': {detail}); install it with scripts/deps.sh (apt-get install yosys)")]
    YosysNotFound { program: PathBuf, detail: String },

    /// yosys ran and failed (non-zero exit or killed by a signal).
    #[error("yosys failed ({status}); log: {log}\n--- last lines of the log ---\n{tail}")]
    YosysFailed {
        status: String,
        log: String,
        tail: String,
    },

    /// yosys succeeded but its output did not have the expected form.
    #[error("{source_name}: cannot parse yosys {version} output: {what}")]
    Unparsable {
        source_name: String,
        version: String,
        what: String,
    },

    /// The project directory does not exist or is not a directory.
    #[error("{path}: not a directory (expected a Verilog project written by `bit2hls compile --backend verilog`)")]
    NotADirectory { path: PathBuf },

    /// The project's report.json is missing, unreadable, or lacks a field.
    #[error("{path}: {detail}")]
    Report { path: PathBuf, detail: String },

    /// The project has no rtl/ directory or no .v file in it; or a file list was empty.
    #[error("{path}: {detail}")]
    NoVerilog { path: PathBuf, detail: String },

    /// A file name, top module or family that cannot be passed to yosys safely.
    #[error("{0}")]
    Invalid(String),

    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl SynthError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> SynthError {
        SynthError::Io {
            path: path.into(),
            source,
        }
    }
}

/// What a pure parser found missing or malformed (turned into [`SynthError::Unparsable`]).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0}")]
pub struct ParseError(pub String);
