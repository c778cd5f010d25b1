#!/usr/bin/env python3
"""The cases of issue 9 §1 on real jets: models a physicist would save with
`safetensors.torch.save_file(model.state_dict(), path)` that bit2hls once read silently wrong.

    pip install --no-deps bitnet==0.2.5 zetascale==2.8.8 bitlinear==2.4.6   # + models/requirements.txt
    python models/training/make_trust_cases.py   # writes tests/data/trust/*.safetensors, *_torch.npy, model.pt

Each network is trained briefly (Adam, 400 steps of 256 jets, the layer's own straight-through
estimator) on the training split of models/data/qg_features.npz (16 standardized jet
observables), then evaluated in eval/no_grad mode on all 28,000 jets of
models/data/test_jets.npz; `<case>_torch.npy` holds PyTorch's outputs [28000, 2] (float32) for
`bit2hls validate --data models/data/test_jets.npz --reference <case>_torch.npy`.

  attr_order      a module with attributes `inp`, `hid`, `out` (BitHEP BitLinear, 16-16-16-2):
                  name order is not execution order; widths chain in every order
  seq_tanh        nn.Sequential of BitHEP BitLinear with Tanh between (16-32-32-2)
  kyegomez        nn.Sequential of kyegomez `bitnet` 0.2.5 BitLinear + ReLU (16-32-32-2, bias)
  schneiderkamp   nn.Sequential of schneiderkamplab `bitlinear` 2.4.6 BitLinear + ReLU (same)
  model.pt        torch.save(state_dict) of seq_tanh: a zip archive, not safetensors

The packages' layers are loaded from site-packages by models/training/make_profile_golden.py's
helpers (no code of theirs is copied). Metadata records the versions.
"""
import importlib.metadata as md
import importlib.util
import os
import sys

import numpy as np
import safetensors.torch
import torch
from torch import nn

TRAINING = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.dirname(TRAINING)
# Test files, not shipped models: the shipped-model tests compile every models/*/*.safetensors.
HERE = os.path.join(os.path.dirname(MODELS), "tests", "data", "trust")


def load(modname, path):
    spec = importlib.util.spec_from_file_location(modname, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[modname] = mod
    spec.loader.exec_module(mod)
    return mod


# BitHEP's layer under another module name: `bitlinear` is schneiderkamplab's package.
bithep = load("bithep_bitlinear", os.path.join(TRAINING, "bitlinear.py"))
golden = load("make_profile_golden", os.path.join(TRAINING, "make_profile_golden.py"))


class AttrOrder(nn.Module):
    """Layers as attributes whose alphabetical order (hid, inp, out) is not the forward order."""

    def __init__(self):
        super().__init__()
        self.inp = bithep.BitLinear(16, 16)
        self.hid = bithep.BitLinear(16, 16)
        self.out = bithep.BitLinear(16, 2)

    def forward(self, x):
        return self.out(torch.relu(self.hid(torch.relu(self.inp(x)))))


def mlp(layer, act):
    return nn.Sequential(layer(16, 32, bias=True), act(), layer(32, 32, bias=True), act(),
                         layer(32, 2, bias=True))


def jets():
    d = np.load(os.path.join(MODELS, "data", "qg_features.npz"))
    train = d["split"] == 0
    x = torch.from_numpy((d["X"][train][:40000] - d["mean"]) / d["std"])  # as test_jets.npz
    y = torch.from_numpy(d["y"][train][:40000].astype(np.int64))
    test = torch.from_numpy(np.load(os.path.join(MODELS, "data", "test_jets.npz"))["x"])
    return x, y, test


def train(model, x, y, seed):
    torch.manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for step in range(400):
        idx = torch.randint(0, len(x), (256,), generator=torch.Generator().manual_seed(step))
        loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


@torch.no_grad()
def write(name, model, test, meta):
    sd = {k: v.contiguous() for k, v in model.state_dict().items()}
    safetensors.torch.save_file(sd, os.path.join(HERE, f"{name}.safetensors"), metadata=meta)
    out = model(test).numpy().astype(np.float32)
    np.save(os.path.join(HERE, f"{name}_torch.npy"), out)
    y = np.load(os.path.join(MODELS, "data", "test_jets.npz"))["y"]
    acc = (out.argmax(1) == y).mean()
    print(f"{name}: {sorted(sd)}; class-1 share {out.argmax(1).mean():.3f}, test accuracy {acc:.4f}")
    assert 0.2 < out.argmax(1).mean() < 0.8 and acc > 0.7, "training failed: a trivial classifier"


def main():
    x, y, test = jets()
    base = {"torch": torch.__version__, "numpy": np.__version__}
    torch.manual_seed(1)
    write("attr_order", train(AttrOrder(), x, y, 1), test, dict(base, layer="bithep BitLinear158b"))
    torch.manual_seed(2)
    tanh = train(mlp(bithep.BitLinear, nn.Tanh), x, y, 2)
    write("seq_tanh", tanh, test, dict(base, layer="bithep BitLinear158b"))
    torch.save(tanh.state_dict(), os.path.join(HERE, "model.pt"))
    ky = golden.kyegomez_module()
    import bitlinear as bl  # schneiderkamplab's package (models/training is not on sys.path)

    torch.manual_seed(3)
    write("kyegomez", train(mlp(ky.BitLinear, nn.ReLU), x, y, 3), test,
          dict(base, package="bitnet", package_version=md.version("bitnet"),
               zetascale=md.version("zetascale")))
    torch.manual_seed(4)
    write("schneiderkamp", train(mlp(bl.BitLinear, nn.ReLU), x, y, 4), test,
          dict(base, package="bitlinear", package_version=md.version("bitlinear")))


if __name__ == "__main__":
    main()
