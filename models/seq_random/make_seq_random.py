#!/usr/bin/env python3
"""Random-weight (untrained, seeded) BitLinear MLPs for bit2hls format and bit-exactness tests.

    python seq_random/make_seq_random.py          # writes the files next to this script

Same inputs for all: x = 2,000 rows of N(0,1) float32 (torch.manual_seed(SEED_X)).
See README.md in this folder for what each file is.
"""
import json
import os
import sys

import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(MODELS, "training"))
sys.path.insert(0, MODELS)
from bitlinear import BitLinear  # noqa: E402
from export import hf_pack, hf_unpack, ternary_export  # noqa: E402
from golden import save_golden, summarize  # noqa: E402

SIZES = [16, 64, 32, 32, 5]
SEED_BIAS, SEED_NOBIAS, SEED_X = 11, 12, 13
N = 2000


def stack(bias):
    layers = []
    for i, (a, b) in enumerate(zip(SIZES[:-1], SIZES[1:])):
        layers.append(BitLinear(a, b, bias=bias))
        if i < len(SIZES) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class Wrapped(nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(x)


def main():
    from safetensors.torch import save_file, load_file

    torch.manual_seed(SEED_X)
    x = torch.randn(N, SIZES[0], dtype=torch.float32).numpy()

    # 1. with bias, keys net.<i>.weight / net.<i>.bias
    torch.manual_seed(SEED_BIAS)
    mb = Wrapped(stack(True)).eval()
    save_file({k: v.contiguous() for k, v in mb.state_dict().items()},
              os.path.join(HERE, "seq_bias.safetensors"))
    g = save_golden(os.path.join(HERE, "golden_bias.npz"), mb, x)
    print("seq_bias:", "; ".join(summarize(g)))

    # 2. no bias, keys <i>.weight
    torch.manual_seed(SEED_NOBIAS)
    mn = stack(False).eval()
    save_file({k: v.contiguous() for k, v in mn.state_dict().items()},
              os.path.join(HERE, "seq_nobias.safetensors"))
    g = save_golden(os.path.join(HERE, "golden_nobias.npz"), mn, x)
    print("seq_nobias:", "; ".join(summarize(g)))

    # 3. the same weights as I8 codes + weight_beta, and 4. HF packed U8 + weight_scale (= beta)
    i8, hf = {}, {}
    layers = []
    lin = [(name, m) for name, m in mn.named_children() if isinstance(m, BitLinear)]
    for name, m in lin:
        codes, beta = ternary_export(m)
        i8[f"{name}.weight"] = codes
        i8[f"{name}.weight_beta"] = beta
        packed = hf_pack(codes.numpy())
        assert np.array_equal(hf_unpack(packed, m.out_features), codes.numpy())
        hf[f"{name}.weight"] = torch.from_numpy(packed)
        hf[f"{name}.weight_scale"] = beta.clone()
        layers.append({"op": "bitlinear", "name": name, "weight": f"{name}.weight",
                       "out": m.out_features, "weight_scale": f"{name}.weight_scale",
                       "weight_scale_is": "beta"})
        layers.append({"op": "relu"})
    layers.pop()
    save_file(i8, os.path.join(HERE, "seq_i8.safetensors"))
    save_file(hf, os.path.join(HERE, "seq_hfpacked.safetensors"))
    arch = {"schema": "bit2hls.arch/1", "name": "seq_hfpacked", "inputs": SIZES[0],
            "profile": "bithep", "layers": layers}
    with open(os.path.join(HERE, "seq_hfpacked.json"), "w") as f:
        json.dump(arch, f, indent=2)
        f.write("\n")

    # Self-check: a forward pass from the I8 codes and beta reproduces the golden codes.
    sd = load_file(os.path.join(HERE, "seq_i8.safetensors"))
    gold = np.load(os.path.join(HERE, "golden_nobias.npz"))
    h = torch.as_tensor(x)
    mism = 0
    for j, (name, m) in enumerate(lin):
        gsc = 127 / h.abs().max(dim=-1, keepdim=True).values.clamp(min=1e-8)
        q = (h * gsc).round().clamp(-128, 127)
        mism += int((q.numpy().astype(np.int8) != gold[f"codes_{j}"]).any(axis=1).sum())
        w = sd[f"{name}.weight"].float() * sd[f"{name}.weight_beta"]
        h = (q / gsc) @ w.T
        if j < len(lin) - 1:
            h = torch.relu(h)
    err = float(np.abs(h.numpy() - gold["y"]).max())
    print(f"I8 re-forward: {mism} sample-layer code mismatches vs golden_nobias "
          f"(near-ties only expected), max |y diff| {err:.3g}")


if __name__ == "__main__":
    main()
