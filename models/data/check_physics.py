#!/usr/bin/env python3
"""Physics sanity check of the quark/gluon sample (data/qg_features.npz).

    python data/check_physics.py | tee data/physics_check.txt

Prints mean constituent multiplicity for quark and gluon jets (expected about 34 vs 54 for
500-550 GeV anti-kT R=0.4 jets, Komiske-Metodiev-Thaler's Pythia samples), the AUC of the
multiplicity alone (about 0.84) and of a logistic regression on six classic observables
(about 0.85), trained on the train split and evaluated on the test split.
"""
import argparse
import os

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

HERE = os.path.dirname(os.path.abspath(__file__))
SIX = ["n_const", "n_charged", "jet_mass", "girth", "ptd", "lha"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(HERE, "qg_features.npz"))
    a = ap.parse_args()
    d = np.load(a.data)
    X, y, split = d["X"].astype(np.float64), d["y"].astype(np.int64), d["split"]
    names = [str(s) for s in d["feature_names"]]
    col = {n: i for i, n in enumerate(names)}
    tr, te = split == 0, split == 2
    print(f"data: {a.data}")
    print(f"jets: {len(y)} total ({int(y.sum())} quark, {int((1 - y).sum())} gluon); "
          f"train {int(tr.sum())}, val {int((split == 1).sum())}, test {int(te.sum())}")
    print()
    print("mean values, quark vs gluon (all jets):")
    for n in ["n_const", "n_charged", "jet_mass", "girth", "ptd", "lha", "jet_pt", "jet_eta"]:
        v = X[:, col[n]]
        print(f"  {n:10s} quark {v[y == 1].mean():9.4f}   gluon {v[y == 0].mean():9.4f}")
    nc = X[:, col["n_const"]]
    print()
    print(f"mean multiplicity: quark {nc[y == 1].mean():.2f}, gluon {nc[y == 0].mean():.2f} "
          f"(expected ~34 vs ~54)")
    # quark jets have fewer constituents: score = -multiplicity
    auc_mult = roc_auc_score(y[te], -nc[te])
    print(f"multiplicity-alone AUC (test split): {auc_mult:.4f} (expected ~0.84)")
    idx = [col[n] for n in SIX]
    Xtr, Xte = X[tr][:, idx], X[te][:, idx]
    mu, sd = Xtr.mean(0), Xtr.std(0)
    lr = LogisticRegression(max_iter=2000)
    lr.fit((Xtr - mu) / sd, y[tr])
    p = lr.predict_proba((Xte - mu) / sd)[:, 1]
    auc_lr = roc_auc_score(y[te], p)
    acc_lr = float(((p > 0.5) == y[te]).mean())
    print(f"logistic regression on {len(SIX)} observables {SIX}:")
    print(f"  test AUC {auc_lr:.4f} (expected ~0.85), test accuracy {acc_lr:.4f}")
    Xtr, Xte = X[tr], X[te]
    mu, sd = Xtr.mean(0), Xtr.std(0)
    lr = LogisticRegression(max_iter=4000)
    lr.fit((Xtr - mu) / sd, y[tr])
    p = lr.predict_proba((Xte - mu) / sd)[:, 1]
    print(f"logistic regression on all {len(names)} features: test AUC "
          f"{roc_auc_score(y[te], p):.4f}, accuracy {float(((p > 0.5) == y[te]).mean()):.4f}")


if __name__ == "__main__":
    main()
