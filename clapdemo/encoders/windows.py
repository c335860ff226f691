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

import math

import numpy as np

from clapdemo.data.audio import AudioError, fit_length, stream_audio

HOP_SECONDS = 5.0
MIN_HOP_SECONDS = 0.25  # a smaller hop multiplies the windows (and the time) per file
MAX_WINDOWS = 20_000  # per file: 27 h at the default hop; beyond, the file is refused, not embedded for hours
MAX_WINDOW_SECONDS = 3600.0


def check_window(window: float, hop: float) -> None:
    """Refuse window/hop settings that cannot work or would take hours (a crafted index manifest)."""
    if not (math.isfinite(window) and 0 < window <= MAX_WINDOW_SECONDS):
        raise ValueError(f"window {window} s: give a window between 0 and {MAX_WINDOW_SECONDS:g} seconds")
    if not (math.isfinite(hop) and hop >= MIN_HOP_SECONDS):
        raise ValueError(f"hop {hop} s: the hop must be at least {MIN_HOP_SECONDS:g} s (every window is one "
                         "forward of the encoder)")


def window_starts(duration: float, window: float, hop: float) -> list[float]:
    """Start times (seconds) of the windows that cover a file of `duration` seconds."""
    check_window(window, hop)
    if duration <= window:
        return [0.0]
    last = duration - window
    starts = [round(i * hop, 3) for i in range(int(np.floor(last / hop + 1e-9)) + 1)]
    if starts[-1] < last - 1e-3:
        starts.append(round(last, 3))
    return starts


class WindowCutter:
    """Cuts a stream of samples into the windows of `window_starts` as they arrive, keeping only
    what a window still to come needs (about one window and one block), never the whole file."""

    def __init__(self, rate: int, window: float, hop: float):
        check_window(window, hop)
        self.rate, self.window, self.hop = rate, window, hop
        self.buffer = np.zeros(0, np.float32)
        self.offset = 0  # the sample number of buffer[0]
        self.total = 0  # samples seen
        self.next = 0  # the next regular window: it starts at next * hop

    @property
    def duration(self) -> float:
        return self.total / self.rate

    def feed(self, block: np.ndarray) -> list[tuple[float, np.ndarray]]:
        """(start, samples) of each window the samples so far complete."""
        self.buffer = np.concatenate([self.buffer, block])
        self.total += len(block)
        done = []  # regular starts that window_starts will list whatever comes next (the duration only grows)
        while self.next <= np.floor((self.duration - self.window) / self.hop + 1e-9):
            done.append(self._cut(round(self.next * self.hop, 3)))
            self.next += 1
        keep = min(round(round(self.next * self.hop, 3) * self.rate), int((self.duration - self.window - 0.01) * self.rate))
        if keep > self.offset:  # the flush-with-the-end window starts no earlier than duration - window
            self.buffer, self.offset = self.buffer[keep - self.offset:], keep
        return done

    def finish(self) -> list[tuple[float, np.ndarray]]:
        """The windows left once the file has ended: the last regular ones and the one flush with the end."""
        return [self._cut(s) for s in window_starts(self.duration, self.window, self.hop)[self.next:]]

    def _cut(self, start: float) -> tuple[float, np.ndarray]:
        a, b = round(start * self.rate) - self.offset, round((start + self.window) * self.rate) - self.offset
        return start, self.buffer[a:b]


def embed_file(path, encoder, window: float | None = None, hop: float = HOP_SECONDS, batch_size: int = 16,
               max_seconds: float | None = None, seconds: float | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """(window vectors (w, dim), window starts (w,), duration) of one file.

    Decoded as a stream (audio.stream_audio): memory holds one block, one window and one batch of
    windows, whatever the file's length, rate or channels. Raises `AudioError` (naming the file) when
    it cannot be decoded, is longer than `max_seconds` (uploads) or needs more than MAX_WINDOWS.
    `seconds`: only the file's first `seconds` are read (an audio query's bound; the duration is theirs)."""
    window = float(window or encoder.clip_seconds)
    rate, n = encoder.sample_rate, int(round(encoder.clip_seconds * encoder.sample_rate))
    cutter = WindowCutter(rate, window, hop)
    vectors, starts, batch = [], [], []

    def embed(windows, last=False):
        for start, wave in windows:
            if len(starts) >= MAX_WINDOWS:
                raise AudioError(path, f"needs more than {MAX_WINDOWS} windows of {window:g} s every {hop:g} s; "
                                 "use a larger hop or split the file")
            starts.append(start)
            batch.append(fit_length(wave, n))
            if len(batch) == batch_size:
                vectors.append(encoder.embed(np.stack(batch)))
                batch.clear()
        if last and batch:
            vectors.append(encoder.embed(np.stack(batch)))

    for block in stream_audio(path, rate, seconds, max_seconds=max_seconds):
        embed(cutter.feed(block))
    embed(cutter.finish(), last=True)
    return np.concatenate(vectors).astype(np.float32), np.asarray(starts, np.float32), cutter.duration


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
