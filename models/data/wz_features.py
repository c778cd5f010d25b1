#!/usr/bin/env python3
"""Particle-level model input for the W decay-plane regression, in the frame of the target.

    python models/data/wz_features.py my_jets.npz -o my_wz_particles.npz [--n-max 32] [--float16]

Input: an .npz with X float [jets, particles, 4] = (pt, y, phi, pdgid) per constituent,
zero-padded (pt > 0 = real particle), the EnergyFlow layout of particle_features.py.

Output (np.savez_compressed), what `bit2hls validate` / `emulate` read for particle models:
  x              float32 [n, n_max, 8]  per-particle features (float16 with --float16)
  mask           uint8   [n, n_max]     1 = real particle, 0 = padding (features all 0)
  feature_names  str     [8]            log_z, d1, d2, dr, cos2a, sin2a, charge, photon

Per jet (the function `wz_particle_features(X, n_max)`; make_wz_file.py builds the committed
files with it):

  * real particles: pt > 0; the n_max highest-pT ones are kept, in decreasing pT (stable sort on
    -pt); the rest are dropped but count in the sums below.
  * jet 4-momentum J = the sum of the 4-momenta of ALL real particles (`jet_p4`; = the E-scheme
    FastJet jet when X holds all its constituents), summed in decreasing pT one particle after
    the other; a particle's 4-momentum is px = pt cos(phi), py = pt sin(phi), pz = mT sinh(y),
    E = mT cosh(y), mT = sqrt(pt^2 + m^2), m its mass from the PDG id (particle_features.MASS,
    Pythia 8's). Jet axis = J's 3-momentum, (y_J, phi_J) its rapidity and azimuth;
    pT_J = sum of pt over all real particles.
  * frame: (e1, e2, n) = wz_target.jet_frame(axis): n the jet axis, e1 the direction of
    increasing phi, e2 of increasing eta (towards +z), right-handed. phi_decay
    (wz_target.phi_decay) is measured in this frame from e1 towards e2, and so is alpha below.
  * per kept particle, in this order:
        log_z = ln(pt / pT_J)
        d1    = dr cos(alpha)
        d2    = dr sin(alpha)
        dr    = sqrt((y - y_J)^2 + wrap(phi - phi_J)^2), the clustering distance to the axis
        cos2a = cos(2 alpha)
        sin2a = sin(2 alpha)
        charge (particle_features.CHARGE), photon = 1 if pdgid == 22 else 0
    alpha = atan2(u . e2, u . e1), the azimuth around the jet axis of the particle's direction
    u = (cos phi, sin phi, sinh y) (its (y, phi) read as a massless direction, the coordinates
    the clustering used: the momentum of a soft massive particle can point far from its
    (y, phi); a clustered 50 MeV antineutron was seen more than 90 degrees from the jet axis).
    To first order d1 = dphi and d2 = dy around the axis, as the quark/gluon files' (dy, dphi),
    but alpha is measured exactly like the target: rotating the directions u and the quarks
    about the jet axis by beta shifts every alpha, and phi_decay, by beta. alpha is pi-ambiguous for the target in the
    same way, hence cos/sin of 2 alpha (SMEFTNet's per-particle inputs are pT, alpha and dr).
    A particle with no component transverse to the axis has cos2a = sin2a = 0.
  * computed in float64, stored as float32 (float16 of those with --float16). The command line
    (and make_wz_file.py) then raises log_z of real particles to at least LOG_Z_MIN = -15
    (`clip_log_z`, --log-z-min); wz_particle_features itself does not clip. Padded slots are
    all 0 with mask 0; a jet without real particles is all padding.
The input is refused (file and array named) for the shape, NaN/infinite values, negative pt,
unknown PDG ids (particle_features.checked / charge_of), and a jet along the beam.
"""
import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from particle_features import MASS, charge_of, checked, load_energyflow, wrap  # noqa: E402
from wz_target import jet_frame  # noqa: E402

FEATURE_NAMES = ["log_z", "d1", "d2", "dr", "cos2a", "sin2a", "charge", "photon"]

# floor of log_z in the files (make_wz_file.py) and by default on the command line: a few
# ultra-soft photons (pT down to 1e-13 GeV) give log_z down to -37, far below the bulk (0.1 %
# quantile -9.8) and below the firmware's default input type ap_fixed<16,6> (>= -32), where they
# would saturate; z = e^-15 = 3e-7 (0.2 MeV in a 600 GeV jet) is "nothing" physically.
LOG_Z_MIN = -15.0


def clip_log_z(x, mask, lo=LOG_Z_MIN):
    """x [n, N, 8] with log_z (feature 0) of the real particles raised to at least `lo`, in place
    (padded slots stay 0); returns the number of particles changed."""
    col = x[:, :, 0]
    low = (mask == 1) & (col < lo)
    col[low] = lo
    return int(low.sum())


def mass_of(pid):
    """Masses (float64) of an array of integer-valued PDG ids (all in MASS)."""
    ip = np.rint(np.asarray(pid)).astype(np.int64)
    u, inv = np.unique(np.abs(ip), return_inverse=True)
    return np.array([MASS[int(a)] for a in u], np.float64)[inv.reshape(ip.shape)]


def _sorted(X, where):
    X = checked(X, where)
    Q = charge_of(np.where(X[:, :, 0] > 0, X[:, :, 3], 22.0), where)
    order = np.argsort(-X[:, :, 0], axis=1, kind="stable")
    S = np.take_along_axis(X, order[:, :, None], axis=1)
    return S, np.take_along_axis(Q, order, axis=1)


def _jet_p4(S):
    pt, y, phi, pid = S[:, :, 0], S[:, :, 1], S[:, :, 2], S[:, :, 3]
    real = pt > 0
    m = mass_of(np.where(real, pid, 22.0))
    mt = np.where(real, np.sqrt(pt * pt + m * m), 0.0)
    p = np.stack([pt * np.cos(phi), pt * np.sin(phi), mt * np.sinh(y), mt * np.cosh(y)], -1)
    if S.shape[1] == 0:
        return np.zeros((len(S), 4))
    return np.cumsum(p, axis=1)[:, -1]


def jet_p4(X, where=""):
    """The jet 4-momenta float64 [jets, 4] = (px, py, pz, E): the sum of the real particles'
    4-momenta (masses from MASS), in decreasing pT."""
    S, _ = _sorted(X, where)
    return _jet_p4(S)


def wz_particle_features(X, n_max=32, where=""):
    """Per-particle features (x float32 [jets, n_max, 8], mask uint8 [jets, n_max]) of jets X
    [jets, particles, 4] = (pt, y, phi, pdgid); see the module docstring."""
    if n_max < 1:
        raise ValueError(f"n_max must be >= 1, got {n_max}")
    X = checked(X, where)
    n_jets, n_part = X.shape[:2]
    x = np.zeros((n_jets, n_max, len(FEATURE_NAMES)), np.float32)
    mask = np.zeros((n_jets, n_max), np.uint8)
    if n_part == 0:
        return x, mask
    S, Q = _sorted(X, where)
    pt, y, phi, pid = S[:, :, 0], S[:, :, 1], S[:, :, 2], S[:, :, 3]
    real = pt > 0
    has = real.any(axis=1)
    J = _jet_p4(S)
    J = np.where(has[:, None], J, [1.0, 0.0, 0.0, 2.0])  # jets without particles: any frame
    try:
        e1, e2, n = jet_frame(J[:, :3])
    except ValueError as e:
        raise ValueError(f"{where}{e}")
    yj = 0.5 * np.log((J[:, 3] + J[:, 2]) / (J[:, 3] - J[:, 2]))
    phij = np.arctan2(J[:, 1], J[:, 0])
    ptj = np.cumsum(np.where(real, pt, 0.0), axis=1)[:, -1]

    k = min(n_max, n_part)
    rk = real[:, :k]
    u = np.stack([np.cos(phi[:, :k]), np.sin(phi[:, :k]), np.sinh(y[:, :k])], -1)
    t1 = np.einsum("jik,jk->ji", u, e1)
    t2 = np.einsum("jik,jk->ji", u, e2)
    rt = np.hypot(t1, t2)
    ok = rt > 0
    ca = np.where(ok, t1 / np.where(ok, rt, 1.0), 0.0)
    sa = np.where(ok, t2 / np.where(ok, rt, 1.0), 0.0)
    dr = np.hypot(y[:, :k] - yj[:, None], wrap(phi[:, :k] - phij[:, None]))
    f = np.zeros((n_jets, k, len(FEATURE_NAMES)), np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        f[:, :, 0] = np.log(pt[:, :k] / np.where(ptj > 0, ptj, 1.0)[:, None])
    f[:, :, 1] = dr * ca
    f[:, :, 2] = dr * sa
    f[:, :, 3] = dr
    f[:, :, 4] = np.where(ok, ca * ca - sa * sa, 0.0)
    f[:, :, 5] = 2.0 * sa * ca
    f[:, :, 6] = Q[:, :k]
    f[:, :, 7] = (pid[:, :k] == 22).astype(np.float64)
    f[~rk] = 0.0
    x[:, :k] = f.astype(np.float32)
    mask[:, :k] = rk
    return x, mask


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("input", help="EnergyFlow-layout .npz: X [jets, particles, 4] = (pt, y, phi, pdgid)")
    ap.add_argument("-o", "--out", required=True, help="output .npz (x, mask, feature_names)")
    ap.add_argument("--n-max", type=int, default=32, help="particles kept per jet (highest pT first); default 32")
    ap.add_argument("--float16", action="store_true", help="store x as float16 (of the float32 values)")
    ap.add_argument("--log-z-min", type=float, default=LOG_Z_MIN,
                    help=f"floor of log_z for real particles (default {LOG_Z_MIN:g}, as in the "
                         f"committed files and the wz_pfn models; nan = no floor)")
    a = ap.parse_args(argv)
    if a.n_max < 1:
        ap.error("--n-max must be >= 1")
    X, _ = load_energyflow(a.input)
    try:
        x, mask = wz_particle_features(X, a.n_max, where=f"{a.input}: array 'X': ")
    except ValueError as e:
        raise SystemExit(str(e))
    if a.log_z_min == a.log_z_min:  # not nan
        clip_log_z(x, mask, np.float32(a.log_z_min))
    if a.float16:
        x = x.astype(np.float16)
    np.savez_compressed(a.out, x=x, mask=mask, feature_names=np.array(FEATURE_NAMES))
    print(f"wrote {a.out}: x {x.dtype} {list(x.shape)}, mask {list(mask.shape)} "
          f"({os.path.getsize(a.out) / 1e6:.2f} MB)", file=sys.stderr)


if __name__ == "__main__":
    main()
