#!/usr/bin/env python3
"""Particle-level model input from jet constituents in the EnergyFlow layout.

    python models/data/particle_features.py my_jets.npz -o my_particles.npz
    python models/data/particle_features.py my_jets.npz -o my_particles.npz --n-max 32 --float16

Input: an .npz with
  X  float [jets, particles, 4]  per constituent (pt, y, phi, pdgid), zero-padded (a slot is a
                                 real particle when pt > 0); the layout of EnergyFlow's
                                 `qg_jets` files (y = rapidity, phi = azimuth in radians,
                                 pdgid = PDG Monte Carlo id as a number)
  y  [jets]                      labels, optional (1 = quark, 0 = gluon; integer-valued)

Output (np.savez_compressed), the particle-level input that `bit2hls validate` / `emulate` read:
  x              float32 [n, n_max, 5]  per-particle features (float16 with --float16)
  mask           uint8   [n, n_max]     1 = real particle, 0 = padding (features all 0)
  y              int64   [n]            labels; -1 everywhere when the input had none
  feature_names  str     [5]            log_z, dy, dphi, charge, photon

Per jet (the function `particle_features(X, n_max)` below; models/data/make_particle_file.py
builds the committed files with the same function, so both agree bit for bit):

  * real particles: pt > 0.  The n_max highest-pT ones are kept, in decreasing pT (stable
    sort on -pt, so equal-pT particles keep their input order); the rest are dropped.
  * pT_J = sum of pt over ALL real particles given (not only the kept ones).
  * jet centre: y_c = sum(pt * y) / pT_J and phi_c = sum(pt * phi_u) / pT_J over all real
    particles, where phi_u = phi_lead + wrap(phi - phi_lead) is each particle's azimuth
    unwrapped next to the leading (highest-pT) particle's, so a jet across phi = +-pi is
    centred correctly.
  * per kept particle, in this order:
        log_z  = ln(pt / pT_J)
        dy     = y - y_c
        dphi   = wrap(phi - phi_c)
        charge = electric charge from the PDG id (CHARGE table below; an id not in it is an
                 error naming the id)
        photon = 1.0 if pdgid == 22 else 0.0
    wrap() maps to (-pi, pi] and leaves values already in that range unchanged.
  * sums run in decreasing-pT order, one particle after the other, so the result depends on
    the particles only (not on their input order, except among equal pT, nor on the padding).
  * computed in float64, stored as float32 (float16 of those float32 values with --float16).
    Padded slots are all 0 with mask 0; a jet with no real particle is all padding.

The input is refused (with the file and array named) when X is not [jets, particles, 4], y
does not have one entry per jet, any value is NaN or infinite, a pt is negative, or a PDG id is
not an integer or not in the table.
"""
import argparse
import os
import sys

import numpy as np

FEATURE_NAMES = ["log_z", "dy", "dphi", "charge", "photon"]

# Electric charge of the particle with the positive PDG id; an antiparticle (negative id) has
# the opposite charge.  The stable particles Pythia 8 leaves in these jets (default decays:
# K_S, Lambda, Sigma, Xi, Omega decay) are the first block; the second block are long-lived
# hadrons that generators configured with a lifetime cut keep stable.
CHARGE = {
    22: 0,      # photon
    11: -1,     # e-
    13: -1,     # mu-
    211: +1,    # pi+
    321: +1,    # K+
    130: 0,     # K_L
    2212: +1,   # p
    2112: 0,    # n
    # long-lived, stable only when the generator is told so
    310: 0,     # K_S
    3122: 0,    # Lambda
    3222: +1,   # Sigma+
    3112: -1,   # Sigma-
    3312: -1,   # Xi-
    3322: 0,    # Xi0
    3334: -1,   # Omega-
}
NEUTRINOS = {12, 14, 16}


def wrap(d):
    """Wrap an angle (array, float64) into (-pi, pi]; values already inside are unchanged."""
    d = np.asarray(d, dtype=np.float64)
    inside = (d > -np.pi) & (d <= np.pi)
    return np.where(inside, d, np.pi - np.mod(np.pi - d, 2.0 * np.pi))


def charge_of(pid, where=""):
    """Charges (float64) of an array of PDG ids (any numeric dtype, integer-valued)."""
    pid = np.asarray(pid)
    ip = np.rint(pid).astype(np.int64)
    if np.any(ip != pid):
        bad = pid[ip != pid].flat[0]
        raise ValueError(f"{where}PDG id {bad!r} is not an integer")
    u, inv = np.unique(ip, return_inverse=True)
    cu = np.empty(len(u), np.float64)
    for i, p in enumerate(u):
        a = abs(int(p))
        if a not in CHARGE:
            pos = np.unravel_index(np.flatnonzero(ip.ravel() == p)[0], ip.shape)
            pos = tuple(int(j) for j in pos)
            at = f"jet {pos[0]}, particle {pos[1]}" if len(pos) == 2 else f"index {pos}"
            what = " (a neutrino: invisible, not a jet constituent)" if a in NEUTRINOS else ""
            raise ValueError(f"{where}unknown PDG id {int(p)}{what} (first at {at}); "
                             f"known: {sorted(CHARGE)} and their antiparticles")
        cu[i] = CHARGE[a] if p > 0 else -CHARGE[a]
    return cu[inv.reshape(ip.shape)]


def particle_features(X, n_max=32, where=""):
    """Per-particle features of jets in the EnergyFlow layout.

    X: array [jets, particles, 4] = (pt, y, phi, pdgid), zero-padded (pt > 0 = real particle).
    Returns (x float32 [jets, n_max, 5], mask uint8 [jets, n_max]); see the module docstring
    for the definitions.  `where` prefixes error messages (e.g. "file.npz: array 'X': ").
    """
    X = np.asarray(X)
    if X.ndim != 3 or X.shape[2] != 4:
        raise ValueError(f"{where}expected shape [jets, particles, 4] = (pt, y, phi, pdgid), got {list(X.shape)}")
    if not np.issubdtype(X.dtype, np.number) or np.issubdtype(X.dtype, np.complexfloating):
        raise ValueError(f"{where}expected a real numeric array, got dtype {X.dtype}")
    if n_max < 1:
        raise ValueError(f"n_max must be >= 1, got {n_max}")
    X = X.astype(np.float64)
    bad = ~np.isfinite(X)
    if bad.any():
        j, p, c = (int(v) for v in np.argwhere(bad)[0])
        raise ValueError(f"{where}{int(bad.sum())} NaN/infinite values (first: jet {j}, particle {p}, "
                         f"column {['pt', 'y', 'phi', 'pdgid'][c]})")
    if np.any(X[:, :, 0] < 0):
        j, p = (int(v) for v in np.argwhere(X[:, :, 0] < 0)[0])
        raise ValueError(f"{where}negative pt (first: jet {j}, particle {p})")
    n_jets, n_part = X.shape[:2]
    if n_part == 0:
        return np.zeros((n_jets, n_max, 5), np.float32), np.zeros((n_jets, n_max), np.uint8)
    # charges of all real particles (input order, so an error names the input slot)
    Q = charge_of(np.where(X[:, :, 0] > 0, X[:, :, 3], 22.0), where)

    # pT order (stable on -pt): real particles first, padding (pt = 0) after
    order = np.argsort(-X[:, :, 0], axis=1, kind="stable")
    S = np.take_along_axis(X, order[:, :, None], axis=1)
    Q = np.take_along_axis(Q, order, axis=1)
    pt, y, phi, pid = S[:, :, 0], S[:, :, 1], S[:, :, 2], S[:, :, 3]
    real = pt > 0
    w = np.where(real, pt, 0.0)
    # sums run sequentially in decreasing pT (cumsum), so they do not depend on the padding
    # width or on the input order of the particles
    ptj = np.cumsum(w, axis=1)[:, -1]
    den = np.where(ptj > 0, ptj, 1.0)
    phi_u = phi[:, :1] + wrap(phi - phi[:, :1])
    yc = np.cumsum(w * np.where(real, y, 0.0), axis=1)[:, -1] / den
    phic = np.cumsum(w * np.where(real, phi_u, 0.0), axis=1)[:, -1] / den

    k = min(n_max, n_part)
    real_k = real[:, :k]
    feats = np.zeros((n_jets, k, 5), np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        feats[:, :, 0] = np.log(pt[:, :k] / den[:, None])
    feats[:, :, 1] = y[:, :k] - yc[:, None]
    feats[:, :, 2] = wrap(phi[:, :k] - phic[:, None])
    feats[:, :, 3] = Q[:, :k]
    feats[:, :, 4] = (pid[:, :k] == 22).astype(np.float64)
    feats[~real_k] = 0.0

    x = np.zeros((n_jets, n_max, 5), np.float32)
    mask = np.zeros((n_jets, n_max), np.uint8)
    x[:, :k] = feats.astype(np.float32)
    mask[:, :k] = real_k
    return x, mask


def load_energyflow(path):
    """Reads X (and y if present) from an EnergyFlow-layout .npz; refuses malformed input."""
    try:
        d = np.load(path, allow_pickle=False)
    except Exception as e:
        raise SystemExit(f"{path}: cannot read as .npz: {e}")
    if "X" not in d.files:
        raise SystemExit(f"{path}: no array 'X' (arrays: {d.files}); expected X [jets, particles, 4] "
                         f"= (pt, y, phi, pdgid)")
    X = d["X"]
    if X.ndim != 3 or X.shape[2] != 4:
        raise SystemExit(f"{path}: array 'X' has shape {list(X.shape)}; expected [jets, particles, 4] "
                         f"= (pt, y, phi, pdgid)")
    y = None
    if "y" in d.files:
        y = d["y"]
        if y.ndim != 1 or len(y) != len(X):
            raise SystemExit(f"{path}: array 'y' has shape {list(y.shape)}; expected [{len(X)}] "
                             f"(one label per jet of 'X')")
        if not np.issubdtype(y.dtype, np.number) and y.dtype != np.bool_:
            raise SystemExit(f"{path}: array 'y' has dtype {y.dtype}; expected numeric labels")
        yf = y.astype(np.float64)
        if not np.all(np.isfinite(yf)):
            raise SystemExit(f"{path}: array 'y' has {int((~np.isfinite(yf)).sum())} NaN/infinite values")
        if np.any(np.rint(yf) != yf):
            raise SystemExit(f"{path}: array 'y' has non-integer labels (e.g. {yf[np.rint(yf) != yf][0]})")
        y = yf.astype(np.int64)
    return X, y


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("input", help="EnergyFlow-layout .npz: X [jets, particles, 4] = (pt, y, phi, pdgid), y optional")
    ap.add_argument("-o", "--out", required=True, help="output .npz (x, mask, y, feature_names)")
    ap.add_argument("--n-max", type=int, default=32, help="particles kept per jet (highest pT first); default 32")
    ap.add_argument("--float16", action="store_true",
                    help="store x as float16 (of the float32 values), as the committed files do")
    a = ap.parse_args(argv)
    if a.n_max < 1:
        ap.error("--n-max must be >= 1")
    X, y = load_energyflow(a.input)
    try:
        x, mask = particle_features(X, a.n_max, where=f"{a.input}: array 'X': ")
    except ValueError as e:
        raise SystemExit(str(e))
    if y is None:
        y = np.full(len(x), -1, np.int64)
    if a.float16:
        x = x.astype(np.float16)
    np.savez_compressed(a.out, x=x, mask=mask, y=y, feature_names=np.array(FEATURE_NAMES))
    n_real = (X[:, :, 0] > 0).sum(axis=1)
    print(f"{a.input}: {len(x)} jets, {X.shape[1]} slots, mean {n_real.mean():.2f} real particles, "
          f"{int((n_real > a.n_max).sum())} jets with more than {a.n_max} (truncated)", file=sys.stderr)
    print(f"wrote {a.out}: x {x.dtype} {list(x.shape)}, mask {list(mask.shape)}, "
          f"y {'given' if (y >= 0).any() else 'absent (-1)'} ({os.path.getsize(a.out) / 1e6:.2f} MB)",
          file=sys.stderr)


if __name__ == "__main__":
    main()
