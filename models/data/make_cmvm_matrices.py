#!/usr/bin/env python3
"""Writes the 21 seeded ternary matrices of the da4ml anchor (/work/shared/anchors/da4ml/run_cmvm.py)
as tests/data/cmvm/<in>x<out>_z<pct>.npy, int8, shape [out, in] (bit2hls's orientation: y = W x).

da4ml computes y = x @ W with W [in, out]; the same seeds and the same numpy default_rng draws give the
same matrix, transposed here. Run: python models/data/make_cmvm_matrices.py [out_dir]
"""

import sys
from pathlib import Path

import numpy as np

SHAPES = [(16, 64), (64, 32), (32, 32), (32, 5), (64, 256), (256, 256), (256, 10)]
ZERO_FRACS = [1 / 3, 0.5, 0.8]


def seed_for(n_in: int, n_out: int, p_zero: float) -> int:
    return 1000 * n_in + 10 * n_out + int(round(p_zero * 100)) * 7 + 12345


def ternary_matrix(n_in: int, n_out: int, p_zero: float, seed: int) -> np.ndarray:
    """Exactly run_cmvm.py's draw: W [in, out], float32 values in {-1, 0, 1}."""
    rng = np.random.default_rng(seed)
    p_nz = (1 - p_zero) / 2
    return rng.choice(np.array([-1, 0, 1], dtype=np.float32), size=(n_in, n_out), p=[p_nz, p_zero, p_nz])


def main() -> int:
    root = Path(__file__).resolve().parents[2]
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else root / 'tests' / 'data' / 'cmvm'
    out.mkdir(parents=True, exist_ok=True)
    for n_in, n_out in SHAPES:
        for pz in ZERO_FRACS:
            w = ternary_matrix(n_in, n_out, pz, seed_for(n_in, n_out, pz))
            name = f'{n_in}x{n_out}_z{int(round(pz * 100))}.npy'
            np.save(out / name, np.ascontiguousarray(w.T.astype(np.int8)))
            print(f'{name}: nnz {int((w != 0).sum())}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
