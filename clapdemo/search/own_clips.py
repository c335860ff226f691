"""A session's own clips (the app's "Your own clips": an upload as the session's dataset): its
folders and stores below the cache, and the clean-up of what an upload brought but cannot use."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

OWN_CLIPS = "own-clips"  # below the cache: OWN_CLIPS/SESSION/<upload>/clips and its store beside


def own_clips_folder(cache, session_id: str) -> Path:
    """A new folder of the session's own for one upload (a second upload is a new dataset)."""
    return Path(cache) / OWN_CLIPS / session_id / uuid.uuid4().hex[:8]


def own_store_dir(upload_folder) -> Path:
    """Where the store of one upload of own clips lives: beside its clips, deleted with the session."""
    upload_folder = Path(upload_folder)
    return upload_folder / f"your-clips-{upload_folder.name}"


def own_stores(cache, session_id: str) -> list[tuple[str, Path]]:
    """(upload name, store) of each upload of own clips of the session that has a store, oldest first."""
    top = Path(cache) / OWN_CLIPS / session_id
    folders = sorted(top.iterdir(), key=lambda p: p.stat().st_mtime) if top.is_dir() else []
    return [(f.name, own_store_dir(f)) for f in folders if (own_store_dir(f) / "manifest.json").is_file()]


def discard_upload(folder) -> None:
    """Delete an upload that holds nothing to use (no audio, or no clip its table names)."""
    shutil.rmtree(folder, ignore_errors=True)


def remove_files(paths) -> None:
    """Delete files (e.g. those that failed to embed: they would sit on disk unused)."""
    for path in paths:
        Path(path).unlink(missing_ok=True)


def remove_unused(folder, imported: list[str], used_paths, table: str = "captions.csv") -> dict[str, str]:
    """Delete the imported audio files below `folder` that the dataset's `table` does not name (they
    would sit on disk unused, unlisted: "3/3 embedded, 0 failed" beside three files it never read);
    {name: why} for each. `used_paths`: the dataset's audio paths."""
    used = {Path(p).resolve() for p in used_paths}
    gone = {}
    for name in imported:
        path = (Path(folder) / name).resolve()
        if path.name != table and path not in used:
            path.unlink(missing_ok=True)
            gone[name] = f"not named in {table}, so not used (add a row file,caption for it)"
    return gone


def only_tables(imported: list[str], tables=("captions.csv",)) -> bool:
    """Whether an upload brought no audio: nothing but its tables (or nothing at all)."""
    return all(Path(name).name in tables for name in imported)


def same_folder(a, b) -> bool:
    """Whether two paths name the same folder (as written, not resolved)."""
    return Path(a) == Path(b)
