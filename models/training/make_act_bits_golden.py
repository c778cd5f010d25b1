#!/usr/bin/env python3
"""Golden files for activation bits b (tests/act_bits.rs, hls_tests csim/rtl_sim).

    python models/training/make_act_bits_golden.py      # writes tests/data/act_bits/

For b in 2, 3, 4, 6, 8: a BitLinear MLP 16 -> 24 -> 12 -> 3 with bias and ReLU
(models/training/bitlinear.py with act_bits=b, torch.manual_seed(100 + b)), trained briefly
(Adam, 300 steps, lr 1e-2) on three overlapping Gaussian classes so that its classes are balanced
and its decision boundaries run through the data (untrained, it outputs one class everywhere,
and a test of the class would pass whatever b it assumed), saved with
export.save_for_bit2hls WITHOUT a sidecar, so the architecture (and, for b != 8,
`"profile_params": {"act_bits": b}` under schema bit2hls.arch/2) is read from the file's metadata:
  b<b>.safetensors   float master weights + architecture
  b<b>.npz           x [n,16] f32 inputs
                     (drawn from the same three classes; event 0 all zero, event 1 constant),
                     torch [n,3] f32 PyTorch outputs (model.eval(), one batch; the key
                     `bit2hls validate --data` reads as the PyTorch reference),
                     codes_<j> int8, margin_<j> f32, g_<j> f32 per BitLinear j (models/golden.py)
Kept out of models/: the shipped-model tests compile every models/*/*.safetensors.
"""
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, MODELS)
from export import save_for_bit2hls  # noqa: E402
from golden import golden  # noqa: E402
from train import mlp  # noqa: E402

OUT = os.path.join(os.path.dirname(MODELS), "tests", "data", "act_bits")
BITS = [2, 3, 4, 6, 8]
N = 1000


def blobs(rng, means, n):
    """n events of three Gaussian classes (unit width around `means`), with their labels."""
    y = rng.integers(0, 3, n)
    return (means[y] + rng.standard_normal((n, 16))).astype(np.float32), y


def fit(model, xt, yt):
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    gen = torch.Generator().manual_seed(0)
    for _ in range(300):
        idx = torch.randint(0, len(yt), (128,), generator=gen)
        loss = torch.nn.functional.cross_entropy(model(xt[idx]), yt[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def main():
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(7)
    means = 0.6 * rng.standard_normal((3, 16))
    xtr, ytr = blobs(rng, means, 4000)
    x, _ = blobs(rng, means, N)
    x[0] = 0.0
    x[1] = 0.5
    for b in BITS:
        torch.manual_seed(100 + b)
        model = mlp([16, 24, 12, 3], ["bit"] * 3, True, act_bits=b)
        model = fit(model, torch.as_tensor(xtr), torch.as_tensor(ytr))
        save_for_bit2hls(model, os.path.join(OUT, f"b{b}.safetensors"), name=f"act_bits_b{b}",
                         sidecar=False)
        g = golden(model, x)
        g["torch"] = g.pop("y")
        del g["label"]
        np.savez_compressed(os.path.join(OUT, f"b{b}.npz"), **g)
        codes = [g[k] for k in sorted(g) if k.startswith("codes_")]
        lo = min(int(c.min()) for c in codes)
        hi = max(int(c.max()) for c in codes)
        cls = np.bincount(g["torch"].argmax(1), minlength=3)
        wrong = []
        for wb in BITS:
            for m in model.modules():
                if hasattr(m, "act_bits"):
                    m.act_bits, m.qmax = wb, 2 ** (wb - 1) - 1
            with torch.no_grad():
                yw = model(torch.as_tensor(x)).numpy()
            wrong.append(f"{wb}: {(yw.argmax(1) == g['torch'].argmax(1)).mean():.3f}")
        print(f"b={b}: codes in [{lo}, {hi}], classes {cls.tolist()}, "
              f"near-ties {sum(int((g[k] < 1e-4).sum()) for k in g if k.startswith('margin_'))}; "
              f"class agreement when run with b = {', '.join(wrong)}")


if __name__ == "__main__":
    main()
