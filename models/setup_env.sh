#!/usr/bin/env bash
# Creates models/.venv and installs the pinned Python environment for models/.
#   bash models/setup_env.sh          (from anywhere)
# Needs python3 >= 3.10 with the venv module and access to PyPI. Idempotent.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY="${PYTHON:-python3}"
if [ ! -x "$HERE/.venv/bin/python" ]; then
    "$PY" -m venv "$HERE/.venv"
fi
"$HERE/.venv/bin/python" -m pip install --quiet --upgrade pip
# --only-binary: pythia8mc and fastjet ship manylinux wheels; building them from source
# would need a C++ toolchain, ROOT-free Pythia sources and CGAL.
"$HERE/.venv/bin/python" -m pip install --only-binary :all: -r "$HERE/requirements.txt"
"$HERE/.venv/bin/python" - <<'PY'
import numpy, torch, safetensors, sklearn, fastjet, pythia8mc  # noqa: F401
print("models/.venv ready: numpy", numpy.__version__, "torch", torch.__version__,
      "safetensors", safetensors.__version__, "scikit-learn", sklearn.__version__,
      "fastjet", fastjet.__version__)
PY
