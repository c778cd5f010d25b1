"""`bit2hls.export(module, path)`: a live PyTorch model -> a `.safetensors` bit2hls reads with
no flags (docs/python.md "Export"; the architecture document is docs/schema.md).

The file holds the model's state dict (float master weights), the architecture document and
float semantics profile in its metadata (`bit2hls.arch`), a sidecar `<stem>.json` with the same
document, and, with `example_input`, a U8 tensor `bit2hls.example` (the bytes of an .npz with
`x`, `mask`, `jet` and `ref`, the module's own outputs) that `bit2hls validate` uses when no
`--data` is given.

How the model is read:
- every module is classified by class and attributes (`_families.py`): the BitLinear of BitHEP
  (`BitLinear158b`, binary `BitLinear`), `bitlinear-pytorch`, `onebitllms` (`BitNetLinear`),
  kyegomez `bitnet`, schneiderkamplab `bitlinear`, and the project's own training BitLinear;
  plain `nn.Linear`, `nn.BatchNorm1d` (eval), ReLU; Dropout / Identity are skipped; the
  activations bit2hls knows but does not compile are written as they are (bit2hls then refuses
  the model naming the layer); anything else is refused here, naming the module and its class;
- a chain model's forward() is traced with torch.fx (execution order, not attribute order);
- a particle-level model (Deep Sets / PFN) is a module with `phi` and `f` (nn.Sequential),
  `pool` ("sum", "mean", "max"), `n_max`, `n_features` and optionally `n_jet`, whose
  forward(x [B, N, F], mask [B, N][, jet [B, G]]) is f(cat(masked pool of phi(x), jet));
- either way the module is then *run* on random inputs (and on `example_input`) and compared
  with the layers found, applied in that order: a forward() that computes anything else (a skip
  connection, a scale, a different pooling) is refused instead of written.
"""

from __future__ import annotations

import io
import json
import os
import warnings
from typing import Any, Optional

import numpy as np

from ._families import ExportError, Quantized, quantized
from ._files import write_atomic

SCHEMA = {1: "bit2hls.arch/1", 2: "bit2hls.arch/2", 3: "bit2hls.arch/3", 4: "bit2hls.arch/4"}
META_KEY = "bit2hls.arch"
EXAMPLE_TENSOR = "bit2hls.example"
#: the document's keys in the order they are written (docs/schema.md's order)
KEY_ORDER = ("schema", "name", "inputs", "profile", "profile_params", "input_type", "particles",
             "task", "layers")
#: largest |module - layers found| relative to the largest |output| the structure check allows
STRUCTURE_TOL = 1e-4

UNSUPPORTED = ("tanh", "gelu", "silu", "sigmoid", "softmax", "elu", "leakyrelu", "relu6",
               "hardtanh", "hardswish", "hardsigmoid", "softplus", "mish", "prelu", "selu")


def _torch():
    try:
        import torch
    except ImportError as e:  # pragma: no cover - the message is the point
        raise ImportError("bit2hls.export needs PyTorch: `pip install torch` (or "
                          "`bash python/setup_env.sh --torch`)") from e
    return torch


def _unsupported_modules(nn) -> dict:
    return {nn.Tanh: "tanh", nn.GELU: "gelu", nn.SiLU: "silu", nn.Sigmoid: "sigmoid",
            nn.Softmax: "softmax", nn.ELU: "elu", nn.LeakyReLU: "leakyrelu", nn.ReLU6: "relu6",
            nn.Hardtanh: "hardtanh", nn.Hardswish: "hardswish",
            nn.Hardsigmoid: "hardsigmoid", nn.Softplus: "softplus", nn.Mish: "mish",
            nn.PReLU: "prelu", nn.SELU: "selu"}


def _unsupported_functions(torch) -> dict:
    F = torch.nn.functional
    return {torch.tanh: "tanh", F.tanh: "tanh", F.gelu: "gelu", F.silu: "silu",
            torch.sigmoid: "sigmoid", F.sigmoid: "sigmoid", F.softmax: "softmax",
            torch.softmax: "softmax", F.elu: "elu", F.leaky_relu: "leakyrelu",
            F.relu6: "relu6", F.hardtanh: "hardtanh", F.hardswish: "hardswish",
            F.hardsigmoid: "hardsigmoid", F.softplus: "softplus", F.mish: "mish",
            F.selu: "selu"}


class _Writer:
    """Collects the layers, the extra tensors (I8 codes) and the profile of one model."""

    def __init__(self, torch):
        self.torch = torch
        self.nn = torch.nn
        self.extra: dict = {}
        self.quant: list[tuple[str, Quantized]] = []
        self.unsupported_mods = _unsupported_modules(self.nn)
        self.unsupported_fns = _unsupported_functions(torch)

    def is_leaf(self, m) -> bool:
        nn = self.nn
        if isinstance(m, (nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.Identity, nn.Dropout,
                          *self.unsupported_mods)):
            return True
        try:
            return quantized("", m) is not None
        except ExportError:
            return True  # a BitLinear with an option bit2hls refuses: `layer` says which

    def layer(self, qname: Optional[str], m: Any) -> Optional[dict]:
        """The architecture layer of one op (None for skipped ones)."""
        torch, nn = self.torch, self.nn
        if isinstance(m, nn.Module):
            q = quantized(qname, m)
            if q is not None:
                return self._bitlinear(qname, m, q)
            if type(m) is nn.Linear:
                return self._linear(qname, m, "linear")
            if isinstance(m, nn.ReLU):
                return {"op": "relu"}
            if isinstance(m, nn.BatchNorm1d):
                return self._batchnorm(qname, m)
            if isinstance(m, (nn.Identity, nn.Dropout)):
                return None
            if type(m) in self.unsupported_mods:
                return {"op": self.unsupported_mods[type(m)], "name": qname}
            raise ExportError(
                f"layer '{qname}' ({type(m).__module__}.{type(m).__name__}): not a layer bit2hls "
                f"compiles (BitLinear of BitHEP, bitlinear-pytorch, onebitllms, kyegomez bitnet "
                f"or schneiderkamplab bitlinear; nn.Linear, nn.BatchNorm1d, ReLU)")
        if m in (torch.relu, torch.nn.functional.relu) or m == "relu":
            return {"op": "relu"}
        if callable(m) and m in self.unsupported_fns:
            return {"op": self.unsupported_fns[m], "name": getattr(m, "__name__", str(m))}
        if isinstance(m, str) and m in ("tanh", "sigmoid", "softmax"):
            return {"op": m, "name": m}
        raise ExportError(f"operation {getattr(m, '__name__', m)!r} in forward(): not something "
                          f"bit2hls compiles (only a chain of layers and ReLU)")

    def _linear(self, qname, m, op):
        layer = {"op": op, "name": qname, "weight": f"{qname}.weight"}
        if m.bias is not None:
            layer["bias"] = f"{qname}.bias"
        return layer

    def _bitlinear(self, qname, m, q: Quantized):
        if not isinstance(getattr(m, "weight", None), self.torch.Tensor) or m.weight.dim() != 2:
            raise ExportError(f"layer '{qname}' ({type(m).__name__}): no 2-D weight")
        self.quant.append((qname, q))
        layer = self._linear(qname, m, "bitlinear")
        if q.profile == "kyegomez":
            layer.pop("bias", None)  # stored by the package, never used by its forward
        if q.codes is not None:
            codes, beta = q.codes()
            layer["weight"] = f"{qname}.weight_codes"
            layer["beta"] = f"{qname}.weight_beta"
            self.extra[layer["weight"]] = codes.to(self.torch.int8).contiguous()
            self.extra[layer["beta"]] = self.torch.tensor([beta], dtype=self.torch.float32)
        return layer

    def _batchnorm(self, qname, m):
        if not m.affine or not m.track_running_stats:
            raise ExportError(f"layer '{qname}' ({type(m).__name__}): BatchNorm1d needs "
                              f"affine=True and track_running_stats=True")
        return {"op": "batchnorm", "name": qname, "weight": f"{qname}.weight",
                "bias": f"{qname}.bias", "running_mean": f"{qname}.running_mean",
                "running_var": f"{qname}.running_var", "eps": float(m.eps)}

    def profile(self) -> tuple[str, dict]:
        """The one profile every BitLinear shares (bit2hls has one per model)."""
        if not self.quant:
            return "bithep", {}
        kinds = {(q.profile, json.dumps(q.params, sort_keys=True)) for _, q in self.quant}
        if len(kinds) > 1:
            seen = "; ".join(f"'{n}': {q.family}, profile {q.profile} {q.params or ''}"
                             for n, q in self.quant)
            raise ExportError(f"the BitLinear layers have different semantics ({seen}): bit2hls "
                              f"compiles one profile per model")
        return self.quant[0][1].profile, dict(self.quant[0][1].params)


def _trace_chain(w: _Writer, model) -> list:
    """[(qualified name or None, module or function)] in forward() order (torch.fx)."""
    import torch.fx

    class Tracer(torch.fx.Tracer):
        def is_leaf_module(self, m, qualname):
            return w.is_leaf(m) or super().is_leaf_module(m, qualname)

    try:
        graph = Tracer().trace(model)
    except Exception as e:
        raise ExportError(f"{type(model).__name__}.forward cannot be traced with torch.fx ({e}); "
                          f"write the architecture document by hand (docs/schema.md)") from e
    mods = dict(model.named_modules())
    ops, prev = [], None
    for node in graph.nodes:
        if node.op == "placeholder":
            if prev is not None:
                raise ExportError(f"{type(model).__name__}.forward takes more than one input: "
                                  f"a chain takes x; a particle-level model needs `phi`, `f`, "
                                  f"`pool`, `n_max`, `n_features` (docs/python.md)")
            prev = node
            continue
        if node.op == "output":
            if node.args[0] is not prev:
                raise ExportError("forward() does not return the last op's result")
            break
        args = [a for a in list(node.args) + list(node.kwargs.values())
                if isinstance(a, torch.fx.Node)]
        if args != [prev]:
            raise ExportError(f"op '{node.name}' ({node.target}) does not take just the previous "
                              f"op's output: only a chain of layers (no skip connections, no "
                              f"arithmetic between layers) can be compiled")
        if node.op == "call_module":
            ops.append((node.target, mods[node.target]))
        elif node.op in ("call_function", "call_method"):
            ops.append((None, node.target))
        else:
            raise ExportError(f"unsupported graph node {node.op} {node.target}")
        prev = node
    return ops


def _apply(torch, ops, x):
    """The ops found, applied in order (the structure check's model)."""
    for _, m in ops:
        if isinstance(m, str):
            x = getattr(x, m)()
        else:
            x = m(x)
    return x


def _is_set(model) -> bool:
    return all(hasattr(model, a) for a in ("phi", "f", "pool", "n_max", "n_features"))


def _chain_doc(w: _Writer, model) -> tuple[dict, list]:
    ops = _trace_chain(w, model)
    layers, inputs = [], None
    for qname, m in ops:
        layer = w.layer(qname, m)
        if layer is None:
            continue
        if layer["op"] in ("bitlinear", "linear") and inputs is None:
            inputs = m.in_features
        layers.append(layer)
    if inputs is None:
        raise ExportError(f"{type(model).__name__} has no linear layer")
    profile, params = w.profile()
    doc = {"schema": SCHEMA[2 if params else 1], "inputs": int(inputs), "profile": profile}
    if params:
        doc["profile_params"] = params
    doc["layers"] = layers
    return doc, ops


def _set_parts(w: _Writer, model) -> dict:
    nn = w.nn
    cls = type(model).__name__
    parts = {}
    for where in ("phi", "f"):
        seq = getattr(model, where)
        if not isinstance(seq, nn.Sequential):
            raise ExportError(f"{cls}.{where} is a {type(seq).__name__}, not an nn.Sequential")
        layers = []
        for qname, m in _trace_chain(w, seq):
            layer = w.layer(None if qname is None else f"{where}.{qname}", m)
            if layer is not None:
                layers.append(layer)
        if not layers:
            raise ExportError(f"{cls}.{where} has no layer: bit2hls needs layers before and "
                              f"after the pool")
        parts[where] = layers
    return parts


def _set_doc(w: _Writer, model) -> dict:
    cls = type(model).__name__
    if model.pool not in ("sum", "mean", "max"):
        raise ExportError(f"{cls}.pool = {model.pool!r}: only 'sum', 'mean' and 'max'")
    n_jet = getattr(model, "n_jet", 0)
    if isinstance(n_jet, bool) or not isinstance(n_jet, int) or n_jet < 0:
        raise ExportError(f"{cls}.n_jet = {n_jet!r}: must be an integer >= 0")
    parts = _set_parts(w, model)
    profile, params = w.profile()
    doc = {"schema": SCHEMA[3], "profile": profile}
    if params:
        doc["profile_params"] = params
    doc["particles"] = {"max": int(model.n_max), "features": int(model.n_features)}
    pool = [{"op": "pool", "kind": model.pool}]
    if n_jet > 0:
        doc["particles"]["jet_features"] = int(n_jet)
        pool.append({"op": "jet_concat"})
    doc["layers"] = parts["phi"] + pool + parts["f"]
    return doc


def _set_forward(torch, model, x, mask, jet):
    """phi on every real and padded particle (as rows), masked pool, jet concat, f."""
    b, n, f = x.shape
    h = model.phi(x.reshape(b * n, f)).reshape(b, n, -1)
    m = mask.bool().unsqueeze(-1)
    if model.pool in ("sum", "mean"):
        p = torch.where(m, h, torch.zeros((), dtype=h.dtype)).sum(dim=1)
        if model.pool == "mean":
            p = p / mask.bool().sum(dim=1, keepdim=True).clamp(min=1).to(h.dtype)
    else:
        mx = torch.where(m, h, torch.full((), float("-inf"), dtype=h.dtype)).amax(dim=1)
        p = torch.where(m.any(dim=1), mx, torch.zeros((), dtype=h.dtype))
    if jet is not None:
        p = torch.cat([p, jet.to(p.dtype)], dim=1)
    return model.f(p)


def _probe(torch, model, doc, n=257, seed=0):
    """Random inputs the structure check runs: wide dynamic range, a zero event, and for a set
    every multiplicity 0..N."""
    g = torch.Generator().manual_seed(seed)
    if "particles" not in doc:
        x = torch.randn(n, doc["inputs"], generator=g) * torch.exp(torch.randn(n, 1, generator=g))
        x[0] = 0
        return {"x": x}
    nmax, nf = doc["particles"]["max"], doc["particles"]["features"]
    x = torch.randn(n, nmax, nf, generator=g)
    counts = torch.arange(n) % (nmax + 1)
    mask = (torch.arange(nmax).unsqueeze(0) < counts.unsqueeze(1)).to(torch.float32)
    out = {"x": x, "mask": mask}
    if doc["particles"].get("jet_features"):
        out["jet"] = torch.randn(n, doc["particles"]["jet_features"], generator=g)
    return out


def _device(torch, model):
    return next((p.device for p in model.parameters()), torch.device("cpu"))


def _run(torch, model, inputs):
    """The module's outputs on `inputs` (moved to the module's device), on the CPU."""
    dev = _device(torch, model)
    keys = ("x", "mask", "jet") if "mask" in inputs else ("x",)
    args = [inputs[k].to(dev) for k in keys if k in inputs]
    try:
        out = model(*args)
    except Exception as e:
        raise ExportError(f"running {type(model).__name__}.forward on {[list(a.shape) for a in args]} "
                          f"failed: {type(e).__name__}: {e}") from e
    return out.cpu() if isinstance(out, torch.Tensor) else out


def _check_structure(torch, model, doc, ops, inputs):
    """The module's forward() equals the layers found, applied in order, on `inputs`."""
    with torch.no_grad():
        got = _run(torch, model, inputs)
        if not isinstance(got, torch.Tensor) or got.dim() != 2:
            raise ExportError(f"{type(model).__name__}.forward returns "
                              f"{type(got).__name__}{list(getattr(got, 'shape', []))}: "
                              f"expected a tensor [events, outputs]")
        on = {k: v.to(_device(torch, model)) for k, v in inputs.items()}
        if ops is None:
            want = _set_forward(torch, model, on["x"], on["mask"], on.get("jet"))
        else:
            want = _apply(torch, ops, on["x"])
        want = want.cpu()
    if got.shape != want.shape:
        err = float("inf")
    else:
        scale = max(float(want.abs().max()), 1e-30)
        err = float((got - want).abs().max()) / scale
    if not err <= STRUCTURE_TOL:
        if ops is None:
            pool = next(l["kind"] for l in doc["layers"] if l["op"] == "pool")
            what = f"phi on every particle, a masked {pool} pool, then f"
        else:
            what = "the layers found in execution order"
        raise ExportError(f"{type(model).__name__}.forward computes something else than {what} "
                          f"(largest difference {err:.2e} of the largest output): only what "
                          f"docs/schema.md describes can be written")
    return got


def _example_bytes(inputs: dict, ref) -> bytes:
    buf = io.BytesIO()
    arrays = {k: v.detach().cpu().numpy().astype(np.float32) for k, v in inputs.items()}
    arrays["ref"] = ref.detach().cpu().numpy().astype(np.float32)
    np.savez(buf, **arrays)
    return buf.getvalue()


def _example_inputs(torch, doc, example_input) -> dict:
    if isinstance(example_input, dict):
        ex = dict(example_input)
    elif isinstance(example_input, (tuple, list)):
        ex = dict(zip(("x", "mask", "jet"), example_input))
    else:
        ex = {"x": example_input}
    out = {}
    for k, v in ex.items():
        if v is None:
            continue
        if k not in ("x", "mask", "jet"):
            raise ExportError(f"example_input: unknown member {k!r} (x, mask, jet)")
        out[k] = torch.as_tensor(np.asarray(v, dtype=np.float32))
    if "x" not in out:
        raise ExportError("example_input has no `x`")
    is_set = "particles" in doc
    if is_set and "mask" not in out:
        raise ExportError("example_input of a particle-level model: give (x, mask[, jet])")
    if not is_set and set(out) != {"x"}:
        raise ExportError("example_input of a chain model is `x` [events, inputs] only")
    return out


def _task_doc(task: Any) -> dict:
    """The document's `task` (schema 4) from "classification", "regression" or a dict with
    `kind` and, for a regression, optional `period` (a target defined modulo it, e.g. math.pi)
    and `target` (its name)."""
    t = {"kind": task} if isinstance(task, str) else dict(task)
    kind = t.get("kind")
    if kind not in ("classification", "regression"):
        raise ExportError(f"task kind {kind!r}: 'classification' or 'regression'")
    unknown = set(t) - {"kind", "period", "target"}
    if unknown:
        raise ExportError(f"task: unknown keys {sorted(unknown)} (kind, period, target)")
    if kind == "classification" and len(t) > 1:
        raise ExportError("task: 'period' and 'target' are for a regression")
    if "period" in t:
        p = float(t["period"])
        if not (np.isfinite(p) and p > 0):
            raise ExportError(f"task period {t['period']!r} must be a positive number")
        t["period"] = p
    if "target" in t:
        t["target"] = str(t["target"])
    return {k: t[k] for k in ("kind", "period", "target") if k in t}


def export(module: Any, path: Any, example_input: Any = None, *, name: Optional[str] = None,
           input_type: Optional[str] = None, sidecar: bool = True,
           task: Any = None) -> dict:
    """Writes `module` (a live torch.nn.Module, in eval mode for the export) to `path`
    (.safetensors) with its architecture and float semantics profile in the metadata, and the
    sidecar `<stem>.json` unless `sidecar=False`. Returns the architecture document.

    `example_input`: inputs (NumPy or torch) the module is run on -- `x` for a chain, `(x,
    mask)` or `(x, mask, jet)` (or a dict with those keys) for a particle-level model; the
    inputs and the module's outputs are stored in the file (tensor `bit2hls.example`) so that
    `bit2hls validate model.safetensors` (no `--data`) and `bit2hls.load(path).validate()`
    check bit2hls's float model and firmware against PyTorch later with no other data.
    `name`: the model's name (default: the file stem); `input_type`: the firmware input type
    (`ap_fixed<16,6>`, as the document's `input_type`). `task`: "classification" (the default
    when omitted) or "regression", or a dict such as `{"kind": "regression", "period": math.pi,
    "target": "phi_decay"}` (a target defined modulo `period`): written as the document's
    `task` (schema 4); `validate` then compares values and residuals instead of the argmax.

    Raises `bit2hls.ExportError` (a TypeError) for anything bit2hls cannot express exactly,
    naming the module and its class. Assumptions are issued as `bit2hls.AssumptionWarning`.
    """
    torch = _torch()
    from safetensors.torch import save
    from ._families import AssumptionWarning

    path = os.fspath(path)
    was_training = module.training
    module.eval()
    try:
        w = _Writer(torch)
        if _is_set(module):
            doc, ops = _set_doc(w, module), None
        else:
            doc, ops = _chain_doc(w, module)
        doc["name"] = name or os.path.splitext(os.path.basename(path))[0]
        if input_type is not None:
            doc["input_type"] = input_type
        if task is not None:
            doc["schema"] = SCHEMA[4]
            doc["task"] = _task_doc(task)
        doc = {k: doc[k] for k in KEY_ORDER if k in doc}
        _check_structure(torch, module, doc, ops, _probe(torch, module, doc))
        example = None
        if example_input is not None:
            inputs = _example_inputs(torch, doc, example_input)
            ref = _check_structure(torch, module, doc, ops, inputs)
            example = _example_bytes(inputs, ref)
    finally:
        module.train(was_training)
    for _, q in w.quant:
        for note in q.notes:
            warnings.warn(note, AssumptionWarning, stacklevel=2)
    sd = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()
          if isinstance(v, torch.Tensor) and not k.endswith("num_batches_tracked")}
    sd.update(w.extra)
    if example is not None:
        sd[EXAMPLE_TENSOR] = torch.frombuffer(bytearray(example), dtype=torch.uint8)
    text = json.dumps(doc, separators=(",", ":"))
    write_atomic(path, save(sd, metadata={META_KEY: text}))
    if sidecar:
        write_atomic(os.path.splitext(path)[0] + ".json",
                     (json.dumps(doc, indent=2) + "\n").encode())
    return doc
