"""bit2hls.dask on a LocalCluster of 2 worker processes: 20 M events emulated chunk by chunk
equal the single-process emulator bit for bit; events/s with 1 and 2 workers are printed
(`pytest -s` shows them; the throughput target is checked by python/bench.py, not here).
"""

import collections
import os
import time
import warnings

import numpy as np
import pytest

import bit2hls

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
import bit2hls.dask  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
QG_MLP = os.path.join(ROOT, "models", "qg_mlp", "qg_mlp.safetensors")
PFN = os.path.join(ROOT, "models", "pfn_random")
EVENTS = 20_000_000
CHUNK = 1_000_000


def chunk(i, n=CHUNK, width=16):
    """Chunk i of the synthetic events: standard normal, float32, seeded by the chunk index."""
    return np.random.default_rng(1000 + i).standard_normal((n, width), dtype=np.float32)


def events(n_events, width=16):
    blocks = [da.from_delayed(dask.delayed(chunk)(i, width=width), (CHUNK, width), np.float32)
              for i in range(n_events // CHUNK)]
    return da.concatenate(blocks)


def load(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bit2hls.AssumptionWarning)
        return bit2hls.load(path)


@pytest.fixture(scope="module")
def cluster():
    # One emulator thread per worker process, so that 2 workers use the 2 cores.
    os.environ["RAYON_NUM_THREADS"] = "1"
    c = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                 dashboard_address=None, memory_limit="6GB")
    yield c
    c.close()
    del os.environ["RAYON_NUM_THREADS"]


def test_twenty_million_events_equal_the_single_process_emulator(cluster):
    m = load(QG_MLP)
    x = events(EVENTS)
    with distributed.Client(cluster) as client:
        rates = {}
        for workers in (1, 2):
            cluster.scale(workers)
            client.wait_for_workers(workers)
            while len(client.scheduler_info()["workers"]) != workers:
                time.sleep(0.1)
            # inputs generated and held on the workers; only the emulation is timed
            xs = x.persist()
            distributed.wait(xs)
            # the generation tasks land unevenly (8 and 12 of 20 chunks was seen); the timed
            # emulation runs where its chunk is, so spread the chunks first
            client.rebalance(xs)
            held = collections.Counter(w for ws in client.who_has(xs).values() for w in ws)
            print(f"{workers} worker(s): input chunks per worker {sorted(held.values())}")
            y = bit2hls.dask.emulate(xs, QG_MLP, mode="dynamic",
                                     ship="bytes" if workers == 2 else "path")
            t0 = time.perf_counter()
            y = y.persist()
            distributed.wait(y)
            rates[workers] = EVENTS / (time.perf_counter() - t0)
            got = y.compute()
            del xs, y
            assert got.shape == (EVENTS, 2) and got.dtype == np.float64
            # the single-process emulator on the same chunks
            for i in range(EVENTS // CHUNK):
                want = m.emulate(chunk(i), "dynamic")
                assert np.array_equal(got[i * CHUNK:(i + 1) * CHUNK], want), (workers, i)
        print(f"\nbit2hls.dask, qg_mlp dynamic, {EVENTS:,} events (emulation only, inputs "
              f"held on the workers): 1 worker {rates[1] / 1e6:.2f} M events/s, 2 workers "
              f"{rates[2] / 1e6:.2f} M events/s ({rates[2] / rates[1]:.2f}x)")


def test_particle_model_and_static_mode(cluster):
    """A particle-level model with a mask, static mode calibrated from arrays shipped with
    the tasks, and raw codes."""
    g = np.load(os.path.join(PFN, "pfn_mean_golden.npz"))
    path = os.path.join(PFN, "pfn_mean.safetensors")
    m = load(path)
    calib = {"x": g["x"], "mask": g["mask"]}
    want = m.emulate(g["x"], "static", mask=g["mask"], calib=calib, raw=True)
    with distributed.Client(cluster):
        y = bit2hls.dask.emulate(da.from_array(g["x"], chunks=(37, -1, -1)), path,
                                 mode="static", mask=da.from_array(g["mask"], chunks=(37, -1)),
                                 calib=calib, raw=True, ship="bytes")
        assert np.array_equal(y.compute(), want)


def test_shapes_are_checked():
    with pytest.raises(bit2hls.Bit2hlsError, match="expected"):
        bit2hls.dask.emulate(da.zeros((10, 5), chunks=5), QG_MLP)


def _load_shipped(shipped):
    """In a fresh process (no cached model): the model a task would load from shipped bytes."""
    bit2hls.dask._MODELS.clear()
    return bit2hls.dask._model(shipped).n_inputs


def test_processes_shipping_the_same_bytes_at_once_never_see_a_partial_file():
    """Worker processes of one machine share the temporary directory: several writing the same
    shipped model at once must each load a whole file (CI once saw a 0-byte read here)."""
    import concurrent.futures
    import multiprocessing
    import shutil
    import tempfile

    shipped = bit2hls.dask._ship(QG_MLP, "bytes")
    d = os.path.join(tempfile.gettempdir(), f"bit2hls-model-{shipped[4][:16]}")
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(4, mp_context=ctx) as pool:
        for _ in range(5):
            shutil.rmtree(d, ignore_errors=True)
            assert list(pool.map(_load_shipped, [shipped] * 16)) == [16] * 16
