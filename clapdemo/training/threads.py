"""Torch threads while training: the default count, and one process-wide setting that concurrent
`train` calls (two app sessions, each in its own thread) share without undoing each other's."""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager

import torch


def default_threads(threads: int | None, device: str) -> int | None:
    """`threads` as given, or the default: 1 on the CPU of a machine with <= 2 cores
    (TrainConfig.threads says why); None leaves torch's own setting."""
    if threads is not None:
        return threads
    if torch.device(device).type == "cpu" and (os.cpu_count() or 1) <= 2:
        return 1
    return None


class ThreadSetting:
    """torch offers no per-call thread setting: `torch.set_num_threads` sets the calling thread's
    OpenMP count and also the process-wide count every thread started later begins with (measured:
    torch 2.13, OpenMP build). Concurrent `train` calls (two app sessions, each in its own thread)
    would each save and restore that shared value, the last restore winning. Shared safely instead: the first call that needs `n` threads sets the count and
    remembers the caller's; calls wanting the same `n` join it; a call wanting another count
    waits until those have finished; the last one to leave restores the caller's count. So no
    call ever restores a count under another that still runs (the interleaving a plain
    set-and-restore would allow), and equal settings still train side by side."""

    def __init__(self):
        self._changed = threading.Condition()
        self._n: int | None = None
        self._users = 0
        self._before = 0

    @contextmanager
    def use(self, n: int | None):
        """Run the block with `n` torch threads (None: as they are)."""
        if n is None:
            yield
            return
        with self._changed:
            while self._users and self._n != n:
                self._changed.wait()
            if not self._users:
                self._n, self._before = n, torch.get_num_threads()
                if n != self._before:
                    torch.set_num_threads(n)
            self._users += 1
        try:
            yield
        finally:
            with self._changed:
                self._users -= 1
                if not self._users:
                    if torch.get_num_threads() != self._before:
                        torch.set_num_threads(self._before)
                    self._n = None
                    self._changed.notify_all()


TRAINING_THREADS = ThreadSetting()  # every `train` call in this process shares it
