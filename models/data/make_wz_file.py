#!/usr/bin/env python3
"""Build the committed W decay-plane regression files from the generator shards (issue 13).

    python models/data/make_wz_file.py                          # the committed files
    python models/data/make_wz_file.py --shards 2 --out-dir /tmp/wz   # development

Reads data/raw/wz_seed<seed>_shard<k>.npz (generate_wz.py; default seed 11, all shards, which
must be numbered 0..K-1 without gaps), rows in shard order. Per jet, the EnergyFlow-layout array
X[jet, 128, 4] = (c_pt, c_y, c_phi, c_pid) (float32 values as float64) goes through
`wz_particle_features(X, 32)` (data/wz_features.py, the same function as its command line), and
the target is

    target = wz_target.phi_decay(q1_p4, q2_p4, axis)   in [-pi/2, pi/2)

with axis = wz_features.jet_p4(X)[:, :3], the jet axis the features are measured around (the
sum of the stored constituents' 4-momenta; it equals the FastJet jet axis except for the few
jets with more than 128 constituents, whose softest ones the shards dropped; the largest
difference is printed). Train / val / test = 60 / 15 / 25 %, by a permutation from
numpy's default_rng(SPLIT_SEED).

Writes (np.savez_compressed; feature_names = log_z, d1, d2, dr, cos2a, sin2a, charge, photon):
  * data/wz_particles.npz  all jets, in shard order
      x          float16 [n, 32, 8]  float16 of wz_particle_features' float32 values, log_z of
                                     real particles floored at LOG_Z_MIN = -15 (clip_log_z)
      mask       uint8   [n, 32]     1 = real particle
      target     float32 [n]         phi_decay around the jet axis (radians, [-pi/2, pi/2))
      split      int8    [n]         0 = train, 1 = val, 2 = test
      target_w   float32 [n]         phi_decay around the W axis (q1 + q2), for comparison
      jet_kin    float32 [n, 4]      FastJet jet (pt, eta, phi, mass), GeV
      w_kin      float32 [n, 4]      W before its decay (pt, eta, phi, mass), GeV
      kin_names  str     [4]         pt, eta, phi, mass
      dr_qmax    float32 [n]         max Delta R (y, phi) of the two quarks to the jet axis
      n_const    int16   [n]         constituent multiplicity of the whole jet
      feature_names, shards (file names), seed
  * data/test_wz.npz  the test split (split == 2), in the same order: x float16, mask uint8,
      target float32, feature_names, target_w, jet_kin, w_kin, kin_names, dr_qmax, n_const,
      index int32 (row in wz_particles.npz). No `y`: bit2hls reads `y` as integer class labels,
      and this task has none.
  * data/calib_wz.npz  the first N_CALIB = 3,000 jets of the train split (split == 0, in file
      order), for the static-mode calibration (`bit2hls --calib`) of the wz_pfn models, like
      calib_particles.npz: x float16, mask uint8, target float32, feature_names, index int32.
"""
import argparse
import glob
import os
import re
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from generate_wz import kin  # noqa: E402
from wz_features import FEATURE_NAMES, LOG_Z_MIN, clip_log_z, jet_p4, wz_particle_features  # noqa: E402
from wz_target import phi_decay, reduce_mod_pi  # noqa: E402

N_MAX = 32
SPLIT_SEED = 20261213
N_CALIB = 3000
FRACTIONS = (0.60, 0.15, 0.25)


def shard_files(raw, seed, k_shards=0):
    files = glob.glob(os.path.join(raw, f"wz_seed{seed}_shard*.npz"))
    num = sorted(int(re.search(r"shard(\d+)\.npz$", f).group(1)) for f in files)
    if not num:
        raise SystemExit(f"no shards wz_seed{seed}_shard*.npz in {raw}")
    if num != list(range(len(num))):
        raise SystemExit(f"shards of seed {seed} are not numbered 0..{len(num) - 1}: {num}")
    if k_shards:
        num = num[:k_shards]
    return [os.path.join(raw, f"wz_seed{seed}_shard{k:03d}.npz") for k in num]


KEYS = ["c_pt", "c_y", "c_phi", "c_pid", "n_const", "jet_p4", "w_p4", "q1_p4", "q2_p4",
        "dr_q1", "dr_q2", "phi_decay"]


def load(files):
    parts = {k: [] for k in KEYS}
    for f in files:
        d = np.load(f)
        for k in KEYS:
            parts[k].append(d[k])
    return {k: np.concatenate(v) for k, v in parts.items()}


def split_of(n):
    perm = np.random.default_rng(SPLIT_SEED).permutation(n)
    n_tr, n_va = int(round(FRACTIONS[0] * n)), int(round(FRACTIONS[1] * n))
    split = np.full(n, 2, np.int8)
    split[perm[:n_tr]] = 0
    split[perm[n_tr:n_tr + n_va]] = 1
    return split


def kin4(p4):
    """(pt, eta, phi, mass) float32 [n, 4] of 4-vectors [n, 4]."""
    k = kin(p4)
    return k[:, [0, 1, 3, 4]].astype(np.float32)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--raw", default=os.path.join(HERE, "raw"))
    ap.add_argument("--seed", type=int, default=11, help="generator base seed of the shards (default 11)")
    ap.add_argument("--shards", type=int, default=0, help="use only the first K shards (development; needs --out-dir)")
    ap.add_argument("--out-dir", default=None, help=f"where to write the two files (default {HERE})")
    a = ap.parse_args()
    if a.shards and a.out_dir is None:
        ap.error("--shards writes development files, not the committed ones: give --out-dir")
    out_dir = a.out_dir or HERE
    os.makedirs(out_dir, exist_ok=True)

    files = shard_files(a.raw, a.seed, a.shards)
    d = load(files)
    X = np.stack([d["c_pt"], d["c_y"], d["c_phi"], d["c_pid"]], axis=-1).astype(np.float64)
    n = len(X)
    stored = (X[:, :, 0] > 0).sum(1)
    if not np.array_equal(np.minimum(d["n_const"], X.shape[1]), stored):
        raise SystemExit("n_const disagrees with the number of stored constituents")
    J = jet_p4(X)
    fj = d["jet_p4"]
    cosang = np.sum(J[:, :3] * fj[:, :3], 1) / np.linalg.norm(J[:, :3], axis=1) / np.linalg.norm(fj[:, :3], axis=1)
    ang = np.arccos(np.clip(cosang, -1.0, 1.0))
    over = d["n_const"] > X.shape[1]
    print(f"{len(files)} shards, {n} jets; axis from the stored constituents vs the FastJet jet: "
          f"largest angle {ang[~over].max():.2e} rad for the {int((~over).sum())} jets with all "
          f"constituents stored, {ang[over].max() if over.any() else 0:.2e} rad for the "
          f"{int(over.sum())} with more than {X.shape[1]}")
    target = phi_decay(d["q1_p4"], d["q2_p4"], J[:, :3])
    dev = np.abs(reduce_mod_pi(target - d["phi_decay"]))
    print(f"target around the constituent axis vs the generator's (FastJet axis): largest "
          f"difference {dev.max():.2e} rad")
    target_w = phi_decay(d["q1_p4"], d["q2_p4"], d["w_p4"][:, :3])

    x32, mask = wz_particle_features(X, N_MAX)
    lz_min = float(x32[:, :, 0][mask == 1].min())
    n_clip = clip_log_z(x32, mask, np.float32(LOG_Z_MIN))
    print(f"log_z floor {LOG_Z_MIN:g}: {n_clip} of {int(mask.sum())} kept particles raised "
          f"(smallest log_z {lz_min:.2f})")
    x16 = x32.astype(np.float16)
    if not np.all(np.isfinite(x16)):
        raise SystemExit("float16 overflow")
    split = split_of(n)
    common = dict(
        feature_names=np.array(FEATURE_NAMES),
        kin_names=np.array(["pt", "eta", "phi", "mass"]),
    )
    per_jet = dict(
        target=target.astype(np.float32),
        target_w=target_w.astype(np.float32),
        jet_kin=kin4(fj), w_kin=kin4(d["w_p4"]),
        dr_qmax=np.maximum(d["dr_q1"], d["dr_q2"]).astype(np.float32),
        n_const=d["n_const"].astype(np.int16),
    )
    p_all = os.path.join(out_dir, "wz_particles.npz")
    p_test = os.path.join(out_dir, "test_wz.npz")
    np.savez_compressed(p_all, x=x16, mask=mask, split=split, **per_jet, **common,
                        shards=np.array([os.path.basename(f) for f in files]), seed=np.int64(a.seed))
    te = np.flatnonzero(split == 2)
    np.savez_compressed(p_test, x=x16[te], mask=mask[te], **{k: v[te] for k, v in per_jet.items()},
                        **common, index=te.astype(np.int32))
    p_calib = os.path.join(out_dir, "calib_wz.npz")
    ca = np.flatnonzero(split == 0)[:N_CALIB]
    np.savez_compressed(p_calib, x=x16[ca], mask=mask[ca], target=per_jet["target"][ca],
                        feature_names=common["feature_names"], index=ca.astype(np.int32))
    for p, rows in [(p_all, n), (p_test, len(te)), (p_calib, len(ca))]:
        print(f"wrote {p}: {rows} jets, {os.path.getsize(p) / 1e6:.2f} MB")
    print(f"split: train {int((split == 0).sum())}, val {int((split == 1).sum())}, test {len(te)}")
    kept = mask.sum(1)
    print(f"constituents: mean {d['n_const'].mean():.2f} (median {np.median(d['n_const']):.0f}, max "
          f"{d['n_const'].max()}), > {N_MAX}: {100 * (d['n_const'] > N_MAX).mean():.1f} %, real slots "
          f"kept mean {kept.mean():.2f}")
    r = mask == 1
    for j, f in enumerate(FEATURE_NAMES):
        v = x32[:, :, j][r]
        print(f"  {f:7s} min {v.min():10.4f} max {v.max():10.4f} mean {v.mean():10.4f}  "
              f"max |float16 - float32| {np.abs(x16[:, :, j][r].astype(np.float32) - v).max():.2e}")


if __name__ == "__main__":
    main()
