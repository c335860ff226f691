"""What a visitor of the app may open and be served: the library roots (`library_roots`,
`LibraryAccess`, `FolderRefused`), where indexes, upload folders, spans and exports live."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from clapdemo.search.folder_index import default_index_dir

ROOTS_SETTING = "CLAPDEMO_LIBRARY_ROOTS"


def library_roots(data_root, env) -> list[Path]:
    """The server folders a visitor may open, resolved: the data root, if the owner set one, and
    the folders listed in CLAPDEMO_LIBRARY_ROOTS (os.pathsep-separated). Empty by default (a Space
    without a data root): then no server folder opens, only uploads."""
    listed = [Path(p.strip()).expanduser() for p in (env.get(ROOTS_SETTING) or "").split(os.pathsep) if p.strip()]
    roots = listed + ([data_root] if data_root else [])
    return [Path(r).resolve() for r in roots]


def short_tag(text: str) -> str:
    """12 hex digits of sha256: a file name derived from `text` that says nothing of it."""
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()[:12]


class FolderRefused(ValueError):
    """A typed folder the app will not open; `reason` is "no roots", "not allowed" or "not a folder"."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class LibraryAccess:
    """The app's Library policy: which server folders a visitor may open (below a root only), where
    an index lives, which files may be played or served (inside the roots or the uploads only,
    whatever an index says), and what is served as it is (inside the data root) or as a copy.

    `below_roots(text, roots)` is the app's one rule for every typed path (resolved, links followed,
    inside a root or None); it is passed in so the library needs nothing of the app."""

    def __init__(self, cache, data_root, env, below_roots):
        self.cache = Path(cache)
        self.data_root = Path(data_root) if data_root else None
        self.roots = library_roots(self.data_root, os.environ if env is None else env)
        self.uploads = (self.cache / "library-uploads").resolve()  # one folder per session below
        self.below_roots = below_roots

    def index_dir(self, folder: Path) -> Path:
        """Where the index of `folder` lives: the folder itself when it is an index (holds
        manifest.json), FOLDER/.clapdemo-index when the CLI made one, else a folder in the cache
        (the app never writes into a visitor's folder)."""
        if (folder / "manifest.json").is_file():
            return folder
        if default_index_dir(folder).is_dir():
            return default_index_dir(folder)
        return self.cache / "library" / f"{folder.name}-{short_tag(str(folder.resolve()))}"

    def by_name(self, folder_text: str) -> str:
        """A folder as a visitor names it: a root by its name ("my-sounds", what the box shows: never a
        server path), a folder below it ("my-sounds/field"), or a full path."""
        text = (folder_text or "").strip()
        first, _, rest = text.replace("\\", "/").partition("/")
        for root in self.roots:
            if text and not Path(text).is_absolute() and first == root.name:
                return str(root / rest)
        return text

    def open_folder(self, folder_text: str) -> Path:
        """The typed folder, resolved, if it lies below a root and is a folder; else FolderRefused,
        decided before anything is looked at, so a refusal says nothing about what exists."""
        if not self.roots:
            raise FolderRefused("no roots")
        folder = self.below_roots(self.by_name(folder_text), self.roots)
        if folder is None:
            raise FolderRefused("not allowed")
        if not folder.is_dir():
            raise FolderRefused("not a folder")
        return folder

    def inside(self, path) -> Path | None:
        """`path` resolved, if it lies below a root or the uploads; else None: a file from anywhere
        else is never read for a player or served, whatever an index says."""
        resolved = Path(path).resolve()
        return resolved if any(resolved.is_relative_to(r) for r in [*self.roots, self.uploads]) else None

    def serve_as_is(self, resolved: Path) -> bool:
        """Inside the data root: served by its path. Anything else (the cache, where uploads live) is
        served only as a copy under a name no other visitor can derive."""
        return bool(self.data_root) and resolved.is_relative_to(self.data_root.resolve())

    def cut_span(self, path, start: float, end: float, sample_rate: int) -> Path:
        """The span [start, end) of `path` as a WAV in the cache at `sample_rate` (cut once, then reused)."""
        import soundfile as sf

        from clapdemo.data.audio import load_audio

        out = self.cache / "library-spans" / f"{short_tag(str(path))}-{start:.1f}-{end:.1f}.wav"
        if not out.is_file():
            out.parent.mkdir(parents=True, exist_ok=True)
            sf.write(out, load_audio(path, sample_rate, end - start, offset=start), sample_rate)
        return out

    def upload_folder(self, owner: str | None, folder: str | None) -> Path:
        """Where an upload goes: the session's folder of a first upload (`folder`, to add to it) or a
        new one, library-uploads/OWNER/<random>, deleted with the session (OWNER: the session's id,
        or a random "anonymous-..." without a session)."""
        if folder:
            return Path(folder)
        return self.uploads / (owner or f"anonymous-{uuid.uuid4().hex[:8]}") / uuid.uuid4().hex

    def export_dir(self, key: str) -> Path:
        """The folder of one result list's CSV and JSON exports."""
        return self.cache / "library-exports" / short_tag(key)


def upload_index_dir(target) -> Path:
    """An upload's index: beside the upload folder, so it is deleted with the session."""
    target = Path(target)
    return target.with_name(f"{target.name}-index")


def holds_files(folder) -> bool:
    """Whether `folder` holds any file with a suffix (an upload that added nothing may still have
    earlier files to index)."""
    return any(Path(folder).rglob("*.*"))
