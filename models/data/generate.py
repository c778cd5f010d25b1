#!/usr/bin/env python3
"""Quark and gluon jet generator (Komiske-Metodiev-Thaler style samples).

    pp -> Z(->nu nu) + g   (gluon sample, WeakBosonAndParton:qqbar2gmZg)
    pp -> Z(->nu nu) + q   (quark sample, WeakBosonAndParton:qg2gmZq)

at sqrt(s) = 14 TeV with Pythia 8 (pythia8mc wheel), default tune, hadronization and
MPI on.  Jets: anti-kT R = 0.4 (FastJet) on all visible final-state particles
(every status > 0 particle except neutrinos).  Per event the leading jet is kept if
500 < pT < 550 GeV and |y| < 2.

PhaseSpace:pTHatMin = 450 GeV.  A jet in the 500-550 window can come from a parton with
pT_hat < 450 (out-of-cone radiation, MPI/UE adding pT), so the cut loses some of the jets
that a looser generator cut would give (design estimate ~10 %; measured against pTHatMin = 400
with 600 jets each: 10.5 % of quark and 4.0 % of gluon window jets have pT_hat < 450).
pTHatMin = 400 would keep them but costs 1.5x (quark) / 1.7x (gluon) more events per jet.
The loss is in the low-pT_hat tail only; the jet substructure in the window is hardly affected.

Output: one .npz per shard (default 2,000 accepted jets) named
    <out>/<sample>_seed<seed>_shard<k>.npz
with per-jet constituents (pT-sorted, zero-padded to 64): c_pt, c_y, c_phi (absolute
azimuth in [-pi, pi]), c_pid, c_charge, plus the jet observables listed in
FEATURES (see observables()) and the hard process's pthat (added after the committed
set was generated; the jets themselves are unchanged).
Pythia's random seed of shard k is seed * 1000 + k, so every shard is reproducible on its own
(the committed set, from models/):

    python data/generate.py --sample quark --seed 1 --jets 56000 --out data/raw
    python data/generate.py --sample gluon --seed 2 --jets 56000 --out data/raw

Rate: 21-25 jets/s per process on a free core (6-8 when sharing with builds at nice 19);
printed in the log, see models/README.md.
"""
import argparse
import os
import sys
import time

import numpy as np

NPAD = 64
R = 0.4
PT_MIN, PT_MAX, Y_MAX = 500.0, 550.0, 2.0

FEATURES = [
    "jet_pt",          # GeV
    "jet_eta",
    "jet_mass",        # GeV
    "n_const",         # constituent multiplicity
    "n_charged",       # charged constituent multiplicity
    "girth",           # width = sum pt_i dR_i / pt_J  (lambda^1_1)
    "ptd",             # pT_D = sqrt(sum pt_i^2) / sum pt_i
    "lha",             # Les Houches angularity lambda^1_0.5 = sum z_i (dR_i/R)^0.5
    "lambda_1_2",      # thrust-like angularity sum z_i (dR_i/R)^2
    "lead_frac",       # leading constituent pT / jet pT
    "e2",              # ECF e2^(beta=1) = sum_{i<j} z_i z_j dR_ij
    "c2",              # e3 / e2^2 (beta=1)
    "d2",              # e3 / e2^3 (beta=1)
    "charged_frac",    # charged pT fraction
    "axis_major",      # sqrt of the major eigenvalue of the pt^2-weighted (y,phi) covariance
    "axis_minor",      # sqrt of the minor eigenvalue (CMS "axis2")
]

NEUTRINOS = (12, 14, 16)


def pythia_settings(sample, seed, pthatmin):
    proc = {
        "gluon": "WeakBosonAndParton:qqbar2gmZg = on",
        "quark": "WeakBosonAndParton:qg2gmZq = on",
    }[sample]
    return [
        "Beams:eCM = 14000.",
        proc,
        "WeakZ0:gmZmode = 2",          # pure Z0, no gamma*
        "23:onMode = off",
        "23:onIfAny = 12 14 16",       # Z -> nu nu only
        f"PhaseSpace:pTHatMin = {pthatmin}",
        "PartonLevel:MPI = on",
        "HadronLevel:all = on",
        "Random:setSeed = on",
        f"Random:seed = {seed}",
        "Next:numberCount = 0",
        "Next:numberShowEvent = 0",
        "Next:numberShowInfo = 0",
        "Next:numberShowProcess = 0",
        "Print:quiet = on",
    ]


def wrap_phi(d):
    return (d + np.pi) % (2 * np.pi) - np.pi


def observables(pt, y, phi, charge, jet):
    """Jet observables from one jet's constituents (1-D arrays, unpadded).

    jet = (pt, eta, y, phi, mass) of the FastJet jet (E-scheme).
    """
    jpt, jeta, jy, jphi, jm = jet
    n = pt.size
    z = pt / pt.sum()
    dy = y - jy
    dphi = wrap_phi(phi - jphi)
    dr = np.sqrt(dy * dy + dphi * dphi)
    chg = charge != 0
    girth = float(np.sum(pt * dr) / jpt)
    ptd = float(np.sqrt(np.sum(pt * pt)) / pt.sum())
    lha = float(np.sum(z * np.sqrt(dr / R)))
    l12 = float(np.sum(z * (dr / R) ** 2))
    lead = float(pt.max() / jpt)
    # energy correlation functions, beta = 1 (pairwise dR in (y, phi))
    ddy = y[:, None] - y[None, :]
    ddp = wrap_phi(phi[:, None] - phi[None, :])
    drij = np.sqrt(ddy * ddy + ddp * ddp)
    zz = z[:, None] * z[None, :]
    e2 = float(np.sum(np.triu(zz * drij, 1)))
    # e3 = sum_{i<j<k} z_i z_j z_k dR_ij dR_ik dR_jk.  With w_ij = dR_ij z_j the sum over all
    # ordered triples is sum_i z_i (w D w^T)_ii (terms with repeated indices vanish), = 6 e3.
    w = drij * z[None, :]
    e3 = float(np.sum(z * np.einsum("ij,ij->i", w @ drij, w)) / 6.0)
    c2 = e3 / e2 ** 2 if e2 > 0 else 0.0
    d2 = e3 / e2 ** 3 if e2 > 0 else 0.0
    charged_frac = float(pt[chg].sum() / pt.sum())
    # pt^2-weighted covariance in (y, phi) around the weighted mean
    w2 = pt * pt
    sw = w2.sum()
    my = np.sum(w2 * dy) / sw
    mp = np.sum(w2 * dphi) / sw
    cyy = np.sum(w2 * (dy - my) ** 2) / sw
    cpp = np.sum(w2 * (dphi - mp) ** 2) / sw
    cyp = np.sum(w2 * (dy - my) * (dphi - mp)) / sw
    tr = cyy + cpp
    det = cyy * cpp - cyp * cyp
    disc = np.sqrt(max(tr * tr / 4 - det, 0.0))
    lmaj = tr / 2 + disc
    lmin = max(tr / 2 - disc, 0.0)
    return [
        jpt, jeta, jm, float(n), float(chg.sum()), girth, ptd, lha, l12, lead,
        e2, c2, d2, charged_frac, float(np.sqrt(lmaj)), float(np.sqrt(lmin)),
    ]


class ChargeTable:
    def __init__(self, pythia):
        self.pd = pythia.particleData
        self.cache = {}

    def __call__(self, pids):
        out = np.empty(len(pids), dtype=np.int8)
        for i, p in enumerate(pids):
            c = self.cache.get(p)
            if c is None:
                c = int(round(self.pd.charge(int(p))))
                self.cache[p] = c
            out[i] = c
        return out


def import_pythia():
    """pythia8mc, imported with the working directory set to this file's directory: the
    module's initialization reads a directory named `python` in the working directory if there is
    one (the repository root has one, the bit2hls package) and fails with "ImportError:
    initialization failed" (seen with pythia8mc 8.317.2)."""
    here = os.path.dirname(os.path.abspath(__file__))
    cwd = os.getcwd()
    os.chdir(here)
    try:
        import pythia8mc
    finally:
        os.chdir(cwd)
    return pythia8mc


def write_shards(a, name, run, wrote):
    """The shards k = a.first_shard, ... holding a.jets accepted jets (a.shard_size each) as
    `a.out/<name>_seed<a.seed>_shard<k>.npz`, Pythia seed a.seed * 1000 + k; a shard that exists is
    skipped (an interrupted run resumes). `run(pseed, n)` generates one (a dict of arrays, written
    to a temporary name and renamed), `wrote(path, n, res)` reports it. Shared by generate_wz.py."""
    os.makedirs(a.out, exist_ok=True)
    nshards = (a.jets + a.shard_size - 1) // a.shard_size
    for k in range(a.first_shard, a.first_shard + nshards):
        n = min(a.shard_size, a.jets - (k - a.first_shard) * a.shard_size)
        path = os.path.join(a.out, f"{name}_seed{a.seed}_shard{k:03d}.npz")
        if os.path.exists(path):
            print(f"{path} exists, skipping", flush=True)
            continue
        pseed = a.seed * 1000 + k
        print(f"shard {k}: {name}, pythia seed {pseed}, {n} jets", flush=True)
        res = run(pseed, n)
        tmp = path + ".tmp.npz"
        np.savez_compressed(tmp, **res)
        os.replace(tmp, path)
        wrote(path, n, res)


def run_shard(sample, pseed, njets, pthatmin, batch, log):
    import awkward as ak
    import fastjet

    pythia8mc = import_pythia()
    pythia = pythia8mc.Pythia("", False)
    for s in pythia_settings(sample, pseed, pthatmin):
        if not pythia.readString(s):
            raise RuntimeError(f"Pythia refused setting: {s}")
    if not pythia.init():
        raise RuntimeError("Pythia init failed")
    charge_of = ChargeTable(pythia)
    jetdef = fastjet.JetDefinition(fastjet.antikt_algorithm, R)

    c_pt = np.zeros((njets, NPAD), np.float32)
    c_y = np.zeros((njets, NPAD), np.float32)
    c_phi = np.zeros((njets, NPAD), np.float32)
    c_pid = np.zeros((njets, NPAD), np.int32)
    c_charge = np.zeros((njets, NPAD), np.int8)
    feats = np.zeros((njets, len(FEATURES)), np.float64)
    pthat = np.zeros(njets, np.float32)
    n_acc = 0
    n_events = 0
    n_overflow = 0
    t0 = time.time()
    while n_acc < njets:
        ev = pythia.nextBatch(batch)
        n_events += len(ev)
        prt = ev.prt
        aid = abs(prt.id)
        sel = (prt.status > 0) & (aid != 12) & (aid != 14) & (aid != 16)
        vis = prt[sel]
        mom = ak.zip({"px": vis.p.px, "py": vis.p.py, "pz": vis.p.pz, "E": vis.p.e},
                     with_name="Momentum4D")
        cs = fastjet.ClusterSequence(mom, jetdef)
        jets = cs.inclusive_jets(min_pt=100.0)
        cidx = cs.constituent_index(min_pt=100.0)
        jpx = ak.to_list(jets.px)
        jpy = ak.to_list(jets.py)
        jpz = ak.to_list(jets.pz)
        jE = ak.to_list(jets.E)
        pids_all = vis.id
        pthat_ev = np.sqrt(ak.to_numpy(ev.info.pT2Hat))
        vpx, vpy, vpz, vE = vis.p.px, vis.p.py, vis.p.pz, vis.p.e
        for e in range(len(jpx)):
            if not jpx[e]:
                continue
            px = np.asarray(jpx[e]); py_ = np.asarray(jpy[e])
            pz = np.asarray(jpz[e]); E = np.asarray(jE[e])
            pts = np.hypot(px, py_)
            k = int(np.argmax(pts))
            jpt = pts[k]
            jy = 0.5 * np.log((E[k] + pz[k]) / (E[k] - pz[k]))
            if not (PT_MIN < jpt < PT_MAX and abs(jy) < Y_MAX):
                continue
            jp = np.sqrt(px[k] ** 2 + py_[k] ** 2 + pz[k] ** 2)
            jeta = np.arctanh(pz[k] / jp)
            jphi = np.arctan2(py_[k], px[k])
            jm = np.sqrt(max(E[k] ** 2 - jp ** 2, 0.0))
            idx = np.asarray(cidx[e][k])
            cpx = np.asarray(vpx[e])[idx]; cpy = np.asarray(vpy[e])[idx]
            cpz = np.asarray(vpz[e])[idx]; cE = np.asarray(vE[e])[idx]
            pid = np.asarray(pids_all[e])[idx]
            pt = np.hypot(cpx, cpy)
            y = 0.5 * np.log((cE + cpz) / (cE - cpz))
            phi = np.arctan2(cpy, cpx)
            order = np.argsort(-pt, kind="stable")
            pt, y, phi, pid = pt[order], y[order], phi[order], pid[order]
            chg = charge_of(pid)
            pthat[n_acc] = pthat_ev[e]
            feats[n_acc] = observables(pt, y, phi, chg, (jpt, jeta, jy, jphi, jm))
            m = min(pt.size, NPAD)
            n_overflow += pt.size > NPAD
            c_pt[n_acc, :m] = pt[:m]
            c_y[n_acc, :m] = y[:m]
            c_phi[n_acc, :m] = phi[:m]
            c_pid[n_acc, :m] = pid[:m]
            c_charge[n_acc, :m] = chg[:m]
            n_acc += 1
            if n_acc == njets:
                break
        dt = time.time() - t0
        print(f"  seed {pseed}: {n_events} events, {n_acc} jets, {dt:.0f} s, "
              f"{n_acc / dt:.2f} jets/s", file=log, flush=True)
    dt = time.time() - t0
    return dict(
        c_pt=c_pt, c_y=c_y, c_phi=c_phi, c_pid=c_pid, c_charge=c_charge,
        features=feats.astype(np.float32), feature_names=np.array(FEATURES),
        pthat=pthat,
        label=np.full(njets, 1 if sample == "quark" else 0, np.int64),
        n_events=np.int64(n_events), n_overflow=np.int64(n_overflow),
        seconds=np.float64(dt), pythia_seed=np.int64(pseed),
        pthatmin=np.float64(pthatmin),
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sample", choices=["quark", "gluon"], required=True)
    ap.add_argument("--seed", type=int, required=True, help="base seed (1..899999)")
    ap.add_argument("--jets", type=int, required=True, help="total accepted jets")
    ap.add_argument("--shard-size", type=int, default=2000)
    ap.add_argument("--first-shard", type=int, default=0)
    ap.add_argument("--pthatmin", type=float, default=450.0)
    ap.add_argument("--batch", type=int, default=200, help="Pythia events per nextBatch call")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "raw"))
    a = ap.parse_args()

    def wrote(path, n, res):
        print(f"wrote {path}: {n} jets from {int(res['n_events'])} events in "
              f"{float(res['seconds']):.0f} s ({n / float(res['seconds']):.2f} jets/s, "
              f"{int(res['n_overflow'])} jets with > {NPAD} constituents)", flush=True)

    write_shards(a, a.sample,
                 lambda pseed, n: run_shard(a.sample, pseed, n, a.pthatmin, a.batch, sys.stdout),
                 wrote)

if __name__ == "__main__":
    main()
