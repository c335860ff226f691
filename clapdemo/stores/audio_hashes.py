"""The sha256 of clips' audio files: hashed once per file state (`audio_sha256`), as precompute recorded
them in a store (`attach_audio_hashes`), per clip (`content_hashes`) and per run (`recorded_hashes`)."""

from __future__ import annotations

import hashlib
import os
import stat
from functools import lru_cache

from clapdemo.stores.embedding_set import EmbeddingSet
from clapdemo.stores.store import Store


def audio_sha256(path) -> str | None:
    """sha256 of the audio file at `path`, or None where there is no such file (label pairs have
    none). Hashed once per process for each (path, size, mtime): precompute records it per clip
    (the shards' sidecars), and a run records its training clips' (train_clips.json) so that the
    same audio under another name still counts as trained on (`evaluation.evaluate.in_sample_mask`)."""
    try:
        st = os.stat(path)
    except (OSError, ValueError, TypeError):
        return None
    return _file_sha256(os.fspath(path), st.st_size, st.st_mtime_ns) if stat.S_ISREG(st.st_mode) else None


@lru_cache(maxsize=None)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str | None:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def content_hashes(embeddings: EmbeddingSet) -> list[str | None]:
    """The sha256 of each clip's audio file, in clip order (None where there is no file): what a run
    records of its training clips (train_clips.json "sha256"), so the same audio under another
    name still counts as trained on (`evaluation.evaluate.in_sample_mask`)."""
    recorded = embeddings.meta.get("audio_sha256") or {}  # from the shards' sidecars (`attach_audio_hashes`)
    return [recorded.get(c) or (audio_sha256(p) if p else None) for c, p in zip(embeddings.clip_ids, embeddings.audio_paths)]


def attach_audio_hashes(embeddings: EmbeddingSet, store_dir) -> EmbeddingSet:
    """`embeddings` with the audio sha256 its store recorded at precompute (`Store.audio_hashes`) in
    its meta, so `content_hashes` need not read the clips' files again; returns it."""
    recorded = Store(store_dir).audio_hashes()
    if recorded:
        embeddings.meta = dict(embeddings.meta, audio_sha256=recorded)
    return embeddings


def recorded_hashes(*sets: EmbeddingSet) -> list[str]:
    """Sorted distinct audio sha256 of the clips of `sets` (train_clips.json "sha256")."""
    return sorted({h for s in sets if s is not None for h in content_hashes(s) if h})
