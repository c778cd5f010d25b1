"""bit2hls from Python: ternary BitNet (b1.58) networks -> FPGA trigger firmware.

    import bit2hls
    m = bit2hls.load("models/qg_mlp/qg_mlp.safetensors")
    y = m.emulate(x, mode="dynamic")            # firmware outputs, bit-exact, float64
    f = m.float(x)                               # the float model (PyTorch's semantics)
    r = m.validate(x, y=labels)                  # the figures of `bit2hls validate`, a dict
    m.compile("out/qg_mlp", backend="hls")       # a project; returns its report.json
    e = m.estimate(part="xcvu9p", clock="5ns")   # resources, latency, trigger verdict

The same Rust library as the `bit2hls` program: `emulate` and `float` run in this process on
NumPy arrays (the GIL released, all cores); `validate`, `compile` and `estimate` run the
program's own commands in this process, so options, defaults, figures and error messages are
the command line's (docs/python.md). Particle-level models take `x` [jets, particles,
features], `mask` [jets, particles] (non-zero = real particle) and, when the model has per-jet
inputs, `jet` [jets, G].
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from typing import Any, Iterable, Mapping, Sequence, Union

import numpy as np

from . import _native
from ._native import Bit2hlsError
from ._families import AssumptionWarning, ExportError

__all__ = ["load", "run", "export", "Model", "Bit2hlsError", "AssumptionWarning", "ExportError",
           "MODES", "__version__"]
__version__: str = _native.__version__

#: The activation modes, as the command line's `--mode`.
MODES = ("dynamic", "dynamic-pow2", "static")

PathLike = Union[str, "os.PathLike[str]"]
#: Calibration data: a `.npz` path (as `--calib`), an array `x` (a chain), or a mapping with
#: `x`, `mask` and `jet` (a particle-level model).
Calib = Union[PathLike, np.ndarray, Mapping[str, Any], None]


def load(path: PathLike, *, arch: PathLike | None = None, profile: str | None = None) -> "Model":
    """Reads a model (.safetensors). `arch`: an architecture document (as `--arch`; default the
    sidecar `<model>.json`, then the file's metadata, then inference from tensor names);
    `profile`: a float semantics profile name (as `--profile`). Every assumption the front end
    made is issued as an `AssumptionWarning`. Raises `Bit2hlsError` for a model it cannot read
    exactly."""
    path = os.fspath(path)
    arch_s = None if arch is None else os.fspath(arch)
    native = _native.load(path, arch_s, profile)
    for note in native.notes:
        warnings.warn(f"{path}: {note}", AssumptionWarning, stacklevel=2)
    return Model(native, arch_s, profile)


def _flags(options: Mapping[str, Any]) -> list[str]:
    """`frac_bits=8` -> `--frac-bits 8`; True -> the bare flag; None/False -> nothing; a list
    or tuple -> the flag once per value."""
    out: list[str] = []
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if value is None or value is False:
            continue
        if value is True:
            out.append(flag)
        elif isinstance(value, (list, tuple)):
            for v in value:
                out += [flag, str(v)]
        else:
            out += [flag, os.fspath(value) if isinstance(value, os.PathLike) else str(value)]
    return out


def _f32(x: Any, what: str) -> np.ndarray:
    """float32, C order, aligned: no copy when `x` already is (arrays unpickled from a buffer,
    as Dask's workers receive them, can be misaligned)."""
    a = np.asarray(x)
    if a.dtype.kind not in "fiub":
        raise Bit2hlsError(f"{what}: expected a numeric array, got dtype {a.dtype}")
    return np.require(a, dtype=np.float32, requirements=["C_CONTIGUOUS", "ALIGNED"])


def _mask(mask: Any) -> np.ndarray:
    m = np.asarray(mask)
    if m.dtype != np.uint8:
        m = (m != 0).astype(np.uint8)
    return np.require(m, requirements=["C_CONTIGUOUS", "ALIGNED"])


class Model:
    """A model read by `bit2hls.load`: a chain of layers on one vector, or a particle-level
    (Deep Sets / PFN) model. Properties: `name`, `path`, `kind` ("chain" or "set"),
    `profile`, `n_inputs` (features per particle for a set), `n_outputs`, `particles`
    (None for a chain), `jet_features`, `notes`."""

    def __init__(self, native: "_native.Model", arch: str | None, profile: str | None):
        self._m = native
        self._arch = arch
        self._profile = profile

    def __getattr__(self, name: str) -> Any:
        if name in ("name", "path", "kind", "profile", "n_inputs", "n_outputs", "particles",
                    "jet_features", "notes"):
            return getattr(self._m, name)
        raise AttributeError(name)

    def __repr__(self) -> str:
        return repr(self._m)

    # -- in-process emulation -------------------------------------------------------------

    def _inputs(self, x: Any, mask: Any, jet: Any) -> tuple[np.ndarray, Any, Any]:
        x = _f32(x, "x")
        if self._m.kind == "chain":
            if x.ndim != 2:
                raise Bit2hlsError(f"x has shape {list(x.shape)}: expected [events, "
                                   f"{self._m.n_inputs}]")
            if mask is not None or jet is not None:
                raise Bit2hlsError(f"'{self._m.name}' is not a particle-level model: it takes "
                                   f"no mask or jet inputs")
            return x, None, None
        n, f = self._m.particles, self._m.n_inputs
        if x.ndim == 3:
            if x.shape[1:] != (n, f):
                raise Bit2hlsError(f"x has shape {list(x.shape)}: expected [jets, {n}, {f}]")
            x = x.reshape(x.shape[0], n * f)
        elif x.ndim != 2:
            raise Bit2hlsError(f"x has shape {list(x.shape)}: expected [jets, {n}, {f}]")
        if mask is None:
            raise Bit2hlsError(f"'{self._m.name}' is a particle-level model: give mask "
                               f"[jets, {n}] (non-zero = real particle)")
        return x, _mask(mask), None if jet is None else _f32(jet, "jet")

    def emulate(self, x: Any, mode: str = "dynamic", *, mask: Any = None, jet: Any = None,
                calib: Calib = None, input_type: str | None = None,
                frac_bits: int | None = None, raw: bool = False) -> np.ndarray:
        """The firmware's outputs, bit-exact (the emulator of `bit2hls emulate`): float64
        [events, outputs], or the int64 output codes with `raw`. `x` float32 or float64, C or
        Fortran order (float32 C-order arrays are read without a copy). Static mode needs
        `calib` (calibration data, as `--calib`); `input_type` and `frac_bits` as the
        command line's flags."""
        xs, m, j = self._inputs(x, mask, jet)
        with _calib_file(calib, self._m.kind) as c:
            return self._m.emulate(xs, mode, m, j, c, input_type, frac_bits, raw)

    def float(self, x: Any, *, mask: Any = None, jet: Any = None) -> np.ndarray:
        """The float model (the profile's PyTorch semantics), float32 [events, outputs]."""
        xs, m, j = self._inputs(x, mask, jet)
        return self._m.float(xs, m, j)

    # -- the program's commands -------------------------------------------------------------

    def _model_args(self) -> list[str]:
        return [os.fspath(self._m.path)] + _flags({"arch": self._arch, "profile": self._profile})

    def validate(self, x: Any = None, y: Any = None, *, mask: Any = None, jet: Any = None,
                 reference: Any = None, target: Any = None, calib: Calib = None,
                 modes: Sequence[str] | None = None, **options: Any) -> dict:
        """`bit2hls validate` on arrays: firmware vs float for every mode (or `modes`), and
        both against `reference` (the PyTorch model's outputs on `x`, an array [events,
        outputs] or a .npy path) when given. `y`: integer labels (accuracy, AUC). Without `x`:
        the example `bit2hls.export(..., example_input=...)` stored in the model file, with
        its PyTorch outputs as the reference. Returns the report `--json` prints;
        `report["reference"]["passed"]` is False when the float model disagrees with the
        reference (the program's exit code 2). `target`: a regressor's targets ([events] or
        [events, outputs]; the residuals in `report["regression"]`, docs/schema.md "Task").
        Other keyword arguments are the command's flags (`frac_bits=8` for `--frac-bits 8`)."""
        if x is None:
            if any(v is not None for v in (y, mask, jet, reference, target)):
                raise Bit2hlsError("validate: y, mask, jet, reference and target go with x")
            args = ["validate"] + self._model_args() + ["--json"]
            for mode in modes or ():
                args += ["--only", mode]
            with _calib_file(calib, self._m.kind) as c:
                _, report = _native.run(args + _flags({"calib": c, **options}))
            return json.loads(report)
        xs, m, j = self._inputs(x, mask, jet)
        with tempfile.TemporaryDirectory(prefix="bit2hls-") as d:
            data = {"x": xs if self._m.kind == "chain"
                    else xs.reshape(xs.shape[0], self._m.particles, self._m.n_inputs)}
            if m is not None:
                data["mask"] = m
            if j is not None:
                data["jet"] = j
            if y is not None:
                data["y"] = np.asarray(y)
            if target is not None:
                data["target"] = np.asarray(target, dtype=np.float64)
            path = os.path.join(d, "data.npz")
            np.savez(path, **data)
            args = ["validate"] + self._model_args() + ["--data", path, "--json"]
            if reference is not None:
                if not isinstance(reference, (str, os.PathLike)):
                    rp = os.path.join(d, "reference.npy")
                    np.save(rp, np.asarray(reference))
                    reference = rp
                args += ["--reference", os.fspath(reference)]
            for mode in modes or ():
                args += ["--only", mode]
            with _calib_file(calib, self._m.kind) as c:
                args += _flags({"calib": c, **options})
                _, report = _native.run(args)
        return json.loads(report)

    def compile(self, outdir: PathLike, *, backend: str = "hls", mode: str = "dynamic",
                calib: Calib = None, force: bool = False, **options: Any) -> dict:
        """`bit2hls compile`: writes an HLS project (`backend="hls"`) or a Verilog project
        (`"verilog"`) to `outdir` and returns its report.json. Other keyword arguments are the
        command's flags (`strategy="resource"`, `reuse=4`, `data="jets.npz"`,
        `particle_reuse=3`, ...)."""
        outdir = os.fspath(outdir)
        with _calib_file(calib, self._m.kind) as c:
            args = (["compile"] + self._model_args() + ["-o", outdir]
                    + _flags({"backend": backend, "mode": mode, "calib": c, "force": force,
                              **options}))
            _native.run(args)
        with open(os.path.join(outdir, "report.json")) as fh:
            return json.load(fh)

    def estimate(self, part: str = "xcvu9p", clock: str = "5ns", *, mode: str = "dynamic",
                 calib: Calib = None, **options: Any) -> list[dict]:
        """`bit2hls estimate`: LUT/FF/DSP/BRAM, latency and the trigger verdict for `part` at
        `clock` (a period, "5ns", or a frequency, "200MHz"): one {"estimate", "verdict"} per
        mode (`all_modes=True` for every mode). Chains only, as the command."""
        with _calib_file(calib, self._m.kind) as c:
            args = (["estimate"] + self._model_args()
                    + _flags({"part": part, "clock": clock, "mode": mode, "calib": c,
                              **options}))
            _, report = _native.run(args)
        return json.loads(report)


class _calib_file:
    """A calibration argument as a path: a path is used as is; arrays are written to a
    temporary .npz (`x`, and for a particle-level model `mask` and `jet`) removed afterwards."""

    def __init__(self, calib: Calib, kind: str):
        self.calib, self.kind, self.dir = calib, kind, None

    def __enter__(self) -> str | None:
        c = self.calib
        if c is None or isinstance(c, (str, os.PathLike)):
            return None if c is None else os.fspath(c)
        self.dir = tempfile.TemporaryDirectory(prefix="bit2hls-calib-")
        path = os.path.join(self.dir.name, "calib.npz")
        if isinstance(c, Mapping):
            np.savez(path, **{k: np.asarray(v) for k, v in c.items()})
        elif self.kind == "set":
            raise Bit2hlsError("calib for a particle-level model: give a .npz path or a "
                               "mapping with x [jets, particles, features] and mask")
        else:
            np.savez(path, x=np.asarray(c, dtype=np.float32))
        return path

    def __exit__(self, *exc: Any) -> None:
        if self.dir is not None:
            self.dir.cleanup()


def run(args: Iterable[str]) -> int:
    """Runs any `bit2hls` command in this process (its arguments without the program name,
    e.g. `["csim", "out/qg_mlp"]`); returns its exit code. It prints as the program does."""
    code, _ = _native.run([os.fspath(a) for a in args])
    return code


def export(module: Any, path: PathLike, example_input: Any = None, *, name: str | None = None,
           input_type: str | None = None, sidecar: bool = True, task: Any = None) -> dict:
    """Writes a live PyTorch model to `path` (.safetensors) with its architecture and float
    semantics profile in the metadata, so that `load(path)` and every command need no flags;
    with `example_input` also the inputs and the module's outputs, so that `validate()` needs no
    data. Returns the architecture document. Raises `ExportError` (naming the module and its
    class) for anything bit2hls cannot express exactly. Needs PyTorch (imported here, not by
    `import bit2hls`); docs/python.md lists the BitLinear classes it recognises. `task`:
    "regression" or `{"kind": "regression", "period": math.pi, "target": "phi_decay"}` marks a
    regressor (schema 4; `validate` then compares values and residuals, docs/schema.md)."""
    from ._export import export as _export

    return _export(module, path, example_input, name=name, input_type=input_type,
                   sidecar=sidecar, task=task)
