#!/usr/bin/env python3
"""Golden files for activation bits b (tests/act_bits.rs, hls_tests csim/rtl_sim).

    python models/training/make_act_bits_golden.py      # writes tests/data/act_bits/

For b in 2, 3, 4, 6, 8: a random-weight BitLinear MLP 16 -> 24 -> 12 -> 3 with bias and ReLU
(models/training/bitlinear.py with act_bits=b, torch.manual_seed(100 + b)), saved with
export.save_for_bit2hls WITHOUT a sidecar, so the architecture (and, for b != 8,
`"profile_params": {"act_bits": b}` under schema bit2hls.arch/2) is read from the file's metadata:
  b<b>.safetensors   float master weights + architecture
  b<b>.npz           x [n,16] f32 inputs (N(0,1); event 0 all zero, event 1 constant),
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


def main():
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(7)
    x = rng.standard_normal((N, 16)).astype(np.float32)
    x[0] = 0.0
    x[1] = 0.5
    for b in BITS:
        torch.manual_seed(100 + b)
        model = mlp([16, 24, 12, 3], ["bit"] * 3, True, act_bits=b).eval()
        save_for_bit2hls(model, os.path.join(OUT, f"b{b}.safetensors"), name=f"act_bits_b{b}",
                         sidecar=False)
        g = golden(model, x)
        g["torch"] = g.pop("y")
        del g["label"]
        np.savez_compressed(os.path.join(OUT, f"b{b}.npz"), **g)
        codes = [g[k] for k in sorted(g) if k.startswith("codes_")]
        lo = min(int(c.min()) for c in codes)
        hi = max(int(c.max()) for c in codes)
        print(f"b={b}: codes in [{lo}, {hi}], "
              f"near-ties {sum(int((g[k] < 1e-4).sum()) for k in g if k.startswith('margin_'))}")


if __name__ == "__main__":
    main()
