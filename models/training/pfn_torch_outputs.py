#!/usr/bin/env python3
"""PyTorch's outputs of a shipped particle-level model on a particle data file, for
`bit2hls validate --reference` (and a side-by-side float throughput figure).

    PY=models/.venv/bin/python
    $PY models/training/pfn_torch_outputs.py models/qg_pfn/qg_pfn.safetensors \
        models/data/test_particles.npz models/qg_pfn/qg_pfn_torch_test_jets.npy [--time]

The model is rebuilt from its architecture document (the safetensors metadata, schema
bit2hls.arch/3) with the same modules training used (training/bitlinear.py BitLinear,
training/pfn.py LastDimBatchNorm in eval mode, nn.Linear, nn.ReLU, the masked pool of
training/pfn.py (sum, mean or max), and the per-jet inputs `jet` of the data file appended after it when the document
has a `jet_concat`), its tensors loaded by the names the document gives, and run in eval mode,
float32, no_grad. Writes float32 [jets, outputs]. With --time, prints the jets/s of the forward
pass on 2 threads (batches of 10,000 jets, median of 5).
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
from safetensors import safe_open
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bitlinear import BitLinear  # noqa: E402
from pfn import LastDimBatchNorm  # noqa: E402


def build(path):
    with safe_open(path, "pt") as f:
        doc = json.loads(f.metadata()["bit2hls.arch"])
        t = {k: f.get_tensor(k) for k in f.keys()}
    bits = (doc.get("profile_params") or {}).get("act_bits", 8)
    stages, cur = [], []
    pool = None
    for l in doc["layers"]:
        op = l["op"]
        if op == "pool":
            stages.append(nn.Sequential(*cur))
            cur, pool = [], l["kind"]
            continue
        if op == "jet_concat":  # f's input = [pooled, jet]: handled in forward()
            continue
        if op in ("bitlinear", "linear"):
            w = t[l["weight"]]
            m = (BitLinear(w.shape[1], w.shape[0], bias=l.get("bias") is not None, act_bits=bits)
                 if op == "bitlinear" else nn.Linear(w.shape[1], w.shape[0], bias=l.get("bias") is not None))
            with torch.no_grad():
                m.weight.copy_(w)
                if l.get("bias"):
                    m.bias.copy_(t[l["bias"]])
        elif op == "batchnorm":
            n = t[l["weight"]].numel()
            m = LastDimBatchNorm(n, eps=l.get("eps", 1e-5))
            with torch.no_grad():
                for k in ("weight", "bias", "running_mean", "running_var"):
                    getattr(m, k).copy_(t[l[k]])
        elif op == "relu":
            m = nn.ReLU()
        else:
            raise SystemExit(f"{path}: op {op} is not handled here")
        cur.append(m)
    stages.append(nn.Sequential(*cur))
    phi, f = stages
    phi.eval(), f.eval()
    return doc, phi, pool, f


@torch.no_grad()
def forward(phi, pool, f, x, mask, jet=None):
    h = phi(x)
    m = mask.bool().unsqueeze(-1)
    if pool in ("sum", "mean"):
        p = torch.where(m, h, torch.zeros_like(h)).sum(1)
        if pool == "mean":  # training/pfn.py's mean: over the real particles, 0 for none
            p = p / mask.sum(1, keepdim=True).clamp(min=1).to(p.dtype)
    elif pool == "max":
        p = torch.where(m, h, torch.full_like(h, -torch.inf)).amax(1)
        p = torch.where(mask.bool().any(1, keepdim=True), p, torch.zeros_like(p))
    else:
        raise SystemExit(f"pool {pool!r} is not handled here")
    if jet is not None:
        p = torch.cat([p, jet], dim=1)
    return f(p)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("data")
    ap.add_argument("out")
    ap.add_argument("--time", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(2)
    doc, phi, pool, f = build(a.model)
    n = doc["particles"]["max"]
    d = np.load(a.data)
    x = torch.as_tensor(d["x"][:, :n].astype(np.float32))
    mask = torch.as_tensor(d["mask"][:, :n].astype(np.uint8))
    g = doc["particles"].get("jet_features", 0)
    jet = None
    if g:
        if "jet" not in d.files or d["jet"].shape != (len(x), g):
            raise SystemExit(f"{a.data}: the model takes {g} per-jet inputs: needs 'jet' [{len(x)}, {g}]")
        jet = torch.as_tensor(d["jet"].astype(np.float32))
    part = lambda v, i: None if v is None else v[i:i + 10000]  # noqa: E731
    y = torch.cat([forward(phi, pool, f, x[i:i + 10000], mask[i:i + 10000], part(jet, i))
                   for i in range(0, len(x), 10000)]).numpy().astype(np.float32)
    np.save(a.out, y)
    print(f"{a.out}: {y.shape[0]} jets x {y.shape[1]} outputs")
    if a.time:
        rates = []
        for _ in range(5):
            t0 = time.perf_counter()
            for i in range(0, len(x), 10000):
                forward(phi, pool, f, x[i:i + 10000], mask[i:i + 10000], part(jet, i))
            rates.append(len(x) / (time.perf_counter() - t0))
        print(f"PyTorch float forward ({torch.get_num_threads()} threads, batches of 10,000): "
              f"{sorted(rates)[2]:.0f} jets/s (median of 5)")


if __name__ == "__main__":
    main()
