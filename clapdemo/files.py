"""Writing a file so that a reader sees the old content or the new, never half of it.

One helper for every file clapdemo writes whole (store shards and tables, the
projection checkpoint, run.json, the course pickle, --json outputs): a temp
file beside the target, fsync, then `os.replace`. On any failure (a disk that
fills up in the middle) the temp file is removed, the target keeps its old
content, and the OSError goes to the caller, which knows what to tell the user.

The temp file is created with mode 0666 less the umask, like any file `open`
makes (`tempfile.mkstemp` would make it 0600 whatever the umask, and a store
shared by a group could then be read by its writer only).
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path


def atomic_write(path, data: bytes) -> None:
    """Write `data` to `path` atomically (see the module docstring); raises the OSError as is."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:12]}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the kernel applies the umask
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
