"""Visitors' heavy work, bounded per request and in number: the slots (`audio_query_slot`,
`upload_index_slot`, `ServerBusy` when all are taken), QUERY_SECONDS and `audio_query`."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

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
