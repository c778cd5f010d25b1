#!/usr/bin/env python3
"""Emulator throughput from Python against the program, side by side in one run.

    python/.venv/bin/python python/bench.py [--events 1000000] [--reps 3]

Needs the optimized builds: `cargo build --release` (target/release/bit2hls) and
`bash python/setup_env.sh` (without --dev). Per model and mode: the program's `emulate` (a
subprocess: the .npy read, emulated in chunks and written back; wall time), and `m.emulate`
on the same events already in memory (the Python call: conversion, emulation, the output
array). Events are the shipped test jets repeated to --events; particle models read
models/data/test_particles.npz. Prints a Markdown table (median of --reps, events/s) and the
ratio Python / program. Both outputs are compared bit for bit.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

import bit2hls

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "bit2hls")
CALIB = os.path.join(ROOT, "models", "data", "calib_jets.npz")
CALIB_P = os.path.join(ROOT, "models", "data", "calib_particles.npz")


def repeat(a, n):
    k = -(-n // len(a))
    return np.ascontiguousarray(np.concatenate([a] * k)[:n])


def cases(events):
    d = np.load(os.path.join(ROOT, "models", "data", "test_jets.npz"))
    yield "qg_mlp", os.path.join(ROOT, "models", "qg_mlp", "qg_mlp.safetensors"), \
        {"x": repeat(d["x"].astype(np.float32), events)}, CALIB
    p = np.load(os.path.join(ROOT, "models", "data", "test_particles.npz"))
    jets = {k: repeat(p[k], events) for k in ("x", "mask", "jet") if k in p}
    jets["x"] = jets["x"].astype(np.float32)
    if "jet" in jets:
        jets["jet"] = jets["jet"].astype(np.float32)
    yield "qg_pfn_small32", os.path.join(ROOT, "models", "qg_pfn_small32",
                                         "qg_pfn_small32.safetensors"), \
        {k: v for k, v in jets.items() if k != "jet"}, CALIB_P


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--modes", nargs="+", default=["dynamic", "static"])
    a = ap.parse_args()
    if not os.access(BIN, os.X_OK):
        sys.exit(f"{BIN} missing: run cargo build --release")
    print("| model | mode | events | program `emulate` (file to file) | `m.emulate` (arrays) | ratio |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="bit2hls-bench-") as d:
        for name, path, data, calib in cases(a.events):
            import warnings
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", bit2hls.AssumptionWarning)
                m = bit2hls.load(path)
            inp = os.path.join(d, "in.npy" if m.kind == "chain" else "in.npz")
            if m.kind == "chain":
                np.save(inp, data["x"])
            else:
                np.savez(inp, **data)
            out = os.path.join(d, "out.npy")
            for mode in a.modes:
                c = ["--calib", calib] if mode == "static" else []
                cli, py = [], []
                for _ in range(a.reps):
                    t0 = time.perf_counter()
                    subprocess.run([BIN, "emulate", path, "--input", inp, "--output", out,
                                    "--mode", mode, "--quiet", *c], check=True,
                                   stderr=subprocess.DEVNULL)
                    cli.append(time.perf_counter() - t0)
                    t0 = time.perf_counter()
                    y = m.emulate(data["x"], mode, mask=data.get("mask"),
                                  calib=calib if mode == "static" else None)
                    py.append(time.perf_counter() - t0)
                assert np.array_equal(y, np.load(out)), (name, mode)
                rc, rp = a.events / statistics.median(cli), a.events / statistics.median(py)
                print(f"| {name} | {mode} | {a.events:,} | {rc / 1e6:.2f} M/s | "
                      f"{rp / 1e6:.2f} M/s | {rp / rc:.2f} |", flush=True)


if __name__ == "__main__":
    main()
