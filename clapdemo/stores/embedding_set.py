"""`EmbeddingSet`: the in-memory form of a store that training, evaluation and search use.

One row of `audio` per clip; one row of `text` per caption; `text_clip[j]` is
the row in `audio` that caption j belongs to (several captions may share a
clip, as in AudioCaps/Clotho; ESC-50 captions come from class names).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class EmbeddingSet:
    """Precomputed vectors of one split, aligned by index.

    audio:      (n_clips, audio_dim) float32, raw encoder output (not normalised)
    text:       (n_captions, text_dim) float32, raw encoder output
    text_clip:  (n_captions,) int64, index into `audio` rows
    clip_ids:   n_clips strings
    audio_paths: n_clips strings (absolute paths, for players and reports)
    captions:   n_captions strings
    labels:     n_clips class names, or None where the dataset has no classes
    meta:       the store's manifest (encoders, dataset, ...)
    windows:    (n_windows, audio_dim) float32 or None: per-window vectors of a folder
                index (long files, see windows.py); `window_clip` (n_windows,) row in
                `audio`, `window_start`/`window_end` (n_windows,) seconds in the file
    """

    audio: np.ndarray
    text: np.ndarray
    text_clip: np.ndarray
    clip_ids: list[str]
    audio_paths: list[str]
    captions: list[str]
    labels: list[str] | None = None
    meta: dict = field(default_factory=dict)
    windows: np.ndarray | None = None
    window_clip: np.ndarray | None = None
    window_start: np.ndarray | None = None
    window_end: np.ndarray | None = None

    def __post_init__(self):
        if len(self.audio) != len(self.clip_ids) or len(self.text) != len(self.text_clip):
            raise ValueError(
                f"EmbeddingSet: {len(self.audio)} audio rows vs {len(self.clip_ids)} clip ids, "
                f"{len(self.text)} text rows vs {len(self.text_clip)} caption->clip indices"
            )

    @property
    def n_clips(self) -> int:
        return len(self.audio)

    @property
    def n_captions(self) -> int:
        return len(self.text)

    def subset(self, clip_rows) -> "EmbeddingSet":
        """The clips at `clip_rows` with their captions (e.g. a fold split of ESC-50)."""
        clip_rows = np.asarray(clip_rows, dtype=np.int64)
        new_index = np.full(self.n_clips, -1, dtype=np.int64)
        new_index[clip_rows] = np.arange(len(clip_rows))
        keep = new_index[self.text_clip] >= 0
        return EmbeddingSet(
            audio=self.audio[clip_rows],
            text=self.text[keep],
            text_clip=new_index[self.text_clip[keep]],
            clip_ids=[self.clip_ids[i] for i in clip_rows],
            audio_paths=[self.audio_paths[i] for i in clip_rows],
            captions=[c for c, k in zip(self.captions, keep) if k],
            labels=None if self.labels is None else [self.labels[i] for i in clip_rows],
            meta=dict(self.meta),
        )
