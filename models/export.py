"""Export helper: a live PyTorch model -> .safetensors that bit2hls reads (docs/schema.md), through
the Python package's exporter (python/bit2hls/_export.py, loaded without its compiled part).

    from export import save_for_bit2hls
    save_for_bit2hls(model, "qg_mlp_partial.safetensors", name="qg_mlp_partial",
                     input_type="ap_fixed<16,6>")

writes
  * `<path>`: the model's state dict (float master weights, F32) with the architecture JSON
    (schema "bit2hls.arch/1"; "bit2hls.arch/2" with `profile_params` when the BitLinear layers
    have act_bits != 8, e.g. {"act_bits": 4}) stored as a string under the `__metadata__` key `bit2hls.arch`;
  * `<path stem>.json`: the same architecture document as a sidecar file.

The layer order and the activations are read from the live model: forward() is traced with
torch.fx (not the attribute order, which PyTorch keeps in the state dict), so any layout works
-- attributes named in any order, nested Sequentials, functional activations (F.relu,
torch.tanh) -- as long as forward() is a chain of BitLinear, nn.Linear, ReLU and
nn.BatchNorm1d (eval-mode semantics; nn.Identity and nn.Dropout are skipped, as in eval).
Activations bit2hls cannot compile (Tanh, GELU, SiLU, Sigmoid, ...) are written as what they
are, and bit2hls refuses the model naming the layer. Anything else is an error, never silently
dropped.  Plain `safetensors.torch.save_file(model.state_dict(), path)` works only for an
nn.Sequential with ReLU between the linear layers: bit2hls then infers the stack from the
numeric tensor names and prints the activation it assumed.

Particle-level models (`training/pfn.py: PFN`, a Particle Flow Network / Deep Set with
forward(x [B, N, F], mask [B, N])) are written as schema "bit2hls.arch/3": `particles`
{"max": N, "features": F} and the layers of `phi` (each traced like a chain above, applied to
every particle), one {"op": "pool", "kind": "sum" | "mean" | "max"} (masked), then the layers of `f`
(on the pooled vector), in execution order. Tensor names are the PFN's state dict keys
(`phi.0.weight`, `f.2.bias`, ...). A BatchNorm in `phi` must be `pfn.LastDimBatchNorm` (or its
`FixedBatchNorm`): a plain nn.BatchNorm1d on [B, N, F] normalizes the particle axis.
A PFN with G = `n_jet` > 0 per-jet inputs (forward(x, mask, jet [B, G]); f's input is
cat([pooled, jet], dim=1)) also gets `"jet_features": G` in `particles` and one
{"op": "jet_concat"} layer right after the pool; with G = 0 neither is written (the document is
the same as before per-jet inputs existed). `read_arch(path)` reads the document back from a
written .safetensors.

Also here: `ternary_export()` (I8 codes + weight_beta) and `hf_pack()` (HF bitnet U8 layout),
used for the format test files in models/seq_random/.
"""
import importlib
import json
import os
import sys
import types

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "training"))
META_KEY = "bit2hls.arch"


def _package_export():
    """python/bit2hls/_export.py, the Python package's exporter, loaded without the package's
    compiled extension (models/.venv does not have it): one implementation for both."""
    name = "bit2hls_pure"
    if name not in sys.modules:
        pkg = types.ModuleType(name)
        pkg.__path__ = [os.path.join(os.path.dirname(HERE), "python", "bit2hls")]
        sys.modules[name] = pkg
    return importlib.import_module(f"{name}._export")


def save_for_bit2hls(model, path, name=None, input_type=None, profile=None, sidecar=True,
                     task=None):
    """Write `path` (.safetensors, arch in __metadata__) and the sidecar `<stem>.json` with
    `bit2hls.export` (python/bit2hls/_export.py). `profile`, if given, must be the one the
    layers imply (the exporter reads it from their class); `task` as `bit2hls.export`'s (e.g.
    {"kind": "regression", "period": math.pi}). Returns the architecture document."""
    ex = _package_export()
    doc = ex.export(model, path, name=name, input_type=input_type, sidecar=sidecar, task=task)
    if profile is not None and doc["profile"] != profile:
        raise TypeError(f"save_for_bit2hls: the layers are profile {doc['profile']}, not {profile}")
    return doc


def read_arch(path):
    """The architecture document stored in a .safetensors written by save_for_bit2hls (dict)."""
    from safetensors import safe_open

    with safe_open(path, "pt") as f:
        meta = f.metadata() or {}
    if META_KEY not in meta:
        raise ValueError(f"{path}: no '{META_KEY}' in the safetensors metadata")
    return json.loads(meta[META_KEY])


# ---- other weight formats (for format tests) --------------------------------------------

def ternary_export(layer):
    """(codes int8 [out,in], beta float32 [1]) exactly as the BitLinear forward uses them."""
    with torch.no_grad():
        beta = layer.weight_beta()
        codes = (layer.weight / beta).round().clamp(-1, 1)
    return codes.to(torch.int8).contiguous(), beta.reshape(1).to(torch.float32).contiguous()


def hf_pack(codes):
    """HF bitnet packed layout: int8 codes [N,K] in {-1,0,1} -> uint8 [ceil(N/4), K].

    Row blocks: with R = ceil(N/4), byte P[r][c] holds W[i*R + r][c] in bits 2i+1:2i
    (i = 0..3, i = 0 the least significant), code = w + 1. Rows past N are padded with w = 0
    (code 1), like transformers' pack_weights pads."""
    w = np.asarray(codes, dtype=np.int64)
    n, k = w.shape
    r = (n + 3) // 4
    pad = np.zeros((4 * r, k), np.int64)
    pad[:n] = w
    c = (pad + 1).astype(np.uint8)
    out = np.zeros((r, k), np.uint8)
    for i in range(4):
        out |= (c[i * r:(i + 1) * r] << (2 * i)).astype(np.uint8)
    return out


def hf_unpack(packed, n):
    p = np.asarray(packed, dtype=np.uint8)
    r, k = p.shape
    out = np.zeros((4 * r, k), np.int8)
    for i in range(4):
        code = (p >> (2 * i)) & 3
        if np.any(code == 3):
            raise ValueError("invalid packed code 3")
        out[i * r:(i + 1) * r] = code.astype(np.int8) - 1
    return out[:n]
