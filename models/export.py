"""Export helper: a live PyTorch model -> .safetensors that bit2hls reads (docs/schema.md).

    from export import save_for_bit2hls
    save_for_bit2hls(model, "qg_mlp_partial.safetensors", name="qg_mlp_partial",
                     input_type="ap_fixed<16,6>")

writes
  * `<path>`: the model's state dict (float master weights, F32) with the architecture JSON
    (schema "bit2hls.arch/1") stored as a string under the `__metadata__` key `bit2hls.arch`;
  * `<path stem>.json`: the same architecture document as a sidecar file.

The model must be an nn.Sequential (or a module whose only child is one, e.g. `self.net`),
possibly nested, of BitLinear, nn.Linear, nn.ReLU and nn.BatchNorm1d (eval-mode semantics;
nn.Identity and nn.Dropout are skipped, as in eval). Anything else is an error, never
silently dropped.  Plain `safetensors.torch.save_file(model.state_dict(), path)` keeps working
for such models: bit2hls infers the stack from the tensor names (every linear layer a
BitLinear unless told otherwise), so the metadata matters only for mixed models
(nn.Linear layers, batch norm) or non-default profiles.

Also here: `ternary_export()` (I8 codes + weight_beta) and `hf_pack()` (HF bitnet U8 layout),
used for the format test files in models/seq_random/.
"""
import json
import os
import sys

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "training"))
from bitlinear import BitLinear  # noqa: E402

SCHEMA = "bit2hls.arch/1"
META_KEY = "bit2hls.arch"


def _walk(module, prefix, out):
    """Flatten nested Sequentials into (qualified name, module) in forward order."""
    if isinstance(module, nn.Sequential):
        for name, child in module.named_children():
            _walk(child, f"{prefix}{name}.", out)
    else:
        out.append((prefix[:-1], module))


def architecture(model, name=None, input_type=None, profile="bithep"):
    """The architecture document (a dict) for `model`."""
    root, prefix = model, ""
    if not isinstance(model, nn.Sequential):
        children = list(model.named_children())
        if len(children) != 1 or not isinstance(children[0][1], nn.Sequential):
            raise TypeError(
                f"save_for_bit2hls: expected an nn.Sequential or a module wrapping exactly one "
                f"nn.Sequential, got {type(model).__name__} with children "
                f"{[n for n, _ in children]}")
        prefix = children[0][0] + "."
        root = children[0][1]
    mods = []
    _walk(root, prefix, mods)
    layers = []
    inputs = None
    for qname, m in mods:
        if isinstance(m, BitLinear) or type(m) is nn.Linear:
            op = "bitlinear" if isinstance(m, BitLinear) else "linear"
            if inputs is None:
                inputs = m.in_features
            layer = {"op": op, "name": qname, "weight": f"{qname}.weight"}
            if m.bias is not None:
                layer["bias"] = f"{qname}.bias"
            layers.append(layer)
        elif isinstance(m, nn.ReLU):
            layers.append({"op": "relu"})
        elif isinstance(m, nn.BatchNorm1d):
            if not m.affine or not m.track_running_stats:
                raise TypeError(f"save_for_bit2hls: layer {qname}: BatchNorm1d needs affine=True "
                                f"and track_running_stats=True")
            layers.append({"op": "batchnorm", "name": qname, "weight": f"{qname}.weight",
                           "bias": f"{qname}.bias", "running_mean": f"{qname}.running_mean",
                           "running_var": f"{qname}.running_var", "eps": float(m.eps)})
        elif isinstance(m, (nn.Identity, nn.Dropout)):
            continue
        elif isinstance(m, nn.Linear):
            raise TypeError(f"save_for_bit2hls: layer {qname}: unsupported nn.Linear subclass "
                            f"{type(m).__name__} (only bit2hls BitLinear and plain nn.Linear)")
        else:
            raise TypeError(f"save_for_bit2hls: layer {qname}: unsupported module "
                            f"{type(m).__name__} (supported: BitLinear, nn.Linear, nn.ReLU, "
                            f"nn.BatchNorm1d)")
    if not any(l["op"] in ("bitlinear", "linear") for l in layers):
        raise TypeError("save_for_bit2hls: the model has no linear layer")
    doc = {"schema": SCHEMA}
    if name is not None:
        doc["name"] = name
    doc["inputs"] = inputs
    doc["profile"] = profile
    if input_type is not None:
        doc["input_type"] = input_type
    doc["layers"] = layers
    return doc


def save_for_bit2hls(model, path, name=None, input_type=None, profile="bithep", sidecar=True):
    """Write `path` (.safetensors, arch in __metadata__) and the sidecar `<stem>.json`.

    Returns the architecture document (dict)."""
    from safetensors.torch import save_file

    if name is None:
        name = os.path.splitext(os.path.basename(path))[0]
    doc = architecture(model, name=name, input_type=input_type, profile=profile)
    sd = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    # Drop bookkeeping tensors bit2hls never needs (BatchNorm's num_batches_tracked is I64).
    sd = {k: v for k, v in sd.items() if not k.endswith("num_batches_tracked")}
    text = json.dumps(doc, separators=(",", ":"))
    save_file(sd, path, metadata={META_KEY: text})
    if sidecar:
        with open(os.path.splitext(path)[0] + ".json", "w") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")
    return doc


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
