#!/usr/bin/env python3
"""Train the W decay-plane regressors of issue 13 (Particle Flow Networks, one output).

    PY=models/.venv/bin/python
    # one run (results appended to training/wz_results.json under "runs")
    nice -n 19 $PY models/training/train_wz.py run --tag t1 --phi 32-32-16 --f 32 --pool sum
    # train and ship models/<name>/ (safetensors + sidecar json, golden.npz, PyTorch outputs on
    # all test jets, README.md)
    nice -n 19 $PY models/training/train_wz.py run --ship wz_pfn --phi 32-32-16 --f 32 --pool sum

Task (BitHEP's SMEFTNet-BIT regression): from the 32 highest-pT particles of a boosted hadronic
W jet, predict phi_decay, the orientation of the W decay plane around the jet axis, defined
modulo pi (models/README.md, "W decay-plane regression data"). The network has ONE output f
(radians, any real value: only f modulo pi is meaningful); the loss is the seed's

    loss = mean(sin^2(f - phi_decay))          0 = exact, 0.5 = no information

Reported (validation and test): <sin^2(f - phi)>, and the residual r = f - phi wrapped into
[-pi/2, pi/2): its mean, standard deviation and 68 % half-width (q84.13 - q15.87) / 2 (the
definition of `bit2hls validate`; also the 68 % quantile of |r|), for the model and for the principal-axis baseline of data/check_wz.py
(pred = 1/2 atan2(sum z dr^2 sin2a, sum z dr^2 cos2a) over the same 32 particles of the same
file), on all jets and on the SMEFTNet-like subset (both quarks within 0.6 of the jet axis,
70 < m_jet < 110 GeV).

Data: data/wz_particles.npz (`x` float16 [n, 32, 8] = log_z, d1, d2, dr, cos2a, sin2a, charge,
photon; `mask` uint8; `target` float32 phi_decay in [-pi/2, pi/2); `split` 0 train / 1 val /
2 test) and data/test_wz.npz (the test split; x, mask, target: what `bit2hls validate` reads).
x is converted with .astype(np.float32): exactly the values the firmware reads. No other
preprocessing: the standardization is a layer of the model (below), and the log_z floor (-15)
is in the files (data/make_wz_file.py).

Model (training/pfn.py, as train_pfn.py): PFN with phi = [FixedBatchNorm (input
standardization, mean/std over the real particles of the train split), Linear 8->h1, ReLU, ...,
Linear ->L, ReLU], a masked --pool (sum or mean) over the real particles, f = [Linear L->..., ReLU,
..., Linear ->1]. Each Linear is a BitLinear (ternary weights, --bits activations; BitHEP
semantics, training/bitlinear.py) or a full-precision nn.Linear: --phi-kinds / --f-kinds, a
comma-separated list per layer, or one word (bit / lin) for the whole stack.

Training: Adam, one-cycle LR (max --lr, 10 % warm-up) over --epochs, batch --batch,
torch.manual_seed(--seed) before building the model, data order from a torch.Generator seeded
with --seed; the epoch with the lowest validation <sin^2> is kept, and training stops after
--patience epochs without improvement. --augment rot: every training jet is rotated about the
jet axis by a random angle b (d1, d2 rotated by b, (cos2a, sin2a) by 2b, the target shifted by
b; an exact property of the features and the target), and reflected (d2, sin2a and the target
negated) with probability 1/2; the rotated values are float32, not the file's float16 grid.
Validation and test jets are the files' x, never augmented.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import time

import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, MODELS)
from bitlinear import BitLinear  # noqa: E402
from export import save_for_bit2hls  # noqa: E402
from pfn import PFN, golden, summarize  # noqa: E402
from pfn_torch_outputs import build as build_from_file, forward as forward_from_file  # noqa: E402
from train_pfn import fmt, n_params, sparsity  # noqa: E402

sys.path.insert(0, os.path.join(MODELS, "data"))
from check_wz import principal_axis  # noqa: E402
from wz_features import FEATURE_NAMES, LOG_Z_MIN  # noqa: E402
from wz_target import reduce_mod_pi  # noqa: E402

N_GOLDEN = 2000
TASK = {"kind": "regression", "period": math.pi, "target": "phi_decay"}


def load_data(data_path, test_path, n_max=32):
    d = np.load(data_path)
    t = np.load(test_path)
    x, mask = d["x"][:, :n_max].astype(np.float32), d["mask"][:, :n_max].astype(np.uint8)
    y, split = d["target"].astype(np.float32), d["split"]
    xte, mte = t["x"][:, :n_max].astype(np.float32), t["mask"][:, :n_max].astype(np.uint8)
    yte = t["target"].astype(np.float32)
    assert [str(v) for v in d["feature_names"]] == FEATURE_NAMES
    assert [str(v) for v in t["feature_names"]] == FEATURE_NAMES
    # the test file is the test split of the data file, row for row
    te = split == 2
    assert np.array_equal(t["index"], np.flatnonzero(te))
    assert np.array_equal(d["x"][te][:, :n_max], t["x"][:, :n_max]) and np.array_equal(y[te], yte)
    tr, va = split == 0, split == 1
    real = x[tr][mask[tr].astype(bool)].astype(np.float64)
    mean, std = real.mean(0).astype(np.float32), real.std(0).astype(np.float32)

    def subset(f):
        return (f["dr_qmax"] < 0.6) & (f["jet_kin"][:, 3] > 70) & (f["jet_kin"][:, 3] < 110)

    return dict(xtr=x[tr], mtr=mask[tr], ytr=y[tr], xva=x[va], mva=mask[va], yva=y[va],
                xte=xte, mte=mte, yte=yte, sub_te=subset(t), mean=mean, std=std, n_max=n_max,
                data=os.path.relpath(data_path), test=os.path.relpath(test_path))


def kinds_of(s, n):
    if not s:
        return ["bit"] * n
    k = s.split(",")
    if len(k) == 1:
        k = k * n
    if len(k) != n or any(v not in ("bit", "lin") for v in k):
        raise SystemExit(f"kinds {s!r}: give 'bit' or 'lin' once or for each of the {n} layers")
    return k


def build(a, data):
    phi = [len(FEATURE_NAMES)] + [int(v) for v in a.phi.split("-")]
    f = [phi[-1]] + ([int(v) for v in a.f.split("-")] if a.f else []) + [1]
    torch.manual_seed(a.seed)
    return PFN.from_sizes(data["n_max"], phi, f, pool=a.pool, act_bits=a.bits,
                          phi_kinds=kinds_of(a.phi_kinds, len(phi) - 1),
                          f_kinds=kinds_of(a.f_kinds, len(f) - 1),
                          standardize=(data["mean"], data["std"]))


@torch.no_grad()
def predict(model, x, mask, chunk=4096):
    model.eval()
    return torch.cat([model(torch.as_tensor(x[i:i + chunk]), torch.as_tensor(mask[i:i + chunk]))
                      for i in range(0, len(x), chunk)])


def figures(pred, phi):
    """<sin^2(pred - phi)> and the residual r = pred - phi wrapped into [-pi/2, pi/2)."""
    pred, phi = np.asarray(pred, np.float64).reshape(-1), np.asarray(phi, np.float64)
    r = reduce_mod_pi(pred - phi)
    q16, q84 = np.quantile(r, [0.1587, 0.8413])  # as bit2hls validate (src/validate/regression.rs)
    return {"sin2": float(np.mean(np.sin(pred - phi) ** 2)), "res_mean": float(r.mean()),
            "res_std": float(r.std()), "res_w68": float((q84 - q16) / 2),
            "res_abs68": float(np.quantile(np.abs(r), 0.68)), "jets": int(len(r))}


def evaluate(model, x, mask, phi, sub=None):
    pred = predict(model, x, mask).numpy()[:, 0]
    r = figures(pred, phi)
    if sub is not None:
        r["subset"] = figures(pred[sub], phi[sub])
    return r


def baseline(x, mask, phi, sub=None):
    pred = principal_axis(x, mask, 1.0)
    r = figures(pred, phi)
    if sub is not None:
        r["subset"] = figures(pred[sub], phi[sub])
    return r


def augment(xb, yb, gen):
    """Random rotation about the jet axis (and reflection) of a batch; see the docstring."""
    n = xb.shape[0]
    b = (torch.rand(n, generator=gen) * 2 - 1) * math.pi
    refl = torch.randint(0, 2, (n,), generator=gen).to(xb.dtype) * 2 - 1  # -1 = reflect
    c, s = torch.cos(b)[:, None], torch.sin(b)[:, None]
    c2, s2 = torch.cos(2 * b)[:, None], torch.sin(2 * b)[:, None]
    d1, d2 = xb[:, :, 1], xb[:, :, 2] * refl[:, None]
    ca, sa = xb[:, :, 4], xb[:, :, 5] * refl[:, None]
    out = xb.clone()
    out[:, :, 1] = c * d1 - s * d2
    out[:, :, 2] = s * d1 + c * d2
    out[:, :, 4] = c2 * ca - s2 * sa
    out[:, :, 5] = s2 * ca + c2 * sa
    return out, yb * refl + b


def train(model, data, a, log):
    gen = torch.Generator().manual_seed(a.seed)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=a.lr,
                           weight_decay=a.wd)
    xt, mt, yt = (torch.as_tensor(data[k]) for k in ("xtr", "mtr", "ytr"))
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
            xb, yb = xt[idx], yt[idx]
            if a.augment == "rot":
                xb, yb = augment(xb, yb, gen)
            loss = torch.sin(model(xb, mt[idx])[:, 0] - yb).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            tot += loss.item() * len(idx)
        ev = evaluate(model, data["xva"], data["mva"], data["yva"])
        history.append(dict(epoch=ep + 1, train_loss=tot / len(yt), seconds=round(time.time() - t0, 1),
                            **{f"val_{k}": v for k, v in ev.items()}))
        print(f"    epoch {ep + 1:3d}: train <sin^2> {tot / len(yt):.4f}  val <sin^2> {ev['sin2']:.4f} "
              f"residual std {ev['res_std']:.4f} w68 {ev['res_w68']:.4f}  ({time.time() - t0:.0f} s)",
              file=log, flush=True)
        if best is None or ev["sin2"] < best["sin2"]:
            best, best_ep = ev, ep + 1
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        elif ep + 1 - best_ep >= a.patience:
            print(f"    early stop: no val gain for {a.patience} epochs", file=log, flush=True)
            break
    model.load_state_dict(best_state)
    return best, best_ep, history


def command_line(a):
    parts = ["python models/training/train_wz.py run"]
    parts.append(f"--ship {a.ship}" if a.ship else f"--tag {a.tag}")
    parts.append(f"--phi {a.phi} --f {a.f} --pool {a.pool} --bits {a.bits}")
    if a.phi_kinds:
        parts.append(f"--phi-kinds {a.phi_kinds}")
    if a.f_kinds:
        parts.append(f"--f-kinds {a.f_kinds}")
    parts.append(f"--augment {a.augment} --lr {a.lr:g} --wd {a.wd:g} --batch {a.batch} "
                 f"--epochs {a.epochs} --patience {a.patience} --seed {a.seed} --threads {a.threads}")
    return " ".join(parts)


def kind_words(model):
    """'BitLinear' / 'nn.Linear' / 'mixed' for phi and f."""
    out = []
    for seq in (model.phi, model.f):
        ks = {type(m).__name__ for m in seq if isinstance(m, nn.Linear)}
        out.append("BitLinear" if ks == {"BitLinear"} else "nn.Linear" if ks == {"Linear"} else "mixed")
    return out


def validate_cmd(name, exe="bit2hls"):
    return [exe, "validate", f"models/{name}/{name}.safetensors", "--data", "models/data/test_wz.npz",
            "--calib", "models/data/calib_wz.npz", "--reference",
            f"models/{name}/{name}_torch_test_jets.npy"]


def firmware_section(name, out):
    cmd = " ".join(validate_cmd(name))
    if out is None:
        return (f"Not run by this training run (give `--bit2hls PATH`): `{cmd}` compares the "
                f"firmware's\noutputs of every activation mode with the float model and PyTorch "
                f"(residuals modulo π: the document's `task`).\n")
    return (f"`{cmd}`\n(all {out['jets']} test jets; run by `train_wz.py --bit2hls` right after "
            f"export, with {out['exe_note']}; its output as printed):\n\n```\n"
            f"{out['stdout'].rstrip()}\n```\n")


def card(name, a, model, res, data, gold_lines, torch_check, firmware=None):
    layers = "\n".join(f"| `{r['layer']}` | {r['kind']} | {r['shape'][1]} → {r['shape'][0]} | "
                       f"{r['weights']} | {r['nnz'] if r['kind'] == 'BitLinear' else '— (float)'} |"
                       for r in res["sparsity"])
    std_rows = "\n".join(f"| {i} | `{f}` | {fmt(m)} | {fmt(s)} |"
                         for i, (f, m, s) in enumerate(zip(FEATURE_NAMES, data["mean"], data["std"])))
    arch = "\n".join(f"{q}: {m}" for q, m in model.named_modules() if q and "." in q)
    Q = 2 ** (a.bits - 1) - 1
    kp, kf = kind_words(model)
    has_bit = res["ternary_weights"] > 0
    if kp == kf == "BitLinear":
        what = (f"a Particle Flow Network (Deep Sets) with BitLinear layers everywhere (ternary "
                f"weights, {a.bits}-bit\nactivations)")
    elif kp == kf == "nn.Linear":
        what = ("the same Particle Flow Network in full precision (nn.Linear everywhere, no "
                "quantization): the\nBitHEP-style reference for what quantization costs")
    else:
        what = (f"a mixed-precision Particle Flow Network: Φ {kp}, F {kf}"
                + (f" (ternary weights, {a.bits}-bit activations in the BitLinear layers)" if has_bit else ""))
    why = ""
    if kp == "BitLinear" and kf == "nn.Linear":
        why = ("\nWhy this split (and not Φ full precision, F BitLinear): Φ runs on every particle "
               "(32 copies in the firmware\nat particle reuse 1), so ternary Φ weights save by far "
               "the most multipliers, while F runs once per jet\nand carries the precision of the "
               "single angle output; the reverse split, trained with the same\nsettings, was worse "
               "on the validation jets (models/README.md, regression models).\n")
    te, bl = res["test"], res["baseline_test"]
    ts, bs = te["subset"], bl["subset"]
    rows = [("⟨sin²(f − φ)⟩", "sin2", 4), ("residual mean (rad)", "res_mean", 4),
            ("residual std (rad)", "res_std", 4), ("residual 68 % half-width (q84.13 − q15.87)/2 (rad)", "res_w68", 4),
            ("68 % quantile of \\|residual\\| (rad)", "res_abs68", 4)]
    table = "\n".join(f"| {lab} | {te[k]:.{n}f} | {bl[k]:.{n}f} | {ts[k]:.{n}f} | {bs[k]:.{n}f} |"
                      for lab, k, n in rows)
    bit_sem = (f"""
BitLinear semantics: bit2hls profile `bithep`{f' with act_bits {a.bits} (`profile_params`)' if a.bits != 8 else ''}
(`models/training/bitlinear.py`): β = max(mean|W|, 1e-8), T = clamp(round(W/β), −1, 1);
g = {Q} / max(max|x|, 1e-8) over the last axis, i.e. **per particle** in Φ and per jet in F;
q = clamp(round(x·g), {-(Q + 1)}, {Q}); y = F.linear(q/g, T·β, bias).
""" if has_bit else "")
    firmware = firmware_section(name, firmware)
    margins = (f"\nGolden rounding margins (BitLinear layers): {'; '.join(gold_lines)}.\n"
               if gold_lines else "")
    return f"""# {name}

W decay-plane regressor (issue 13, BitHEP's SMEFTNet-BIT task): from the (up to) {data['n_max']}
highest-pT particles of a boosted hadronic W jet (pp → WZ, pT > 500 GeV), predict φ_decay, the
orientation of the W decay plane around the jet axis, defined modulo π. The model is {what}:
Φ on each particle, a masked **{a.pool}** over the real particles, F on the pooled vector, **one
output** f in radians (only f modulo π is meaningful: φ̂ = f wrapped into [−π/2, π/2)).
Schema `{res['schema']}` with `"task": {json.dumps(res['task_doc'])}`.
{why}
## Files

- `{name}.safetensors`: float master weights (F32) written by `models/export.py:
  save_for_bit2hls(model, path, task={{"kind": "regression", "period": math.pi, "target":
  "phi_decay"}})`, architecture (schema `{res['schema']}`, `particles` {{"max": {data['n_max']},
  "features": 8}}) in `__metadata__['bit2hls.arch']`.
- `{name}.json`: the same architecture document as a sidecar.
- `golden.npz`: PyTorch reference on the first {N_GOLDEN} test jets (`models/training/pfn.py:
  golden`, same keys as the quark/gluon PFNs): `x` float32 [n, {data['n_max']}, 8] (the model's input),
  `mask` uint8 [n, {data['n_max']}], `y` float32 [n, 1] (the output f, radians; model.eval(), no_grad,
  one batch), `label` int64 all −1 (golden's value for "no class label": this is a regression),
  `pooled` float32 [n, L] (the pool's output), `margin_<j>` float32 [n] rounding margins per
  BitLinear layer j (linear layers counted Φ then F; none for nn.Linear layers), and, added for
  the regression, `target` float32 [n] (φ_decay of those jets, radians in [−π/2, π/2)).
- `{name}_torch_test_jets.npy`: float32 [{len(data['yte'])}, 1], the PyTorch outputs on ALL test jets
  (`models/training/pfn_torch_outputs.py`: the model rebuilt from the .safetensors; {torch_check}),
  for `bit2hls validate --reference`.
- Test set: `models/data/test_wz.npz` ({len(data['yte'])} jets; `x` float16 [n, 32, 8], read as float32;
  `mask`; `target` = φ_decay; no `y`). Static-mode calibration: `models/data/calib_wz.npz`
  (the first 3,000 jets of the train split, `x`/`mask`).

## Architecture

```
input x [B, {data['n_max']}, 8] ({', '.join(FEATURE_NAMES)}), mask [B, {data['n_max']}]
phi (per particle, shared weights):
{chr(10).join('    ' + l for l in arch.splitlines() if l.strip().startswith('phi'))}
pool: masked {a.pool} over the real particles{' (padded slots contribute nothing)' if a.pool == 'sum' else ' (sum / number of real particles; 0 for a jet without particles)'}
f (per jet):
{chr(10).join('    ' + l for l in arch.splitlines() if l.strip().startswith('f.'))}
output: f [B, 1], radians; φ̂ = f modulo π
```

| layer | kind | shape (in → out) | weights | non-zero ternary weights |
|---|---|---|---|---|
{layers}

Parameters: {res['params']} (trainable {res['trainable_params']}); {res['ternary_weights']} ternary
weights, {res['nnz_total']} non-zero; {res['float_weights']} full-precision linear weights.

`phi.0` is the input standardization, a batchnorm layer in eval mode (fixed: running statistics
from the train split, weight 1, bias 0, not trained, eps 1e-5): (x − mean) / sqrt(var + 1e-5),
var = std². mean/std over the real particles of the train split (`log_z` is floored at
{LOG_Z_MIN:g} in the data files, `models/data/make_wz_file.py`; no other preprocessing):

| # | feature | mean | std |
|---|---|---|---|
{std_rows}
{bit_sem}
## Training

`{res['command']}` (from the repository root with `models/.venv/bin/python`; PyTorch {torch.__version__}, CPU, {a.threads} thread, run at `nice -n 19`
on 2 cores shared with other jobs; wall time {res['seconds']:.0f} s for {res['epochs_run']} epochs).
Loss ⟨sin²(f − φ_decay)⟩ (the seed's), Adam (weight decay {a.wd:g}), one-cycle LR (max {a.lr:g}),
batch {a.batch}, at most {a.epochs} epochs{'; training jets randomly rotated about the jet axis and reflected (`--augment rot`, see `train_wz.py`)' if a.augment == 'rot' else ''};
the epoch with the lowest validation ⟨sin²⟩ is kept (epoch {res['best_epoch']}, val ⟨sin²⟩
{res['val']['sin2']:.4f}), {f'early stop after {a.patience} epochs without gain' if a.patience < a.epochs else 'no early stopping'}. Data:
`{data['data']}` (train {len(data['ytr'])}, val {len(data['yva'])} jets). Seed {a.seed}.

## Test performance (PyTorch float forward{' with fake quantization' if has_bit else ''}, all {len(data['yte'])} test jets)

Residual r = f − φ_decay wrapped into [−π/2, π/2). Baseline: the principal axis of the
pT-weighted particle distribution on the same 32 particles of the same file,
φ̂ = ½ atan2(Σ z·dr²·sin2a, Σ z·dr²·cos2a), z = exp(log_z) (`models/data/check_wz.py`). Subset:
SMEFTNet-like jets, both quarks within ΔR 0.6 of the jet axis and 70 < m_jet < 110 GeV
({ts['jets']} test jets). ⟨sin²⟩ = 0.5 means no information; issue 13's target ≤ 0.30.

| metric | {name} | baseline | {name}, subset | baseline, subset |
|---|---|---|---|---|
{table}
{margins}
## Firmware accuracy (bit2hls validate)

{firmware}"""


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["run"])
    ap.add_argument("--data", default=os.path.join(MODELS, "data", "wz_particles.npz"))
    ap.add_argument("--test", default=os.path.join(MODELS, "data", "test_wz.npz"))
    ap.add_argument("--tag", default="", help="name of the run in the results file")
    ap.add_argument("--ship", default="", help="write models/<SHIP>/ (files, golden, outputs, card)")
    ap.add_argument("--phi", default="32-32-16", help="phi widths after the 8 inputs")
    ap.add_argument("--f", default="32", help="f hidden widths (the 1 output is added)")
    ap.add_argument("--pool", default="sum", choices=["sum", "mean"])
    ap.add_argument("--bits", type=int, default=8, help="activation bits of every BitLinear")
    ap.add_argument("--phi-kinds", default="", help="per phi linear layer 'bit' (BitLinear, "
                    "default) or 'lin' (nn.Linear), comma-separated, or one word for all")
    ap.add_argument("--f-kinds", default="", help="the same for f")
    ap.add_argument("--augment", default="none", choices=["none", "rot"])
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--wd", type=float, default=0.0)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--patience", type=int, default=6)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=MODELS)
    ap.add_argument("--results", default=os.path.join(HERE, "wz_results.json"))
    ap.add_argument("--bit2hls", default="", help="with --ship: a bit2hls executable; run its "
                    "`validate` on the shipped model (test_wz.npz, calib_wz.npz, the PyTorch "
                    "outputs) and put the output in the card")
    ap.add_argument("--bit2hls-note", default="", help="how that executable was built (for the card)")
    a = ap.parse_args()
    if not a.tag:
        a.tag = a.ship or f"phi{a.phi}_f{a.f}_{a.pool}_{a.phi_kinds or 'bit'}_{a.f_kinds or 'bit'}_s{a.seed}"
    torch.set_num_threads(a.threads)
    data = load_data(a.data, a.test)
    model = build(a, data)
    print(f"{a.tag}: {command_line(a)}\n  {n_params(model)} params, train {len(data['ytr'])} val "
          f"{len(data['yva'])} test {len(data['yte'])}", flush=True)
    t0 = time.time()
    best, best_ep, history = train(model, data, a, sys.stdout)
    seconds = time.time() - t0
    test = evaluate(model, data["xte"], data["mte"], data["yte"], data["sub_te"])
    val = evaluate(model, data["xva"], data["mva"], data["yva"])
    base = baseline(data["xte"], data["mte"], data["yte"], data["sub_te"])
    sp = sparsity(model)
    res = dict(tag=a.tag, command=command_line(a), phi=a.phi, f=a.f, pool=a.pool, act_bits=a.bits,
               phi_kinds=a.phi_kinds, f_kinds=a.f_kinds, augment=a.augment, lr=a.lr, wd=a.wd,
               batch=a.batch, seed=a.seed, epochs=a.epochs, threads=a.threads,
               params=n_params(model),
               trainable_params=sum(p.numel() for p in model.parameters() if p.requires_grad),
               ternary_weights=sum(r["weights"] for r in sp if r["kind"] == "BitLinear"),
               nnz_total=sum(r["nnz"] for r in sp if r["kind"] == "BitLinear"),
               float_weights=sum(r["weights"] for r in sp if r["kind"] == "Linear"), sparsity=sp,
               best_epoch=best_ep, epochs_run=len(history), seconds=round(seconds, 1),
               val=val, test=test, baseline_test=base, history=history, data=data["data"],
               torch=torch.__version__,
               standardize=dict(mean=[float(v) for v in data["mean"]], std=[float(v) for v in data["std"]]))
    print(f"  {a.tag}: val <sin^2> {val['sin2']:.4f}  test <sin^2> {test['sin2']:.4f} residual mean "
          f"{test['res_mean']:+.4f} std {test['res_std']:.4f} w68 {test['res_w68']:.4f} (subset "
          f"{test['subset']['sin2']:.4f}) | baseline {base['sin2']:.4f} std {base['res_std']:.4f} "
          f"w68 {base['res_w68']:.4f}  ({seconds:.0f} s, best epoch {best_ep})", flush=True)
    if a.ship:
        odir = os.path.join(a.out, a.ship)
        os.makedirs(odir, exist_ok=True)
        model.eval()
        path = os.path.join(odir, f"{a.ship}.safetensors")
        doc = save_for_bit2hls(model, path, name=a.ship, task=TASK)
        res["schema"], res["task_doc"] = doc["schema"], doc.get("task")
        xg, mg = data["xte"][:N_GOLDEN], data["mte"][:N_GOLDEN]
        g = golden(model, xg, mg, label=None)
        g["target"] = data["yte"][:N_GOLDEN].astype(np.float32)
        assert np.allclose(g["y"], predict(model, xg, mg).numpy(), rtol=0, atol=1e-5)
        np.savez_compressed(os.path.join(odir, "golden.npz"), **g)
        lines = summarize(g)
        for l in lines:
            print(f"  golden {l}")
        # PyTorch outputs on all test jets, from the written file (as pfn_torch_outputs.py)
        _, phi_m, pool_m, f_m = build_from_file(path)
        xt, mt = torch.as_tensor(data["xte"]), torch.as_tensor(data["mte"])
        y = torch.cat([forward_from_file(phi_m, pool_m, f_m, xt[i:i + 10000], mt[i:i + 10000])
                       for i in range(0, len(xt), 10000)]).numpy().astype(np.float32)
        mine = predict(model, data["xte"], data["mte"]).numpy()
        diff = float(np.abs(y - mine).max())
        assert y.shape == (len(data["yte"]), 1) and diff <= 1e-4, diff
        np.save(os.path.join(odir, f"{a.ship}_torch_test_jets.npy"), y)
        check = f"largest difference from the training model's outputs {diff:.1e}"
        print(f"  torch outputs: {y.shape}, {check}")
        res["torch_outputs_max_diff"] = diff
        fw = None
        if a.bit2hls:
            root = os.path.dirname(MODELS)
            p = subprocess.run(validate_cmd(a.ship, a.bit2hls), cwd=root, capture_output=True, text=True)
            if p.returncode != 0:
                raise SystemExit(f"bit2hls validate failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
            print(p.stdout)
            fw = dict(stdout=p.stdout, jets=len(data["yte"]),
                      exe_note=a.bit2hls_note or os.path.basename(a.bit2hls))
            res["bit2hls_validate"] = p.stdout
        with open(os.path.join(odir, "README.md"), "w") as fh:
            fh.write(card(a.ship, a, model, res, data, lines, check, fw))
    results = json.load(open(a.results)) if os.path.exists(a.results) else {}
    results.setdefault("runs", [])
    results["runs"] = [r for r in results["runs"] if r["tag"] != a.tag] + [res]
    if a.ship:
        results.setdefault("models", {})[a.ship] = {k: v for k, v in res.items() if k != "history"}
    with open(a.results, "w") as fh:
        json.dump(results, fh, indent=1)


if __name__ == "__main__":
    main()
