"""The BitLinear classes `bit2hls.export` recognises, by class name and attributes (never by the
attribute name a model gives the layer), and how each one's arithmetic maps onto a bit2hls
float semantics profile (docs/python.md "Export", shared semantics in docs/semantics.md).

A family answers for one live module: the profile name, the profile parameters its options
need (`act_bits`, `act_qmax`, `act_clamp`, `eps_act`, `eps_w`), and, when the profile cannot
ternarize the float master weight the way the package does (binary BitHEP `BitLinear`,
onebitllms' round-half-up kernel, schneiderkamplab's `AbsMean` measure), the package's own
weight codes and scale β, written as I8 codes + β so that bit2hls uses exactly those weights.
An option the profile cannot express raises `ExportError` naming the module, its class and the
option.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional


class AssumptionWarning(UserWarning):
    """Something bit2hls assumed about a model (an activation, a layer order) or was told
    about it: the command line's `note:` and `warning:` lines."""


class ExportError(TypeError):
    """A module `bit2hls.export` cannot write exactly; the message names it and says why."""


@dataclass
class Quantized:
    """How one BitLinear module is written."""

    family: str
    profile: str
    params: dict = field(default_factory=dict)
    #: (codes [out, in] in {-1, 0, 1}, beta) as the package computes them; None = float weights
    codes: Optional[Callable[[], tuple]] = None
    #: assumptions to print (AssumptionWarning)
    notes: list = field(default_factory=list)


def _has(m: Any, *names: str) -> bool:
    return all(hasattr(m, n) for n in names)


def _module_of(m: Any) -> str:
    return type(m).__module__ or ""


def _fail(qname: str, m: Any, why: str) -> ExportError:
    return ExportError(f"layer '{qname}' ({type(m).__module__}.{type(m).__name__}): {why}")


def _eps_params(eps: float, default: float) -> dict:
    return {} if float(eps) == default else {"eps_act": float(eps), "eps_w": float(eps)}


def _bits_params(qmax: float, lo: float, hi: float, qmax8: int) -> dict:
    """act_bits when (Q, clamp) is a b-bit range of this profile, else act_qmax + act_clamp."""
    for b in range(2, 17):
        q = 2 ** (b - 1) if qmax8 == 128 else 2 ** (b - 1) - 1
        if (qmax, lo, hi) == (q, -(2 ** (b - 1)), 2 ** (b - 1) - 1):
            return {} if b == 8 else {"act_bits": b}
    return {"act_qmax": int(qmax), "act_clamp": [int(lo), int(hi)]}


def _codes_from(wq, beta):
    """Integer codes of a package's dequantized weight wq = codes * beta."""
    import torch

    codes = torch.round(wq / beta)
    if not torch.all((codes.abs() <= 1) & (codes * beta - wq).abs().le(1e-6 * abs(float(beta)))):
        raise ExportError("the package's quantized weight is not codes in {-1, 0, 1} times one scale")
    return codes.to(torch.int8), float(beta)


def _bithep(qname: str, m: Any) -> Optional[Quantized]:
    """ramonpeter/hep-bitnet `BitLinear158b` (ternary) and `BitLinear` (binary), and the
    project's own `models/training/bitlinear.py` BitLinear (`act_bits`)."""
    import torch

    name = type(m).__name__
    if name == "BitLinear" and _has(m, "act_bits", "qmax", "weight_beta", "eps"):
        params = _bits_params(m.qmax, -(m.qmax + 1), m.qmax, 127)
        params.update(_eps_params(m.eps, 1e-8))
        return Quantized("bit2hls BitLinear", "bithep", params)
    if not (name in ("BitLinear158b", "BitLinear") and _has(m, "Q_b", "eps", "quantize_weights",
                                                             "quantize_activations")):
        return None
    q = float(m.Q_b)
    params = _bits_params(q, -(q + 1), q, 127)
    params.update(_eps_params(m.eps, 1e-8))
    if name == "BitLinear158b":
        return Quantized("BitHEP BitLinear158b", "bithep", params)

    def codes():
        with torch.no_grad():
            w = m.weight.detach().float()
            beta = w.abs().mean().clamp(min=m.eps)
            return _codes_from(m.quantize_weights(w), beta)

    return Quantized("BitHEP BitLinear (binary)", "bithep", params, codes)


def _kyegomez(qname: str, m: Any) -> Optional[Quantized]:
    """kyegomez `bitnet` 0.2.5 `BitLinear`: binary weights, SimpleRMSNorm inside, bias unused."""
    if type(m).__name__ != "BitLinear" or _has(m, "Q_b") or _has(m, "weight_measure"):
        return None
    mod = __import__("sys").modules.get(_module_of(m))
    if mod is None or not all(hasattr(mod, f) for f in ("activation_quant", "weight_quant",
                                                         "SimpleRMSNorm")):
        return None
    notes = []
    if m.bias is not None:
        notes.append(f"layer '{qname}' (kyegomez BitLinear): its bias is in the state dict but "
                     f"its forward never adds it; bit2hls does the same (profile kyegomez)")
    return Quantized("kyegomez bitnet BitLinear", "kyegomez", {}, None, notes)


def _schneiderkamp(qname: str, m: Any) -> Optional[Quantized]:
    """schneiderkamplab `bitlinear` 2.4.x `BitLinear` (defaults: AbsMedian, LayerNorm inside,
    8-bit activations scaled by 128, bias before the rescale)."""
    import torch

    if type(m).__name__ != "BitLinear" or not _has(
            m, "weight_range", "weight_measure", "activation_range", "activation_measure",
            "kernel", "strategy", "norm", "lambda_"):
        return None
    wm, am = type(m.weight_measure).__name__, type(m.activation_measure).__name__
    checks = [
        (tuple(m.weight_range) == (-1, 1), f"weight_range {tuple(m.weight_range)} (only "
                                            f"ternary (-1, 1), the default 1.58 bits)"),
        (wm in ("AbsMedian", "AbsMean"), f"weight_measure {wm} (AbsMedian or AbsMean)"),
        (am == "AbsMax", f"activation_measure {am} (only AbsMax, per sample)"),
        (type(m.kernel).__name__ == "TorchLinear", f"kernel {type(m.kernel).__name__} "
                                                   f"(only TorchLinear)"),
        (getattr(m.strategy, "__name__", "") == "round_clamp",
         f"strategy {getattr(m.strategy, '__name__', m.strategy)} (only round_clamp; 'sample' "
         f"is stochastic)"),
        (float(m.lambda_) == 1.0, f"lambda_ {m.lambda_} (only 1.0: a partly quantized layer "
                                  f"is not a BitLinear in firmware)"),
        (type(m.norm).__name__ == "LayerNorm" and not isinstance(m.norm, torch.nn.Module),
         f"norm {type(m.norm).__name__} (only the default parameter-free LayerNorm)"),
    ]
    for ok, what in checks:
        if not ok:
            raise _fail(qname, m, f"unsupported option {what}")
    lo, hi = (int(v) for v in m.activation_range)
    params = _bits_params(max(abs(lo), abs(hi)), lo, hi, 128)
    params.update(_eps_params(m.eps, 1e-5))
    if wm == "AbsMedian":
        return Quantized("schneiderkamplab bitlinear BitLinear", "schneiderkamp", params)

    def codes():
        import bitlinear.bitlinear as bl  # the package this module came from

        with torch.no_grad():
            w = m.weight.detach()
            s = bl.scale(w, m.weight_range, m.weight_measure, False, m.eps)
            c = (w * s).round().clamp(-1, 1)
            return c.to(torch.int8), float(1.0 / s)

    return Quantized("schneiderkamplab bitlinear BitLinear (AbsMean)", "schneiderkamp", params,
                     codes)


def _bitlinear_pytorch(qname: str, m: Any) -> Optional[Quantized]:
    """ingur `bitlinear-pytorch` 0.5.0 `BitLinear`: the BitNet b1.58 FAQ code (ms-b158)."""
    if type(m).__name__ != "BitLinear" or not _module_of(m).startswith("bitlinear_pytorch"):
        return None
    return Quantized("bitlinear-pytorch BitLinear", "ms-b158")


def _onebitllms(qname: str, m: Any) -> Optional[Quantized]:
    """tiiuae `onebitllms` `BitNetLinear` (Triton kernels): b1.58 FAQ arithmetic with
    round-half-up (`floor(v + 0.5)`) in its kernels."""
    import torch

    if type(m).__name__ != "BitNetLinear" or not _module_of(m).startswith("onebitllms"):
        return None

    def codes():
        with torch.no_grad():
            w = m.weight.detach().float()
            scale = 1.0 / w.abs().mean().clamp(min=1e-5)
            c = torch.floor(w * scale + 0.5).clamp(-1, 1)  # its weight_quant_kernel
            return c.to(torch.int8), float(1.0 / scale)

    note = (f"layer '{qname}' (onebitllms BitNetLinear): its Triton kernels round activation "
            f"codes half up, bit2hls (ms-b158) half to even: they differ only where x*127/max|x| "
            f"is exactly half-way between two integers; the weight codes are written as its "
            f"kernel rounds them")
    return Quantized("onebitllms BitNetLinear", "ms-b158", {}, codes, [note])


FAMILIES = (_bithep, _schneiderkamp, _bitlinear_pytorch, _onebitllms, _kyegomez)


def quantized(qname: str, m: Any) -> Optional[Quantized]:
    """The family of `m` (None when it is none of the BitLinear classes)."""
    for f in FAMILIES:
        q = f(qname, m)
        if q is not None:
            return q
    return None
