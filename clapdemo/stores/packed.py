"""Bigger than RAM: the store's vectors packed into two .npy files that are read memory-mapped.

A store's shards are many small safetensors files, read into memory by
`store.open_store`. For millions of clips, `pack` copies them once, shard by shard,
into STORE/packed/audio.npy and text.npy (rows in dataset order, float32 or
float16 on request: half the disk and page cache), and `store.open_store(...,
memmap=True)` reads them as an EmbeddingSet whose arrays are `np.memmap`s: the OS pages in only the rows that
are touched. The pack is keyed like the store (encoders + every shard's
checksum), so a store that changed is packed again, never read stale. Packing
needs memory for one shard at a time, plus the caption table.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from clapdemo import logs
from clapdemo.files import atomic_write

log = logs.get(__name__)


DTYPES = ("float32", "float16")


def pack(store, key: str, dtype: str = "float32") -> Path:
    """Write STORE/packed/ (audio.npy, text.npy, rows.parquet, clips.parquet, meta.json) unless current.

    store: the `clapdemo.stores.store.Store` (this module reads it through its methods and imports nothing
    of clapdemo.stores.store, which opens packs with `open_store(..., memmap=True)`); key: its
    `store.fingerprint`, what the pack is kept current against.

    A store the user may not write to (read-only mount, another user's files) is packed into the
    user cache instead (`cache_pack_dir`), keyed the same way: reading a store never needs to write
    into it (`search --memmap` on a read-only store ended with a bare "[Errno 30]")."""
    if dtype not in DTYPES:
        raise ValueError(f"dtype {dtype!r}: use float32, or float16 to halve the size")
    folder = Path(store.root) / "packed"
    if _current(folder, key, dtype):
        return folder
    try:
        return _pack_into(store, folder, key, dtype)
    except OSError as error:
        if error.errno not in (errno.EROFS, errno.EACCES, errno.EPERM):
            raise
        other = cache_pack_dir(key, dtype)
        log.info("%s is read-only (%s): packing its vectors into %s instead", store.root, error.strerror, other)
        if _current(other, key, dtype):
            return other
        other.mkdir(parents=True, exist_ok=True)
        return _pack_into(store, other, key, dtype)


def cache_pack_dir(key: str, dtype: str) -> Path:
    """Where the pack of a read-only store goes: $XDG_CACHE_HOME (or ~/.cache)/clapdemo/packed/<key>-<dtype>."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "clapdemo" / "packed" / f"{key[:16]}-{dtype}"


def _current(folder: Path, key: str, dtype: str) -> bool:
    meta_path = folder / "meta.json"
    return meta_path.is_file() and json.loads(meta_path.read_text()) == {"key": key, "dtype": dtype}


def _pack_into(store, folder: Path, key: str, dtype: str) -> Path:
    meta_path = folder / "meta.json"
    manifest = store.manifest()
    counts, captions = {}, {}
    for _, ids, caps, arrays in store.intact_shards():  # pass 1: which clips, how many captions each
        for i, clip_id in enumerate(ids):
            if clip_id not in counts:  # the same clip in two shards: the first wins, as in `load`
                counts[clip_id] = [caps[j] for j in np.flatnonzero(arrays["text_clip"] == i)]
    table = store.clips()
    table = table[table["clip_id"].isin(counts.keys())].reset_index(drop=True)
    clip_row = {c: i for i, c in enumerate(table["clip_id"])}
    first = np.cumsum([0] + [len(counts[c]) for c in table["clip_id"]])
    folder.mkdir(exist_ok=True)
    meta_path.unlink(missing_ok=True)  # from here on the pack is incomplete until meta.json is back
    audio = np.lib.format.open_memmap(folder / "audio.npy", "w+", dtype, (len(table), manifest["audio_dim"]))
    text = np.lib.format.open_memmap(folder / "text.npy", "w+", dtype, (int(first[-1]), manifest["text_dim"]))
    written = set()
    for _, ids, caps, arrays in store.intact_shards():  # pass 2: copy the rows into place
        for i, clip_id in enumerate(ids):
            if clip_id in written or clip_id not in clip_row:
                continue
            written.add(clip_id)
            row = clip_row[clip_id]
            audio[row] = arrays["audio"][i]
            text[first[row] : first[row + 1]] = arrays["text"][arrays["text_clip"] == i]
    audio.flush(), text.flush()
    rows = np.repeat(np.arange(len(table)), np.diff(first))
    captions = [c for clip_id in table["clip_id"] for c in counts[clip_id]]
    pd.DataFrame({"text_clip": rows, "caption": captions}).to_parquet(folder / "rows.parquet", index=False)
    table[[c for c in ("clip_id", "audio_path", "label") if c in table.columns]].to_parquet(folder / "clips.parquet",
                                                                                         index=False)
    atomic_write(meta_path, json.dumps({"key": key, "dtype": dtype}, indent=2).encode("utf-8"))
    return folder
