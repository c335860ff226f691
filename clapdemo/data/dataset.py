"""The Dataset type every reader returns, the dataset kinds and their splits, and the path helpers
readers share: a path kept inside the data root, metadata tables found a few folders down, and the
index of audio files by stem.

Precompute, training, evaluation and search never ask where clips came from;
they read `Dataset.clips`, one row per clip:

    clip_id     str        unique within the dataset
    audio_path  str        absolute path of an audio file that exists
    captions    list[str]  non-empty, stripped (empty only for an uncaptioned folder)
    label       str        ESC-50 and UrbanSound8K only: the class name in human form ("crying baby")
    fold        int        ESC-50 and UrbanSound8K only

(`clapdemo.data.datasets.load_dataset` picks the reader; each format's reader is a module of its own.)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import pandas as pd

# Extensions soundfile (libsndfile) or librosa (audioread/ffmpeg) can decode; the
# order is the preference when one clip exists in several formats.
AUDIO_EXTENSIONS = (
    ".wav", ".flac", ".ogg", ".opus", ".mp3", ".m4a", ".aac", ".mp4", ".webm",
    ".aif", ".aiff", ".aifc", ".au", ".caf", ".w64", ".rf64", ".wma",
)
DATASET_KINDS = ("audiocaps", "clotho", "esc50", "urbansound8k", "folder")  # the one list: readers, CLI and app
# The usual splits of each kind, the default first (the app offers them; any other split is accepted too).
SPLITS = {
    "audiocaps": ["test", "val", "train"],
    "clotho": ["evaluation", "validation", "development"],
    "esc50": ["all", "fold1", "fold2", "fold3", "fold4", "fold5", "folds1-3"],
    "urbansound8k": ["all", "fold10", "folds1-9"],
    "folder": ["all"],
}

# Folders not searched for metadata tables: they hold tens of thousands of clips.
_SKIP_DIRS = {"audio", "__macosx"}


@dataclass
class Dataset:
    """One split of one dataset, as the rest of clapdemo consumes it.

    name:     "audiocaps", "esc50", "clotho", "folder"
    split:    the split asked for, e.g. "test", "fold4", "all"
    clips:    one row per clip (columns in the module docstring)
    missing:  clip ids named in the tables whose audio file was not found
    warnings: rows skipped or fixed up, each naming its file and line
    """

    name: str
    split: str
    clips: pd.DataFrame
    missing: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def n_clips(self) -> int:
        return len(self.clips)

    @property
    def n_captions(self) -> int:
        return int(sum(len(c) for c in self.clips["captions"]))

    def summary(self) -> str:
        """One line for logs and the UI, e.g. "963 clips, 4815 captions, 0 missing"."""
        text = f"{self.n_clips} clips, {self.n_captions} captions, {len(self.missing)} missing"
        return text + (f", {len(self.warnings)} warnings" if self.warnings else "")


def resolve_inside(root, relative) -> Path | None:
    """`root / relative` as an absolute path, or None if it would leave `root`.

    Table rows come from users and downloads: a row naming `../../etc/passwd`
    or `/home/x/.ssh/id_rsa` must not become a file we read. The check is
    lexical (after collapsing `..`), so symlinks the user placed inside the
    root are followed, while `..` can never climb out through one: the path
    returned has no `..` left in it.
    """
    text = str(relative).strip()
    if not text or "\x00" in text:
        return None
    base = os.path.normpath(os.path.abspath(root))
    path = os.path.normpath(os.path.join(base, text))
    if path == base or not path.startswith(base.rstrip(os.sep) + os.sep):
        return None
    return Path(path)


def existing_dir(data_root) -> Path:
    """The data root as an absolute path, or an error that says which path was wrong."""
    root = Path(data_root).expanduser().absolute()
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: data folder not found; check the path given as data_root")
    return root


def is_audio(name: str) -> bool:
    """Whether a file name is an audio file a reader takes (a known extension, not hidden)."""
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in AUDIO_EXTENSIONS


def find_meta(root: Path, name: str, max_depth: int = 3) -> Path | None:
    """Find a metadata file at `root` or a few folders below, shallowest first.

    Zips unpack with an extra folder or two; the audio folders are not entered
    (they hold tens of thousands of clips and never a table).
    """
    level = [root]
    for _ in range(max_depth + 1):
        below = []
        for folder in level:
            if (folder / name).is_file():
                return folder / name
            below += _subdirs(folder)
        level = below
    return None


def _subdirs(folder: Path) -> list[Path]:
    try:
        with os.scandir(folder) as entries:
            return sorted(
                Path(e.path) for e in entries
                if e.is_dir() and not e.name.startswith(".") and e.name.lower() not in _SKIP_DIRS
            )
    except OSError:
        return []


class AudioIndex:
    """Audio files of a few folders by file stem, listed once, on first use.

    Looking clips up by stem lets `<id>.flac` be found as `<id>.wav` too (a
    re-encoded copy) and costs one directory listing instead of a stat per
    name pattern per clip.
    """

    def __init__(self, folders: Iterable[Path]):
        self.folders = list(dict.fromkeys(Path(f) for f in folders))
        self._stems: dict[str, Path] | None = None

    def find(self, *stems: str) -> Path | None:
        if self._stems is None:
            self._stems = self._build()
        for stem in stems:
            if stem in self._stems:
                return self._stems[stem]
        return None

    def _build(self) -> dict[str, Path]:
        found: dict[str, Path] = {}
        for folder in self.folders:
            names = sorted((n for n in listdir(folder) if is_audio(n)), key=_extension_rank)
            for name in names:
                found.setdefault(os.path.splitext(name)[0], folder / name)
        return found


def listdir(folder: Path) -> list[str]:
    """The names in `folder`; none if it cannot be listed."""
    try:
        return os.listdir(folder)
    except OSError:
        return []


def _extension_rank(name: str) -> int:
    return AUDIO_EXTENSIONS.index(os.path.splitext(name)[1].lower())


def make_dataset(name: str, split: str, records: list[dict], missing: list[str], warnings: list[str]) -> Dataset:
    """Wrap reader output in a Dataset, with the table's columns and dtypes fixed."""
    columns = ["clip_id", "audio_path", "captions"]
    columns += [c for c in ("label", "fold") if records and c in records[0]]
    clips = pd.DataFrame.from_records(records, columns=columns)
    clips["clip_id"] = clips["clip_id"].astype(str)
    clips["audio_path"] = clips["audio_path"].astype(str)
    if "fold" in clips:
        clips["fold"] = clips["fold"].astype("int64")
    return Dataset(name=name, split=split, clips=clips, missing=missing, warnings=warnings)


def clip_record(clip_id: str, audio: Path, captions: list[str], **extra) -> dict:
    """One row of `Dataset.clips` (plus `extra` columns: label, fold)."""
    return {"clip_id": clip_id, "audio_path": str(audio), "captions": captions, **extra}
