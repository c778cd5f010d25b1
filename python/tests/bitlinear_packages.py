"""The third-party BitLinear classes, from the pinned packages installed by
`python/setup_env.sh --torch` (python/requirements-bitlinear.txt), unchanged:

- schneiderkamplab `bitlinear` and ingur `bitlinear-pytorch`: imported normally;
- kyegomez `bitnet`: its package __init__ imports all of zetascale (transformers, ...), so
  bitnet/bitlinear.py and zeta's simple_rmsnorm.py are loaded by file path;
- onebitllms: its package __init__ imports transformers, so its kernels and layers/bitnet.py
  are loaded by file path under their own module names. Its forward runs Triton kernels on
  CUDA only (`assert w_2d.is_cuda`); `onebitllms_reference` is its arithmetic in PyTorch, read
  from those kernels (round half up), for the round trip on this CPU-only machine;
- BitHEP (ramonpeter/hep-bitnet) is not on the package index: `hep_bitnet()` is its
  bitnet/bitlinear.py BitLinear / BitLinear158b as published (MIT), the two classes only.
"""

import importlib.util
import os
import sys
import types

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _site(pkg):
    spec = importlib.util.find_spec(pkg)
    if spec is None:
        raise ImportError(f"{pkg} is not installed: bash python/setup_env.sh --torch")
    return os.path.dirname(spec.origin)


def _load(modname, path):
    spec = importlib.util.spec_from_file_location(modname, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[modname] = mod
    spec.loader.exec_module(mod)
    return mod


def kyegomez():
    """kyegomez bitnet 0.2.5's bitnet/bitlinear.py (its BitLinear)."""
    if "bitnet.bitlinear" in sys.modules:
        return sys.modules["bitnet.bitlinear"]
    zeta, bitnet = _site("zeta"), _site("bitnet")
    for pkg in ("zeta", "zeta.nn", "zeta.nn.modules", "bitnet"):
        sys.modules.setdefault(pkg, types.ModuleType(pkg))
    _load("zeta.nn.modules.simple_rmsnorm", os.path.join(zeta, "nn", "modules",
                                                         "simple_rmsnorm.py"))
    return _load("bitnet.bitlinear", os.path.join(bitnet, "bitlinear.py"))


def schneiderkamp():
    import bitlinear

    return bitlinear


def bitlinear_pytorch():
    import bitlinear_pytorch.bitlinear as m

    return m


def onebitllms():
    """onebitllms 0.0.4's layers/bitnet.py (BitNetLinear), with its Triton kernels module."""
    if "onebitllms.layers.bitnet" in sys.modules:
        return sys.modules["onebitllms.layers.bitnet"]
    root = _site("onebitllms")
    pkg = sys.modules.setdefault("onebitllms", types.ModuleType("onebitllms"))
    pkg.__path__ = [root]
    kernels = _load("onebitllms.kernels", os.path.join(root, "kernels", "__init__.py"))
    pkg.activation_quant_triton = kernels.activation_quant_triton
    pkg.weight_quant_triton = kernels.weight_quant_triton
    sys.modules.setdefault("onebitllms.layers", types.ModuleType("onebitllms.layers"))
    return _load("onebitllms.layers.bitnet", os.path.join(root, "layers", "bitnet.py"))


def onebitllms_reference(layer, x):
    """onebitllms BitNetLinear's forward on the CPU: its kernels' arithmetic (weights
    clamp(floor(w*s + 0.5), -1, 1) / s with s = 1 / max(mean|w|, 1e-5); activations
    clamp(floor(x*g + 0.5), -128, 127) / g with g = 127 / max(max|x|, 1e-5) per row), then
    F.linear with the bias."""
    w = layer.weight
    s = 1.0 / w.abs().mean().clamp(min=1e-5)
    wq = torch.floor(w * s + 0.5).clamp(-1, 1) / s
    g = 127.0 / x.abs().amax(dim=-1, keepdim=True).clamp(min=1e-5)
    xq = torch.floor(x * g + 0.5).clamp(-128, 127) / g
    return F.linear(xq, wq, layer.bias)


class OneBitCPU(nn.Module):
    """Runs every onebitllms BitNetLinear inside `model` with `onebitllms_reference`."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, *args):
        cls = onebitllms().BitNetLinear
        old = cls.forward
        cls.forward = lambda self, x: onebitllms_reference(self, x)
        try:
            return self.model(*args)
        finally:
            cls.forward = old


def hep_bitnet():
    """BitHEP's layers (ramonpeter/hep-bitnet bitnet/bitlinear.py, MIT; the two classes the
    examples use, as published)."""
    class BitLinear(nn.Linear):
        def __init__(self, in_features: int, out_features: int, bias: bool = True, b: int = 8):
            super().__init__(in_features, out_features, bias)
            self.eps = 1e-8
            self.device = self.weight.device
            self.dtype = self.weight.dtype
            self.Q_b = 2 ** (b - 1) - 1.0
            self.beta = torch.tensor(0.0, device=self.device, dtype=self.dtype)
            self.gamma = torch.tensor(0.0, device=self.device, dtype=self.dtype)

        def quantize_weights(self, w: Tensor) -> Tensor:
            alpha = w.mean()
            self.beta = w.abs().mean().clamp_(min=self.eps)
            quantized_weight = torch.sign(w - alpha)
            return quantized_weight * self.beta

        def quantize_activations(self, x: Tensor) -> Tensor:
            self.gamma = self.Q_b / x.abs().max(dim=-1, keepdim=True).values.clamp_(
                min=self.eps)
            quantized_x = (x * self.gamma).round().clamp_(-(self.Q_b + 1), self.Q_b)
            return quantized_x / self.gamma

        def forward(self, x: Tensor) -> Tensor:
            w = self.weight
            w_quant = w + (self.quantize_weights(w) - w).detach()
            x_quant = x + (self.quantize_activations(x) - x).detach()
            return F.linear(x_quant, w_quant, self.bias)

    class BitLinear158b(BitLinear):
        def quantize_weights(self, w: Tensor):
            self.beta = w.abs().mean().clamp_(min=self.eps)
            quantized_weight = (w / self.beta).round().clamp_(-1, 1)
            return quantized_weight * self.beta

    mod = types.ModuleType("bitnet_hep.bitlinear")
    for c in (BitLinear, BitLinear158b):
        c.__module__ = mod.__name__
        setattr(mod, c.__name__, c)
    return mod
