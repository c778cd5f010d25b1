#!/usr/bin/env python3
"""Train the shipped quark/gluon BitNet MLPs and write their files, golden vectors and cards.

    python training/train.py                       # all three models, default settings
    python training/train.py --models qg_mlp --epochs 5     # quick run

Inputs: data/qg_features.npz (make_training_file.py) and data/test_jets.npz.  The inputs of
every model are the standardized features x = (X - mean) / std (float32; mean/std from the
train split, stored in qg_features.npz and in each model card).

Models (all: 16 inputs, 2 logits; class 1 = quark; argmax = prediction):
  qg_mlp          BitLinear(16,64) ReLU BitLinear(64,32) ReLU BitLinear(32,32) ReLU BitLinear(32,2)
                  bias=True; saved with plain safetensors.torch.save_file(model.state_dict())
  qg_mlp_partial  same, but the first and last layers are full-precision nn.Linear; saved
                  with export.save_for_bit2hls (architecture in __metadata__ + sidecar .json)
  qg_mlp_tiny     smallest bias-free BitLinear MLP that still separates well (chosen among
                  --tiny-candidates by validation AUC); plain save_file(state_dict)

Outputs per model in models/<name>/: <name>.safetensors, golden.npz (first 2,000 test jets),
README.md (model card).  training/results.json collects the numbers.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, MODELS)
from bitlinear import BitLinear  # noqa: E402
from export import save_for_bit2hls  # noqa: E402
from golden import save_golden, summarize  # noqa: E402

N_GOLDEN = 2000


def mlp(sizes, kinds, bias=True, act_bits=8):
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(BitLinear(a, b, bias=bias, act_bits=act_bits) if kinds[i] == "bit"
                      else nn.Linear(a, b, bias=bias))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def auc(y, s):
    from sklearn.metrics import roc_auc_score
    return float(roc_auc_score(y, s))


def rejections(y, s, effs=(0.5, 0.3)):
    """Background (gluon) rejection 1/ε_g at the given quark efficiencies (ROC interpolated
    linearly)."""
    from sklearn.metrics import roc_curve
    fpr, tpr, _ = roc_curve(y, s)
    out = {}
    for e in effs:
        f = float(np.interp(e, tpr, fpr))
        out[e] = 1.0 / f if f > 0 else float("inf")
    return out


@torch.no_grad()
def evaluate(model, x, y):
    model.eval()
    out = model(torch.as_tensor(x))
    p = torch.softmax(out, dim=1)[:, 1].numpy()
    acc = float((out.argmax(1).numpy() == y).mean())
    loss = float(F.cross_entropy(out, torch.as_tensor(y)).item())
    return {"acc": acc, "auc": auc(y, p), "loss": loss}


def train(model, data, epochs, lr, batch, seed, log):
    xtr, ytr, xva, yva = data
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    steps = epochs * ((len(ytr) + batch - 1) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    xt, yt = torch.as_tensor(xtr), torch.as_tensor(ytr)
    best, best_state, best_ep = None, None, -1
    for ep in range(epochs):
        model.train()
        perm = torch.randperm(len(yt), generator=gen)
        tot = 0.0
        for i in range(0, len(yt), batch):
            idx = perm[i:i + batch]
            loss = F.cross_entropy(model(xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            tot += loss.item() * len(idx)
        ev = evaluate(model, xva, yva)
        print(f"    epoch {ep + 1:3d}: train loss {tot / len(yt):.4f}  val loss {ev['loss']:.4f} "
              f"acc {ev['acc']:.4f} auc {ev['auc']:.4f}", file=log, flush=True)
        if best is None or ev["loss"] < best["loss"]:
            best, best_ep = ev, ep + 1
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    return best, best_ep


def fmt_arr(a):
    return "[" + ", ".join(f"{float(v):.9g}" for v in a) + "]"


def card(name, desc, model, saved_how, res, feats, mean, std, info, gold_lines):
    rows = "\n".join(f"| {i} | `{f}` | {float(m):.9g} | {float(s):.9g} |"
                     for i, (f, m, s) in enumerate(zip(feats, mean, std)))
    arch = "\n".join(f"    {i}: {m}" for i, m in enumerate(model))
    return f"""# {name}

{desc}

## Files

- `{name}.safetensors`: {saved_how}
- `golden.npz`: PyTorch reference for the first {N_GOLDEN} test jets (keys `x`, `y`, `label`,
  `codes_<j>`, `margin_<j>`, `g_<j>`; see `models/golden.py` for the exact definitions).
- Test set (all {info['n_test']} test jets, standardized): `models/data/test_jets.npz`
  (`x` float32 [n,16], `y` int64, 1 = quark).

## Architecture

```
{arch}
```

Parameters: {n_params(model)} ({sum(m.weight.numel() for m in model if isinstance(m, BitLinear))}
ternary weights in BitLinear layers). Output: 2 logits, index 1 = quark; prediction = argmax;
quark score = softmax(logits)[1].

BitLinear semantics: bit2hls profile `bithep` (`models/training/bitlinear.py`): β = max(mean|W|,
1e-8), T = clamp(round(W/β), -1, 1); g = 127 / max(max|x|, 1e-8) per sample; q = clamp(round(x·g),
-128, 127); y = F.linear(q/g, T·β, bias) (STE forms; float bias added after).

## Data

Quark (pp → Z(→νν)+q, `WeakBosonAndParton:qg2gmZq`) vs gluon (pp → Z(→νν)+g,
`WeakBosonAndParton:qqbar2gmZg`) jets, Pythia 8.317 (pythia8mc), √s = 14 TeV, MPI and
hadronization on, anti-kT R = 0.4 (FastJet 3.5) on visible final-state particles, leading jet with
500 < pT < 550 GeV and |y| < 2; see `models/README.md`.
{info['n_jets']} jets (balanced), split train {info['n_train']} / val {info['n_val']} /
test {info['n_test']} (`models/data/qg_features.npz`, `split` 0/1/2).

## Features and standardization

Firmware/model input: x = (X − mean) / std, float32, with mean/std of the train split
(`mean`, `std` in `models/data/qg_features.npz`):

| # | feature | mean | std |
|---|---|---|---|
{rows}

`log_*` features are natural logs of the observable (floored at 1e-6).

## Training

{info['training']}

## Float (PyTorch) test performance

On the {info['n_test']} held-out test jets (PyTorch float forward with fake quantization):

| metric | value |
|---|---|
| accuracy | {res['acc']:.4f} |
| AUC | {res['auc']:.4f} |
| cross-entropy | {res['loss']:.4f} |

Reference (same test set): logistic regression on all 16 features AUC {info['lr16_auc']:.4f},
acc {info['lr16_acc']:.4f}; on six observables AUC {info['lr6_auc']:.4f}.

Golden vectors: {'; '.join(gold_lines) if gold_lines else 'no BitLinear layers'}.

## Firmware accuracy (bit2hls validate)

_To be filled in by the lead: `bit2hls validate models/{name}/{name}.safetensors --data
models/data/test_jets.npz` per activation mode (dynamic, dynamic-pow2, static), accuracy, AUC,
deltas vs the float numbers above, flipped codes._
"""


def logreg_refs(Xtr, ytr, Xte, yte, six_idx):
    from sklearn.linear_model import LogisticRegression
    r = {}
    lr = LogisticRegression(max_iter=4000).fit(Xtr, ytr)
    p = lr.predict_proba(Xte)[:, 1]
    r["lr16_auc"], r["lr16_acc"] = auc(yte, p), float(((p > 0.5) == yte).mean())
    lr = LogisticRegression(max_iter=4000).fit(Xtr[:, six_idx], ytr)
    r["lr6_auc"] = auc(yte, lr.predict_proba(Xte[:, six_idx])[:, 1])
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.path.join(MODELS, "data", "qg_features.npz"))
    ap.add_argument("--test", default=os.path.join(MODELS, "data", "test_jets.npz"))
    ap.add_argument("--models", default="qg_mlp,qg_mlp_partial,qg_mlp_tiny")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tiny-candidates", default="16-8-2,16-16-2,16-8-8-2,16-16-8-2")
    ap.add_argument("--tiny-tolerance", type=float, default=0.005,
                    help="pick the smallest tiny candidate whose val AUC is within this of the best")
    ap.add_argument("--out", default=MODELS)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--results", default=os.path.join(HERE, "results.json"))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    log = sys.stdout

    d = np.load(a.data)
    X, y, split = d["X"], d["y"].astype(np.int64), d["split"]
    mean, std = d["mean"], d["std"]
    feats = [str(s) for s in d["feature_names"]]
    xs = ((X.astype(np.float32) - mean) / std).astype(np.float32)
    tr, va, te = split == 0, split == 1, split == 2
    t = np.load(a.test)
    assert np.array_equal(t["x"], xs[te]) and np.array_equal(t["y"], y[te]), \
        "test_jets.npz does not match qg_features.npz; rerun make_training_file.py"
    data = (xs[tr], y[tr], xs[va], y[va])
    xte, yte = xs[te], y[te]
    six = [feats.index(f) for f in ["n_const", "n_charged", "jet_mass", "girth", "ptd", "lha"]]
    refs = logreg_refs(xs[tr], y[tr], xte, yte, six)
    print(f"logistic regression: 16 features test AUC {refs['lr16_auc']:.4f} acc "
          f"{refs['lr16_acc']:.4f}; 6 observables AUC {refs['lr6_auc']:.4f}", flush=True)
    info = dict(n_jets=int(len(y)), n_train=int(tr.sum()), n_val=int(va.sum()), n_test=int(te.sum()),
                **refs)
    results_path = a.results
    results = json.load(open(results_path)) if os.path.exists(results_path) else {}
    results["logistic_regression"] = refs
    results["data"] = {k: info[k] for k in ("n_jets", "n_train", "n_val", "n_test")}

    def run(name, sizes, kinds, bias):
        torch.manual_seed(a.seed)
        model = mlp(sizes, kinds, bias)
        t0 = time.time()
        print(f"training {name}: {'-'.join(map(str, sizes))} {kinds} bias={bias}, "
              f"{n_params(model)} params", flush=True)
        best, ep = train(model, data, a.epochs, a.lr, a.batch, a.seed, log)
        res = evaluate(model, xte, yte)
        res.update(best_epoch=ep, val=best, seconds=time.time() - t0, params=n_params(model),
                   sizes=sizes, kinds=kinds, bias=bias)
        print(f"  {name}: test acc {res['acc']:.4f} auc {res['auc']:.4f} "
              f"(best epoch {ep}, {res['seconds']:.0f} s)", flush=True)
        return model, res

    training_txt = (f"Adam, one-cycle LR schedule (max lr {a.lr}), batch {a.batch}, {a.epochs} epochs, "
                    f"cross-entropy, torch.manual_seed({a.seed}) before building the model; the "
                    f"epoch with the lowest validation loss is kept. Command: "
                    f"`python models/training/train.py --epochs {a.epochs} --lr {a.lr} "
                    f"--batch {a.batch} --seed {a.seed}` (PyTorch {torch.__version__}, CPU, "
                    f"{a.threads} thread).")

    def ship(name, model, res, desc, saved_how, plain):
        odir = os.path.join(a.out, name)
        os.makedirs(odir, exist_ok=True)
        path = os.path.join(odir, f"{name}.safetensors")
        model.eval()
        if plain:
            from safetensors.torch import save_file
            save_file({k: v.contiguous() for k, v in model.state_dict().items()}, path)
        else:
            save_for_bit2hls(model, path, name=name)
        g = save_golden(os.path.join(odir, "golden.npz"), model, xte[:N_GOLDEN], yte[:N_GOLDEN])
        lines = summarize(g)
        for l in lines:
            print(f"  golden {l}")
        with open(os.path.join(odir, "README.md"), "w") as f:
            f.write(card(name, desc, model, saved_how, res, feats, mean, std,
                         dict(info, training=training_txt), lines))
        results[name] = {k: v for k, v in res.items()}
        with open(results_path, "w") as f:
            json.dump(results, f, indent=2)

    names = a.models.split(",")
    if "qg_mlp" in names:
        m, r = run("qg_mlp", [16, 64, 32, 32, 2], ["bit"] * 4, True)
        ship("qg_mlp", m, r,
             "Quark/gluon jet tagger: 4 BitLinear layers (ternary weights, 8-bit activations) with biases.",
             "plain `safetensors.torch.save_file(model.state_dict(), path)` of an `nn.Sequential`, "
             "no metadata (keys `0.weight`, `0.bias`, `2.weight`, ...; float32 master weights). "
             "bit2hls infers the layer stack from the tensor names.", True)
    if "qg_mlp_partial" in names:
        m, r = run("qg_mlp_partial", [16, 64, 32, 32, 2], ["lin", "bit", "bit", "lin"], True)
        ship("qg_mlp_partial", m, r,
             "Quark/gluon jet tagger, mixed precision: full-precision first and last layers "
             "(nn.Linear), two BitLinear hidden layers.",
             "written by `models/export.py: save_for_bit2hls` (architecture JSON in "
             "`__metadata__['bit2hls.arch']`, schema `bit2hls.arch/1`); the same document is in "
             "the sidecar `qg_mlp_partial.json`.", False)
    if "qg_mlp_tiny" in names:
        cands = []
        for c in a.tiny_candidates.split(","):
            sizes = [int(v) for v in c.split("-")]
            m, r = run(f"tiny {c}", sizes, ["bit"] * (len(sizes) - 1), False)
            cands.append((r["params"], c, m, r))
        best_auc = max(r["val"]["auc"] for _, _, _, r in cands)
        ok = sorted([c for c in cands if c[3]["val"]["auc"] >= best_auc - a.tiny_tolerance],
                    key=lambda c: c[0])
        params, c, m, r = ok[0]
        results["tiny_candidates"] = {cc: {"params": rr["params"], "val_auc": rr["val"]["auc"],
                                           "test_auc": rr["auc"], "test_acc": rr["acc"]}
                                      for _, cc, _, rr in cands}
        print(f"  tiny choice: {c} ({params} params)", flush=True)
        cand_txt = "; ".join(f"{cc}: {rr['params']} params, val AUC {rr['val']['auc']:.4f}, "
                             f"test AUC {rr['auc']:.4f}" for _, cc, _, rr in cands)
        ship("qg_mlp_tiny", m, r,
             f"Smallest quark/gluon tagger: bias-free BitLinear MLP {c}. Chosen as the smallest of "
             f"the candidates whose validation AUC is within {a.tiny_tolerance} of the best "
             f"({cand_txt}).",
             "plain `safetensors.torch.save_file(model.state_dict(), path)` of an `nn.Sequential` "
             "of bias-free BitLinear layers, no metadata (keys `0.weight`, `2.weight`, ...).", True)


if __name__ == "__main__":
    main()
