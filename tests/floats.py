"""Float comparison for encoder outputs: a tolerance relative to the size of each vector.

Logits reach ~10 and float32 sums land a few ulps apart on another CPU (summation
order, SIMD width, batch size): on an Intel Xeon one value of 21,080 moved by
1.14e-5, past an absolute 1e-5. The error of a matrix product scales with the
vector it comes from, so each row is compared within `rtol` of its largest |value|
(an element-wise rtol would be too strict for values near zero). A failure is a
few lines: how many values, and the worst one.
"""

from __future__ import annotations

import numpy as np


def assert_rows_close(got, expected, rtol: float = 1e-5, what: str = "values") -> None:
    """`got` equals `expected` within `rtol` x the largest |value| of each row (last axis)."""
    __tracebackhide__ = True  # a failure shows the caller's line and the message, not these arrays
    got, expected = np.asarray(got, np.float64), np.asarray(expected, np.float64)
    assert got.shape == expected.shape, f"{what}: shape {got.shape}, expected {expected.shape}"
    if expected.size == 0:
        return
    scale = np.abs(expected).max(axis=-1, keepdims=True) if expected.ndim else np.abs(expected)
    limit = rtol * scale
    excess = np.abs(got - expected) - limit
    if (excess > 0).any():
        worst = np.unravel_index(np.argmax(excess), excess.shape)
        diff = abs(got[worst] - expected[worst])
        raise AssertionError(
            f"{what}: {(excess > 0).sum()} of {excess.size} differ by more than {rtol:g} x their row's largest "
            f"|value|; worst at {tuple(int(i) for i in worst)}: {float(got[worst])!r} vs {float(expected[worst])!r} "
            f"(|diff| {diff:.3g}, allowed {np.broadcast_to(limit, excess.shape)[worst]:.3g})")
