#!/usr/bin/env bash
# One command from a fresh clone: installs what bit2hls needs, builds it, and runs the main job
# on the shipped quark/gluon tagger: inspect, validate against the float model on real jets,
# compile the HLS project, C-simulate it (bit-exact against the emulator), estimate its cost and
# the 40 MHz trigger verdict, compile the Verilog RTL, simulate it with Verilator (bit-exact) and
# synthesize it with Yosys.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cargo build --release --locked
bash python/setup_env.sh   # the Python package: python/.venv/bin/python -c "import bit2hls"
B="${CARGO_TARGET_DIR:-target}/release/bit2hls"
M=models/qg_mlp/qg_mlp.safetensors
D=models/data/test_jets.npz
C=models/data/calib_jets.npz
R=models/qg_mlp/qg_mlp_torch_test_jets.npy   # PyTorch's own outputs on D (models/training/make_reference_outputs.py)
set -x
$B inspect "$M" --calib "$C"
$B validate "$M" --data "$D" --calib "$C" --reference "$R"
$B compile "$M" -o out/qg_mlp --force --calib "$C"
$B csim out/qg_mlp
$B estimate "$M" --part xcvu9p --clock 200MHz --calib "$C" --all-modes
$B compile "$M" -o out/qg_mlp_rtl --force --backend verilog --mode static --calib "$C" --data "$D" --reference "$R" --tb-samples 10000
$B rtlsim out/qg_mlp_rtl
$B synth out/qg_mlp_rtl
