#!/usr/bin/env python3
"""Sparse, narrow-activation BitNet taggers: a sweep over activation bits b and a sparsity knob β,
and the shipping of chosen points (models/<name>/).

    python models/training/train_sparse.py sweep                      # the default sweep
    python models/training/train_sparse.py sweep --bits 4 --betas 0,1e-5 --seeds 1
    python models/training/train_sparse.py ship --name qg_sparse_b4 --bits 4 --beta 3e-5 --seed 1
    python models/training/train_sparse.py table --merge a.json,b.json   # one results file + table

The forward pass is exactly models/training/bitlinear.py's BitLinear (the bithep profile bit2hls
reads): the same ternarization T = clamp(round(W/β_w), -1, 1), β_w = max(mean|W|, 1e-8), and b-bit
activations Q = 2^(b-1) - 1, codes clamp(round(x·Q/max|x|), -(Q+1), Q). Only the loss changes:

    loss = cross-entropy + β · Σ_layers b · Σ_weights sigmoid((|W|/β_w − 0.5) / T)

The sum of sigmoids is a smooth count of the non-zero ternary weights (a weight is zero exactly
when |W|/β_w < 0.5, i.e. round(W/β_w) = 0); times the activation bits b it is a proxy for the
LUT cost of the ternary adder trees (each non-zero weight adds one b-bit code). β plays the role of
HGQ's β (its EBOPs regularizer): 0 is plain training, larger β trades AUC for fewer weights.
An input feature whose first-layer column is all zero is pruned for free (the compiler never
reads it). Training otherwise follows train.py: Adam, one-cycle LR, batch 256, 30 epochs; the
epoch with the lowest validation objective (cross-entropy + β·hard cost) is kept.

Every sweep point is saved with export.save_for_bit2hls (act_bits in the architecture) and run
through `bit2hls estimate --mode static --calib models/data/calib_jets.npz` (LUT/FF/DSP/latency); the
results go to models/training/sparse_results.json and a markdown table (sparse_results.md).
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.dirname(HERE)
REPO = os.path.dirname(MODELS)
sys.path.insert(0, HERE)
sys.path.insert(0, MODELS)
from bitlinear import BitLinear  # noqa: E402
from export import save_for_bit2hls  # noqa: E402
from golden import save_golden, summarize  # noqa: E402
from train import auc, evaluate, mlp, rejections  # noqa: E402

N_GOLDEN = 2000


def load_data(data_path, test_path):
    d = np.load(data_path)
    X, y, split = d["X"], d["y"].astype(np.int64), d["split"]
    xs = ((X.astype(np.float32) - d["mean"]) / d["std"]).astype(np.float32)
    tr, va, te = split == 0, split == 1, split == 2
    t = np.load(test_path)
    assert np.array_equal(t["x"], xs[te]) and np.array_equal(t["y"], y[te]), \
        "test_jets.npz does not match qg_features.npz; rerun make_training_file.py"
    feats = [str(s) for s in d["feature_names"]]
    return dict(xtr=xs[tr], ytr=y[tr], xva=xs[va], yva=y[va], xte=xs[te], yte=y[te],
                feats=feats, mean=d["mean"], std=d["std"])


def bit_layers(model):
    return [m for m in model.modules() if isinstance(m, BitLinear)]


def soft_nnz(layer, temp):
    """Smooth count of non-zero ternary weights: Σ sigmoid((|W|/β_w − 0.5)/T)."""
    r = layer.weight.abs() / layer.weight_beta()
    return torch.sigmoid((r - 0.5) / temp).sum()


def soft_cost(model, temp):
    return sum(m.act_bits * soft_nnz(m, temp) for m in bit_layers(model))


@torch.no_grad()
def sparsity(model):
    """Hard numbers: non-zero ternary weights per BitLinear, inputs the first layer reads,
    and the cost proxy Σ b·nnz."""
    layers = bit_layers(model)
    nnz = [int((m.ternary_codes() != 0).sum()) for m in layers]
    first = layers[0].ternary_codes()
    used = [int(i) for i in torch.nonzero((first != 0).any(dim=0)).flatten()]
    cost = sum(m.act_bits * n for m, n in zip(layers, nnz))
    return dict(nnz=nnz, nnz_total=sum(nnz), inputs_used=used, n_inputs_used=len(used),
                cost=cost, weights=sum(m.weight.numel() for m in layers))


def train_sparse(model, data, a, beta, seed, log):
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    xt, yt = torch.as_tensor(data["xtr"]), torch.as_tensor(data["ytr"])
    steps = a.epochs * ((len(yt) + a.batch - 1) // a.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=a.lr, total_steps=steps, pct_start=0.1)
    best, best_state, best_ep = None, None, -1
    for ep in range(a.epochs):
        model.train()
        perm = torch.randperm(len(yt), generator=gen)
        for i in range(0, len(yt), a.batch):
            idx = perm[i:i + a.batch]
            loss = F.cross_entropy(model(xt[idx]), yt[idx])
            if beta > 0:
                loss = loss + beta * soft_cost(model, a.temp)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        ev = evaluate(model, data["xva"], data["yva"])
        sp = sparsity(model)
        objective = ev["loss"] + beta * sp["cost"]
        print(f"    epoch {ep + 1:3d}: val loss {ev['loss']:.4f} auc {ev['auc']:.4f} "
              f"nnz {sp['nnz']} inputs {sp['n_inputs_used']} objective {objective:.4f}",
              file=log, flush=True)
        if best is None or objective < best:
            best, best_ep = objective, ep + 1
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    return best_ep


def run_one(data, a, sizes, bits, beta, seed, log):
    torch.manual_seed(seed)
    model = mlp(sizes, ["bit"] * (len(sizes) - 1), True, act_bits=bits)
    t0 = time.time()
    ep = train_sparse(model, data, a, beta, seed, log)
    res = evaluate(model, data["xte"], data["yte"])
    val = evaluate(model, data["xva"], data["yva"])
    res = dict(sizes="-".join(map(str, sizes)), act_bits=bits, beta=beta, seed=seed,
               best_epoch=ep, seconds=round(time.time() - t0, 1), test_auc=res["auc"],
               test_acc=res["acc"], test_loss=res["loss"], val_auc=val["auc"], **sparsity(model))
    return model, res


def estimate(bin_path, model_path, calib):
    """bit2hls estimate --mode static: (LUT, FF, DSP, latency cycles, latency ns) from its JSON."""
    cmd = [bin_path, "estimate", model_path, "--mode", "static", "--calib", calib, "--json"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{r.stderr}")
    return json.loads(r.stdout)


def estimate_summary(e):
    """The numbers of the sweep table from `estimate --json`."""
    e = e[0]["estimate"]
    t = e["total"]
    return dict(lut=t["lut"], ff=t["ff"], dsp=t["dsp"], latency_cycles=e["latency_cycles"],
                latency_ns=e["latency_ns"])


def validate(bin_path, model_path, data, calib):
    """Firmware test AUC per activation mode: `bit2hls validate --json` on the test jets."""
    cmd = [bin_path, "validate", model_path, "--data", data, "--calib", calib, "--json"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{r.stderr}")
    d = json.loads(r.stdout)
    return {m["mode"]: {"auc": m["auc"], "accuracy": m["accuracy"],
                        "argmax_agreement": m["argmax_agreement"]} for m in d["modes"]}


def run_name(r):
    return f"s{r['sizes']}_b{r['act_bits']}_beta{r['beta']:g}_seed{r['seed']}"


def write_table(results, path):
    rows = sorted(results, key=lambda r: (r["sizes"], -r["act_bits"], r["beta"], r["seed"]))
    lines = ["| sizes | b | β | seed | nnz (per layer) | nnz | inputs | test AUC (PyTorch) | acc | "
             "AUC fw dynamic | AUC fw static | LUT | FF | DSP | latency |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        est = r.get("estimate") or {}
        lat = f"{est['latency_cycles']} cyc / {est['latency_ns']:.0f} ns" if est else "—"
        fw = r.get("firmware") or {}
        fwa = {m: f"{fw[m]['auc']:.4f}" if m in fw else "—" for m in ("dynamic", "static")}
        lines.append(f"| {r['sizes']} | {r['act_bits']} | {r['beta']:g} | {r['seed']} | "
                     f"{'/'.join(map(str, r['nnz']))} | {r['nnz_total']} | {r['n_inputs_used']} | "
                     f"{r['test_auc']:.4f} | {r['test_acc']:.4f} | {fwa['dynamic']} | {fwa['static']} | "
                     f"{est.get('lut', '—')} | "
                     f"{est.get('ff', '—')} | {est.get('dsp', '—')} | {lat} |")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def sweep(a, data):
    os.makedirs(a.work, exist_ok=True)
    results = []
    if os.path.exists(a.results) and not a.fresh:
        results = json.load(open(a.results))["runs"]
    done = {(r["sizes"], r["act_bits"], r["beta"], r["seed"]) for r in results}
    for sizes_s in a.sizes.split(","):
        sizes = [int(v) for v in sizes_s.split("-")]
        for bits in [int(b) for b in a.bits.split(",")]:
            for beta in [float(b) for b in a.betas.split(",")]:
                for seed in [int(s) for s in a.seeds.split(",")]:
                    key = (sizes_s, bits, beta, seed)
                    if key in done:
                        continue
                    print(f"{sizes_s} b={bits} beta={beta:g} seed={seed}", flush=True)
                    log = open(os.devnull, "w") if not a.verbose else sys.stdout
                    model, res = run_one(data, a, sizes, bits, beta, seed, log)
                    name = run_name(res)
                    path = os.path.join(a.work, name + ".safetensors")
                    save_for_bit2hls(model.eval(), path, name=name, sidecar=False)
                    if a.bit2hls:
                        res["estimate"] = estimate_summary(estimate(a.bit2hls, path, a.calib))
                        res["firmware"] = validate(a.bit2hls, path, a.test, a.calib)
                    print(f"  test AUC {res['test_auc']:.4f} nnz {res['nnz']} inputs "
                          f"{res['n_inputs_used']} estimate {res.get('estimate')} "
                          f"({res['seconds']} s)", flush=True)
                    results.append(res)
                    with open(a.results, "w") as f:
                        json.dump({"command": " ".join(sys.argv), "torch": torch.__version__,
                                   "runs": results}, f, indent=1)
                    write_table(results, os.path.splitext(a.results)[0] + ".md")


def card(name, a, model, res, data, est, gold_lines, command):
    rows = "\n".join(f"| {i} | `{f}` | {float(m):.9g} | {float(s):.9g} | {'yes' if i in res['inputs_used'] else '**no** (column all zero)'} |"
                     for i, (f, m, s) in enumerate(zip(data["feats"], data["mean"], data["std"])))
    arch = "\n".join(f"    {i}: {m}" for i, m in enumerate(model))
    Q = 2 ** (a.bits_one - 1) - 1
    fw_rows = "\n".join(f"| {m} | {v['auc']:.4f} | {v['accuracy']:.4f} | {100 * v['argmax_agreement']:.3f} % |"
                         for m, v in res["firmware"].items())
    return f"""# {name}

Sparse quark/gluon jet tagger: BitLinear MLP {res['sizes']} with ternary weights and
**{a.bits_one}-bit activations**, trained with the sparsity term of
`models/training/train_sparse.py` (β = {a.beta:g}). {res['nnz_total']} of {res['weights']} ternary
weights are non-zero; {res['n_inputs_used']} of 16 input features are read.

## Files

- `{name}.safetensors`: float master weights (F32) written by `models/export.py:
  save_for_bit2hls`; the architecture (schema `bit2hls.arch/2`) is in `__metadata__['bit2hls.arch']`
  with `"profile_params": {{"act_bits": {a.bits_one}}}`, so bit2hls needs no flags (it prints a note
  with the activation bits it read). A plain `save_file(state_dict)` would lose b and be compiled
  as 8-bit: do not ship it that way.
- `{name}.json`: the same architecture document as a sidecar.
- `golden.npz`: PyTorch reference for the first {N_GOLDEN} test jets (`models/golden.py`).

## Architecture

```
{arch}
```

BitLinear semantics: bit2hls profile `bithep` with act_bits {a.bits_one}
(`models/training/bitlinear.py`): β = max(mean|W|, 1e-8), T = clamp(round(W/β), -1, 1);
g = {Q} / max(max|x|, 1e-8) per sample; q = clamp(round(x·g), {-(Q + 1)}, {Q}); y = F.linear(q/g, T·β,
bias). Output: 2 logits, index 1 = quark.

Non-zero ternary weights per layer: {' / '.join(map(str, res['nnz']))} (total {res['nnz_total']}).

## Inputs

Standardized features x = (X − mean) / std (float32), as for `qg_mlp` (`models/README.md`). The
firmware still takes all 16 inputs; the unused ones are never read.

| # | feature | mean | std | used |
|---|---|---|---|---|
{rows}

## Training

`{command}` (PyTorch {torch.__version__}, CPU, 1 thread; {res['seconds']} s). Adam, one-cycle LR
(max {a.lr}), batch {a.batch}, {a.epochs} epochs, loss = cross-entropy + β·Σ b·Σ sigmoid((|W|/β_w −
0.5)/{a.temp}); the epoch with the lowest validation cross-entropy + β·b·nnz is kept (epoch
{res['best_epoch']}).

## Test performance (PyTorch, {len(data['yte'])} test jets)

| metric | value |
|---|---|
| AUC | {res['test_auc']:.4f} |
| accuracy | {res['test_acc']:.4f} |
| gluon rejection 1/ε_g at ε_q = 50 % | {res['rej50']:.2f} |
| gluon rejection 1/ε_g at ε_q = 30 % | {res['rej30']:.2f} |

Golden vectors: {'; '.join(gold_lines)}.

## Firmware (bit2hls validate)

`bit2hls validate models/{name}/{name}.safetensors --data models/data/test_jets.npz --calib
models/data/calib_jets.npz` on the {len(data['yte'])} test jets (float model AUC {res['test_auc']:.4f}):

| mode | AUC | accuracy | argmax agreement with the float model |
|---|---|---|---|
{fw_rows}

## bit2hls estimate

`bit2hls estimate models/{name}/{name}.safetensors --mode static --calib models/data/calib_jets.npz`
(default part and clock): {est['lut']} LUT, {est['ff']} FF, {est['dsp']} DSP, latency
{est['latency_cycles']} cycles ({est['latency_ns']:.0f} ns).
"""


def ship(a, data):
    sizes = [int(v) for v in a.sizes.split("-")]
    a.bits_one = a.bits_ship
    model, res = run_one(data, a, sizes, a.bits_ship, a.beta, a.seed, sys.stdout if a.verbose else open(os.devnull, "w"))
    model.eval()
    with torch.no_grad():
        p = torch.softmax(model(torch.as_tensor(data["xte"])), 1)[:, 1].numpy()
    rej = rejections(data["yte"], p)
    res["rej50"], res["rej30"] = rej[0.5], rej[0.3]
    odir = os.path.join(a.out, a.name)
    os.makedirs(odir, exist_ok=True)
    path = os.path.join(odir, f"{a.name}.safetensors")
    save_for_bit2hls(model, path, name=a.name)
    g = save_golden(os.path.join(odir, "golden.npz"), model, data["xte"][:N_GOLDEN], data["yte"][:N_GOLDEN])
    lines = summarize(g)
    est = estimate_summary(estimate(a.bit2hls, path, a.calib))
    res["estimate"] = est
    res["firmware"] = validate(a.bit2hls, path, a.test, a.calib)
    command = (f"python models/training/train_sparse.py ship --name {a.name} --sizes {a.sizes} "
               f"--bits {a.bits_ship} --beta {a.beta:g} --seed {a.seed} --epochs {a.epochs} "
               f"--temp {a.temp}")
    with open(os.path.join(odir, "README.md"), "w") as f:
        f.write(card(a.name, a, model, res, data, est, lines, command))
    print(json.dumps(res, indent=1))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["sweep", "ship", "table"])
    ap.add_argument("--merge", default="", help="table: results files of parallel sweeps to merge")
    ap.add_argument("--data", default=os.path.join(MODELS, "data", "qg_features.npz"))
    ap.add_argument("--test", default=os.path.join(MODELS, "data", "test_jets.npz"))
    ap.add_argument("--calib", default=os.path.join(MODELS, "data", "calib_jets.npz"))
    ap.add_argument("--bit2hls", default=os.path.join(REPO, "target", "release", "bit2hls"),
                    help="bit2hls binary for the estimates ('' to skip)")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--temp", type=float, default=0.5, help="sigmoid temperature T of the soft count")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--verbose", action="store_true")
    # sweep
    ap.add_argument("--sizes", default="16-64-32-32-2", help="sweep: comma-separated; ship: one")
    ap.add_argument("--bits", default="8,6,4,3", help="sweep: activation bits list; ship: one")
    ap.add_argument("--betas", default="0,1e-5,3e-5,1e-4,3e-4")
    ap.add_argument("--seeds", default="1")
    ap.add_argument("--work", default=os.path.join(HERE, "sweep"), help="sweep model files (git-ignored)")
    ap.add_argument("--results", default=os.path.join(HERE, "sparse_results.json"))
    ap.add_argument("--fresh", action="store_true", help="ignore runs already in --results")
    # ship
    ap.add_argument("--name")
    ap.add_argument("--beta", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default=MODELS)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if a.what == "table":
        runs, commands = [], []
        for f in [f for f in a.merge.split(",") if f] or [a.results]:
            d = json.load(open(f))
            runs += d["runs"]
            commands += d["commands"] if "commands" in d else [d["command"]]
        for r in runs:
            path = os.path.join(a.work, run_name(r) + ".safetensors")
            if "firmware" not in r and a.bit2hls and os.path.exists(path):
                r["firmware"] = validate(a.bit2hls, path, a.test, a.calib)
        with open(a.results, "w") as f:
            json.dump({"commands": commands, "torch": torch.__version__, "runs": runs}, f, indent=1)
        write_table(runs, os.path.splitext(a.results)[0] + ".md")
        return
    data = load_data(a.data, a.test)
    if a.what == "sweep":
        sweep(a, data)
    else:
        if not a.name:
            ap.error("ship needs --name")
        a.bits_ship = int(a.bits)
        ship(a, data)


if __name__ == "__main__":
    main()
