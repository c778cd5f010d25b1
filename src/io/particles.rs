//! Particle-level data sets: `.npz` with `x` `[jets, N, F]` (float16/32/64, zero-padded,
//! particle-major), `mask` `[jets, N]` (uint8 / bool / integer-valued floats; non-zero = real
//! particle), for a model with per-jet inputs `jet` `[jets, G]` (float), and optional integer
//! labels `y` — what models/data/particle_features.py writes.

use super::npy::{npz_has, read_npz_array};
use super::npz::read_labels;
use crate::error::{Error, Result};
use std::path::Path;

/// What a model reads per jet: `particles` slots of `features` features and `jet` per-jet
/// inputs (0 = none); `From` a model or firmware in [`crate::reference::set`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JetShape {
    pub particles: usize,
    pub features: usize,
    pub jet: usize,
}

/// Jets of a particle-level data set, in memory.
#[derive(Clone, Debug)]
pub struct Jets {
    /// `[jets · particles · features]`.
    pub x: Vec<f32>,
    /// `[jets · particles]`, 1 = real particle.
    pub mask: Vec<u8>,
    /// `[jets · G]` per-jet inputs (empty when the model has none).
    pub jet: Vec<f32>,
    pub jets: usize,
    pub particles: usize,
    pub features: usize,
    pub y: Option<Vec<i64>>,
    /// What the reader assumed (slots dropped or added), for the command to print.
    pub notes: Vec<String>,
}

impl Jets {
    /// Jet `j`: its features `[particles · features]`, mask `[particles]` and per-jet inputs
    /// `[G]` (empty without).
    pub fn get(&self, j: usize) -> (&[f32], &[u8], &[f32]) {
        let (nf, n) = (self.particles * self.features, self.particles);
        let g = self.jet.len() / self.jets.max(1);
        (
            &self.x[j * nf..][..nf],
            &self.mask[j * n..][..n],
            &self.jet[j * g..][..g],
        )
    }
}

fn err(path: &Path, d: impl Into<String>) -> Error {
    Error::Data {
        path: path.to_path_buf(),
        detail: d.into(),
    }
}

/// Reads `path` for a model with `particles` slots of `features` features. A file with more
/// slots is read with its first `particles` slots (the leading particles of a pT-ordered file,
/// what a model trained on them reads), a file with fewer with empty slots added; both are
/// said in [`Jets::notes`]. A model with per-jet inputs reads them from `jet` `[jets, G]`.
/// With `labels`, integer labels `y` are read if present.
pub fn read_jets(path: &Path, shape: JetShape, labels: bool) -> Result<Jets> {
    let JetShape {
        particles,
        features,
        ..
    } = shape;
    let (xs, x) = read_npz_array(path, "x")?;
    let [jets, n, f] = xs[..] else {
        return Err(err(
            path,
            format!(
                "'x' has shape {xs:?}; a particle-level model takes [jets, particles, features] \
                 = [_, {particles}, {features}] (models/data/particle_features.py writes it)"
            ),
        ));
    };
    if f != features {
        return Err(err(
            path,
            format!("'x' has {f} features per particle, the model takes {features}"),
        ));
    }
    let mut notes = Vec::new();
    if n != particles {
        notes.push(format!(
            "{}: 'x' has {n} particle slots, the model takes {particles}: {}",
            path.display(),
            if n > particles {
                format!("reading the first {particles} of each jet (its leading particles if the file is pT-ordered)")
            } else {
                "the missing slots are empty (masked)".to_string()
            }
        ));
    }
    if !npz_has(path, "mask")? {
        return Err(err(
            path,
            "no array 'mask' [jets, particles] (1 = real particle): padded slots cannot be told \
             from real ones without it",
        ));
    }
    let (ms, m) = read_npz_array(path, "mask")?;
    if ms[..] != [jets, n] {
        return Err(err(
            path,
            format!("'mask' has shape {ms:?}, 'x' needs [{jets}, {n}]"),
        ));
    }
    if let Some(i) = m.iter().position(|v| *v != 0.0 && *v != 1.0) {
        return Err(err(
            path,
            format!("mask[{}][{}] = {} (expected 0 or 1)", i / n, i % n, m[i]),
        ));
    }
    if let Some(i) = x.iter().position(|v| !v.is_finite()) {
        let (j, r) = (i / (n * f), i % (n * f));
        return Err(err(
            path,
            format!(
                "x[{j}][{}][{}] is {} (inputs must be finite)",
                r / f,
                r % f,
                x[i]
            ),
        ));
    }
    let (x, mask) = pad(&x, &m, jets, n, particles, features);
    let jet = read_jet_inputs(path, jets, shape.jet)?;
    let y = if labels { read_labels(path)? } else { None };
    if let Some(y) = &y {
        if y.len() != jets {
            return Err(err(
                path,
                format!("'y' has {} labels for {jets} jets", y.len()),
            ));
        }
    }
    Ok(Jets {
        x,
        mask,
        jet,
        jets,
        particles,
        features,
        y,
        notes,
    })
}

/// `jet` `[jets, g]` of `path` (finite floats); empty when `g` is 0.
fn read_jet_inputs(path: &Path, jets: usize, g: usize) -> Result<Vec<f32>> {
    if g == 0 {
        return Ok(Vec::new());
    }
    if !npz_has(path, "jet")? {
        return Err(err(
            path,
            format!(
                "no array 'jet' [jets, {g}]: the model concatenates {g} per-jet inputs after \
                 the pool (models/data/particle_features.py --jet-features writes them)"
            ),
        ));
    }
    let (js, v) = read_npz_array(path, "jet")?;
    if js[..] != [jets, g] {
        return Err(err(
            path,
            format!("'jet' has shape {js:?}, the model takes [{jets}, {g}] (jets, jet inputs)"),
        ));
    }
    if let Some(i) = v.iter().position(|v| !v.is_finite()) {
        return Err(err(
            path,
            format!(
                "jet[{}][{}] is {} (inputs must be finite)",
                i / g,
                i % g,
                v[i]
            ),
        ));
    }
    Ok(v)
}

/// The first `samples` (all if `None`) jets of `path` as [`read_jets`] reads them, without
/// labels; the reader's notes are printed. A file without jets is refused.
pub fn read_first_jets(path: &Path, shape: JetShape, samples: Option<usize>) -> Result<Jets> {
    let mut j = read_jets(path, shape, false)?;
    j.notes.iter().for_each(|n| eprintln!("note: {n}"));
    let k = samples.unwrap_or(j.jets).min(j.jets);
    if k == 0 {
        return Err(err(path, "no jets"));
    }
    j.x.truncate(k * shape.particles * shape.features);
    j.mask.truncate(k * shape.particles);
    j.jet.truncate(k * shape.jet);
    j.jets = k;
    Ok(j)
}

/// `n` slots per jet → `particles` slots (the first ones kept, extra ones empty).
fn pad(
    x: &[f32],
    m: &[f32],
    jets: usize,
    n: usize,
    particles: usize,
    f: usize,
) -> (Vec<f32>, Vec<u8>) {
    let mut xo = vec![0f32; jets * particles * f];
    let mut mo = vec![0u8; jets * particles];
    let k = n.min(particles);
    for j in 0..jets {
        xo[j * particles * f..(j * particles + k) * f]
            .copy_from_slice(&x[j * n * f..(j * n + k) * f]);
        for i in 0..k {
            mo[j * particles + i] = (m[j * n + i] != 0.0) as u8;
        }
    }
    (xo, mo)
}
