"""Explicit, write-only export of a store to the course's pickle layout.

The course stores `[{"uniq_id", "audio_embedding", "text_embedding"}, ...]` in a
pickle. clapdemo writes that file on request for people who follow the course,
and never reads a pickle back (a pickle can run code when loaded).
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from clapdemo.files import atomic_write
from clapdemo.stores.store import open_store


def course_records(store) -> list[dict]:
    """One record per (clip, caption) pair, numpy float32 vectors, as the course's loader expects."""
    embeddings = open_store(store)
    return [
        {
            "uniq_id": embeddings.clip_ids[clip],
            "audio_embedding": np.asarray(embeddings.audio[clip], dtype=np.float32),
            "text_embedding": np.asarray(embeddings.text[row], dtype=np.float32),
            "caption": embeddings.captions[row],
        }
        for row, clip in enumerate(embeddings.text_clip)
    ]


def export_course_pickle(store, out) -> int:
    """Write the course pickle atomically (a full disk leaves no half file); returns the number of records."""
    records = course_records(store)
    atomic_write(out, pickle.dumps(records, protocol=pickle.HIGHEST_PROTOCOL))
    return len(records)
