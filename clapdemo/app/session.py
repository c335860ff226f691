"""What belongs to one browser session, and how a reloaded page gets it back.

A `Session` (held by `gr.State`, so never shared between users) keeps the active store and
projection and the session's jobs (`clapdemo.app.jobs`: precompute, training, the UMAP
layout, each with its own Stop flag). `SessionRegistry` maps a random key the browser keeps
to its session, so a reload finds its running jobs again.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable

KEY = re.compile(r"[0-9a-f]{32}")  # what `attach` hands out: anything else from a browser is not a key


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
    seen: float = field(default_factory=time.monotonic)  # last page load or click (`SessionRegistry` expiry)

    def busy(self) -> bool:
        """A job of this session is running (such a session is never evicted to make room)."""
        return any(job is not None and job.running for job in self.jobs.values())

    def stop_jobs(self) -> None:
        for job in self.jobs.values():
            job.stop.set()


def new_session() -> Session:
    """gr.State's factory: called once per page load (then `SessionRegistry.attach` may swap it)."""
    return Session()


class SessionRegistry:
    """Sessions by a random key the browser keeps (gr.BrowserState: its local storage), so a
    reloaded page gets its session back, with its running jobs, store and projection; a reload
    no longer loses a training run. The key is 128 random bits, never shown; another browser
    has another key and so its own session.

    A public Space gets requests from strangers, so what one client can do to the others is bounded:
    - a key that is not one `attach` handed out (not 32 hex characters: a dict, a guess) gets a new session;
    - one client (its address) keeps at most `per_client` sessions: its next new one replaces its own
      least recently seen idle session, so reloading 300 times rotates only the caller's own sessions;
    - beyond `limit` sessions in all, the least recently seen *idle* ones are forgotten; a session
      with a running job (a training) is never forgotten to make room;
    - a session not seen for `idle_seconds` (no page load, no click) expires: its jobs are told to stop
      and `on_expire(session)` runs (e.g. to delete its uploaded clips). Forgotten sessions go through
      `on_expire` too.
    A forgotten session's open page keeps what it holds in memory; only a reload starts afresh."""

    def __init__(self, limit: int = 256, per_client: int = 8, idle_seconds: float = 2 * 3600,
                 on_expire: Callable[[Session], None] | None = None, clock: Callable[[], float] = time.monotonic):
        self.limit, self.per_client, self.idle_seconds = limit, per_client, idle_seconds
        self.on_expire, self.clock = on_expire, clock
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._clients: dict[str, str] = {}  # key -> the client address that created it
        self._lock = threading.Lock()

    def attach(self, session: Session, key, client: str = "") -> tuple[Session, str]:
        """(the browser's session, its key): the one kept under `key`, else `session` under a new key.
        `client`: the caller's address (`client_address`), for the per-client cap."""
        gone: list[Session] = []
        with self._lock:
            now = self.clock()
            for old_key, old in list(self._sessions.items()):  # idle too long: expired, jobs stopped
                if now - old.seen > self.idle_seconds:
                    gone.append(self._forget(old_key))
            if isinstance(key, str) and KEY.fullmatch(key) and key in self._sessions:
                self._sessions.move_to_end(key)
                found = self._sessions[key]
                found.seen = now
                result = (found, key)
            else:
                mine = [k for k, c in self._clients.items() if c == client]
                if len(mine) >= self.per_client:
                    gone += self._evict(mine, len(mine) - self.per_client + 1)
                if len(self._sessions) >= self.limit:
                    gone += self._evict(list(self._sessions), len(self._sessions) - self.limit + 1)
                key = uuid.uuid4().hex
                session.seen = now
                self._sessions[key], self._clients[key] = session, client
                result = (session, key)
        for old in gone:  # outside the lock: on_expire may delete folders
            old.stop_jobs()
            if self.on_expire:
                self.on_expire(old)
        return result

    def touch(self, session: Session) -> None:
        """The session was used now (a click): it does not expire for another `idle_seconds`."""
        session.seen = self.clock()

    def __len__(self) -> int:
        return len(self._sessions)

    def _evict(self, keys: list[str], n: int) -> list[Session]:
        """Forget up to `n` of `keys`, least recently seen first, never one with a running job."""
        idle = [k for k in sorted(keys, key=lambda k: self._sessions[k].seen) if not self._sessions[k].busy()]
        return [self._forget(k) for k in idle[:max(n, 0)]]

    def _forget(self, key: str) -> Session:
        self._clients.pop(key, None)
        return self._sessions.pop(key)


def client_address(request) -> str:
    """Who is calling, for per-client caps: the first X-Forwarded-For address (a Space runs behind
    a proxy, so every visitor would otherwise share the proxy's address), else the peer's address."""
    if request is None:
        return ""
    forwarded = (getattr(request, "headers", None) or {}).get("x-forwarded-for", "")
    if forwarded.strip():
        return forwarded.split(",")[0].strip()
    client = getattr(request, "client", None)
    return getattr(client, "host", "") or ""
