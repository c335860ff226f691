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
embedded, deleted ones dropped; nothing else is touched. Each shard's sidecar
records the file it was made from, so a killed run resumes: the next run keeps
what was finished and removes duplicate shards. Captions are optional:
a `captions.csv` (file,caption) in the folder, or one given, adds them; files
it does not name are indexed uncaptioned. Only regular files are opened (a FIFO
or a link to /dev/zero would block or never end); those and undecodable files
are listed with the reason, never stop the run, and are tried again on the next
run. What the app's visitors may do with libraries lives beside it: library_access.py
(which folders open, what is served), visitor_uploads.py (uploads, quotas, clean-up),
own_clips.py (a session's own clips), visitor_work.py (bounded heavy work), hit_export.py.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from clapdemo.data.audio import AudioError, check_regular_file
from clapdemo.stores.store import Store, atomic_write_json
from clapdemo.encoders.weights import sha256_file  # streamed: a long recording never lands in memory whole
from clapdemo.encoders.windows import HOP_SECONDS, check_window, embed_file

INDEX_DIRNAME = ".clapdemo-index"  # hidden: the folder scan skips it


@dataclass
class IndexReport:
    """What one `index` run did, file by file (clip ids are paths relative to the folder)."""

    folder: str
    store: str
    added: list = field(default_factory=list)  # added and changed: embedded now (a failed file is in failed only)
    changed: list = field(default_factory=list)
    deleted: list = field(default_factory=list)
    unchanged: list = field(default_factory=list)
    resumed: list = field(default_factory=list)  # embedded by a run that was killed before it finished
    failed: dict = field(default_factory=dict)  # clip_id -> reason (undecodable, not a regular file, ...)
    windows: int = 0
    seconds: float = 0.0

    @property
    def embedded(self) -> list:
        return sorted(self.added + self.changed)

    def summary(self, paths: bool = True) -> str:
        """One line of counts; `paths=False` leaves out the folder and index paths (the app's visitors
        see names, never server paths)."""
        resumed = f", {len(self.resumed)} kept from an interrupted run" if self.resumed else ""
        where = f"{self.folder} -> {self.store}: " if paths else ""
        return (f"{where}{len(self.added)} added, {len(self.changed)} changed, "
                f"{len(self.deleted)} deleted, {len(self.unchanged)} unchanged{resumed}, {len(self.failed)} failed; "
                f"{self.windows} windows embedded in {self.seconds:.1f} s")

    def skipped_lines(self, limit: int = 20) -> list[str]:
        """'skipped FILE: reason' for the first `limit` failed files, then how many more (and where)."""
        lines = [f"skipped {clip_id}: {reason}" for clip_id, reason in list(self.failed.items())[:limit]]
        if len(self.failed) > limit:
            lines.append(f"... and {len(self.failed) - limit} more, listed in {Path(self.store) / 'failed.json'}")
        return lines


def default_index_dir(folder) -> Path:
    return Path(folder) / INDEX_DIRNAME


def scan_folder(folder, captions_csv=None) -> tuple[pd.DataFrame, dict[str, str]]:
    """Every regular audio file below `folder` (hidden folders skipped) with its captions, size and
    mtime; and {clip id: why} for the names that are not regular files (a FIFO, a link to /dev/zero,
    a dangling link, a link loop, an empty file): those are listed, never opened."""
    root = Path(folder).resolve()
    files = _all_files(root)
    skipped, stats = {}, []
    for clip_id, path in zip(files["clip_id"], files["audio_path"]):
        try:
            check_regular_file(path)
            stats.append(os.stat(path))
        except AudioError as error:
            skipped[clip_id] = error.problem
    files = files[~files["clip_id"].isin(skipped)].reset_index(drop=True)
    captions = _captions(root, captions_csv)
    files["captions"] = [captions.get(c, []) for c in files["clip_id"]]
    files["size"] = [s.st_size for s in stats]
    files["mtime_ns"] = [s.st_mtime_ns for s in stats]
    return files, skipped


def _all_files(root: Path) -> pd.DataFrame:
    from clapdemo.data.folder import scan_audio_folder

    return scan_audio_folder(root, "all").clips[["clip_id", "audio_path"]].copy()


def _captions(root: Path, captions_csv) -> dict[str, list[str]]:
    """clip id -> captions from the CSV (the folder's captions.csv unless one is given); {} without one."""
    from clapdemo.data.folder import read_folder

    if captions_csv is None and not (root / "captions.csv").is_file():
        return {}
    table = read_folder(root, csv=captions_csv).clips
    return dict(zip(table["clip_id"], table["captions"].map(list)))


def index_folder(folder, audio_encoder, text_encoder, out=None, *, window: float | None = None,
                 hop: float = HOP_SECONDS, captions_csv=None, progress: bool = True,
                 max_seconds: float | None = None) -> IndexReport:
    """Bring the index of `folder` up to date: embed new and changed files, drop deleted ones.

    Resumable: each file's shard records the file it came from (size, mtime, sha256, captions), so
    a run killed half way keeps the files it finished and the next run embeds only the rest.
    `max_seconds`: files longer than this are refused (a visitor's upload). `StoreBusy` when
    another process is indexing into the same index."""
    from clapdemo.stores.precompute import build_manifest

    root = Path(folder).resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"{folder}: not a folder; give the folder that holds your audio files")
    window = float(window or audio_encoder.clip_seconds)
    check_window(window, hop)
    store = Store(out or default_index_dir(root))
    start = time.perf_counter()
    with store.lock("index"):
        files, skipped = scan_folder(root, captions_csv)
        manifest = _manifest(build_manifest(audio_encoder, text_encoder, _FolderInfo()), root, window, hop)
        _start(store, manifest, files)
        report = IndexReport(folder=str(root), store=str(store.root), failed=dict(skipped))
        todo = _plan(files, store, report)
        table = _embed_all(store, files, todo, audio_encoder, text_encoder, window, hop, report, progress,
                           max_seconds)
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


def _start(store: Store, manifest: dict, files: pd.DataFrame) -> None:
    """Create the index, or check its encoders (other ones are refused by the store); other
    window/hop settings drop every shard, so every file is recomputed. What a killed run left
    (temp files, shards without a sidecar) is deleted: only `index` writes here, and it holds the lock."""
    store.create_or_check(manifest, files.assign(sha256="", duration=0.0).iloc[:0])
    for leftover in store.leftovers():
        leftover.unlink(missing_ok=True)
    if store.manifest().get("windows") != manifest["windows"]:
        for sidecar in store.sidecars():
            store.remove_shard(sidecar)
        atomic_write_json(store.manifest_path, manifest)


def _sources(store: Store) -> dict[str, list[tuple[Path, dict]]]:
    """clip id -> [(sidecar, the file its shard was made from)], from the sidecars alone.

    Shards of indexes made before sidecars recorded their source take it from clips.parquet."""
    table = store.clips()
    legacy = ({r["clip_id"]: r for r in table.to_dict("records")} if "sha256" in table.columns else {})
    found: dict[str, list[tuple[Path, dict]]] = {}
    for sidecar in store.sidecars():
        try:
            meta = json.loads(sidecar.read_text(encoding="utf-8"))
            clip_id = meta["clip_ids"][0]
        except (ValueError, KeyError, IndexError, TypeError, OSError):
            continue  # a damaged sidecar: its clip counts as not done (load quarantines it)
        source = meta.get("source") or legacy.get(clip_id)
        found.setdefault(clip_id, []).append((sidecar, source or {}))
    return found


def _plan(files: pd.DataFrame, store: Store, report: IndexReport) -> list[int]:
    """Rows of `files` to embed. Fills the report and the files' sha256 and duration; removes the
    shards of deleted and changed files, and duplicates a killed run left."""
    previous = set(store.clips()["clip_id"])  # the files the last finished run recorded
    sources = _sources(store)
    hashes, durations, todo = [], [], []
    for i, row in enumerate(files.itertuples(index=False)):
        shards = sources.pop(row.clip_id, [])
        keep, digest = None, None
        for sidecar, source in shards:
            if list(source.get("captions", [])) != list(row.captions):
                continue
            if source.get("size") != row.size or source.get("mtime_ns") != row.mtime_ns:
                digest = digest or sha256_file(row.audio_path)  # touched or copied: same content?
                if source.get("sha256") != digest:
                    continue
            keep = (sidecar, source)
            break
        for sidecar, _ in shards:
            if keep is None or sidecar != keep[0]:
                store.remove_shard(sidecar)
        hashes.append(keep[1].get("sha256") if keep else digest)
        durations.append(float(keep[1].get("duration", 0.0)) if keep else 0.0)
        if keep is not None:
            (report.unchanged if row.clip_id in previous else report.resumed).append(row.clip_id)
            continue
        (report.changed if row.clip_id in previous or shards else report.added).append(row.clip_id)
        todo.append(i)
    for gone in sources.values():  # shards of files no longer in the folder
        for sidecar, _ in gone:
            store.remove_shard(sidecar)
    report.deleted = sorted((previous | set(sources)) - set(files["clip_id"]) - set(report.failed))
    files["sha256"], files["duration"] = hashes, durations
    return todo


def _embed_all(store, files, todo, audio_encoder, text_encoder, window, hop, report, progress,
               max_seconds) -> pd.DataFrame:
    from tqdm.auto import tqdm

    text_cache: dict[str, np.ndarray] = {}
    for i in tqdm(todo, unit="file", desc="index", disable=not progress):
        row = files.iloc[i]
        try:
            vectors, starts, duration = embed_file(row["audio_path"], audio_encoder, window, hop,
                                                   max_seconds=max_seconds)
        except AudioError as error:
            report.failed[row["clip_id"]] = error.problem
            for attempted in (report.added, report.changed):
                if row["clip_id"] in attempted:
                    attempted.remove(row["clip_id"])
            continue
        captions = list(row["captions"])
        new = [c for c in captions if c not in text_cache]
        if new:
            text_cache.update(zip(new, text_encoder.embed(new)))
        text = np.stack([text_cache[c] for c in captions]) if captions else np.zeros((0, text_encoder.dim), np.float32)
        digest = row["sha256"] or sha256_file(row["audio_path"])
        source = {"size": int(row["size"]), "mtime_ns": int(row["mtime_ns"]), "sha256": digest,
                  "duration": duration, "captions": captions}
        write_file_shard(store, row["clip_id"], vectors, starts, np.minimum(starts + window, duration), text,
                         captions, source)
        files.loc[i, ["sha256", "duration"]] = [digest, duration]
        report.windows += len(vectors)
    return files


def write_file_shard(store: Store, clip_id: str, windows: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                     text: np.ndarray, captions: list[str], source: dict | None = None) -> Path:
    """One file's shard: its mean vector, captions and windows; atomic and checksummed like
    store.write_shard. The sidecar also records `source`, the file the shard was made from (size,
    mtime_ns, sha256, duration, captions): a rerun knows from it alone that the shard is current."""
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
    return store.commit_shard(f"shard-{uuid.uuid4().hex[:16]}", data, [clip_id], extra={"source": source or {}})
