"""What belongs to one browser session, and how a reloaded page gets it back.

A `Session` (held by `gr.State`, so never shared between users) keeps the active store and
projection and the session's jobs (`clapdemo.app.jobs`: precompute, training, the UMAP
layout, each with its own Stop flag). `SessionRegistry` maps a random key the browser keeps
to its session, so a reload finds its running jobs again.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field


@dataclass
class Session:
    """What one browser session owns. Created per session by gr.State (so it is never shared).

    store_dir:  the store Search, Evaluate, Train and the joint space use (None before any precompute).
    projection: the projection Search, Upload, Evaluate and the joint space use.
    last_run:   the run this session trained last (it can become the active projection).
    jobs:       "precompute" / "train" / "umap" -> Job (each with its own Stop flag).
    opened:     page load's setup is done (`AppCore.init_session`; a first click may come before
                page load has finished, and then does the same setup first, `AppCore.ensure_open`).
    """

    id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    store_dir: str | None = None
    projection: str | None = None
    projection_why: str = ""
    last_run: str | None = None
    jobs: dict = field(default_factory=dict)
    opened: bool = False  # no lock here: gr.State deep-copies a new session, and a lock cannot be copied


def new_session() -> Session:
    """gr.State's factory: called once per page load (then `SessionRegistry.attach` may swap it)."""
    return Session()


class SessionRegistry:
    """Sessions by a random key the browser keeps (gr.BrowserState: its local storage), so a
    reloaded page gets its session back, with its running jobs, store and projection; a reload
    no longer loses a training run. The key is 128 random bits, never shown; another browser
    has another key and so its own session. The least recently seen sessions beyond `limit` are
    forgotten (their files stay in the cache; past runs are listed in the Train tab)."""

    def __init__(self, limit: int = 256):
        self.limit = limit
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()

    def attach(self, session: Session, key: str | None) -> tuple[Session, str]:
        """(the browser's session, its key): the one kept under `key`, else `session` under a new key."""
        with self._lock:
            if key and key in self._sessions:
                self._sessions.move_to_end(key)
                return self._sessions[key], key
            key = uuid.uuid4().hex
            self._sessions[key] = session
            while len(self._sessions) > self.limit:
                self._sessions.popitem(last=False)
            return session, key
