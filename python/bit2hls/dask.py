"""Emulation of Dask arrays, chunk by chunk, on any Dask cluster.

    import dask.array as da, bit2hls.dask
    x = da.from_zarr(...)                                  # [events, inputs]
    y = bit2hls.dask.emulate(x, "models/qg_mlp/qg_mlp.safetensors", mode="dynamic")
    y.compute()                                            # float64 [events, outputs]

The model travels to the workers as its path (workers that share the file system) or, with
`ship="bytes"`, as the file's bytes (and its sidecar architecture document), written once per
worker process to a temporary directory. Each worker process loads it once (a cache keyed by
the file's content) and emulates its chunks with bit2hls's native emulator: every chunk's
outputs are the single-process emulator's outputs of those rows, bit for bit (rows are
independent). Particle-level models take `x` [jets, N, F] and `mask` [jets, N] (and `jet`
[jets, G]) chunked alike along the jets. The emulator uses all cores of its worker
(`RAYON_NUM_THREADS` limits it, e.g. one thread per single-threaded worker process).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
from typing import Any, Mapping

import numpy as np

import bit2hls
from bit2hls._files import write_atomic

__all__ = ["emulate"]

# Per worker process: model key -> bit2hls.Model
_MODELS: dict = {}


def _ship(model: Any, ship: str) -> tuple:
    """What a task carries: ("path", path) or ("bytes", name, data, arch-or-None, digest)."""
    if isinstance(model, bit2hls.Model):
        model = model.path
    path = os.fspath(model)
    if ship == "path":
        return ("path", os.path.abspath(path))
    if ship != "bytes":
        raise bit2hls.Bit2hlsError(f"ship {ship!r}: expected 'path' or 'bytes'")
    with open(path, "rb") as fh:
        data = fh.read()
    sidecar = os.path.splitext(path)[0] + ".json"
    arch = open(sidecar, "rb").read() if os.path.isfile(sidecar) else None
    digest = hashlib.sha256(data + (arch or b"")).hexdigest()
    return ("bytes", os.path.basename(path), data, arch, digest)


def _model(shipped: tuple) -> "bit2hls.Model":
    key = shipped[1] if shipped[0] == "path" else shipped[4]
    m = _MODELS.get(key)
    if m is None:
        if shipped[0] == "path":
            path = shipped[1]
        else:
            _, name, data, arch, digest = shipped
            d = os.path.join(tempfile.gettempdir(), f"bit2hls-model-{digest[:16]}")
            os.makedirs(d, exist_ok=True)
            path = os.path.join(d, name)
            if arch is not None:
                write_atomic(os.path.splitext(path)[0] + ".json", arch)
            write_atomic(path, data)
        with warnings.catch_warnings():
            # the client saw every assumption when it called `emulate`
            warnings.simplefilter("ignore", bit2hls.AssumptionWarning)
            m = _MODELS[key] = bit2hls.load(path)
    return m


def _block(shipped, mode, calib, raw, x, mask=None, jet=None):
    m = _model(shipped)
    if m.kind == "set":
        return m.emulate(x, mode, mask=mask, jet=jet, calib=calib, raw=raw)
    return m.emulate(x, mode, calib=calib, raw=raw)


def emulate(x, model: Any, mode: str = "dynamic", *, mask=None, jet=None,
            calib: str | Mapping[str, Any] | np.ndarray | None = None, raw: bool = False,
            ship: str = "path"):
    """The firmware's outputs of the Dask array `x` (as `bit2hls.Model.emulate`), a Dask array
    [events, outputs] of float64 (int64 codes with `raw`) chunked like `x` along the events.
    `model`: a path or a `bit2hls.Model`; `ship`: "path" (workers read the file) or "bytes"
    (the file travels with the tasks). `calib` (static mode): a .npz path readable by the
    workers, or the calibration arrays (they travel with the tasks)."""
    import dask.array as da

    m = model if isinstance(model, bit2hls.Model) else bit2hls.load(model)  # checks it here
    shipped = _ship(model, ship)
    if isinstance(calib, np.ndarray):
        calib = {"x": calib}  # a plain argument of every task, not a Dask operand
    x = da.asarray(x)
    if m.kind == "chain":
        if x.ndim != 2 or x.shape[1] != m.n_inputs:
            raise bit2hls.Bit2hlsError(f"x has shape {list(x.shape)}: expected [events, "
                                       f"{m.n_inputs}]")
        x = x.rechunk({1: -1})
        return da.map_blocks(_block, shipped, mode, calib, raw, x,
                             chunks=(x.chunks[0], (m.n_outputs,)), meta=_meta(m, raw))
    n, f = m.particles, m.n_inputs
    if x.ndim != 3 or x.shape[1:] != (n, f):
        raise bit2hls.Bit2hlsError(f"x has shape {list(x.shape)}: expected [jets, {n}, {f}]")
    if mask is None:
        raise bit2hls.Bit2hlsError(f"'{m.name}' is a particle-level model: give mask "
                                   f"[jets, {n}]")
    x = x.rechunk({1: -1, 2: -1})
    mask = da.asarray(mask).rechunk((x.chunks[0], -1))
    args = [x.reshape(x.shape[0], n * f), mask]
    if jet is not None:
        args.append(da.asarray(jet).rechunk((x.chunks[0], -1)))
    return da.map_blocks(_block, shipped, mode, calib, raw, *args,
                         chunks=(x.chunks[0], (m.n_outputs,)), meta=_meta(m, raw))


def _meta(m: "bit2hls.Model", raw: bool) -> np.ndarray:
    """The output's type for Dask (so that it never calls the emulator on empty inputs)."""
    return np.empty((0, m.n_outputs), dtype=np.int64 if raw else np.float64)
