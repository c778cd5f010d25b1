#!/usr/bin/env python3
"""The W decay-plane angle phi_decay around a jet axis (regression target of issue 13).

    from wz_target import jet_frame, transverse, phi_decay, reduce_mod_pi

The task is BitHEP's SMEFTNet-BIT regression (Chatterjee, Sanchez Cruz, Schoefbeck, Schwarz,
"SMEFTNet", arXiv 2401.10323): from the particles of a boosted hadronic-W jet in pp -> WZ, predict
the orientation of the W decay plane around the jet axis. SMEFTNet
(github.com/HephyAnalysisSW/SMEFTNet, models/WZModel.py) takes as truth
atan2(eta_q2 - eta_q1, dphi(phi_q2, phi_q1)) of the two W decay quarks, the direction of the line
joining them in the (Delta phi, Delta eta) plane of the jet, and trains with the loss
<sin^2(pred - truth)>, which is pi-periodic. This module defines the same angle without the
(eta, phi) chart: in the plane transverse to the jet axis, in 3-D.

Frame (`jet_frame(axis)`), for a jet axis a (any 3-vector, normalized here):
    n  = a / |a|                       jet axis
    e1 = (z x n) / |z x n|             z = beam axis (0, 0, 1): the direction of increasing phi
    e2 = n x e1                        = the component of z orthogonal to n, normalized: the
                                         direction of increasing eta (towards the +z beam)
(e1, e2, n) is right-handed. For a small displacement around the axis, moving along e1 is
moving in azimuth and along e2 in pseudorapidity: the displacement (d.e1, d.e2) is
sin(theta_jet) * (dphi, deta) to first order (the chart is conformal), so angles in the (e1, e2)
plane are angles in the (dphi, deta) plane. The frame is undefined for a jet along the beam
(|z x n| = 0): a ValueError (the jets here have |y| < 2, |z x n| > 0.26).

Target (`phi_decay(q1, q2, axis)`), q1, q2 = the two W decay quarks' 3-momenta (or 4-momenta,
(px, py, pz[, E]) in the last axis):
    d          = q1 - q2                           (3-momentum difference)
    (d1, d2)   = (d . e1, d . e2)                  (its components transverse to the jet axis)
    phi_decay  = atan2(d2, d1)  reduced modulo pi  into  [-pi/2, pi/2)
  * sign: positive = a right-handed rotation about the jet axis n, from e1 (+phi) towards e2
    (+eta); 0 = quarks split in azimuth, +-pi/2 = split in pseudorapidity; +pi/4 = the quark
    at larger phi is also at larger eta (SMEFTNet's atan2(deta, dphi) convention).
  * modulo pi: the two quarks cannot be told apart in the jet (quark or antiquark, up or down
    type): swapping q1 and q2 turns d into -d, i.e. atan2 by pi; only the line (the plane), not
    a direction in it, is observable. So the loss must be pi-periodic, e.g. sin^2(pred - phi)
    (SMEFTNet's), whose mean is 0.5 for a guess without information.
  * boost-invariant along the jet axis: the transverse components of a momentum do not change
    under a boost along n (neither do e1, e2), so phi_decay of boosted quarks is the same. For
    the axis = the W momentum (q1 + q2), q1 and q2 are back to back in the transverse plane
    (d = 2 q1_T), and the line is exactly where the W decay plane (spanned by q1, q2, containing
    the W axis) cuts the transverse plane. For the jet axis (the target used), the W direction
    is 0.002 away in (y, phi) (median; 90 % within 0.017) and d is the natural generalization:
    on the committed jets <sin^2(phi_decay(jet axis) - phi_decay(W axis))> = 0.011.
  * rotating q1, q2 about n by alpha adds alpha (mod pi).
  * this is the orientation of the decay plane in the lab around the jet (SMEFTNet's
    regression target), not the decay-plane angle of the W in the WZ rest frame relative to
    the production plane (SMEFTNet's `parton_hadV_angle_phi`), which would need the Z too.

The particle features of the model input (data/wz_features.py) use the same frame and the same
axis (the jet 4-momentum), so the network sees the angle in the frame it must predict it in.
The data: models/README.md, "W decay-plane regression data (issue 13)".

Self-test: models/data/check_wz_target.py.
"""
import numpy as np

BEAM = np.array([0.0, 0.0, 1.0])


def reduce_mod_pi(a):
    """An angle (array, float64) reduced modulo pi into [-pi/2, pi/2)."""
    a = np.asarray(a, np.float64)
    r = np.mod(a + np.pi / 2, np.pi) - np.pi / 2
    # np.mod can round a value just below a multiple of pi up to pi: keep the range half-open
    return np.where(r >= np.pi / 2, r - np.pi, r)


def jet_frame(axis):
    """(e1, e2, n), each float64 [..., 3], for jet axes `axis` [..., 3] (see the module
    docstring). ValueError for a zero axis or one along the beam."""
    a = np.asarray(axis, np.float64)[..., :3]
    norm = np.linalg.norm(a, axis=-1, keepdims=True)
    if np.any(norm == 0) or not np.all(np.isfinite(a)):
        raise ValueError("jet axis is zero or not finite")
    n = a / norm
    c = np.cross(BEAM, n)
    cn = np.linalg.norm(c, axis=-1, keepdims=True)
    if np.any(cn < 1e-9):
        raise ValueError("jet axis along the beam: the azimuthal direction e1 is undefined")
    e1 = c / cn
    e2 = np.cross(n, e1)
    return e1, e2, n


def transverse(p, axis):
    """Components (d1, d2) of 3-momenta p [..., 3 or 4] along e1, e2 of jet_frame(axis);
    axis [..., 3] broadcasts against p's leading axes."""
    e1, e2, _ = jet_frame(axis)
    v = np.asarray(p, np.float64)[..., :3]
    return np.sum(v * e1, axis=-1), np.sum(v * e2, axis=-1)


def phi_decay(q1, q2, axis):
    """phi_decay in [-pi/2, pi/2) of the quark pair (q1, q2) [..., 3 or 4] around `axis`
    [..., 3]: atan2 of the transverse components of q1 - q2, reduced modulo pi."""
    d = np.asarray(q1, np.float64)[..., :3] - np.asarray(q2, np.float64)[..., :3]
    d1, d2 = transverse(d, axis)
    return reduce_mod_pi(np.arctan2(d2, d1))


def sin2_loss(pred, phi):
    """<sin^2(pred - phi)>: 0 = exact, 0.5 = no information (the pi-periodic loss)."""
    return float(np.mean(np.sin(np.asarray(pred, np.float64) - np.asarray(phi, np.float64)) ** 2))
