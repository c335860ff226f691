"""The embedding store: precomputed vectors on disk, resumable, atomic, safe formats only.

Layout of a store directory:

    manifest.json            format version, encoder identities, dims, dataset, settings, store id
    clips.parquet            the dataset table (clip order, paths, captions, labels)
    shards/<name>.safetensors  audio (n, da), text (m, dt), text_clip (m,) for a group of clips
    shards/<name>.json       sidecar written last: sha256 of the shard, its clip ids, the store id
    failed.json              clips that could not be embedded, with the reason
    locks/                   lock files of running precompute jobs (see `Store.lock`)

A shard counts only once its sidecar exists and its sha256 matches, so a run
killed at any moment leaves either a whole shard or none, and a damaged shard
is recomputed instead of being read as data (`load` checks every shard it
reads). A shard is bound to its store: the sidecar repeats the manifest's
`store_id`, so a shard copied in from another store is quarantined like a
damaged one (stores made before the id keep working without the check), and a
shard whose vectors are not the manifest's width is refused, naming the file
(never relabelled as the manifest's encoder). Shard names are unique per writer, so several processes can fill one
store without clashing; a second process running the *same* job is refused
(`StoreBusy`). A write that fails (disk full, read-only folder) raises
`StoreWriteError` naming the file and what to do, and leaves every file saved
before untouched. Nothing here unpickles: arrays are safetensors, tables
parquet, metadata JSON.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import socket
import time
import uuid
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, NamedTuple

import numpy as np
import pandas as pd

from clapdemo.stores.embedding_set import EmbeddingSet
from clapdemo.files import atomic_write

FORMAT_VERSION = 1


class StoreMismatch(ValueError):
    """The store on disk was made by other encoders or settings than the ones asked for."""


class StoreWriteError(OSError):
    """A store file could not be written (disk full, read-only, no permission).

    An OSError (with the original errno) whose message names the file, says
    why in words and what to do; files written before are left as they were."""

    def __init__(self, path, error: OSError):
        super().__init__(error.errno, f"{path}: cannot write: {_why(error)} Everything saved before is intact; "
                         "rerun the same command to resume.")
        self.path = str(path)

    def __str__(self) -> str:
        return self.strerror  # the message alone, without "[Errno 28]"


class StoreBusy(OSError):
    """Another process (or app session) is running the same precompute job on this store."""


def _why(error: OSError) -> str:
    """An OSError in words, with the fix a user can apply."""
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return "the disk is full (or over quota). Free some space or choose another --out."
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return (f"the folder is read-only for this user ({error.strerror or error}). "
                "Fix its permissions or choose another --out.")
    return f"{error.strerror or error}. Check the disk and the folder."


def _flock(fd: int, wait: bool) -> None:
    """An exclusive `flock` on the open file `fd` (BlockingIOError when taken and not `wait`).

    `fcntl` is imported here, not at the top: it exists on Linux and macOS only, and importing it with
    the module made `import clapdemo` fail on Windows, where everything but precompute's lock works."""
    import fcntl

    fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)


@contextmanager
def _writing(path):
    """Turn any OSError while writing `path` into a StoreWriteError that says what to do."""
    try:
        yield
    except StoreWriteError:
        raise
    except OSError as error:
        raise StoreWriteError(path, error) from error


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """A store file written atomically (`files.atomic_write`); a failure becomes a StoreWriteError."""
    with _writing(path):
        atomic_write(path, data)


def atomic_write_json(path: Path, obj) -> None:
    atomic_write_bytes(path, json.dumps(obj, indent=2, ensure_ascii=False).encode("utf-8"))


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Store:
    """One directory of precomputed embeddings for one dataset split and one pair of encoders."""

    def __init__(self, root):
        self.root = Path(root)

    # ---- creation and identity -------------------------------------------------

    @property
    def manifest_path(self) -> Path:
        return self.root / "manifest.json"

    @property
    def shard_dir(self) -> Path:
        return self.root / "shards"

    def exists(self) -> bool:
        return self.manifest_path.is_file()

    def manifest(self) -> dict:
        """The manifest, checked enough that a damaged or crafted one is a clear error, not a traceback."""
        if not self.exists():
            raise FileNotFoundError(f"{self.root}: not an embedding store (no manifest.json); run `python -m clapdemo precompute --out {self.root}` first")
        path = self.manifest_path
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, RecursionError, UnicodeDecodeError) as error:
            raise ValueError(f"{path}: not a readable manifest ({type(error).__name__}); restore it, "
                             "or delete the store to compute it anew") from None
        return _checked_manifest(manifest, path)

    @staticmethod
    def key_of(manifest: dict) -> dict:
        """What vectors depend on: reusing a store whose key differs would mix stale vectors."""
        return {k: manifest[k] for k in ("format_version", "audio_encoder", "text_encoder")}

    def create_or_check(self, manifest: dict, clips: pd.DataFrame) -> None:
        """Start a store, or check that an existing one was made the same way (then resume).

        Serialised with other processes by a short lock: two jobs starting on a
        new store never interleave its creation (the manifest is written last)."""
        with self._setup_lock():
            if not self.exists() and self.sidecars():
                raise StoreMismatch(
                    f"{self.root}: shards/ holds {len(self.sidecars())} shards but manifest.json is missing, so "
                    "which encoders made them cannot be checked. Restore manifest.json, or delete "
                    f"{self.shard_dir} (or choose another --out) to compute them anew")
            if self.exists():
                old = self.manifest()
                if self.key_of(old) != self.key_of(manifest):
                    raise StoreMismatch(
                        f"{self.root} holds embeddings from {describe_key(old)}, not {describe_key(manifest)}; "
                        "choose another --out directory (or delete this one) to compute new ones"
                    )
                self._merge_clips(clips)
                return
            with _writing(self.shard_dir):
                self.shard_dir.mkdir(parents=True, exist_ok=True)
            self._write_clips(clips)
            atomic_write_json(self.manifest_path, {**manifest, "store_id": uuid.uuid4().hex})

    # ---- locking ---------------------------------------------------------------

    @contextmanager
    def lock(self, job: str = "all"):
        """Hold the store for one precompute `job` while the block runs; `StoreBusy` if taken.

        The key is the job, not the store: today every precompute is the job
        "all"; processes filling one store in parts (e.g. "shard-1-of-4") can
        take different keys and run side by side. The lock is `flock` on
        locks/<job>.lock, which the kernel drops when its process ends, even by
        SIGKILL, so a killed run never leaves a stale lock behind. While held,
        the file names its holder (pid, host, start time) for the message.
        """
        path = self.root / "locks" / f"{job}.lock"
        with _writing(path):
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)  # less the umask: a group may share the store
        try:
            try:
                _flock(fd, wait=False)
            except BlockingIOError:
                holder = os.pread(fd, 500, 0).decode("utf-8", "replace").strip() or "unknown process"
                raise StoreBusy(
                    f"{self.root}: another precompute is already running job {job!r} on this store "
                    f"({holder}). Wait for it to finish or stop it, then rerun: finished clips are kept."
                ) from None
            with _writing(path):  # a disk already full says so here, before any work
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}, started "
                              f"{time.strftime('%Y-%m-%d %H:%M:%S')}".encode(), 0)
            yield
        finally:
            os.close(fd)  # closing drops the flock

    @contextmanager
    def _setup_lock(self):
        """A short blocking lock around creating the store or extending its clip table."""
        path = self.root / "locks" / "setup.lock"
        with _writing(path):
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)  # less the umask: a group may share the store
        try:
            _flock(fd, wait=True)
            yield
        finally:
            os.close(fd)

    def clips(self) -> pd.DataFrame:
        """The clip table; ids always as str (a table written elsewhere with bytes ids would
        otherwise match no shard's ids, and the store would look empty)."""
        table = pd.read_parquet(self.root / "clips.parquet")
        table["clip_id"] = [c.decode("utf-8", "replace") if isinstance(c, bytes) else str(c) for c in table["clip_id"]]
        return table

    def _write_clips(self, clips: pd.DataFrame) -> None:
        table = clips.copy()
        table["captions"] = table["captions"].map(list)
        atomic_write_bytes(self.root / "clips.parquet", table.to_parquet(index=False))

    def _merge_clips(self, clips: pd.DataFrame) -> None:
        """A rerun on a grown dataset adds the new clips at the end; known clips keep their place."""
        old = self.clips()
        new = clips[~clips["clip_id"].isin(set(old["clip_id"]))]
        if len(new):
            self._write_clips(pd.concat([old, new], ignore_index=True))

    # ---- writing ---------------------------------------------------------------

    def write_shard(self, clip_ids: list[str], audio: np.ndarray, text: np.ndarray,
                    text_clip: np.ndarray, captions: list[str], extra: dict | None = None) -> Path:
        """Persist one group of finished clips; atomic, checksummed, uniquely named. `extra` goes
        into the sidecar (precompute: "audio_sha256", the clips' audio files' hashes)."""
        from safetensors.numpy import save

        name = f"shard-{uuid.uuid4().hex[:16]}"
        data = save(
            {
                "audio": np.ascontiguousarray(audio, dtype=np.float32),
                "text": np.ascontiguousarray(text, dtype=np.float32),
                "text_clip": np.ascontiguousarray(text_clip, dtype=np.int64),
            },
            metadata={"clip_ids": json.dumps(clip_ids), "captions": json.dumps(captions)},
        )
        return self.commit_shard(name, data, clip_ids, extra)

    def commit_shard(self, name: str, data: bytes, clip_ids: list[str], extra: dict | None = None) -> Path:
        """Write a shard's bytes, then its sidecar (checksum, clip ids, this store's id, `extra`): the
        shard counts from the moment the sidecar is there. Every writer of shards comes here."""
        shard_path = self.shard_dir / f"{name}.safetensors"
        atomic_write_bytes(shard_path, data)
        sidecar = {**(extra or {}), "sha256": sha256_bytes(data), "clip_ids": clip_ids}
        store_id = self.manifest().get("store_id")
        atomic_write_json(self.shard_dir / f"{name}.json", {**sidecar, "store_id": store_id} if store_id else sidecar)
        return shard_path

    def failed(self) -> dict[str, dict]:
        path = self.root / "failed.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}

    def write_failed(self, failed: dict[str, dict], owned: set[str] | None = None) -> None:
        """Save the failed clips. With `owned` (the clips of one shard), only those entries are
        replaced, under a lock, so shard processes writing at once keep each other's entries."""
        if owned is None:
            atomic_write_json(self.root / "failed.json", failed)
            return
        with self._setup_lock():
            merged = {k: v for k, v in self.failed().items() if k not in owned}
            merged.update({k: v for k, v in failed.items() if k in owned})
            atomic_write_json(self.root / "failed.json", merged)

    # ---- reading ---------------------------------------------------------------

    def sidecars(self) -> list[Path]:
        """One JSON sidecar per finished shard, in name order: a shard counts only through it."""
        return sorted(self.shard_dir.glob("shard-*.json")) if self.shard_dir.is_dir() else []

    def intact_shards(self) -> Iterator[Shard]:
        """Every shard whose bytes match their checksum, decoded. A damaged one is warned
        about, quarantined and skipped: never read as data (load, pack and windows read here)."""
        from safetensors.numpy import load as st_load

        manifest = self.manifest()
        for sidecar in self.sidecars():
            data, problem = self._read_shard(sidecar, manifest)
            if problem:
                warnings.warn(problem)
                self._quarantine(sidecar)
                continue
            meta = _safetensors_metadata(data)
            yield Shard(sidecar, json.loads(meta["clip_ids"]), json.loads(meta["captions"]), st_load(data))

    @staticmethod
    def remove_shard(sidecar: Path) -> None:
        """Delete a shard: the sidecar first, so a half-done removal never leaves a shard that counts."""
        sidecar.unlink(missing_ok=True)
        sidecar.with_suffix(".safetensors").unlink(missing_ok=True)

    def done_clip_ids(self) -> set[str]:
        """Clips whose vectors are safely on disk (sidecar present; checksums are checked on load)."""
        done: set[str] = set()
        for sidecar in self.sidecars():
            try:
                done.update(json.loads(sidecar.read_text(encoding="utf-8"))["clip_ids"])
            except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError, OSError):
                continue  # a damaged sidecar: its clips are not done (verify quarantines it)
        return done

    def verify(self) -> list[str]:
        """Check every shard against its checksum; quarantine bad ones so their clips get recomputed.

        Returns the problems found (empty when the store is sound)."""
        problems, manifest = [], self.manifest()
        for sidecar in self.sidecars():
            problem = self._read_shard(sidecar, manifest)[1]
            if problem:
                problems.append(problem)
                self._quarantine(sidecar)
        return problems

    def _read_shard(self, sidecar: Path, manifest: dict) -> tuple[bytes | None, str | None]:
        """(the shard's bytes, None) when they match the sidecar's sha256 and the shard is this
        store's, else (None, the problem). Vectors of another width raise (`_check_dims`)."""
        shard = sidecar.with_suffix(".safetensors")
        try:
            info = json.loads(sidecar.read_text(encoding="utf-8"))
            expected = info["sha256"]
        except (json.JSONDecodeError, RecursionError, KeyError, TypeError, UnicodeDecodeError, OSError) as error:
            return None, f"{sidecar}: unreadable sidecar ({type(error).__name__}: {error}); its clips will be recomputed"
        owner, mine = info.get("store_id"), manifest.get("store_id")
        if owner and mine and owner != mine:
            return None, (f"{shard}: belongs to another store (store id {str(owner)[:12]}, this one is {mine[:12]}): "
                          "copied in? Its vectors are another store's sounds; its clips will be recomputed")
        try:
            data = shard.read_bytes()
        except OSError:
            return None, f"{shard}: missing (its sidecar exists); its clips will be recomputed"
        if sha256_bytes(data) != expected:
            return None, f"{shard}: checksum mismatch (damaged or half-written); its clips will be recomputed"
        _check_dims(shard, data, manifest)
        return data, None

    def _quarantine(self, sidecar: Path) -> None:
        """Move a bad shard and its sidecar to corrupt/ (kept for inspection, never read).

        Best effort: a reader without write access (a store on read-only
        media) still skips the shard, it just cannot move it."""
        bad = self.root / "corrupt"
        try:
            bad.mkdir(exist_ok=True)
            for path in (sidecar, sidecar.with_suffix(".safetensors")):
                if path.exists():
                    os.replace(path, bad / path.name)
        except OSError:
            pass

    def audio_hashes(self) -> dict[str, str]:
        """{clip id: sha256 of its audio file} as precompute recorded them in the shards' sidecars
        (stores made before that record none: `audio_hashes.content_hashes` hashes the files)."""
        out: dict[str, str] = {}
        for sidecar in self.sidecars():
            try:
                info = json.loads(sidecar.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            hashes = info.get("audio_sha256") if isinstance(info, dict) else None
            if isinstance(hashes, list) and len(hashes) == len(info.get("clip_ids", [])):
                out.update({str(c): h for c, h in zip(info["clip_ids"], hashes) if isinstance(h, str)})
        return out

    def leftovers(self) -> list[Path]:
        """Files a killed run can leave behind: temp files, and shards whose sidecar never came.

        Never read as data (a shard counts only through its sidecar); safe to
        delete once no precompute is running on the store."""
        found = [p for p in self.root.glob(".*.tmp")]
        if self.shard_dir.is_dir():
            found += self.shard_dir.glob(".*.tmp")
            found += [p for p in self.shard_dir.glob("shard-*.safetensors") if not p.with_suffix(".json").exists()]
        return sorted(found)

    def load(self) -> EmbeddingSet:
        """All finished clips in dataset order, with their captions' vectors.

        Every shard is checked against its sha256 as it is read; a damaged one
        is skipped with a warning (and quarantined), never read as data."""
        manifest = self.manifest()
        audio_rows: dict[str, np.ndarray] = {}
        caption_rows: dict[str, list[tuple[str, np.ndarray]]] = {}
        for _, ids, captions, arrays in self.intact_shards():
            for i, clip_id in enumerate(ids):
                if clip_id in audio_rows:  # the same clip written twice (two writers): first wins
                    continue
                audio_rows[clip_id] = arrays["audio"][i]
                rows = np.flatnonzero(arrays["text_clip"] == i)
                caption_rows[clip_id] = [(captions[j], arrays["text"][j]) for j in rows]
        return self._assemble(manifest, audio_rows, caption_rows)

    def _assemble(self, manifest, audio_rows, caption_rows) -> EmbeddingSet:
        table = self.clips()
        table = table[table["clip_id"].isin(audio_rows.keys())].reset_index(drop=True)
        da, dt = manifest["audio_dim"], manifest["text_dim"]
        audio = np.stack([audio_rows[c] for c in table["clip_id"]]) if len(table) else np.zeros((0, da), np.float32)
        texts, text_clip, captions = [], [], []
        for row, clip_id in enumerate(table["clip_id"]):
            for caption, vector in caption_rows[clip_id]:
                texts.append(vector)
                text_clip.append(row)
                captions.append(caption)
        labels = table["label"].astype(str).tolist() if "label" in table.columns else None
        return EmbeddingSet(
            audio=audio,
            text=np.stack(texts) if texts else np.zeros((0, dt), np.float32),
            text_clip=np.asarray(text_clip, dtype=np.int64),
            clip_ids=table["clip_id"].astype(str).tolist(),
            audio_paths=table["audio_path"].astype(str).tolist(),
            captions=captions,
            labels=labels,
            meta=manifest,
        )

    def status(self) -> dict:
        """Counts a user wants to see: how many clips done, missing, failed."""
        table = self.clips() if (self.root / "clips.parquet").is_file() else pd.DataFrame({"clip_id": []})
        done = self.done_clip_ids() & set(table["clip_id"])
        failed = self.failed()
        return {
            "clips": len(table),
            "done": len(done),
            "failed": len(failed),
            "missing": len(table) - len(done) - len(set(failed) - done),
            "shards": len(self.sidecars()),
        }


class Shard(NamedTuple):
    """One intact shard as read: its sidecar, its clips, their captions, and the arrays
    (audio, text, text_clip; a folder index's one-clip shards also windows)."""

    sidecar: Path
    clip_ids: list[str]
    captions: list[str]
    arrays: dict[str, np.ndarray]


def _safetensors_header(data: bytes) -> dict:
    header_len = int.from_bytes(data[:8], "little")
    return json.loads(data[8 : 8 + header_len])


def _safetensors_metadata(data: bytes) -> dict:
    """The JSON header's __metadata__ (safetensors.numpy.load drops it)."""
    return _safetensors_header(data).get("__metadata__", {})


# which manifest width each array of a shard must have (a folder index's windows are audio vectors)
_WIDTHS = {"audio": "audio_dim", "windows": "audio_dim", "text": "text_dim"}


def _check_dims(shard: Path, data: bytes, manifest: dict) -> None:
    """Refuse a shard whose vectors are not as wide as the manifest says, naming the file: read as
    they are, 527-d logits would pass for 384-d pooled vectors (a manifest deleted and remade) or
    one shard would break `np.stack` with no file named."""
    try:
        shapes = {k: v["shape"] for k, v in _safetensors_header(data).items() if k in _WIDTHS}
    except (ValueError, TypeError, KeyError, RecursionError):
        shapes = {}
    for key, shape in shapes.items():
        want = manifest[_WIDTHS[key]]
        if len(shape) != 2 or shape[1] != want:
            encoder = manifest["audio_encoder" if _WIDTHS[key] == "audio_dim" else "text_encoder"]["name"]
            raise StoreMismatch(
                f"{shard}: {key} vectors of shape {tuple(shape)}, but the store's manifest says {want}-d "
                f"({encoder}): made by another encoder or output, or the manifest was edited. Move that shard "
                "out (or restore the manifest), or compute this store anew in another --out")


def _checked_manifest(manifest, path: Path) -> dict:
    """The manifest if its fields have the types the store relies on, else a ValueError naming them."""
    if not isinstance(manifest, dict):
        raise ValueError(f"{path}: not a store manifest (a JSON object is expected); restore it or compute the store anew")
    problems = [f"{k} must be a positive whole number (got {manifest.get(k)!r})" for k in ("audio_dim", "text_dim")
                if type(manifest.get(k)) is not int or manifest[k] < 1]
    problems += [f"{k} must be an object with a name (got {str(manifest.get(k))[:60]!r})"
                 for k in ("audio_encoder", "text_encoder")
                 if not (isinstance(manifest.get(k), dict) and isinstance(manifest[k].get("name"), str))]
    if problems:
        raise ValueError(f"{path}: damaged or edited manifest: {'; '.join(problems)}. Restore it, or compute the "
                         "store anew in another --out")
    return manifest


def describe_key(manifest: dict) -> str:
    audio, text = manifest["audio_encoder"], manifest["text_encoder"]
    return (f"audio encoder {audio['name']} (weights {audio['weights_sha256'][:12]}) and "
            f"text encoder {text['name']} (weights {text['weights_sha256'][:12]})")


def fingerprint(store_dir) -> str:
    """What a store's vectors depend on: its encoders and the checksum of every shard. The one key
    for whatever is derived from a store (packed arrays, the FAISS index, the app's cached
    searchers and joint-space layouts): it changes when a shard is added, replaced or removed."""
    store = Store(store_dir)
    shards = [[s.name, json.loads(s.read_text(encoding="utf-8")).get("sha256")] for s in store.sidecars()]
    blob = json.dumps({"store": Store.key_of(store.manifest()), "shards": shards})
    return hashlib.sha256(blob.encode()).hexdigest()


DEFAULT_CACHE = Path.home() / ".cache" / "clapdemo"  # the app's and the CLI's cache when CLAPDEMO_CACHE is unset


def default_cache() -> Path:
    """Where stores, runs and layouts are cached: $CLAPDEMO_CACHE, else ~/.cache/clapdemo (the app's
    Settings and `benchmark` share it, so a dataset embedded by one is found by the other)."""
    return Path(os.environ.get("CLAPDEMO_CACHE") or DEFAULT_CACHE)


def cache_store_dir(cache, kind: str, split: str, audio_encoder: str, text_encoder: str, data_root=None) -> Path:
    """Where a cache keeps the store of (dataset kind, split, encoder names, data root): one folder
    each, so the app finds a split's store again after a restart. The data root enters as a short
    hash, so two folders of the same kind never share a store."""
    root = str(Path(data_root).resolve()) if data_root else ""
    tag = hashlib.sha256(root.encode()).hexdigest()[:8]
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{kind}-{split}-{audio_encoder}-{text_encoder}-{tag}").strip("_")
    return Path(cache) / "stores" / name


def open_store(path, memmap: bool = False, dtype: str = "float32") -> EmbeddingSet:
    """The one way to open a store: its EmbeddingSet, with a folder index's per-window vectors when
    it has them (what search ranks long files by).

    memmap=False (the default): every vector in RAM, read shard by shard, each checked against its
    sha256 (`Store.load`). memmap=True: for stores bigger than RAM, the vectors stay on disk in
    STORE/packed (memory-mapped, read-only; packed once per store state, `packed.pack`).
    dtype: "float32", or "float16" to halve the pack (float16 implies memmap; the CLI's --float16).
    """
    store = Store(path)
    if memmap or dtype != "float32":
        from clapdemo.stores import packed

        embeddings = _read_pack(packed.pack(store, fingerprint(path), dtype), store)  # checks dtype
    else:
        embeddings = store.load()
    return attach_windows(embeddings, store)


def _read_pack(folder: Path, store: Store) -> EmbeddingSet:
    """The EmbeddingSet of a pack written by `packed.pack`: vectors memory-mapped, read-only."""
    rows, table = pd.read_parquet(folder / "rows.parquet"), pd.read_parquet(folder / "clips.parquet")
    return EmbeddingSet(
        audio=np.load(folder / "audio.npy", mmap_mode="r", allow_pickle=False),
        text=np.load(folder / "text.npy", mmap_mode="r", allow_pickle=False),
        text_clip=rows["text_clip"].to_numpy(np.int64),
        clip_ids=table["clip_id"].astype(str).tolist(),
        audio_paths=table["audio_path"].astype(str).tolist(),
        captions=rows["caption"].astype(str).tolist(),
        labels=table["label"].astype(str).tolist() if "label" in table.columns else None,
        meta=store.manifest(),
    )


def attach_windows(embeddings: EmbeddingSet, store: Store) -> EmbeddingSet:
    """`embeddings` (of `store`) with the per-window arrays of every shard (checksummed) aligned with
    its clips; as it is when the store keeps no windows (only a folder index does)."""
    if "windows" not in embeddings.meta or embeddings.n_clips == 0:
        return embeddings
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
