#!/usr/bin/env bash
# Fetches the Xilinx ap_types headers (ap_int.h, ap_fixed.h, ...) that `bit2hls csim` needs to
# C-simulate a generated project with g++.
#
# The headers are not vendored in this repository: they ship in the hls4ml wheel on the Python
# package index (hls4ml/templates/vivado/ap_types/). This script downloads that one wheel (no
# dependencies), extracts only that folder, and leaves it in a cache:
#
#   ${XDG_CACHE_HOME:-~/.cache}/bit2hls/ap_types        (or the directory given as $1)
#
# `bit2hls csim` looks there by default (after --ap-types DIR and $AP_TYPES_DIR).
set -euo pipefail

HLS4ML_VERSION="${HLS4ML_VERSION:-1.3.0}"
DEST="${1:-${XDG_CACHE_HOME:-$HOME/.cache}/bit2hls/ap_types}"

if [ -f "$DEST/ap_fixed.h" ] && [ -f "$DEST/ap_int.h" ]; then
    echo "ap_types headers already present in $DEST"
    exit 0
fi

PIP="${PIP:-}"
if [ -z "$PIP" ]; then
    if command -v pip3 >/dev/null 2>&1; then PIP=pip3
    elif command -v pip >/dev/null 2>&1; then PIP=pip
    else PIP="python3 -m pip"
    fi
fi

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

echo "downloading hls4ml==$HLS4ML_VERSION (wheel only, no dependencies)..."
$PIP download "hls4ml==$HLS4ML_VERSION" --no-deps --only-binary=:all: -d "$TMP" >/dev/null
WHEEL="$(ls "$TMP"/hls4ml-*.whl | head -n 1)"

# Extract with python's zipfile (always available with pip), only the ap_types folder.
python3 - "$WHEEL" "$TMP/x" <<'PY'
import sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
prefix = "hls4ml/templates/vivado/ap_types/"
with zipfile.ZipFile(wheel) as z:
    names = [n for n in z.namelist() if n.startswith(prefix) and not n.endswith("/")]
    if not names:
        sys.exit(f"{wheel}: no {prefix} in the wheel")
    for n in names:
        z.extract(n, out)
PY

mkdir -p "$(dirname "$DEST")"
rm -rf "$DEST.partial"
mv "$TMP/x/hls4ml/templates/vivado/ap_types" "$DEST.partial"
rm -rf "$DEST"
mv "$DEST.partial" "$DEST"
echo "ap_types headers installed in $DEST"
