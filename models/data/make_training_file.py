#!/usr/bin/env python3
"""Merge generator shards (data/raw/*.npz) into the committed training file and test set.

    python data/make_training_file.py                 # reads data/raw/, writes the two files

Writes
  * data/qg_features.npz  (compressed):
      X             float32 [n, 16]  jet features (FEATURES below; log-transformed where noted)
      y             int8    [n]      1 = quark, 0 = gluon
      split         int8    [n]      0 = train, 1 = val, 2 = test
      feature_names str     [16]
      mean, std     float32 [16]     standardization, computed on the train split in float64,
                                     then rounded to float32
      shards        str     [k]      the shard files used (provenance)
  * data/test_jets.npz  (compressed; the firmware test set, shared by all models):
      x  float32 [n_test, 16]  standardized test features: ((X - mean) / std) in float32
      y  int64   [n_test]      labels (1 = quark)
      mean, std, feature_names as above

Classes are balanced by truncating the larger class (in shard order), then the jets are
shuffled with numpy's default_rng(SPLIT_SEED) and split 60 / 15 / 25 % (test >= 20,000 when
there are >= 80,000 jets).  Standardization used by every model (and by bit2hls validate):

    x = (X.astype(float32) - mean) / std      (all float32, numpy elementwise)
"""
import argparse
import glob
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SPLIT_SEED = 20261122

RAW_FEATURES = [
    "jet_pt", "jet_eta", "jet_mass", "n_const", "n_charged", "girth", "ptd", "lha",
    "lambda_1_2", "lead_frac", "e2", "c2", "d2", "charged_frac", "axis_major", "axis_minor",
]
# Heavy-tailed observables enter as logs, so that standardized inputs have no huge outliers
# (one outlier feature would set the per-sample absmax of the first BitLinear layer).
LOG_FEATURES = {"lambda_1_2", "e2", "d2", "axis_major", "axis_minor"}
FEATURES = [("log_" + f if f in LOG_FEATURES else f) for f in RAW_FEATURES]
LOG_FLOOR = 1e-6


def transform(raw):
    x = raw.astype(np.float64).copy()
    for i, f in enumerate(RAW_FEATURES):
        if f in LOG_FEATURES:
            x[:, i] = np.log(np.maximum(x[:, i], LOG_FLOOR))
    return x.astype(np.float32)


def standardize(X, mean, std):
    return ((X.astype(np.float32) - mean.astype(np.float32)) / std.astype(np.float32)).astype(np.float32)


def load_shards(raw_dir):
    files = sorted(glob.glob(os.path.join(raw_dir, "*_seed*_shard*.npz")))
    files = [f for f in files if not f.endswith(".tmp.npz")]
    feats = {0: [], 1: []}
    used = {0: [], 1: []}
    for f in files:
        d = np.load(f)
        names = [str(s) for s in d["feature_names"]]
        if names != RAW_FEATURES:
            raise SystemExit(f"{f}: unexpected feature names {names}")
        lab = int(d["label"][0])
        feats[lab].append(d["features"])
        used[lab].append((os.path.basename(f), len(d["features"])))
    return feats, used


def used_shards(used, n_cls):
    """Shards (in load order) that contribute to the first n_cls jets of a class."""
    out, tot = [], 0
    for name, n in used:
        if tot >= n_cls:
            break
        out.append(name if tot + n <= n_cls else f"{name}[:{n_cls - tot}]")
        tot += n
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--raw", default=os.path.join(HERE, "raw"))
    ap.add_argument("--out", default=os.path.join(HERE, "qg_features.npz"))
    ap.add_argument("--test-out", default=os.path.join(HERE, "test_jets.npz"))
    ap.add_argument("--max-per-class", type=int, default=0, help="0 = all")
    a = ap.parse_args()

    feats, used = load_shards(a.raw)
    if not feats[0] or not feats[1]:
        raise SystemExit(f"need quark and gluon shards in {a.raw}")
    q = np.concatenate(feats[1])
    g = np.concatenate(feats[0])
    n_cls = min(len(q), len(g))
    if a.max_per_class:
        n_cls = min(n_cls, a.max_per_class)
    q, g = q[:n_cls], g[:n_cls]
    raw = np.concatenate([q, g])
    y = np.concatenate([np.ones(n_cls, np.int8), np.zeros(n_cls, np.int8)])
    X = transform(raw)
    if not np.all(np.isfinite(X)):
        raise SystemExit("non-finite feature values")
    rng = np.random.default_rng(SPLIT_SEED)
    perm = rng.permutation(len(y))
    X, y = X[perm], y[perm]
    n = len(y)
    n_test = max(n // 4, min(20000, n // 2))
    n_val = int(round(0.15 * n))
    split = np.zeros(n, np.int8)
    split[n - n_test:] = 2
    split[n - n_test - n_val:n - n_test] = 1
    tr = split == 0
    mean = X[tr].astype(np.float64).mean(0).astype(np.float32)
    std = X[tr].astype(np.float64).std(0).astype(np.float32)
    shards = np.array(used_shards(used[1], n_cls) + used_shards(used[0], n_cls))
    np.savez_compressed(a.out, X=X, y=y, split=split, feature_names=np.array(FEATURES),
                        mean=mean, std=std, shards=shards)
    te = split == 2
    np.savez_compressed(a.test_out, x=standardize(X[te], mean, std), y=y[te].astype(np.int64),
                        mean=mean, std=std, feature_names=np.array(FEATURES))
    print(f"{n} jets ({n_cls} quark + {n_cls} gluon) from {len(shards)} shards: "
          f"train {int(tr.sum())}, val {int((split == 1).sum())}, test {int(te.sum())}")
    print(f"wrote {a.out} ({os.path.getsize(a.out) / 1e6:.1f} MB) and {a.test_out} "
          f"({os.path.getsize(a.test_out) / 1e6:.1f} MB)")
    for f, m, s in zip(FEATURES, mean, std):
        print(f"  {f:16s} mean {m:12.6g}  std {s:12.6g}")


if __name__ == "__main__":
    main()
