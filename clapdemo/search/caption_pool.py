"""Captions people wrote, as a ready vocabulary to describe a clip with (issue 20).

A label-pair store (clapdemo.data.label_pairs) holds the AudioCaps train captions with their text
vectors. `build_caption_pool` keeps a compact subset: captions deduplicated, chosen so that every
AudioSet class their clips carry is represented (rarest classes first, seeded), text vectors as
int8 with one scale per row (cosine to the float32 vector >= 0.999). `assets/caption-pool` ships one
for MiniLM; the Upload panel and `with_caption_pool` add it to a searcher's candidates beside the
store's captions and AudioSet's label names.

    python -m clapdemo caption-pool --from stores/audiocaps-labels-train --out assets/caption-pool

Files: captions.txt (one per line, UTF-8), vectors.npy (int8, n x dim), scales.npy (float32, n),
manifest.json (text encoder identity, source, licence, selection). Nothing here is pickled.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from clapdemo import logs
from clapdemo.shipped import ASSETS

logger = logs.get(__name__)

SHIPPED_POOL = ASSETS / "caption-pool"
DEFAULT_SIZE = 4000
SOURCE = ("AudioCaps v1 train captions (C. D. Kim, B. Kim, H. Lee, G. Kim, \"AudioCaps: Generating Captions "
          "for Audios in The Wild\", NAACL 2019; github.com/cdjkim/audiocaps), released for research use")


def select_captions(captions: list[str], label_sets: list[np.ndarray], n: int, seed: int = 0) -> list[int]:
    """Row indices of at most `n` distinct captions (case and spaces ignored) covering the classes in
    `label_sets` (one array of class indices per caption): round by round, each class in order of
    rarity gives one caption not taken yet (seeded order), until `n` are chosen."""
    rng = np.random.default_rng(seed)
    seen, unique = set(), []
    for i in rng.permutation(len(captions)):
        key = " ".join(str(captions[i]).lower().split())
        if key and key not in seen:
            seen.add(key)
            unique.append(int(i))
    by_class: dict[int, list[int]] = {}
    for i in unique:
        for c in np.asarray(label_sets[i]).tolist():
            by_class.setdefault(int(c), []).append(i)
    order = sorted(by_class, key=lambda c: (len(by_class[c]), c))
    taken, chosen, cursor = set(), [], {c: 0 for c in order}
    while len(chosen) < min(n, len(unique)):
        progress = False
        for c in order:
            rows = by_class[c]
            while cursor[c] < len(rows) and rows[cursor[c]] in taken:
                cursor[c] += 1
            if cursor[c] < len(rows) and len(chosen) < n:
                taken.add(rows[cursor[c]])
                chosen.append(rows[cursor[c]])
                progress = True
        if not progress:
            break
    return sorted(chosen)


def quantise(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(int8 rows, float32 scale per row) of L2-normalised `vectors`: row ~= int8 * scale."""
    from clapdemo.evaluation.metrics import normalise

    unit = normalise(np.asarray(vectors, dtype=np.float32))
    scale = np.maximum(np.abs(unit).max(axis=1), 1e-12) / 127.0
    return np.round(unit / scale[:, None]).astype(np.int8), scale.astype(np.float32)


def build_caption_pool(label_store, out, n: int = DEFAULT_SIZE, seed: int = 0) -> dict:
    """Write the pool of `label_store` (a label-pair store folder) to `out`; returns its manifest."""
    from clapdemo.files import atomic_write
    from clapdemo.data.label_pairs import is_label_store
    from clapdemo.stores.store import open_store

    store = open_store(label_store)
    if not is_label_store(store.meta):
        raise ValueError(f"{label_store}: not a label-pair store (precompute --dataset audiocaps-labels makes one)")
    first = {}
    for j, clip in enumerate(store.text_clip):
        first.setdefault(int(clip), j)
    rows = sorted(first.values())
    captions = [str(store.captions[j]) for j in rows]
    audio = np.asarray(store.audio, dtype=np.float32)[[int(store.text_clip[j]) for j in rows]]
    label_sets = [np.flatnonzero(a > 0) for a in audio]  # label pairs: +1 for a clip's labels, -9 otherwise
    chosen = select_captions(captions, label_sets, n, seed)
    q, scale = quantise(np.asarray(store.text, dtype=np.float32)[[rows[i] for i in chosen]])
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    manifest = {"format": "clapdemo.caption-pool", "format_version": 1, "n_captions": len(chosen),
                "text_encoder": store.meta.get("text_encoder"), "text_dim": int(q.shape[1]),
                "source": SOURCE, "from_store": (store.meta.get("dataset") or {}),
                "selection": f"{len(chosen)} of {len(captions)} captions, deduplicated, every AudioSet class of "
                             f"their clips represented (rarest first, seed {seed})",
                "vectors": "int8 x per-row float32 scale of the unit text vectors"}
    text = "".join(" ".join(captions[i].split()) + "\n" for i in chosen)
    atomic_write(out / "captions.txt", text.encode("utf-8"))
    for name, array in (("vectors.npy", q), ("scales.npy", scale)):
        import io

        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        atomic_write(out / name, buffer.getvalue())
    atomic_write(out / "manifest.json", json.dumps(manifest, indent=1).encode("utf-8"))
    return manifest


@lru_cache(maxsize=4)
def load_caption_pool(path=SHIPPED_POOL) -> tuple[np.ndarray, np.ndarray, dict]:
    """(captions as an object array, unit float32 vectors, manifest) of a pool folder."""
    from clapdemo.evaluation.metrics import normalise

    path = Path(path)
    manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    captions = np.asarray((path / "captions.txt").read_text(encoding="utf-8").splitlines(), dtype=object)
    q = np.load(path / "vectors.npy", allow_pickle=False)
    scale = np.load(path / "scales.npy", allow_pickle=False)
    if not (len(captions) == len(q) == len(scale) == manifest.get("n_captions")):
        raise ValueError(f"{path}: captions, vectors and scales disagree in number; rebuild the pool "
                         "(python -m clapdemo caption-pool)")
    return captions, normalise(q.astype(np.float32) * scale[:, None]), manifest


def pool_problem(manifest: dict, text_encoder) -> str | None:
    """Why a pool cannot serve `text_encoder` (other weights or width), or None."""
    from clapdemo.encoders.identity import encoder_mismatch

    if manifest.get("text_dim") != text_encoder.dim:
        return f"the caption pool's vectors are {manifest.get('text_dim')} wide, the text encoder's {text_encoder.dim}"
    if not manifest.get("text_encoder"):
        return "the caption pool does not record its text encoder; rebuild it (python -m clapdemo caption-pool)"
    return encoder_mismatch(manifest["text_encoder"], text_encoder, "the caption pool", "the text encoder loaded now",
                            side="text_encoder")


def with_caption_pool(searcher, text_encoder, path=SHIPPED_POOL):
    """`searcher` with the pool's captions added to its candidates (those not already there); a shallow
    copy. Returned unchanged (and logged) when the pool is absent or made by another text encoder."""
    if not (Path(path) / "manifest.json").is_file():
        return searcher
    captions, vectors, manifest = load_caption_pool(Path(path))
    problem = pool_problem(manifest, text_encoder)
    if problem:
        logger.info("caption pool left out: %s", problem)
        return searcher
    return searcher.with_captions(captions, vectors)


def pool_captions(path=SHIPPED_POOL) -> set[str]:
    """The pool's captions (empty when there is none): to say where a candidate came from."""
    if not (Path(path) / "manifest.json").is_file():
        return set()
    return set(map(str, load_caption_pool(Path(path))[0]))
