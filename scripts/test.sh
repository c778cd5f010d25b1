#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what the tests need (g++ for C-simulation,
# the ap_types headers from the hls4ml wheel), then runs every Rust test, then builds the Python
# package (python/, an unoptimized build of the crate that reuses the tests' dependencies) and
# runs its tests. The fuzz targets' committed seeds and crash regressions are replayed by
# tests/fuzz_replay.rs (fuzz/README.md says why CI replays instead of fuzzing).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cargo test --locked --all-targets
bash python/setup_env.sh --dev --torch
python/.venv/bin/python -m pytest -q python/tests
