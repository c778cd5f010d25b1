#!/usr/bin/env python3
"""The firmware of a jet tagger on jets read from ROOT files: uproot -> NumPy -> bit2hls, in
steps that fit in memory, optionally one Dask task per file.

    python/.venv/bin/python python/examples/uproot_emulate.py FILE.root [FILE.root ...]
        [--tree jets] [--model models/qg_mlp/qg_mlp.safetensors] [--mode dynamic] [--dask N]

The tree holds one entry per jet and one float branch per model input, in the model's input
units (for `qg_mlp`: the 16 standardized jet observables of models/data/test_jets.npz, named by
models/data/qg_features.npz `feature_names`; give --branches for other names). Writes `<file>.bit2hls.npy` (float64 [jets, outputs]) next to
each input and prints the jets/s.

Inside a coffea processor the same two calls do the work:

    class Tagger(processor.ProcessorABC):
        def __init__(self, model_path):
            self.model_path = model_path          # loaded once per worker, below
        def process(self, events):
            m = tagger(self.model_path)          # functools.lru_cache(bit2hls.load)
            x = np.stack([ak.to_numpy(events.Jet[b]) for b in BRANCHES], axis=1)
            y = m.emulate(x, mode="static", calib=CALIB)   # the firmware's outputs
            return {"firmware_score": y[:, 1]}

(`events.Jet[b]` flattened to one row per jet with `ak.flatten` when the tree holds jet
collections.) python/tests/test_uproot.py runs this script on a ROOT file it writes with uproot.
"""
import argparse
import os
import sys
import time
import warnings

import numpy as np
import uproot

import bit2hls

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def default_branches(model_path):
    names = np.load(os.path.join(ROOT, "models", "data", "qg_features.npz"))["feature_names"]
    return [str(n) for n in names]


def emulate_file(path, tree, branches, model_path, mode, calib, step):
    """Emulates every jet of `path` in steps of `step` jets; writes and returns the outputs."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bit2hls.AssumptionWarning)
        m = bit2hls.load(model_path)
    out = []
    with uproot.open(path) as f:
        for arrays in f[tree].iterate(branches, step_size=step, library="np"):
            x = np.stack([arrays[b] for b in branches], axis=1)
            out.append(m.emulate(x, mode, calib=calib))
    y = np.concatenate(out) if out else np.empty((0, m.n_outputs))
    np.save(os.path.splitext(path)[0] + ".bit2hls.npy", y)
    return len(y)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+")
    ap.add_argument("--tree", default="jets")
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "qg_mlp",
                                                    "qg_mlp.safetensors"))
    ap.add_argument("--branches", nargs="+", help="input branches in the model's order")
    ap.add_argument("--mode", default="dynamic", choices=bit2hls.MODES)
    ap.add_argument("--calib", help="calibration .npz (static mode)")
    ap.add_argument("--step", type=int, default=1_000_000, help="jets per step")
    ap.add_argument("--dask", type=int, default=0, metavar="N",
                    help="one task per file on a LocalCluster of N worker processes")
    a = ap.parse_args(argv)
    branches = a.branches or default_branches(a.model)
    args = (a.tree, branches, a.model, a.mode, a.calib, a.step)
    t0 = time.perf_counter()
    if a.dask:
        import dask
        import distributed
        with distributed.LocalCluster(n_workers=a.dask, threads_per_worker=1,
                                      dashboard_address=None) as cluster, \
                distributed.Client(cluster):
            jets = sum(dask.compute(*[dask.delayed(emulate_file)(p, *args) for p in a.files]))
    else:
        jets = sum(emulate_file(p, *args) for p in a.files)
    dt = time.perf_counter() - t0
    print(f"{jets} jets from {len(a.files)} file(s) in {dt:.2f} s ({jets / dt:,.0f} jets/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
