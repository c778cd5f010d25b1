"""bit2hls.export round trips with the real BitLinear packages (python/requirements-bitlinear.txt):
a live module -> .safetensors -> bit2hls's float model equals the module's PyTorch forward pass
(argmax >= 99.9 %, max error <= 1e-4 of the largest output on events whose activation codes
have no rounding tie), the stored example validates with no other data, and what bit2hls
cannot express is refused naming the module and its class.
"""

import json
import os
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import bit2hls  # noqa: E402

import bitlinear_packages as pk  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
N = 3000
TOL = 1e-4


def inputs(n=N, width=16, seed=5):
    """Gaussian events with a per-event scale spread (physics features of different energy)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, width, generator=g) * torch.exp(torch.randn(n, 1, generator=g) * 0.5)
    return x.float()


def mlp(layer, widths=(16, 32, 32, 3), seed=1, **kw):
    torch.manual_seed(seed)
    mods = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        mods.append(layer(a, b, **kw))
        if i < len(widths) - 2:
            mods.append(nn.ReLU())
    m = nn.Sequential(*mods)
    with torch.no_grad():  # biases of a trained-looking size (init is 0 or tiny for some)
        for p in m.modules():
            if getattr(p, "bias", None) is not None:
                p.bias.normal_(0, 0.3)
    return m.eval()


def export_load(model, tmp_path, x, name="m", **kw):
    path = tmp_path / f"{name}.safetensors"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        doc = bit2hls.export(model, path, x, **kw)
        m = bit2hls.load(path)
    return doc, m, [str(w.message) for w in caught]


def near_tie_events(model, x, scale_fn):
    """Events where some BitLinear input code x*g is within 1e-4 of a half-integer (PyTorch and
    bit2hls may then round it differently by float noise)."""
    bad = torch.zeros(len(x), dtype=torch.bool)
    hooks = []

    def hook(mod, args, _out):
        v = scale_fn(mod, args[0])
        frac = (v - torch.floor(v)).sub(0.5).abs()
        bad.logical_or_(((frac < 1e-4)).any(dim=-1).reshape(len(x), -1).any(dim=1))

    for mod in model.modules():
        if type(mod).__name__ in ("BitLinear", "BitLinear158b", "BitNetLinear"):
            hooks.append(mod.register_forward_hook(hook))
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    return bad.numpy()


def per_row_codes(q):
    return lambda mod, a: a * (q / a.abs().amax(dim=-1, keepdim=True).clamp(min=1e-8))


def kyegomez_codes(mod, a):
    xn = pk.kyegomez().SimpleRMSNorm(mod.in_features)(a)
    return xn * (127.0 / xn.abs().amax(dim=-1, keepdim=True).clamp(min=1e-5))


def schneiderkamp_codes(mod, a):
    xn = mod.norm(a)
    return xn * pk.schneiderkamp().bitlinear.scale(xn, mod.activation_range,
                                                   mod.activation_measure, True, mod.eps)


def assert_round_trip(model, m, x, codes_fn, ref=None):
    with torch.no_grad():
        want = (model(x) if ref is None else ref).numpy().astype(np.float64)
    got = m.float(x.numpy())
    assert got.shape == want.shape
    agree = np.mean(got.argmax(1) == want.argmax(1))
    assert agree >= 0.999, f"argmax agreement {agree:.4%}"
    clean = ~near_tie_events(model, x, codes_fn)
    assert clean.mean() > 0.9, f"only {clean.mean():.1%} events without a near tie"
    err = np.abs(got - want)[clean].max() / np.abs(want).max()
    assert err <= TOL, f"max error {err:.3e} of the largest output"
    return agree, err


def assert_validates(m):
    r = m.validate()
    assert r["reference"]["passed"], json.dumps(r["reference"])[:2000]
    return r


FAMILIES = {
    "bithep_158b": (lambda: pk.hep_bitnet().BitLinear158b, {}, per_row_codes(127.0), "bithep"),
    "bithep_158b_b6": (lambda: pk.hep_bitnet().BitLinear158b, {"b": 6}, per_row_codes(31.0),
                       "bithep"),
    "bithep_binary": (lambda: pk.hep_bitnet().BitLinear, {}, per_row_codes(127.0), "bithep"),
    "bitlinear_pytorch": (lambda: pk.bitlinear_pytorch().BitLinear, {"bias": True},
                          per_row_codes(127.0), "ms-b158"),
    "kyegomez": (lambda: pk.kyegomez().BitLinear, {}, kyegomez_codes, "kyegomez"),
    "schneiderkamp": (lambda: pk.schneiderkamp().BitLinear, {}, schneiderkamp_codes,
                      "schneiderkamp"),
    "schneiderkamp_absmean_6bit": (lambda: pk.schneiderkamp().BitLinear,
                                   {"weight_measure": "AbsMean", "activation_range": 6},
                                   schneiderkamp_codes, "schneiderkamp"),
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_round_trip_random_mlp(family, tmp_path):
    cls, kw, codes_fn, profile = FAMILIES[family]
    model = mlp(cls(), **kw)
    x = inputs()
    doc, m, _ = export_load(model, tmp_path, x)
    assert doc["profile"] == profile and m.profile == profile
    assert_round_trip(model, m, x, codes_fn)
    assert_validates(m)


def test_round_trip_onebitllms(tmp_path):
    """onebitllms' forward is CUDA-only (Triton); on this CPU machine its BitNetLinear runs its
    kernels' arithmetic in PyTorch (bitlinear_packages.onebitllms_reference)."""
    cls = pk.onebitllms().BitNetLinear
    model = mlp(cls, bias=True)
    for p in model.parameters():  # BitNetLinear leaves its weight uninitialised
        if p.dim() == 2:
            nn.init.kaiming_uniform_(p)
    x = inputs()
    old = cls.forward
    cls.forward = lambda self, x: pk.onebitllms_reference(self, x)
    try:
        doc, m, notes = export_load(model, tmp_path, x)
        assert doc["profile"] == "ms-b158"
        assert any("round activation codes half up" in n for n in notes), notes
        assert_round_trip(model, m, x, lambda mod, a: a * (127.0 / a.abs().amax(
            dim=-1, keepdim=True).clamp(min=1e-5)))
    finally:
        cls.forward = old
    assert_validates(m)


class Deepset(nn.Module):
    """A Deep Sets / PFN with another layout than models/training/pfn.py: phi, a masked pool,
    f, in a forward the exporter runs and checks."""

    def __init__(self, layer, n_max=6, n_features=4, pool="sum", n_jet=0, **kw):
        super().__init__()
        self.n_max, self.n_features, self.pool, self.n_jet = n_max, n_features, pool, n_jet
        self.phi = nn.Sequential(layer(n_features, 16, **kw), nn.ReLU(), layer(16, 8, **kw),
                                 nn.ReLU())
        self.f = nn.Sequential(layer(8 + n_jet, 16, **kw), nn.ReLU(), layer(16, 2, **kw))

    def forward(self, x, mask, jet=None):
        h = self.phi(x) * mask.unsqueeze(-1)
        p = h.sum(1)
        if self.pool == "mean":
            p = p / mask.sum(1, keepdim=True).clamp(min=1)
        if jet is not None:
            p = torch.cat([p, jet], dim=1)
        return self.f(p)


def jets(n=N, n_max=6, n_features=4, seed=9):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, n_max, n_features, generator=g)
    counts = torch.randint(0, n_max + 1, (n,), generator=g)
    mask = (torch.arange(n_max)[None, :] < counts[:, None]).float()
    return x * mask.unsqueeze(-1), mask


@pytest.mark.parametrize("pool,n_jet", [("sum", 0), ("mean", 0), ("sum", 3)])
def test_round_trip_particle_model(pool, n_jet, tmp_path):
    torch.manual_seed(3)
    model = Deepset(pk.hep_bitnet().BitLinear158b, pool=pool, n_jet=n_jet).eval()
    x, mask = jets()
    jet = torch.randn(len(x), n_jet) if n_jet else None
    ex = (x, mask) if jet is None else (x, mask, jet)
    doc, m, _ = export_load(model, tmp_path, ex)
    assert doc["schema"] == "bit2hls.arch/3" and doc["particles"]["max"] == 6
    assert [l["op"] for l in doc["layers"]].count("pool") == 1
    with torch.no_grad():
        want = model(*ex).numpy().astype(np.float64)
    got = m.float(x.numpy(), mask=mask.numpy(), jet=None if jet is None else jet.numpy())
    assert np.mean(got.argmax(1) == want.argmax(1)) >= 0.999
    assert np.abs(got - want).max() / np.abs(want).max() <= TOL
    assert_validates(m)


def test_shipped_qg_mlp_round_trip(tmp_path):
    """The shipped qg_mlp state dict in BitHEP's BitLinear158b, exported from the live module:
    bit2hls's float model equals the module on the shipped test jets."""
    from safetensors.torch import load_file

    sd = load_file(os.path.join(ROOT, "models", "qg_mlp", "qg_mlp.safetensors"))
    widths = [sd["0.weight"].shape[1]] + [sd[f"{i}.weight"].shape[0] for i in (0, 2, 4, 6)]
    model = mlp(pk.hep_bitnet().BitLinear158b, widths=tuple(widths))
    model.load_state_dict(sd)
    x = torch.from_numpy(np.load(os.path.join(ROOT, "models", "qg_mlp", "golden.npz"))["x"])
    doc, m, _ = export_load(model, tmp_path, x[:2000])
    assert doc["inputs"] == widths[0]
    assert_round_trip(model, m, x, per_row_codes(127.0))
    assert_validates(m)


class Skip(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = pk.hep_bitnet().BitLinear158b(4, 4)
        self.b = pk.hep_bitnet().BitLinear158b(4, 2)

    def forward(self, x):
        return self.b(self.a(x) + x)


class Scaled(nn.Module):
    """A chain in its attributes, but forward() multiplies by 2: fx sees it as a mul node."""

    def __init__(self):
        super().__init__()
        self.net = mlp(pk.hep_bitnet().BitLinear158b, widths=(4, 4, 2))

    def forward(self, x):
        return self.net(x) * 2


class WrongPool(Deepset):
    def forward(self, x, mask, jet=None):
        return self.f((self.phi(x) * mask.unsqueeze(-1)).amax(1))  # says sum, computes max


def refused(model, tmp_path, *words):
    path = tmp_path / "r.safetensors"
    with pytest.raises(bit2hls.ExportError) as e:
        bit2hls.export(model, path)
    for w in words:
        assert w in str(e.value), str(e.value)
    assert not path.exists()
    return str(e.value)


def test_refusals_name_the_module_and_class(tmp_path):
    sk = pk.schneiderkamp().BitLinear
    refused(nn.Sequential(sk(4, 4, strategy="sample")), tmp_path, "'0'", "BitLinear", "strategy")
    refused(nn.Sequential(sk(4, 4, lambda_=0.5)), tmp_path, "lambda_")
    from bitlinear.norms import ParametricLayerNorm
    refused(nn.Sequential(sk(4, 4, norm=ParametricLayerNorm(4))), tmp_path, "norm")
    refused(nn.Sequential(pk.hep_bitnet().BitLinear158b(4, 4), nn.ReLU(),
                          pk.bitlinear_pytorch().BitLinear(4, 2)), tmp_path,
            "different semantics", "bithep", "ms-b158")
    refused(nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4)), tmp_path, "'1'", "LayerNorm")
    refused(Skip(), tmp_path, "chain")
    refused(Scaled(), tmp_path, "chain")
    torch.manual_seed(0)
    refused(WrongPool(pk.hep_bitnet().BitLinear158b).eval(), tmp_path, "WrongPool.forward",
            "something else")


def test_unsupported_activation_is_written_and_refused_by_bit2hls(tmp_path):
    model = nn.Sequential(pk.hep_bitnet().BitLinear158b(4, 4), nn.Tanh(),
                          pk.hep_bitnet().BitLinear158b(4, 2)).eval()
    path = tmp_path / "t.safetensors"
    doc = bit2hls.export(model, path)
    assert [l["op"] for l in doc["layers"]] == ["bitlinear", "tanh", "bitlinear"]
    with pytest.raises(bit2hls.Bit2hlsError, match="tanh"):
        bit2hls.load(path)


def test_validate_without_stored_example_says_what_to_give(tmp_path):
    model = mlp(pk.hep_bitnet().BitLinear158b, widths=(4, 4, 2))
    path = tmp_path / "n.safetensors"
    bit2hls.export(model, path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = bit2hls.load(path)
    with pytest.raises(bit2hls.Bit2hlsError, match="example_input"):
        m.validate()


class Stacks(nn.Module):
    """A PFN from explicit phi / f stacks (BitHEP's BitLinear158b), PyTorch's masked mean."""

    def __init__(self, phi, f, n_max, pool):
        super().__init__()
        self.phi, self.f, self.pool = phi, f, pool
        self.n_max, self.n_features = n_max, phi[0].in_features

    def forward(self, x, mask):
        h = (self.phi(x) * mask.unsqueeze(-1)).sum(1)
        if self.pool == "mean":
            h = h / mask.sum(1, keepdim=True).clamp(min=1)
        return self.f(h)


def test_shipped_pfn_mean_round_trip(tmp_path):
    """The shipped pfn_mean state dict in a live module: bit2hls's float model equals both the
    module and the PyTorch outputs shipped with it."""
    from safetensors.torch import load_file

    d = os.path.join(ROOT, "models", "pfn_random")
    sd = load_file(os.path.join(d, "pfn_mean.safetensors"))
    bl = pk.hep_bitnet().BitLinear158b
    shape = {k[:-len(".weight")]: v.shape for k, v in sd.items() if k.endswith(".weight")}
    phi = nn.Sequential(bl(*shape["phi.0"][::-1]), nn.ReLU(), bl(*shape["phi.2"][::-1]))
    f = nn.Sequential(bl(*shape["f.0"][::-1]), nn.ReLU(), bl(*shape["f.2"][::-1]))
    g = np.load(os.path.join(d, "pfn_mean_golden.npz"))
    model = Stacks(phi, f, g["x"].shape[1], "mean").eval()
    model.load_state_dict(sd)
    x, mask = torch.from_numpy(g["x"]), torch.from_numpy(g["mask"]).float()
    doc, m, _ = export_load(model, tmp_path, (x, mask))
    shipped = json.load(open(os.path.join(d, "pfn_mean.json")))
    assert doc["layers"] == shipped["layers"] and doc["particles"] == shipped["particles"]
    got = m.float(g["x"], mask=g["mask"])
    for want in (g["y"].astype(np.float64), model(x, mask).detach().numpy().astype(np.float64)):
        assert np.mean(got.argmax(1) == want.argmax(1)) >= 0.999
        assert np.abs(got - want).max() / np.abs(want).max() <= TOL
    assert_validates(m)


def test_models_export_reproduces_the_shipped_particle_models(tmp_path):
    """models/export.py (the training scripts' helper) writes through the same exporter: the
    seeded models of models/pfn_random/make_pfn_random.py give the shipped documents and
    tensors (BatchNorm in phi and f, 4-bit activations, per-jet inputs, mean and max pools)."""
    import importlib
    import sys

    from safetensors.torch import load_file

    d = os.path.join(ROOT, "models", "pfn_random")
    # models/training/bitlinear.py has the import name of schneiderkamplab's package
    saved = {k: sys.modules.pop(k) for k in list(sys.modules)
             if k == "bitlinear" or k.startswith("bitlinear.")}
    sys.path[:0] = [d, os.path.join(ROOT, "models")]
    try:
        make = importlib.import_module("make_pfn_random")
        export = importlib.import_module("export")
    finally:
        del sys.path[:2]
        sys.modules.pop("bitlinear", None)
        sys.modules.update(saved)
    models = make.make_models()
    assert len(models) == 5
    for name, _, model, _ in models:
        doc = export.save_for_bit2hls(model.eval(), tmp_path / f"{name}.safetensors", name=name)
        assert doc == json.load(open(os.path.join(d, f"{name}.json"))), name
        got = load_file(tmp_path / f"{name}.safetensors")
        want = load_file(os.path.join(d, f"{name}.safetensors"))
        assert sorted(got) == sorted(want), name
        assert all(torch.equal(got[k], want[k]) for k in want), name


def test_regressor_task_round_trip(tmp_path):
    """task="regression" (schema 4): validate compares values; its residuals against `target`
    equal the ones computed here from the firmware's own outputs (m.emulate)."""
    torch.manual_seed(4)
    model = Deepset(pk.hep_bitnet().BitLinear158b).eval()
    model.f[-1] = pk.hep_bitnet().BitLinear158b(16, 1)
    x, mask = jets()
    task = {"kind": "regression", "period": float(np.pi), "target": "angle"}
    doc, m, _ = export_load(model, tmp_path, (x, mask), task=task)
    assert doc["schema"] == "bit2hls.arch/4" and doc["task"] == task
    target = np.linspace(-1.5, 1.5, len(x))
    r = m.validate(x.numpy(), mask=mask.numpy(), target=target, modes=["dynamic"])
    assert r["task"]["kind"] == "regression"
    fw = m.emulate(x.numpy(), "dynamic", mask=mask.numpy())[:, 0]
    res = (fw - target + np.pi / 2) % np.pi - np.pi / 2
    got = r["regression"]["outputs"][0]["modes"][0]["residuals"]
    assert abs(got["mean"] - res.mean()) < 1e-9
    assert abs(got["mean_sin2"] - np.mean(np.sin(res) ** 2)) < 1e-9
    assert_validates(m)


@pytest.mark.parametrize("task,words", [
    ({"kind": "ranking"}, "task kind"),
    ({"kind": "regression", "period": -1}, "positive"),
    ({"kind": "classification", "period": 2}, "for a regression"),
    ({"kind": "regression", "unit": "rad"}, "unknown keys"),
])
def test_bad_tasks_are_refused(task, words, tmp_path):
    model = Deepset(pk.hep_bitnet().BitLinear158b).eval()
    with pytest.raises(bit2hls.ExportError, match=words):
        bit2hls.export(model, tmp_path / "m.safetensors", task=task)
    assert not (tmp_path / "m.safetensors").exists()
