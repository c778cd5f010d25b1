"""File writing shared by the package's pure-Python parts (no compiled extension needed)."""

from __future__ import annotations

import os
import tempfile


def write_atomic(path: str, data: bytes) -> None:
    """Writes `data` to `path` so that no reader ever sees a partial file and a failure leaves
    no file behind: a temporary file in the same directory, renamed into place (Dask worker
    processes of one machine share the temporary directory and may ship one model at once)."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=".part-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
