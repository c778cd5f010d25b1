#!/usr/bin/env python3
"""Golden files for the `kyegomez` and `schneiderkamp` profiles, made with the REAL packages.

    pip install --no-deps bitnet==0.2.5 zetascale==2.8.8 bitlinear==2.4.6
    python models/training/make_profile_golden.py      # writes tests/data/golden_profiles/

kyegomez `bitnet` 0.2.5 imports the whole of `zetascale` (transformers, bitsandbytes, ...) from
its package __init__; only two files matter for `BitLinear`: bitnet/bitlinear.py and
zeta/nn/modules/simple_rmsnorm.py. They are loaded unchanged from the installed packages by
file path (no code of theirs is copied here), so `--no-deps` installs suffice.
schneiderkamplab `bitlinear` 2.4.6 only needs torch and is imported normally.

For each package and bias setting: a 16->32->32->2 ReLU MLP (nn.Sequential of the package's
BitLinear with its default arguments), trained briefly (Adam, 300 steps, the package's own
straight-through estimator) on a two-class Gaussian problem, then in eval/no_grad:
  <name>.safetensors  safetensors.torch.save_file(model.state_dict()), metadata = versions
  <name>.npz          x [n,16] f32 inputs (event 0 all zero, event 1 constant, event 2 of
                      norm ~1e-13), y [n,2] f32 PyTorch outputs (one batch),
                      codes_<j> int16 [n,in_j] activation codes PyTorch computed inside the
                      j-th BitLinear (with the package's own functions on the hooked input)
"""
import importlib.metadata as md
import importlib.util
import os
import sys
import types

import numpy as np
import safetensors.torch
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
# tests/data, not models/: the shipped-model tests compile every models/*/*.safetensors
OUT = os.path.join(os.path.dirname(os.path.dirname(HERE)), "tests", "data", "golden_profiles")
# models/training/bitlinear.py (BitHEP's layer) would shadow the `bitlinear` package.
sys.path = [p for p in sys.path if os.path.abspath(p or os.curdir) != HERE]
N_EVENTS = 4000


def load_file_module(modname, path):
    spec = importlib.util.spec_from_file_location(modname, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[modname] = mod
    spec.loader.exec_module(mod)
    return mod


def kyegomez_module():
    """bitnet/bitlinear.py with zeta's simple_rmsnorm.py, both from site-packages."""
    zeta_dir = os.path.dirname(importlib.util.find_spec("zeta").origin)
    bitnet_dir = os.path.dirname(importlib.util.find_spec("bitnet").origin)
    for pkg in ("zeta", "zeta.nn", "zeta.nn.modules"):
        sys.modules.setdefault(pkg, types.ModuleType(pkg))
    load_file_module("zeta.nn.modules.simple_rmsnorm",
                     os.path.join(zeta_dir, "nn", "modules", "simple_rmsnorm.py"))
    return load_file_module("bitnet_bitlinear", os.path.join(bitnet_dir, "bitlinear.py"))


def kyegomez_codes(mod, layer, x):
    x_norm = mod.SimpleRMSNorm(layer.in_features)(x)
    scale = 127.0 / x_norm.abs().max(dim=-1, keepdim=True).values.clamp_(min=1e-5)
    return (x_norm * scale).round().clamp_(-128, 127)


def schneiderkamp_codes(bl, layer, x):
    x_norm = layer.norm(x)
    x_scale = bl.bitlinear.scale(x_norm, layer.activation_range, layer.activation_measure, True,
                                 layer.eps)
    return layer.strategy(x_norm * x_scale, layer.activation_range, layer.lambda_)


def data(n, seed):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    centre = torch.randn(2, 16, generator=torch.Generator().manual_seed(7))
    x = centre[y] + torch.randn(n, 16, generator=g) * 1.5
    # positive per-event scale spread, as in physics features of different energy
    x = x * torch.exp(torch.randn(n, 1, generator=g) * 0.5)
    return x.float(), y


def build(layer_cls, bias):
    return nn.Sequential(layer_cls(16, 32, bias=bias), nn.ReLU(), layer_cls(32, 32, bias=bias),
                         nn.ReLU(), layer_cls(32, 2, bias=bias))


def train(model, seed):
    x, y = data(8192, seed)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for step in range(300):
        idx = torch.randint(0, len(x), (256,), generator=torch.Generator().manual_seed(step))
        loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model


@torch.no_grad()
def write(name, model, codes_fn, meta):
    model.eval()
    x, _ = data(N_EVENTS, 12345)
    # eps paths: an all-zero event, a constant event (layer norm: zero spread), a tiny event
    x[0] = 0.0
    x[1] = 1.0
    x[2] = x[2] * 1e-14
    layers = [m for m in model if isinstance(m, nn.Linear)]
    captured = {}
    hooks = [m.register_forward_hook(lambda mod, inp, out, j=j: captured.__setitem__(j, inp[0]))
             for j, m in enumerate(layers)]
    y = model(x)
    for h in hooks:
        h.remove()
    out = {"x": x.numpy(), "y": y.numpy()}
    for j, m in enumerate(layers):
        q = codes_fn(m, captured[j])
        out[f"codes_{j}"] = q.numpy().astype(np.int16)
    sd = {k: v.contiguous() for k, v in model.state_dict().items()}
    safetensors.torch.save_file(sd, os.path.join(OUT, f"{name}.safetensors"), metadata=meta)
    np.savez_compressed(os.path.join(OUT, f"{name}.npz"), **out)
    print(f"{name}: {sorted(sd)}; train-set argmax share {y.argmax(1).float().mean():.3f}")


def main():
    os.makedirs(OUT, exist_ok=True)
    versions = {"torch": torch.__version__, "numpy": np.__version__}
    ky = kyegomez_module()
    import bitlinear as bl
    assert os.path.dirname(bl.__file__) != HERE and hasattr(bl, "bitlinearize"), bl.__file__
    meta_k = dict(versions, package="bitnet", package_version=md.version("bitnet"),
                  zetascale=md.version("zetascale"), profile="kyegomez")
    meta_s = dict(versions, package="bitlinear", package_version=md.version("bitlinear"),
                  profile="schneiderkamp")
    assert meta_k["package_version"] == "0.2.5" and meta_s["package_version"] == "2.4.6"
    for bias in (True, False):
        suffix = "bias" if bias else "nobias"
        torch.manual_seed(1 + bias)
        m = train(build(ky.BitLinear, bias), 10 + bias)
        write(f"kyegomez_{suffix}", m, lambda l, x: kyegomez_codes(ky, l, x), meta_k)
        torch.manual_seed(3 + bias)
        m = train(build(bl.BitLinear, bias), 20 + bias)
        write(f"schneiderkamp_{suffix}", m, lambda l, x: schneiderkamp_codes(bl, l, x), meta_s)


if __name__ == "__main__":
    main()
