#!/usr/bin/env python3
"""Self-test of particle_features.py on hand-built jets with hand-written expected features.

    models/.venv/bin/python models/data/check_particle_features.py

Jets (EnergyFlow layout (pt, y, phi, pdgid), 7 slots):
  A  3 particles across phi = +-pi, given out of pT order, two with equal pT (the stable sort keeps
     their input order), plus a pt = 0 slot holding garbage (ignored, even its unknown PDG id);
  B  6 particles in increasing pT; with n_max = 4 the two softest are dropped but still count in
     pT_J and in the jet centre;
  C  all padding.
Also: wrap() at the edges, the errors (shape, NaN, negative pt, unknown and non-integer PDG ids),
and the command line (file and array named in the error; float32 / --float16 outputs).
Every feature is compared for exact equality with float32 of the hand-written float64 value.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from particle_features import FEATURE_NAMES, main, particle_features, wrap  # noqa: E402

PI = np.pi


def f32(v):
    return np.array(v, np.float64).astype(np.float32)


def expect_error(fn, *words):
    try:
        fn()
    except (ValueError, SystemExit) as e:
        msg = str(e)
        for w in words:
            assert w in msg, f"error message {msg!r} lacks {w!r}"
        return msg
    raise AssertionError(f"no error (expected one mentioning {words})")


# ---- wrap(): (-pi, pi], unchanged inside
assert wrap(PI) == PI and wrap(-PI) == PI and wrap(0.25) == 0.25 and wrap(-3.0) == -3.0
assert abs(wrap(-6.0) - (2 * PI - 6.0)) < 1e-15 and abs(wrap(7.0) - (7.0 - 2 * PI)) < 1e-15

X = np.zeros((3, 7, 4))
# jet A: input order p2, p1, garbage (pt 0), p3
#        p1 pt 100, y 0.5,   phi  3.0, pi+ ; p2 pt 50, y -0.25, phi -3.0, photon ; p3 pt 50, y 0, phi 2.5, e+
X[0, 0] = [50.0, -0.25, -3.0, 22]
X[0, 1] = [100.0, 0.5, 3.0, 211]
X[0, 2] = [0.0, 1.7, -2.2, 999]
X[0, 3] = [50.0, 0.0, 2.5, -11]
# jet B: (pt, y, phi = -y, pid) with pt 10..60 in increasing order
for i, (pt, y, pid) in enumerate([(10, 1.0, 22), (20, 0.5, 211), (30, 0.0, 2112),
                                  (40, 0.0, -211), (50, -0.5, 130), (60, 0.0, 321)]):
    X[1, i] = [pt, y, -y, pid]
# jet C: all padding

# expected, by hand
# A: pT_J = 200; y_c = (100*0.5 + 50*(-0.25) + 50*0) / 200 = 0.1875
#    phi unwrapped next to the leader (3.0): p2 -> -3 + 2 pi; p3 -> 2.5
#    phi_c = (100*3 + 50*(2 pi - 3) + 50*2.5) / 200 = 1.375 + pi/2
#    dphi: p1 3 - phi_c = 1.625 - pi/2; p2 wrap(-3 - phi_c) = 1.5 pi - 4.375; p3 1.125 - pi/2
A = [  # sorted: p1, p2 (input before p3 at equal pT), p3
    [np.log(0.5), 0.3125, 1.625 - PI / 2, 1, 0],
    [np.log(0.25), -0.4375, 1.5 * PI - 4.375, 0, 1],
    [np.log(0.25), -0.1875, 1.125 - PI / 2, 1, 0],
]
# B: pT_J = 210 (all six); y_c = (10*1 + 20*0.5 + 50*(-0.5)) / 210 = -5/210, phi_c = +5/210
#    kept (n_max = 4): pt 60 (K+), 50 (K_L), 40 (pi-), 30 (n)
yc, pc = -5.0 / 210.0, 5.0 / 210.0
B = [
    [np.log(60 / 210), 0.0 - yc, 0.0 - pc, 1, 0],
    [np.log(50 / 210), -0.5 - yc, 0.5 - pc, 0, 0],
    [np.log(40 / 210), 0.0 - yc, 0.0 - pc, -1, 0],
    [np.log(30 / 210), 0.0 - yc, 0.0 - pc, 0, 0],
]
B_rest = [  # with n_max >= 6 also: pt 20 (pi+), 10 (photon)
    [np.log(20 / 210), 0.5 - yc, -0.5 - pc, 1, 0],
    [np.log(10 / 210), 1.0 - yc, -1.0 - pc, 0, 1],
]

x, mask = particle_features(X, 4)
assert x.dtype == np.float32 and x.shape == (3, 4, 5) and mask.dtype == np.uint8 and mask.shape == (3, 4)
assert np.array_equal(mask, [[1, 1, 1, 0], [1, 1, 1, 1], [0, 0, 0, 0]])
assert np.array_equal(x[0, :3], f32(A)), (x[0, :3], f32(A))
assert np.array_equal(x[1], f32(B)), (x[1], f32(B))
assert not x[0, 3].any() and not x[2].any(), "padding must be all 0"

x32, m32 = particle_features(X, 32)
assert x32.shape == (3, 32, 5) and m32.sum(1).tolist() == [3, 6, 0]
assert np.array_equal(x32[1, :6], f32(B + B_rest)) and np.array_equal(x32[:, :4], x)
assert not x32[0, 3:].any() and not x32[1, 6:].any() and not x32[2].any()
# the first 16 slots of an n_max = 32 file are the n_max = 16 features
assert np.array_equal(particle_features(X, 16)[0], x32[:, :16])
# float32 / integer input gives the same result (values converted to float64 first)
assert np.array_equal(particle_features(X.astype(np.float32), 4)[0], x)

# ---- errors
expect_error(lambda: particle_features(X[:, :, :3], 4), "[jets, particles, 4]", "[3, 7, 3]")
bad = X.copy(); bad[1, 2, 1] = np.nan
expect_error(lambda: particle_features(bad, 4), "NaN", "jet 1, particle 2", "column y")
bad = X.copy(); bad[0, 3, 0] = -1.0
expect_error(lambda: particle_features(bad, 4), "negative pt", "jet 0, particle 3")
bad = X.copy(); bad[1, 4, 3] = 3122.5
expect_error(lambda: particle_features(bad, 4), "not an integer")
bad = X.copy(); bad[1, 5, 3] = 999
expect_error(lambda: particle_features(bad, 4), "unknown PDG id 999", "jet 1, particle 5")
bad = X.copy(); bad[0, 1, 3] = -12
expect_error(lambda: particle_features(bad, 4), "unknown PDG id -12", "neutrino")

# ---- command line
with tempfile.TemporaryDirectory() as tmp:
    inp, out = os.path.join(tmp, "jets.npz"), os.path.join(tmp, "out.npz")
    np.savez(inp, X=X, y=np.array([1.0, 0.0, 1.0]))
    main([inp, "-o", out, "--n-max", "4"])
    d = np.load(out)
    assert d["x"].dtype == np.float32 and np.array_equal(d["x"], x) and np.array_equal(d["mask"], mask)
    assert d["y"].dtype == np.int64 and d["y"].tolist() == [1, 0, 1]
    assert [str(s) for s in d["feature_names"]] == FEATURE_NAMES == ["log_z", "dy", "dphi", "charge", "photon"]
    np.savez(inp, X=X)
    main([inp, "-o", out, "--float16"])
    d = np.load(out)
    assert d["x"].dtype == np.float16 and np.array_equal(d["x"], x32.astype(np.float16))
    assert d["y"].tolist() == [-1, -1, -1]
    np.savez(inp, X=X[:, :, :3])
    expect_error(lambda: main([inp, "-o", out]), inp, "array 'X'", "[3, 7, 3]")
    np.savez(inp, X=X, y=np.zeros(2))
    expect_error(lambda: main([inp, "-o", out]), inp, "array 'y'", "[2]")
    bad = X.copy(); bad[2, 0, 2] = np.inf
    np.savez(inp, X=bad)
    expect_error(lambda: main([inp, "-o", out]), inp, "array 'X'", "NaN/infinite", "jet 2, particle 0")
    np.savez(inp, Z=X)
    expect_error(lambda: main([inp, "-o", out]), inp, "no array 'X'")
    # as a separate process: exit status and message on stderr
    np.savez(inp, X=X[:, :, :3])
    r = subprocess.run([sys.executable, os.path.join(HERE, "particle_features.py"), inp, "-o", out],
                       capture_output=True, text=True)
    assert r.returncode != 0 and inp in r.stderr and "array 'X'" in r.stderr, (r.returncode, r.stderr)

print("check_particle_features: all checks passed "
      "(phi wrap, stable pT order, truncation to n_max, padding, errors, command line)")
