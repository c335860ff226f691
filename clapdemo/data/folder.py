"""The folder reader: audio below a folder, captions from `captions.csv` (file,caption; several
rows per file allowed) or, without a CSV, every audio file uncaptioned (`scan_audio_folder`).
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from clapdemo.data.dataset import Dataset, clip_record, existing_dir, is_audio, make_dataset, resolve_inside
from clapdemo.data.tables import clean_captions, drop_blank, group_rows, has_captions, read_table

FOLDER_CAPTIONS = "captions.csv"  # the folder reader's table: file,caption


def folder_dataset_root(folder) -> Path:
    """Where a `folder` dataset of an upload starts: the folder holding its one captions.csv (a zip
    may wrap everything in a folder), else the upload's folder itself (no table, or several: then
    none is picked, and the clips are read without captions from the top)."""
    folder = Path(folder)
    tables = sorted(folder.rglob(FOLDER_CAPTIONS))
    return tables[0].parent if len(tables) == 1 else folder


def read_folder(data_root, split: str = "all", *, csv=None) -> Dataset:
    """Audio files below a folder, captioned by a CSV or not at all.

    With a CSV (`captions.csv` in the folder, or `csv=`: absolute, relative to the
    working directory, or else relative to the folder): columns file,caption,
    files relative to the folder, several rows per file merged into one clip.
    An optional `split` column selects rows when `split` is not "all".
    Without one: every audio file below the folder (recursive) as a clip with
    no captions, for indexing a folder for search.
    """
    root = existing_dir(data_root)
    if csv is None:
        table_path = root / "captions.csv"
        if not table_path.is_file():
            return scan_audio_folder(root, split)
    else:
        table_path = Path(csv).expanduser()
        if not (table_path.is_absolute() or table_path.is_file()):
            table_path = root / table_path
        if not table_path.is_file():
            raise FileNotFoundError(f"{table_path}: captions CSV not found; give csv= as a path to a file file,caption")
    return _folder_from_csv(root, table_path.absolute(), split)


def scan_audio_folder(root: Path, split: str) -> Dataset:
    """Every audio file below `root` (hidden files and folders skipped), sorted, uncaptioned."""
    if split not in (None, "all"):
        raise ValueError(f"{root}: split {split!r} needs a captions.csv with a split column; use split='all'")
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found += [Path(folder) / f for f in files if is_audio(f)]
    records = sorted((clip_record(p.relative_to(root).as_posix(), p, []) for p in found), key=lambda r: r["clip_id"])
    return make_dataset("folder", "all", records, [], [])


def _folder_from_csv(root: Path, path: Path, split: str) -> Dataset:
    """Clips named by the CSV's file column, captions merged per file, in first-seen order."""
    warnings: list[str] = []
    table = drop_blank(read_table(path, ["file", "caption"], warnings), "file", path, warnings)
    table = _folder_split(table, split, path)
    table["clip_id"] = [_folder_clip_id(root, f, path, line, warnings) for f, line in zip(table["file"], table["_line"])]
    table = table[table["clip_id"].notna()]
    records, missing = [], []
    for clip_id, rows in group_rows(table["clip_id"], table["caption"], table["_line"]).items():
        captions = clean_captions(((t, f"{path}: line {n}") for t, n in rows), warnings)
        if not has_captions(captions, clip_id, f"{path}: line {rows[0][1]}", warnings):
            continue
        audio = root / clip_id
        if audio.is_file():
            records.append(clip_record(clip_id, audio, captions))
        else:
            missing.append(clip_id)
    return make_dataset("folder", split or "all", records, missing, warnings)


def _folder_split(table: pd.DataFrame, split: str, path: Path) -> pd.DataFrame:
    if split in (None, "all"):
        return table
    if "split" not in table:
        raise ValueError(f"{path}: split {split!r} asked but the CSV has no split column; add one or use split='all'")
    return table[table["split"].str.strip() == split].copy()


def _folder_clip_id(root: Path, name: str, path: Path, line: int, warnings: list[str]) -> str | None:
    """The file's path relative to `root` with forward slashes (so "./a.wav" and "a.wav"
    are one clip), or None, with a warning, when it points outside the folder."""
    inside = resolve_inside(root, name.replace("\\", "/"))
    if inside is None:
        warnings.append(f"{path}: line {line}: file {name!r} is outside {root}; row skipped")
        return None
    return inside.relative_to(os.path.normpath(root)).as_posix()
