"""Writes models/data/calib_jets.npz: 10,000 standardized *training* jets (`x`, `y`) for
`bit2hls --calib` (static-mode scales and the input type), so calibration never sees test jets.

    models/.venv/bin/python models/data/make_calib_file.py
"""
import numpy as np

d = np.load("models/data/qg_features.npz")
train = d["split"] == 0
x = ((d["X"][train][:10000] - d["mean"]) / d["std"]).astype(np.float32)
y = d["y"][train][:10000].astype(np.int64)
np.savez_compressed("models/data/calib_jets.npz", x=x, y=y)
print(f"calib_jets.npz: {x.shape[0]} training jets, max|x| = {np.abs(x).max():.3f}")
