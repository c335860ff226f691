"""A folder that stays indexed: `python -m clapdemo index FOLDER`.

The index is an ordinary store (store.py: manifest, clips.parquet, checksummed
shards), so evaluate/search/the app read it like any other; it adds:
- one shard per file, holding the file's mean vector ("audio"), its captions
  (if any) and its windows ("windows" (w, da), "window_start", "window_end"
  seconds; windows.py has the policy); stores without windows stay valid;
- in clips.parquet, per file: size, mtime_ns, sha256 and duration;
- in the manifest, "windows": {"seconds", "hop"}.

A rerun compares the folder with the table: a file is unchanged when its size
and mtime match, or, if they differ, when its content hash still matches (a
`touch` or a copy costs a hash, not an embedding). New and changed files are
embedded, deleted ones dropped; nothing else is touched. Captions are optional:
a `captions.csv` (file,caption) in the folder, or one given, adds them; files
it does not name are indexed uncaptioned. Undecodable files are listed with the
reason, never stop the run, and are tried again on the next run.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from clapdemo.audio import AudioError
from clapdemo.embeddings import EmbeddingSet
from clapdemo.store import Store, atomic_write_bytes, atomic_write_json, sha256_bytes
from clapdemo.windows import HOP_SECONDS, embed_file

INDEX_DIRNAME = ".clapdemo-index"  # hidden: the folder scan skips it


@dataclass
class IndexReport:
    """What one `index` run did, file by file (clip ids are paths relative to the folder)."""

    folder: str
    store: str
    added: list = field(default_factory=list)
    changed: list = field(default_factory=list)
    deleted: list = field(default_factory=list)
    unchanged: list = field(default_factory=list)
    failed: dict = field(default_factory=dict)  # clip_id -> reason
    windows: int = 0
    seconds: float = 0.0

    @property
    def embedded(self) -> list:
        return sorted(set(self.added + self.changed) - set(self.failed))

    def summary(self) -> str:
        return (f"{self.folder} -> {self.store}: {len(self.added)} added, {len(self.changed)} changed, "
                f"{len(self.deleted)} deleted, {len(self.unchanged)} unchanged, {len(self.failed)} failed; "
                f"{self.windows} windows embedded in {self.seconds:.1f} s")


def default_index_dir(folder) -> Path:
    return Path(folder) / INDEX_DIRNAME


def file_sha256(path) -> str:
    """The content hash, streamed (a long recording never lands in memory whole)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def scan_folder(folder, captions_csv=None) -> pd.DataFrame:
    """Every audio file below `folder` (hidden folders skipped) with its captions, size and mtime."""
    root = Path(folder).resolve()
    files = _all_files(root)
    captions = _captions(root, captions_csv)
    files["captions"] = [captions.get(c, []) for c in files["clip_id"]]
    stats = [os.stat(p) for p in files["audio_path"]]
    files["size"] = [s.st_size for s in stats]
    files["mtime_ns"] = [s.st_mtime_ns for s in stats]
    return files


def _all_files(root: Path) -> pd.DataFrame:
    from clapdemo.datasets import _scan_folder

    return _scan_folder(root, "all").clips[["clip_id", "audio_path"]].copy()


def _captions(root: Path, captions_csv) -> dict[str, list[str]]:
    """clip id -> captions from the CSV (the folder's captions.csv unless one is given); {} without one."""
    from clapdemo.datasets import read_folder

    if captions_csv is None and not (root / "captions.csv").is_file():
        return {}
    table = read_folder(root, csv=captions_csv).clips
    return dict(zip(table["clip_id"], table["captions"].map(list)))


def index_folder(folder, audio_encoder, text_encoder, out=None, *, window: float | None = None,
                 hop: float = HOP_SECONDS, captions_csv=None, progress: bool = True) -> IndexReport:
    """Bring the index of `folder` up to date: embed new and changed files, drop deleted ones."""
    from clapdemo.precompute import build_manifest

    root = Path(folder).resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"{folder}: not a folder; give the folder that holds your audio files")
    store = Store(out or default_index_dir(root))
    window = float(window or audio_encoder.clip_seconds)
    start = time.perf_counter()
    with store.lock("index"):
        files = scan_folder(root, captions_csv)
        manifest = _manifest(build_manifest(audio_encoder, text_encoder, _FolderInfo()), root, window, hop)
        old = _previous(store, manifest, files)
        report = IndexReport(folder=str(root), store=str(store.root))
        todo = _plan(files, old, store, report)
        _drop(store, report.deleted + report.changed)
        table = _embed_all(store, files, todo, audio_encoder, text_encoder, window, hop, report, progress)
        store._write_clips(table)
        store.write_failed({c: {"audio_path": str(root / c), "error": e} for c, e in report.failed.items()})
    report.seconds = time.perf_counter() - start
    atomic_write_json(store.root / "report.json", asdict(report))
    return report


@dataclass
class _FolderInfo:
    name: str = "folder"
    split: str = "all"


def _manifest(manifest: dict, root: Path, window: float, hop: float) -> dict:
    manifest["dataset"]["root"] = str(root)
    manifest["windows"] = {"seconds": window, "hop": hop}
    return manifest


def _previous(store: Store, manifest: dict, files: pd.DataFrame) -> pd.DataFrame:
    """The table of the last run, or an empty one when the index is new or its settings changed
    (other window/hop: every file is recomputed; other encoders: refused by the store)."""
    empty = pd.DataFrame(columns=["clip_id", "size", "mtime_ns", "sha256", "captions"])
    store.create_or_check(manifest, files.assign(sha256="", duration=0.0).iloc[:0])  # refuses other encoders
    if store.manifest().get("windows") != manifest["windows"]:
        for sidecar in store.sidecars():
            store.remove_shard(sidecar)
        atomic_write_json(store.manifest_path, manifest)
        table = store.clips()
        return table.assign(size=-1) if "sha256" in table.columns else empty  # known files count as changed
    table = store.clips()
    return table if "sha256" in table.columns else empty


def _plan(files: pd.DataFrame, old: pd.DataFrame, store: Store, report: IndexReport) -> list[int]:
    """Rows of `files` to embed; fills the report's added/changed/deleted/unchanged and files' sha256."""
    before = {r.clip_id: r for r in old.itertuples(index=False)}
    done = store.done_clip_ids()
    hashes, todo = [], []
    for i, row in enumerate(files.itertuples(index=False)):
        prev = before.get(row.clip_id)
        same_stat = prev is not None and prev.size == row.size and prev.mtime_ns == row.mtime_ns
        digest = prev.sha256 if same_stat else file_sha256(row.audio_path)
        hashes.append(digest)
        same = prev is not None and prev.sha256 == digest and list(prev.captions) == list(row.captions)
        if same and row.clip_id in done:
            report.unchanged.append(row.clip_id)
            continue
        (report.changed if prev is not None else report.added).append(row.clip_id)
        todo.append(i)
    files["sha256"] = hashes
    report.deleted = sorted(set(before) - set(files["clip_id"]))
    return todo


def _drop(store: Store, clip_ids: list[str]) -> None:
    """Remove the shards of deleted and changed files (before new ones are written: one shard per clip)."""
    gone = set(clip_ids)
    for sidecar in store.sidecars():
        try:
            ids = json.loads(sidecar.read_text(encoding="utf-8"))["clip_ids"]
        except (ValueError, KeyError, OSError):
            continue
        if gone & set(ids):
            store.remove_shard(sidecar)


def _embed_all(store, files, todo, audio_encoder, text_encoder, window, hop, report, progress) -> pd.DataFrame:
    from tqdm.auto import tqdm

    durations = np.zeros(len(files))
    old = store.clips()
    if "duration" in old.columns:
        known = dict(zip(old["clip_id"], old["duration"]))
        durations = np.array([known.get(c, 0.0) for c in files["clip_id"]], dtype=float)
    text_cache: dict[str, np.ndarray] = {}
    for i in tqdm(todo, unit="file", desc="index", disable=not progress):
        row = files.iloc[i]
        try:
            vectors, starts, duration = embed_file(row["audio_path"], audio_encoder, window, hop)
        except AudioError as error:
            report.failed[row["clip_id"]] = error.problem
            continue
        captions = list(row["captions"])
        new = [c for c in captions if c not in text_cache]
        if new:
            text_cache.update(zip(new, text_encoder.embed(new)))
        text = np.stack([text_cache[c] for c in captions]) if captions else np.zeros((0, text_encoder.dim), np.float32)
        write_file_shard(store, row["clip_id"], vectors, starts, np.minimum(starts + window, duration), text, captions)
        durations[i] = duration
        report.windows += len(vectors)
    return files.assign(duration=durations)


def write_file_shard(store: Store, clip_id: str, windows: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                     text: np.ndarray, captions: list[str]) -> Path:
    """One file's shard: its mean vector, captions and windows; atomic and checksummed like store.write_shard."""
    from safetensors.numpy import save

    data = save(
        {
            "audio": windows.mean(axis=0, keepdims=True).astype(np.float32),
            "text": np.ascontiguousarray(text, dtype=np.float32),
            "text_clip": np.zeros(len(captions), np.int64),
            "windows": np.ascontiguousarray(windows, dtype=np.float32),
            "window_start": np.asarray(starts, np.float32),
            "window_end": np.asarray(ends, np.float32),
        },
        metadata={"clip_ids": json.dumps([clip_id]), "captions": json.dumps(captions)},
    )
    name = f"shard-{uuid.uuid4().hex[:16]}"
    atomic_write_bytes(store.shard_dir / f"{name}.safetensors", data)
    atomic_write_json(store.shard_dir / f"{name}.json", {"sha256": sha256_bytes(data), "clip_ids": [clip_id]})
    return store.shard_dir / f"{name}.safetensors"


def load_embeddings(path, memmap: bool = False, float16: bool = False) -> EmbeddingSet:
    """A store's EmbeddingSet, with its windows when it has them (a folder index).

    `memmap`/`float16`: the clip vectors memory-mapped from STORE/packed (see packed.py)."""
    from clapdemo.packed import open_store

    store = Store(path)
    embeddings = open_store(path, memmap, float16)
    if "windows" not in embeddings.meta or embeddings.n_clips == 0:
        return embeddings
    return attach_windows(embeddings, store)


def attach_windows(embeddings: EmbeddingSet, store: Store) -> EmbeddingSet:
    """Read the per-window arrays of every shard (checksummed) and align them with the clips."""
    rows = {c: i for i, c in enumerate(embeddings.clip_ids)}
    parts: dict[int, tuple] = {}
    for _, ids, _, arrays in store.intact_shards():
        if "windows" not in arrays or len(ids) != 1 or ids[0] not in rows:
            continue
        parts.setdefault(rows[ids[0]], (arrays["windows"], arrays["window_start"], arrays["window_end"]))
    order = sorted(parts)
    if not order:
        return embeddings
    embeddings.windows = np.concatenate([parts[r][0] for r in order])
    embeddings.window_clip = np.concatenate([np.full(len(parts[r][0]), r, np.int64) for r in order])
    embeddings.window_start = np.concatenate([parts[r][1] for r in order])
    embeddings.window_end = np.concatenate([parts[r][2] for r in order])
    return embeddings


def export_hits(results: dict, path) -> Path:
    """Write search results ({"clips": [Hit], "captions": [Hit]}) as CSV or JSON, by the file's suffix."""
    path = Path(path)
    rows = [{"kind": kind, **hit.to_dict()} for kind, hits in results.items() for hit in hits]
    if path.suffix.lower() == ".json":
        atomic_write_json(path, {kind: [h.to_dict() for h in hits] for kind, hits in results.items()})
    elif path.suffix.lower() == ".csv":
        atomic_write_bytes(path, pd.DataFrame(rows).to_csv(index=False).encode("utf-8"))
    else:
        raise ValueError(f"{path}: export needs a .csv or .json file name")
    return path
