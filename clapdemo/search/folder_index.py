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
run. `import_uploads` makes a visitor's library: their files, or a zip's audio,
copied into their own folder within the upload limits and the disk quotas (`Quota`);
`remove_session_files` / `remove_stale_uploads` delete them when their session ends.
`audio_query_slot`, `upload_index_slot` and QUERY_SECONDS bound the work of visitors' requests.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from clapdemo.data.audio import AudioError, check_regular_file
from clapdemo.stores.embedding_set import EmbeddingSet
from clapdemo.stores.store import Store, atomic_write_bytes, atomic_write_json
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
    from clapdemo.data.datasets import scan_audio_folder

    return scan_audio_folder(root, "all").clips[["clip_id", "audio_path"]].copy()


def _captions(root: Path, captions_csv) -> dict[str, list[str]]:
    """clip id -> captions from the CSV (the folder's captions.csv unless one is given); {} without one."""
    from clapdemo.data.datasets import read_folder

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


def export_hits(results: dict, path, with_paths: bool = True) -> Path:
    """Write search results ({"clips": [Hit], "captions": [Hit]}) as CSV or JSON, by the file's suffix.
    CSV cells that a spreadsheet would run as a formula are quoted (`csv_safe`); JSON keeps them as they are.
    `with_paths=False` leaves out the audio files' paths (the app's visitors see names, not server paths)."""
    path = Path(path)

    def record(hit) -> dict:
        fields = hit.to_dict()
        return fields if with_paths else {k: v for k, v in fields.items() if k != "audio_path"}

    rows = [{"kind": kind, **{k: csv_safe(v) for k, v in record(hit).items()}}
            for kind, hits in results.items() for hit in hits]
    if path.suffix.lower() == ".json":
        atomic_write_json(path, {kind: [record(h) for h in hits] for kind, hits in results.items()})
    elif path.suffix.lower() == ".csv":
        import csv  # every text cell quoted: a CR inside a name must not end the row

        atomic_write_bytes(path, pd.DataFrame(rows).to_csv(index=False, quoting=csv.QUOTE_NONNUMERIC).encode("utf-8"))
    else:
        raise ValueError(f"{path}: export needs a .csv or .json file name")
    return path


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # what makes a spreadsheet read a cell as a formula


def csv_safe(value):
    """A CSV cell a spreadsheet shows as text: a string starting with = + - @, tab or CR gets a leading
    single quote (OWASP's advice on CSV injection): a file named "=HYPERLINK(...)" must not run."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_START) else value


# ---- a visitor's library: an upload into the session's own folder ---------------------------------

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
    from clapdemo.data.datasets import AUDIO_EXTENSIONS

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


# ---- heavy work of visitors: bounded per request and in number -----------------------------------

QUERY_SECONDS = 30.0  # an audio query is heard for its first 30 s: three parallel 590 s queries took 1 GB each
AUDIO_QUERY_SLOTS = 2  # audio queries embedded at once, across all visitors
UPLOAD_INDEX_SLOTS = 1  # uploaded libraries indexed at once (up to the session quota of audio: minutes of CPU)
_query_slots = threading.BoundedSemaphore(AUDIO_QUERY_SLOTS)
_index_slots = threading.BoundedSemaphore(UPLOAD_INDEX_SLOTS)


class ServerBusy(RuntimeError):
    """Every slot for heavy work is taken; the message says to try again."""


@contextlib.contextmanager
def _slot(slots: threading.BoundedSemaphore, busy: str, wait: float):
    """Hold one of `slots`; ServerBusy(`busy`) after `wait` seconds without one, so a burst queues
    briefly and is then told, instead of piling up work that takes the app's memory and cores."""
    if not slots.acquire(timeout=wait):
        raise ServerBusy(busy)
    try:
        yield
    finally:
        slots.release()


def audio_query_slot(wait: float = 10.0):
    """One of AUDIO_QUERY_SLOTS, held while an audio query is decoded and embedded."""
    return _slot(_query_slots, f"The server is busy with {AUDIO_QUERY_SLOTS} other audio searches right now; "
                 "try again in a minute.", wait)


def upload_index_slot(wait: float = 10.0):
    """One of UPLOAD_INDEX_SLOTS, held while a visitor's upload is unpacked and indexed."""
    return _slot(_index_slots, "The server is busy indexing another visitor's upload right now; "
                 "try again in a minute.", wait)


# ---- what a visitor of the app may open and be served -------------------------------------------

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


def audio_query(searcher, path, k: int, max_mb: float, max_seconds: float) -> tuple[list, float]:
    """(hits, the file's duration) of a visitor's clip as a query against a library, with bounded work.

    The upload limits first (`check_upload`: bytes, then the header's duration), then only the
    file's first QUERY_SECONDS decoded as a stream, inside an `audio_query_slot` (three parallel
    590 s, 8-channel, 192 kHz queries took 1 GB each). Raises AudioError, ValueError or ServerBusy."""
    from clapdemo.data.audio import check_upload

    seconds = check_upload(path, max_mb, max_seconds)
    with audio_query_slot():
        hits = searcher.audio_to_audio(Path(path), int(k), max_seconds=max_seconds, seconds=QUERY_SECONDS)
    return hits, seconds


# ---- a session's own clips (the app's "Your own clips": an upload as the session's dataset) ---------

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
