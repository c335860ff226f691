"""Label pairs: AudioCaps captions trained against their clip's AudioSet labels, with no audio.

Every AudioCaps clip is an AudioSet clip, and AudioSet's segment CSVs list each
clip's labels (YouTube id, start -> label mids). EfficientAT's 527 logits are
exactly those labels, so a caption plus its clip's label vector is a training
pair whose audio side is what a perfect mn04 would say about the clip: 49,838
AudioCaps training captions without downloading one YouTube clip.

The audio side lives in the space of the encoder's *logits* (the default
`mn04_as:logits`), through a fixed map: a label the clip has -> PRESENT_LOGIT,
one it lacks -> ABSENT_LOGIT. Both are read off mn04 on the shared ESC-50 clips
(docs/training.md, "Label pairs"): its median logit is -9.2 and a clip's top logit +0.2 on
average (+1 at the 75th percentile). The store is keyed by the real encoder's
identity, so it trains with, and is checked against, real mn04 stores; its
manifest says what it is (`audio_source`: "labels, no audio", the map, the CSVs
and the split). Training on it leaves the inputs unstandardised (a label that
never occurs has zero spread: `standardize_inputs`).

Captions of clips that no segment CSV lists are counted and listed in the
store's report.json, never fatal. WavCaps' AudioSet_SL captions JSON (108k
captions of AudioSet clips) is an optional second source.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from clapdemo.data.audiocaps import original_rows
from clapdemo.data.dataset import existing_dir, find_meta
from clapdemo.data.tables import clean_captions, group_rows, read_table, read_text_file

PRESENT_LOGIT = 1.0
ABSENT_LOGIT = -9.0
SOURCE_KIND = "labels, no audio"
DATASET_NAME = "audiocaps-labels"
SEGMENT_CSVS = ("unbalanced_train_segments.csv", "unbalanced_train_segments_part.csv",
                "balanced_train_segments.csv", "eval_segments.csv")
AUDIOSET_DOWNLOAD = "https://research.google.com/audioset/download.html"
AUDIOCAPS_DOWNLOAD = "https://github.com/cdjkim/audiocaps (dataset/train.csv, val.csv, test.csv)"


@dataclass
class LabelPairs:
    """Captions whose clip has AudioSet labels, ready to become a store.

    clips:      clip_id, youtube_id, start, captions (list), mids (list): one row per labelled clip
    unlabelled: clip ids whose YouTube id no segment CSV lists (their captions are left out)
    sources:    what made it (caption tables, segment CSVs, split), for the manifest
    warnings:   rows skipped, each naming its file and line
    """

    clips: pd.DataFrame
    unlabelled: list[str]
    sources: dict
    warnings: list[str] = field(default_factory=list)

    @property
    def n_captions(self) -> int:
        return int(sum(len(c) for c in self.clips["captions"]))

    def summary(self) -> str:
        return (f"{len(self.clips)} labelled clips, {self.n_captions} captions; "
                f"{len(self.unlabelled)} clips without AudioSet labels in the segment CSVs (left out)")


# ----------------------------------------------------------------------------- AudioSet segment CSVs


def default_segment_csvs() -> list[Path]:
    """The segment CSVs found in the folder the setting CLAPDEMO_SEGMENTS_DIR names.

    Raises FileNotFoundError saying where AudioSet's CSVs come from when there are none."""
    setting = os.environ.get("CLAPDEMO_SEGMENTS_DIR")
    folder = Path(setting) if setting else None
    found = [folder / name for name in SEGMENT_CSVS if (folder / name).is_file()] if folder else []
    if not found:
        where = f"in {folder}" if folder else "given (no --segments, CLAPDEMO_SEGMENTS_DIR unset)"
        raise FileNotFoundError(f"no AudioSet segment CSVs {where}; download unbalanced_train_segments.csv "
                                f"(and balanced_train_segments.csv, eval_segments.csv) from {AUDIOSET_DOWNLOAD} "
                                "and pass them with --segments, or set CLAPDEMO_SEGMENTS_DIR to their folder")
    return found


def read_segments(paths, warnings: list[str]) -> dict[str, list[tuple[float, tuple[str, ...]]]]:
    """YouTube id -> [(start seconds, label mids), ...] from AudioSet segment CSVs.

    Both layouts: the official one (three '#' lines, ', ' separators, the labels one
    quoted field) and a plain CSV with one header line; trailing empty columns and
    unquoted label lists (a spreadsheet's export) are tolerated. Mids that are not
    among the 527 classes and malformed rows are skipped with a warning."""
    from clapdemo.encoders.audioset_labels import AUDIOSET_MIDS

    known = set(AUDIOSET_MIDS)
    segments: dict[str, list] = {}
    for path in map(Path, paths):
        if not path.is_file():
            raise FileNotFoundError(f"{path}: AudioSet segment CSV not found (download from {AUDIOSET_DOWNLOAD})")
        read, repeated = 0, []
        for line, fields in _csv_rows(path, warnings):
            if not fields or fields[0].lstrip().startswith("#") or fields[0].strip().upper() == "YTID":
                continue
            parsed = _segment_row(fields, known, f"{path}: line {line}", warnings)
            if parsed:
                read += 1
                found = segments.setdefault(parsed[0], [])
                if any(abs(start - parsed[1]) < 0.5 for start, _ in found):
                    repeated.append(f"{parsed[0]} at {parsed[1]:g} s (line {line})")
                    continue
                found.append(parsed[1:])
        if not read:  # an empty file, a TSV, other columns: say so, never "0 clips" and success
            raise ValueError(f"{path}: no segment rows could be read; expected AudioSet's segment CSV: comma-separated "
                             "columns YTID, start_seconds, end_seconds, positive_labels (label mids, quoted), as in "
                             f"{AUDIOSET_DOWNLOAD}" + (f" (first problem: {warnings[-1]})" if warnings else ""))
        if repeated:
            warnings.append(f"{path}: {len(repeated)} segment(s) listed twice; the first row of each kept: "
                            + ", ".join(repeated[:10]) + (", ..." if len(repeated) > 10 else ""))
    return segments


def _csv_rows(path: Path, warnings: list[str]):
    """(line number, fields) of each row of a comma-separated file; a row the csv module cannot read
    (a value over its 131,072-character limit) is skipped with a warning naming file and line."""
    reader = csv.reader(io.StringIO(read_text_file(path), newline=""), skipinitialspace=True)
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            warnings.append(f"{path}: line {reader.line_num}: unreadable row ({error}); row skipped")
            continue
        yield reader.line_num, fields


def _segment_row(fields: list[str], known: set, where: str, warnings: list[str]):
    """(ytid, start, mids) of one data row, or None (warned) when it is malformed."""
    ytid = fields[0].strip()
    try:
        start = float(fields[1])
    except (IndexError, ValueError):
        warnings.append(f"{where}: start_seconds {fields[1:2]} is not a number; row skipped")
        return None
    mids = [m.strip().strip('"').strip() for f in fields[3:] for m in f.split(",")]
    mids = [m for m in mids if m]
    unknown = [m for m in mids if m not in known]
    if unknown:
        warnings.append(f"{where}: label(s) {', '.join(unknown)} not among the 527 AudioSet classes; ignored")
    mids = tuple(m for m in mids if m in known)
    if not ytid or not mids:
        warnings.append(f"{where}: no YouTube id or no known label; row skipped")
        return None
    return ytid, start, mids


def labels_of(segments: dict, ytid: str, start: float | None) -> tuple[str, ...] | None:
    """The clip's label mids: the segment at `start` (or the id's only one), None if unlisted."""
    found = segments.get(ytid)
    if not found:
        return None
    if start is not None:
        for seconds, mids in found:
            if abs(seconds - start) < 0.5:
                return mids
    return found[0][1] if len(found) == 1 or start is None else None


def label_logits(mid_lists) -> np.ndarray:
    """(n, 527) float32: PRESENT_LOGIT where a clip has the label, ABSENT_LOGIT elsewhere,
    columns in EfficientAT's output order."""
    from clapdemo.encoders.audioset_labels import AUDIOSET_MIDS

    column = {mid: i for i, mid in enumerate(AUDIOSET_MIDS)}
    out = np.full((len(mid_lists), len(AUDIOSET_MIDS)), ABSENT_LOGIT, dtype=np.float32)
    for row, mids in enumerate(mid_lists):
        out[row, [column[m] for m in mids]] = PRESENT_LOGIT
    return out


# ----------------------------------------------------------------------------- captions


def caption_clips(data_root, split: str, warnings: list[str]) -> tuple[pd.DataFrame, list[str]]:
    """(clip_id, youtube_id, start, captions) per AudioCaps clip of `split`, and the tables read.

    The original release's `<split>.csv` names each clip's YouTube id; clip ids are those
    `read_audiocaps` gives (the id, or id_start when one id has two starts), so a real-audio
    store of the same split has the same ids. The course zip's TSVs carry no YouTube id:
    their clips are found in the original CSV of the split (beside them, or below
    data_root) by caption text, and keep the course's uniq_id."""
    root = existing_dir(data_root)
    original = find_meta(root, f"{split}.csv")
    course = find_meta(root, f"audiocaps_{split}_new.tsv") or find_meta(root, f"audiocaps_{split}.tsv")
    if original is None:
        raise FileNotFoundError(
            f"{root}: no {split}.csv (the original AudioCaps release, with YouTube ids) here or below"
            + (f"; {course.name} has no YouTube ids, so its clips cannot be matched to AudioSet labels without it"
               if course else "") + f". Get it from {AUDIOCAPS_DOWNLOAD}")
    clips = _original_clips(original, warnings)
    if course is None:
        return clips, [str(original)]
    return _course_clips(course, clips, warnings), [str(course), str(original)]


def _original_clips(path: Path, warnings: list[str]) -> pd.DataFrame:
    table = original_rows(path, warnings)
    starts_per_id = table.drop_duplicates(["youtube_id", "start"]).groupby("youtube_id").size().to_dict()
    rows = []
    for (ytid, start), group in group_rows(zip(table["youtube_id"], table["start"]), table["caption"], table["_line"]).items():
        captions = clean_captions(((t, f"{path}: line {n}") for t, n in group), warnings)
        if captions:
            rows.append({"clip_id": f"{ytid}_{start}" if starts_per_id[ytid] > 1 else ytid,
                         "youtube_id": ytid, "start": float(start), "captions": captions})
    return pd.DataFrame(rows, columns=["clip_id", "youtube_id", "start", "captions"])


def _course_clips(path: Path, original: pd.DataFrame, warnings: list[str]) -> pd.DataFrame:
    """The course table's clips (uniq_id, captions), each placed on a YouTube clip by caption text."""
    table = read_table(path, ["uniq_id", "text"], warnings)
    by_caption: dict[str, list[int]] = {}
    for i, caps in enumerate(original["captions"]):
        for c in caps:
            by_caption.setdefault(c, []).append(i)
    texts = find_meta(path.parent, f"{path.name.split('_')[1]}_texts.json")
    extra = json.loads(read_text_file(texts)) if texts else {}
    rows = []
    for uid, group in group_rows(table["uniq_id"].str.strip(), table["text"]).items():
        captions = list(dict.fromkeys([t.strip() for (t,) in group] + [str(t).strip() for t in extra.get(uid, [])]))
        votes = Counter(i for c in captions for i in by_caption.get(c, []))  # one caption can name two clips
        match = votes.most_common(1)[0][0] if votes else None
        if match is None:
            warnings.append(f"{path}: uniq_id {uid!r}: no caption found in the original CSV; clip skipped")
            continue
        source = original.iloc[match]
        rows.append({"clip_id": uid, "youtube_id": source["youtube_id"], "start": source["start"],
                     "captions": [c for c in captions if c]})
    return pd.DataFrame(rows, columns=["clip_id", "youtube_id", "start", "captions"])


def wavcaps_clips(path, warnings: list[str]) -> pd.DataFrame:
    """WavCaps' AudioSet_SL captions JSON ({"data": [{"id": "Y<ytid>.wav", "caption": ...}]}) as clips.

    WavCaps gives no start time: the YouTube id's only segment is used."""
    path = Path(path)
    try:
        data = json.loads(read_text_file(path))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON (line {err.lineno}: {err.msg})") from None
    items = data.get("data") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ValueError(f"{path}: expected WavCaps' layout {{\"data\": [{{\"id\", \"caption\"}}, ...]}}")
    rows = []
    for i, item in enumerate(items):
        stem = Path(str(item.get("id", "")) if isinstance(item, dict) else "").stem
        caption = str(item.get("caption", "")).strip() if isinstance(item, dict) else ""
        if not stem or not caption:
            warnings.append(f"{path}: item {i}: no id or no caption; skipped")
            continue
        ytid = stem[1:] if stem.startswith("Y") and len(stem) == 12 else stem
        rows.append({"clip_id": f"wavcaps:{ytid}", "youtube_id": ytid, "start": None, "captions": [caption]})
    return pd.DataFrame(rows, columns=["clip_id", "youtube_id", "start", "captions"])


def make_label_pairs(data_root, split: str = "train", segment_csvs=None, wavcaps_json=None) -> LabelPairs:
    """AudioCaps `split` (and WavCaps AudioSet_SL, if given) joined with AudioSet's labels.

    segment_csvs: default `default_segment_csvs()`. Clips without labels are listed, not fatal."""
    warnings: list[str] = []
    csvs = [Path(p) for p in (segment_csvs or default_segment_csvs())]
    segments = read_segments(csvs, warnings)
    clips, tables = caption_clips(data_root, split, warnings)
    if wavcaps_json:
        clips = pd.concat([clips, wavcaps_clips(wavcaps_json, warnings)], ignore_index=True)
        tables.append(str(wavcaps_json))
    mids = [labels_of(segments, y, None if s is None or s != s else float(s))
            for y, s in zip(clips["youtube_id"], clips["start"])]
    has = np.array([m is not None for m in mids], dtype=bool)
    labelled = clips[has].reset_index(drop=True).assign(mids=[list(m) for m in mids if m is not None])
    labelled = _first_of_each_id(labelled, tables, warnings)
    if labelled.empty:
        raise ValueError(f"no clip of {', '.join(tables)} ({len(clips)} clips with captions) has labels in "
                         f"{', '.join(map(str, csvs))}: nothing to train on. Check that the captions are AudioCaps' "
                         "(columns youtube_id, start_time, caption) and the segment CSVs AudioSet's"
                         + (f"; first warning: {warnings[0]}" if warnings else ""))
    sources = {"kind": SOURCE_KIND, "split": split, "captions": tables,
               "segment_csvs": [str(p) for p in csvs],
               "map": {"present": PRESENT_LOGIT, "absent": ABSENT_LOGIT, "space": "logits"}}
    return LabelPairs(labelled, clips["clip_id"][~has].astype(str).tolist(), sources, warnings)


def _first_of_each_id(clips: pd.DataFrame, tables: list[str], warnings: list[str]) -> pd.DataFrame:
    """`clips` with one row per clip id (the first), warning with the count and the ids dropped: two
    rows of one id would otherwise become one clip in the store without a word."""
    repeated = clips["clip_id"].duplicated()
    if repeated.any():
        ids = clips["clip_id"][repeated].astype(str).tolist()
        warnings.append(f"{', '.join(tables)}: {len(ids)} clip id(s) given twice; the first row of each kept: "
                        + ", ".join(ids[:10]) + (", ..." if len(ids) > 10 else ""))
    return clips[~repeated].reset_index(drop=True)


# ----------------------------------------------------------------------------- the store


def is_label_store(meta: dict) -> bool:
    """Whether a store manifest is a label-pair store (audio side from labels, no audio)."""
    return (meta.get("audio_source") or {}).get("kind") == SOURCE_KIND


def write_label_store(pairs: LabelPairs, audio_encoder, text_encoder, out, chunk: int = 4096) -> dict:
    """Write `pairs` as a store at `out` keyed by `audio_encoder`'s identity (it must give the
    527 AudioSet logits): the vectors the encoder's test-time stores are compared with.

    Captions are embedded by `text_encoder`; returns the report also saved as report.json."""
    from clapdemo.stores.precompute import build_manifest
    from clapdemo.training.projection_init import audioset_problem
    from clapdemo.stores.store import Store, atomic_write_json

    manifest = build_manifest(audio_encoder, text_encoder, _Named(DATASET_NAME, pairs.sources["split"]))
    problem = audioset_problem(manifest)
    if problem or "logits" not in audio_encoder.name:
        raise ValueError(f"label pairs live in the space of the 527 AudioSet logits; the audio encoder "
                         f"{audio_encoder.name} does not give them ({problem or 'not logits'}); use mn04_as:logits")
    manifest["audio_source"] = pairs.sources
    store = Store(out)
    table = pairs.clips.assign(audio_path="")[["clip_id", "audio_path", "captions", "youtube_id"]]
    with store.lock():
        store.create_or_check(manifest, table)
        done = store.done_clip_ids()
        todo = pairs.clips[~pairs.clips["clip_id"].isin(done)]
        for start in range(0, len(todo), chunk):
            part = todo.iloc[start:start + chunk]
            captions = [c for caps in part["captions"] for c in caps]
            text_clip = np.repeat(np.arange(len(part)), [len(c) for c in part["captions"]])
            store.write_shard(part["clip_id"].astype(str).tolist(), label_logits(part["mids"].tolist()),
                              text_encoder.embed(captions), text_clip, captions)
        report = {"store": str(out), "labelled_clips": len(pairs.clips), "captions": pairs.n_captions,
                  "written_now": len(todo), "unlabelled": pairs.unlabelled, "warnings": pairs.warnings,
                  "sources": pairs.sources}
        atomic_write_json(Path(out) / "report.json", report)
    return report


@dataclass
class _Named:
    """The two fields `build_manifest` reads from a Dataset."""

    name: str
    split: str
