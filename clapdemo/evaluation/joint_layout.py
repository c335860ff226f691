"""The joint-space picture: a 2-D UMAP layout of a store's projected clips and captions, cached.

`plan_layout(searcher, run, store)` picks the points (every clip, or a seeded sample of
`MAX_CLIPS` above that, with the distinct captions of those clips) and the cache file,
STORE/umap/<key>.npy, keyed by the projection file's sha256, the store's `fingerprint` and
the number of clips. UMAP takes ~30 s the first time in a process (numba compiles), so a
caller computes once (`compute`, which saves the coordinates atomically) and reads the
cache afterwards (`load`); `figure` draws it with `plots.joint_space`. The CLI's
`joint-space` command and the app's Joint space tab both come here.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from clapdemo.evaluation import plots

MAX_CLIPS = 2000  # a seeded sample of clips above this, so the layout stays quick
# What the layout draws, part of its cache key: "centred" subtracts each modality's mean first.
# Projected audio and text sit in two separate regions of the joint space (the modality gap of
# contrastive models), so drawn as they are, the captions form one clump away from their clips;
# centred, each point keeps only its direction from its own modality's mean, which is what tells
# one class from another, and a caption lands by its clips (tests/test_visitor_ux.py measures it).
LAYOUT_KIND = "centred-v1"
CENTRED_NOTE = ("Each modality is centred before the layout (its mean subtracted): audio and text otherwise sit "
                "in two separate regions of the joint space (the *modality gap* of contrastive models), and the "
                "captions would form one clump away from their clips. Centred, a caption lands by its clips; "
                "search and Evaluate use the vectors as they are (their cosines rank the same way within a modality).")


@dataclass
class JointLayout:
    """The points of one (projection, store) layout and where their coordinates are cached."""

    searcher: object  # clapdemo.search.searcher.Searcher
    rows: np.ndarray  # the store's clip rows drawn
    used: list[int]  # rows of searcher.pool_captions drawn: the captions of those clips
    cache: Path
    centred: bool = True  # each modality minus its own mean (LAYOUT_KIND); False: the raw vectors

    @property
    def points(self) -> np.ndarray:
        """Projected audio of the drawn clips, then the text vectors of their captions; each modality
        centred on its own mean and re-normalised (unless `centred` is False)."""
        audio, text = self.searcher.audio[self.rows], self.searcher.pool_text[self.used]
        if self.centred:
            audio, text = centre(audio), centre(text)
        return np.concatenate([audio, text])

    def cached(self) -> bool:
        return self.cache.is_file()

    def compute(self) -> np.ndarray:
        """Run UMAP on the points and save the (N, 2) coordinates to the cache."""
        from clapdemo.files import atomic_write

        xy = plots.umap_2d(self.points)
        buffer = io.BytesIO()
        np.save(buffer, xy)
        atomic_write(self.cache, buffer.getvalue())
        return xy

    def load(self) -> np.ndarray:
        """The cached coordinates, computing them first if there are none."""
        return np.load(self.cache, allow_pickle=False) if self.cached() else self.compute()

    def figure(self, xy: np.ndarray, color_by: str = "modality", pair_lines: bool = False):
        """The plotly figure of the layout: colour by modality or by class (stores with labels),
        optionally a line from each clip to its first caption."""
        emb, captions = self.searcher.embeddings, list(self.searcher.pool_captions)
        index = {c: i for i, c in enumerate(captions)}
        audio_xy, text_xy = xy[: len(self.rows)], xy[len(self.rows):]
        text_pos = {c: i for i, c in enumerate(self.used)}
        first = {}
        for j, clip in enumerate(emb.text_clip):
            first.setdefault(int(clip), index[emb.captions[j]])
        row_pos = {int(r): i for i, r in enumerate(self.rows)}
        pairs = [(row_pos[c], text_pos[t]) for c, t in first.items() if c in row_pos] if pair_lines else None
        labels = [emb.labels[r] for r in self.rows] if emb.labels else None
        text_labels = None
        if labels:
            label_of = {}
            for j, clip in enumerate(emb.text_clip):
                label_of.setdefault(index[emb.captions[j]], emb.labels[int(clip)])
            text_labels = [label_of.get(t, "") for t in self.used]
        return plots.joint_space(
            audio_xy, text_xy,
            audio_hover=[Path(emb.audio_paths[r]).name + (f" ({emb.labels[r]})" if emb.labels else "")
                         for r in self.rows],
            text_hover=[captions[t] for t in self.used], audio_class=labels, text_class=text_labels,
            pairs=pairs, color_by="class" if (color_by == "class" and labels) else "modality",
            title=f"Joint space: {len(self.rows)} clips, {len(self.used)} captions (UMAP, cosine"
                  + (", each modality centred)" if self.centred else ")"))


def centre(vectors: np.ndarray) -> np.ndarray:
    """Rows minus their mean, L2-normalised again (a row equal to the mean stays zero)."""
    shifted = np.asarray(vectors, dtype=np.float32) - np.asarray(vectors, dtype=np.float32).mean(axis=0)
    return shifted / np.maximum(np.linalg.norm(shifted, axis=1, keepdims=True), 1e-12)


def plan_layout(searcher, run, store, max_clips: int = MAX_CLIPS, centred: bool = True) -> JointLayout:
    """The layout of `searcher` (the projection at `run` over the store at `store`): which clips and
    captions it draws, and its cache file below the store (keyed by projection, store, clips drawn and
    LAYOUT_KIND, so a layout drawn another way is never reused). `centred=False` draws the raw
    vectors (a comparison; its cache file is another)."""
    import hashlib

    from clapdemo.training.model import projection_file
    from clapdemo.stores.store import fingerprint
    from clapdemo.encoders.weights import sha256_file

    emb = searcher.embeddings
    rows = np.arange(emb.n_clips)
    if len(rows) > max_clips:
        rows = np.sort(np.random.default_rng(0).choice(rows, max_clips, replace=False))
    index = {c: i for i, c in enumerate(searcher.pool_captions)}
    used = sorted({index[emb.captions[j]] for j in np.flatnonzero(np.isin(emb.text_clip, rows))})
    kind = LAYOUT_KIND if centred else "raw"
    key = hashlib.sha256(repr((sha256_file(projection_file(run)), fingerprint(store), len(rows), kind)).encode())
    return JointLayout(searcher, rows, used, Path(store) / "umap" / f"{key.hexdigest()[:16]}.npy", centred)
