"""Approximate nearest neighbours for big stores: a FAISS index saved beside the store.

Below `min_clips()` (setting CLAPDEMO_ANN_MIN_CLIPS, default 100,000) search is
exact: one matrix-vector product is faster than any index and has no recall
loss. Above it, a FAISS IVF index over the projected, normalised audio vectors
answers in milliseconds. IVF was chosen by measurement (benchmarks/scale.py):
at 1M x 512 it meets p50 < 5 ms at recall@10 >= 0.95 on 2 cores and builds in
minutes, where HNSW takes far longer to build. The index is written in FAISS's
own format to STORE/index/, with a JSON sidecar holding its key: the store's
encoders, the checksums of every shard and the projection's weights. A store
that changed (new shards, a recomputed one) or another projection gives another
key, and the index is rebuilt instead of answering with stale rows.
`faiss` is imported only here, only when a store is big enough to need it.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from clapdemo import logs
from clapdemo.stores.store import atomic_write_json

log = logs.get(__name__)


def min_clips() -> int:
    """Store size from which search uses the FAISS index (CLAPDEMO_ANN_MIN_CLIPS)."""
    return int(os.environ.get("CLAPDEMO_ANN_MIN_CLIPS", "100000"))


def nprobe() -> int:
    """IVF lists scanned per query (CLAPDEMO_ANN_NPROBE): more is slower and closer to exact."""
    return int(os.environ.get("CLAPDEMO_ANN_NPROBE", "16"))  # 1M x 512: p50 2.3 ms, recall@10 0.996


def _faiss():
    try:
        import faiss
    except ImportError as error:
        raise ImportError("this store is big enough for a FAISS index, but faiss is not installed: "
                          "pip install -r requirements-scale.txt (or set CLAPDEMO_ANN_MIN_CLIPS higher "
                          "to search exactly)") from error
    return faiss


def build_ivf(vectors: np.ndarray, lists: int | None = None):
    """An IVF-Flat inner-product index over normalised `vectors` (cosine = inner product).

    About 2*sqrt(n) lists (2,000 at 1M), k-means trained on 40 vectors per
    list (FAISS's minimum without a warning): builds 1M x 512 in minutes on
    2 cores."""
    faiss = _faiss()
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, dim = vectors.shape
    lists = lists or max(1, min(n // 40, int(2 * np.sqrt(n))))
    index = faiss.index_factory(dim, f"IVF{lists},Flat", faiss.METRIC_INNER_PRODUCT)
    sample = vectors[np.random.default_rng(0).choice(n, min(n, 40 * lists), replace=False)]
    index.train(sample)
    for start in range(0, n, 100_000):  # in chunks: a memory-mapped store is never copied whole
        index.add(np.ascontiguousarray(vectors[start : start + 100_000], dtype=np.float32))
    return index


def search(index, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(scores, rows) of the k best per query; rows are -1 where fewer than k were found."""
    _faiss().extract_index_ivf(index).nprobe = nprobe()
    return index.search(np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32), k)


def index_key(store_dir, projection) -> str:
    """What the index depends on: the store's encoders, every shard's checksum, the projection's weights."""
    from clapdemo.stores.store import fingerprint

    weights = hashlib.sha256()
    for name, tensor in sorted(projection.state_dict().items()):
        weights.update(name.encode())
        weights.update(tensor.detach().cpu().numpy().tobytes())
    return hashlib.sha256(f"{fingerprint(store_dir)} {weights.hexdigest()}".encode()).hexdigest()


def open_index(store_dir, vectors: np.ndarray, key: str):
    """The saved index if its key matches, else a new one built from `vectors` and saved.

    Returns (index, rebuilt: bool)."""
    faiss = _faiss()
    folder = Path(store_dir) / "index"
    path, sidecar = folder / "audio-ivf.faiss", folder / "audio-ivf.json"
    if sidecar.is_file() and path.is_file():
        saved = json.loads(sidecar.read_text(encoding="utf-8"))
        if saved.get("key") == key and saved.get("rows") == len(vectors):
            return faiss.read_index(str(path)), False
    index = build_ivf(vectors)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".audio-ivf.{os.getpid()}.tmp"
        faiss.write_index(index, str(tmp))
        sidecar.unlink(missing_ok=True)  # never a sidecar naming one key beside an index of another
        os.replace(tmp, path)
        atomic_write_json(sidecar, {"key": key, "rows": len(vectors), "kind": "IVF,Flat (inner product)",
                                    "lists": int(faiss.extract_index_ivf(index).nlist)})
    except OSError as error:  # a read-only store: search with the index in memory, rebuilt next time
        log.warning("%s: cannot save the FAISS index (%s); using it unsaved", folder, error.strerror or error)
    return index, True


def describe(index) -> str:
    """How search runs, in words, for the CLI and the app."""
    if index is None:
        return "exact search (every clip scored)"
    ivf = _faiss().extract_index_ivf(index)
    return f"FAISS IVF index ({ivf.ntotal:,} clips, {ivf.nlist} lists, nprobe {nprobe()}; approximate)"


def index_for(store_dir, vectors: np.ndarray, projection):
    """The FAISS index a Searcher should use for this store, or None (exact) below `min_clips()`."""
    if store_dir is None or len(vectors) < min_clips():
        return None
    index, rebuilt = open_index(store_dir, vectors, index_key(store_dir, projection))
    if rebuilt:
        log.info("built a FAISS index for %s (%s clips); saved in %s", store_dir, f"{len(vectors):,}",
                 Path(store_dir) / "index")
    return index
