"""Particle Flow Network (Deep Sets) with BitLinear layers, for bit2hls's particle-level models.

    model = PFN(n_max=32, n_features=5, phi=[64, 64, 32], f=[64, 32, 2], pool="sum")
    logits = model(x, mask)          # x float32 [B, N, F], mask [B, N] (1 = real particle)
    # with G per-jet inputs (n_jet=G; f's first layer takes L + G inputs):
    logits = model(x, mask, jet)     # jet float32 [B, G]

Forward pass (architecture schema `bit2hls.arch/3`, docs/schema.md):

    h_i    = phi(x_i)                         every particle slot, shared weights, [B, N, L]
    pooled = sum_i  mask_i * h_i              "sum": padded slots contribute nothing (not phi(0),
                                              which is non-zero when layers have a bias)
           | (sum_i mask_i * h_i) / max(1, sum_i mask_i)
                                              "mean": the mean over the real particles (0 for
                                              a jet without particles)
           | max_i over {i: mask_i = 1} h_i   "max": per feature; 0 for a jet without particles
    f_in   = pooled                           n_jet = 0
           | cat([pooled, jet], dim=1)        n_jet = G > 0: [B, L + G], the pooled features
                                              first, then the G jet features in their order
                                              (exported as {"op": "jet_concat"} right after the
                                              pool, and `particles` {"jet_features": G})
    out    = f(f_in)                          [B, out]

All pools are masked with torch.where (not a multiplication), so whatever a padded slot holds
(even inf/NaN junk) cannot reach the output.

`phi` layers act on [B, N, F]: BitLinear / nn.Linear act on the last axis, and BitLinear's
absmax activation quantization runs over the last axis too, so EVERY PARTICLE HAS ITS OWN
ACTIVATION SCALE g = Q / max(max_k |x_ik|, eps) (PyTorch's natural behaviour with
bitlinear.py, kept on purpose). Batch normalisation in phi is `LastDimBatchNorm` (an
nn.BatchNorm1d over the feature = last axis; state dict keys weight / bias / running_mean /
running_var / num_batches_tracked as for nn.BatchNorm1d); in eval mode it is the per-channel
affine (x - running_mean) / sqrt(running_var + eps) * weight + bias on every slot. In training
mode its batch statistics use the real particles only (when the PFN passes the mask).
`FixedBatchNorm` is a LastDimBatchNorm that always uses its running statistics (a fixed
per-feature standardization, e.g. with constants from the train split), so the model's input can
be the raw feature file.

Layers of `f` act on the [B, L + G] vector f_in (BitLinear: one scale per jet, over the whole
concatenated vector). `PFN.from_sizes(..., f_bn_input=True)` puts a trainable
LastDimBatchNorm(L + G) in front of f (batch statistics in training, running statistics in
eval): pooled sums are O(10-100) while standardized jet features are O(1), and f's first
BitLinear takes one absmax scale over both.
"""
import numpy as np
import torch
from torch import nn

from bitlinear import BitLinear


class LastDimBatchNorm(nn.BatchNorm1d):
    """nn.BatchNorm1d over the LAST axis of [..., C] (e.g. [B, N, C] particles).

    Eval mode: per-channel affine on every row (exactly nn.BatchNorm1d's eval on [rows, C]).
    Training: batch statistics over the rows where `mask` is true (all rows without a mask);
    rows outside the mask are returned as 0 (a masked pool ignores them)."""

    def forward(self, x, mask=None):
        shape = x.shape
        flat = x.reshape(-1, shape[-1])
        if not self.training or mask is None:
            return super().forward(flat).reshape(shape)
        keep = mask.reshape(-1).bool()
        out = torch.zeros_like(flat)
        out[keep] = super().forward(flat[keep])
        return out.reshape(shape)


class FixedBatchNorm(LastDimBatchNorm):
    """A LastDimBatchNorm that always normalizes with its running statistics (never updates
    them): a fixed per-feature standardization (x - mean) / sqrt(var + eps) * weight + bias.
    Exported as an ordinary `batchnorm` layer. `trainable_affine=False` also freezes weight
    (1) and bias (0)."""

    def __init__(self, mean, std, eps=1e-5, trainable_affine=False):
        mean = torch.as_tensor(mean, dtype=torch.float32)
        std = torch.as_tensor(std, dtype=torch.float32)
        super().__init__(mean.numel(), eps=eps)
        with torch.no_grad():
            self.running_mean.copy_(mean)
            # var + eps = std^2 exactly is not representable in general; keep var = std^2
            self.running_var.copy_(std * std)
        self.weight.requires_grad_(trainable_affine)
        self.bias.requires_grad_(trainable_affine)

    def forward(self, x, mask=None):
        shape = x.shape
        flat = x.reshape(-1, shape[-1])
        y = nn.functional.batch_norm(flat, self.running_mean, self.running_var, self.weight,
                                     self.bias, False, 0.0, self.eps)
        return y.reshape(shape)


def _check_layer(where, i, m):
    if isinstance(m, nn.BatchNorm1d) and not isinstance(m, LastDimBatchNorm) and where == "phi":
        raise TypeError(f"PFN: phi.{i}: plain nn.BatchNorm1d normalizes axis 1 (the particle "
                        f"axis) of [B, N, F]; use pfn.LastDimBatchNorm")
    # anything else is judged by export.save_for_bit2hls (which refuses, naming the layer, what
    # the architecture schema cannot express, and writes known-but-uncompiled activations as
    # they are)


def build_stack(sizes, kinds=None, bias=True, act_bits=8, final_relu=False, bn=()):
    """Layers for sizes [a, b, c, ...]: linear layer i is BitLinear when kinds[i] == "bit"
    (default) or nn.Linear ("lin"); ReLU between linear layers (and after the last one when
    `final_relu`); a LastDimBatchNorm after linear layer i for every i in `bn`."""
    n = len(sizes) - 1
    kinds = kinds or ["bit"] * n
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(BitLinear(a, b, bias=bias, act_bits=act_bits) if kinds[i] == "bit"
                      else nn.Linear(a, b, bias=bias))
        if i in bn:
            layers.append(LastDimBatchNorm(b))
        if i < n - 1 or final_relu:
            layers.append(nn.ReLU())
    return layers


class PFN(nn.Module):
    """Particle Flow Network: out = f(cat([pool_i phi(x_i), jet])), masked pool ("sum", "mean" =
    the sum divided by the number of real particles, or "max").

    phi, f: lists (or nn.Sequential) of modules; phi acts on [B, N, F], f on [B, L + n_jet].
    n_jet: number of per-jet inputs concatenated after the pooled vector (0 = none: out =
    f(pool_i phi(x_i)), forward(x, mask) as before)."""

    def __init__(self, n_max, n_features, phi, f, pool="sum", n_jet=0):
        super().__init__()
        if pool not in ("sum", "mean", "max"):
            raise ValueError(f"PFN: pool {pool!r}: must be 'sum', 'mean' or 'max'")
        if int(n_jet) != n_jet or n_jet < 0:
            raise ValueError(f"PFN: n_jet {n_jet!r}: must be an integer >= 0")
        self.n_max = int(n_max)
        self.n_features = int(n_features)
        self.n_jet = int(n_jet)
        self.pool = pool
        self.phi = phi if isinstance(phi, nn.Sequential) else nn.Sequential(*phi)
        self.f = f if isinstance(f, nn.Sequential) else nn.Sequential(*f)
        for where, seq in (("phi", self.phi), ("f", self.f)):
            if len(seq) == 0:
                raise ValueError(f"PFN: {where} has no layers")
            for i, m in enumerate(seq):
                _check_layer(where, i, m)

    @classmethod
    def from_sizes(cls, n_max, phi_sizes, f_sizes, pool="sum", act_bits=8, bias=True,
                   phi_kinds=None, f_kinds=None, phi_bn=(), f_bn=(), standardize=None,
                   trainable_standardize=False, n_jet=0, f_bn_input=False):
        """phi_sizes [F, h1, ..., L] (ReLU after every phi layer, the last one too), f_sizes
        [L + n_jet, ..., out] (ReLU between, none after the last; f_sizes[0] must be L + n_jet).
        `standardize` = (mean, std) puts a FixedBatchNorm in front of phi. `f_bn_input` puts a
        trainable LastDimBatchNorm(f_sizes[0]) in front of f (the first module of f)."""
        if f_sizes[0] != phi_sizes[-1] + n_jet:
            raise ValueError(f"PFN.from_sizes: f_sizes[0] = {f_sizes[0]}, but f's input is the "
                             f"pooled vector ({phi_sizes[-1]}) + {n_jet} jet features = "
                             f"{phi_sizes[-1] + n_jet}")
        phi = build_stack(phi_sizes, phi_kinds, bias, act_bits, final_relu=True, bn=phi_bn)
        if standardize is not None:
            phi = [FixedBatchNorm(*standardize, trainable_affine=trainable_standardize)] + phi
        f = build_stack(f_sizes, f_kinds, bias, act_bits, final_relu=False, bn=f_bn)
        if f_bn_input:
            f = [LastDimBatchNorm(f_sizes[0])] + f
        return cls(n_max, phi_sizes[0], phi, f, pool, n_jet=n_jet)

    def per_particle(self, x, mask=None):
        """phi on every slot: [B, N, F] -> [B, N, L]."""
        h = x
        for m in self.phi:
            h = m(h, mask) if isinstance(m, LastDimBatchNorm) else m(h)
        return h

    def pooled(self, x, mask):
        m = mask.bool().unsqueeze(-1)  # [B, N, 1]
        h = self.per_particle(x, mask)
        if self.pool in ("sum", "mean"):
            s = torch.where(m, h, torch.zeros((), dtype=h.dtype)).sum(dim=1)
            if self.pool == "sum":
                return s
            # the mean over the real particles; 0 for a jet without any
            return s / mask.sum(dim=1, keepdim=True).clamp(min=1).to(h.dtype)
        neg = torch.full((), float("-inf"), dtype=h.dtype)
        mx = torch.where(m, h, neg).amax(dim=1)
        return torch.where(m.any(dim=1), mx, torch.zeros((), dtype=h.dtype))

    def f_input(self, x, mask, jet=None):
        """f's input: the pooled vector [B, L], followed by `jet` [B, n_jet] when n_jet > 0."""
        p = self.pooled(x, mask)
        if self.n_jet == 0:
            if jet is not None:
                raise ValueError("PFN: this model has no per-jet inputs (n_jet = 0), but a `jet` "
                                 "tensor was given")
            return p
        if jet is None:
            raise ValueError(f"PFN: this model takes {self.n_jet} per-jet inputs: call "
                             f"forward(x, mask, jet) with jet [B, {self.n_jet}]")
        jet = torch.as_tensor(jet)
        if tuple(jet.shape) != (p.shape[0], self.n_jet):
            raise ValueError(f"PFN: jet has shape {list(jet.shape)}, expected "
                             f"[{p.shape[0]}, {self.n_jet}] ([B, n_jet])")
        return torch.cat([p, jet.to(dtype=p.dtype, device=p.device)], dim=1)

    def forward(self, x, mask, jet=None):
        return self.f(self.f_input(x, mask, jet))


@torch.no_grad()
def floor_dead_bn(model, dead=1e-3, var=1.0):
    """For every LastDimBatchNorm in f: channels whose running variance is below `dead` (a Φ
    output that is 0 on every training jet, e.g. a ReLU that never fires) get running_var =
    `var`. On training-like jets such a channel is constant, so the model's outputs do not
    change; its eval-mode scale becomes weight/sqrt(var) instead of weight/sqrt(eps) ≈ 316·weight,
    which would make the firmware's proven ranges (any value the pool can take) tens of bits
    wider. Returns [(module index in f, channel)] of the changed channels."""
    changed = []
    for i, m in enumerate(model.f):
        if isinstance(m, LastDimBatchNorm) and not isinstance(m, FixedBatchNorm):
            low = (m.running_var < dead).nonzero().flatten().tolist()
            m.running_var[low] = var
            changed += [(i, c) for c in low]
    return changed


# ---- golden vectors ------------------------------------------------------------------------

def linear_layers(model):
    """BitLinear / nn.Linear modules in execution order (phi, then f), as golden.py counts them."""
    return [m for m in list(model.phi) + list(model.f) if isinstance(m, nn.Linear)]


@torch.no_grad()
def golden(model, x, mask, label=None, jet=None):
    """PyTorch reference of a PFN on jets x [n, N, F], mask [n, N] (one batch, eval, float32),
    and jet [n, G] for a model with G = model.n_jet > 0 per-jet inputs.

    Returns a dict for np.savez: x float32 [n, N, F], mask uint8 [n, N], y float32 [n, out],
    label int64 [n] (-1 when None), pooled float32 [n, L] (the pool's output; f's input when
    G = 0), when G > 0 also jet float32 [n, G] and f_input float32 [n, L + G] (f's input: pooled,
    then jet), and for every BitLinear j (j counts BitLinear and nn.Linear layers, phi first, then f)
    margin_<j> float32 [n]: per jet, the min over the layer's input elements of
    | |frac(x*g)| - 0.5 | (float64 from PyTorch's float32 x and g), over REAL particles only for
    phi layers (padded slots are never evaluated by bit2hls), 0.5 when the jet has none.
    Small margins (< 1e-4, say) mark near-ties of the activation rounding."""
    model.eval()
    xt = torch.as_tensor(np.ascontiguousarray(x, dtype=np.float32))
    mt = torch.as_tensor(np.ascontiguousarray(mask, dtype=np.uint8))
    jt = None if jet is None else torch.as_tensor(np.ascontiguousarray(jet, dtype=np.float32))
    layers = linear_layers(model)
    n_phi = sum(1 for m in model.phi if isinstance(m, nn.Linear))
    captured, hooks = {}, []
    for j, m in enumerate(layers):
        if isinstance(m, BitLinear):
            def hook(mod, inputs, output, j=j):
                captured[j] = (inputs[0].detach().clone(), mod.gamma.detach().clone())
            hooks.append(m.register_forward_hook(hook))
    pooled = {}
    h = model.f[0].register_forward_pre_hook(lambda mod, inp: pooled.__setitem__("p", inp[0].clone()))
    try:
        y = model(xt, mt, jt)  # refuses a missing / unexpected / misshapen jet
    finally:
        for hk in hooks + [h]:
            hk.remove()
    n = xt.shape[0]
    f_in = pooled["p"].numpy().astype(np.float32)  # f's input: [n, L] or [n, L + G]
    G = model.n_jet
    out = {"x": xt.numpy().astype(np.float32), "mask": mt.numpy().astype(np.uint8),
           "y": y.numpy().astype(np.float32),
           "label": (np.asarray(label, dtype=np.int64) if label is not None
                     else np.full(n, -1, np.int64)),
           "pooled": np.ascontiguousarray(f_in[:, :f_in.shape[1] - G])}
    if G > 0:
        out["jet"] = jt.numpy().astype(np.float32)
        out["f_input"] = f_in
        assert np.array_equal(f_in[:, f_in.shape[1] - G:], out["jet"])
    real = mt.numpy().astype(bool)
    for j, (inp, g) in sorted(captured.items()):
        v = inp.numpy().astype(np.float64) * g.numpy().astype(np.float64)
        frac = v - np.trunc(v)
        marg = np.abs(np.abs(frac) - 0.5).min(axis=-1)  # [n, N] (phi) or [n] (f)
        if j < n_phi:
            marg = np.where(real, marg, 0.5).min(axis=1)
        out[f"margin_{j}"] = marg.astype(np.float32)
    return out


def summarize(g, tie=1e-4):
    """One line per BitLinear layer: how many jets are near a rounding tie."""
    return [f"{k}: min {g[k].min():.3g}, jets with margin < {tie:g}: {int((g[k] < tie).sum())} / "
            f"{g[k].size}" for k in sorted(k for k in g if k.startswith("margin_"))]
