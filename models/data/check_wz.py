#!/usr/bin/env python3
"""Physics sanity check of the W decay-plane regression data (issue 13).

    models/.venv/bin/python models/data/check_wz.py > models/data/wz_check.txt

Reads data/wz_particles.npz (make_wz_file.py) and, for the generation figures and the
all-constituent baseline, its shards in data/raw/ (generate_wz.py; the names are in the file).
Prints:
  * generation: events, accepted jets, the cut flow (no jet within 0.6 of the W, matched jet
    below 500 GeV, |y| >= 2), generator time and rate;
  * jet mass of the W-matched jets (ungroomed anti-kT R = 0.8, so UE/MPI push it above m_W),
    histogram, peak and median; a trimmed mass (raw shards); the W's own mass;
  * the phi_decay distribution on [-pi/2, pi/2) (12 bins; chi2 against flat);
  * how often both W quarks are inside the jet (Delta R (y, phi) to the jet axis < 0.8, and
    < 0.6 as SMEFTNet requires);
  * constituent multiplicity;
  * baselines for <sin^2(pred - phi)> (0.5 = no information): the principal axis of the
    pT-weighted transverse distribution of the particles, pred = 1/2 atan2(sum z dr^2 sin2a,
    sum z dr^2 cos2a) = 1/2 atan2(2 sum z d1 d2, sum z (d1^2 - d2^2)), from the 32 stored
    particles (the model input, float16) and from all stored constituents (up to 128; raw
    shards), on the test split; and the same truth angle around the W axis instead of the jet
    axis (what the axis choice costs).
"""
import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from wz_features import wz_particle_features  # noqa: E402
from wz_target import reduce_mod_pi, sin2_loss  # noqa: E402


def principal_axis(x, mask, power=1.0):
    """pred [n] from features x [n, N, 8] (log_z, d1, d2, dr, cos2a, sin2a, ...) and mask, with
    weights z^power."""
    x = x.astype(np.float64)
    w = np.where(mask == 1, np.exp(power * x[:, :, 0]), 0.0) * x[:, :, 3] ** 2
    c = np.sum(w * x[:, :, 4], 1)
    s = np.sum(w * x[:, :, 5], 1)
    return reduce_mod_pi(0.5 * np.arctan2(s, c))


def trimmed_mass(X, r_sub=0.2, f_cut=0.03):
    """Trimmed jet masses [n] (GeV) of jets X [n, P, 4] = (pt, y, phi, pdgid): the constituents
    reclustered into kT subjets of R = r_sub (FastJet), subjets with pT < f_cut * pT_jet dropped,
    the mass of the rest (a groomed mass, which UE/MPI hardly move)."""
    import awkward as ak
    import fastjet
    from wz_features import mass_of
    real = X[:, :, 0] > 0
    pt, y, phi = X[:, :, 0], X[:, :, 1], X[:, :, 2]
    m = mass_of(np.where(real, X[:, :, 3], 22.0))
    mt = np.sqrt(pt * pt + m * m)
    comp = [pt * np.cos(phi), pt * np.sin(phi), mt * np.sinh(y), mt * np.cosh(y)]
    counts = real.sum(1)
    arr = ak.zip({k: ak.unflatten(v[real], counts) for k, v in zip(("px", "py", "pz", "E"), comp)},
                 with_name="Momentum4D")
    # FastJet prints its banner to stdout (C++) on first use: keep it out of the report
    sys.stdout.flush()
    saved, null = os.dup(1), os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    try:
        cs = fastjet.ClusterSequence(arr, fastjet.JetDefinition(fastjet.kt_algorithm, r_sub))
        sj = cs.inclusive_jets()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(null)
    spx, spy, spz, se = (ak.to_numpy(ak.flatten(getattr(sj, c))) for c in ("px", "py", "pz", "E"))
    sc = ak.to_numpy(ak.num(sj.px))
    jet_of = np.repeat(np.arange(len(X)), sc)
    jpt = np.hypot(np.bincount(jet_of, spx, len(X)), np.bincount(jet_of, spy, len(X)))
    keep = np.hypot(spx, spy) >= f_cut * jpt[jet_of]
    tot = [np.bincount(jet_of[keep], v[keep], len(X)) for v in (spx, spy, spz, se)]
    return np.sqrt(np.maximum(tot[3] ** 2 - tot[0] ** 2 - tot[1] ** 2 - tot[2] ** 2, 0.0))


def hist_line(v, edges):
    h, _ = np.histogram(v, edges)
    return h


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(HERE, "wz_particles.npz"))
    ap.add_argument("--raw", default=os.path.join(HERE, "raw"))
    a = ap.parse_args()
    d = np.load(a.data)
    split, phi = d["split"], d["target"].astype(np.float64)
    te = split == 2
    n = len(phi)
    print(f"data: {a.data}")
    print(f"jets: {n}; train {int((split == 0).sum())}, val {int((split == 1).sum())}, test {int(te.sum())}")

    shards = [os.path.join(a.raw, str(s)) for s in d["shards"]]
    have_raw = all(os.path.exists(s) for s in shards)
    if have_raw:
        ev = nm = lp = hy = 0
        sec = 0.0
        ph = []
        for s in shards:
            r = np.load(s)
            ev += int(r["n_events"]); nm += int(r["n_no_match"]); lp += int(r["n_low_pt"])
            hy += int(r["n_high_y"]); sec += float(r["seconds"]); ph.append(r["pthat"])
        ph = np.concatenate(ph)
        print()
        print(f"generation ({len(shards)} shards, pTHatMin {float(np.load(shards[0])['pthatmin']):.0f} GeV): "
              f"{ev} events -> {n} jets ({100 * n / ev:.1f} % of events)")
        print(f"  events without a jet within Delta R 0.6 of the W: {nm} ({100 * nm / ev:.1f} %); "
              f"matched jet pT < 500 GeV: {lp} ({100 * lp / ev:.1f} %); |y| >= 2: {hy} ({100 * hy / ev:.1f} %)")
        print(f"  generator time {sec:.0f} s in one process ({n / sec:.1f} jets/s, {ev / sec:.0f} events/s); "
              f"pT_hat median {np.median(ph):.0f} GeV")
    else:
        print("(raw shards not found: generation figures and the all-constituent baseline skipped)")

    jk, wk = d["jet_kin"].astype(np.float64), d["w_kin"].astype(np.float64)
    print()
    print(f"jet pT: median {np.median(jk[:, 0]):.1f} GeV, 10/90 % {np.percentile(jk[:, 0], 10):.1f} / "
          f"{np.percentile(jk[:, 0], 90):.1f}; |eta| median {np.median(np.abs(jk[:, 1])):.2f}")
    m = jk[:, 3]
    edges = np.arange(40.0, 165.0, 5.0)
    h = hist_line(m, edges)
    k = int(np.argmax(h))
    print(f"jet mass (ungroomed, R = 0.8): peak bin {edges[k]:.0f}-{edges[k + 1]:.0f} GeV, median {np.median(m):.1f} GeV, "
          f"mean {m.mean():.1f}; {100 * np.mean((m > 65) & (m < 105)):.1f} % in 65-105 GeV, "
          f"{100 * np.mean((m > 70) & (m < 110)):.1f} % in 70-110, {100 * np.mean(m < 40):.1f} % below 40")
    print("  histogram (5 GeV bins from 40 GeV): " + " ".join(str(int(v)) for v in h))
    if have_raw:
        X = []
        for sh in shards:
            r = np.load(sh)
            X.append(np.stack([r["c_pt"], r["c_y"], r["c_phi"], r["c_pid"]], -1))
        X = np.concatenate(X).astype(np.float64)
        mt = trimmed_mass(X)
        h = hist_line(mt, edges)
        k = int(np.argmax(h))
        print(f"trimmed jet mass (kT subjets R = 0.2, f_cut = 0.03, stored constituents): peak bin "
              f"{edges[k]:.0f}-{edges[k + 1]:.0f} GeV, median {np.median(mt):.1f} GeV; "
              f"{100 * np.mean((mt > 65) & (mt < 105)):.1f} % in 65-105 GeV")
        print("  histogram (5 GeV bins from 40 GeV): " + " ".join(str(int(v)) for v in h))
    print(f"W mass (generator, before decay): median {np.median(wk[:, 3]):.2f} GeV, 10/90 % "
          f"{np.percentile(wk[:, 3], 10):.2f} / {np.percentile(wk[:, 3], 90):.2f}")

    print()
    pe = np.linspace(-np.pi / 2, np.pi / 2, 13)
    h = hist_line(phi, pe)
    chi2 = float(np.sum((h - n / 12) ** 2 / (n / 12)))
    print(f"phi_decay on [-pi/2, pi/2): min {phi.min():.4f} max {phi.max():.4f} mean {phi.mean():.4f}; "
          f"12 bins: " + " ".join(str(int(v)) for v in h))
    print(f"  largest bin deviation from flat {100 * np.abs(h / (n / 12) - 1).max():.1f} %, chi2 {chi2:.1f} / 11 dof")
    print(f"  <cos 2 phi> {np.mean(np.cos(2 * phi)):+.4f}, <sin 2 phi> {np.mean(np.sin(2 * phi)):+.4f}; "
          f"best constant prediction <sin^2> = {0.5 - 0.5 * np.hypot(np.mean(np.cos(2 * phi)), np.mean(np.sin(2 * phi))):.4f}")

    dq = d["dr_qmax"].astype(np.float64)
    print()
    print(f"both W quarks within Delta R < 0.8 of the jet axis: {100 * np.mean(dq < 0.8):.1f} %; "
          f"< 0.6: {100 * np.mean(dq < 0.6):.1f} %; < 0.4: {100 * np.mean(dq < 0.4):.1f} %")
    nc = d["n_const"]
    kept = d["mask"].sum(1)
    print(f"constituents: mean {nc.mean():.2f}, median {np.median(nc):.0f}, max {nc.max()}; "
          f"{100 * np.mean(nc > 32):.1f} % have more than 32; real slots of 32 used: mean {kept.mean():.2f}")
    lz = d["x"][:, :, 0].astype(np.float32)[d["mask"] == 1]
    print(f"log_z of the kept particles: min {lz.min():.2f}, 0.01 % quantile {np.quantile(lz, 1e-4):.2f}, "
          f"{100 * np.mean(lz < -15):.3f} % below -15 (ultra-soft photons)")

    print()
    tw = d["target_w"].astype(np.float64)
    print("<sin^2(pred - phi_decay)> on the test split (0.5 = no information; issue 13's target for "
          "the BitNet: <= 0.30):")
    print(f"  truth around the W axis instead of the jet axis: {sin2_loss(tw[te], phi[te]):.4f}")
    x, mk = d["x"], d["mask"]
    for pw in (1.0, 2.0):
        p = principal_axis(x[te], mk[te], pw)
        print(f"  principal axis, weights z^{pw:.0f} * dr^2, 32 particles (model input): "
              f"{sin2_loss(p, phi[te]):.4f}")
    sub = te & (dq < 0.6) & (jk[:, 3] > 70) & (jk[:, 3] < 110)
    p = principal_axis(x[sub], mk[sub], 1.0)
    print(f"  same (z^1), SMEFTNet-like subset (both quarks < 0.6, 70 < m_jet < 110 GeV; "
          f"{int(sub.sum())} test jets): {sin2_loss(p, phi[sub]):.4f}")
    if have_raw:
        xa, ma = wz_particle_features(X[te], X.shape[1])
        for pw in (1.0, 2.0):
            p = principal_axis(xa, ma, pw)
            print(f"  principal axis, weights z^{pw:.0f} * dr^2, all stored constituents (up to 128): "
                  f"{sin2_loss(p, phi[te]):.4f}")


if __name__ == "__main__":
    main()
