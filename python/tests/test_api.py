"""The bit2hls Python package against the command line and against PyTorch's stored outputs.

Run: python/.venv/bin/python -m pytest python/tests (scripts/test.sh does).
"""

import json
import os
import threading

import numpy as np
import pytest

import bit2hls

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
QG_MLP = os.path.join(ROOT, "models", "qg_mlp", "qg_mlp.safetensors")
JETS = os.path.join(ROOT, "models", "data", "test_jets.npz")
CALIB = os.path.join(ROOT, "models", "data", "calib_jets.npz")
TORCH = os.path.join(ROOT, "models", "qg_mlp", "qg_mlp_torch_test_jets.npy")
PFN = os.path.join(ROOT, "models", "pfn_random")


def qg_mlp():
    with pytest.warns(bit2hls.AssumptionWarning, match="assumed ReLU"):
        return bit2hls.load(QG_MLP)


@pytest.fixture(scope="module")
def jets():
    d = np.load(JETS)
    return d["x"][:5000], d["y"][:5000]


def cli_emulate(tmp_path, model, inp, *flags):
    """`bit2hls emulate` run in this process through `bit2hls.run` (the program's own code:
    streamed .npy input, chunked emulation, .npy output)."""
    out = tmp_path / "out.npy"
    code = bit2hls.run(["emulate", model, "--input", str(inp), "--output", str(out), "--quiet",
                        *flags])
    assert code == 0
    return np.load(out)


@pytest.mark.parametrize("mode", bit2hls.MODES)
def test_emulate_equals_the_command_line(tmp_path, jets, mode):
    x, _ = jets
    m = qg_mlp()
    inp = tmp_path / "x.npy"
    np.save(inp, x)
    calib = ["--calib", CALIB] if mode == "static" else []
    want = cli_emulate(tmp_path, QG_MLP, inp, "--mode", mode, *calib)
    got = m.emulate(x, mode, calib=CALIB if mode == "static" else None)
    assert got.dtype == np.float64 and got.shape == (len(x), 2)
    assert np.array_equal(got, want)
    raw = cli_emulate(tmp_path, QG_MLP, inp, "--mode", mode, "--raw", *calib)
    assert np.array_equal(m.emulate(x, mode, calib=CALIB if mode == "static" else None,
                                    raw=True), raw)


def test_layouts_and_dtypes_give_the_same_outputs(jets):
    x, _ = jets
    m = qg_mlp()
    want = m.emulate(x, "dynamic")
    assert np.array_equal(m.emulate(np.asfortranarray(x), "dynamic"), want)
    assert np.array_equal(m.emulate(x.astype(np.float64), "dynamic"), want)
    assert np.array_equal(m.emulate(x[::1].copy(), "dynamic"), want)
    # rows are independent: a slice gives the slice of the outputs
    assert np.array_equal(m.emulate(x[100:300], "dynamic"), want[100:300])


def test_float_matches_pytorch(jets):
    """The float model against PyTorch's own outputs on the same jets (stored by
    models/training/make_reference_outputs.py): argmax agreement and relative error."""
    m = qg_mlp()
    d = np.load(JETS)
    torch_y = np.load(TORCH)
    x = d["x"][: len(torch_y)]
    y = m.float(x)
    assert y.dtype == np.float32 and y.shape == torch_y.shape
    agree = np.mean(y.argmax(1) == torch_y.argmax(1))
    assert agree >= 0.999, agree
    scale = np.abs(torch_y).max(axis=1, keepdims=True)
    close = np.all(np.abs(y - torch_y) <= 1e-4 * scale, axis=1)
    assert close.mean() >= 0.999, close.mean()


def test_calibration_from_an_array_equals_the_file(jets):
    x, _ = jets
    m = qg_mlp()
    c = np.load(CALIB)["x"]
    assert np.array_equal(m.emulate(x, "static", calib=c), m.emulate(x, "static", calib=CALIB))


def test_validate_reports_the_command_lines_figures(tmp_path, jets):
    x, y = jets
    m = qg_mlp()
    torch_y = np.load(TORCH)[: len(x)]
    r = m.validate(x, y, reference=torch_y, modes=["dynamic", "static"], calib=CALIB)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    np.save(tmp_path / "r.npy", torch_y)
    code, want = bit2hls._native.run(["validate", QG_MLP, "--data", str(tmp_path / "d.npz"),
                                      "--reference", str(tmp_path / "r.npy"), "--only",
                                      "dynamic", "--only", "static", "--calib", CALIB,
                                      "--json"])
    assert code == 0
    want = json.loads(want)
    # the same figures; only the temporary reference file's name differs
    assert r["reference"].pop("path") != want["reference"].pop("path")
    assert r == want
    assert r["events"] == len(x)
    assert [v["mode"] for v in r["modes"]] == ["dynamic", "static"]
    assert r["reference"]["passed"] is True
    # the firmware's agreement computed here from emulate equals the report's
    fw = m.emulate(x, "dynamic")
    fl = m.float(x)
    agree = float(np.mean(fw.argmax(1) == fl.argmax(1)))
    assert abs(r["modes"][0]["argmax_agreement"] - agree) < 1e-12, (r["modes"][0], agree)


def test_validate_flags_a_wrong_reference(jets):
    x, _ = jets
    m = qg_mlp()
    wrong = np.load(TORCH)[: len(x)][:, ::-1].copy()  # outputs swapped
    r = m.validate(x, reference=wrong, modes=["dynamic"])
    assert r["reference"]["passed"] is False


def test_compile_and_estimate(tmp_path):
    m = qg_mlp()
    rep = m.compile(tmp_path / "prj", backend="hls", mode="static", calib=CALIB, force=True)
    assert rep["project"]["name"] == "myproject"
    assert rep["mode"] == "static"
    assert os.path.isfile(tmp_path / "prj" / "firmware" / "myproject.cpp")
    est = m.estimate(part="xcvu9p", clock="200MHz", mode="static", calib=CALIB)
    assert len(est) == 1
    e = est[0]["estimate"]
    assert e["mode"] == "static" and e["clock_ns"] == 5.0
    assert e["total"]["lut"] > 1000 and e["total"]["dsp"] == 0
    assert "verdict" in est[0]


def test_errors_are_bit2hls_errors_with_the_programs_messages(tmp_path, jets):
    x, _ = jets
    m = qg_mlp()
    with pytest.raises(bit2hls.Bit2hlsError, match="columns, the model takes 16 inputs"):
        m.emulate(x[:, :5], "dynamic")
    with pytest.raises(bit2hls.Bit2hlsError, match="mode"):
        m.emulate(x, "fast")
    with pytest.raises(bit2hls.Bit2hlsError, match="calib"):
        m.emulate(x, "static")
    with pytest.raises(bit2hls.Bit2hlsError, match="no-such-file"):
        bit2hls.load(tmp_path / "no-such-file.safetensors")
    with pytest.raises(bit2hls.Bit2hlsError, match="not a particle-level model"):
        m.emulate(x, "dynamic", mask=np.ones((len(x), 3)))
    with pytest.raises(bit2hls.Bit2hlsError, match="unexpected argument"):
        bit2hls.run(["emulate", "--no-such-flag"])
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}      ")
    with pytest.raises(bit2hls.Bit2hlsError, match="junk.safetensors"):
        bit2hls.load(junk)


def test_emulate_releases_the_gil(jets):
    """Two Python threads emulate at once and each gets its own, correct result."""
    x, _ = jets
    m = qg_mlp()
    want = m.emulate(x, "dynamic")
    out = [None, None]

    def work(i):
        out[i] = m.emulate(x, "dynamic")

    ts = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert all(np.array_equal(o, want) for o in out)


@pytest.mark.parametrize("name", ["pfn_sum", "pfn_max", "pfn_mean", "pfn_jet"])
def test_particle_models(tmp_path, name):
    """Particle-level models: the float model against PyTorch's golden outputs, and the
    firmware against `bit2hls emulate` on the same jets, in every mode."""
    m = bit2hls.load(os.path.join(PFN, f"{name}.safetensors"))
    assert m.kind == "set" and m.particles is not None
    g = np.load(os.path.join(PFN, f"{name}_golden.npz"))
    jet = g["jet"] if "jet" in g else None
    y = m.float(g["x"], mask=g["mask"], jet=jet)
    scale = np.abs(g["y"]).max(axis=1, keepdims=True) + 1e-6
    assert np.mean(np.all(np.abs(y - g["y"]) <= 1e-5 * scale, axis=1)) >= 0.99
    data = tmp_path / "jets.npz"
    arrays = {"x": g["x"], "mask": g["mask"]}
    if jet is not None:
        arrays["jet"] = jet
    np.savez(data, **arrays)
    for mode in bit2hls.MODES:
        calib = ["--calib", str(data)] if mode == "static" else []
        want = cli_emulate(tmp_path, os.path.join(PFN, f"{name}.safetensors"), data,
                           "--mode", mode, *calib)
        got = m.emulate(g["x"], mode, mask=g["mask"].astype(bool), jet=jet,
                        calib=arrays if mode == "static" else None)
        assert np.array_equal(got, want), (name, mode)
    with pytest.raises(bit2hls.Bit2hlsError, match="mask"):
        m.emulate(g["x"], "dynamic", jet=jet)
