#!/usr/bin/env python3
"""Self-check of bitlinear.BitLinear against an independent transcription of the BitHEP
BitLinear158b forward pass (hep-bitnet, default arguments) and of the export helpers.

    python training/check_bitlinear.py          # prints "N passed, 0 failed"
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
from bitlinear import BitLinear  # noqa: E402
from export import hf_pack, hf_unpack  # noqa: E402


def bithep_forward(layer, x):
    """BitLinear158b.forward as in hep-bitnet: Q_b = 2**7 - 1.0, eps = 1e-8, in-place clamps."""
    w = layer.weight
    Q_b = 2 ** (8 - 1) - 1.0
    eps = 1e-8
    beta = w.abs().mean().clamp_(min=eps)
    wq_ = (w / beta).round().clamp_(-1, 1) * beta
    wq = w + (wq_ - w).detach()
    gamma = Q_b / x.abs().max(dim=-1, keepdim=True).values.clamp_(min=eps)
    xq_ = (x * gamma).round().clamp_(-(Q_b + 1), Q_b) / gamma
    xq = x + (xq_ - x).detach()
    return F.linear(xq, wq, layer.bias)


def main():
    passed = failed = 0

    def check(name, ok):
        nonlocal passed, failed
        print(f"{'ok  ' if ok else 'FAIL'} {name}")
        passed += bool(ok)
        failed += (not ok)

    torch.manual_seed(0)
    with torch.no_grad():
        for bias in (True, False):
            for (k, n) in ((16, 64), (64, 32), (32, 5)):
                layer = BitLinear(k, n, bias=bias)
                x = torch.randn(1000, k) * torch.rand(1000, 1) * 10
                x[0] = 0.0  # all-zero row: eps path
                x[1, :] = torch.relu(x[1, :])
                check(f"bithep forward bit-equal bias={bias} {k}->{n}",
                      torch.equal(layer(x), bithep_forward(layer, x)))
                q = layer.act_codes(x)
                check(f"codes in [-127,127] {k}->{n}", q.abs().max().item() <= 127)
                t = layer.ternary_codes()
                check(f"ternary codes in {{-1,0,1}} {k}->{n}", set(t.unique().tolist()) <= {-1.0, 0.0, 1.0})
        # half-to-even rounding of exact ties
        layer = BitLinear(4, 1)
        x = torch.tensor([[127.0, 0.5 * 127 / 127 * 1.0, 2.5, -0.5]])
        q = layer.act_codes(x)
        check("round half to even on exact ties", q.tolist() == [[127.0, 0.0, 2.0, -0.0]])
    # HF packing worked example: P[0][0] = 0b10_10_00_01 -> rows 0, R, 2R, 3R = 0, -1, +1, +1
    w = np.array([[0], [-1], [1], [1]], np.int8)
    p = hf_pack(w)
    check("hf_pack worked example", p.shape == (1, 1) and int(p[0, 0]) == 0b10100001)
    rng = np.random.default_rng(0)
    for n in (1, 4, 5, 7, 64):
        w = rng.integers(-1, 2, size=(n, 9)).astype(np.int8)
        check(f"hf pack/unpack round trip n={n}", np.array_equal(hf_unpack(hf_pack(w), n), w))
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
