#!/usr/bin/env python3
"""Self-test of wz_target.py (phi_decay) on hand-built momenta.

    models/.venv/bin/python models/data/check_wz_target.py      # exits 1 on a failure
    models/.venv/bin/python -m pytest models/data/check_wz_target.py

Cases:
  * the frame: orthonormal, right-handed, e1 = +phi and e2 = +eta directions, refused along
    the beam;
  * reduce_mod_pi: range [-pi/2, pi/2), edges;
  * jet along x with quarks split along +-z (eta) -> -pi/2, along +-y (phi) -> 0, along the
    diagonals -> +pi/4 / -pi/4;
  * a jet at (eta, phi) = (1.3, 2.9) and (-1.7, -3.1) (near the phi = +-pi seam) with quarks
    split in phi -> 0, in eta -> -pi/2;
  * swapping q1 and q2 gives the same value;
  * a Lorentz boost of both quarks along the jet axis leaves it unchanged;
  * a rotation of both quarks about the jet axis by alpha shifts it by alpha (mod pi);
  * SMEFTNet's atan2(deta, dphi) of the two quarks agrees (mod pi) for small opening angles,
    and the value hardly moves under a boost along the beam;
  * the model input (wz_features.py) is in the same frame: a particle at larger y has d2 > 0, at
    larger phi d1 > 0; for a jet of two massless particles the angle alpha of each particle
    (1/2 atan2(sin2a, cos2a)) and the principal axis equal phi_decay of the pair, also after a
    rotation about the jet axis (which shifts both by the rotation angle).
"""
import os
import sys
import traceback

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from wz_features import FEATURE_NAMES, jet_p4, wz_particle_features  # noqa: E402
from wz_target import jet_frame, phi_decay, reduce_mod_pi, sin2_loss, transverse  # noqa: E402

PI = np.pi


def close_mod_pi(a, b, tol=1e-12):
    """|a - b| modulo pi below tol (elementwise)."""
    d = np.abs(reduce_mod_pi(np.asarray(a) - np.asarray(b)))
    return bool(np.all(d < tol))


def p4(pt, eta, phi, m=0.0):
    """(px, py, pz, E) from (pt, eta, phi, mass)."""
    pt, eta, phi = (np.asarray(v, np.float64) for v in (pt, eta, phi))
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    e = np.sqrt(px ** 2 + py ** 2 + pz ** 2 + m ** 2)
    return np.stack([px, py, pz, e], axis=-1)


def boost(p, beta_vec):
    """Lorentz boost of 4-vectors p [..., 4] by velocity beta_vec [3]."""
    b = np.asarray(beta_vec, np.float64)
    b2 = b @ b
    g = 1.0 / np.sqrt(1.0 - b2)
    v, e = p[..., :3], p[..., 3]
    bp = v @ b
    e2 = g * (e + bp)
    v2 = v + ((g - 1.0) * bp / b2 + g * e)[..., None] * b
    return np.concatenate([v2, e2[..., None]], axis=-1)


def rotate(p, axis, alpha):
    """Rotation of the 3-momentum part of p [..., 3 or 4] about `axis` by alpha (right-handed)."""
    k = np.asarray(axis, np.float64)
    k = k / np.linalg.norm(k)
    v = p[..., :3]
    vr = (v * np.cos(alpha) + np.cross(k, v) * np.sin(alpha)
          + np.outer(v @ k, k).reshape(v.shape) * (1 - np.cos(alpha)))
    return np.concatenate([vr, p[..., 3:]], axis=-1)


def test_frame():
    rng = np.random.default_rng(1)
    axes = p4(500.0, rng.uniform(-2, 2, 50), rng.uniform(-PI, PI, 50))[:, :3]
    e1, e2, n = jet_frame(axes)
    for a, b in [(e1, e1), (e2, e2), (n, n)]:
        assert np.allclose(np.sum(a * b, -1), 1.0, atol=1e-14)
    for a, b in [(e1, e2), (e1, n), (e2, n)]:
        assert np.allclose(np.sum(a * b, -1), 0.0, atol=1e-14)
    assert np.allclose(np.cross(e1, e2), n, atol=1e-14), "(e1, e2, n) is not right-handed"
    # jet along x: e1 = +y (increasing phi), e2 = +z (increasing eta)
    e1, e2, n = jet_frame([3.0, 0.0, 0.0])
    assert np.allclose(e1, [0, 1, 0]) and np.allclose(e2, [0, 0, 1]) and np.allclose(n, [1, 0, 0])
    # a generic jet: e1 moves phi up, e2 moves eta up, phi and eta alone
    eta0, phi0, h = 0.7, -2.2, 1e-6
    a = p4(1.0, eta0, phi0)[:3]
    e1, e2, n = jet_frame(a)
    u = a / np.linalg.norm(a)
    for e, deta_sign, dphi_sign in [(e1, 0, 1), (e2, 1, 0)]:
        w = u + h * e
        eta = np.arcsinh(w[2] / np.hypot(w[0], w[1]))
        phi = np.arctan2(w[1], w[0])
        assert abs(np.sign(round((eta - eta0) / h, 6)) - deta_sign) < 1e-9, (e, eta - eta0)
        assert abs(np.sign(round((phi - phi0) / h, 6)) - dphi_sign) < 1e-9, (e, phi - phi0)
    for bad in ([0.0, 0.0, 5.0], [0.0, 0.0, -1.0], [0.0, 0.0, 0.0]):
        try:
            jet_frame(bad)
        except ValueError:
            continue
        raise AssertionError(f"jet_frame({bad}) did not refuse")


def test_reduce_mod_pi():
    assert reduce_mod_pi(0.0) == 0.0
    assert reduce_mod_pi(PI / 2) == -PI / 2
    assert reduce_mod_pi(-PI / 2) == -PI / 2
    assert abs(reduce_mod_pi(PI) - 0.0) < 1e-15 and abs(reduce_mod_pi(-PI)) < 1e-15
    assert abs(reduce_mod_pi(3 * PI / 4) - (-PI / 4)) < 1e-15
    assert abs(reduce_mod_pi(-3 * PI / 4) - (PI / 4)) < 1e-15
    x = np.concatenate([np.linspace(-20, 20, 100001), [-PI / 2 - 1e-17, PI / 2 - 1e-17,
                                                        np.nextafter(PI / 2, 0), -1e-300]])
    r = reduce_mod_pi(x)
    assert np.all(r >= -PI / 2) and np.all(r < PI / 2), (r.min(), r.max())
    assert close_mod_pi(r, x, 1e-12)


def test_jet_along_x():
    ax = [1.0, 0.0, 0.0]
    # split along +-z (pseudorapidity): atan2(20, 0) = pi/2 -> -pi/2 in [-pi/2, pi/2)
    assert phi_decay([100, 0, 10], [100, 0, -10], ax) == -PI / 2
    # split along +-y (azimuth)
    assert phi_decay([100, 10, 0], [100, -10, 0], ax) == 0.0
    # diagonals: the quark at larger phi (y) also at larger eta (z) -> +pi/4
    assert abs(phi_decay([100, 5, 5], [100, -5, -5], ax) - PI / 4) < 1e-15
    assert abs(phi_decay([100, 5, -5], [100, -5, 5], ax) + PI / 4) < 1e-15
    # 30 degrees from e1 towards e2; an unbalanced pair (only the difference counts)
    assert abs(phi_decay([60, 3 * np.sqrt(3), 3], [90, 0, 0], ax) - PI / 6) < 1e-15
    # 4-vectors are accepted (E ignored)
    assert phi_decay([100, 10, 0, 101], [100, -10, 0, 101], ax) == 0.0


def test_other_jets():
    for eta0, phi0 in [(1.3, 2.9), (-1.7, -3.1), (0.0, PI)]:
        ax = p4(500.0, eta0, phi0)[:3]
        d = 0.05
        in_phi = phi_decay(p4(250, eta0, phi0 + d), p4(250, eta0, phi0 - d), ax)
        in_eta = phi_decay(p4(250, eta0 + d, phi0), p4(250, eta0 - d, phi0), ax)
        assert abs(in_phi) < 1e-12, in_phi
        # quarks at equal pt split in eta: their difference has a small component along n
        # only, none along e1 -> exactly -pi/2
        assert abs(in_eta + PI / 2) < 1e-12, in_eta


def random_pairs(rng, k):
    """k W-like quark pairs (massive, boosted) and generic jet axes near their sum."""
    eta = rng.uniform(-2, 2, k)
    phi = rng.uniform(-PI, PI, k)
    pt = rng.uniform(300, 900, k)
    q1 = p4(pt * rng.uniform(0.2, 0.8, k), eta + rng.normal(0, 0.15, k), phi + rng.normal(0, 0.15, k), 0.3)
    q2 = p4(pt * rng.uniform(0.2, 0.8, k), eta + rng.normal(0, 0.15, k), phi + rng.normal(0, 0.15, k), 1.5)
    axis = (q1 + q2)[:, :3] + rng.normal(0, 5.0, (k, 3))
    return q1, q2, axis


def test_swap():
    rng = np.random.default_rng(2)
    q1, q2, axis = random_pairs(rng, 1000)
    a, b = phi_decay(q1, q2, axis), phi_decay(q2, q1, axis)
    assert close_mod_pi(a, b, 1e-12)
    assert np.all(np.abs(a - b) < 1e-12) or np.all((np.abs(a - b) < 1e-12) | (np.abs(np.abs(a - b) - PI) < 1e-12))
    assert np.all(a >= -PI / 2) and np.all(a < PI / 2)


def test_boost_along_axis():
    rng = np.random.default_rng(3)
    q1, q2, axis = random_pairs(rng, 300)
    ref = phi_decay(q1, q2, axis)
    n = axis / np.linalg.norm(axis, axis=1, keepdims=True)
    for beta in (-0.9, -0.3, 0.5, 0.99):
        b1 = np.stack([boost(q1[i], beta * n[i]) for i in range(len(n))])
        b2 = np.stack([boost(q2[i], beta * n[i]) for i in range(len(n))])
        assert not np.allclose(b1, q1)  # really boosted
        assert close_mod_pi(phi_decay(b1, b2, axis), ref, 1e-9), beta
        # the boosted pair's axis along n is fine too (only its direction matters)
        assert close_mod_pi(phi_decay(b1, b2, 7.0 * axis), ref, 1e-9)


def test_rotation_about_axis():
    rng = np.random.default_rng(4)
    q1, q2, axis = random_pairs(rng, 300)
    ref = phi_decay(q1, q2, axis)
    for alpha in (0.1, 0.7, -1.2, PI / 2, 2.5, PI, -3.0, 5.0):
        r1 = np.stack([rotate(q1[i], axis[i], alpha) for i in range(len(axis))])
        r2 = np.stack([rotate(q2[i], axis[i], alpha) for i in range(len(axis))])
        got = phi_decay(r1, r2, axis)
        assert close_mod_pi(got, ref + alpha, 1e-9), alpha


def test_smeftnet_convention():
    """SMEFTNet's truth atan2(eta2 - eta1, dphi(phi2, phi1)), i.e. the direction from q1 to q2 in
    the (dphi, deta) plane, agrees mod pi for small openings (axis = q1 + q2); and a boost along
    the beam moves the value by O(opening angle) only."""
    rng = np.random.default_rng(5)
    k = 2000
    eta, phi = rng.uniform(-2, 2, k), rng.uniform(-PI, PI, k)
    d = 0.01
    de, dp = rng.normal(0, d, (2, k))
    z1 = rng.uniform(0.2, 0.8, k)
    q1 = p4(500 * z1, eta + (1 - z1) * de, phi + (1 - z1) * dp)
    q2 = p4(500 * (1 - z1), eta - z1 * de, phi - z1 * dp)
    axis = (q1 + q2)[:, :3]
    ours = phi_decay(q1, q2, axis)
    eta_of = lambda q: np.arcsinh(q[:, 2] / np.hypot(q[:, 0], q[:, 1]))  # noqa: E731
    phi_of = lambda q: np.arctan2(q[:, 1], q[:, 0])  # noqa: E731
    dphi = (phi_of(q2) - phi_of(q1) + PI) % (2 * PI) - PI
    smeftnet = np.arctan2(eta_of(q2) - eta_of(q1), dphi)
    dev = np.abs(reduce_mod_pi(ours - smeftnet))
    assert dev.max() < 0.05, dev.max()
    assert np.median(dev) < 0.01, np.median(dev)
    # longitudinal boost (beta_z = 0.6) of the quarks and the axis
    b1 = np.stack([boost(v, [0, 0, 0.6]) for v in q1])
    b2 = np.stack([boost(v, [0, 0, 0.6]) for v in q2])
    moved = np.abs(reduce_mod_pi(phi_decay(b1, b2, (b1 + b2)[:, :3]) - ours))
    assert moved.max() < 0.05, moved.max()


def test_transverse_and_loss():
    d1, d2 = transverse([[0, 3, 4], [0, -1, 0]], [1, 0, 0])
    assert np.allclose(d1, [3, -1]) and np.allclose(d2, [4, 0])
    assert sin2_loss([0.0, PI], [0.0, 0.0]) < 1e-30
    rng = np.random.default_rng(6)
    a, b = rng.uniform(-PI / 2, PI / 2, (2, 200000))
    assert abs(sin2_loss(a, b) - 0.5) < 0.005


def ef_of(p):
    """EnergyFlow rows (pt, y, phi, 22) of massless 4-vectors p [..., 4] (photons)."""
    pt = np.hypot(p[..., 0], p[..., 1])
    y = 0.5 * np.log((p[..., 3] + p[..., 2]) / (p[..., 3] - p[..., 2]))
    return np.stack([pt, y, np.arctan2(p[..., 1], p[..., 0]), np.full(pt.shape, 22.0)], -1)


def test_features_frame():
    col = {f: i for i, f in enumerate(FEATURE_NAMES)}
    # jet along x: a hard photon on the axis side, one at larger y, one at larger phi
    X = np.array([[[300.0, 0.0, 0.0, 22], [100.0, 0.1, 0.0, 22], [100.0, 0.0, 0.1, 22]]])
    x, m = wz_particle_features(X, 4)
    assert m.tolist() == [[1, 1, 1, 0]]
    # slots in pT order (equal pT: input order): 1 = the particle at larger y, which lies
    # towards +eta (d2 > 0), 2 = the one at larger phi (d1 > 0); the jet axis sits between
    assert x[0, 1, col["d2"]] > 0.05 and abs(x[0, 1, col["d1"]]) < x[0, 1, col["d2"]] / 2
    assert x[0, 2, col["d1"]] > 0.05 and abs(x[0, 2, col["d2"]]) < x[0, 2, col["d1"]] / 2
    assert x[0, 0, col["d1"]] < 0 and x[0, 0, col["d2"]] < 0
    rng = np.random.default_rng(7)
    k = 300
    eta, phi = rng.uniform(-2, 2, k), rng.uniform(-PI, PI, k)
    z1 = rng.uniform(0.2, 0.8, k)
    de, dp = rng.normal(0, 0.1, (2, k))
    q1 = p4(600 * z1, eta + (1 - z1) * de, phi + (1 - z1) * dp)
    q2 = p4(600 * (1 - z1), eta - z1 * de, phi - z1 * dp)
    for beta in (0.0, 0.4, -1.1, 2.0):
        axis = (q1 + q2)[:, :3]
        r1 = np.stack([rotate(q1[i], axis[i], beta) for i in range(k)])
        r2 = np.stack([rotate(q2[i], axis[i], beta) for i in range(k)])
        X = np.stack([ef_of(r1), ef_of(r2)], 1)
        x, m = wz_particle_features(X, 2)
        target = phi_decay(r1, r2, jet_p4(X)[:, :3])
        assert close_mod_pi(target, phi_decay(q1, q2, axis) + beta, 1e-6), beta
        xf = x.astype(np.float64)
        for j in range(2):
            alpha = 0.5 * np.arctan2(xf[:, j, col["sin2a"]], xf[:, j, col["cos2a"]])
            assert close_mod_pi(alpha, target, 1e-5), (beta, j)
            assert close_mod_pi(np.arctan2(xf[:, j, col["d2"]], xf[:, j, col["d1"]]), target, 1e-5)
        w = np.exp(xf[:, :, col["log_z"]]) * xf[:, :, col["dr"]] ** 2
        pa = 0.5 * np.arctan2(np.sum(w * xf[:, :, col["sin2a"]], 1), np.sum(w * xf[:, :, col["cos2a"]], 1))
        assert close_mod_pi(pa, target, 1e-5), beta


TESTS = [test_frame, test_reduce_mod_pi, test_jet_along_x, test_other_jets, test_swap,
         test_boost_along_axis, test_rotation_about_axis, test_smeftnet_convention,
         test_transverse_and_loss, test_features_frame]


def main():
    failed = 0
    for t in TESTS:
        try:
            t()
            print(f"ok    {t.__name__}")
        except Exception:
            failed += 1
            print(f"FAIL  {t.__name__}")
            traceback.print_exc()
    print(f"{len(TESTS) - failed} of {len(TESTS)} passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
