"""Background jobs for the app: a long library call in a thread, watched by a generator.

Gradio handlers that precompute, train or lay out the UMAP start a `Job` and
then `watch` it, yielding fresh output every `interval` seconds, so the page
shows progress and the other tabs stay usable. Each browser session keeps its
own jobs in its `gr.State`; a job's `stop` event is what the Stop button sets
and what the library's `should_stop` / training callback reads.
"""

from __future__ import annotations

import threading
import time
import traceback
from typing import Any, Callable, Iterator


class Job:
    """One library call running in a daemon thread.

    target(job) does the work; it may set `job.progress` (done, total),
    `job.message`, append to `job.events` (e.g. EpochLogs) and should check
    `job.stop`. When it ends, `result` holds its return value or `error` the
    exception it raised (with `trace` for the log)."""

    def __init__(self, name: str, target: Callable[["Job"], Any]):
        self.name = name
        self.target = target
        self.stop = threading.Event()
        self.finished = threading.Event()
        self.progress: tuple[int, int] = (0, 0)
        self.message = ""
        self.events: list = []
        self.result: Any = None
        self.error: BaseException | None = None
        self.trace = ""
        self.started_at = 0.0
        self._thread = threading.Thread(target=self._run, name=f"clapdemo-{name}", daemon=True)

    def start(self) -> "Job":
        self.started_at = time.monotonic()
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            self.result = self.target(self)
        except BaseException as error:  # handed to the watcher, which shows it to the user
            self.error = error
            self.trace = traceback.format_exc()
        finally:
            self.finished.set()

    @property
    def running(self) -> bool:
        return self._thread.is_alive() and not self.finished.is_set()

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started_at if self.started_at else 0.0

    def wait(self, timeout: float | None = None) -> bool:
        return self.finished.wait(timeout)


def watch(job: Job, interval: float = 0.5, stop_on_close: bool = True) -> Iterator[Job]:
    """Yield `job` every `interval` seconds while it runs, then once more when it ends.

    Use inside a generator handler: `for _ in watch(job): yield render(job)`.
    If the handler's generator is closed early (the browser went away) and
    `stop_on_close`, the job is asked to stop."""
    try:
        while not job.wait(interval):
            yield job
        yield job
    except GeneratorExit:
        if stop_on_close:
            job.stop.set()
        raise


def is_running(job: Job | None) -> bool:
    return job is not None and job.running
