"""Deterministic shards: which clips one of N processes embeds, and how far each shard is.

A clip belongs to shard `sha256(clip_id) mod N`: the same on every machine and
every Python run (Python's own `hash()` of a string is salted per process, so
it cannot be used). N processes - a Slurm array, several machines on a shared
disk - each pass `--shard I/N`, take the lock "shard-I-of-N" on the store
(`Store.lock(job=...)`) and fill the same store side by side.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pandas as pd


def shard_of(clip_id: str, n: int) -> int:
    """The shard (0..n-1) of one clip id: first 8 bytes of its sha256, modulo n."""
    digest = hashlib.sha256(str(clip_id).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % n


def shards_of(clip_ids, n: int) -> np.ndarray:
    """`shard_of` for many ids at once (an int array)."""
    return np.fromiter((shard_of(c, n) for c in clip_ids), dtype=np.int64, count=len(clip_ids))


def parse_shard(text: str) -> tuple[int, int]:
    """'I/N' -> (I, N), with an error that says what a valid value looks like."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text or "")
    if not match:
        raise ValueError(f"--shard {text!r}: expected I/N, e.g. 0/4 for the first of four processes")
    index, count = int(match[1]), int(match[2])
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"--shard {text!r}: I must be in 0..N-1 (e.g. 0/4 .. 3/4)")
    return index, count


def job_name(index: int, count: int) -> str:
    """The store lock a shard process holds: different shards run at once, the same one twice is refused."""
    return f"shard-{index}-of-{count}"


def select_shard(index: int, count: int):
    """A `select` callable for `precompute`: the rows of the clip table in shard `index` of `count`."""

    def select(clips: pd.DataFrame) -> pd.DataFrame:
        return clips[shards_of(clips["clip_id"].astype(str).tolist(), count) == index].reset_index(drop=True)

    return select


def shard_count_of(store_root) -> int | None:
    """The N of the last sharded run on this store, read from its lock files (None if never sharded)."""
    counts = [int(m[1]) for p in Path(store_root, "locks").glob("shard-*-of-*.lock")
              if (m := re.fullmatch(r"shard-\d+-of-(\d+)\.lock", p.name))]
    return max(counts) if counts else None


def shard_status(store, count: int) -> list[dict]:
    """Per shard: clips, done, failed, missing - what `store status` prints for a sharded store."""
    table = store.clips()
    ids = table["clip_id"].astype(str).tolist()
    shard = shards_of(ids, count)
    done, failed = store.done_clip_ids(), set(store.failed())
    rows = []
    for index in range(count):
        mine = {c for c, s in zip(ids, shard) if s == index}
        n_done, n_failed = len(mine & done), len((mine & failed) - done)
        rows.append({"shard": f"{index}/{count}", "clips": len(mine), "done": n_done, "failed": n_failed,
                     "missing": len(mine) - n_done - n_failed})
    return rows
