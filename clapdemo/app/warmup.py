"""Warm-up at start: the encoders, the sample store and its searcher load before the first click.

Without it the first click of the first visitor paid for everything (22-36 s on a busy 2-core
machine, issue 19 item 14). `build_app` starts one `WarmUp` in a daemon thread and returns at
once: importing `app.py` stays cheap (the thread imports torch and loads the models while Gradio
starts its server), and a daemon thread never holds the process open. The page shows
`WarmUp.line()` ("Warming up…", then "Ready") until it is done; a click that comes earlier waits
for the warm-up instead of loading the same encoders a second time (`AppCore.encoders`).
"""

from __future__ import annotations

import html
import logging
import threading
import time

import numpy as np

log = logging.getLogger("clapdemo.app")

WARM_QUERIES = ("dog barking", "rain", "a baby crying", "church bells ringing")
_ONE_AT_A_TIME = threading.Lock()  # two apps in one process (tests) warm up one after the other, the second from cache


class WarmUp:
    """Loads what a first click needs, once, in a background thread; says how far it got."""

    def __init__(self, core):
        self.core = core  # the AppCore whose encoders, store and searcher get loaded
        self.done = threading.Event()  # set when finished, failed or not
        self.step = "not started"
        self.error: Exception | None = None
        self.started: float | None = None
        self.seconds: float | None = None  # from start() to done
        self.thread: threading.Thread | None = None

    def start(self) -> "WarmUp":
        """Start the thread (once); returns at once."""
        if self.thread is None:
            self.started = time.monotonic()
            self.step = "starting"
            self.thread = threading.Thread(target=self._run, name="clapdemo-warm-up", daemon=True)
            self.thread.start()
        return self

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the warm-up has finished (True), or `timeout` seconds passed (False).
        A warm-up never started, or the warm-up thread itself, does not wait."""
        if self.thread is None or threading.current_thread() is self.thread:
            return True
        return self.done.wait(timeout)

    @property
    def ready(self) -> bool:
        return self.done.is_set() and self.error is None

    def _run(self) -> None:
        from clapdemo.app.session import Session

        try:
            with _ONE_AT_A_TIME:
                self.step = "loading the audio and text encoders"
                audio, _ = self.core.encoders()
                self.step = "opening the sample set's embeddings"
                session = Session()
                # page load's work (installs the shipped store into the cache), without `core.opening`: a
                # click holding that lock waits in `core.encoders()` for this thread, which must not wait back
                self.core.open_session(session)
                if self.core.store_problem(session) is None and self.core.compatibility_problem(session) is None:
                    self.step = "opening the search index"
                    searcher = self.core.searcher(session)
                    # torch's first forward passes are slow (MiniLM: ~0.5 s for each of the first three
                    # queries, then ~20 ms; measured here): a visitor's first click must not pay for them
                    self.step = "running the encoders a few times"
                    for query in WARM_QUERIES:
                        searcher.text_to_audio(query, 1)
                    silence = np.zeros(int(audio.sample_rate * audio.clip_seconds), np.float32)
                    for _ in range(2):
                        searcher.embed_audio(silence)
        except Exception as error:  # the header and the first click say what is wrong, as without a warm-up
            self.error = error
            log.exception("warm-up failed; the first click loads what it needs instead")
        finally:
            self.seconds = time.monotonic() - (self.started or time.monotonic())
            self.step = "done"
            self.done.set()
            if self.error is None:
                log.info("warm-up: ready %.1f s after the app was built", self.seconds)

    def line(self) -> str:
        """The page's status line (Markdown)."""
        if self.thread is None:
            return "Models load on the first click."
        if not self.done.is_set():
            return (f"⏳ **Warming up…** {self.step} ({time.monotonic() - self.started:.0f} s since start); "
                    "a click now waits until this is done.")
        if self.error is not None:
            return (f"⚠ **Warm-up failed** after {self.seconds:.0f} s ({type(self.error).__name__}: "
                    f"{html.escape(str(self.error))}); "
                    "each tab says what is missing when you use it.")
        return f"✅ **Ready** (models and the sample set loaded in {self.seconds:.1f} s after start)."
