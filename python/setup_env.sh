#!/usr/bin/env bash
# Builds the bit2hls Python package (python/: the Rust library through PyO3, built by maturin)
# and installs it, editable, into python/.venv with its pinned build and test tools.
#   bash python/setup_env.sh            optimized build (what users run; a few minutes)
#   bash python/setup_env.sh --dev      unoptimized bit2hls crate (the tests; reuses the
#                                       dependencies `cargo test` compiled)
#   ... --deps-only                     only the virtual environment and its packages (no build)
#   ... --torch                         also PyTorch (CPU use of PyPI's CUDA build, ~3 GB; about
#                                       90 s here) for bit2hls.export, and the five third-party
#                                       BitLinear packages its tests compare with
# Needs python3 >= 3.10 with the venv module, a Rust toolchain and access to PyPI. Idempotent.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY="${PYTHON:-python3}"
VENV="$HERE/.venv"
if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet --only-binary :all: -r "$HERE/requirements.txt"
profile=(--release)
build=1
for arg in "$@"; do
    case "$arg" in
        --dev) profile=() ;;
        --deps-only) build=0 ;;
        --torch)
            "$VENV/bin/python" -m pip install --quiet --only-binary :all: -r "$HERE/requirements-torch.txt"
            "$VENV/bin/python" -m pip install --quiet --no-deps -r "$HERE/requirements-bitlinear.txt" ;;
        *) echo "setup_env.sh: unknown option $arg (--dev, --deps-only, --torch)" >&2; exit 2 ;;
    esac
done
[ "$build" = 1 ] || exit 0
# maturin builds into the workspace's target/ and installs into the active environment.
( cd "$HERE" && VIRTUAL_ENV="$VENV" PATH="$VENV/bin:$PATH" maturin develop --locked "${profile[@]}" --quiet )
"$VENV/bin/python" -c 'import bit2hls; print("bit2hls", bit2hls.__version__, "installed in", __import__("sys").prefix)'
