#!/usr/bin/env python3
"""Build the committed particle-level files from the generator shards (data/raw/).

    python models/data/make_particle_file.py                  # all shards: the committed files
    python models/data/make_particle_file.py --shards 2 --out-dir /tmp/pf   # development

The jets, their order and their train/val/test split are those of data/qg_features.npz: the
jet order comes from running make_training_file.py's own code (its `main()`, on the same
shards, writing to a temporary directory) with every jet tagged by its position in its class,
so loading, class balancing, shuffling (SPLIT_SEED) and the split sizes are not re-implemented
here.  With all shards (the default) the script then checks, bit for bit, that this run
reproduces the committed data/qg_features.npz (X, y, split, mean, std, feature_names, shards)
and data/test_jets.npz, and that each tagged jet's own 16 features (make_training_file.transform
of the shard's `features`) are its row of X; it stops and prints what differs otherwise.

Per jet, the EnergyFlow-layout array X[jet, 64, 4] = (c_pt, c_y, c_phi, c_pid) of the shard
(float32 values, as float64) goes through `particle_features(X, 32)` of particle_features.py, the
same function as the user command, so `particle_features.py` run on those X gives the same x
bit for bit.  The shards hold at most the 64 highest-pT constituents (about a quarter of gluon
jets have more), so pT_J and the jet centre are sums over those 64.

Writes (np.savez_compressed; feature_names = log_z, dy, dphi, charge, photon):
  * data/qg_particles.npz   train + val jets (split 0/1 of qg_features.npz, in its order)
      x        float16 [n, 32, 5]   float16 of particle_features' float32 values
      mask     uint8   [n, 32]      1 = real particle
      y        int8    [n]          1 = quark, 0 = gluon
      split    int8    [n]          0 = train, 1 = val
      index    int32   [n]          row in qg_features.npz
      n_const  int16   [n]          constituent multiplicity of the whole jet (the generator's
                                    n_const feature, before any truncation; can exceed 64)
      feature_names
  * data/test_particles.npz  the test split (split == 2), in qg_features.npz order: row k is the
      same jet as row k of data/test_jets.npz (checked: the rows' index into qg_features.npz,
      standardized with its mean/std, give test_jets.npz's x bit for bit, and the labels match)
      x float16 [n_test, 32, 5], mask uint8 [n_test, 32], y int64 [n_test], feature_names,
      jet float32 [n_test, 16] (the per-jet inputs of models with jet features: the jet's
      standardized qg_features.npz row, add_jet_inputs.jet_inputs, = test_jets.npz's x),
      jet_names str [16] (qg_features.npz's feature_names)
  * data/calib_particles.npz  the first 2,000 train jets (the first 2,000 rows of
      data/calib_jets.npz, checked the same way), same keys as test_particles.npz, for the
      static-mode calibration (`bit2hls --calib`).
  (add_jet_inputs.py adds jet / jet_names to existing files without the shards; qg_particles.npz
  has no jet key: its `index` gives the rows of qg_features.npz, jet_inputs(features, index).)

A model with N = 16 particles takes the first 16 slots (the 16 highest-pT particles; the
features are relative to the whole jet, so they do not change); no separate 16-particle files.
"""
import argparse
import contextlib
import io
import os
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_training_file as mtf  # noqa: E402
from add_jet_inputs import jet_inputs  # noqa: E402
from particle_features import FEATURE_NAMES, charge_of, particle_features  # noqa: E402

N_MAX = 32
N_CALIB = 2000
NPAD = 64


def training_file_order(raw_dir, k_shards=0):
    """Runs make_training_file.main() on raw_dir with each jet tagged by its index in its class.

    Returns dict(X, y, split, mean, std, shards, feature_names, test_x, test_y) as written by
    main(), plus `cls_index` (int64 [n]: the jet's position in its class's concatenated shards)
    and `used` ({label: [(file, n_jets), ...]} in load order, as load_shards returned it).
    k_shards > 0 keeps only the first k shards of each class.
    """
    real_load = mtf.load_shards
    seen = {}

    def tagged_load(rd):
        feats, used = real_load(rd)
        if k_shards:
            feats = {c: v[:k_shards] for c, v in feats.items()}
            used = {c: v[:k_shards] for c, v in used.items()}
        seen["used"] = used
        tagged = {}
        for c, parts in feats.items():
            out, off = [], 0
            for f in parts:
                tag = np.arange(off, off + len(f), dtype=np.float32)[:, None]
                out.append(np.concatenate([f, tag], axis=1))
                off += len(f)
            if off >= 2 ** 24:
                raise SystemExit("too many jets for a float32 tag")
            tagged[c] = out
        return tagged, used

    with tempfile.TemporaryDirectory() as tmp:
        out, test_out = os.path.join(tmp, "qg_features.npz"), os.path.join(tmp, "test_jets.npz")
        argv, buf = sys.argv, io.StringIO()
        sys.argv = ["make_training_file.py", "--raw", raw_dir, "--out", out, "--test-out", test_out]
        mtf.load_shards = tagged_load
        try:
            with contextlib.redirect_stdout(buf):
                mtf.main()
        finally:
            mtf.load_shards = real_load
            sys.argv = argv
        print("make_training_file: " + buf.getvalue().splitlines()[0])
        d, t = np.load(out), np.load(test_out)
        n_feat = len(mtf.FEATURES)
        X = d["X"]
        if X.shape[1] != n_feat + 1:
            raise SystemExit(f"make_training_file wrote X with {X.shape[1]} columns, expected {n_feat} + tag")
        tag = X[:, n_feat]
        res = dict(X=np.ascontiguousarray(X[:, :n_feat]), y=d["y"], split=d["split"],
                   mean=d["mean"][:n_feat], std=d["std"][:n_feat], shards=d["shards"],
                   feature_names=d["feature_names"],
                   test_x=np.ascontiguousarray(t["x"][:, :n_feat]), test_y=t["y"],
                   test_mean=t["mean"][:n_feat], test_std=t["std"][:n_feat],
                   test_feature_names=t["feature_names"])
    cls_index = tag.astype(np.int64)
    if not np.array_equal(cls_index.astype(np.float32), tag):
        raise SystemExit("jet tags did not survive make_training_file unchanged")
    res["cls_index"] = cls_index
    res["used"] = seen["used"]
    return res


def load_constituents(raw_dir, used):
    """Per class, the shards in `used` order: EnergyFlow X [n, 64, 4] float64, c_charge, features."""
    out = {}
    for c, files in used.items():
        Xs, chg, feats = [], [], []
        for name, n in files:
            d = np.load(os.path.join(raw_dir, name))
            if int(d["label"][0]) != c or len(d["c_pt"]) != n:
                raise SystemExit(f"{name}: label/size changed since make_training_file read it")
            Xs.append(np.stack([d["c_pt"], d["c_y"], d["c_phi"], d["c_pid"]], axis=-1).astype(np.float64))
            chg.append(d["c_charge"])
            feats.append(d["features"])
        out[c] = (np.concatenate(Xs), np.concatenate(chg), np.concatenate(feats))
    return out


def bitwise_equal(a, b):
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind in "fc":
        return a.tobytes() == b.tobytes()
    return np.array_equal(a, b)


def compare_committed(run, committed, test_committed):
    """Bit-for-bit comparison with the committed files; returns a list of differences."""
    diffs = []
    for k in ["X", "y", "split", "mean", "std", "feature_names", "shards"]:
        if not bitwise_equal(run[k], committed[k]):
            a, b = run[k], committed[k]
            msg = f"qg_features.npz {k}: run {a.dtype} {list(a.shape)} vs committed {b.dtype} {list(b.shape)}"
            if a.shape == b.shape and a.dtype.kind == "f":
                rows = np.flatnonzero((a.reshape(len(a), -1).view(np.uint8) != b.reshape(len(b), -1).view(np.uint8)).any(1))
                msg += f"; {len(rows)} rows differ, first {rows[:10].tolist()}"
                if k == "X" and len(rows):
                    cols = np.flatnonzero((a[rows] != b[rows]).any(0))
                    msg += f", columns {[str(committed['feature_names'][j]) for j in cols]}"
                    r = rows[0]
                    msg += f"; row {r}: run {a[r].tolist()} committed {b[r].tolist()}"
            elif a.shape == b.shape:
                msg += f"; {int((a != b).sum())} entries differ"
            diffs.append(msg)
    for k, tk in [("test_x", "x"), ("test_y", "y"), ("test_mean", "mean"), ("test_std", "std"),
                  ("test_feature_names", "feature_names")]:
        if not bitwise_equal(run[k], test_committed[tk]):
            diffs.append(f"test_jets.npz {tk} differs")
    return diffs


def stats(name, y, n_const, mask):
    lines = []
    for c, cname in [(1, "quark"), (0, "gluon")]:
        s = y == c
        nc, kept = n_const[s], mask[s].sum(1)
        lines.append(f"  {name} {cname}: {int(s.sum())} jets, constituents mean {nc.mean():.2f} "
                     f"(median {np.median(nc):.0f}, max {nc.max()}), > {N_MAX}: {100 * (nc > N_MAX).mean():.1f} %, "
                     f"> {NPAD}: {100 * (nc > NPAD).mean():.1f} %, real slots kept mean {kept.mean():.2f}")
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--raw", default=os.path.join(HERE, "raw"))
    ap.add_argument("--shards", type=int, default=0,
                    help="use only the first K shards of each sample (development; needs --out-dir, "
                         "no comparison with the committed qg_features.npz)")
    ap.add_argument("--out-dir", default=None, help=f"where to write the three files (default {HERE})")
    a = ap.parse_args()
    if a.shards and a.out_dir is None:
        ap.error("--shards writes development files, not the committed ones: give --out-dir")
    out_dir = a.out_dir or HERE
    os.makedirs(out_dir, exist_ok=True)

    run = training_file_order(a.raw, a.shards)
    y, split, cls_index = run["y"], run["split"], run["cls_index"]
    if not a.shards:
        diffs = compare_committed(run, np.load(os.path.join(HERE, "qg_features.npz")),
                                  np.load(os.path.join(HERE, "test_jets.npz")))
        if diffs:
            print("The shards do NOT reproduce the committed files:\n  " + "\n  ".join(diffs))
            raise SystemExit(1)
        print("check: X, y, split, mean, std, feature_names, shards of qg_features.npz and x, y, mean, "
              "std of test_jets.npz reproduced bit for bit from the shards")

    cons = load_constituents(a.raw, run["used"])
    n = len(y)
    X = np.zeros((n, NPAD, 4), np.float64)
    feats = np.zeros((n, len(mtf.RAW_FEATURES)), np.float32)
    chg = np.zeros((n, NPAD), np.int8)
    for c in (0, 1):
        rows = np.flatnonzero(y == c)
        Xc, cc, fc = cons[c]
        X[rows], chg[rows], feats[rows] = Xc[cls_index[rows]], cc[cls_index[rows]], fc[cls_index[rows]]
    # the tagged jet's own features are its row of X (the mapping is right)
    if not bitwise_equal(mtf.transform(feats), run["X"]):
        raise SystemExit("jet mapping: transform(shard features) != X of the make_training_file run")
    n_const = feats[:, mtf.RAW_FEATURES.index("n_const")]
    if not np.array_equal(np.minimum(n_const, NPAD), (X[:, :, 0] > 0).sum(1)):
        raise SystemExit("n_const feature disagrees with the number of stored constituents")
    n_const = n_const.astype(np.int16)
    real = X[:, :, 0] > 0
    if not np.array_equal(charge_of(np.where(real, X[:, :, 3], 22.0)), np.where(real, chg, 0)):
        raise SystemExit("CHARGE table disagrees with the generator's c_charge (Pythia's charges)")
    print(f"check: row -> shard jet mapping (features bit for bit), n_const vs stored constituents, "
          f"charge table vs Pythia's c_charge: all agree ({n} jets)")

    x32, mask = particle_features(X, N_MAX)
    x16 = x32.astype(np.float16)
    if not np.all(np.isfinite(x16)):
        raise SystemExit("float16 overflow")
    names = np.array(FEATURE_NAMES)

    trval = np.flatnonzero(split < 2)
    test = np.flatnonzero(split == 2)
    calib = np.flatnonzero(split == 0)[:N_CALIB]
    # test/calib rows are the jets of test_jets.npz / calib_jets.npz, row for row
    std_test = mtf.standardize(run["X"][test], run["mean"], run["std"])
    if not (bitwise_equal(std_test, run["test_x"]) and np.array_equal(y[test].astype(np.int64), run["test_y"])):
        raise SystemExit("test rows do not match test_jets.npz")
    calib_file = os.path.join(HERE, "calib_jets.npz")
    if not a.shards and os.path.exists(calib_file):
        cj = np.load(calib_file)
        xc = ((run["X"][calib] - run["mean"]) / run["std"]).astype(np.float32)
        if not (bitwise_equal(xc, cj["x"][:N_CALIB]) and np.array_equal(y[calib].astype(np.int64), cj["y"][:N_CALIB])):
            raise SystemExit("calib rows do not match the first rows of calib_jets.npz")
        print(f"check: test_particles row k = test_jets.npz row k ({len(test)} jets), calib_particles row k = "
              f"calib_jets.npz row k ({N_CALIB} jets), via index into qg_features.npz")

    paths = {k: os.path.join(out_dir, f"{k}_particles.npz") for k in ("qg", "test", "calib")}
    np.savez_compressed(paths["qg"], x=x16[trval], mask=mask[trval], y=y[trval].astype(np.int8),
                        split=split[trval].astype(np.int8), index=trval.astype(np.int32),
                        feature_names=names, n_const=n_const[trval])
    # per-jet inputs of models with jet features: the standardized rows of qg_features.npz
    # (the same function as add_jet_inputs.py; for test rows = test_jets.npz's x, checked above)
    jet_names = np.asarray(run["feature_names"])
    np.savez_compressed(paths["test"], x=x16[test], mask=mask[test], y=y[test].astype(np.int64),
                        feature_names=names, jet=jet_inputs(run, test), jet_names=jet_names)
    np.savez_compressed(paths["calib"], x=x16[calib], mask=mask[calib], y=y[calib].astype(np.int64),
                        feature_names=names, jet=jet_inputs(run, calib), jet_names=jet_names)

    total = 0
    for k, rows in [("qg", trval), ("test", test), ("calib", calib)]:
        sz = os.path.getsize(paths[k])
        total += sz
        print(f"wrote {paths[k]}: {len(rows)} jets ({int(y[rows].sum())} quark), {sz / 1e6:.2f} MB")
    print(f"total {total / 1e6:.2f} MB")
    for line in stats("all", y, n_const, mask):
        print(line)
    for f, j in zip(FEATURE_NAMES, range(5)):
        v = x32[:, :, j][mask == 1]
        print(f"  {f:7s} min {v.min():10.4f} max {v.max():10.4f} mean {v.mean():10.4f}  "
              f"max |float16 - float32| {np.abs(x16[:, :, j][mask == 1].astype(np.float32) - v).max():.2e}")


if __name__ == "__main__":
    main()
