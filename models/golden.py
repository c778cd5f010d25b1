"""Golden vectors: what the PyTorch model computes, for bit2hls's bit-exactness tests.

golden.npz keys (n samples):
  x          float32 [n, in]    model input, exactly as fed to the model
  y          float32 [n, out]   model output (model.eval(), torch.no_grad(), float32, one batch
                                of all n samples)
  label      int64   [n]        class label (-1 when there is none, e.g. random inputs)
  codes_<j>  int8    [n, in_j]  activation codes q = clamp(round(x*g), -(Q+1), Q) (Q = 127 at 8 bits) computed by
                                PyTorch inside the j-th linear-type layer (j counts every
                                BitLinear and nn.Linear, 0, 1, 2, ...; present only for
                                BitLinear layers), with the layer's own g from that forward
  margin_<j> float32 [n]        per sample: min over elements of | |frac(x*g)| - 0.5 |, computed
                                in float64 from PyTorch's float32 x and g at that layer.  Small
                                values (say < 1e-4) mark near-ties of the rounding, where a
                                bit-exact integer implementation may legitimately differ from
                                PyTorch (see shared/reference/bitnet_semantics.md section 9).
  g_<j>      float32 [n]        the activation scale g = Q / max(max|x|, eps) PyTorch used
"""
import numpy as np
import torch
from torch import nn

from bitlinear import BitLinear


def linear_layers(model):
    """BitLinear / nn.Linear modules in forward (registration) order."""
    return [m for m in model.modules() if isinstance(m, nn.Linear)]


@torch.no_grad()
def golden(model, x, label=None):
    model.eval()
    xt = torch.as_tensor(np.ascontiguousarray(x, dtype=np.float32))
    layers = linear_layers(model)
    captured = {}
    hooks = []
    for j, m in enumerate(layers):
        def hook(mod, inputs, output, j=j):
            inp = inputs[0]
            rec = {"x": inp.detach().clone()}
            if isinstance(mod, BitLinear):
                g = mod.gamma  # set by this forward call
                q = (inp * g).round().clamp(*mod.act_clamp())
                # cross-check: recomputing with the same ops gives the same codes
                assert torch.equal(q, mod.act_codes(inp))
                rec["g"] = g.detach().clone()
                rec["q"] = q
            captured[j] = rec
        hooks.append(m.register_forward_hook(hook))
    try:
        y = model(xt)
    finally:
        for h in hooks:
            h.remove()
    out = {"x": xt.numpy().astype(np.float32), "y": y.numpy().astype(np.float32)}
    n = xt.shape[0]
    out["label"] = (np.asarray(label, dtype=np.int64) if label is not None
                    else np.full(n, -1, np.int64))
    for j in range(len(layers)):
        rec = captured[j]
        if "q" not in rec:
            continue
        q = rec["q"].numpy()
        assert q.min() >= -128 and q.max() <= 127
        out[f"codes_{j}"] = q.astype(np.int8)
        v = rec["x"].numpy().astype(np.float64) * rec["g"].numpy().astype(np.float64)
        frac = v - np.trunc(v)
        out[f"margin_{j}"] = np.abs(np.abs(frac) - 0.5).min(axis=1).astype(np.float32)
        out[f"g_{j}"] = rec["g"].numpy().reshape(n).astype(np.float32)
    return out


def save_golden(path, model, x, label=None):
    g = golden(model, x, label)
    np.savez_compressed(path, **g)
    return g


def summarize(g, tie=1e-4):
    """One line per BitLinear layer: how many samples are near a rounding tie."""
    lines = []
    for k in sorted(k for k in g if k.startswith("margin_")):
        m = g[k]
        lines.append(f"{k}: min {m.min():.3g}, samples with margin < {tie:g}: "
                     f"{int((m < tie).sum())} / {m.size}")
    return lines
