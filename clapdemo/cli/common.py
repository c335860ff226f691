"""What several command groups share: flag types, the --memmap/--float16 flags, the metrics table."""

from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    """argparse type: a whole number >= 1 (0 or -1 would mean nothing, or drop clips silently)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be 1 or more")
    return value


def add_memmap_args(p) -> None:
    p.add_argument("--memmap", action="store_true",
                   help="read the vectors memory-mapped from STORE/packed (made once, redone when the store "
                   "changes): for stores bigger than RAM")
    p.add_argument("--float16", action="store_true", help="like --memmap, with the pack in float16 (half the size)")


def print_metrics(metrics: dict) -> None:
    from clapdemo.evaluation.evaluate import metrics_table

    if metrics:
        print(metrics_table(metrics).to_string(index=False))
