#!/usr/bin/env bash
# What building and testing need beyond a Rust toolchain: g++ (C-simulation), yosys (synthesis),
# verilator (RTL simulation), iverilog (a second, strict Verilog-2001 parser), tclsh (runs the
# projects' shared Tcl), chromium (report.html rendering check) and python3-venv (the Python
# package's environment, when python3 lacks it), installed with apt-get
# when missing, and the Xilinx ap_types headers (from the hls4ml wheel, cached).
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
for tool in g++:g++ yosys:yosys verilator:verilator iverilog:iverilog tclsh:tcl chromium:chromium; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool##*:}")
done
# The Python package's environment (python/setup_env.sh) needs python3's venv and ensurepip.
if ! python3 -c "import venv, ensurepip" >/dev/null 2>&1; then
    missing+=(python3-venv)
fi
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]} (apt-get)..."
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
bash scripts/setup_ap_types.sh
