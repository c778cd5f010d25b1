#!/usr/bin/env python3
"""Add the per-jet inputs (`jet`, `jet_names`) to the committed particle-level test/calib files.

    models/.venv/bin/python models/data/add_jet_inputs.py          # idempotent

Particle-level models with per-jet inputs (training/pfn.py: PFN with n_jet = 16, f's input =
[pooled, jet]) read, besides `x` and `mask`, the 16 standardized jet observables of each jet:

  * data/test_particles.npz   jet = x of data/test_jets.npz (row k is the same jet)
  * data/calib_particles.npz  jet = the first n rows of x of data/calib_jets.npz (row k of
                              calib_particles is row k of calib_jets: its first 2,000 jets)

    jet        float32 [n, 16]   ((X.astype(float32) - mean) / std) in float32, X, mean, std of
                                 data/qg_features.npz (make_training_file.standardize)
    jet_names  str     [16]      feature_names of qg_features.npz / test_jets.npz

Before writing, the script checks bit for bit that `jet_inputs()` applied to the qg_features.npz
rows of those jets (test: split == 2 in file order; calib: the first n rows of split == 0)
reproduces the x of test_jets.npz / calib_jets.npz, and that the labels agree.  The file is
rewritten (np.savez_compressed) with every existing key unchanged (checked bit for bit after
writing) followed by the two new keys; a file that already holds the right `jet` and
`jet_names` is left untouched.  qg_particles.npz (train + val) is not changed: its `index` key
gives each row's qg_features.npz row, so `jet_inputs(features, index)` gives its jet inputs.

make_particle_file.py writes the same two keys with `jet_inputs()` when it builds the files.
"""
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_training_file as mtf  # noqa: E402

JET_KEYS = ("jet", "jet_names")


def jet_inputs(features, rows):
    """Standardized jet observables float32 [len(rows), 16] of the rows `rows` (indices or a
    boolean mask) of qg_features.npz (`features`: a mapping with X, mean, std), exactly as
    make_training_file.py standardizes them for test_jets.npz."""
    return mtf.standardize(np.asarray(features["X"])[rows], features["mean"], features["std"])


def jet_names(features):
    """The 16 feature names (str array, as in qg_features.npz / test_jets.npz)."""
    return np.asarray(features["feature_names"])


def bitwise_equal(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def add_keys(path, jet, names):
    """Rewrite `path` with its keys unchanged plus `jet`, `jet_names`; returns True when the
    file was written, False when it already held exactly these arrays."""
    with np.load(path) as d:
        old = {k: d[k] for k in d.files}
    if len(jet) != len(old["x"]):
        raise SystemExit(f"{path}: {len(old['x'])} jets but {len(jet)} jet-input rows")
    if all(k in old for k in JET_KEYS) and bitwise_equal(old["jet"], jet) \
            and bitwise_equal(old["jet_names"], names):
        return False
    keep = {k: v for k, v in old.items() if k not in JET_KEYS}
    np.savez_compressed(path, **keep, jet=jet, jet_names=names)
    with np.load(path) as d:
        if list(d.files) != list(keep) + list(JET_KEYS):
            raise SystemExit(f"{path}: keys after writing {d.files}")
        for k, v in keep.items():
            if not bitwise_equal(d[k], v):
                raise SystemExit(f"{path}: key {k} changed on rewriting")
        if not (bitwise_equal(d["jet"], jet) and bitwise_equal(d["jet_names"], names)):
            raise SystemExit(f"{path}: jet / jet_names not written as given")
    return True


def main():
    feats = np.load(os.path.join(HERE, "qg_features.npz"))
    test_jets = np.load(os.path.join(HERE, "test_jets.npz"))
    calib_jets = np.load(os.path.join(HERE, "calib_jets.npz"))
    split, y = feats["split"], feats["y"]
    names = jet_names(feats)
    if not bitwise_equal(names, test_jets["feature_names"]):
        raise SystemExit("qg_features.npz and test_jets.npz have different feature names")

    for kind, ref in (("test", test_jets), ("calib", calib_jets)):
        path = os.path.join(HERE, f"{kind}_particles.npz")
        with np.load(path) as d:
            n, yp = len(d["x"]), d["y"]
        rows = np.flatnonzero(split == 2) if kind == "test" else np.flatnonzero(split == 0)[:n]
        if len(rows) != n or len(ref["x"]) < n:
            raise SystemExit(f"{path}: {n} jets, but {len(rows)} {kind} rows in qg_features.npz "
                             f"and {len(ref['x'])} in the jet-level file")
        jet = np.ascontiguousarray(ref["x"][:n])
        if not bitwise_equal(jet_inputs(feats, rows), jet):
            raise SystemExit(f"{kind}: standardized qg_features.npz rows != x of the jet-level file")
        if not (np.array_equal(y[rows].astype(np.int64), yp)
                and np.array_equal(ref["y"][:n].astype(np.int64), yp)):
            raise SystemExit(f"{path}: labels differ from qg_features.npz / the jet-level file")
        wrote = add_keys(path, jet, names)
        print(f"{path}: jet float32 {list(jet.shape)} = {'x' if kind == 'test' else f'x[:{n}]'} of "
              f"{kind}_jets.npz (= standardized qg_features.npz rows, bit for bit), jet_names: "
              f"{'written' if wrote else 'already present, file unchanged'}")


if __name__ == "__main__":
    main()
