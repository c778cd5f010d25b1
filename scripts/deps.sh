#!/usr/bin/env bash
# What building, testing and C-simulation need beyond a Rust toolchain: g++ (installed with
# apt-get when missing) and the Xilinx ap_types headers (from the hls4ml wheel, cached).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v g++ >/dev/null 2>&1; then
    echo "installing g++ (C-simulation)..."
    apt-get update -qq && apt-get install -y -qq g++ >/dev/null
fi
bash scripts/setup_ap_types.sh
