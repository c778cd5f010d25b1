#!/usr/bin/env python3
"""PyTorch's outputs of a shipped model on the 28,000 test jets, for `--reference`:

    python models/training/make_reference_outputs.py models/qg_mlp/qg_mlp.safetensors
    # writes models/qg_mlp/qg_mlp_torch_test_jets.npy  [28000, outputs] float32

The model is rebuilt as the nn.Sequential it was trained as (all-BitLinear, BitHEP's layer
from models/training/bitlinear.py, ReLU between: `qg_mlp`, `qg_mlp_tiny`) from the numeric
Sequential indices of its state dict, loaded with `load_state_dict(strict=True)` (a model of
another shape fails there), and run in eval/no_grad mode on models/data/test_jets.npz `x`.
"""
import os
import re
import sys

import numpy as np
import safetensors.torch
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bitlinear import BitLinear  # noqa: E402


def rebuild(sd, prefix):
    """Linear layers at numeric indices of `prefix`, ReLU between (the shipped MLPs' shape)."""
    idx = sorted({int(m.group(1)) for k in sd for m in [re.match(re.escape(prefix) + r"(\d+)\.weight$", k)] if m})
    mods, last = [], -1
    for i in idx:
        if mods:
            mods += [nn.Identity()] * (i - last - 2) + [nn.ReLU()]
        w = sd[f"{prefix}{i}.weight"]
        mods.append(BitLinear(w.shape[1], w.shape[0], bias=f"{prefix}{i}.bias" in sd))
        last = i
    return nn.Sequential(*mods)


def main(path):
    sd = safetensors.torch.load_file(path)
    prefix = re.match(r"(.*?)\d+\.weight$", next(k for k in sd if k.endswith(".weight"))).group(1)
    model = rebuild(sd, prefix)
    model.load_state_dict({k[len(prefix):]: v for k, v in sd.items()}, strict=True)
    model.eval()
    data = np.load(os.path.join(HERE, "..", "data", "test_jets.npz"))
    with torch.no_grad():
        y = model(torch.from_numpy(data["x"])).numpy().astype(np.float32)
    out = os.path.splitext(path)[0] + "_torch_test_jets.npy"
    np.save(out, y)
    print(f"{out}: {y.shape}, accuracy {(y.argmax(1) == data['y']).mean():.4f}")


if __name__ == "__main__":
    main(sys.argv[1])
