//! `.npz` datasets: inputs under `x`, optional labels under `y`.

use crate::error::{Error, Result};
use ndarray::{Array1, Array2};
use ndarray_npy::NpzReader;
use std::fs::File;
use std::path::Path;

pub struct Dataset {
    pub x: Vec<f32>,
    pub rows: usize,
    pub cols: usize,
    pub y: Option<Vec<i64>>,
}

fn err(path: &Path, d: impl Into<String>) -> Error {
    Error::Data {
        path: path.to_path_buf(),
        detail: d.into(),
    }
}

/// Reads `x` (float32 or float64, 2-D) and optional integer labels `y`.
pub fn read_dataset(path: &Path) -> Result<Dataset> {
    let f = File::open(path).map_err(|e| Error::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    let mut npz = NpzReader::new(f).map_err(|e| err(path, format!("not a readable .npz: {e}")))?;
    let names = npz
        .names()
        .map_err(|e| err(path, format!("not a readable .npz: {e}")))?;
    let has = |n: &str| names.iter().any(|x| x == n || x == &format!("{n}.npy"));
    if !has("x") {
        return Err(err(
            path,
            format!("no array 'x' (inputs); it has: {}", names.join(", ")),
        ));
    }
    let x: Array2<f32> = match npz.by_name::<ndarray::OwnedRepr<f32>, ndarray::Ix2>("x") {
        Ok(a) => a,
        Err(_) => {
            let a: Array2<f64> = npz.by_name("x").map_err(|e| {
                err(
                    path,
                    format!("'x' must be a 2-D float32/float64 array [events, features]: {e}"),
                )
            })?;
            a.mapv(|v| v as f32)
        }
    };
    let (rows, cols) = x.dim();
    let x: Vec<f32> = x.as_standard_layout().iter().copied().collect();
    if let Some(i) = x.iter().position(|v| !v.is_finite()) {
        return Err(err(
            path,
            format!(
                "x[{}][{}] is {} (inputs must be finite)",
                i / cols,
                i % cols,
                x[i]
            ),
        ));
    }
    let y = if has("y") {
        let y: Array1<i64> = match npz.by_name::<ndarray::OwnedRepr<i64>, ndarray::Ix1>("y") {
            Ok(a) => a,
            Err(_) => match npz.by_name::<ndarray::OwnedRepr<i32>, ndarray::Ix1>("y") {
                Ok(a) => a.mapv(|v| v as i64),
                Err(_) => {
                    let a: Array1<f32> = npz.by_name("y").map_err(|e| {
                        err(
                            path,
                            format!("'y' must be a 1-D array of integer labels: {e}"),
                        )
                    })?;
                    a.mapv(|v| v as i64)
                }
            },
        };
        if y.len() != rows {
            return Err(err(
                path,
                format!("'y' has {} labels for {rows} events", y.len()),
            ));
        }
        Some(y.to_vec())
    } else {
        None
    };
    Ok(Dataset { x, rows, cols, y })
}
