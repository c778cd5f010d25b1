"""The W decay-plane angle phi_decay (issue 13, models/data/wz_target.py) and the regression
model's per-particle input frame (models/data/wz_features.py) on hand-built momenta: the checks
of models/data/check_wz_target.py (numpy only), collected here so that the test suite runs them."""
import os
import sys

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "models", "data")
sys.path.insert(0, os.path.abspath(DATA))

from check_wz_target import (  # noqa: E402,F401
    test_boost_along_axis,
    test_features_frame,
    test_frame,
    test_jet_along_x,
    test_other_jets,
    test_reduce_mod_pi,
    test_rotation_about_axis,
    test_smeftnet_convention,
    test_swap,
    test_transverse_and_loss,
)
