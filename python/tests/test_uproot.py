"""python/examples/uproot_emulate.py on real ROOT files written here with uproot: the
firmware outputs it writes equal `m.emulate` on the same jets, in one process and with one
Dask task per file on a LocalCluster of 2 workers."""

import os
import sys
import warnings

import numpy as np
import pytest

import bit2hls

uproot = pytest.importorskip("uproot")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "python", "examples"))
import uproot_emulate  # noqa: E402

QG_MLP = os.path.join(ROOT, "models", "qg_mlp", "qg_mlp.safetensors")


@pytest.mark.parametrize("workers", [0, 2])
def test_root_files_through_the_example(tmp_path, workers):
    x = np.load(os.path.join(ROOT, "models", "data", "test_jets.npz"))["x"][:20000]
    names = uproot_emulate.default_branches(QG_MLP)
    assert len(names) == x.shape[1]
    files = []
    for k, part in enumerate(np.array_split(x, 2)):
        path = str(tmp_path / f"jets{k}.root")
        with uproot.recreate(path) as f:
            f["jets"] = {n: part[:, i] for i, n in enumerate(names)}
        files.append(path)
    argv = files + ["--step", "3000"] + (["--dask", str(workers)] if workers else [])
    assert uproot_emulate.main(argv) == 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bit2hls.AssumptionWarning)
        m = bit2hls.load(QG_MLP)
    got = np.concatenate([np.load(os.path.splitext(p)[0] + ".bit2hls.npy") for p in files])
    assert np.array_equal(got, m.emulate(x, "dynamic"))
