#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what the tests need (g++ for C-simulation,
# the ap_types headers from the hls4ml wheel), then runs every Rust test.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v g++ >/dev/null 2>&1; then
    echo "installing g++ (C-simulation)..."
    apt-get update -qq && apt-get install -y -qq g++ >/dev/null
fi
bash scripts/setup_ap_types.sh
cargo test --locked --all-targets
