//! `bit2hls._native`: the bit2hls library behind the Python package (python/bit2hls).
//!
//! The Python layer normalizes arrays (float32, C order: no copy when they already are) and
//! turns in-memory data into files where a command reads files; this module loads models,
//! lowers them with the command line's options and runs the emulators and the float reference
//! with the GIL released. Every error is raised as `bit2hls.Bit2hlsError` with the message the
//! command line prints after `error: `.

use bit2hls::back::emu::fast::FastEmulator;
use bit2hls::back::emu::set::SetEmulator;
use bit2hls::choice::Choice;
use bit2hls::front::{load_net, LoadOptions, Loaded};
use bit2hls::ir::firmware::Mode;
use bit2hls::ir::serial::AnyFirmware;
use bit2hls::ir::set::Net;
use bit2hls::ir::ProfileName;
use bit2hls::pipeline::{lower_net, FwOptions};
use bit2hls::reference::fixed::code_to_f64;
use numpy::{PyArray2, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use rayon::prelude::*;
use std::path::PathBuf;

create_exception!(
    _native,
    Bit2hlsError,
    PyException,
    "An error of bit2hls: the model, data or options cannot be used (the message says where and what was expected)."
);

fn err(e: impl std::fmt::Display) -> PyErr {
    Bit2hlsError::new_err(e.to_string())
}

fn parse<T: Choice>(what: &str, s: &str) -> PyResult<T> {
    T::parse_name(s).map_err(|e| err(format!("{what} {s:?}: {e}")))
}

/// A model read from a `.safetensors` file (a chain of layers or a particle-level model).
#[pyclass(module = "bit2hls._native", frozen)]
struct Model {
    path: PathBuf,
    net: Loaded<Net>,
}

/// The firmware options of one call (the command line's `--mode`, `--calib`, `--input-type`,
/// `--frac-bits`).
fn fw_options(
    mode: &str,
    calib: Option<PathBuf>,
    input_type: Option<String>,
    frac_bits: Option<i32>,
) -> PyResult<FwOptions> {
    let mut o = FwOptions {
        mode: parse::<Mode>("mode", mode)?,
        calib,
        input_type,
        ..FwOptions::default()
    };
    if let Some(f) = frac_bits {
        o.frac_bits = f;
        o.frac_auto = false;
    }
    Ok(o)
}

/// Codes to real values of `t` (or the codes), as a `[rows, cols]` array.
fn output<'py>(
    py: Python<'py>,
    codes: Vec<i64>,
    cols: usize,
    t: bit2hls::ir::fixed::FixedType,
    raw: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let rows = codes.len() / cols.max(1);
    if raw {
        let a = numpy::ndarray::Array2::from_shape_vec((rows, cols), codes).map_err(err)?;
        return Ok(PyArray2::from_owned_array(py, a).into_any());
    }
    let v: Vec<f64> = codes.iter().map(|&c| code_to_f64(c, t)).collect();
    let a = numpy::ndarray::Array2::from_shape_vec((rows, cols), v).map_err(err)?;
    Ok(PyArray2::from_owned_array(py, a).into_any())
}

fn slice<'a, T: numpy::Element>(a: &'a PyReadonlyArray2<'_, T>, what: &str) -> PyResult<&'a [T]> {
    a.as_slice()
        .map_err(|_| err(format!("{what}: expected a C-contiguous, aligned array")))
}

#[pymethods]
impl Model {
    /// The model's name.
    #[getter]
    fn name(&self) -> String {
        self.net.model.name().to_string()
    }
    /// The file it was read from.
    #[getter]
    fn path(&self) -> PathBuf {
        self.path.clone()
    }
    /// "chain" (a flat input vector) or "set" (particles with a mask).
    #[getter]
    fn kind(&self) -> &'static str {
        match &self.net.model {
            Net::Chain(_) => "chain",
            Net::Set(_) => "set",
        }
    }
    /// The float semantics profile.
    #[getter]
    fn profile(&self) -> String {
        self.net.model.profile().name.name().to_string()
    }
    /// Inputs per event (a chain) or features per particle (a set).
    #[getter]
    fn n_inputs(&self) -> usize {
        match &self.net.model {
            Net::Chain(m) => m.inputs,
            Net::Set(s) => s.features,
        }
    }
    #[getter]
    fn n_outputs(&self) -> usize {
        match &self.net.model {
            Net::Chain(m) => m.outputs(),
            Net::Set(s) => s.outputs(),
        }
    }
    /// Particles per jet (`None` for a chain).
    #[getter]
    fn particles(&self) -> Option<usize> {
        match &self.net.model {
            Net::Chain(_) => None,
            Net::Set(s) => Some(s.particles),
        }
    }
    /// Per-jet inputs after the pool (0 for a chain).
    #[getter]
    fn jet_features(&self) -> usize {
        match &self.net.model {
            Net::Chain(_) => 0,
            Net::Set(s) => s.jet_features,
        }
    }
    /// What the front end assumed or was told (the command line's `note:` and `warning:`
    /// lines).
    #[getter]
    fn notes(&self) -> Vec<String> {
        let mut v = self.net.params();
        v.extend(self.net.warnings());
        v
    }

    /// Firmware outputs (real values, float64; int64 codes with `raw`) of a chain on `x`
    /// `[events, inputs]`, or of a set on `x` `[jets, particles·features]`, `mask`
    /// `[jets, particles]` and `jet` `[jets, jet_features]`.
    #[pyo3(signature = (x, mode, mask=None, jet=None, calib=None, input_type=None, frac_bits=None, raw=false))]
    #[allow(clippy::too_many_arguments)]
    fn emulate<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, f32>,
        mode: &str,
        mask: Option<PyReadonlyArray2<'py, u8>>,
        jet: Option<PyReadonlyArray2<'py, f32>>,
        calib: Option<PathBuf>,
        input_type: Option<String>,
        frac_bits: Option<i32>,
        raw: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let o = fw_options(mode, calib, input_type, frac_bits)?;
        let (fw, _notes) = py.detach(|| lower_net(&self.net, &o, None)).map_err(err)?;
        let xs = slice(&x, "x")?;
        match &fw {
            AnyFirmware::Chain(fw) => {
                check_cols(&x, fw.n_in, "x", "inputs")?;
                let codes = py.detach(|| FastEmulator::new(fw).run_batch(xs));
                output(py, codes, fw.n_out, fw.output_type(), raw)
            }
            AnyFirmware::Set(fw) => {
                let (m, j) = set_inputs(&x, mask.as_ref(), jet.as_ref(), self.shape())?;
                let codes = py.detach(|| SetEmulator::new(fw).run_batch(xs, m, j));
                output(py, codes, fw.n_out(), fw.output_type(), raw)
            }
        }
    }

    /// The float model (PyTorch's semantics, float32) on the same inputs as `emulate`.
    #[pyo3(signature = (x, mask=None, jet=None))]
    fn float<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, f32>,
        mask: Option<PyReadonlyArray2<'py, u8>>,
        jet: Option<PyReadonlyArray2<'py, f32>>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let xs = slice(&x, "x")?;
        let (ys, cols) = match &self.net.model {
            Net::Chain(m) => {
                check_cols(&x, m.inputs, "x", "inputs")?;
                let ys: Vec<f32> = py.detach(|| {
                    xs.par_chunks(m.inputs.max(1))
                        .flat_map_iter(|r| bit2hls::reference::float::forward(m, r, None))
                        .collect()
                });
                (ys, m.outputs())
            }
            Net::Set(s) => {
                let (mk, jt) = set_inputs(&x, mask.as_ref(), jet.as_ref(), self.shape())?;
                let (nf, n, g) = (s.jet_len(), s.particles, s.jet_features);
                let jets = x.shape()[0];
                let ys: Vec<f32> = py.detach(|| {
                    (0..jets)
                        .into_par_iter()
                        .flat_map_iter(|j| {
                            bit2hls::reference::set::forward(
                                s,
                                &xs[j * nf..(j + 1) * nf],
                                &mk[j * n..(j + 1) * n],
                                &jt[j * g..(j + 1) * g],
                            )
                        })
                        .collect()
                });
                (ys, s.outputs())
            }
        };
        let rows = ys.len() / cols.max(1);
        let a = numpy::ndarray::Array2::from_shape_vec((rows, cols), ys).map_err(err)?;
        Ok(PyArray2::from_owned_array(py, a))
    }

    fn __repr__(&self) -> String {
        format!(
            "bit2hls.Model({:?}: {} '{}', profile {}, {} outputs)",
            self.path.display().to_string(),
            self.kind(),
            self.name(),
            self.profile(),
            self.n_outputs()
        )
    }
}

impl Model {
    /// `(particles, features, jet_features)` of a set.
    fn shape(&self) -> (usize, usize, usize) {
        match &self.net.model {
            Net::Chain(m) => (1, m.inputs, 0),
            Net::Set(s) => (s.particles, s.features, s.jet_features),
        }
    }
}

fn check_cols<T: numpy::Element>(
    a: &PyReadonlyArray2<'_, T>,
    want: usize,
    what: &str,
    unit: &str,
) -> PyResult<()> {
    let got = a.shape()[1];
    if got != want {
        return Err(err(format!(
            "{what} has {got} columns, the model takes {want} {unit}"
        )));
    }
    Ok(())
}

/// The mask and jet inputs of a set, checked against `x` and the model.
fn set_inputs<'a>(
    x: &PyReadonlyArray2<'_, f32>,
    mask: Option<&'a PyReadonlyArray2<'_, u8>>,
    jet: Option<&'a PyReadonlyArray2<'_, f32>>,
    (n, f, g): (usize, usize, usize),
) -> PyResult<(&'a [u8], &'a [f32])> {
    check_cols(x, n * f, "x", "values per jet (particles · features)")?;
    let jets = x.shape()[0];
    let mask = mask.ok_or_else(|| err("a particle-level model needs mask [jets, particles]"))?;
    check_cols(mask, n, "mask", "particles")?;
    if mask.shape()[0] != jets {
        return Err(err(format!(
            "mask has {} jets, x has {jets}",
            mask.shape()[0]
        )));
    }
    let jet: &[f32] = match (jet, g) {
        (None, 0) => &[],
        (None, g) => {
            return Err(err(format!(
                "the model takes {g} per-jet inputs: give jet [jets, {g}]"
            )))
        }
        (Some(_), 0) => return Err(err("the model has no per-jet inputs, but jet was given")),
        (Some(j), g) => {
            check_cols(j, g, "jet", "per-jet inputs")?;
            if j.shape()[0] != jets {
                return Err(err(format!("jet has {} jets, x has {jets}", j.shape()[0])));
            }
            slice(j, "jet")?
        }
    };
    Ok((slice(mask, "mask")?, jet))
}

/// Reads a model: `arch` an architecture document, `profile` a semantics profile name (both
/// as the command line's `--arch`, `--profile`).
#[pyfunction]
#[pyo3(signature = (path, arch=None, profile=None))]
fn load(
    py: Python<'_>,
    path: PathBuf,
    arch: Option<PathBuf>,
    profile: Option<&str>,
) -> PyResult<Model> {
    let opts = LoadOptions {
        arch,
        profile: profile
            .map(|p| parse::<ProfileName>("profile", p))
            .transpose()?,
        ..LoadOptions::default()
    };
    let net = py.detach(|| load_net(&path, &opts)).map_err(err)?;
    Ok(Model { path, net })
}

/// Runs one `bit2hls` command (its arguments without the program name) in this process:
/// `(exit code, report)` with the JSON report of `validate` and `estimate` as a string (else
/// `None`); the program's error message raised as `Bit2hlsError`.
#[pyfunction]
fn run(py: Python<'_>, args: Vec<String>) -> PyResult<(i32, Option<String>)> {
    let (code, json) = py.detach(|| bit2hls::cli::run_args(&args)).map_err(err)?;
    Ok((code, json.map(|j| j.to_string())))
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Model>()?;
    m.add_function(wrap_pyfunction!(load, m)?)?;
    m.add_function(wrap_pyfunction!(run, m)?)?;
    m.add("Bit2hlsError", m.py().get_type::<Bit2hlsError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
