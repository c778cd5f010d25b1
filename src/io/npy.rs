//! Streaming `.npy` reader and writer for 2-D float arrays (C order), so that `emulate` and
//! `validate` work in chunks with bounded memory. Whole-array `.npz` access goes through
//! `ndarray-npy`.

use crate::error::{Error, Result};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// Element types accepted for input arrays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NpyDtype {
    F16,
    F32,
    F64,
    /// `uint8` or `bool` (masks), read as 0.0 / 1.0 / … floats.
    U8,
}

impl NpyDtype {
    fn size(self) -> usize {
        match self {
            NpyDtype::U8 => 1,
            NpyDtype::F16 => 2,
            NpyDtype::F32 => 4,
            NpyDtype::F64 => 8,
        }
    }
}

/// A `.npy` array opened for reading rows, from a file or any other byte stream (an `.npz` member).
pub struct NpyRows<R: Read = BufReader<File>> {
    path: PathBuf,
    reader: R,
    pub dtype: NpyDtype,
    pub rows: usize,
    pub cols: usize,
    /// The array was 1-D (shape `[n]`): read as one row of `n` columns.
    pub one_d: bool,
    /// The array's shape as stored (`rows` is its first entry and `cols` the product of the
    /// others for arrays of 3 or more dimensions, [`NpyRows::from_reader_nd`]).
    pub shape: Vec<usize>,
    read: usize,
}

fn data_err(path: &Path, detail: impl Into<String>) -> Error {
    Error::Data {
        path: path.to_path_buf(),
        detail: detail.into(),
    }
}

/// Parses the header dictionary of a `.npy` file.
fn parse_header(path: &Path, h: &str) -> Result<(NpyDtype, bool, Vec<usize>)> {
    let field = |key: &str| -> Option<&str> {
        let i = h.find(&format!("'{key}'"))?;
        let rest = &h[i + key.len() + 2..];
        let rest = rest.trim_start().strip_prefix(':')?.trim_start();
        Some(rest)
    };
    let descr = field("descr").ok_or_else(|| data_err(path, "npy header has no 'descr'"))?;
    let dtype = if descr.starts_with("'<f4'") {
        NpyDtype::F32
    } else if descr.starts_with("'<f8'") {
        NpyDtype::F64
    } else if descr.starts_with("'<f2'") {
        NpyDtype::F16
    } else if descr.starts_with("'|u1'") || descr.starts_with("'|b1'") {
        NpyDtype::U8
    } else {
        let d: String = descr.chars().take_while(|c| *c != ',').collect();
        return Err(data_err(
            path,
            format!(
                "array dtype {d} is not supported: expected float16, float32 or float64 ('<f2' / \
                 '<f4' / '<f8'), or uint8 / bool for masks"
            ),
        ));
    };
    let fortran = field("fortran_order")
        .map(|r| r.starts_with("True"))
        .unwrap_or(false);
    let shape_s = field("shape").ok_or_else(|| data_err(path, "npy header has no 'shape'"))?;
    let inner = shape_s
        .strip_prefix('(')
        .and_then(|s| s.split(')').next())
        .ok_or_else(|| data_err(path, "bad shape"))?;
    let shape: Vec<usize> = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| data_err(path, format!("bad shape entry '{s}'")))
        })
        .collect::<Result<_>>()?;
    Ok((dtype, fortran, shape))
}

impl NpyRows {
    pub fn open(path: &Path) -> Result<NpyRows> {
        let f = File::open(path).map_err(|e| Error::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        let file_len = f.metadata().map(|m| m.len()).unwrap_or(0);
        NpyRows::from_reader(path, BufReader::with_capacity(1 << 20, f), file_len)
    }
}

impl<R: Read> NpyRows<R> {
    /// Parses the header from `reader`; `total_len` is the byte length of the whole array file.
    /// The array must have 1 or 2 dimensions.
    pub fn from_reader(path: &Path, reader: R, total_len: u64) -> Result<NpyRows<R>> {
        let r = Self::from_reader_nd(path, reader, total_len)?;
        if r.shape.len() > 2 {
            return Err(data_err(
                path,
                format!(
                    "expected a 2-D array [events, features], found shape {:?}",
                    r.shape
                ),
            ));
        }
        Ok(r)
    }

    /// [`Self::from_reader`] for any number of dimensions: rows are the first axis, each row
    /// the rest in C order.
    pub fn from_reader_nd(path: &Path, mut reader: R, total_len: u64) -> Result<NpyRows<R>> {
        let file_len = total_len;
        let mut magic = [0u8; 8];
        reader
            .read_exact(&mut magic)
            .map_err(|_| data_err(path, "not a .npy file (too short)"))?;
        if &magic[..6] != b"\x93NUMPY" {
            return Err(data_err(path, "not a .npy file (bad magic)"));
        }
        let hlen = match magic[6] {
            1 => {
                let mut b = [0u8; 2];
                reader
                    .read_exact(&mut b)
                    .map_err(|_| data_err(path, "truncated npy header"))?;
                u16::from_le_bytes(b) as usize
            }
            2 | 3 => {
                let mut b = [0u8; 4];
                reader
                    .read_exact(&mut b)
                    .map_err(|_| data_err(path, "truncated npy header"))?;
                u32::from_le_bytes(b) as usize
            }
            v => return Err(data_err(path, format!("unsupported npy version {v}"))),
        };
        if hlen as u64 > file_len {
            return Err(data_err(
                path,
                "npy header length runs past the end of the file",
            ));
        }
        let mut hb = vec![0u8; hlen];
        reader
            .read_exact(&mut hb)
            .map_err(|_| data_err(path, "truncated npy header"))?;
        let h = String::from_utf8_lossy(&hb);
        let (dtype, fortran, shape) = parse_header(path, &h)?;
        if fortran {
            return Err(data_err(
                path,
                "Fortran-order arrays are not supported (save with np.ascontiguousarray)",
            ));
        }
        let (rows, cols) = match shape.as_slice() {
            [c] => (1, *c),
            [r, rest @ ..] => (
                *r,
                rest.iter()
                    .try_fold(1usize, |a, d| a.checked_mul(*d))
                    .ok_or_else(|| data_err(path, format!("shape {shape:?} is too large")))?,
            ),
            [] => return Err(data_err(path, "a 0-D array has no events")),
        };
        let esize = dtype.size();
        let header_end = 6 + 2 + if magic[6] == 1 { 2 } else { 4 } + hlen as u64;
        let need = (rows as u128) * (cols as u128) * esize as u128;
        if (file_len.saturating_sub(header_end)) as u128 != need {
            return Err(data_err(
                path,
                format!(
                    "data is {} bytes, shape {:?} needs {need} (truncated?)",
                    file_len.saturating_sub(header_end),
                    shape
                ),
            ));
        }
        Ok(NpyRows {
            path: path.to_path_buf(),
            reader,
            dtype,
            rows,
            cols,
            one_d: shape.len() == 1,
            shape,
            read: 0,
        })
    }

    /// Reads up to `max_rows` rows into `out` (cleared first) as f32. Returns rows read.
    /// Non-finite values are an error naming the row.
    pub fn next_chunk(&mut self, max_rows: usize, out: &mut Vec<f32>) -> Result<usize> {
        out.clear();
        let n = max_rows.min(self.rows - self.read);
        let count = n * self.cols;
        match self.dtype {
            NpyDtype::U8 => {
                let mut buf = vec![0u8; count];
                self.reader
                    .read_exact(&mut buf)
                    .map_err(|e| data_err(&self.path, format!("read failed: {e}")))?;
                out.extend(buf.iter().map(|&b| b as f32));
            }
            NpyDtype::F16 => {
                let mut buf = vec![0u8; count * 2];
                self.reader
                    .read_exact(&mut buf)
                    .map_err(|e| data_err(&self.path, format!("read failed: {e}")))?;
                out.extend(
                    buf.chunks_exact(2)
                        .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32()),
                );
            }
            NpyDtype::F32 => {
                let mut buf = vec![0u8; count * 4];
                self.reader
                    .read_exact(&mut buf)
                    .map_err(|e| data_err(&self.path, format!("read failed: {e}")))?;
                out.extend(
                    buf.chunks_exact(4)
                        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
                );
            }
            NpyDtype::F64 => {
                let mut buf = vec![0u8; count * 8];
                self.reader
                    .read_exact(&mut buf)
                    .map_err(|e| data_err(&self.path, format!("read failed: {e}")))?;
                out.extend(
                    buf.chunks_exact(8)
                        .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")) as f32),
                );
            }
        }
        if let Some(i) = out.iter().position(|v| !v.is_finite()) {
            return Err(data_err(
                &self.path,
                format!(
                    "row {}, column {} is {} (inputs must be finite)",
                    self.read + i / self.cols,
                    i % self.cols,
                    out[i]
                ),
            ));
        }
        self.read += n;
        Ok(n)
    }
}

/// Writes a 2-D `.npy` array row chunk by row chunk; the row count is fixed up front.
pub struct NpyWriter {
    w: BufWriter<File>,
}

impl NpyWriter {
    /// `descr` is `'<f4'`, `'<f8'` or `'<i8'`.
    pub fn create(path: &Path, descr: &str, rows: usize, cols: usize) -> Result<NpyWriter> {
        let f = File::create(path).map_err(|e| Error::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        let mut w = BufWriter::with_capacity(1 << 20, f);
        let mut h =
            format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
        let total = 10 + h.len() + 1;
        h.push_str(&" ".repeat((64 - total % 64) % 64));
        h.push('\n');
        let io = |e| Error::Io {
            path: path.to_path_buf(),
            source: e,
        };
        w.write_all(b"\x93NUMPY\x01\x00").map_err(io)?;
        w.write_all(&(h.len() as u16).to_le_bytes()).map_err(io)?;
        w.write_all(h.as_bytes()).map_err(io)?;
        Ok(NpyWriter { w })
    }
    pub fn write_f64(&mut self, v: &[f64]) -> std::io::Result<()> {
        let mut b = Vec::with_capacity(v.len() * 8);
        v.iter().for_each(|x| b.extend_from_slice(&x.to_le_bytes()));
        self.w.write_all(&b)
    }
    pub fn write_f32(&mut self, v: &[f32]) -> std::io::Result<()> {
        let mut b = Vec::with_capacity(v.len() * 4);
        v.iter().for_each(|x| b.extend_from_slice(&x.to_le_bytes()));
        self.w.write_all(&b)
    }
    pub fn write_i64(&mut self, v: &[i64]) -> std::io::Result<()> {
        let mut b = Vec::with_capacity(v.len() * 8);
        v.iter().for_each(|x| b.extend_from_slice(&x.to_le_bytes()));
        self.w.write_all(&b)
    }
    /// Appends raw little-endian element bytes.
    pub fn write_bytes(&mut self, b: &[u8]) -> std::io::Result<()> {
        self.w.write_all(b)
    }
    pub fn finish(mut self) -> std::io::Result<()> {
        self.w.flush()
    }
}

/// Reads the whole array `member` of an `.npz` file (any number of dimensions, any dtype
/// [`NpyDtype`] reads) as f32; returns its shape and values in C order.
pub fn read_npz_array(path: &Path, member: &str) -> Result<(Vec<usize>, Vec<f32>)> {
    let file = File::open(path).map_err(|e| Error::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    let mut zip = zip::ZipArchive::new(BufReader::new(file))
        .map_err(|e| data_err(path, format!("not a readable .npz (zip) file: {e}")))?;
    let name = format!("{member}.npy");
    let entry = zip
        .by_name(&name)
        .map_err(|_| data_err(path, format!("no array '{member}' in the .npz")))?;
    let len = entry.size();
    let mut rows = NpyRows::from_reader_nd(
        &path.join(&name),
        BufReader::with_capacity(1 << 20, entry),
        len,
    )?;
    let mut all = Vec::with_capacity(rows.rows.saturating_mul(rows.cols).min(1 << 28));
    let mut buf = Vec::new();
    while rows.next_chunk(65536, &mut buf)? > 0 {
        all.extend_from_slice(&buf);
    }
    Ok((rows.shape.clone(), all))
}

/// Whether the `.npz` file has an array `member`.
pub fn npz_has(path: &Path, member: &str) -> Result<bool> {
    let file = File::open(path).map_err(|e| Error::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    let zip = zip::ZipArchive::new(BufReader::new(file))
        .map_err(|e| data_err(path, format!("not a readable .npz (zip) file: {e}")))?;
    let name = format!("{member}.npy");
    let found = zip.file_names().any(|n| n == name);
    Ok(found)
}

/// Streams the 2-D float array `member` of an `.npz` file in chunks of `chunk_rows` rows:
/// `f(rows, cols, values)` is called per chunk. Memory stays bounded by the chunk size.
pub fn stream_npz_member(
    path: &Path,
    member: &str,
    chunk_rows: usize,
    mut f: impl FnMut(usize, usize, &[f32]) -> Result<()>,
) -> Result<(usize, usize)> {
    let file = File::open(path).map_err(|e| Error::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    let mut zip = zip::ZipArchive::new(BufReader::new(file))
        .map_err(|e| data_err(path, format!("not a readable .npz (zip) file: {e}")))?;
    let name = format!("{member}.npy");
    let entry = zip
        .by_name(&name)
        .map_err(|_| data_err(path, format!("no array '{member}' in the .npz")))?;
    let len = entry.size();
    let mut rows = NpyRows::from_reader(
        &path.join(&name),
        BufReader::with_capacity(1 << 20, entry),
        len,
    )?;
    let (r, c) = (rows.rows, rows.cols);
    let mut buf = Vec::new();
    loop {
        let n = rows.next_chunk(chunk_rows.max(1), &mut buf)?;
        if n == 0 {
            break;
        }
        f(n, c, &buf)?;
    }
    Ok((r, c))
}
