"""Regenerates the files in tests/data/export_tests/ (run from the repository root):

    /work/pyenv/bin/python models/training/make_export_tests.py   # or any venv with torch

The Rust tests (tests/cli.rs, src/front/tests.rs) read only the written files; CI needs no
torch. Every file is written by models/export.py or by plain torch/numpy:

  attrs.safetensors + attrs.json   AttrNet via save_for_bit2hls: layers are attributes `inp`,
                                   `hid`, `out` registered as out, inp, hid; torch.fx records
                                   the call order inp -> relu -> hid -> F.relu -> out
  attrs_plain.safetensors          the same weights via safetensors.torch.save_file(state_dict):
                                   bit2hls must refuse it (names do not give the order)
  attrs_data.npz                   x [2000, 8] float32, y int8 labels (PyTorch argmax)
  attrs_torch.npy                  the PyTorch outputs [2000, 2] float32 on x
  tanh.safetensors + tanh.json     Sequential(BitLinear, Tanh, BitLinear) via save_for_bit2hls:
                                   the document says "tanh", bit2hls refuses it naming the layer
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import nn

TRAINING = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(TRAINING, ".."))
sys.path.insert(0, TRAINING)
# Test files, not shipped models: the shipped-model tests compile every models/*/*.safetensors.
HERE = os.path.join(TRAINING, "..", "..", "tests", "data", "export_tests")
from bitlinear import BitLinear  # noqa: E402
from export import save_for_bit2hls  # noqa: E402


class AttrNet(nn.Module):
    """Attributes registered out of call order, alphabetical order (hid, inp, out) also chains."""

    def __init__(self):
        super().__init__()
        self.out = BitLinear(8, 2)
        self.inp = BitLinear(8, 8)
        self.hid = BitLinear(8, 8)
        self.act = nn.ReLU()

    def forward(self, x):
        x = self.act(self.inp(x))
        x = F.relu(self.hid(x))
        return self.out(x)


def main():
    torch.manual_seed(2026)
    model = AttrNet().eval()
    path = os.path.join(HERE, "attrs.safetensors")
    save_for_bit2hls(model, path, name="attrs")
    sd = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(sd, os.path.join(HERE, "attrs_plain.safetensors"))
    x = torch.randn(2000, 8, dtype=torch.float32)
    with torch.no_grad():
        y = model(x)
    np.savez(os.path.join(HERE, "attrs_data.npz"), x=x.numpy(),
             y=y.argmax(dim=1).numpy().astype(np.int8))
    np.save(os.path.join(HERE, "attrs_torch.npy"), y.numpy().astype(np.float32))

    tanh = nn.Sequential(BitLinear(8, 8), nn.Tanh(), BitLinear(8, 2)).eval()
    save_for_bit2hls(tanh, os.path.join(HERE, "tanh.safetensors"), name="tanh")

    # What the Rust tests rely on.
    with open(os.path.join(HERE, "attrs.json")) as f:
        ops = [(l["op"], l.get("name")) for l in json.load(f)["layers"]]
    assert ops == [("bitlinear", "inp"), ("relu", None), ("bitlinear", "hid"), ("relu", None),
                   ("bitlinear", "out")], ops
    with open(os.path.join(HERE, "tanh.json")) as f:
        assert json.load(f)["layers"][1] == {"op": "tanh", "name": "1"}


if __name__ == "__main__":
    main()
