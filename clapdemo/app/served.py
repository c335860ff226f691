"""Files the app hands to a page (players, exports), as copies no other visitor can name.

Gradio serves `/gradio_api/file=<path>` for its `allowed_paths` and for its own upload folder
(GRADIO_TEMP_DIR). The cache, where sessions write their own clips, runs and library files, is
not an allowed path (`settings.launch_options`): a file from there reaches a page only as a copy
under Gradio's upload folder in a directory named by a keyed hash (HMAC with a secret drawn at
start) of its path, size and time. The page that was handed the copy can play it; another
visitor who knows (or guesses) the cache path cannot derive the URL.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import shutil
from pathlib import Path

SECRET = secrets.token_bytes(32)  # new at each start: a URL handed out before a restart stops working


def served_folder() -> Path:
    """Where the copies go: inside Gradio's upload folder, which its file route serves."""
    from gradio.utils import get_upload_folder

    return Path(get_upload_folder()) / "clapdemo"


def served(path) -> str | None:
    """A copy of `path` that Gradio may serve (made once per file version); None for None."""
    if path is None:
        return None
    source = Path(path).resolve()
    stat = source.stat()
    token = hmac.new(SECRET, f"{source}\0{stat.st_size}\0{stat.st_mtime_ns}".encode(), hashlib.sha256).hexdigest()
    copy = served_folder() / token[:32] / source.name
    if not copy.is_file():
        copy.parent.mkdir(parents=True, exist_ok=True)
        staging = copy.with_name(f".{copy.name}.{os.getpid()}.{secrets.token_hex(4)}")
        shutil.copyfile(source, staging)
        os.replace(staging, copy)  # two sessions copying the same file never see half of it
    return str(copy)
