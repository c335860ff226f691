"""Long files: the fixed window policy, embedding a whole file, and the best window per file.

Policy (deterministic, no random segments):
- a file no longer than `window` seconds is one window from 0, zero-padded at
  the end to the encoder's length (as `audio.load_clip` does);
- a longer file is cut into windows of `window` seconds starting every `hop`
  seconds (0, hop, 2*hop, ...); when the last one stops short of the end, one
  more window is placed flush with the end, so every second is heard;
- each window is embedded alone; the file's vector is the mean of its windows'
  raw encoder vectors; the windows are kept (the store's shards hold them) so
  a search can say *where* in a file a sound is.
Defaults: window = the encoder's own clip length (10 s for EfficientAT), hop = 5 s
(every moment lies in two windows, so a 5 s event always fits whole in one).
"""

from __future__ import annotations

import numpy as np

from clapdemo.audio import audio_info, fit_length, load_audio

HOP_SECONDS = 5.0
WHOLE_FILE_SECONDS = 1200.0  # files up to 20 min are decoded once; longer ones window by window


def window_starts(duration: float, window: float, hop: float) -> list[float]:
    """Start times (seconds) of the windows that cover a file of `duration` seconds."""
    if hop <= 0 or window <= 0:
        raise ValueError(f"window ({window}) and hop ({hop}) must be positive seconds")
    if duration <= window:
        return [0.0]
    last = duration - window
    starts = [round(i * hop, 3) for i in range(int(np.floor(last / hop + 1e-9)) + 1)]
    if starts[-1] < last - 1e-3:
        starts.append(round(last, 3))
    return starts


def embed_file(path, encoder, window: float | None = None, hop: float = HOP_SECONDS,
               batch_size: int = 16) -> tuple[np.ndarray, np.ndarray, float]:
    """(window vectors (w, dim), window starts (w,), duration) of one file.

    Raises `AudioError` (naming the file) when it cannot be decoded."""
    window = float(window or encoder.clip_seconds)
    rate, n = encoder.sample_rate, int(round(encoder.clip_seconds * encoder.sample_rate))
    duration = audio_info(path)[0]
    starts = window_starts(duration, window, hop)
    if duration <= WHOLE_FILE_SECONDS:
        wave = load_audio(path, rate)
        duration = len(wave) / rate  # the decoded length is the truth (headers can be off)
        starts = window_starts(duration, window, hop)
        cut = lambda s: wave[int(round(s * rate)): int(round((s + window) * rate))]  # noqa: E731
    else:
        cut = lambda s: load_audio(path, rate, window, offset=s)  # noqa: E731
    vectors = []
    for i in range(0, len(starts), batch_size):
        batch = np.stack([fit_length(cut(s), n) for s in starts[i: i + batch_size]])
        vectors.append(encoder.embed(batch))
    return np.concatenate(vectors).astype(np.float32), np.asarray(starts, np.float32), float(duration)


def best_window_per_clip(window_scores: np.ndarray, window_clip: np.ndarray, n_clips: int) -> tuple[np.ndarray, np.ndarray]:
    """(each clip's best window score (n_clips,), the index of that window (n_clips,)).

    A clip scores as its best window: a dog barking for 5 s in a 10-minute
    recording is found, where the mean over the file would drown it."""
    order = np.lexsort((-window_scores, window_clip))  # by clip, best window first
    first = np.ones(len(order), bool)
    first[1:] = window_clip[order][1:] != window_clip[order][:-1]
    best = np.full(n_clips, -1, np.int64)
    best[window_clip[order][first]] = order[first]
    scores = np.full(n_clips, -np.inf, np.float32)
    has = best >= 0
    scores[has] = window_scores[best[has]]
    return scores, best


def format_time(seconds: float) -> str:
    """00:41, or 1:02:03 past an hour."""
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def format_span(start: float | None, end: float | None) -> str:
    """'00:41-00:51' (empty when the hit has no span: a store without windows)."""
    return "" if start is None or end is None else f"{format_time(start)}-{format_time(end)}"
