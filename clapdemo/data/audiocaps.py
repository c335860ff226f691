"""The AudioCaps reader: the course zip (`audiocaps_<split>[_new].tsv`, `<split>_texts.json`,
audio at `audiocaps/audio/<split>/<uniq_id>.flac`) or the original release (`<split>.csv`:
audiocap_id, youtube_id, start_time, caption, with clips named by YouTube id); the layout is detected.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from clapdemo.data.dataset import AudioIndex, Dataset, clip_record, existing_dir, find_meta, make_dataset, resolve_inside
from clapdemo.data.tables import (clean_captions, drop_blank, first_duplicates, group_rows, has_captions, read_table,
                                  read_text_file)

AUDIOCAPS_LAYOUTS = ("course", "original")


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
    index = AudioIndex(folders)
    records, missing = [], []
    for uid, (audio, captions, where) in clips.items():
        path = _course_audio(root, base, audio, uid, index, where, warnings)
        if path is False:
            continue
        if path is None:
            missing.append(uid)
        else:
            records.append(clip_record(uid, path, captions))
    return make_dataset("audiocaps", split, records, missing, warnings)


def _course_audio(root: Path, base: Path, audio: str, uid: str, index: AudioIndex, where: str, warnings):
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
    table = drop_blank(table, "uniq_id", path, warnings)
    table = first_duplicates(table, "uniq_id", path, warnings)
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
        if has_captions(captions, uid, where, warnings):
            clips[uid] = (audio.strip(), captions, where)
    return clips


def _course_clips_from_captions(path: Path, warnings: list[str]) -> dict:
    """uniq_id -> (audio, captions, where) from a one-row-per-caption TSV."""
    table = drop_blank(read_table(path, ["uniq_id", "audio", "text"], warnings), "uniq_id", path, warnings)
    clips = {}
    for uid, rows in group_rows(table["uniq_id"], table["text"], table["_line"], table["audio"]).items():
        captions = clean_captions(((t, f"{path}: line {n}") for t, n, _ in rows), warnings)
        where = f"{path}: line {rows[0][1]}"
        if has_captions(captions, uid, where, warnings):
            clips[uid] = (rows[0][2].strip(), captions, where)
    return clips


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
    index = AudioIndex(folders)
    records, missing = [], []
    for (ytid, start), rows in group_rows(zip(table["youtube_id"], table["start"]), table["caption"], table["_line"]).items():
        shared_id = starts_per_id[ytid] > 1
        clip_id = f"{ytid}_{start}" if shared_id else ytid
        captions = clean_captions(((t, f"{path}: line {n}") for t, n in rows), warnings)
        if not has_captions(captions, clip_id, f"{path}: line {rows[0][1]}", warnings):
            continue
        audio = index.find(*_youtube_stems(ytid, start, bare=not shared_id))
        if audio is None:
            missing.append(clip_id)
        else:
            records.append(clip_record(clip_id, audio, captions))
    return make_dataset("audiocaps", split, records, missing, warnings)


def original_rows(path: Path, warnings: list[str]) -> pd.DataFrame:
    """The release CSV's rows with a youtube_id and a numeric start_time (as `start`, e.g. "30")."""
    table = read_table(path, ["youtube_id", "start_time", "caption"], warnings)
    table = drop_blank(table, "youtube_id", path, warnings)
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
