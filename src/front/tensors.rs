//! Reading tensors out of a `.safetensors` file, with every check the format allows.

use crate::error::{Error, Result};
use safetensors::tensor::{Dtype, SafeTensors};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Element type of a stored tensor, as far as bit2hls cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoredDtype {
    F32,
    F16,
    BF16,
    I8,
    U8,
    Other,
}

/// Header facts of one tensor.
#[derive(Clone, Debug)]
pub struct TensorMeta {
    pub dtype: StoredDtype,
    pub dtype_name: String,
    pub shape: Vec<usize>,
}

/// A parsed safetensors file. All tensor data stays in `bytes`; accessors decode on demand.
pub struct TensorFile {
    pub path: PathBuf,
    bytes: Vec<u8>,
    pub metadata: BTreeMap<String, String>,
    /// Tensor names in sorted order, with their header facts.
    pub tensors: BTreeMap<String, TensorMeta>,
}

fn classify(d: Dtype) -> StoredDtype {
    match d {
        Dtype::F32 => StoredDtype::F32,
        Dtype::F16 => StoredDtype::F16,
        Dtype::BF16 => StoredDtype::BF16,
        Dtype::I8 => StoredDtype::I8,
        Dtype::U8 => StoredDtype::U8,
        _ => StoredDtype::Other,
    }
}

impl TensorFile {
    /// Reads and validates the whole file (header, offsets tiling the buffer exactly).
    pub fn open(path: &Path) -> Result<TensorFile> {
        let bytes = std::fs::read(path).map_err(|e| Error::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        TensorFile::from_bytes(path, bytes)
    }

    pub fn from_bytes(path: &Path, bytes: Vec<u8>) -> Result<TensorFile> {
        let bad = |detail: String| Error::Safetensors {
            path: path.to_path_buf(),
            detail,
        };
        if let Some(kind) = foreign_format(&bytes) {
            return Err(bad(kind.advice()));
        }
        if bytes.len() < 8 {
            return Err(bad(format!(
                "file is {} bytes, shorter than the 8-byte header length",
                bytes.len()
            )));
        }
        let n = u64::from_le_bytes(bytes[0..8].try_into().expect("8 bytes"));
        if n > (bytes.len() as u64).saturating_sub(8) {
            return Err(bad(format!(
                "header length {n} bytes runs past the end of the file ({} bytes): truncated or corrupt",
                bytes.len()
            )));
        }
        let (_, meta) = SafeTensors::read_metadata(&bytes).map_err(|e| bad(describe(&e)))?;
        // Full validation (offsets, sizes) happens in deserialize.
        let st = SafeTensors::deserialize(&bytes).map_err(|e| bad(describe(&e)))?;
        let mut tensors = BTreeMap::new();
        for (name, view) in st.tensors() {
            let dtype = view.dtype();
            tensors.insert(
                name.clone(),
                TensorMeta {
                    dtype: classify(dtype),
                    dtype_name: format!("{dtype:?}"),
                    shape: view.shape().to_vec(),
                },
            );
        }
        let metadata: BTreeMap<String, String> = meta
            .metadata()
            .clone()
            .map(|m| m.into_iter().collect())
            .unwrap_or_default();
        drop(st);
        Ok(TensorFile {
            path: path.to_path_buf(),
            bytes,
            metadata,
            tensors,
        })
    }

    fn err(&self, tensor: &str, detail: impl Into<String>) -> Error {
        Error::Tensor {
            path: self.path.clone(),
            tensor: tensor.to_string(),
            detail: detail.into(),
        }
    }

    pub fn meta(&self, name: &str) -> Result<&TensorMeta> {
        self.tensors.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.tensors.keys().map(|s| s.as_str()).take(12).collect();
            self.err(
                name,
                format!("not found in the file (it has: {})", known.join(", ")),
            )
        })
    }

    fn raw(&self, name: &str) -> Result<&[u8]> {
        let st = SafeTensors::deserialize(&self.bytes).map_err(|e| Error::Safetensors {
            path: self.path.clone(),
            detail: describe(&e),
        })?;
        let view = st.tensor(name).map_err(|e| self.err(name, describe(&e)))?;
        let data = view.data();
        // SAFETY-free: re-slice our own buffer by pointer offset of the view into it.
        let start = data.as_ptr() as usize - self.bytes.as_ptr() as usize;
        Ok(&self.bytes[start..start + data.len()])
    }

    /// A float tensor (F32, F16 or BF16) as f32, with a shape check and a NaN/Inf check.
    pub fn f32(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        let meta = self.meta(name)?;
        if meta.shape != shape {
            return Err(self.err(
                name,
                format!("expected shape {shape:?}, found {:?}", meta.shape),
            ));
        }
        let raw = self.raw(name)?;
        let out: Vec<f32> = match meta.dtype {
            StoredDtype::F32 => raw
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            StoredDtype::F16 => raw
                .chunks_exact(2)
                .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            StoredDtype::BF16 => raw
                .chunks_exact(2)
                .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            _ => {
                return Err(self.err(
                    name,
                    format!(
                        "expected a float tensor (F32, F16, BF16), found {}",
                        meta.dtype_name
                    ),
                ))
            }
        };
        if let Some(i) = out.iter().position(|v| !v.is_finite()) {
            return Err(self.err(
                name,
                format!("element {i} is {} (weights must be finite)", out[i]),
            ));
        }
        Ok(out)
    }

    /// A float tensor of any shape with `numel` elements (e.g. β stored as `[]` or `[1]`).
    pub fn f32_numel(&self, name: &str, numel: usize) -> Result<Vec<f32>> {
        let meta = self.meta(name)?;
        let n: usize = meta.shape.iter().product();
        if n != numel {
            return Err(self.err(
                name,
                format!("expected {numel} element(s), found shape {:?}", meta.shape),
            ));
        }
        let shape = meta.shape.clone();
        self.f32(name, &shape)
    }

    /// An I8 tensor.
    pub fn i8(&self, name: &str, shape: &[usize]) -> Result<Vec<i8>> {
        let meta = self.meta(name)?;
        if meta.dtype != StoredDtype::I8 {
            return Err(self.err(name, format!("expected I8, found {}", meta.dtype_name)));
        }
        if meta.shape != shape {
            return Err(self.err(
                name,
                format!("expected shape {shape:?}, found {:?}", meta.shape),
            ));
        }
        Ok(self.raw(name)?.iter().map(|&b| b as i8).collect())
    }

    /// A U8 tensor.
    pub fn u8(&self, name: &str, shape: &[usize]) -> Result<Vec<u8>> {
        let meta = self.meta(name)?;
        if meta.dtype != StoredDtype::U8 {
            return Err(self.err(name, format!("expected U8, found {}", meta.dtype_name)));
        }
        if meta.shape != shape {
            return Err(self.err(
                name,
                format!("expected shape {shape:?}, found {:?}", meta.shape),
            ));
        }
        Ok(self.raw(name)?.to_vec())
    }

    pub fn tensor_error(&self, tensor: &str, detail: impl Into<String>) -> Error {
        self.err(tensor, detail)
    }
}

/// A model file format bit2hls recognises by its first bytes but does not read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ForeignFormat {
    /// `torch.save` since PyTorch 1.6: a zip archive (`PK\x03\x04`).
    TorchZip,
    /// Legacy `torch.save` / `pickle.dump`: a raw pickle (protocol byte `\x80`).
    Pickle,
    /// llama.cpp GGUF (`GGUF`).
    Gguf,
    /// ONNX protobuf (a `ModelProto` starts with field 1, `ir_version`, as byte `\x08`).
    Onnx,
}

impl ForeignFormat {
    /// What to tell the user: what the file is and how to write safetensors instead.
    pub fn advice(self) -> String {
        const SAVE: &str = "save it with `safetensors.torch.save_file(model.state_dict(), \
                            'model.safetensors')` (or models/export.py's save_for_bit2hls)";
        match self {
            ForeignFormat::TorchZip | ForeignFormat::Pickle => {
                format!("it is a PyTorch pickle/zip file (torch.save), not safetensors: {SAVE}")
            }
            ForeignFormat::Gguf => format!("it is a GGUF file (llama.cpp): {SAVE}"),
            ForeignFormat::Onnx => format!("it looks like an ONNX model: {SAVE}"),
        }
    }
}

/// Recognises formats that are not safetensors from their magic bytes. A safetensors file starts
/// with a little-endian u64 header length followed by `{`: the zip and GGUF magics make that
/// length absurd, and the pickle/ONNX checks only apply when byte 8 is not `{`.
pub fn foreign_format(bytes: &[u8]) -> Option<ForeignFormat> {
    if bytes.starts_with(b"PK\x03\x04") {
        return Some(ForeignFormat::TorchZip);
    }
    if bytes.starts_with(b"GGUF") {
        return Some(ForeignFormat::Gguf);
    }
    if bytes.get(8) == Some(&b'{') {
        return None;
    }
    if bytes.len() >= 2 && bytes[0] == 0x80 && (2..=5).contains(&bytes[1]) {
        Some(ForeignFormat::Pickle)
    } else if bytes.len() > 9
        && bytes[0] == 0x08
        && (1..=15).contains(&bytes[1])
        && [0x12, 0x1a, 0x22, 0x2a, 0x3a, 0x42].contains(&bytes[2])
    {
        Some(ForeignFormat::Onnx)
    } else {
        None
    }
}

fn describe(e: &safetensors::SafeTensorError) -> String {
    use safetensors::SafeTensorError as E;
    match e {
        E::HeaderTooLarge => "header length is larger than the 100 MB safetensors limit".into(),
        E::HeaderTooSmall => "header is too small".into(),
        E::InvalidHeaderLength => "header length runs past the end of the file (truncated?)".into(),
        E::InvalidHeader(_) => "header is not valid UTF-8".into(),
        E::InvalidHeaderDeserialization(j) => format!("header is not valid JSON: {j}"),
        E::MetadataIncompleteBuffer => {
            "tensor data offsets do not cover the file exactly (truncated, or extra bytes)".into()
        }
        E::InvalidOffset(name) => format!("tensor '{name}' has invalid data offsets"),
        E::TensorInvalidInfo => "a tensor's byte length does not match its dtype and shape".into(),
        E::ValidationOverflow => "a tensor's shape is absurdly large (size overflows)".into(),
        E::TensorNotFound(name) => format!("tensor '{name}' not found"),
        other => format!("{other}"),
    }
}
