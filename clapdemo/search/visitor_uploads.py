"""Visitors' uploads: their files, or a zip's audio, copied into their session's own folder.

`import_uploads` copies within the upload limits and the disk quotas (`Quota`);
`remove_session_files` / `remove_stale_uploads` delete them when their session ends.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from clapdemo.data.audio import AudioError

UPLOAD_MAX_FILES = 100  # per library (a session's upload folder)
UPLOAD_TOTAL_FACTOR = 10  # a library holds at most 10 x the per-file cap (200 MB with the default 20 MB)
UPLOAD_FOLDERS = ("own-clips", "library-uploads")  # below the cache: one folder per session in each
UPLOAD_TTL_SECONDS = 2 * 3600  # at start, a session folder untouched this long has no live session (the idle expiry)
MAX_NAME_BYTES = 200  # a longer member name is refused: temp files and served copies add to it (NAME_MAX is 255)
_IMPORTING = threading.Lock()  # one import at a time: the quota is measured, then spent, without a race


@dataclass
class Quota:
    """Disk that visitors' uploads may take in the cache: `session_bytes` for one session's folders
    (its own clips and its Library uploads), `total_bytes` for every session's together. Without it,
    five uploads of one 186 KB zip (ten 19 MB members of zeros) wrote 950 MB in 18 s (issue 19)."""

    cache: Path
    session_id: str
    session_bytes: int
    total_bytes: int

    def room(self) -> tuple[int, str]:
        """(bytes left, why a file is refused when it does not fit) under the tighter of the two quotas."""
        mine = sum(folder_bytes(f) for f in session_folders(self.cache, self.session_id))
        everyone = sum(folder_bytes(Path(self.cache) / name) for name in UPLOAD_FOLDERS)
        if self.session_bytes - mine <= self.total_bytes - everyone:
            return self.session_bytes - mine, (
                f"refused: over this session's quota ({self.session_bytes / 1e6:g} MB of uploads in all, "
                f"CLAPDEMO_SESSION_QUOTA_MB; {mine / 1e6:.0f} MB used before this upload)")
        return self.total_bytes - everyone, (
            f"refused: the space for all visitors' uploads is full ({self.total_bytes / 1e6:g} MB, "
            "CLAPDEMO_TOTAL_QUOTA_MB); try again later")


def session_folders(cache, session_id: str) -> list[Path]:
    """The folders below the cache that hold one session's uploads (none for a name that is not plain)."""
    if not re.fullmatch(r"[0-9A-Za-z_-]+", str(session_id)):
        return []
    return [Path(cache) / name / str(session_id) for name in UPLOAD_FOLDERS]


def remove_session_files(cache, session_id: str) -> None:
    """Delete a session's uploads (its own clips with their store, its Library uploads with their
    index): the app calls it when the session expires, so uploads do not outlive their visitor."""
    for folder in session_folders(cache, session_id):
        shutil.rmtree(folder, ignore_errors=True)


def remove_stale_uploads(cache, ttl: float = UPLOAD_TTL_SECONDS, now: float | None = None) -> list[str]:
    """At start: delete the session folders (see `session_folders`) in which nothing changed for
    `ttl` seconds: their sessions died with an earlier run of the app. Returns the names removed."""
    now = time.time() if now is None else now
    removed = []
    for name in UPLOAD_FOLDERS:
        top = Path(cache) / name
        for folder in sorted(top.iterdir()) if top.is_dir() else []:
            if folder.is_dir() and not folder.is_symlink() and now - _newest_mtime(folder) > ttl:
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(f"{name}/{folder.name}")
    return removed


def folder_bytes(folder) -> int:
    """Bytes of the files below `folder` (links not followed; 0 when it does not exist)."""
    total = 0
    for root, _, files in os.walk(folder):
        for f in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, f)).st_size
    return total


def _newest_mtime(folder: Path) -> float:
    newest = folder.lstat().st_mtime
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            with contextlib.suppress(OSError):
                newest = max(newest, os.lstat(os.path.join(root, name)).st_mtime)
    return newest


def import_uploads(paths, folder, max_bytes: int, max_files: int = UPLOAD_MAX_FILES,
                   tables: tuple[str, ...] = (), quota: Quota | None = None,
                   check=None) -> tuple[list[str], dict[str, str]]:
    """Copy a visitor's upload into `folder` (their session's own): audio files as they are, and the
    audio inside a zip with its folders. Returns (names imported, {name: why skipped}).
    `tables`: file names taken too, besides audio (e.g. "captions.csv" for a folder dataset).

    Skipped and listed, one member at a time (a bad member never fails the others): names that
    would leave the folder (`..`, absolute), too long, links, encrypted members, what is not audio,
    members that cannot be unpacked or written (`x.flac` beside `x.flac/y.flac`), a file over
    `max_bytes` (counted while copying: a zip's header can lie), what comes past `max_files` files
    or UPLOAD_TOTAL_FACTOR x `max_bytes` in the library or past the `quota`, and audio that
    `check(path)` refuses (it raises AudioError). Nothing of a skipped member stays on disk."""
    folder = Path(folder)
    with _IMPORTING:
        folder.mkdir(parents=True, exist_ok=True)
        present = [p for p in folder.rglob("*") if p.is_file()]
        count, used = len(present), sum(p.stat().st_size for p in present)
        left, over_quota = quota.room() if quota else (None, "")
        imported, skipped = [], {}
        for name, open_source, problem in _upload_entries(paths):
            why = problem or _refusal(name, folder, count >= max_files, max_files, tables)
            room, over = _tightest(max_bytes, UPLOAD_TOTAL_FACTOR * max_bytes - used, left, over_quota)
            size = None
            if why is None:
                size, why = _unpack(open_source, folder / name, room, over)
            if why is None and check is not None and Path(name).name not in tables:
                try:
                    check(folder / name)
                except AudioError as error:
                    (folder / name).unlink(missing_ok=True)
                    why = error.problem
            if why is not None:
                skipped[name] = why
                continue
            imported.append(name)
            count, used = count + 1, used + size
            left = None if left is None else left - size
        _prune_empty(folder)
    return imported, skipped


def _tightest(max_bytes: int, library_left: int, quota_left: int | None, over_quota: str) -> tuple[int, str]:
    """(bytes the next file may take, why it is refused when larger): the tightest limit wins."""
    limit = (f"(uploads are limited to {max_bytes / 1e6:g} MB a file, "
             f"{UPLOAD_TOTAL_FACTOR * max_bytes / 1e6:g} MB a library)")
    room, over = min(max_bytes, library_left), f"over {min(max_bytes, library_left) / 1e6:.1f} MB {limit}"
    if quota_left is not None and quota_left < room:
        room, over = quota_left, over_quota
    return max(room, 0), over


def _unpack(open_source, target: Path, room: int, over: str) -> tuple[int | None, str | None]:
    """(size, None) once copied, else (None, why): too big, or what unpacking or writing it raised
    (said without the server's path)."""
    import zipfile
    import zlib

    if room <= 0:
        return None, over
    try:
        size = _copy_capped(open_source, target, room)
    except (OSError, RuntimeError, NotImplementedError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        what = error.strerror if isinstance(error, OSError) and error.strerror else f"{type(error).__name__}: {error}"
        return None, f"cannot be unpacked or stored here ({what})"
    return (size, None) if size is not None else (None, over)


def _refusal(name: str, folder: Path, full: bool, max_files: int, tables=()) -> str | None:
    """Why an uploaded name is not imported (before reading it), or None."""
    from clapdemo.data.dataset import AUDIO_EXTENSIONS

    if not _safe_name(name, folder):
        return "not a name inside the folder (.. or absolute)"
    if any(len(part.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES for part in name.replace("\\", "/").split("/")):
        return f"name too long (over {MAX_NAME_BYTES} bytes); rename it"
    if Path(name).suffix.lower() not in AUDIO_EXTENSIONS and Path(name).name not in tables:
        return f"not an audio file ({', '.join(AUDIO_EXTENSIONS[:4])}, ...)"
    return f"more than {max_files} files in one library" if full else None


def _upload_entries(paths):
    """(name, a function opening its bytes, why it is refused or None) for each uploaded file and each
    member of an uploaded zip (links, encrypted members and unreadable zips are refused here)."""
    import zipfile

    for path in map(Path, paths):
        if path.suffix.lower() != ".zip":
            yield path.name, (lambda p=path: open(p, "rb")), None
            continue
        try:
            archive = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError, ValueError) as error:
            yield path.name, None, f"not a readable zip ({type(error).__name__}); zip the files again"
            continue
        with archive:
            for info in archive.infolist():
                if info.is_dir():
                    continue
                link = (info.external_attr >> 16) & 0o170000 == 0o120000
                problem = ("a link, not a file" if link else
                           "encrypted (password-protected); zip it without a password" if info.flag_bits & 0x1 else None)
                yield info.filename, (lambda i=info: archive.open(i)), problem


def _safe_name(name: str, folder: Path) -> bool:
    """A relative name that stays inside `folder` and is not hidden (the folder scan would skip it)."""
    from pathlib import PurePosixPath

    parts = PurePosixPath(name.replace("\\", "/")).parts
    if not parts or name.startswith(("/", "\\")) or any(p in ("..", "") or p.startswith(".") for p in parts):
        return False
    try:
        return (folder / name).resolve().is_relative_to(folder.resolve())
    except (OSError, ValueError):  # a NUL byte, a name the file system cannot take
        return False


def _copy_capped(open_source, target: Path, max_bytes: int) -> int | None:
    """Copy up to `max_bytes` to `target` (atomically); the size, or None when the source is larger.
    The temp file is gone afterwards, whatever happened."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.parent / f".upload-{uuid.uuid4().hex[:8]}.tmp"
    copied = 0
    try:
        with open_source() as source, open(temp, "wb") as out:
            for block in iter(lambda: source.read(1 << 20), b""):
                copied += len(block)
                if copied > max_bytes:
                    return None
                out.write(block)
        os.replace(temp, target)
        return copied
    finally:
        with contextlib.suppress(OSError):
            temp.unlink(missing_ok=True)


def _prune_empty(folder: Path) -> None:
    """Remove the empty folders a skipped member left below `folder` (not `folder` itself)."""
    for root, _, _ in sorted(os.walk(folder), key=lambda entry: -len(entry[0])):
        if Path(root) != folder:
            with contextlib.suppress(OSError):
                os.rmdir(root)  # only succeeds when empty
