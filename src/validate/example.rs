//! The example data a model file can carry: `bit2hls.export(module, path, example_input=...)`
//! (the Python package) stores the inputs it ran the module on and the module's outputs as one
//! U8 tensor [`EXAMPLE_TENSOR`] holding the bytes of an `.npz` (`x`, optional `mask` and `jet`,
//! and `ref`, the PyTorch outputs) — the layout `bit2hls validate --data` reads.

use crate::error::{Error, Result};
use crate::front::tensors::{StoredDtype, TensorFile};
use std::io::Write;
use std::path::Path;

/// The tensor name of the stored example.
pub const EXAMPLE_TENSOR: &str = "bit2hls.example";

/// The model file's stored example, written to a temporary `.npz` (deleted when dropped), or
/// `None` when the file has none. A stored example that is not a 1-D U8 tensor is an error
/// naming the tensor.
pub fn stored_example(model: &Path) -> Result<Option<tempfile::TempPath>> {
    let file = TensorFile::open(model)?;
    let Some(meta) = file.tensors.get(EXAMPLE_TENSOR) else {
        return Ok(None);
    };
    if meta.dtype != StoredDtype::U8 || meta.shape.len() != 1 {
        return Err(file.tensor_error(
            EXAMPLE_TENSOR,
            format!(
                "expected a 1-D U8 tensor (the bytes of an .npz, as bit2hls.export writes), \
                 found {} {:?}",
                meta.dtype_name, meta.shape
            ),
        ));
    }
    let bytes = file.u8(EXAMPLE_TENSOR, &meta.shape.clone())?;
    if !bytes.starts_with(b"PK\x03\x04") && !bytes.starts_with(b"PK\x05\x06") {
        return Err(file.tensor_error(
            EXAMPLE_TENSOR,
            "not the bytes of an .npz (a zip archive), as bit2hls.export writes them",
        ));
    }
    let io = |source| Error::Io {
        path: std::env::temp_dir(),
        source,
    };
    let mut tmp = tempfile::Builder::new()
        .prefix("bit2hls-example-")
        .suffix(".npz")
        .tempfile()
        .map_err(io)?;
    tmp.write_all(&bytes).map_err(io)?;
    Ok(Some(tmp.into_temp_path()))
}
