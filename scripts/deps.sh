#!/usr/bin/env bash
# What building and testing need beyond a Rust toolchain: g++ (C-simulation), yosys (synthesis),
# verilator (RTL simulation), iverilog (a second, strict Verilog-2001 parser), tclsh (runs the
# projects' shared Tcl) and chromium (report.html rendering check), installed with apt-get
# when missing, and the Xilinx ap_types headers (from the hls4ml wheel, cached).
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
for tool in g++:g++ yosys:yosys verilator:verilator iverilog:iverilog tclsh:tcl chromium:chromium; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool##*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]} (apt-get)..."
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
bash scripts/setup_ap_types.sh
