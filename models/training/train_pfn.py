#!/usr/bin/env python3
"""Train the particle-level quark/gluon taggers (Particle Flow Networks with BitLinear layers).

    PY=models/.venv/bin/python
    # one run (results appended to training/pfn_results.json under "runs")
    nice -n 19 $PY models/training/train_pfn.py run --tag t1 --n-max 32 --phi 64-64-32 --f 64-32 --lr 2e-3
    # train and ship models/<name>/ (safetensors + sidecar json, golden.npz, README.md)
    nice -n 19 $PY models/training/train_pfn.py run --ship qg_pfn --n-max 32 --phi 64-64-32 --f 64-32 --lr 2e-3 --seed 1

Data: data/qg_particles.npz (`x` float16 [n, 32, 5] = log_z, dy, dphi, charge, photon; `mask`
uint8 [n, 32]; `y` int8, 1 = quark; `split` int8, 0 train / 1 val) and data/test_particles.npz
(`x`, `mask`, `y` int64). x is converted with .astype(np.float32): exactly the values the
firmware reads. With --n-max 16 the first 16 slots (the 16 highest-pT particles) and their mask
are used.

Model (training/pfn.py): PFN with phi = [FixedBatchNorm (input standardization), BitLinear 5→h1,
ReLU, ..., BitLinear →L, ReLU], masked sum (or --pool max) over the real particles, f =
[BitLinear L→…, ReLU, …, BitLinear →2]. The standardization is (x − mean) / sqrt(std² + 1e-5)
per feature with mean/std over the REAL particles of the train split (float64, stored as
float32); it is part of the model (an eval-mode batchnorm layer, phi.0), so the model's input is
the raw particle file. (Reason: the first BitLinear quantizes each particle with one absmax
scale over its 5 features; log_z ~ −14..0 would otherwise squeeze dy, dphi ~ ±0.4 to a few codes.)

Training: Adam, one-cycle LR (max --lr, 10 % warm-up) over --epochs, batch --batch,
cross-entropy on 2 logits, torch.manual_seed(--seed) before building the model, data order from a
torch.Generator seeded with --seed; the epoch with the best validation AUC is kept, and training
stops after --patience epochs without improvement. --augment reflects each training jet at random
(dy -> -dy, dphi -> -dphi, independently with probability 1/2: symmetries of the pp sample),
drawn from the same generator.

Per-jet inputs (--jet all): the 16 standardized jet observables of data/qg_features.npz (the
jet-level MLPs' input, in the file's order) are concatenated after the pool, f's input being
[pooled (L), jet (16)] (PFN n_jet = 16; exported as {"op": "jet_concat"} after the pool and
`particles` {"jet_features": 16}). Train/val jets get theirs through qg_particles.npz's `index`
(row in qg_features.npz): ((X[index].astype(float32) - mean) / std) in float32, exactly
make_training_file.standardize (data/add_jet_inputs.py: jet_inputs); test jets from the `jet` key
of test_particles.npz (= test_jets.npz's x; data/add_jet_inputs.py writes it). --f-bn puts a
trainable batchnorm (batch statistics in training, running statistics in eval) in front of f:
pooled sums are O(10-100), the standardized jet features O(1), and f's first BitLinear quantizes
the concatenated vector with one absmax scale. With --augment and --jet all, the reflection
dy -> -dy also reflects the jet's rapidity: the standardized jet_eta is mapped to the
standardized −jet_eta (all other jet observables are invariant under both reflections).
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
from pfn import PFN, floor_dead_bn, golden, summarize  # noqa: E402
from train import auc, rejections  # noqa: E402

sys.path.insert(0, os.path.join(MODELS, "data"))
from add_jet_inputs import jet_inputs, jet_names  # noqa: E402

N_GOLDEN = 2000
FEATURES = ["log_z", "dy", "dphi", "charge", "photon"]


def load_data(data_path, test_path, n_max, jet="none", features_path=None):
    d = np.load(data_path)
    t = np.load(test_path)
    x, mask = d["x"][:, :n_max].astype(np.float32), d["mask"][:, :n_max].astype(np.uint8)
    y, split = d["y"].astype(np.int64), d["split"]
    xte, mte = t["x"][:, :n_max].astype(np.float32), t["mask"][:, :n_max].astype(np.uint8)
    yte = t["y"].astype(np.int64)
    assert x.shape[2] == len(FEATURES) and xte.shape[2] == len(FEATURES)
    tr, va = split == 0, split == 1
    # standardization constants: real particles of the train split, float64
    real = x[tr][mask[tr].astype(bool)].astype(np.float64)
    mean, std = real.mean(0).astype(np.float32), real.std(0).astype(np.float32)
    out = dict(xtr=x[tr], mtr=mask[tr], ytr=y[tr], xva=x[va], mva=mask[va], yva=y[va],
               xte=xte, mte=mte, yte=yte, mean=mean, std=std, n_max=n_max,
               data=os.path.relpath(data_path), test=os.path.relpath(test_path),
               n_jet=0, jtr=None, jva=None, jte=None)
    if jet == "all":
        fp = features_path or os.path.join(MODELS, "data", "qg_features.npz")
        feats = np.load(fp)
        index = d["index"].astype(np.int64)
        # the rows are the same jets: labels and split of qg_features.npz agree
        assert np.array_equal(feats["y"][index].astype(np.int64), y), "index: labels differ"
        assert np.array_equal(feats["split"][index], split), "index: split differs"
        J = jet_inputs(feats, index)  # float32 [n, 16]
        names = jet_names(feats)
        if "jet" not in t.files:
            raise SystemExit(f"{test_path}: no 'jet' key (the per-jet inputs); run "
                             f"models/data/add_jet_inputs.py")
        jte = np.ascontiguousarray(t["jet"], dtype=np.float32)
        if jte.shape != (len(yte), len(names)) or [str(v) for v in t["jet_names"]] != [str(v) for v in names]:
            raise SystemExit(f"{test_path}: 'jet' {list(jte.shape)} / 'jet_names' do not match "
                             f"{fp}'s {len(names)} features")
        out.update(n_jet=len(names), jtr=J[tr], jva=J[va], jte=jte,
                   jet_names=[str(v) for v in names], jet_mean=feats["mean"], jet_std=feats["std"],
                   features=os.path.relpath(fp))
    return out


def n_params(model):
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def logits(model, x, mask, jet=None, chunk=4096):
    model.eval()
    outs = [model(torch.as_tensor(x[i:i + chunk]), torch.as_tensor(mask[i:i + chunk]),
                  None if jet is None else torch.as_tensor(jet[i:i + chunk]))
            for i in range(0, len(x), chunk)]
    return torch.cat(outs)


def evaluate(model, x, mask, y, jet=None, full=False):
    out = logits(model, x, mask, jet)
    p = torch.softmax(out, dim=1)[:, 1].numpy()
    r = {"acc": float((out.argmax(1).numpy() == y).mean()), "auc": auc(y, p),
         "loss": float(F.cross_entropy(out, torch.as_tensor(y)).item())}
    if full:
        rej = rejections(y, p)
        r["rej50"], r["rej30"] = rej[0.5], rej[0.3]
    return r


@torch.no_grad()
def sparsity(model):
    """Per linear layer (phi then f): name, kind, shape, non-zero ternary weights."""
    rows = []
    for where in ("phi", "f"):
        for i, m in enumerate(getattr(model, where)):
            if isinstance(m, BitLinear):
                rows.append(dict(layer=f"{where}.{i}", kind="BitLinear", shape=list(m.weight.shape),
                                 weights=m.weight.numel(), nnz=int((m.ternary_codes() != 0).sum())))
            elif isinstance(m, nn.Linear):
                rows.append(dict(layer=f"{where}.{i}", kind="Linear", shape=list(m.weight.shape),
                                 weights=m.weight.numel(), nnz=m.weight.numel()))
    return rows


def build(a, data):
    phi = [len(FEATURES)] + [int(v) for v in a.phi.split("-")]
    f = [phi[-1] + data["n_jet"]] + [int(v) for v in a.f.split("-")] + [2]
    kinds = lambda s, n: s.split(",") if s else ["bit"] * n  # noqa: E731
    torch.manual_seed(a.seed)
    return PFN.from_sizes(data["n_max"], phi, f, pool=a.pool, act_bits=a.bits,
                          phi_kinds=kinds(a.phi_kinds, len(phi) - 1),
                          f_kinds=kinds(a.f_kinds, len(f) - 1),
                          standardize=(data["mean"], data["std"]),
                          trainable_standardize=a.train_std,
                          n_jet=data["n_jet"], f_bn_input=a.f_bn)


def reflect_jet_eta(jb, flip_y, data):
    """Standardized jet inputs of jets reflected in rapidity (flip_y = -1): jet_eta -> -jet_eta,
    i.e. z -> (-(z * std + mean) - mean) / std for the jet_eta column; the other observables are
    invariant under y -> -y and phi -> -phi."""
    k = data["jet_names"].index("jet_eta")
    m, s = float(data["jet_mean"][k]), float(data["jet_std"][k])
    z = jb[:, k]
    zr = (-(z * s + m) - m) / s
    jb = jb.clone()
    jb[:, k] = torch.where(flip_y < 0, zr, z)
    return jb


def train(model, data, a, log):
    gen = torch.Generator().manual_seed(a.seed)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=a.lr,
                           weight_decay=a.wd)
    xt, mt, yt = (torch.as_tensor(data[k]) for k in ("xtr", "mtr", "ytr"))
    jt = None if data["jtr"] is None else torch.as_tensor(data["jtr"])
    steps = a.epochs * ((len(yt) + a.batch - 1) // a.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=a.lr, total_steps=steps, pct_start=0.1)
    best, best_state, best_ep, history = None, None, -1, []
    for ep in range(a.epochs):
        t0 = time.time()
        model.train()
        perm = torch.randperm(len(yt), generator=gen)
        tot = 0.0
        for i in range(0, len(yt), a.batch):
            idx = perm[i:i + a.batch]
            xb = xt[idx]
            jb = None if jt is None else jt[idx]
            if a.augment:
                # random reflections dy -> -dy, dphi -> -dphi per jet (symmetries of the
                # sample: pp is symmetric under y -> -y and phi -> -phi)
                flip = torch.randint(0, 2, (len(idx), 1, 2), generator=gen).to(xb.dtype) * 2 - 1
                xb = torch.cat([xb[:, :, :1], xb[:, :, 1:3] * flip, xb[:, :, 3:]], dim=2)
                if jb is not None:
                    jb = reflect_jet_eta(jb, flip[:, 0, 0], data)
            loss = F.cross_entropy(model(xb, mt[idx]) if jb is None else model(xb, mt[idx], jb),
                                   yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            tot += loss.item() * len(idx)
        ev = evaluate(model, data["xva"], data["mva"], data["yva"], data["jva"])
        history.append(dict(epoch=ep + 1, train_loss=tot / len(yt), **{f"val_{k}": v for k, v in ev.items()}))
        print(f"    epoch {ep + 1:3d}: train loss {tot / len(yt):.4f}  val loss {ev['loss']:.4f} "
              f"acc {ev['acc']:.4f} auc {ev['auc']:.4f}  ({time.time() - t0:.0f} s)", file=log, flush=True)
        if a.fit_on_val:
            # val is part of the training set: no selection, the last epoch is kept
            best, best_ep = ev, ep + 1
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        elif best is None or ev["auc"] > best["auc"]:
            best, best_ep = ev, ep + 1
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        elif ep + 1 - best_ep >= a.patience:
            print(f"    early stop: no val AUC gain for {a.patience} epochs", file=log, flush=True)
            break
    model.load_state_dict(best_state)
    return best, best_ep, history


def fmt(v, n=9):
    return f"{float(v):.{n}g}"


def command_line(a):
    parts = ["python models/training/train_pfn.py run"]
    if a.ship:
        parts.append(f"--ship {a.ship}")
    else:
        parts.append(f"--tag {a.tag}")
    parts.append(f"--n-max {a.n_max} --phi {a.phi} --f {a.f} --pool {a.pool} --bits {a.bits} "
                 f"--lr {a.lr:g} --wd {a.wd:g} --batch {a.batch} --epochs {a.epochs} "
                 f"--patience {a.patience} --seed {a.seed} --threads {a.threads}")
    if a.phi_kinds:
        parts.append(f"--phi-kinds {a.phi_kinds}")
    if a.f_kinds:
        parts.append(f"--f-kinds {a.f_kinds}")
    if a.train_std:
        parts.append("--train-std")
    if a.augment:
        parts.append("--augment")
    if a.jet != "none":
        parts.append(f"--jet {a.jet}")
    if a.f_bn:
        parts.append("--f-bn")
    if a.fit_on_val:
        parts.append("--fit-on-val")
    return " ".join(parts)


def selection(a, res, data):
    """How the shipped epoch was chosen, and on which jets the model was trained."""
    if a.fit_on_val:
        return (f"`--fit-on-val`: trained on the train AND val splits ({len(data['ytr'])} jets of "
                f"`{data['data']}`) for exactly\n{a.epochs} epochs, the last epoch kept (no model "
                f"selection; the val AUC {res['val']['auc']:.4f} is in-sample and says nothing).\n"
                f"The test jets were never trained or selected on.")
    return (f"the epoch with the best validation AUC is kept (epoch {res['best_epoch']},\n"
            f"val AUC {res['val']['auc']:.4f}), early stop after {a.patience} epochs without "
            f"gain.\nData: `{data['data']}` (train {len(data['ytr'])}, val {len(data['yva'])} jets).")


def card(name, a, model, res, data, gold_lines):
    layers = "\n".join(f"| `{r['layer']}` | {r['kind']} | {r['shape'][1]} → {r['shape'][0]} | "
                       f"{r['weights']} | {r['nnz'] if r['kind'] == 'BitLinear' else '— (float)'} |"
                       for r in res["sparsity"])
    std_rows = "\n".join(f"| {i} | `{f}` | {fmt(m)} | {fmt(s)} |"
                         for i, (f, m, s) in enumerate(zip(FEATURES, data["mean"], data["std"])))
    arch = "\n".join(f"{q}: {m}" for q, m in model.named_modules() if q and "." in q)
    Q = 2 ** (a.bits - 1) - 1
    te = res["test"]
    G = data["n_jet"]
    # per-jet inputs: every piece below is empty when G == 0 (the card of a model without them
    # is unchanged)
    j_intro = j_part = j_gold = j_test = j_in = j_concat = j_sec = j_val = ""
    bn_f = ""
    if a.f_bn:
        bn_f = (f"`f.0` is a batchnorm on F's input{' [pooled, jet]' if G else ''} (`--f-bn`; "
                f"trained: batch statistics in training,\nrunning statistics in eval mode, "
                f"exported as an eval-mode `batchnorm`)"
                + (", so that the pooled sums\n(O(10-100)) and the jet features (O(1)) share F's "
                   "first BitLinear absmax scale sensibly." if G else ".")
                + (f" After training, its {len(res.get('f_bn_floored', []))} channels with a "
                   f"running variance below 1e-3 (pooled Φ outputs\nthat are 0 on every training "
                   f"jet) got running variance 1 (`pfn.floor_dead_bn`): on such jets the outputs do "
                   f"not change, and\nthe eval-mode scale is the weight instead of weight/sqrt(eps) "
                   f"≈ 316·weight, which would widen the firmware's proven\nranges by tens of bits. "
                   f"Every figure and file here is of that model." if res.get('f_bn_floored') else "")
                + "\n\n")
        if not G:
            j_sec = "\n" + bn_f[:-1]
    if G:
        j_intro = (f",\nconcatenated with the jet's {G} standardized jet observables (F's input = "
                   f"[pooled, jet], a\n{{\"op\": \"jet_concat\"}} after the pool)")
        j_part = f', "jet_features": {G}'
        j_gold = (f", `jet` float32 [n, {G}] (the standardized jet\n  observables, the model's "
                  f"per-jet input), `f_input` float32 [n, L + {G}] (F's input: pooled,\n  then jet)")
        j_test = (f";\n  the per-jet inputs in `jet` float32 [n, {G}] = `test_jets.npz`'s x, names "
                  f"in `jet_names`")
        j_in = f", jet [B, {G}] (standardized jet observables, below)"
        j_concat = f"\njet_concat: f's input = [pooled (L), jet ({G})], the pooled features first"
        jrows = "\n".join(f"| {i} | `{f}` | {fmt(m)} | {fmt(s)} |" for i, (f, m, s) in
                          enumerate(zip(data["jet_names"], data["jet_mean"], data["jet_std"])))
        j_sec = f"""
## Per-jet inputs (`--jet {a.jet}`)

The {G} jet observables of the jet-level models (`models/data/qg_features.npz`, in its order),
standardized exactly as `test_jets.npz`: jet = ((X.astype(float32) − mean) / std) in float32,
mean/std of `qg_features.npz` (train split). Training/validation jets get them through
`qg_particles.npz`'s `index` (row in `qg_features.npz`); the test and calibration files carry
them in their `jet` key (`jet_names` the names; `models/data/add_jet_inputs.py`). Your own jets:
`models/data/particle_features.py --jet-features` computes them from the constituents.

{bn_f}| # | jet input | mean | std |
|---|---|---|---|
{jrows}
"""
        j_val = (f"\nThe model also reads the per-jet inputs: the `--data` and `--calib` files "
                 f"must carry them in the\n`jet` key, float32 [jets, {G}] (both files above do).")
    return f"""# {name}

Particle-level quark/gluon jet tagger: a Particle Flow Network (Deep Sets) with BitLinear layers
(ternary weights, {a.bits}-bit activations): Φ on each of the (up to) {data['n_max']} highest-pT
particles, a masked **{a.pool}** over the real particles, F on the pooled vector{j_intro}.
Schema `bit2hls.arch/3`.

## Files

- `{name}.safetensors`: float master weights (F32) written by `models/export.py:
  save_for_bit2hls`, architecture (schema `bit2hls.arch/3`, `particles` {{"max": {data['n_max']},
  "features": 5{j_part}}}) in `__metadata__['bit2hls.arch']`.
- `{name}.json`: the same architecture document as a sidecar.
- `golden.npz`: PyTorch reference on the first {N_GOLDEN} test jets: `x` float32 [n, {data['n_max']}, 5]
  (raw features, the model's input), `mask` uint8 [n, {data['n_max']}], `y` float32 [n, 2] logits
  (model.eval(), no_grad, one batch), `label` int64 (1 = quark), `pooled` float32 [n, L] (the
  pool's output){j_gold}, `margin_<j>` float32 [n] rounding margins per BitLinear layer j (phi then f;
  `models/training/pfn.py: golden`).
- Test set: `models/data/test_particles.npz` (all {len(data['yte'])} test jets; `x` float16
  [n, 32, 5], read as float32{', the model reads the first 16 slots' if data['n_max'] < 32 else ''}{j_test}).

## Architecture

```
input x [B, {data['n_max']}, 5] (log_z, dy, dphi, charge, photon), mask [B, {data['n_max']}]{j_in}
phi (per particle, shared weights):
{chr(10).join('    ' + l for l in arch.splitlines() if l.strip().startswith('phi'))}
pool: masked {a.pool} over the real particles{' (padded slots contribute nothing)' if a.pool == 'sum' else ' (0 for a jet without particles)'}{j_concat}
f (per jet):
{chr(10).join('    ' + l for l in arch.splitlines() if l.strip().startswith('f.'))}
output: 2 logits, index 1 = quark; quark score = softmax(logits)[1]
```

| layer | kind | shape (in → out) | weights | non-zero ternary weights |
|---|---|---|---|---|
{layers}

Parameters: {res['params']} (trainable {res['trainable_params']}); {res['ternary_weights']} ternary
weights, {res['nnz_total']} non-zero.

`phi.0` is the input standardization, a batchnorm layer in eval mode (fixed: running statistics
from the train split, weight {'trained' if a.train_std else '1, bias 0, not trained'}, eps 1e-5):
(x − mean) / sqrt(var + 1e-5) · weight + bias, var = std². mean/std over the real particles of
the train split:

| # | feature | mean | std |
|---|---|---|---|
{std_rows}
{j_sec}
BitLinear semantics: bit2hls profile `bithep`{f' with act_bits {a.bits} (`profile_params`)' if a.bits != 8 else ''}
(`models/training/bitlinear.py`): β = max(mean|W|, 1e-8), T = clamp(round(W/β), −1, 1);
g = {Q} / max(max|x|, 1e-8) over the last axis, i.e. **per particle** in phi and per jet in f;
q = clamp(round(x·g), {-(Q + 1)}, {Q}); y = F.linear(q/g, T·β, bias).

## Training

`{res['command']}` (PyTorch {torch.__version__}, CPU, {a.threads} thread(s), run at `nice -n 19`
on 2 cores shared with other jobs; wall time {res['seconds']:.0f} s for {res['epochs_run']} epochs).
Adam (weight decay {a.wd:g}), one-cycle LR (max {a.lr:g}), batch {a.batch}, at most {a.epochs}
epochs, cross-entropy{'; training jets randomly reflected per jet (dy → −dy and dphi → −dphi, each with probability 1/2; `--augment`)' if a.augment else ''}; {selection(a, res, data)} Seed {a.seed}.

## Test performance (PyTorch float forward with fake quantization, all {len(data['yte'])} test jets)

| metric | value |
|---|---|
| accuracy | {te['acc']:.4f} |
| AUC | {te['auc']:.4f} |
| gluon rejection 1/ε_g at ε_q = 50 % | {te['rej50']:.2f} |
| gluon rejection 1/ε_g at ε_q = 30 % | {te['rej30']:.2f} |
| cross-entropy | {te['loss']:.4f} |

For comparison: the jet-level MLP `qg_mlp` (16 jet observables) has test AUC 0.8719.

Golden vectors: {'; '.join(gold_lines)}.

## Firmware accuracy (bit2hls validate)

The training script does not run the firmware: `bit2hls validate models/{name}/{name}.safetensors
--data models/data/test_particles.npz --calib models/data/calib_particles.npz` gives its agreement
and AUC per activation mode (the shipped cards carry that table).{j_val}
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["run"])
    ap.add_argument("--data", default=os.path.join(MODELS, "data", "qg_particles.npz"))
    ap.add_argument("--test", default=os.path.join(MODELS, "data", "test_particles.npz"))
    ap.add_argument("--tag", default="", help="name of the run in the results file")
    ap.add_argument("--ship", default="", help="write models/<SHIP>/ (files, golden, card)")
    ap.add_argument("--n-max", type=int, default=32)
    ap.add_argument("--phi", default="64-64-32", help="phi widths after the 5 inputs")
    ap.add_argument("--f", default="64-32", help="f hidden widths (the 2 logits are added)")
    ap.add_argument("--pool", default="sum", choices=["sum", "max"])
    ap.add_argument("--bits", type=int, default=8, help="activation bits of every BitLinear")
    ap.add_argument("--phi-kinds", default="", help="per phi linear layer 'bit' (BitLinear, "
                    "default) or 'lin' (full-precision nn.Linear), comma-separated")
    ap.add_argument("--f-kinds", default="", help="the same for f")
    ap.add_argument("--train-std", action="store_true",
                    help="train the standardization's weight/bias (its statistics stay fixed)")
    ap.add_argument("--fit-on-val", action="store_true",
                    help="train on the train AND val splits for exactly --epochs epochs and keep "
                         "the last epoch (no model selection; the reported val figures are then "
                         "in-sample)")
    ap.add_argument("--augment", action="store_true",
                    help="random per-jet reflections dy -> -dy, dphi -> -dphi in training")
    ap.add_argument("--jet", default="none", choices=["none", "all"],
                    help="per-jet inputs concatenated after the pool: none (default) or all = "
                         "the 16 standardized jet observables of qg_features.npz, in its order")
    ap.add_argument("--f-bn", action="store_true",
                    help="a trainable batchnorm as the first module of f (on [pooled, jet])")
    ap.add_argument("--features", default=os.path.join(MODELS, "data", "qg_features.npz"),
                    help="jet observables of the train/val jets (with --jet all), rows via "
                         "--data's index")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--wd", type=float, default=0.0)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--patience", type=int, default=8)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=MODELS)
    ap.add_argument("--results", default=os.path.join(HERE, "pfn_results.json"))
    a = ap.parse_args()
    if not a.tag:
        a.tag = a.ship or f"n{a.n_max}_phi{a.phi}_f{a.f}_{a.pool}_b{a.bits}_lr{a.lr:g}_s{a.seed}"
    torch.set_num_threads(a.threads)
    data = load_data(a.data, a.test, a.n_max, a.jet, a.features)
    if a.fit_on_val:
        for k in ("x", "m", "y", "j"):
            if data[k + "tr"] is not None:
                data[k + "tr"] = np.concatenate([data[k + "tr"], data[k + "va"]])
    model = build(a, data)
    print(f"{a.tag}: {command_line(a)}\n  {n_params(model)} params, train {len(data['ytr'])} val "
          f"{len(data['yva'])} test {len(data['yte'])}", flush=True)
    t0 = time.time()
    best, best_ep, history = train(model, data, a, sys.stdout)
    seconds = time.time() - t0
    # dead channels of F's input batchnorm: unit variance instead of 1/sqrt(eps) scales (the
    # model that is evaluated, exported and golden-tested is this one)
    floored = floor_dead_bn(model) if a.f_bn else []
    test = evaluate(model, data["xte"], data["mte"], data["yte"], data["jte"], full=True)
    val = evaluate(model, data["xva"], data["mva"], data["yva"], data["jva"], full=True)
    sp = sparsity(model)
    res = dict(tag=a.tag, command=command_line(a), n_max=a.n_max, phi=a.phi, f=a.f, pool=a.pool,
               act_bits=a.bits, phi_kinds=a.phi_kinds, f_kinds=a.f_kinds, lr=a.lr, wd=a.wd, batch=a.batch, seed=a.seed, train_std=a.train_std, augment=a.augment, epochs=a.epochs,
               threads=a.threads, params=n_params(model),
               trainable_params=sum(p.numel() for p in model.parameters() if p.requires_grad),
               ternary_weights=sum(r["weights"] for r in sp if r["kind"] == "BitLinear"),
               nnz_total=sum(r["nnz"] for r in sp if r["kind"] == "BitLinear"), sparsity=sp,
               best_epoch=best_ep, epochs_run=len(history), seconds=round(seconds, 1),
               val=val, test=test, history=history, data=data["data"], torch=torch.__version__,
               standardize=dict(mean=[float(v) for v in data["mean"]], std=[float(v) for v in data["std"]]))
    if data["n_jet"]:
        # only for runs with per-jet inputs (the records of other runs keep their keys)
        res.update(jet=a.jet, n_jet=data["n_jet"], jet_names=data["jet_names"],
                   jet_standardize=dict(features=data["features"],
                                        mean=[float(v) for v in data["jet_mean"]],
                                        std=[float(v) for v in data["jet_std"]]))
    if a.f_bn:
        res["f_bn"] = True
        res["f_bn_floored"] = [f"f.{i}[{c}]" for i, c in floored]
    print(f"  {a.tag}: val AUC {val['auc']:.4f}  test AUC {test['auc']:.4f} acc {test['acc']:.4f} "
          f"rej50 {test['rej50']:.2f} rej30 {test['rej30']:.2f}  ({seconds:.0f} s, best epoch {best_ep})",
          flush=True)
    if a.ship:
        odir = os.path.join(a.out, a.ship)
        os.makedirs(odir, exist_ok=True)
        model.eval()
        path = os.path.join(odir, f"{a.ship}.safetensors")
        save_for_bit2hls(model, path, name=a.ship)
        jg = None if data["jte"] is None else data["jte"][:N_GOLDEN]
        g = golden(model, data["xte"][:N_GOLDEN], data["mte"][:N_GOLDEN], data["yte"][:N_GOLDEN], jet=jg)
        # the golden logits are the evaluation's (one batch vs chunks: same per-jet values)
        assert np.allclose(g["y"], logits(model, data["xte"][:N_GOLDEN], data["mte"][:N_GOLDEN], jg).numpy(),
                           rtol=0, atol=1e-5)
        np.savez_compressed(os.path.join(odir, "golden.npz"), **g)
        lines = summarize(g)
        for l in lines:
            print(f"  golden {l}")
        with open(os.path.join(odir, "README.md"), "w") as fh:
            fh.write(card(a.ship, a, model, res, data, lines))
    results = json.load(open(a.results)) if os.path.exists(a.results) else {}
    results.setdefault("runs", [])
    results["runs"] = [r for r in results["runs"] if r["tag"] != a.tag] + [res]
    if a.ship:
        results.setdefault("models", {})[a.ship] = {k: v for k, v in res.items() if k != "history"}
    with open(a.results, "w") as fh:
        json.dump(results, fh, indent=1)


if __name__ == "__main__":
    main()
