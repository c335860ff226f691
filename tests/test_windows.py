"""The window policy and best-window scoring (pure functions, no models)."""

from __future__ import annotations

import numpy as np

from clapdemo.encoders.windows import best_window_per_clip, format_span, window_starts


def test_every_second_lies_in_a_window():
    for duration in (0.3, 9.9, 10.0, 14.2, 61.0, 3600.5):
        starts = window_starts(duration, 10.0, 5.0)
        assert starts[0] == 0.0 and min(starts[-1] + 10.0, duration) >= duration - 1e-6
        assert all(b - a <= 5.0 + 1e-9 for a, b in zip(starts, starts[1:]))


def test_best_window_per_clip():
    scores = np.array([0.1, 0.9, 0.3, 0.5, 0.2], np.float32)
    clip = np.array([0, 0, 0, 2, 2])
    best_scores, best = best_window_per_clip(scores, clip, 3)
    assert best.tolist() == [1, -1, 3]
    assert best_scores[0] == np.float32(0.9) and best_scores[2] == np.float32(0.5) and np.isneginf(best_scores[1])


def test_format_span():
    assert format_span(41, 51) == "00:41-00:51"
    assert format_span(3600, 3610) == "1:00:00-1:00:10"
    assert format_span(None, None) == ""
