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
Activation bits: BitLinear158b's `b` (default 8) is `act_bits` here: Q_b = 2**(b-1) - 1,
g = Q_b / max(max|x|, eps), q = clamp(round(x*g), -(Q_b+1), Q_b). With b = 8 this is exactly the
code above (Q_b = 127). bit2hls cannot see b in a state dict: save a model with b != 8 with
`export.save_for_bit2hls`, which writes it into the architecture (`profile_params.act_bits`).

The `nn.Linear` init (kaiming uniform) and state dict keys (`weight`, `bias`) are unchanged,
so `model.state_dict()` holds float master weights, exactly like hep-bitnet.
"""
import torch
import torch.nn.functional as F
from torch import nn

EPS = 1e-8


class BitLinear(nn.Linear):
    """Ternary-weight, b-bit-activation linear layer (BitHEP / b1.58, bithep profile; b = 8 default)."""

    def __init__(self, in_features, out_features, bias=True, eps=EPS, act_bits=8):
        super().__init__(in_features, out_features, bias)
        if not 2 <= int(act_bits) <= 16:
            raise ValueError(f"act_bits {act_bits}: must be 2..16")
        self.eps = eps
        self.act_bits = int(act_bits)
        self.qmax = 2 ** (self.act_bits - 1) - 1  # Q_b (127 for b = 8)
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
    def act_clamp(self):
        """The code clamp range (-(Q_b+1), Q_b): (-128, 127) for 8 bits."""
        return -(self.qmax + 1), self.qmax

    def act_scale(self, x):
        """g = Q_b / max(max|x| over the last dim, eps), shape [..., 1] (Q_b = 127 at 8 bits)."""
        eps = self.eps
        return self.qmax / x.abs().max(dim=-1, keepdim=True).values.clamp(min=eps)

    def act_codes(self, x):
        """Integer activation codes q (float tensor with integer values in [-(Q_b+1), Q_b])."""
        g = self.act_scale(x)
        return (x * g).round().clamp(*self.act_clamp())

    def quantize_activations(self, x):
        self.gamma = self.act_scale(x)
        q = (x * self.gamma).round().clamp(*self.act_clamp())
        return q / self.gamma

    def forward(self, x):
        w = self.weight
        wq = w + (self.quantize_weights(w) - w).detach()
        xq = x + (self.quantize_activations(x) - x).detach()
        return F.linear(xq, wq, self.bias)
