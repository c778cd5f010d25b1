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

/// Reads `x` (float32 or float64, 2-D) and optional integer labels `y` ([`labels_of`]).
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
        let y = labels_of(&mut npz, path)?;
        if y.len() != rows {
            return Err(err(
                path,
                format!("'y' has {} labels for {rows} events", y.len()),
            ));
        }
        Some(y)
    } else {
        None
    };
    Ok(Dataset { x, rows, cols, y })
}

/// Reads the labels `y` of an `.npz` file, if it has them (see [`labels_of`]).
pub fn read_labels(path: &Path) -> Result<Option<Vec<i64>>> {
    match open_with(path, "y")? {
        Some(mut npz) => labels_of(&mut npz, path).map(Some),
        None => Ok(None),
    }
}

/// The `.npz` file `path`, opened, if it has the member `member` (`None` if it has not).
fn open_with(path: &Path, member: &str) -> Result<Option<NpzReader<File>>> {
    let f = File::open(path).map_err(|e| Error::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    let mut npz = NpzReader::new(f).map_err(|e| err(path, format!("not a readable .npz: {e}")))?;
    let names = npz
        .names()
        .map_err(|e| err(path, format!("not a readable .npz: {e}")))?;
    let found = names
        .iter()
        .any(|n| n == member || *n == format!("{member}.npy"));
    Ok(found.then_some(npz))
}

/// The 1-D label array `y` as class indices: any integer dtype (int8…int64, uint8…uint64) or
/// bool (false = 0, true = 1); float only when every value is a whole number. Negative labels,
/// fractional values and integers beyond i64 are refused with the index of the first one.
pub fn labels_of<R: std::io::Read + std::io::Seek>(
    npz: &mut NpzReader<R>,
    path: &Path,
) -> Result<Vec<i64>> {
    use ndarray::{Ix1, OwnedRepr};
    macro_rules! try_int {
        ($($t:ty),*) => {$(
            if let Ok(a) = npz.by_name::<OwnedRepr<$t>, Ix1>("y") {
                return check_labels(path, a.iter().map(|&v| i64::from(v)).collect());
            }
        )*};
    }
    try_int!(i64, i32, i16, i8, u8, u16, u32);
    if let Ok(a) = npz.by_name::<OwnedRepr<bool>, Ix1>("y") {
        return Ok(a.iter().map(|&v| i64::from(v)).collect());
    }
    if let Ok(a) = npz.by_name::<OwnedRepr<u64>, Ix1>("y") {
        if let Some(i) = a.iter().position(|&v| i64::try_from(v).is_err()) {
            return Err(err(
                path,
                format!("'y'[{i}] = {} is not a class index", a[i]),
            ));
        }
        return check_labels(path, a.iter().map(|&v| v as i64).collect());
    }
    let floats: Array1<f64> = match npz.by_name::<OwnedRepr<f32>, Ix1>("y") {
        Ok(a) => a.mapv(f64::from),
        Err(_) => npz.by_name::<OwnedRepr<f64>, Ix1>("y").map_err(|e| {
            err(
                path,
                format!(
                    "'y' must be a 1-D array of integer labels (any integer dtype or bool; \
                     float only with whole-number values): {e}"
                ),
            )
        })?,
    };
    if let Some(i) = floats
        .iter()
        .position(|v| !v.is_finite() || v.fract() != 0.0 || v.abs() > 9.0e15)
    {
        return Err(err(
            path,
            format!(
                "'y'[{i}] = {} is not a whole number: labels must be integer class indices",
                floats[i]
            ),
        ));
    }
    check_labels(path, floats.iter().map(|&v| v as i64).collect())
}

/// Regression targets: the member `target` of an `.npz` file, float32/float64, `[events]`
/// (one output) or `[events, outputs]`, row-major; `None` when the file has no `target`. Values
/// must be finite.
pub fn read_targets(path: &Path) -> Result<Option<Targets>> {
    use ndarray::{IxDyn, OwnedRepr};
    let Some(mut npz) = open_with(path, "target")? else {
        return Ok(None);
    };
    let a: ndarray::ArrayD<f64> = match npz.by_name::<OwnedRepr<f32>, IxDyn>("target") {
        Ok(a) => a.mapv(f64::from),
        Err(_) => npz
            .by_name::<OwnedRepr<f64>, IxDyn>("target")
            .map_err(|e| {
                err(
                    path,
                    format!(
                        "'target' must be a float32/float64 array [events] or [events, outputs] \
                     (the regression targets): {e}"
                    ),
                )
            })?,
    };
    let (rows, cols) = match *a.shape() {
        [n] => (n, 1),
        [n, k] => (n, k),
        ref s => {
            return Err(err(
                path,
                format!("'target' has shape {s:?}: expected [events] or [events, outputs]"),
            ))
        }
    };
    let values: Vec<f64> = a.as_standard_layout().iter().copied().collect();
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(err(
            path,
            format!(
                "'target'[{}] is {} (targets must be finite)",
                i / cols.max(1),
                values[i]
            ),
        ));
    }
    Ok(Some(Targets { rows, cols, values }))
}

/// Regression targets `[rows, cols]` ([`read_targets`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Targets {
    pub rows: usize,
    pub cols: usize,
    pub values: Vec<f64>,
}

/// Refuses negative labels (class indices start at 0).
fn check_labels(path: &Path, y: Vec<i64>) -> Result<Vec<i64>> {
    match y.iter().position(|&v| v < 0) {
        Some(i) => Err(err(
            path,
            format!(
                "'y'[{i}] = {} is negative: labels must be class indices 0, 1, … (the output \
                 the event belongs to)",
                y[i]
            ),
        )),
        None => Ok(y),
    }
}

#[cfg(test)]
mod tests {
    use super::read_labels;
    use ndarray::Array1;

    fn npz_with_y<T: ndarray_npy::WritableElement>(
        y: Vec<T>,
    ) -> (tempfile::TempDir, std::path::PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("labels.npz");
        let mut z = ndarray_npy::NpzWriter::new(std::fs::File::create(&p).unwrap());
        z.add_array("x", &ndarray::Array2::<f32>::zeros((y.len(), 2)))
            .unwrap();
        z.add_array("y", &Array1::from(y)).unwrap();
        z.finish().unwrap();
        (d, p)
    }

    /// The labels `read_labels` finds in an npz whose `y` holds `y`.
    fn labels<T: ndarray_npy::WritableElement>(y: Vec<T>) -> Option<Vec<i64>> {
        read_labels(&npz_with_y(y).1).unwrap()
    }

    #[test]
    fn every_integer_and_bool_dtype_is_a_label() {
        let want = Some(vec![0i64, 1, 2, 1]);
        assert_eq!(labels(vec![0i8, 1, 2, 1]), want);
        assert_eq!(labels(vec![0u8, 1, 2, 1]), want);
        assert_eq!(labels(vec![0i16, 1, 2, 1]), want);
        assert_eq!(labels(vec![0u16, 1, 2, 1]), want);
        assert_eq!(labels(vec![0i32, 1, 2, 1]), want);
        assert_eq!(labels(vec![0u32, 1, 2, 1]), want);
        assert_eq!(labels(vec![0i64, 1, 2, 1]), want);
        assert_eq!(labels(vec![0u64, 1, 2, 1]), want);
        assert_eq!(labels(vec![0.0f32, 1.0, 2.0, 1.0]), want);
        assert_eq!(labels(vec![false, true, true]), Some(vec![0, 1, 1]));
    }

    #[test]
    fn fractional_negative_and_huge_labels_are_refused_with_the_index() {
        let e = read_labels(&npz_with_y(vec![0.0f64, 0.5]).1)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("labels.npz") && e.contains("'y'[1] = 0.5") && e.contains("whole"),
            "{e}"
        );
        let e = read_labels(&npz_with_y(vec![1i8, 0, -1]).1)
            .unwrap_err()
            .to_string();
        assert!(e.contains("'y'[2] = -1 is negative"), "{e}");
        let e = read_labels(&npz_with_y(vec![1u64, u64::MAX]).1)
            .unwrap_err()
            .to_string();
        assert!(e.contains("'y'[1]"), "{e}");
    }
}
