#!/usr/bin/env python3
"""Particle-level model input from jet constituents in the EnergyFlow layout.

    python models/data/particle_features.py my_jets.npz -o my_particles.npz
    python models/data/particle_features.py my_jets.npz -o my_particles.npz --n-max 32 --float16
    python models/data/particle_features.py my_jets.npz -o my_particles.npz --jet-features

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
with --jet-features also (for models with per-jet inputs, e.g. `train_pfn.py --jet all`):
  jet            float32 [n, 16]        the 16 standardized jet observables (below)
  jet_names      str     [16]           their names (qg_features.npz's feature_names)

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

Jet observables (--jet-features; the function `jet_features(X, mean, std)` below): per jet,
from ALL its real particles (not only the n_max kept), with the generator's own function
(models/data/generate.py `observables`, called as generate.py calls it):

  * constituents in decreasing pT (stable sort on -pt), charge from the CHARGE table;
  * the jet 4-vector is the sum of the constituents' 4-vectors (FastJet's E-scheme jet):
    px = pt cos(phi), py = pt sin(phi), pz = mT sinh(y), E = mT cosh(y), mT = sqrt(pt^2 + m^2),
    with m the particle's mass from its PDG id (MASS table: Pythia 8's masses, which the
    EnergyFlow layout does not carry); then jet pt = hypot(px, py), y = artanh(pz / E),
    eta = artanh(pz / |p|), phi = atan2(py, px), mass = sqrt(max(E^2 - |p|^2, 0));
  * observables(pt, y, phi, charge, (pt_J, eta_J, y_J, phi_J, m_J)) in float64, rounded to
    float32 (as the generator stores them), the log transform of models/data/make_training_file.py
    (`transform`: log of lambda_1_2, e2, d2, axis_major, axis_minor, floored at 1e-6), then
    standardized exactly like test_jets.npz: ((X - mean) / std) in float32 with the mean/std of
    models/data/qg_features.npz (`make_training_file.standardize`; --features gives another file).

Jets given with at most 64 constituents (the most the generator's shards store) reproduce the
committed jet observables up to the float32 rounding of the stored constituents; a shard jet
with more lost its softest constituents, so its observables (n_const, mass, ...) differ. A jet
without any real particle has no jet observables and is refused with --jet-features.

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

# Mass (GeV) of the particle with the PDG id (antiparticles alike): Pythia 8.317's m0, the mass
# of every such final-state particle of the generator (zero width). Used for the jet 4-vector of
# --jet-features only.
MASS = {
    22: 0.0, 11: 0.000511, 13: 0.10566, 211: 0.13957, 321: 0.49368, 130: 0.49761,
    2212: 0.93827, 2112: 0.93957, 310: 0.49761, 3122: 1.11568, 3222: 1.18937, 3112: 1.19745,
    3312: 1.32171, 3322: 1.31486, 3334: 1.67245,
}
assert set(MASS) == set(CHARGE)
HERE = os.path.dirname(os.path.abspath(__file__))
QG_FEATURES = os.path.join(HERE, "qg_features.npz")


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


def checked(X, where=""):
    """X as float64 [jets, particles, 4], or ValueError: wrong shape or dtype, NaN/infinite
    values, negative pt."""
    X = np.asarray(X)
    if X.ndim != 3 or X.shape[2] != 4:
        raise ValueError(f"{where}expected shape [jets, particles, 4] = (pt, y, phi, pdgid), got {list(X.shape)}")
    if not np.issubdtype(X.dtype, np.number) or np.issubdtype(X.dtype, np.complexfloating):
        raise ValueError(f"{where}expected a real numeric array, got dtype {X.dtype}")
    X = X.astype(np.float64)
    bad = ~np.isfinite(X)
    if bad.any():
        j, p, c = (int(v) for v in np.argwhere(bad)[0])
        raise ValueError(f"{where}{int(bad.sum())} NaN/infinite values (first: jet {j}, particle {p}, "
                         f"column {['pt', 'y', 'phi', 'pdgid'][c]})")
    if np.any(X[:, :, 0] < 0):
        j, p = (int(v) for v in np.argwhere(X[:, :, 0] < 0)[0])
        raise ValueError(f"{where}negative pt (first: jet {j}, particle {p})")
    return X


def particle_features(X, n_max=32, where=""):
    """Per-particle features of jets in the EnergyFlow layout.

    X: array [jets, particles, 4] = (pt, y, phi, pdgid), zero-padded (pt > 0 = real particle).
    Returns (x float32 [jets, n_max, 5], mask uint8 [jets, n_max]); see the module docstring
    for the definitions.  `where` prefixes error messages (e.g. "file.npz: array 'X': ").
    """
    if n_max < 1:
        raise ValueError(f"n_max must be >= 1, got {n_max}")
    X = checked(X, where)
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


def _data_modules():
    """generate.py (observables; its pythia8/fastjet imports are inside run_shard, so importing
    it is light) and make_training_file.py (transform, standardize, FEATURES)."""
    if HERE not in sys.path:
        sys.path.insert(0, HERE)
    import generate
    import make_training_file
    return generate, make_training_file


def jet_observables(X, where=""):
    """The 16 raw jet observables float64 [jets, 16] (generate.FEATURES order) of every jet of X
    [jets, particles, 4] = (pt, y, phi, pdgid), from all its real particles (pt > 0); see the
    module docstring. ValueError for malformed input and for a jet without real particles."""
    generate, _ = _data_modules()
    X = checked(X, where)
    Q = charge_of(np.where(X[:, :, 0] > 0, X[:, :, 3], 22.0), where)
    out = np.zeros((len(X), len(generate.FEATURES)), np.float64)
    for j in range(len(X)):
        real = np.flatnonzero(X[j, :, 0] > 0)
        if len(real) == 0:
            raise ValueError(f"{where}jet {j} has no real particle (pt > 0): its jet observables "
                             f"are undefined")
        order = real[np.argsort(-X[j, real, 0], kind="stable")]
        pt, y, phi, pid = (X[j, order, c] for c in range(4))
        chg = Q[j, order]
        m = np.array([MASS[abs(int(round(p)))] for p in pid])
        mt = np.sqrt(pt * pt + m * m)
        px, py = np.sum(pt * np.cos(phi)), np.sum(pt * np.sin(phi))
        pz, e = np.sum(mt * np.sinh(y)), np.sum(mt * np.cosh(y))
        jpt = np.hypot(px, py)
        jy = 0.5 * np.log((e + pz) / (e - pz))
        jp = np.sqrt(px * px + py * py + pz * pz)
        jeta = np.arctanh(pz / jp)
        jphi = np.arctan2(py, px)
        jm = np.sqrt(max(e * e - jp * jp, 0.0))
        out[j] = generate.observables(pt, y, phi, chg, (jpt, jeta, jy, jphi, jm))
    return out


def jet_features(X, mean, std, where=""):
    """Standardized jet observables float32 [jets, 16]: jet_observables rounded to float32 (as
    the generator stores them), make_training_file.transform (logs), then
    make_training_file.standardize with `mean`, `std` (those of qg_features.npz)."""
    _, mtf = _data_modules()
    raw = jet_observables(X, where).astype(np.float32)
    return mtf.standardize(mtf.transform(raw), np.asarray(mean), np.asarray(std))


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
    ap.add_argument("--jet-features", action="store_true",
                    help="also write `jet` float32 [n, 16], the standardized jet observables of "
                         "every jet (from all its particles), and `jet_names`")
    ap.add_argument("--features", default=QG_FEATURES,
                    help="the file whose mean/std standardize the jet observables (default "
                         "models/data/qg_features.npz)")
    a = ap.parse_args(argv)
    if a.n_max < 1:
        ap.error("--n-max must be >= 1")
    X, y = load_energyflow(a.input)
    extra = {}
    try:
        x, mask = particle_features(X, a.n_max, where=f"{a.input}: array 'X': ")
        if a.jet_features:
            try:
                f = np.load(a.features)
                mean, std, names = f["mean"], f["std"], f["feature_names"]
            except Exception as e:
                raise SystemExit(f"{a.features}: cannot read mean, std, feature_names: {e}")
            _, mtf = _data_modules()
            if [str(v) for v in names] != list(mtf.FEATURES):
                raise SystemExit(f"{a.features}: feature_names {list(names)} are not "
                                 f"make_training_file.FEATURES")
            extra = dict(jet=jet_features(X, mean, std, where=f"{a.input}: array 'X': "),
                         jet_names=np.asarray(names))
    except ValueError as e:
        raise SystemExit(str(e))
    if y is None:
        y = np.full(len(x), -1, np.int64)
    if a.float16:
        x = x.astype(np.float16)
    np.savez_compressed(a.out, x=x, mask=mask, y=y, feature_names=np.array(FEATURE_NAMES), **extra)
    n_real = (X[:, :, 0] > 0).sum(axis=1)
    print(f"{a.input}: {len(x)} jets, {X.shape[1]} slots, mean {n_real.mean():.2f} real particles, "
          f"{int((n_real > a.n_max).sum())} jets with more than {a.n_max} (truncated)", file=sys.stderr)
    print(f"wrote {a.out}: x {x.dtype} {list(x.shape)}, mask {list(mask.shape)}, "
          f"y {'given' if (y >= 0).any() else 'absent (-1)'}"
          + (f", jet float32 {list(extra['jet'].shape)}" if extra else "")
          + f" ({os.path.getsize(a.out) / 1e6:.2f} MB)", file=sys.stderr)


if __name__ == "__main__":
    main()
