#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what the tests need (g++ for C-simulation,
# the ap_types headers from the hls4ml wheel), then runs every Rust test, then builds the Python
# package (python/, an unoptimized build of the crate that reuses the tests' dependencies) into
# python/.venv with PyTorch and the five BitLinear packages of the export tests, and runs its
# tests. The fuzz targets' committed seeds and crash regressions are replayed by
# tests/fuzz_replay.rs (fuzz/README.md says why CI replays instead of fuzzing).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
# The Python test environment (PyTorch: ~3 GB of wheels) downloads and installs while the Rust
# tests build and run: network and disk, not the CPU the tests need.
mkdir -p target
bash python/setup_env.sh --deps-only --torch > target/python-deps.log 2>&1 &
deps=$!
trap 'kill $deps 2>/dev/null || true' EXIT
cargo test --locked --all-targets
if ! wait $deps; then
    cat target/python-deps.log
    echo "scripts/test.sh: installing the Python test environment failed (log above)" >&2
    exit 1
fi
trap - EXIT
bash python/setup_env.sh --dev --torch
python/.venv/bin/python -m pytest -q python/tests
