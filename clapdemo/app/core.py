"""What every tab's handlers share: the encoders, the session's store and projection, the header.

`AppCore` is the base of each tab's handler class (`clapdemo.app.handlers.Handlers` joins
them). Every method calls the library; a user's mistake becomes a `gr.Error` that
`clapdemo.app.errors.on` shows in the tab's status line.
"""

from __future__ import annotations

import html
import logging
import os
import threading
from pathlib import Path

import gradio as gr

from clapdemo.app.jobs import is_running
from clapdemo.app.session import Session, SessionRegistry
from clapdemo.app.settings import Settings, below_roots
from clapdemo.app.warmup import WarmUp
from clapdemo.data.dataset import SPLITS
from clapdemo.data.sample_set import SAMPLE_ROOT, session_store

log = logging.getLogger("clapdemo.app")
MAX_TRAININGS = 2  # trainings at once across all visitors (each takes a core); the next is told to wait
NOT_A_STORE = ("`{text}`: not a store this app may use. Use one below the data folder, the app's shared stores "
               "or CLAPDEMO_LIBRARY_ROOTS, or one of this session's own.")


class AppCore:
    """The settings, the browser sessions, and what every tab asks about a session."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.expiry_hooks: list = []  # f(session) for each expired or forgotten session (e.g. delete its files)
        self.sessions = SessionRegistry(on_expire=self.session_expired)
        self.opening = threading.Lock()  # page load's setup, one session at a time (ms once the encoders are in)
        self.trainings: list = []  # every session's training Job (`start_training`: at most MAX_TRAININGS run)
        self.training_lock = threading.Lock()
        self.warm_up = WarmUp(self)  # started by build_app: encoders and sample store load before the first click
        self.setup_problem: str | None = None  # why page load found no store (damaged weights or shipped file)

    def session_expired(self, session: Session) -> None:
        """`SessionRegistry`'s on_expire: the session's jobs are already told to stop; run the hooks."""
        for hook in self.expiry_hooks:
            try:
                hook(session)
            except Exception:  # one failing hook must not keep the others from cleaning up
                log.exception("session expiry hook %r failed", hook)

    def start_training(self, job):
        """Start `job` unless MAX_TRAININGS trainings are running already (then a gr.Error says try again)."""
        with self.training_lock:
            self.trainings = [j for j in self.trainings if is_running(j)]
            if len(self.trainings) >= MAX_TRAININGS:
                raise gr.Error(f"The app is busy: {len(self.trainings)} trainings are running for visitors right "
                               "now. Try again in a minute.", duration=None)
            self.trainings.append(job.start())
        return job

    def live_runs(self) -> set[str]:
        """The run folders a training of this process is writing now (others are finished or interrupted)."""
        with self.training_lock:
            return {str(getattr(j, "run_dir", "")) for j in self.trainings if is_running(j)}

    # ---- what a visitor may name --------------------------------------------------------

    def store_roots(self, session: Session) -> list[Path]:
        """Folders whose stores this session may use: the Library's roots (data root,
        CLAPDEMO_LIBRARY_ROOTS), the cache's shared stores, the session's own clips, its active store."""
        from clapdemo.search.library_access import library_roots

        roots = library_roots(self.settings.data_root, os.environ) + [self.settings.cache / "stores",
                                                            self.settings.cache / "own-clips" / session.id]
        return roots + ([Path(session.store_dir)] if session.store_dir else [])

    def allowed_store(self, session: Session, text) -> Path:
        """The store folder `text` names, if this session may use it; else one gr.Error, the same for
        a forbidden path, a missing one and a folder that is no store (no oracle of what exists)."""
        path = below_roots(text, self.store_roots(session))
        if path is None or not (path / "manifest.json").is_file():
            raise gr.Error(NOT_A_STORE.format(text=html.escape(str(text or "").strip())), duration=None)
        return path

    # ---- encoders and stores ---------------------------------------------------------

    def encoders(self):
        """The audio and text encoders of the settings (loaded once per process, on first use)."""
        from clapdemo.encoders import cached_audio_encoder, cached_text_encoder

        self.warm_up.wait(timeout=600)  # a click during the warm-up waits for it rather than loading them twice
        return cached_audio_encoder(self.settings.audio_encoder), cached_text_encoder(self.settings.text_encoder)

    def store_dir(self, kind: str, split: str) -> Path:
        """Where the store for (dataset, split, these encoders, this data root) lives in the cache."""
        from clapdemo.stores.store import cache_store_dir

        audio, text = self.encoders()
        return cache_store_dir(self.settings.cache, kind, split, audio.name, text.name, self.settings.data_root)

    def known_stores(self) -> list[tuple[str, str]]:
        """(label, path) of every store in the cache with at least one embedded clip."""
        from clapdemo.stores.store import Store

        out = []
        for folder in sorted((self.settings.cache / "stores").glob("*")):
            store = Store(folder)
            if store.exists():
                status = store.status()
                if status["done"]:
                    out.append((f"{folder.name} ({status['done']}/{status['clips']} clips)", str(folder)))
        return out

    def store_choices(self, session: Session):
        """The Evaluate tab's store list, with this session's active store selected (its own clips'
        store, outside the cache's shared stores, is listed for it alone). Names, not server paths:
        `store_by_name` turns the one picked back into a folder."""
        choices = [(label, Path(path).name) for label, path in self.known_stores()]
        active = Path(session.store_dir).name if session.store_dir else None
        if active and active not in [name for _, name in choices]:
            choices.append((f"{active} (yours)", active))
        return gr.update(choices=choices, value=active)

    def store_by_name(self, session: Session, name: str) -> str:
        """The store folder of a name from `store_choices`: the session's active store or a shared one
        (anything else, a path included, is refused like any store the session may not use)."""
        if session.store_dir and name == Path(session.store_dir).name:
            return session.store_dir
        return str(self.allowed_store(session, self.settings.cache / "stores" / str(name)))

    def on_sample_store(self, session: Session) -> bool:
        """Whether the session's store is the sample set's, shared in the cache (not an upload's)."""
        return bool(session.store_dir) and Path(session.store_dir).parent == self.settings.cache / "stores" \
            and self.settings.data_root == SAMPLE_ROOT

    def store_problem(self, session: Session) -> str | None:
        """Why this session has no embeddings to use (None when it has)."""
        from clapdemo.stores.store import Store

        self.ensure_open(session)
        if not session.store_dir or not Store(session.store_dir).exists():
            if self.setup_problem:  # e.g. "weights file X damaged (sha256 mismatch)": not a missing Precompute
                return f"⚠ {html.escape(self.setup_problem)}"
            return "No embeddings yet: open **Data & embeddings** and click Precompute first."
        if Store(session.store_dir).status()["done"] == 0:
            return "The store holds no embedded clips yet: finish Precompute in Data & embeddings first."
        return None

    def need_store(self, session: Session) -> str:
        problem = self.store_problem(session)
        if problem:
            raise gr.Error(problem, duration=None)
        return session.store_dir

    def compatibility_problem(self, session: Session) -> str | None:
        """`search.searcher.compatibility_problem` for the session's projection and store (None if either is missing)."""
        from clapdemo.training.runs import encoders_of, load_run_info
        from clapdemo.search.searcher import compatibility_problem
        from clapdemo.stores.store import Store

        if not session.store_dir or not session.projection:
            return None
        try:
            trained, manifest = encoders_of(load_run_info(session.projection)), Store(session.store_dir).manifest()
        except Exception:  # an unreadable projection or store: the header and the handlers say so
            return None
        return compatibility_problem(manifest, trained)

    def searcher(self, session: Session):
        """The cached Searcher for this session's projection and store (`python -m clapdemo search`)."""
        from clapdemo.training.model import projection_file
        from clapdemo.search.searchers import cached_searcher

        store = self.need_store(session)
        problem = self.compatibility_problem(session)
        if problem:
            raise gr.Error(f"The active projection does not fit the embeddings: {problem}", duration=None)
        file = projection_file(session.projection)
        if not file.is_file():
            raise gr.Error(f"No projection file in {self.projection_name(session.projection)}: train one in the "
                           "Train tab.", duration=None)
        return cached_searcher(file, store)

    def stop(self, session: Session, name: str) -> str:
        job = session.jobs.get(name)
        if not is_running(job):
            return f"No {name} is running in this session."
        job.stop.set()
        return f"Stopping {name} after the current step…"

    # ---- the session and the header ---------------------------------------------------

    def init_session(self, session: Session):
        """On page load: the shipped projection, the store of the configured dataset if it exists."""
        session = session or Session()
        with self.opening:
            self.open_session(session)
        return session, self.header(session)

    def ensure_open(self, session: Session) -> None:
        """Page load's setup, if it has not finished yet: a click, or another load event, may come
        first (the setup runs once; `opening` makes the others wait for it)."""
        self.sessions.touch(session)  # a click: the session is in use, it does not expire
        if not session.opened:
            with self.opening:
                if not session.opened:
                    self.open_session(session)

    def open_session(self, session: Session) -> None:
        """`init_session`'s work: the projection, the store, then `session.opened`."""
        if session.projection is None:
            session.projection = str(self.settings.projection)
            session.projection_why = self.settings.why.get("CLAPDEMO_PROJECTION", "default")
            session.projection_why = ("shipped with the app" if session.projection_why == "default"
                                      else session.projection_why)
        if session.store_dir is None and self.settings.data_problem is None:
            try:
                candidate = self.store_dir(self.settings.dataset, SPLITS[self.settings.dataset][0])
                store = session_store(candidate, self.settings.data_root, *self.encoders(),
                                      log=lambda why: log.info("sample set: %s", why))
                if store:
                    session.store_dir = store
                self.setup_problem = None
            except Exception as error:  # encoders unavailable, a damaged shipped file: header and status say which
                log.exception("no store picked up on page load")
                self.setup_problem = str(error)
        session.opened = True

    def header(self, session: Session) -> str:
        """One line each: audio encoder, text encoder, dataset, store, projection, and why."""
        s = self.settings
        lines = []
        try:
            audio, text = self.encoders()
            lines.append(f"**Audio encoder:** `{audio.name}` ({audio.dim}-d, {audio.sample_rate} Hz, "
                         f"{audio.clip_seconds:g} s windows) — {s.why.get('CLAPDEMO_AUDIO_ENCODER', 'default')}")
            reason = getattr(text, "selection_reason", "requested")
            lines.append(f"**Text encoder:** `{text.name}` ({text.dim}-d) — {reason} "
                         f"(setting `{s.text_encoder}`, {s.why.get('CLAPDEMO_TEXT_ENCODER', 'default')})")
        except Exception as error:
            lines.append(f"**Encoders unavailable:** {html.escape(str(error))}")
        if s.data_root is not None and not s.data_root.is_dir():
            lines.append(f"**Dataset:** folder `{s.data_root.name}` not found ({s.why.get('CLAPDEMO_DATA_ROOT')}) — "
                         "fix `CLAPDEMO_DATA_ROOT` or `--data-root` (see Data & embeddings)")
        elif s.data_problem:
            lines.append("**Dataset:** none — set `CLAPDEMO_DATA_ROOT` or `--data-root` (see Data & embeddings)")
        else:
            lines.append(f"**Dataset:** {s.dataset}, {self.data_name()} — {s.why.get('CLAPDEMO_DATA_ROOT')}, "
                         f"kind {s.why.get('CLAPDEMO_DATASET')}")
        if session and session.store_dir:
            from clapdemo.stores.store import Store

            st = Store(session.store_dir).status()
            lines.append(f"**Embeddings:** `{Path(session.store_dir).name}` — {st['done']}/{st['clips']} clips")
        elif self.setup_problem:
            lines.append(f"**Embeddings:** none — {html.escape(self.setup_problem)}")
        else:
            lines.append("**Embeddings:** none yet — run Precompute in Data & embeddings")
        lines.append(self.projection_line(session))
        return "  \n".join(lines)

    def data_name(self) -> str:
        """The data root as a visitor sees it: a name, never a server path."""
        root = self.settings.data_root
        return "the sample set" if root == SAMPLE_ROOT else f"folder `{root.name}`" if root else "no data folder"

    def projection_name(self, projection: str | None) -> str:
        """A projection as a visitor sees it: "the shipped projection" or its run's folder name."""
        if not projection:
            return "none"
        if Path(projection).resolve() == Path(self.settings.projection).resolve():
            return "the shipped projection"
        return f"`{Path(projection).name}`"

    def projection_line(self, session: Session) -> str:
        """The header's projection line: which one, why, what it was trained on, whether it fits."""
        if not session or not session.projection:
            return "**Projection:** none"
        from clapdemo.training.runs import best_epoch_of, load_run_info, run_data

        try:
            info = load_run_info(session.projection)
        except Exception as error:
            log.warning("projection %s unreadable: %s", session.projection, error)  # the path for the owner's log
            return (f"**Projection:** {self.projection_name(session.projection)} unreadable "
                    f"({type(error).__name__}); train one in Train")
        data = run_data(info).get("dataset", {})
        trained_on = f"{data.get('name', '?')} {data.get('split', '')}".strip()
        line = (f"**Projection:** {self.projection_name(session.projection)} — {session.projection_why}; "
                f"trained on {trained_on}, best epoch {best_epoch_of(info)}")
        problem = self.compatibility_problem(session)
        return line + (f" — ⚠ {problem}" if problem else "")
