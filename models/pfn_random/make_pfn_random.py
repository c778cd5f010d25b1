#!/usr/bin/env python3
"""Random-weight particle-level models (PFN / Deep Sets) and their PyTorch outputs, for the Rust
tests of schema bit2hls.arch/3.

    models/.venv/bin/python models/pfn_random/make_pfn_random.py [--out models/pfn_random]

Writes per model `<name>.safetensors` (float master weights, architecture in the metadata, via
export.save_for_bit2hls), the sidecar `<name>.json` and `<name>_golden.npz` (keys x, mask, y,
label, pooled, margin_<j>, and jet, f_input for the model with per-jet inputs `pfn_jet`: see
training/pfn.py `golden`). Seeded and deterministic. See README.md.
"""
import argparse
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
from export import read_arch, save_for_bit2hls  # noqa: E402
from pfn import PFN, LastDimBatchNorm, golden, summarize  # noqa: E402

N_JETS = 200


def random_bn(bn, gen):
    """Non-trivial eval-mode statistics and affine parameters."""
    c = bn.num_features
    with torch.no_grad():
        bn.running_mean.copy_(torch.randn(c, generator=gen) * 0.5)
        bn.running_var.copy_(torch.rand(c, generator=gen) * 1.5 + 0.25)
        bn.weight.copy_(torch.rand(c, generator=gen) * 1.5 + 0.5)
        bn.bias.copy_(torch.randn(c, generator=gen) * 0.3)


def make_models():
    """(name, seed, model, description); weights drawn right after torch.manual_seed(seed)."""
    out = []

    torch.manual_seed(21)
    m = PFN(8, 4, [BitLinear(4, 16), nn.ReLU(), BitLinear(16, 8), nn.ReLU()],
            [BitLinear(8, 8), nn.ReLU(), BitLinear(8, 2)], pool="sum")
    out.append(("pfn_sum", 21, m, "N = 8, F = 4; phi BitLinear 4→16, ReLU, BitLinear 16→8, ReLU; "
                "masked **sum** pool; f BitLinear 8→8, ReLU, BitLinear 8→2; all with bias; 8-bit "
                "activations (schema 3, no profile_params)."))

    torch.manual_seed(22)
    gen = torch.Generator().manual_seed(122)
    bn = LastDimBatchNorm(12)
    random_bn(bn, gen)
    m = PFN(6, 5, [BitLinear(5, 12), bn, nn.ReLU(), BitLinear(12, 8), nn.ReLU()],
            [nn.Linear(8, 8), nn.ReLU(), BitLinear(8, 3)], pool="max")
    out.append(("pfn_max", 22, m, "N = 6, F = 5; phi BitLinear 5→12, **BatchNorm** (eval, random "
                "running stats and affine), ReLU, BitLinear 12→8, ReLU; masked **max** pool (0 for a "
                "jet without particles); f full-precision **nn.Linear** 8→8, ReLU, BitLinear 8→3; "
                "all with bias; 8-bit activations."))

    torch.manual_seed(23)
    gen = torch.Generator().manual_seed(123)
    bn0 = LastDimBatchNorm(5)
    random_bn(bn0, gen)
    m = PFN(10, 5, [bn0, BitLinear(5, 16, act_bits=4), nn.ReLU(), BitLinear(16, 16, act_bits=4),
                    nn.ReLU(), BitLinear(16, 8, act_bits=4), nn.ReLU()],
            [BitLinear(8, 8, act_bits=4), nn.ReLU(), BitLinear(8, 2, act_bits=4)], pool="sum")
    out.append(("pfn_act4", 23, m, "N = 10, F = 5; phi **BatchNorm first** (an input "
                "standardization before any linear layer, as in qg_pfn; random stats), BitLinear "
                "5→16, ReLU, 16→16, ReLU, 16→8, ReLU; masked sum pool; f BitLinear 8→8, ReLU, 8→2; "
                "all with bias; **4-bit activations** (schema 3 with `profile_params` "
                "{\"act_bits\": 4})."))

    torch.manual_seed(24)
    gen = torch.Generator().manual_seed(124)
    bnf = LastDimBatchNorm(6)
    random_bn(bnf, gen)
    m = PFN(6, 3, [BitLinear(3, 5), nn.ReLU(), BitLinear(5, 4), nn.ReLU()],
            [bnf, BitLinear(6, 5), nn.ReLU(), BitLinear(5, 3)], pool="sum", n_jet=2)
    out.append(("pfn_jet", 24, m, "N = 6, F = 3, **G = 2 per-jet inputs**; phi BitLinear 3→5, "
                "ReLU, BitLinear 5→4, ReLU; masked sum pool; **jet_concat** (F's input = [pooled "
                "(4), jet (2)]); f **BatchNorm first** (`f.0`, eval, random running stats and "
                "affine) on the 6 concatenated values, BitLinear 6→5, ReLU, BitLinear 5→3; all "
                "with bias; 8-bit activations."))

    torch.manual_seed(25)
    m = PFN(7, 4, [BitLinear(4, 12), nn.ReLU(), BitLinear(12, 6)],
            [BitLinear(6, 8), nn.ReLU(), BitLinear(8, 2)], pool="mean")
    out.append(("pfn_mean", 25, m, "N = 7, F = 4; phi BitLinear 4→12, ReLU, BitLinear 12→6 (**no "
                "final ReLU**: signed outputs); masked **mean** pool (the sum over the real "
                "particles divided by their number, 0 for a jet without particles); f BitLinear "
                "6→8, ReLU, BitLinear 8→2; all with bias; 8-bit activations."))
    return out


def make_inputs(n_max, n_feat, seed, n=N_JETS):
    """Jets with multiplicity 0..n_max: jet 0 has no particle, jet 1 one, jet 2 all n_max, the
    rest uniform in 0..n_max; real particles fill the first slots (as in the pT-ordered data
    files), except the last 20 jets whose real slots are a random subset (holes in the mask).
    Features: N(0, 1) scaled per feature by 0.1..3 and shifted by -2..2 (different magnitudes,
    like log_z vs dy). Padded slots are 0."""
    rng = np.random.default_rng(seed)
    scale = rng.uniform(0.1, 3.0, n_feat)
    shift = rng.uniform(-2.0, 2.0, n_feat)
    x = (rng.standard_normal((n, n_max, n_feat)) * scale + shift).astype(np.float32)
    mult = rng.integers(0, n_max + 1, n)
    mult[:3] = [0, 1, n_max]
    mask = (np.arange(n_max)[None, :] < mult[:, None]).astype(np.uint8)
    for j in range(n - 20, n):
        mask[j] = rng.permutation(mask[j])
    x[mask == 0] = 0.0
    return x, mask


def make_jet_inputs(n_jet, seed, n=N_JETS):
    """Per-jet inputs [n, n_jet] (numpy default_rng(seed + 2000), a stream of its own so that x
    and mask follow make_inputs exactly): N(0, 1) scaled per feature by 0.5..3 and shifted by
    -1..1, then large and tiny magnitudes: jet 1 (one particle) = (50, -50), jets 3..12 have
    feature 0 = +-50 (alternating), jets 13..22 feature 1 uniform in -60..60, jets 23..27 every
    feature +-50, jets 28..32 scaled by 1e-3."""
    rng = np.random.default_rng(seed + 2000)
    scale = rng.uniform(0.5, 3.0, n_jet)
    shift = rng.uniform(-1.0, 1.0, n_jet)
    jet = rng.standard_normal((n, n_jet)) * scale + shift
    jet[1] = [50.0 if k % 2 == 0 else -50.0 for k in range(n_jet)]
    jet[3:13, 0] = [50.0 if j % 2 else -50.0 for j in range(3, 13)]
    jet[13:23, 1 % n_jet] = rng.uniform(-60.0, 60.0, 10)
    jet[23:28] = np.where(rng.integers(0, 2, (5, n_jet)) == 1, 50.0, -50.0)
    jet[28:33] *= 1e-3
    return jet.astype(np.float32)


def check_padding(model, x, mask, y, seed, jet=None):
    """Padded slots must not matter: fill them with junk and compare the outputs bit for bit."""
    rng = np.random.default_rng(seed + 1000)
    xj = x.copy()
    junk = (rng.standard_normal(x.shape) * 50.0).astype(np.float32)
    xj[mask == 0] = junk[mask == 0]
    with torch.no_grad():
        yj = model(torch.as_tensor(xj), torch.as_tensor(mask),
                   None if jet is None else torch.as_tensor(jet)).numpy()
    assert np.array_equal(yj, y), f"padded slots change the output (max diff {np.abs(yj - y).max()})"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=HERE)
    a = ap.parse_args()
    torch.set_num_threads(1)
    for name, seed, model, desc in make_models():
        model.eval()
        x, mask = make_inputs(model.n_max, model.n_features, seed)
        jet = make_jet_inputs(model.n_jet, seed) if model.n_jet else None
        path = os.path.join(a.out, f"{name}.safetensors")
        doc = save_for_bit2hls(model, path, name=name)
        # the document as bit2hls reads it (metadata and sidecar)
        with open(os.path.splitext(path)[0] + ".json") as fh:
            assert read_arch(path) == doc == json.load(fh), name
        ops = [l["op"] for l in doc["layers"]]
        if model.n_jet:
            assert doc["particles"]["jet_features"] == model.n_jet, name
            assert ops.count("jet_concat") == 1 and ops[ops.index("pool") + 1] == "jet_concat", name
        else:
            assert "jet_features" not in doc["particles"] and "jet_concat" not in ops, name
        g = golden(model, x, mask, jet=jet)
        check_padding(model, x, mask, g["y"], seed, jet)
        # the golden y is one batch; each jet alone gives the same output (per-particle and
        # per-jet scales: no cross-jet coupling)
        with torch.no_grad():
            for j in (0, 1, 2, 3, 23, len(x) - 1):
                yj = model(torch.as_tensor(x[j:j + 1]), torch.as_tensor(mask[j:j + 1]),
                           None if jet is None else torch.as_tensor(jet[j:j + 1])).numpy()
                assert np.allclose(yj, g["y"][j:j + 1], rtol=0, atol=1e-5), (name, j)
        np.savez_compressed(os.path.join(a.out, f"{name}_golden.npz"), **g)
        print(f"{name}: {json.dumps(doc['layers'])}")
        print(f"  jets {len(x)}, real particles {int(mask.sum())}, y[:2] {g['y'][:2].tolist()}"
              + (f", jet inputs {model.n_jet} (max |jet| {np.abs(jet).max():g})" if jet is not None else ""))
        for l in summarize(g):
            print(f"  {l}")


if __name__ == "__main__":
    main()
