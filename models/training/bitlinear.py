"""BitLinear for bit2hls, the default `bithep` profile, written to match the BitHEP code.

Reference: ramonpeter/hep-bitnet, bitnet/bitlinear.py, class BitLinear158b (MIT), as read in its
current public version (the one with the optional frac_bits / beta_quant / quant_export
arguments, all off by default) and its earlier versions with the same default math.

Forward pass (float32, per sample = over the last dimension):

    eps   = 1e-8
    beta  = max(mean|W|, eps)                                  # per tensor, torch's own mean
    T     = clamp(round(W / beta), -1, 1)                      # division, round = half to even
    wq    = W + (T * beta - W).detach()                        # STE
    g     = 127 / x.abs().max(dim=-1, keepdim=True).values.clamp(min=eps)
    q     = clamp(round(x * g), -128, 127)                     # int8 code (as float)
    xq    = x + (q / g - x).detach()                           # STE
    y     = F.linear(xq, wq, bias)                             # float bias added after

Differences from hep-bitnet's BitLinear158b (default arguments): none in the arithmetic.
Cosmetic ones only:
  * hep-bitnet stores Q_b = 2**7 - 1.0 (a Python float 127.0) and writes `Q_b / m`; we write the
    literal `127 / m`. Both are the same PyTorch op (scalar / tensor), and PyTorch evaluates it
    as `m.reciprocal() * 127` (two roundings, see shared/reference/bitnet_semantics.md section 9).
  * hep-bitnet uses in-place `clamp_`; we use out-of-place `clamp` (same values).
  * hep-bitnet keeps beta/gamma as module attributes (`self.beta`, `self.gamma`); we keep
    `self.beta` and `self.gamma` too (last forward), and add helpers `ternary_codes()`,
    `weight_beta()` and `act_codes(x)` for export and golden vectors.
  * hep-bitnet's newest version can export `int_weight` + `beta_scale` keys (quant_export=True);
    that is off by default and not used here. Our I8 export uses `weight` + `weight_beta`.
The `nn.Linear` init (kaiming uniform) and state dict keys (`weight`, `bias`) are unchanged,
so `model.state_dict()` holds float master weights, exactly like hep-bitnet.
"""
import torch
import torch.nn.functional as F
from torch import nn

EPS = 1e-8


class BitLinear(nn.Linear):
    """Ternary-weight, 8-bit-activation linear layer (BitHEP / b1.58, bithep profile)."""

    def __init__(self, in_features, out_features, bias=True, eps=EPS):
        super().__init__(in_features, out_features, bias)
        self.eps = eps
        self.beta = None
        self.gamma = None

    # --- weights -----------------------------------------------------------------------
    def weight_beta(self):
        """beta = max(mean|W|, eps), a 0-d float32 tensor (PyTorch's own reduction)."""
        return self.weight.abs().mean().clamp(min=self.eps)

    def ternary_codes(self):
        """Ternary weight codes T in {-1, 0, 1} (float tensor, same shape as weight)."""
        beta = self.weight_beta()
        return (self.weight / beta).round().clamp(-1, 1)

    def quantize_weights(self, w):
        self.beta = w.abs().mean().clamp(min=self.eps)
        return (w / self.beta).round().clamp(-1, 1) * self.beta

    # --- activations -------------------------------------------------------------------
    def act_scale(self, x):
        """g = 127 / max(max|x| over the last dim, eps), shape [..., 1]."""
        eps = self.eps
        return 127 / x.abs().max(dim=-1, keepdim=True).values.clamp(min=eps)

    def act_codes(self, x):
        """Integer activation codes q (float tensor with integer values in [-128, 127])."""
        g = self.act_scale(x)
        return (x * g).round().clamp(-128, 127)

    def quantize_activations(self, x):
        self.gamma = self.act_scale(x)
        q = (x * self.gamma).round().clamp(-128, 127)
        return q / self.gamma

    def forward(self, x):
        w = self.weight
        wq = w + (self.quantize_weights(w) - w).detach()
        xq = x + (self.quantize_activations(x) - x).detach()
        return F.linear(xq, wq, self.bias)
