"""Dataset readers: every format becomes the same table of clips (id, audio path, captions).

Precompute, training, evaluation and search never ask where clips came from;
they read `Dataset.clips`, one row per clip:

    clip_id     str        unique within the dataset
    audio_path  str        absolute path of an audio file that exists
    captions    list[str]  non-empty, stripped (empty only for an uncaptioned folder)
    label       str        ESC-50 and UrbanSound8K only: the class name in human form ("crying baby")
    fold        int        ESC-50 and UrbanSound8K only

Readers, one per format (`load_dataset(kind, ...)` picks one):

    audiocaps   the course zip (`audiocaps_<split>[_new].tsv`, `<split>_texts.json`,
                audio at `audiocaps/audio/<split>/<uniq_id>.flac`) or the original
                release (`<split>.csv`: audiocap_id, youtube_id, start_time, caption,
                with clips named by YouTube id); the layout is detected.
    clotho      `clotho_captions_<split>.csv` + audio in `<split>/` or `clotho_audio_<split>/`.
    esc50       `meta/esc50.csv` or `esc50.csv` + `audio/`; captions from class names
                through prompt templates. Split syntax in `parse_folds`.
    urbansound8k  `metadata/UrbanSound8K.csv` + `audio/fold<N>/` (the release), or a flat
                `metadata.csv` + `audio/`; captions from class names through templates, as ESC-50.
    folder      audio below a folder, captions from `captions.csv` (file,caption; several
                rows per file allowed) or, without a CSV, every audio file uncaptioned.

Whole-file problems (no table, missing columns) raise with the file and what to
do. Row problems never stop a run: a clip whose audio is not found goes to
`Dataset.missing`; a malformed row, an empty caption, a duplicate id or a path
that escapes the data root is skipped and described in `Dataset.warnings`,
each message naming the file and the line.
"""

from __future__ import annotations

import csv
import inspect
import io
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import pandas as pd

# Extensions soundfile (libsndfile) or librosa (audioread/ffmpeg) can decode; the
# order is the preference when one clip exists in several formats.
AUDIO_EXTENSIONS = (
    ".wav", ".flac", ".ogg", ".opus", ".mp3", ".m4a", ".aac", ".mp4", ".webm",
    ".aif", ".aiff", ".aifc", ".au", ".caf", ".w64", ".rf64", ".wma",
)
DEFAULT_TEMPLATES = ("the sound of {}",)
DATASET_KINDS = ("audiocaps", "clotho", "esc50", "urbansound8k", "folder")  # the one list: readers, CLI and app
AUDIOCAPS_LAYOUTS = ("course", "original")
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


def load_dataset(kind: str, data_root, split: str | None = None, **options) -> Dataset:
    """Read one split of a dataset of `kind` (see DATASET_KINDS) found under `data_root`.

    `split=None` takes each reader's default ("test" for AudioCaps, "evaluation"
    for Clotho, "all" otherwise). `options` go to the reader (`read_<kind>`); an
    unknown one raises with the valid names rather than being ignored.
    """
    readers = {"audiocaps": read_audiocaps, "clotho": read_clotho, "esc50": read_esc50,
               "urbansound8k": read_urbansound8k, "folder": read_folder}
    reader = readers.get(str(kind).strip().lower())
    if reader is None:
        raise ValueError(f"unknown dataset kind {kind!r}; valid kinds: {', '.join(DATASET_KINDS)}")
    params = inspect.signature(reader).parameters
    valid = [n for n, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY]
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise TypeError(f"load_dataset({kind!r}): unknown option(s) {', '.join(unknown)}; valid: {', '.join(valid)}")
    args = (data_root,) if split is None else (data_root, split)
    return reader(*args, **options)


# --------------------------------------------------------------------------- paths


def guess_dataset_kind(root) -> tuple[str, str]:
    """(kind, reason) from the files at the top of `root` (or one folder down), so a user can
    point at a dataset folder without naming its format (`precompute --dataset auto`, the app)."""
    root = Path(root)
    def names(folder: Path) -> list[str]:
        return [name.lower() for name in _listdir(folder)]

    top = names(root)
    below = [n for d in ("meta", "audiocaps", "clotho") if d in top for n in names(root / d)]
    found = top + below
    if "esc50.csv" in found:
        return "esc50", "guessed: esc50.csv found"
    if "urbansound8k.csv" in found or ("metadata.csv" in top and _urbansound8k_header(root / "metadata.csv")):
        return "urbansound8k", "guessed: UrbanSound8K's metadata table found"
    if any(n.startswith("clotho_captions_") for n in found):
        return "clotho", "guessed: clotho_captions_*.csv found"
    if "audiocaps" in top or any(n.startswith("audiocaps_") or n in ("test.csv", "val.csv", "train.csv") for n in found):
        return "audiocaps", "guessed: AudioCaps tables found"
    return "folder", "guessed: no known metadata, reading it as a folder of audio"


def usable_kinds(root, configured: str | None = None) -> list[str]:
    """The dataset kinds that work with `root`: `configured`, and each kind whose reader finds captioned
    clips there (its first split). The app offers only these: on a Space holding the sample set,
    "audiocaps", "clotho" and "folder" were offered and could only fail."""
    kinds = []
    for kind in DATASET_KINDS:
        try:
            if kind == configured or load_dataset(kind, root).n_captions > 0:
                kinds.append(kind)
        except Exception:  # noqa: BLE001  any reader's refusal means: not this kind
            continue
    return kinds


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


def _is_audio(name: str) -> bool:
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


class _AudioIndex:
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
            names = sorted((n for n in _listdir(folder) if _is_audio(n)), key=_extension_rank)
            for name in names:
                found.setdefault(os.path.splitext(name)[0], folder / name)
        return found


def _listdir(folder: Path) -> list[str]:
    try:
        return os.listdir(folder)
    except OSError:
        return []


def _extension_rank(name: str) -> int:
    return AUDIO_EXTENSIONS.index(os.path.splitext(name)[1].lower())


# --------------------------------------------------------------------------- tables


def read_table(path: Path, required: Sequence[str], warnings: list[str]) -> pd.DataFrame:
    """A CSV (or TSV, by extension) as strings, with each row's `_line` in the file.

    The csv module is used for parsing because it reports line numbers (which
    pandas drops), so every later message can name the line to fix. Header
    names are stripped and lower-cased. Rows with more values than the header
    are skipped with a warning; short rows are padded with "" and caught by
    the reader's checks of the fields it needs.
    """
    sep = "\t" if path.suffix.lower() == ".tsv" else ","
    header, records, lines = _parse_delimited(path, sep, warnings)
    absent = [c for c in required if c not in header]
    if absent:
        raise ValueError(
            f"{path}: missing column{'s' if len(absent) > 1 else ''} {', '.join(map(repr, absent))} "
            f"(found: {', '.join(header)}); expected columns {','.join(required)}"
        )
    table = pd.DataFrame(records, columns=header, dtype=str)
    table["_line"] = lines
    return table


def _parse_delimited(path: Path, sep: str, warnings: list[str]):
    """(header, rows, line numbers) of a delimited text file; see `read_table`.

    Two row problems the csv module passes over in silence or stops at are
    skipped with a warning instead: a quote that opens and never closes (the
    value would swallow the rows after it; the reading starts again on the
    next line) and a value over the csv module's size limit (a 10 MB caption).
    A quoted value over several lines is a runaway quote when those lines
    look like rows themselves (`_holds_rows`), else a caption with line breaks.
    """
    lines = list(io.StringIO(read_text_file(path), newline=""))
    reader = csv.reader(lines, delimiter=sep)
    try:
        header = [h.strip().lower() for h in next(reader, [])]
    except csv.Error as err:
        raise ValueError(f"{path}: line 1: unreadable header ({err}); fix that line") from None
    if not any(header):
        raise ValueError(f"{path}: empty file; expected a header line naming the columns")
    records, numbers, start = [], [], reader.line_num
    while start is not None:
        start = _read_rows(lines, start, sep, len(header), path, records, numbers, warnings)
    return header, records, numbers


def _read_rows(lines: list[str], start: int, sep: str, width: int, path: Path, records: list, numbers: list,
               warnings: list[str]) -> int | None:
    """Parse `lines[start:]` into `records`; the index to read on from after a runaway quote, else None."""
    reader = csv.reader(lines[start:], delimiter=sep)
    first = start + 1  # the line (1-based) the next row starts on
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return None
        except csv.Error as err:
            too_long = "field larger than field limit" in str(err)
            warnings.append(f"{path}: line {first}: " + (
                f"a value longer than {csv.field_size_limit():,} characters" if too_long else f"unreadable ({err})")
                + "; row skipped")
            first = start + reader.line_num + 1
            continue
        last = start + reader.line_num
        if last > first and _holds_rows(lines[first:last], sep, width):
            warnings.append(f"{path}: line {first}: a quoted value runs on to line {last} (a quote that is never "
                            f"closed?); row skipped, reading on from line {first + 1}")
            return first
        row = _fit_row(fields, width, f"{path}: line {first}", warnings)
        if row is not None:
            records.append(row)
            numbers.append(first)
        first = last + 1


def _holds_rows(continuation: list[str], sep: str, width: int) -> bool:
    """Whether the lines a quoted value ran on over look like rows of their own (as many values
    as the header names): then its quote was never closed, and the value swallowed them."""
    return any(len(next(csv.reader([line.replace('"', "")], delimiter=sep), [])) >= width for line in continuation)


def _fit_row(fields: list[str], width: int, where: str, warnings: list[str]) -> list[str] | None:
    """The row padded to the header's width, or None (blank line, or too many values)."""
    if not any(f.strip() for f in fields):
        return None
    if len(fields) > width and any(f.strip() for f in fields[width:]):
        warnings.append(
            f"{where}: {len(fields)} values but the header names {width} columns "
            "(a separator inside an unquoted value?); row skipped"
        )
        return None
    return (fields + [""] * width)[:width]


def read_text_file(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not UTF-8 text ({err}); save it as UTF-8") from None


def clean_captions(pairs: Iterable[tuple[object, str]], warnings: list[str]) -> list[str]:
    """Stripped captions; empty ones dropped with a warning naming `where` they came from."""
    kept = []
    for text, where in pairs:
        text = "" if text is None or (isinstance(text, float) and text != text) else str(text).strip()
        if text:
            kept.append(text)
        else:
            warnings.append(f"{where}: empty caption; dropped")
    return kept


def _first_duplicates(table: pd.DataFrame, column: str, path: Path, warnings: list[str]) -> pd.DataFrame:
    """`table` without rows whose `column` repeats an earlier row; each repeat warned about."""
    first_line = table.drop_duplicates(column).set_index(column)["_line"]
    repeats = table[table.duplicated(column)]
    for value, line in zip(repeats[column], repeats["_line"]):
        warnings.append(f"{path}: line {line}: {column} {value!r} already on line {first_line[value]}; row skipped")
    return table.drop(repeats.index)


def _drop_blank(table: pd.DataFrame, column: str, path: Path, warnings: list[str]) -> pd.DataFrame:
    """`table` without rows whose `column` is empty; each warned about."""
    table[column] = table[column].str.strip()
    blank = table[table[column] == ""]
    for line in blank["_line"]:
        warnings.append(f"{path}: line {line}: empty {column}; row skipped")
    return table.drop(blank.index)


def group_rows(keys: Iterable, *columns: Iterable) -> dict:
    """key -> [tuple of the row's `columns` values, ...], keys in first-seen order.

    A dict rather than `groupby(...).agg(list)`: pandas calls Python once per
    group there, which takes seconds on AudioCaps train's 50k clips.
    """
    groups: dict = {}
    for key, *values in zip(keys, *columns):
        groups.setdefault(key, []).append(tuple(values))
    return groups


def _make_dataset(name: str, split: str, records: list[dict], missing: list[str], warnings: list[str]) -> Dataset:
    """Wrap reader output in a Dataset, with the table's columns and dtypes fixed."""
    columns = ["clip_id", "audio_path", "captions"]
    columns += [c for c in ("label", "fold") if records and c in records[0]]
    clips = pd.DataFrame.from_records(records, columns=columns)
    clips["clip_id"] = clips["clip_id"].astype(str)
    clips["audio_path"] = clips["audio_path"].astype(str)
    if "fold" in clips:
        clips["fold"] = clips["fold"].astype("int64")
    return Dataset(name=name, split=split, clips=clips, missing=missing, warnings=warnings)


def _record(clip_id: str, audio: Path, captions: list[str], **extra) -> dict:
    return {"clip_id": clip_id, "audio_path": str(audio), "captions": captions, **extra}


# --------------------------------------------------------------------------- AudioCaps


def read_audiocaps(data_root, split: str = "test", *, layout: str | None = None, audio_dir=None) -> Dataset:
    """AudioCaps in the course zip's layout or the original release's (detected, or `layout=`).

    data_root: the folder that holds `audiocaps/`, the `audiocaps/` folder itself,
    or a folder of tables (metadata found up to three folders down).
    audio_dir: where the clips are, when they are not under data_root.
    """
    root = existing_dir(data_root)
    layout = layout or _audiocaps_layout(root, split)
    if layout == "course":
        return _read_audiocaps_course(root, split, audio_dir)
    if layout == "original":
        return _read_audiocaps_original(root, split, audio_dir)
    raise ValueError(f"unknown AudioCaps layout {layout!r}; valid: {', '.join(AUDIOCAPS_LAYOUTS)}")


def _audiocaps_layout(root: Path, split: str) -> str:
    """'course' if the course zip's tables are there, else 'original' if the release CSV is."""
    if find_meta(root, f"audiocaps_{split}_new.tsv") or find_meta(root, f"audiocaps_{split}.tsv"):
        return "course"
    if find_meta(root, f"{split}.csv"):
        return "original"
    raise FileNotFoundError(
        f"{root}: no AudioCaps tables for split {split!r}: looked for audiocaps_{split}_new.tsv or "
        f"audiocaps_{split}.tsv (course zip) and {split}.csv (original release) here and up to three "
        "folders below; point data_root at the folder that holds them"
    )


def _read_audiocaps_course(root: Path, split: str, audio_dir) -> Dataset:
    """The course zip: per-clip `_new.tsv` + `_texts.json` (5 captions) when present, else
    the per-caption TSV grouped by uniq_id (the only form train comes in)."""
    warnings: list[str] = []
    per_clip = find_meta(root, f"audiocaps_{split}_new.tsv")
    if per_clip is not None:
        clips = _course_clips_from_new(per_clip, root, split, warnings)
    else:
        per_caption = find_meta(root, f"audiocaps_{split}.tsv")
        if per_caption is None:
            raise FileNotFoundError(f"{root}: neither audiocaps_{split}_new.tsv nor audiocaps_{split}.tsv found")
        clips = _course_clips_from_captions(per_caption, warnings)
    base = root.parent if root.name == "audiocaps" and not (root / "audiocaps").is_dir() else root
    folders = [Path(audio_dir) / split, Path(audio_dir)] if audio_dir else [
        base / "audiocaps" / "audio" / split, root / "audio" / split, root / "audio"]
    index = _AudioIndex(folders)
    records, missing = [], []
    for uid, (audio, captions, where) in clips.items():
        path = _course_audio(root, base, audio, uid, index, where, warnings)
        if path is False:
            continue
        if path is None:
            missing.append(uid)
        else:
            records.append(_record(uid, path, captions))
    return _make_dataset("audiocaps", split, records, missing, warnings)


def _course_audio(root: Path, base: Path, audio: str, uid: str, index: _AudioIndex, where: str, warnings):
    """The clip's file: the TSV's `audio` path (relative to the folder holding `audiocaps/`),
    else `<uniq_id>.<any audio ext>` in the audio folders. None if not found; False if the
    TSV path leaves the data root (refused, warned)."""
    if audio:
        path = resolve_inside(root, base / audio)
        if path is None:
            warnings.append(f"{where}: audio path {audio!r} is outside {root}; row skipped")
            return False
        if path.is_file():
            return path
    return index.find(uid)


def _course_clips_from_new(path: Path, root: Path, split: str, warnings: list[str]) -> dict:
    """uniq_id -> (audio, captions, where) from `_new.tsv`, captions from `_texts.json`."""
    table = read_table(path, ["uniq_id", "audio", "text"], warnings)
    table = _drop_blank(table, "uniq_id", path, warnings)
    table = _first_duplicates(table, "uniq_id", path, warnings)
    texts_path = find_meta(root, f"{split}_texts.json")
    texts = _read_texts_json(texts_path) if texts_path else {}
    if texts_path is None:
        warnings.append(f"{path}: no {split}_texts.json found beside it; one caption per clip from the text column")
    clips = {}
    for uid, audio, text, line in zip(table["uniq_id"], table["audio"], table["text"], table["_line"]):
        where = f"{path}: line {line}"
        if uid in texts:
            pairs = [(t, f"{texts_path}: uniq_id {uid!r} caption {i + 1}") for i, t in enumerate(texts[uid])]
        else:
            if texts_path is not None:
                warnings.append(f"{where}: uniq_id {uid!r} not in {texts_path.name}; using the text column")
            pairs = [(text, where)]
        captions = clean_captions(pairs, warnings)
        if _has_captions(captions, uid, where, warnings):
            clips[uid] = (audio.strip(), captions, where)
    return clips


def _course_clips_from_captions(path: Path, warnings: list[str]) -> dict:
    """uniq_id -> (audio, captions, where) from a one-row-per-caption TSV."""
    table = _drop_blank(read_table(path, ["uniq_id", "audio", "text"], warnings), "uniq_id", path, warnings)
    clips = {}
    for uid, rows in group_rows(table["uniq_id"], table["text"], table["_line"], table["audio"]).items():
        captions = clean_captions(((t, f"{path}: line {n}") for t, n, _ in rows), warnings)
        where = f"{path}: line {rows[0][1]}"
        if _has_captions(captions, uid, where, warnings):
            clips[uid] = (rows[0][2].strip(), captions, where)
    return clips


def _has_captions(captions: list[str], clip_id: str, where: str, warnings: list[str]) -> bool:
    """A captioned dataset's clip without any caption can't be trained or scored: skip it, say so."""
    if not captions:
        warnings.append(f"{where}: clip {clip_id!r} has no non-empty caption; clip skipped")
    return bool(captions)


def _read_texts_json(path: Path) -> dict[str, list]:
    """`{uniq_id: [captions]}` from the course's `<split>_texts.json`, keys as strings."""
    try:
        data = json.loads(read_text_file(path))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON (line {err.lineno}: {err.msg}); re-extract it from the zip") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected an object {{uniq_id: [captions]}}, found {type(data).__name__}")
    return {str(k).strip(): (v if isinstance(v, list) else [v]) for k, v in data.items()}


def _read_audiocaps_original(root: Path, split: str, audio_dir) -> Dataset:
    """The original release: captions grouped by (youtube_id, start_time); clips found by
    YouTube id under any common naming (`<id>`, `Y<id>`, `<id>_<start>`, ...)."""
    path = find_meta(root, f"{split}.csv")
    if path is None:
        raise FileNotFoundError(f"{root}: {split}.csv (original AudioCaps release) not found here or below")
    warnings: list[str] = []
    table = original_rows(path, warnings)
    starts_per_id = table.drop_duplicates(["youtube_id", "start"]).groupby("youtube_id").size().to_dict()
    folders = [Path(audio_dir), Path(audio_dir) / split] if audio_dir else [
        root, path.parent, root / "audio", root / "audio" / split, root / split]
    index = _AudioIndex(folders)
    records, missing = [], []
    for (ytid, start), rows in group_rows(zip(table["youtube_id"], table["start"]), table["caption"], table["_line"]).items():
        shared_id = starts_per_id[ytid] > 1
        clip_id = f"{ytid}_{start}" if shared_id else ytid
        captions = clean_captions(((t, f"{path}: line {n}") for t, n in rows), warnings)
        if not _has_captions(captions, clip_id, f"{path}: line {rows[0][1]}", warnings):
            continue
        audio = index.find(*_youtube_stems(ytid, start, bare=not shared_id))
        if audio is None:
            missing.append(clip_id)
        else:
            records.append(_record(clip_id, audio, captions))
    return _make_dataset("audiocaps", split, records, missing, warnings)


def original_rows(path: Path, warnings: list[str]) -> pd.DataFrame:
    """The release CSV's rows with a youtube_id and a numeric start_time (as `start`, e.g. "30")."""
    table = read_table(path, ["youtube_id", "start_time", "caption"], warnings)
    table = _drop_blank(table, "youtube_id", path, warnings)
    seconds = pd.to_numeric(table["start_time"].str.strip(), errors="coerce")
    for value, line in zip(table["start_time"][seconds.isna()], table["_line"][seconds.isna()]):
        warnings.append(f"{path}: line {line}: start_time {value!r} is not a number of seconds; row skipped")
    table = table[seconds.notna()].copy()
    table["start"] = [_seconds_text(s) for s in seconds[seconds.notna()]]
    return table


def _seconds_text(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


def _youtube_stems(ytid: str, start: str, bare: bool = True) -> list[str]:
    """File stems a clip may have been saved under, most specific first.

    `<id>_<start>`, `<id>_<start>_<end>`, `<id>_<start>.000_<end>.000` (AudioSet's
    naming), each with or without the `Y` prefix; then `<id>` / `Y<id>` alone,
    unless the id has clips at two start times (which file would it be?).
    """
    s = float(start)
    stems = []
    for name in (ytid, f"Y{ytid}"):
        stems += [f"{name}_{start}", f"{name}_{start}_{_seconds_text(s + 10)}", f"{name}_{s:.3f}_{s + 10:.3f}",
                  f"{name}_{s:.3f}", f"{name}_{s:.1f}"]
    return stems + ([ytid, f"Y{ytid}"] if bare else [])


# --------------------------------------------------------------------------- Clotho


def read_clotho(data_root, split: str = "evaluation", *, audio_dir=None) -> Dataset:
    """Clotho: `clotho_captions_<split>.csv` (file_name, caption_1..caption_5) and audio in
    `<split>/` or `clotho_audio_<split>/` next to it (or `audio_dir`)."""
    root = existing_dir(data_root)
    path = find_meta(root, f"clotho_captions_{split}.csv")
    if path is None:
        raise FileNotFoundError(f"{root}: clotho_captions_{split}.csv not found here or below; "
                                "point data_root at the folder that holds it")
    warnings: list[str] = []
    table = read_table(path, ["file_name", "caption_1"], warnings)
    table = _first_duplicates(_drop_blank(table, "file_name", path, warnings), "file_name", path, warnings)
    caption_columns = sorted((c for c in table.columns if re.fullmatch(r"caption_\d+", c)), key=lambda c: int(c[8:]))
    folders = [Path(audio_dir)] if audio_dir else [
        d / name for d in dict.fromkeys([path.parent, root]) for name in (split, f"clotho_audio_{split}")]
    records, missing = [], []
    for row in table.to_dict("records"):
        where = f"{path}: line {row['_line']}"
        captions = clean_captions([(row[c], where) for c in caption_columns], warnings)
        if _has_captions(captions, row["file_name"], where, warnings):
            _place_clotho(row["file_name"], captions, folders, where, records, missing, warnings)
    return _make_dataset("clotho", split, records, missing, warnings)


def _place_clotho(name: str, captions, folders, where, records, missing, warnings) -> None:
    """Add the clip to `records` if its file is in one of `folders`, else to `missing`."""
    candidates = [resolve_inside(folder, name) for folder in folders]
    if all(c is None for c in candidates):
        warnings.append(f"{where}: file_name {name!r} points outside the audio folder; row skipped")
        return
    found = next((c for c in candidates if c is not None and c.is_file()), None)
    if found is None:
        missing.append(name)
    else:
        records.append(_record(name, found, captions))


# --------------------------------------------------------------------------- ESC-50


def read_esc50(
    data_root,
    split: str = "all",
    *,
    folds: Sequence[int] | None = None,
    classes: Sequence[str] | None = None,
    exclude_classes: Sequence[str] | None = None,
    templates: Sequence[str] = DEFAULT_TEMPLATES,
) -> Dataset:
    """ESC-50 with one caption per prompt template per clip ("the sound of crying baby").

    split: fold selection, see `parse_folds` ("all", "fold4", "folds1-3", "1,2,3").
    folds: the same as a list; combined with `split` (both must hold).
    classes / exclude_classes: keep only / drop these classes (zero-shot holdouts);
    names as in the CSV ("crying_baby") or in human form ("crying baby").
    """
    root = existing_dir(data_root)
    templates = _check_templates(templates)
    warnings: list[str] = []
    path, table = _esc50_table(root, warnings)
    table = _select_esc50(table, split, folds, classes, exclude_classes, path, warnings)
    audio_folder = root / "audio"
    index = _AudioIndex([audio_folder])
    records, missing = [], []
    for name, label, fold, line in zip(table["filename"], table["label"], table["fold"], table["_line"]):
        listed = resolve_inside(audio_folder, name)
        if listed is None:
            warnings.append(f"{path}: line {line}: filename {name!r} points outside {audio_folder}; row skipped")
            continue
        audio = listed if listed.is_file() else index.find(Path(name).stem)
        clip_id = Path(name).stem
        if audio is None:
            missing.append(clip_id)
        else:
            records.append(_record(clip_id, audio, [t.format(label) for t in templates], label=label, fold=fold))
    return _make_dataset("esc50", _esc50_split_name(split, folds), records, missing, warnings)


def esc50_class_names(data_root) -> list[str]:
    """The class names in human form ("crying baby"), ordered by ESC-50's target index.

    This is the candidate list for zero-shot classification: caption i is class i.
    """
    _, table = _esc50_table(existing_dir(data_root), [])
    target = pd.to_numeric(table["target"], errors="coerce") if "target" in table else None
    if target is not None and target.notna().all():
        table = table.assign(_t=target).sort_values(["_t", "_line"])
        return list(dict.fromkeys(table["label"]))
    return sorted(set(table["label"]))


def human_class_name(category: str) -> str:
    """ESC-50's "crying_baby" -> "crying baby": the form a text encoder has seen in sentences."""
    return " ".join(str(category).replace("_", " ").split())


def parse_folds(split: str) -> set[int] | None:
    """The folds a split string names; None for every fold.

    Mini-syntax (case and spaces ignored): "all" -> None; "fold4" or "4" -> {4};
    "folds1-3" or "1-3" -> {1, 2, 3}; "folds1,2,3" or "1,2,3" -> {1, 2, 3};
    ranges and lists mix: "folds1-2,5" -> {1, 2, 5}.
    """
    text = re.sub(r"\s+", "", str(split).lower())
    if text in ("", "all"):
        return None
    match = re.fullmatch(r"(?:folds?)?(\d+(?:-\d+)?(?:,\d+(?:-\d+)?)*)", text)
    if match is None:
        raise ValueError(
            f"ESC-50 split {split!r} not understood; use 'all', 'fold4', 'folds1-3' or '1,2,3' (or folds=[...])"
        )
    folds: set[int] = set()
    for item in match.group(1).split(","):
        low, _, high = item.partition("-")
        if high and int(high) < int(low):
            raise ValueError(f"ESC-50 split {split!r}: range {item!r} runs backwards; write {high}-{low}")
        folds.update(range(int(low), int(high or low) + 1))
    return folds


def _esc50_split_name(split: str, folds) -> str:
    return split if folds is None else f"{split}&folds{','.join(map(str, sorted(folds)))}"


def _whole_folds(table: pd.DataFrame, path: Path, warnings: list[str]) -> pd.DataFrame:
    """Rows whose `fold` is a whole number, as int64; the others skipped with a warning naming the line
    (ESC-50 and UrbanSound8K share the rule)."""
    fold = pd.to_numeric(table["fold"].str.strip(), errors="coerce")
    bad = fold.isna() | (fold != fold.round())
    for value, line in zip(table["fold"][bad], table["_line"][bad]):
        warnings.append(f"{path}: line {line}: fold {value!r} is not a whole number; row skipped")
    return table[~bad].assign(fold=fold[~bad].astype("int64"))


def _esc50_table(root: Path, warnings: list[str]) -> tuple[Path, pd.DataFrame]:
    """(csv path, rows with a filename, an integer fold and a human `label`)."""
    path = next((p for p in (root / "meta" / "esc50.csv", root / "esc50.csv") if p.is_file()), None)
    if path is None:
        raise FileNotFoundError(f"{root}: neither meta/esc50.csv (official repo layout) nor esc50.csv found; "
                                "point data_root at the ESC-50 folder")
    table = read_table(path, ["filename", "fold", "category"], warnings)
    table = _drop_blank(_drop_blank(table, "filename", path, warnings), "category", path, warnings)
    table = _whole_folds(table, path, warnings)
    table = _first_duplicates(table, "filename", path, warnings)
    return path, table.assign(label=table["category"].map(human_class_name))


def _select_esc50(table, split, folds, classes, exclude_classes, path, warnings) -> pd.DataFrame:
    """Rows in the asked folds and classes; unknown class names raise, empty folds warn."""
    for wanted in (parse_folds(split), None if folds is None else {int(f) for f in folds}):
        if wanted is not None:
            for empty in sorted(wanted - set(table["fold"])):
                warnings.append(f"{path}: no clips in fold {empty}")
            table = table[table["fold"].isin(wanted)]
    if classes is not None:
        table = table[table["label"].isin(_known_classes(classes, table, path))]
    if exclude_classes is not None:
        table = table[~table["label"].isin(_known_classes(exclude_classes, table, path))]
    return table


def _known_classes(names: Sequence[str], table: pd.DataFrame, path: Path) -> set[str]:
    """`names` in human form, each checked against the CSV's classes (a typo must not
    silently empty a zero-shot split)."""
    if isinstance(names, str):
        names = [names]
    valid = set(table["label"])
    wanted = {human_class_name(n).lower() for n in names}
    unknown = sorted(wanted - {v.lower() for v in valid})
    if unknown:
        raise ValueError(f"{path}: unknown class(es) {', '.join(map(repr, unknown))}; valid: {', '.join(sorted(valid))}")
    return {v for v in valid if v.lower() in wanted}


def _check_templates(templates: Sequence[str]) -> tuple[str, ...]:
    """Templates as a tuple; each must have one `{}` where the class name goes."""
    templates = (templates,) if isinstance(templates, str) else tuple(templates)
    if not templates:
        raise ValueError("templates is empty; give at least one, e.g. ('the sound of {}',)")
    for template in templates:
        if not isinstance(template, str) or template.count("{}") != 1:
            raise ValueError(f"template {template!r} must contain exactly one '{{}}' where the class name goes")
    return templates


# --------------------------------------------------------------------------- UrbanSound8K

URBANSOUND8K_COLUMNS = ("slice_file_name", "fold", "class")


def read_urbansound8k(
    data_root,
    split: str = "all",
    *,
    classes: Sequence[str] | None = None,
    exclude_classes: Sequence[str] | None = None,
    templates: Sequence[str] = DEFAULT_TEMPLATES,
) -> Dataset:
    """UrbanSound8K (Salamon et al. 2014; 10 classes, 10 folds) with one caption per template per clip
    ("the sound of children playing"), read like ESC-50.

    The release's layout, `metadata/UrbanSound8K.csv` with audio in `audio/fold<N>/`, or a flat
    `metadata.csv` (or `UrbanSound8K.csv`) with audio in `audio/` (a re-encoded file with another
    extension is found by its stem). split: folds in `parse_folds`' syntax ("all", "fold10",
    "folds1-9"). Clip ids are the file stems ("100648-1-0-0"); labels the class in human form."""
    root = existing_dir(data_root)
    templates = _check_templates(templates)
    warnings: list[str] = []
    path = next((p for p in (root / "metadata" / "UrbanSound8K.csv", root / "UrbanSound8K.csv",
                             root / "metadata.csv") if p.is_file()), None)
    if path is None:
        raise FileNotFoundError(f"{root}: neither metadata/UrbanSound8K.csv (the release's layout) nor "
                                "metadata.csv found; point data_root at the UrbanSound8K folder")
    table = read_table(path, URBANSOUND8K_COLUMNS, warnings)
    table = _drop_blank(_drop_blank(table, "slice_file_name", path, warnings), "class", path, warnings)
    table = _whole_folds(table, path, warnings)
    table = _first_duplicates(table, "slice_file_name", path, warnings)
    table = table.assign(label=table["class"].map(human_class_name))
    table = _select_esc50(table, split, None, classes, exclude_classes, path, warnings)
    audio_folder = root / "audio"
    index = _AudioIndex([audio_folder] + [audio_folder / f"fold{f}" for f in sorted(set(table["fold"]))])
    records, missing = [], []
    for name, label, fold, line in zip(table["slice_file_name"], table["label"], table["fold"], table["_line"]):
        listed = [resolve_inside(audio_folder, f"fold{fold}/{name}"), resolve_inside(audio_folder, name)]
        if None in listed:
            warnings.append(f"{path}: line {line}: slice_file_name {name!r} points outside {audio_folder}; row skipped")
            continue
        audio = next((p for p in listed if p.is_file()), None) or index.find(Path(name).stem)
        clip_id = Path(name).stem
        if audio is None:
            missing.append(clip_id)
        else:
            records.append(_record(clip_id, audio, [t.format(label) for t in templates], label=label, fold=fold))
    return _make_dataset("urbansound8k", split, records, missing, warnings)


def _urbansound8k_header(path: Path) -> bool:
    """Whether a metadata.csv is UrbanSound8K's (its first line names slice_file_name and class)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            head = f.readline().lower()
    except OSError:
        return False
    return all(column in head for column in URBANSOUND8K_COLUMNS)


# --------------------------------------------------------------------------- folder


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
        found += [Path(folder) / f for f in files if _is_audio(f)]
    records = sorted((_record(p.relative_to(root).as_posix(), p, []) for p in found), key=lambda r: r["clip_id"])
    return _make_dataset("folder", "all", records, [], [])


def _folder_from_csv(root: Path, path: Path, split: str) -> Dataset:
    """Clips named by the CSV's file column, captions merged per file, in first-seen order."""
    warnings: list[str] = []
    table = _drop_blank(read_table(path, ["file", "caption"], warnings), "file", path, warnings)
    table = _folder_split(table, split, path)
    table["clip_id"] = [_folder_clip_id(root, f, path, line, warnings) for f, line in zip(table["file"], table["_line"])]
    table = table[table["clip_id"].notna()]
    records, missing = [], []
    for clip_id, rows in group_rows(table["clip_id"], table["caption"], table["_line"]).items():
        captions = clean_captions(((t, f"{path}: line {n}") for t, n in rows), warnings)
        if not _has_captions(captions, clip_id, f"{path}: line {rows[0][1]}", warnings):
            continue
        audio = root / clip_id
        if audio.is_file():
            records.append(_record(clip_id, audio, captions))
        else:
            missing.append(clip_id)
    return _make_dataset("folder", split or "all", records, missing, warnings)


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
