"""Warm-up at start: the encoders, the sample store and its searcher load before the first click.

Without it the first click of the first visitor paid for everything (22-36 s on a busy 2-core
machine, issue 19 item 14). `build_app` starts one `WarmUp` in a thread and returns at once:
importing `app.py` stays cheap (the thread imports torch and loads the models while Gradio starts
its server; `gradio app.py` finds `demo` at once). The thread is not a daemon: a process that
exits during the warm-up waits for it (torch aborts an interpreter finalising under a running
forward pass), which holds an exit for at most the warm-up's own seconds. The page shows
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


class _Exiting(Exception):
    """The process exits during the warm-up: it stops between steps."""


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
        self.timings: dict[str, float] = {}  # seconds per step, for the log and benchmarks
        self._since = 0.0

    def start(self) -> "WarmUp":
        """Start the thread (once); returns at once."""
        if self.thread is None:
            self.started = time.monotonic()
            self.step = "starting"
            # not a daemon: torch aborts the process ("terminate called without an active exception")
            # when the interpreter finalises under a thread still running it, so an exit during the
            # warm-up waits for it (seconds) instead
            self.thread = threading.Thread(target=self._run, name="clapdemo-warm-up", daemon=False)
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

    def _next(self, step: str) -> None:
        """Start `step`, recording how long the one before took (`timings`, seconds)."""
        if step != "done" and not threading.main_thread().is_alive():  # the process is exiting: stop here
            raise _Exiting
        now = time.monotonic()
        if self.step not in ("starting", "not started"):
            self.timings[self.step] = now - self._since
        self.step, self._since = step, now

    def _run(self) -> None:
        from clapdemo.app.session import Session

        searcher = audio = None
        try:
            with _ONE_AT_A_TIME:
                self._next("loading the audio and text encoders")
                audio, _ = self.core.encoders()
                self._next("opening the sample set's embeddings")
                session = Session()
                # page load's work (installs the shipped store into the cache), without `core.opening`: a
                # click holding that lock waits in `core.encoders()` for this thread, which must not wait back
                self.core.open_session(session)
                if self.core.store_problem(session) is None and self.core.compatibility_problem(session) is None:
                    self._next("opening the search index")
                    searcher = self.core.searcher(session)
                    # torch's first forward passes are slow (MiniLM: ~0.5 s for each of the first three
                    # queries, then ~20 ms; measured here): a visitor's first search must not pay for them
                    self._next("running the text encoder a few times")
                    for query in WARM_QUERIES:
                        searcher.text_to_audio(query, 1)
        except _Exiting:
            self.error = _Exiting("the app is exiting")
        except Exception as error:  # the header and the first click say what is wrong, as without a warm-up
            self.error = error
            if threading.main_thread().is_alive():
                log.exception("warm-up failed; the first click loads what it needs instead")
            else:  # an import during the interpreter's shutdown fails: nothing is wrong with the app
                log.info("warm-up cut short: the process is exiting")
        finally:
            self._next("done")
            self.seconds = time.monotonic() - (self.started or time.monotonic())
            self.done.set()
            if self.error is None:
                log.info("warm-up: ready %.1f s after the app was built (%s)", self.seconds,
                         ", ".join(f"{step} {s:.1f} s" for step, s in self.timings.items()))
        if searcher is not None and self.error is None:  # after Ready: the audio encoder's first passes too
            try:  # (an uploaded clip's first captions); nobody waits for this part
                silence = np.zeros(int(audio.sample_rate * audio.clip_seconds), np.float32)
                for _ in range(2):
                    searcher.embed_audio(silence)
            except Exception:
                log.exception("warm-up of the audio encoder failed; the first upload pays for it instead")

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
