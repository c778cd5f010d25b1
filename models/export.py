"""Export helper: a live PyTorch model -> .safetensors that bit2hls reads (docs/schema.md).

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
import json
import os
import sys

import numpy as np
import torch
import torch.fx
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "training"))
from bitlinear import BitLinear  # noqa: E402
from pfn import PFN, LastDimBatchNorm  # noqa: E402

SCHEMA = "bit2hls.arch/1"
SCHEMA_V2 = "bit2hls.arch/2"  # adds "profile_params" (activation bits, ...)
SCHEMA_V3 = "bit2hls.arch/3"  # adds particle-level models ("particles", a "pool" layer)
META_KEY = "bit2hls.arch"


# Activations bit2hls knows but does not compile: written as they are (docs/schema.md), so that
# bit2hls refuses the model naming the layer instead of compiling a ReLU in their place.
UNSUPPORTED_MODULES = {
    nn.Tanh: "tanh", nn.GELU: "gelu", nn.SiLU: "silu", nn.Sigmoid: "sigmoid",
    nn.Softmax: "softmax", nn.ELU: "elu", nn.LeakyReLU: "leakyrelu", nn.ReLU6: "relu6",
    nn.Hardtanh: "hardtanh", nn.Hardswish: "hardswish", nn.Hardsigmoid: "hardsigmoid",
    nn.Softplus: "softplus", nn.Mish: "mish", nn.PReLU: "prelu", nn.SELU: "selu",
}
_F = torch.nn.functional
UNSUPPORTED_FUNCTIONS = {
    torch.tanh: "tanh", _F.tanh: "tanh", _F.gelu: "gelu", _F.silu: "silu",
    torch.sigmoid: "sigmoid", _F.sigmoid: "sigmoid", _F.softmax: "softmax",
    torch.softmax: "softmax", _F.elu: "elu", _F.leaky_relu: "leakyrelu", _F.relu6: "relu6",
    _F.hardtanh: "hardtanh", _F.hardswish: "hardswish", _F.hardsigmoid: "hardsigmoid",
    _F.softplus: "softplus", _F.mish: "mish", _F.selu: "selu",
}
UNSUPPORTED_METHODS = {"tanh": "tanh", "sigmoid": "sigmoid", "softmax": "softmax"}
RELU_FUNCTIONS = {torch.relu, _F.relu}
SKIPPED_MODULES = (nn.Identity, nn.Dropout)


class _LeafTracer(torch.fx.Tracer):
    """Traces into containers only: every layer bit2hls knows is one call_module node."""

    def is_leaf_module(self, m, qualname):
        return isinstance(m, (BitLinear, nn.Linear, nn.BatchNorm1d, nn.ReLU, *SKIPPED_MODULES,
                              *UNSUPPORTED_MODULES)) or super().is_leaf_module(m, qualname)


def execution_order(model):
    """The model's operations in the order forward() runs them: [(qualified name or None, op)],
    op being the module or the function/method name. Traced with torch.fx, so functional
    activations (F.relu, torch.tanh, x.sigmoid()) are seen too. Only a chain is accepted: every
    op must take the previous op's output as its only tensor input."""
    try:
        graph = _LeafTracer().trace(model)
    except Exception as e:  # data-dependent control flow, etc.
        raise TypeError(f"save_for_bit2hls: cannot trace {type(model).__name__}.forward with "
                        f"torch.fx ({e}); write the architecture document by hand "
                        f"(docs/schema.md)") from e
    mods = dict(model.named_modules())
    ops, prev = [], None
    for node in graph.nodes:
        if node.op == "placeholder":
            if prev is not None:
                raise TypeError("save_for_bit2hls: forward() must take exactly one input tensor")
            prev = node
            continue
        if node.op == "output":
            if node.args[0] is not prev:
                raise TypeError("save_for_bit2hls: the output is not the last op's result")
            break
        tensors = [a for a in node.args if isinstance(a, torch.fx.Node)]
        tensors += [a for a in node.kwargs.values() if isinstance(a, torch.fx.Node)]
        if tensors != [prev]:
            raise TypeError(f"save_for_bit2hls: op '{node.name}' ({node.target}) does not take "
                            f"just the previous op's output: only a chain of layers (no skip "
                            f"connections, no arithmetic between layers) can be compiled")
        if node.op == "call_module":
            ops.append((node.target, mods[node.target]))
        elif node.op == "call_function":
            ops.append((None, node.target))
        elif node.op == "call_method":
            ops.append((None, node.target))
        else:
            raise TypeError(f"save_for_bit2hls: unsupported graph node {node.op} {node.target}")
        prev = node
    return ops


def _layer(qname, m):
    """The architecture layer object of one op (None for skipped ones)."""
    if isinstance(m, BitLinear) or type(m) is nn.Linear:
        layer = {"op": "bitlinear" if isinstance(m, BitLinear) else "linear", "name": qname,
                 "weight": f"{qname}.weight"}
        if m.bias is not None:
            layer["bias"] = f"{qname}.bias"
        return layer
    if isinstance(m, nn.ReLU) or m in RELU_FUNCTIONS or m == "relu":
        return {"op": "relu"}
    if isinstance(m, nn.BatchNorm1d):
        if not m.affine or not m.track_running_stats:
            raise TypeError(f"save_for_bit2hls: layer {qname}: BatchNorm1d needs affine=True "
                            f"and track_running_stats=True")
        return {"op": "batchnorm", "name": qname, "weight": f"{qname}.weight",
                "bias": f"{qname}.bias", "running_mean": f"{qname}.running_mean",
                "running_var": f"{qname}.running_var", "eps": float(m.eps)}
    if isinstance(m, SKIPPED_MODULES):
        return None
    if type(m) in UNSUPPORTED_MODULES:
        return {"op": UNSUPPORTED_MODULES[type(m)], "name": qname}
    if callable(m) and m in UNSUPPORTED_FUNCTIONS:
        return {"op": UNSUPPORTED_FUNCTIONS[m], "name": getattr(m, "__name__", str(m))}
    if isinstance(m, str) and m in UNSUPPORTED_METHODS:
        return {"op": UNSUPPORTED_METHODS[m], "name": m}
    if isinstance(m, nn.Linear):
        raise TypeError(f"save_for_bit2hls: layer {qname}: unsupported nn.Linear subclass "
                        f"{type(m).__name__} (only bit2hls BitLinear and plain nn.Linear)")
    what = type(m).__name__ if isinstance(m, nn.Module) else getattr(m, "__name__", str(m))
    raise TypeError(f"save_for_bit2hls: {qname or 'op'}: unsupported operation {what} "
                    f"(supported: BitLinear, nn.Linear, ReLU, nn.BatchNorm1d; known but not "
                    f"compiled: {', '.join(sorted(set(UNSUPPORTED_MODULES.values())))})")


def act_bits_of(model):
    """The activation bits shared by all BitLinear layers (None without any). bit2hls has one
    profile per model, so layers with different act_bits are refused here, not compiled wrong."""
    bits = {m.act_bits for m in model.modules() if isinstance(m, BitLinear)}
    if len(bits) > 1:
        raise TypeError(f"save_for_bit2hls: BitLinear layers with different act_bits {sorted(bits)}: "
                        f"bit2hls compiles one activation width per model")
    return bits.pop() if bits else None


def architecture(model, name=None, input_type=None, profile="bithep"):
    """The architecture document (a dict) for `model`, in execution order (torch.fx trace):
    any module layout (attributes in any order, nested Sequentials, functional activations)
    as long as forward() is a chain. Activations bit2hls cannot compile are written as they
    are (e.g. {"op": "tanh"}); bit2hls then refuses the model naming that layer.
    A `PFN` (training/pfn.py) gives a version-3 document (architecture_pfn)."""
    if isinstance(model, PFN):
        return architecture_pfn(model, name=name, input_type=input_type, profile=profile)
    layers, inputs = [], None
    for qname, m in execution_order(model):
        layer = _layer(qname, m)
        if layer is None:
            continue
        if layer["op"] in ("bitlinear", "linear") and inputs is None:
            inputs = m.in_features
        layers.append(layer)
    if not any(l["op"] in ("bitlinear", "linear") for l in layers):
        raise TypeError("save_for_bit2hls: the model has no linear layer")
    bits = act_bits_of(model)
    if bits is not None and bits != 8 and profile != "bithep":
        raise TypeError(f"save_for_bit2hls: act_bits {bits} with profile {profile}: this BitLinear "
                        f"is the bithep one")
    doc = {"schema": SCHEMA if bits in (None, 8) else SCHEMA_V2}
    if name is not None:
        doc["name"] = name
    doc["inputs"] = inputs
    doc["profile"] = profile
    if bits not in (None, 8):
        doc["profile_params"] = {"act_bits": bits}
    if input_type is not None:
        doc["input_type"] = input_type
    doc["layers"] = layers
    return doc


def _layer_width(m):
    """The input width a layer fixes (None for width-free ops such as ReLU)."""
    if isinstance(m, nn.Linear):
        return m.in_features
    if isinstance(m, nn.BatchNorm1d):
        return m.num_features
    return None


def architecture_pfn(model, name=None, input_type=None, profile="bithep"):
    """The version-3 architecture document of a `PFN` (training/pfn.py): `particles`, then the
    layers of `phi` (per particle), the masked `pool`, the layers of `f` (per jet), in the order
    forward() runs them. Raises TypeError for anything the schema cannot express."""
    cls = type(model).__name__
    for meth in ("forward", "f_input", "pooled", "per_particle"):
        if getattr(type(model), meth) is not getattr(PFN, meth):
            raise TypeError(f"save_for_bit2hls: {cls} overrides PFN.{meth}: only the PFN forward "
                            f"pass (phi per particle, masked pool, f) can be written")
    if model.pool not in ("sum", "mean", "max"):
        raise TypeError(f"save_for_bit2hls: {cls}.pool = {model.pool!r}: only 'sum', 'mean' and "
                        f"'max' pooling can be written")
    n_jet = getattr(model, "n_jet", 0)
    if isinstance(n_jet, bool) or not isinstance(n_jet, int) or n_jet < 0:
        raise TypeError(f"save_for_bit2hls: {cls}.n_jet = {n_jet!r}: must be an integer >= 0 "
                        f"(the number of per-jet inputs concatenated after the pool)")
    parts = {}
    for where in ("phi", "f"):
        seq = getattr(model, where)
        if not isinstance(seq, nn.Sequential):
            raise TypeError(f"save_for_bit2hls: {cls}.{where} is a {type(seq).__name__}, not an "
                            f"nn.Sequential")
        layers, widths = [], []
        for qname, m in execution_order(seq):
            full = f"{where}.{qname}" if qname is not None else None
            if (where == "phi" and isinstance(m, nn.BatchNorm1d)
                    and not isinstance(m, LastDimBatchNorm)):
                raise TypeError(f"save_for_bit2hls: layer {full}: {type(m).__name__} on "
                                f"[B, N, F] normalizes the particle axis; use pfn.LastDimBatchNorm")
            layer = _layer(full, m)
            if layer is None:
                continue
            if isinstance(m, nn.Module) and _layer_width(m) is not None:
                widths.append((full, _layer_width(m)))
            layers.append(layer)
        if not layers:
            raise TypeError(f"save_for_bit2hls: {cls}.{where} has no layer: bit2hls needs layers "
                            f"before and after the pool")
        parts[where] = (layers, widths)
    if not any(l["op"] in ("bitlinear", "linear") for w in ("phi", "f") for l in parts[w][0]):
        raise TypeError("save_for_bit2hls: the model has no linear layer")
    widths = parts["phi"][1]
    if widths and widths[0][1] != model.n_features:
        raise TypeError(f"save_for_bit2hls: layer {widths[0][0]} takes {widths[0][1]} features, "
                        f"{cls}.n_features is {model.n_features}")
    if n_jet > 0:
        # f's input is [pooled (L), jet (G)]: its first width-fixing layer must take L + G
        phi_out = [(f"phi.{q}", m.out_features) for q, m in model.phi.named_modules()
                   if isinstance(m, nn.Linear)]
        f_widths = parts["f"][1]
        if phi_out and f_widths and f_widths[0][1] != phi_out[-1][1] + n_jet:
            raise TypeError(f"save_for_bit2hls: layer {f_widths[0][0]} takes {f_widths[0][1]} "
                            f"inputs, but f's input is the pooled vector ({phi_out[-1][1]}, "
                            f"from {phi_out[-1][0]}) + {cls}.n_jet = {n_jet} jet features = "
                            f"{phi_out[-1][1] + n_jet}")
    bits = act_bits_of(model)
    if bits is not None and bits != 8 and profile != "bithep":
        raise TypeError(f"save_for_bit2hls: act_bits {bits} with profile {profile}: this BitLinear "
                        f"is the bithep one")
    doc = {"schema": SCHEMA_V3}
    if name is not None:
        doc["name"] = name
    doc["profile"] = profile
    if bits not in (None, 8):
        doc["profile_params"] = {"act_bits": bits}
    if input_type is not None:
        doc["input_type"] = input_type
    doc["particles"] = {"max": int(model.n_max), "features": int(model.n_features)}
    pool = [{"op": "pool", "kind": model.pool}]
    if n_jet > 0:
        doc["particles"]["jet_features"] = int(n_jet)
        pool.append({"op": "jet_concat"})
    doc["layers"] = parts["phi"][0] + pool + parts["f"][0]
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
