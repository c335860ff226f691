"""Writing a file so that a reader sees the old content or the new, never half of it.

One helper for every file clapdemo writes whole (store shards and tables, the
projection checkpoint, run.json, the course pickle): a temp file beside the
target, fsync, then `os.replace`. On any failure (a disk that fills up in the
middle) the temp file is removed, the target keeps its old content, and the
OSError goes to the caller, which knows what to tell the user.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write(path, data: bytes) -> None:
    """Write `data` to `path` atomically (see the module docstring); raises the OSError as is."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
