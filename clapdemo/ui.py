"""The Gradio app: every step of the pipeline one click away.

`build_app(settings)` returns the Blocks; `app.py` builds it at import time
(cheap: nothing heavy is loaded until a handler needs it) and launches it
under `__main__`. Handlers are the methods of `Handlers`: each calls the same
library function as the CLI command named in its docstring and turns a
user's mistake into a visible message (`gr.Error`). What belongs to one
browser session (the active store and projection, its jobs and their Stop
flags) lives in a `Session` held by `gr.State`; nothing mutable is shared
between users except the read-only encoder and searcher caches.

Long jobs (precompute, training, the UMAP layout) run in a thread per session
(`clapdemo.jobs`) and their handlers are generators that yield progress, so
the page never freezes and the other tabs stay usable.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import html
import os
import re
import threading
import time
import traceback
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import gradio as gr
import numpy as np
import pandas as pd

from clapdemo.jobs import Job, is_running, watch
from clapdemo.projection_init import DEFAULT_INIT, INITS
from clapdemo.sample_set import SAMPLE_ROOT, install_sample_store
from clapdemo.ui_errors import on, user_errors

REPO = Path(__file__).resolve().parent.parent
DEFAULT_PROJECTION = REPO / "assets" / "projection"
DATASET_KINDS = ("esc50", "audiocaps", "clotho", "folder")
SPLITS = {
    "esc50": ["all", "fold1", "fold2", "fold3", "fold4", "fold5", "folds1-3"],
    "audiocaps": ["test", "val", "train"],
    "clotho": ["evaluation", "validation", "development"],
    "folder": ["all"],
}
N_PLAYERS = 5  # audio players under search results
N_EXAMPLES = 4  # audio players under the dataset summary
N_EXTREMES = 3  # best and worst queries shown with their audio
UMAP_MAX_CLIPS = 2000  # a seeded sample of clips above this, so the layout stays quick
NO_DATA = (
    "**No dataset yet.** Point the app at a dataset folder: set `CLAPDEMO_DATA_ROOT=/path/to/data` "
    "(and optionally `CLAPDEMO_DATASET=esc50|audiocaps|clotho|folder`) or start it with "
    "`python app.py --data-root /path/to/data`. ESC-50: the folder holding `esc50.csv` (or `meta/esc50.csv`) "
    "and `audio/`. AudioCaps: the folder holding `audiocaps/` (course zip) or the original CSVs. Clotho: "
    "`clotho_captions_<split>.csv` beside the audio. Any folder of audio files with a `captions.csv` "
    "(file,caption) works as `folder`."
)


# --------------------------------------------------------------------------- settings


@dataclass
class Settings:
    """Where the app reads and writes, from environment variables or command-line flags.

    data_root:   dataset folder (CLAPDEMO_DATA_ROOT, --data-root); default: the sample set that ships
                 in assets/esc50-sample (ESC-50 clips, read with its shipped store; clapdemo.sample_set).
    dataset:     reader kind (CLAPDEMO_DATASET, --dataset); guessed from the folder if unset.
    cache:       where stores, runs and UMAP layouts go (CLAPDEMO_CACHE, default ~/.cache/clapdemo).
    projection:  the projection active when a session opens (CLAPDEMO_PROJECTION, default
                 assets/projection, the one that ships with the app).
    text_encoder / audio_encoder: registry names (CLAPDEMO_TEXT_ENCODER, default "auto";
                 CLAPDEMO_AUDIO_ENCODER, default "mn04_as").
    max_upload_mb / max_upload_seconds: caps on an uploaded clip (CLAPDEMO_MAX_UPLOAD_MB,
                 CLAPDEMO_MAX_UPLOAD_SECONDS).
    why:         one phrase per setting saying where its value came from (for the header).
    """

    data_root: Path | None = None
    dataset: str | None = None
    cache: Path = field(default_factory=lambda: Path.home() / ".cache" / "clapdemo")
    projection: Path = DEFAULT_PROJECTION
    text_encoder: str = "auto"
    audio_encoder: str = "mn04_as"
    max_upload_mb: float = 20.0
    max_upload_seconds: float = 600.0
    port: int | None = None
    host: str | None = None
    why: dict = field(default_factory=dict)

    @classmethod
    def from_env(cls, argv: list[str] | None = None, env=None) -> "Settings":
        env = os.environ if env is None else env
        args = _arg_parser().parse_args(argv or [])
        why: dict[str, str] = {}

        def pick(flag, name, default, flag_name):
            if flag is not None:
                why[name] = f"from {flag_name}"
                return flag
            if env.get(name):
                why[name] = f"from {name}"
                return env[name]
            why[name] = "default"
            return default

        root = pick(args.data_root, "CLAPDEMO_DATA_ROOT", SAMPLE_ROOT, "--data-root")
        if why["CLAPDEMO_DATA_ROOT"] == "default":
            why["CLAPDEMO_DATA_ROOT"] = "default: the sample set that ships with the app"
        kind = pick(args.dataset, "CLAPDEMO_DATASET", None, "--dataset")
        settings = cls(
            data_root=_abs(root) if root else None,
            cache=_abs(pick(args.cache, "CLAPDEMO_CACHE", Path.home() / ".cache" / "clapdemo", "--cache")),
            projection=_abs(pick(args.projection, "CLAPDEMO_PROJECTION", DEFAULT_PROJECTION, "--projection")),
            text_encoder=pick(args.text_encoder, "CLAPDEMO_TEXT_ENCODER", "auto", "--text-encoder"),
            audio_encoder=pick(args.audio_encoder, "CLAPDEMO_AUDIO_ENCODER", "mn04_as", "--audio-encoder"),
            max_upload_mb=float(env.get("CLAPDEMO_MAX_UPLOAD_MB", 20)),
            max_upload_seconds=float(env.get("CLAPDEMO_MAX_UPLOAD_SECONDS", 600)),
            port=args.port,
            host=args.host,
            why=why,
        )
        trained_with = _encoders_of_projection(settings.projection)
        for side, setting in (("text_encoder", "CLAPDEMO_TEXT_ENCODER"), ("audio_encoder", "CLAPDEMO_AUDIO_ENCODER")):
            if why[setting] == "default" and trained_with.get(side):
                setattr(settings, side, trained_with[side])
                why[setting] = f"the one the active projection was trained with (set {setting} to change it)"
        if kind:
            settings.dataset = str(kind).strip().lower()
        elif settings.data_root is not None and settings.data_root.is_dir():
            settings.dataset, why["CLAPDEMO_DATASET"] = guess_dataset_kind(settings.data_root)
        return settings

    @property
    def data_problem(self) -> str | None:
        """Why there is no usable dataset (None when there is one)."""
        if self.data_root is None:
            return NO_DATA
        if not self.data_root.is_dir():
            return (f"**Dataset folder not found:** `{self.data_root}` ({self.why.get('CLAPDEMO_DATA_ROOT', '')}) "
                    "does not exist or is not a folder. " + NO_DATA.split("**", 2)[2])
        if self.dataset not in DATASET_KINDS:
            return f"**Unknown dataset kind** `{self.dataset}`; CLAPDEMO_DATASET must be one of {', '.join(DATASET_KINDS)}."
        return None


def _encoders_of_projection(projection: Path) -> dict[str, str]:
    """{"audio_encoder": name, "text_encoder": name} the active projection was trained with.

    With no encoder asked for, the app uses these: otherwise "auto" would pick
    CLIP wherever the hub answers (a Space) and the shipped MiniLM projection
    would not fit it, so Search would fail before anyone trained."""
    run_json = (projection if projection.is_dir() else projection.parent) / "run.json"
    try:  # run.json, not the weights: importing the app must stay free of torch
        data = json.loads(run_json.read_text(encoding="utf-8")).get("data", {})
    except (OSError, ValueError):
        return {}
    names = {side: (data.get(side) or {}).get("name") for side in ("audio_encoder", "text_encoder")}
    return {side: name for side, name in names.items() if name and not name.startswith("clip:random")}


def _arg_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python app.py", description="the clapdemo Gradio app")
    p.add_argument("--data-root", default=None, help="dataset folder (else CLAPDEMO_DATA_ROOT)")
    p.add_argument("--dataset", default=None, choices=DATASET_KINDS, help="dataset kind (else guessed from the folder)")
    p.add_argument("--cache", default=None, help="where stores and runs go (else CLAPDEMO_CACHE or ~/.cache/clapdemo)")
    p.add_argument("--projection", default=None, help="projection active at start (else assets/projection)")
    p.add_argument("--text-encoder", default=None, help="auto, minilm, clip, clip:<hub id>")
    p.add_argument("--audio-encoder", default=None, help="audio encoder name (default mn04_as)")
    p.add_argument("--port", type=int, default=None, help="port to serve on (else GRADIO_SERVER_PORT or 7860)")
    p.add_argument("--host", default=None, help="address to bind (else GRADIO_SERVER_NAME or 127.0.0.1)")
    return p


def guess_dataset_kind(root: Path) -> tuple[str, str]:
    """(kind, reason) from the files at the top of `root` (or one folder down)."""
    def names(folder: Path) -> list[str]:
        try:
            return [p.name.lower() for p in folder.iterdir()]
        except OSError:
            return []

    top = names(root)
    below = [n for d in ("meta", "audiocaps", "clotho") if d in top for n in names(root / d)]
    found = top + below
    if "esc50.csv" in found:
        return "esc50", "guessed: esc50.csv found"
    if any(n.startswith("clotho_captions_") for n in found):
        return "clotho", "guessed: clotho_captions_*.csv found"
    if "audiocaps" in top or any(n.startswith("audiocaps_") or n in ("test.csv", "val.csv", "train.csv") for n in found):
        return "audiocaps", "guessed: AudioCaps tables found"
    return "folder", "guessed: no known metadata, reading it as a folder of audio"


def launch_options(settings: Settings) -> dict:
    """Keyword arguments for `demo.launch`: tight file access, upload cap, port."""
    allowed = [str(settings.cache)]
    if settings.data_root is not None:
        allowed += [str(settings.data_root), str(settings.data_root.resolve())]
    options = dict(allowed_paths=sorted(set(allowed)), max_file_size=int(settings.max_upload_mb * 1024 * 1024),
                   show_error=True)
    if settings.port:
        options["server_port"] = settings.port
    if settings.host:
        options["server_name"] = settings.host
    return options


# --------------------------------------------------------------------------- per-session state


@dataclass
class Session:
    """What one browser session owns. Created per session by gr.State (so it is never shared).

    store_dir:  the store Search, Evaluate, Train and the joint space use (None before any precompute).
    projection: the projection Search, Upload, Evaluate and the joint space use.
    last_run:   the run this session trained last (it can become the active projection).
    jobs:       "precompute" / "train" / "umap" -> Job (each with its own Stop flag).
    """

    id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    store_dir: str | None = None
    projection: str | None = None
    projection_why: str = ""
    last_run: str | None = None
    jobs: dict = field(default_factory=dict)


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


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_")


def _file_sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def _store_signature(store_dir: str) -> tuple:
    """Changes whenever a shard is added or replaced: the key for cached searchers and layouts."""
    shards = Path(store_dir) / "shards"
    return tuple(sorted((p.name, p.stat().st_mtime_ns) for p in shards.glob("*.json"))) if shards.is_dir() else ()


@lru_cache(maxsize=8)
def _cached_searcher(projection_file: str, projection_mtime: int, store_dir: str, signature: tuple):
    from clapdemo.runs import open_searcher

    return open_searcher(projection_file, store_dir)


def _projection_file(projection: str | Path) -> Path:
    from clapdemo.model import FILENAME

    path = Path(projection)
    return path if path.suffix == ".safetensors" else path / FILENAME


def _html_progress(done: int, total: int, label: str, seconds: float | None = None) -> str:
    total = max(total, 0)
    extra = f" · {seconds:.0f} s" if seconds is not None else ""
    return (f'<div class="clap-progress" style="display:flex;align-items:center;gap:0.75em">'
            f'<progress value="{done}" max="{max(total, 1)}" style="width:40%;height:1.1em"></progress>'
            f'<span class="clap-progress-text">{html.escape(label)}: {done} / {total}{extra}</span></div>')


METRIC_COLUMNS = ("metric", "model", "random (exact)", "random (empirical)", "x random")
EVAL_COLUMNS = ("metric", "model", "best possible", "random (exact)", "random (empirical)", "x random")
SHARE = "softmax over shown"  # Hit.relevance: how the model's preference splits among the shown results
SCORES = (f"*score*: cosine in the joint space (-1 to 1); *{SHARE}*: the model's preference split among "
          "these results (softmax with its temperature; they sum to 100%), not the chance that a hit is right.")


def _table(elem_id: str, label: str | None, *columns: str) -> gr.Dataframe:
    """A read-only table showing its headers before the first result."""
    return gr.Dataframe(pd.DataFrame(columns=list(columns)), label=label, show_label=label is not None,
                        interactive=False, elem_id=elem_id, max_height=420)


def _new_run_dir(runs: Path, session_id: str) -> Path:
    """runs/<time>-<session>, with a suffix when two runs start within the same second."""
    base = runs / f"{time.strftime('%Y%m%d-%H%M%S')}-{session_id}"
    run_dir, n = base, 1
    while run_dir.exists():
        n += 1
        run_dir = base.with_name(f"{base.name}-{n}")
    return run_dir


def _abs(path) -> Path:
    return Path(path).expanduser().absolute()


def _audio_update(path: str | None = None, label: str = ""):
    return gr.update(value=path, label=label or "clip", visible=path is not None)


# --------------------------------------------------------------------------- handlers


class Handlers:
    """Every button's work. Each method calls the library (the CLI command it mirrors is named)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.sessions = SessionRegistry()

    # ---- encoders, stores, the header ----------------------------------------------

    def encoders(self):
        """The audio and text encoders of the settings (loaded once per process, on first use)."""
        from clapdemo.runs import cached_audio_encoder, cached_text_encoder

        return cached_audio_encoder(self.settings.audio_encoder), cached_text_encoder(self.settings.text_encoder)

    def store_dir(self, kind: str, split: str) -> Path:
        """Where the store for (dataset, split, these encoders, this data root) lives in the cache."""
        audio, text = self.encoders()
        root = str(self.settings.data_root.resolve()) if self.settings.data_root else ""
        tag = hashlib.sha256(root.encode()).hexdigest()[:8]
        return self.settings.cache / "stores" / _safe(f"{kind}-{split}-{audio.name}-{text.name}-{tag}")

    def known_stores(self) -> list[tuple[str, str]]:
        """(label, path) of every store in the cache with at least one embedded clip."""
        from clapdemo.store import Store

        out = []
        for folder in sorted((self.settings.cache / "stores").glob("*")):
            store = Store(folder)
            if store.exists():
                status = store.status()
                if status["done"]:
                    out.append((f"{folder.name} ({status['done']}/{status['clips']} clips)", str(folder)))
        return out

    def init_session(self, session: Session):
        """On page load: the shipped projection, the store of the configured dataset if it exists."""
        session = session or Session()
        if session.projection is None:
            session.projection = str(self.settings.projection)
            session.projection_why = self.settings.why.get("CLAPDEMO_PROJECTION", "default")
            session.projection_why = ("shipped with the app" if session.projection_why == "default"
                                      else session.projection_why)
        if session.store_dir is None and self.settings.data_problem is None:
            try:
                candidate = self.store_dir(self.settings.dataset, SPLITS[self.settings.dataset][0])
                if self.settings.data_root == SAMPLE_ROOT:  # its shipped store, copied into the cache
                    if (why := install_sample_store(candidate, *self.encoders())):
                        print(f"sample set: {why}")
                if candidate.is_dir() and (candidate / "manifest.json").is_file():
                    session.store_dir = str(candidate)
            except Exception:  # encoders unavailable: the header says so
                traceback.print_exc()
        return session, self.header(session)

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
            lines.append(f"**Dataset:** folder `{s.data_root}` not found ({s.why.get('CLAPDEMO_DATA_ROOT')}) — "
                         "fix `CLAPDEMO_DATA_ROOT` or `--data-root` (see Data & embeddings)")
        elif s.data_problem:
            lines.append("**Dataset:** none — set `CLAPDEMO_DATA_ROOT` or `--data-root` (see Data & embeddings)")
        else:
            lines.append(f"**Dataset:** {s.dataset} at `{s.data_root}` — {s.why.get('CLAPDEMO_DATA_ROOT')}, "
                         f"kind {s.why.get('CLAPDEMO_DATASET')}")
        if session and session.store_dir:
            from clapdemo.store import Store

            st = Store(session.store_dir).status()
            lines.append(f"**Embeddings:** `{Path(session.store_dir).name}` — {st['done']}/{st['clips']} clips")
        else:
            lines.append("**Embeddings:** none yet — run Precompute in Data & embeddings")
        lines.append(self._projection_line(session))
        return "  \n".join(lines)

    def _projection_line(self, session: Session) -> str:
        if not session or not session.projection:
            return "**Projection:** none"
        from clapdemo.runs import load_run

        try:
            _, info = load_run(session.projection)
        except Exception as error:
            return f"**Projection:** `{session.projection}` unreadable ({html.escape(str(error))}); train one in Train"
        run = info.get("run", {})
        data = run.get("data", info.get("data", {})).get("dataset", {})
        trained_on = f"{data.get('name', '?')} {data.get('split', '')}".strip()
        line = (f"**Projection:** `{session.projection}` — {session.projection_why}; trained on {trained_on}, "
                f"best epoch {run.get('best_epoch', info.get('best_epoch', '?'))}")
        problem = self._compatibility_problem(session)
        return line + (f" — ⚠ {problem}" if problem else "")

    def _compatibility_problem(self, session: Session) -> str | None:
        """A projection only makes sense with the encoders that made its training vectors."""
        from clapdemo.runs import load_run

        if not session.store_dir or not session.projection:
            return None
        try:
            _, info = load_run(session.projection)
            trained = (info.get("run", {}).get("data") or info.get("data") or {})
            from clapdemo.store import Store

            manifest = Store(session.store_dir).manifest()
        except Exception:
            return None
        for side in ("audio_encoder", "text_encoder"):
            if trained.get(side) and trained[side] != manifest.get(side):
                return (f"it was trained on {trained[side].get('name')} vectors but the store holds "
                        f"{manifest[side].get('name')} vectors: train a projection on this store (Train tab)")
        return None

    def _store_problem(self, session: Session) -> str | None:
        """Why this session has no embeddings to use (None when it has)."""
        from clapdemo.store import Store

        if not session.store_dir or not Store(session.store_dir).exists():
            return "No embeddings yet: open **Data & embeddings** and click Precompute first."
        if Store(session.store_dir).status()["done"] == 0:
            return "The store holds no embedded clips yet: finish Precompute in Data & embeddings first."
        return None

    def _need_store(self, session: Session) -> str:
        problem = self._store_problem(session)
        if problem:
            raise gr.Error(problem, duration=None)
        return session.store_dir

    def searcher(self, session: Session):
        """The cached Searcher for this session's projection and store (`python -m clapdemo search`)."""
        store = self._need_store(session)
        problem = self._compatibility_problem(session)
        if problem:
            raise gr.Error(f"The active projection does not fit the embeddings: {problem}", duration=None)
        file = _projection_file(session.projection)
        if not file.is_file():
            raise gr.Error(f"No projection at {file}: train one in the Train tab.", duration=None)
        return _cached_searcher(str(file), file.stat().st_mtime_ns, store, _store_signature(store))

    # ---- Data & embeddings ------------------------------------------------------------

    def load_dataset(self, kind: str, split: str):
        """`clapdemo.datasets.load_dataset`, as `python -m clapdemo precompute --dataset KIND --split SPLIT` reads it."""
        from clapdemo.datasets import load_dataset

        if self.settings.data_problem:
            raise gr.Error(self.settings.data_problem.replace("**", ""), duration=None)
        with user_errors(f"Reading {kind} ({split}) at {self.settings.data_root}"):
            dataset = load_dataset(kind, self.settings.data_root, (split or "").strip() or None)
        if dataset.n_clips == 0:
            raise gr.Error(f"{kind} {split} at {self.settings.data_root}: no clips found "
                           f"({len(dataset.missing)} listed without audio). Check the folder and the split.",
                           duration=None)
        return dataset

    def show_dataset(self, session: Session, kind: str, split: str):
        """Counts, a few examples with players, and the state of this split's store."""
        if self.settings.data_problem:
            return (self.settings.data_problem, pd.DataFrame(), *[_audio_update() for _ in range(N_EXAMPLES)], "")
        dataset = self.load_dataset(kind, split)
        lines = [f"**{kind} · {dataset.split}:** {dataset.summary()}"]
        if dataset.missing:
            lines.append(f"Missing audio for {len(dataset.missing)} clips, e.g. {', '.join(dataset.missing[:5])}")
        lines += [f"- warning: {w}" for w in dataset.warnings[:5]]
        clips = dataset.clips
        examples = clips.head(8).assign(
            captions=clips.head(8)["captions"].map(lambda c: " | ".join(c)),
            file=clips.head(8)["audio_path"].map(lambda p: Path(p).name))
        columns = [c for c in ("clip_id", "label", "fold", "captions", "file") if c in examples.columns]
        step = max(1, len(clips) // N_EXAMPLES)
        picks = clips.iloc[::step].head(N_EXAMPLES)
        players = [_audio_update(row.audio_path, f"{row.clip_id}: {row.captions[0] if row.captions else ''}")
                   for row in picks.itertuples()]
        players += [_audio_update() for _ in range(N_EXAMPLES - len(players))]
        return "  \n".join(lines), examples[columns], *players, self.store_status(kind, split)

    def store_status(self, kind: str, split: str) -> str:
        from clapdemo.store import Store

        try:
            folder = self.store_dir(kind, split)
        except Exception as error:
            return f"Encoders unavailable: {error}"
        store = Store(folder)
        if not store.exists():
            return f"No embeddings for {kind} {split} yet: click **Precompute** (store `{folder}`)."
        st = store.status()
        state = "complete" if st["done"] + st["failed"] >= st["clips"] else "half done: Precompute resumes it"
        return (f"Store `{folder.name}`: {st['done']}/{st['clips']} clips embedded, {st['failed']} failed ({state}).")

    def precompute(self, session: Session, kind: str, split: str):
        """`python -m clapdemo precompute`: embed the split into its store.

        Yields (progress bar, log, header, store status, Evaluate's store list)."""
        from clapdemo.precompute import precompute

        if is_running(session.jobs.get("precompute")):
            raise gr.Error("A precompute is already running in this session; wait for it or press Stop.")
        dataset = self.load_dataset(kind, split)
        with user_errors("Loading the encoders"):
            audio, text = self.encoders()
            folder = self.store_dir(kind, split)

        def work(job: Job):
            def on_progress(done, total):
                job.progress = (done, total)

            return precompute(dataset, audio, text, folder, progress=False, on_progress=on_progress,
                              should_stop=job.stop.is_set)

        job = session.jobs["precompute"] = Job("precompute", work)
        job.progress = (0, dataset.n_clips)
        job.start()
        with user_errors("Precompute"):
            for _ in watch(job):
                done, total = job.progress
                yield (_html_progress(done, total, "clips embedded", job.seconds),
                       f"Embedding {dataset.n_clips} clips into `{folder.name}`…", gr.skip(), gr.skip(), gr.skip())
            if job.error:
                raise job.error
            report = job.result
            session.store_dir = str(folder)
            lines = [report.summary()]
            lines += [f"- skipped `{cid}`: {info['error']}" for cid, info in list(report.failed.items())[:10]]
            if report.missing:
                lines.append(f"- {len(report.missing)} clips listed without an audio file, e.g. "
                             f"{', '.join(report.missing[:5])}")
            done = report.already_done + report.computed
            yield (_html_progress(done + len(report.failed), report.total, "clips embedded", report.seconds),
                   "  \n".join(lines), self.header(session), self.store_status(kind, split),
                   self.store_choices(session))

    def store_choices(self, session: Session):
        """The Evaluate tab's store list, with this session's active store selected."""
        return gr.update(choices=self.known_stores(), value=session.store_dir)

    def stop(self, session: Session, name: str) -> str:
        job = session.jobs.get(name)
        if not is_running(job):
            return f"No {name} is running in this session."
        job.stop.set()
        return f"Stopping {name} after the current step…"

    # ---- Train ------------------------------------------------------------------------

    def train(self, session: Session, epochs, batch_size, lr, weight_decay, learn_temperature, patience,
              val_fraction, init=DEFAULT_INIT):
        """`python -m clapdemo train --train STORE --out RUN [--init INIT] [--lr LR]`: yields (curve, status,
        metrics table). An empty learning rate follows the init, as the CLI's default does."""
        from clapdemo.projection_init import make_init
        from clapdemo.store import Store, load_store
        from clapdemo.train import TrainConfig, split_validation, train

        if is_running(session.jobs.get("train")):
            raise gr.Error("This session is already training; press Stop first.")
        store = self._need_store(session)
        with user_errors("Training settings"):
            if None in (epochs, batch_size, weight_decay, patience, val_fraction):
                raise ValueError("fill in every field (epochs, batch size, weight decay, ...)")
            start = make_init(init or DEFAULT_INIT, Store(store).manifest(), where=f"store {Path(store).name}")
            if lr is not None and float(lr) < 0:
                raise ValueError(f"learning rate {lr} is negative; leave it at 0 to follow the init")
            lr_note = "" if lr else " (follows the init)"
            lr = float(lr) if lr else start.lr  # 0 (what an empty number box shows) or empty: the init's
            cfg = TrainConfig(epochs=int(epochs), batch_size=int(batch_size), weight_decay=float(weight_decay),
                              learn_temperature=bool(learn_temperature), patience=int(patience),
                              **({} if lr is None else {"lr": lr}))
            if not 0 < float(val_fraction) < 1:
                raise ValueError(f"validation share {val_fraction} must be between 0 and 1")
        run_dir = _new_run_dir(self.settings.cache / "runs", session.id)

        def work(job: Job):
            train_set, val_set = split_validation(load_store(store), float(val_fraction), cfg.seed)
            job.message = (f"train {train_set.n_clips} clips / val {val_set.n_clips} clips "
                           f"from `{Path(store).name}`; init {start.describe()}, lr {cfg.lr:g}{lr_note}")

            def on_epoch(log):
                job.events.append(log)
                return job.stop.is_set()

            result = train(cfg, train_set, val_set, callbacks=[on_epoch], run_dir=run_dir, init=start.apply,
                           init_record=start.record)
            session.last_run = str(run_dir)  # here, not in the page's generator: a reload may have closed it
            return result

        job = session.jobs["train"] = Job("train", work)
        job.epochs, job.lr_text, job.run_dir = cfg.epochs, f"lr {cfg.lr:g}{lr_note}", run_dir
        yield from self.follow_training(session, job.start())

    def follow_training(self, session: Session, job: Job | None = None):
        """Yields (curve, status, metrics table) of this session's training job until it ends.

        Also called on page load: training goes on when the page is closed or reloaded (the
        session comes back with the browser, see `SessionRegistry`), and the new page shows it."""
        from clapdemo import plots
        from clapdemo.runs import metrics_table

        job = job or session.jobs.get("train")
        if job is None:
            yield gr.skip(), gr.skip(), gr.skip()
            return
        shown = -1
        with user_errors("Training"):
            for _ in watch(job, interval=1.0, stop_on_close=False):
                logs = list(job.events)
                if len(logs) != shown or job.finished.is_set():
                    shown = len(logs)
                    last = logs[-1] if logs else None
                    status = (f"Training ({job.message}): epoch {last.epoch}/{job.epochs}, "
                              f"train loss {last.train_loss:.4f}, val loss {last.val_loss:.4f}" if last
                              else "Starting training…")
                    yield plots.loss_curve(logs), status, gr.skip()
            if job.error:
                raise job.error
            result = job.result
            why = {"finished": "finished all epochs", "early_stopping": "stopped early (no better validation loss)",
                   "callback": "stopped by you"}[result.stop_reason]
            status = (f"**Done:** {why} after {len(result.history)} epochs ({job.lr_text}); best epoch "
                      f"{result.best_epoch}. Saved to `{job.run_dir}`. Validation metrics below; press "
                      "**Use this projection** to make it the active one.")
            yield plots.loss_curve(result.history), status, metrics_table(result.metrics)

    def run_choices(self, session: Session):
        """The Train tab's list of past runs of the active store (the cache's runs folder)."""
        from clapdemo.runs import past_runs
        from clapdemo.store import Store

        if not session.store_dir or not Store(session.store_dir).exists():
            return gr.update(choices=[], value=None)
        runs = past_runs(self.settings.cache / "runs", Store(session.store_dir).manifest())
        return gr.update(choices=runs, value=runs[0][1] if runs else None)

    def use_run(self, session: Session, run: str | None):
        """"Make active": a past run (finished or cut short: its best checkpoint) becomes the projection."""
        if not run or not _projection_file(run).is_file():
            raise gr.Error("Pick a past run first (trained runs of the active store are listed here).")
        session.projection = run
        session.projection_why = f"a past run ({Path(run).name})"
        return f"Active projection: `{run}`.", self.header(session)

    def use_last_run(self, session: Session):
        if not session.last_run:
            raise gr.Error("Nothing trained in this session yet: press Start training first.")
        session.projection = session.last_run
        session.projection_why = f"trained in this session ({Path(session.last_run).name})"
        return f"Active projection: `{session.last_run}`.", self.header(session)

    def use_shipped(self, session: Session):
        session.projection = str(self.settings.projection)
        session.projection_why = "shipped with the app"
        return f"Active projection: `{session.projection}` (shipped).", self.header(session)

    # ---- Evaluate ---------------------------------------------------------------------

    def evaluate(self, session: Session, store_choice: str | None, held_out: bool = False):
        """`python -m clapdemo evaluate --run PROJECTION --store STORE`, plus best and worst queries.

        Each figure is shown beside its ceiling (`metrics.best_possible`: repeated captions cap
        text->audio) and chance; `held_out` leaves out the clips the projection was trained on."""
        from clapdemo import plots
        from clapdemo.metrics import best_possible, query_ranks
        from clapdemo.runs import evaluate_run, metrics_table

        if store_choice and store_choice != session.store_dir:
            session = Session(id=session.id, store_dir=store_choice, projection=session.projection)
        searcher = self.searcher(session)
        emb, sample = searcher.embeddings, self._sample_note(session, searcher.embeddings, held_out)
        if held_out:
            searcher = self._held_out_searcher(session, searcher)
            emb = searcher.embeddings
        with user_errors("Evaluation"):  # in-sample on purpose when asked: the note says so
            metrics = evaluate_run(_projection_file(session.projection), emb, allow_overlap=True)
        table = metrics_table(metrics)
        ceiling = best_possible(emb)
        table.insert(2, "best possible", [round(ceiling[m], 4) if m in ceiling else "" for m in table["metric"]])
        course = table[table["metric"].str.contains("acc@")]
        papers = table[~table["metric"].str.contains("acc@")]
        per_clip = np.bincount(emb.text_clip, minlength=emb.n_clips)
        note = (f"**{Path(session.projection).name}** on **{Path(session.store_dir).name}**: "
                f"{emb.n_clips} clips, {emb.n_captions} captions ({len(set(emb.captions))} distinct). accuracy@k: "
                f"each clip with its first caption, candidates = the whole split ({metrics['n_course_pairs']} pairs). "
                "*best possible*: identical captions rank their clips alike, so only one of them can be first "
                "(text→audio); a tie counts as a hit, and chance counts ties the same way.  \n" + sample)
        if per_clip.max(initial=0) <= 1:
            note += " Each clip has one caption here, so R@k equals accuracy@k."
        fig = plots.metrics_vs_random(metrics, keys=list(course["metric"]),
                                      title="accuracy@k: model vs random")
        a2t, t2a = query_ranks(searcher.audio, emb.text, emb.text_clip)
        extremes, players = self._extremes(searcher, a2t, t2a)
        return note, course, papers, fig, extremes, *players

    def _sample_note(self, session: Session, emb, held_out: bool) -> str:
        """Which of these clips the projection was trained on: in-sample numbers are marked as such."""
        from clapdemo.runs import trained_clip_ids

        trained = trained_clip_ids(session.projection)  # its training and validation clips
        if trained:
            inside = sum(c in trained for c in emb.clip_ids)
            if held_out:
                return (f"**Held out:** only the {emb.n_clips - inside} clips the projection never saw "
                        f"({inside} training and validation clips left out).")
            return (f"⚠ **In-sample:** the projection was trained (or validated) on {inside} of these "
                    f"{emb.n_clips} clips; tick "
                    "*held-out clips only* for numbers on the rest." if inside else
                    "**Held out:** the projection was trained on none of these clips.")
        if held_out:
            raise gr.Error("This projection does not record which clips it was trained on (runs trained in this "
                           "app do): evaluate it on a split it was not trained on instead.", duration=None)
        if self._trained_on(session) == emb.meta.get("dataset"):
            return ("⚠ **In-sample:** the projection was trained on this dataset split (its clip list is not "
                    "recorded): expect optimistic numbers; precompute another split to test it on unseen clips.")
        return "The projection was trained on another dataset or split: these clips are unseen."

    def _held_out_searcher(self, session: Session, searcher):
        """A Searcher over the clips the projection never saw (neither trained nor validated on)."""
        from clapdemo.runs import trained_clip_ids
        from clapdemo.search import Searcher

        trained = trained_clip_ids(session.projection)
        emb = searcher.embeddings
        rows = [i for i, c in enumerate(emb.clip_ids) if c not in trained]
        if len(rows) < 2:
            raise gr.Error(f"Only {len(rows)} of these {emb.n_clips} clips were left out of training: too few to "
                           "evaluate; precompute another split.", duration=None)
        return Searcher(emb.subset(rows), searcher.projection, searcher.text_encoder, searcher.audio_encoder)

    def _trained_on(self, session: Session) -> dict | None:
        from clapdemo.runs import load_run

        try:
            _, info = load_run(session.projection)
        except Exception:
            return None
        return (info.get("run", {}).get("data") or info.get("data") or {}).get("dataset")

    def _extremes(self, searcher, a2t: np.ndarray, t2a: np.ndarray):
        """The N best and worst audio queries (by the rank of their own caption), with players,
        and the best and worst text queries (mean rank of their clips)."""
        emb = searcher.embeddings
        first = {}
        for j, clip in enumerate(emb.text_clip):
            first.setdefault(int(clip), emb.captions[j])
        rows = np.flatnonzero(a2t >= 0)
        order = rows[np.argsort(a2t[rows], kind="stable")]
        picks = [("best", i) for i in order[:N_EXTREMES]] + [("worst", i) for i in order[::-1][:N_EXTREMES]]
        records, players = [], []
        best_caption = np.argmax(searcher.audio[[i for _, i in picks]] @ searcher.pool_text.T, axis=1)
        for (kind, i), top in zip(picks, best_caption):
            top = searcher.pool_captions[top]  # the store's own vector: no re-encoding of the clip
            records.append({"query": f"{kind}: clip {emb.clip_ids[i]}", "direction": "audio→text",
                            "rank of right answer": int(a2t[i]) + 1, "right answer": first.get(int(i), ""),
                            "model's top answer": top})
            players.append(_audio_update(emb.audio_paths[i], f"{kind} audio query {emb.clip_ids[i]}: "
                                                             f"rank {int(a2t[i]) + 1} ({first.get(int(i), '')})"))
        per_caption = pd.DataFrame({"caption": emb.captions, "rank": t2a + 1}).groupby("caption")["rank"].mean()
        per_caption = per_caption.sort_values(kind="stable")
        for kind, captions in (("best", per_caption.index[:N_EXTREMES]), ("worst", per_caption.index[::-1][:N_EXTREMES])):
            for caption in captions:
                top = searcher.text_to_audio(caption, k=1)[0]
                records.append({"query": f"{kind}: “{caption}”", "direction": "text→audio",
                                "rank of right answer": round(float(per_caption[caption]), 1),
                                "right answer": "its clips (mean rank)",
                                "model's top answer": f"{top.clip_id} ({top.caption})"})
        players += [_audio_update() for _ in range(2 * N_EXTREMES - len(players))]
        return pd.DataFrame(records), players

    # ---- Search and Upload ------------------------------------------------------------

    def search(self, session: Session, query: str, k):
        """`python -m clapdemo search --text QUERY`: the top-k clips with players."""
        if not (query or "").strip():
            raise gr.Error("Type what you want to hear first, e.g. “dog barking”.")
        searcher = self.searcher(session)
        with user_errors("Search"):
            hits = searcher.text_to_audio(query, int(k))
        table = pd.DataFrame([{"rank": h.rank, "score": round(h.score, 3), SHARE: f"{h.relevance:.0%}",
                               "clip": h.clip_id, "label": h.label, "caption": h.caption} for h in hits])
        players = [_audio_update(h.audio_path, f"{h.rank}. {h.clip_id} — {h.caption} ({h.score:.3f})")
                   for h in hits[:N_PLAYERS]]
        players += [_audio_update() for _ in range(N_PLAYERS - len(players))]
        return (f"Top {len(hits)} clips for “{html.escape(query.strip())}” ({searcher.search_mode}).  \n{SCORES}",
                table, *players)

    def check_upload(self, path: str | None):
        """The uploaded clip as the encoder hears it, or a message that says what is wrong with it."""
        from clapdemo.audio import AudioError, audio_info, load_clip

        s = self.settings
        if not path:
            raise gr.Error("Upload an audio file or record one with the microphone first.")
        size_mb = os.path.getsize(path) / 1e6
        if size_mb == 0:
            raise gr.Error(f"{Path(path).name} is empty (0 bytes): upload a recording with sound in it.", duration=None)
        if size_mb > s.max_upload_mb:
            raise gr.Error(f"{Path(path).name} is {size_mb:.0f} MB; uploads are limited to {s.max_upload_mb:g} MB "
                           "(CLAPDEMO_MAX_UPLOAD_MB).", duration=None)
        try:
            seconds, _, _ = audio_info(path)
        except Exception as error:
            raise gr.Error(f"{Path(path).name} is not an audio file we can read ({type(error).__name__}). "
                           "Try WAV, FLAC, OGG or MP3.", duration=None) from error
        if seconds > s.max_upload_seconds:
            raise gr.Error(f"{Path(path).name} is {seconds / 60:.0f} min long; uploads are limited to "
                           f"{s.max_upload_seconds / 60:g} min (CLAPDEMO_MAX_UPLOAD_SECONDS). Cut a short clip "
                           "from it.", duration=None)
        audio_encoder, _ = self.encoders()
        try:
            wave = load_clip(path, audio_encoder.sample_rate, audio_encoder.clip_seconds)
        except AudioError as error:
            raise gr.Error(f"{Path(path).name}: {error.problem}", duration=None) from error
        if float(np.abs(wave).max(initial=0.0)) < 1e-4:
            raise gr.Error(f"{Path(path).name} is silent (no sound in its first {audio_encoder.clip_seconds:g} s): "
                           "nothing to describe.", duration=None)
        note = (f"{Path(path).name}: {seconds:.1f} s; the encoder hears the first {audio_encoder.clip_seconds:g} s"
                if seconds > audio_encoder.clip_seconds else f"{Path(path).name}: {seconds:.1f} s")
        return wave, note

    def describe_upload(self, session: Session, path: str | None, labels: str, k):
        """`python -m clapdemo search --audio FILE --labels ...`: top captions and nearest clips."""
        from clapdemo.runs import label_searcher

        wave, note = self.check_upload(path)
        extra = tuple(x.strip() for x in (labels or "").split(",") if x.strip())
        if self._store_problem(session):  # no dataset needed: the projection, your labels and AudioSet's
            with user_errors("Loading the projection"):
                searcher = label_searcher(_projection_file(session.projection or self.settings.projection),
                                          *self.encoders())
            note += (". No embeddings yet, so the candidates are your captions and the 527 AudioSet label "
                     "names (precompute a dataset to add its captions and see its nearest clips)")
        else:
            searcher = self.searcher(session)
        with user_errors("Describing the clip"):
            captions = searcher.audio_to_text(wave, int(k), extra)
            clips = searcher.audio_to_audio(wave, int(k)) if searcher.embeddings.n_clips else []
        caption_table = pd.DataFrame([{"rank": h.rank, "caption": h.caption, "score": round(h.score, 3),
                                       SHARE: f"{h.relevance:.0%}",
                                       "yours": "✓" if h.caption in extra else ""} for h in captions])
        clip_table = pd.DataFrame([{"rank": h.rank, "clip": h.clip_id, "score": round(h.score, 3),
                                    "label": h.label, "caption": h.caption} for h in clips],
                                  columns=["rank", "clip", "score", "label", "caption"])
        players = [_audio_update(h.audio_path, f"{h.rank}. {h.clip_id} — {h.caption} ({h.score:.3f})")
                   for h in clips[:N_EXTREMES]]
        players += [_audio_update() for _ in range(N_EXTREMES - len(players))]
        head = f"{note}. Best caption: **{captions[0].caption}** ({captions[0].score:.3f})." if captions else note
        head += f"  \n{SCORES}"
        return head, caption_table, clip_table, *players

    # ---- Joint space ------------------------------------------------------------------

    def joint_space(self, session: Session, color_by: str, pair_lines: bool):
        """UMAP of projected audio and text, computed once per (store, projection) and cached as .npy."""
        from clapdemo import plots
        from clapdemo.store import atomic_write_bytes

        searcher = self.searcher(session)
        emb = searcher.embeddings
        rows = np.arange(emb.n_clips)
        if len(rows) > UMAP_MAX_CLIPS:
            rows = np.sort(np.random.default_rng(0).choice(rows, UMAP_MAX_CLIPS, replace=False))
        captions = list(searcher.pool_captions)
        index = {c: i for i, c in enumerate(captions)}
        used = sorted({index[emb.captions[j]] for j in np.flatnonzero(np.isin(emb.text_clip, rows))})
        points = np.concatenate([searcher.audio[rows], searcher.pool_text[used]])
        key = hashlib.sha256(repr((_file_sha(_projection_file(session.projection)),
                                   _store_signature(session.store_dir), len(rows))).encode()).hexdigest()[:16]
        cache = Path(session.store_dir) / "umap" / f"{key}.npy"
        if not cache.is_file():
            job = session.jobs["umap"] = Job("umap", lambda job: plots.umap_2d(points))
            job.start()
            with user_errors("UMAP"):
                for _ in watch(job, interval=1.0):
                    if not job.finished.is_set():
                        yield (f"Computing the UMAP layout of {len(points)} points "
                               f"(once per store and projection; the first one takes ~30 s)… {job.seconds:.0f} s",
                               gr.skip())
                if job.error:
                    raise job.error
            import io

            buffer = io.BytesIO()
            np.save(buffer, job.result)
            atomic_write_bytes(cache, buffer.getvalue())
        xy = np.load(cache, allow_pickle=False)
        audio_xy, text_xy = xy[: len(rows)], xy[len(rows):]
        text_pos = {c: i for i, c in enumerate(used)}
        first = {}
        for j, clip in enumerate(emb.text_clip):
            first.setdefault(int(clip), index[emb.captions[j]])
        row_pos = {int(r): i for i, r in enumerate(rows)}
        pairs = [(row_pos[c], text_pos[t]) for c, t in first.items() if c in row_pos] if pair_lines else None
        labels = [emb.labels[r] for r in rows] if emb.labels else None
        text_labels = None
        if labels:
            label_of = {}
            for j, clip in enumerate(emb.text_clip):
                label_of.setdefault(index[emb.captions[j]], emb.labels[int(clip)])
            text_labels = [label_of.get(t, "") for t in used]
        fig = plots.joint_space(
            audio_xy, text_xy,
            audio_hover=[f"{Path(emb.audio_paths[r]).name}" + (f" ({emb.labels[r]})" if emb.labels else "") for r in rows],
            text_hover=[captions[t] for t in used], audio_class=labels, text_class=text_labels,
            pairs=pairs, color_by="class" if (color_by == "class" and labels) else "modality",
            title=f"Joint space: {len(rows)} clips, {len(used)} captions (UMAP, cosine)")
        yield (f"UMAP of {len(rows)} projected clips and {len(used)} captions (cached in `{cache}`).", fig)


# --------------------------------------------------------------------------- layout


def build_app(settings: Settings | None = None) -> gr.Blocks:
    """The Blocks of the app. Cheap: no model is loaded until a handler runs."""
    settings = settings or Settings.from_env()
    h = Handlers(settings)
    kind0 = settings.dataset if settings.dataset in DATASET_KINDS else "esc50"
    long_job = dict(concurrency_limit=None, show_progress="minimal")

    with gr.Blocks(title="clapdemo", analytics_enabled=False) as demo:
        session = gr.State(new_session)
        browser_key = gr.BrowserState(None, storage_key="clapdemo-session")  # brings the session back on reload
        gr.Markdown("# clapdemo — audio ↔ text retrieval with a trained linear projection", elem_id="title")
        header = gr.Markdown("Loading encoders…", elem_id="header", elem_classes=["clap-header"])

        with gr.Tabs():
            with gr.Tab("Data & embeddings", id="data"):
                if settings.data_problem:
                    gr.Markdown(settings.data_problem, elem_id="data-empty", elem_classes=["clap-empty"])
                with gr.Row():
                    kind = gr.Dropdown(list(DATASET_KINDS), value=kind0, label="dataset", elem_id="dataset-kind")
                    split = gr.Dropdown(SPLITS[kind0], value=SPLITS[kind0][0], label="split",
                                        allow_custom_value=True, elem_id="dataset-split")
                    show = gr.Button("Show dataset", elem_id="show-dataset")
                data_summary = gr.Markdown(elem_id="data-summary")
                examples = _table("data-examples", "first clips", "clip_id", "label", "captions", "file")
                with gr.Row():
                    example_players = [gr.Audio(label="example", visible=False, interactive=False,
                                                elem_id=f"example-{i}") for i in range(N_EXAMPLES)]
                store_status = gr.Markdown(elem_id="store-status")
                with gr.Row():
                    precompute_btn = gr.Button("Precompute embeddings", variant="primary", elem_id="precompute")
                    precompute_stop = gr.Button("Stop", elem_id="precompute-stop")
                precompute_progress = gr.HTML(elem_id="precompute-progress")
                precompute_log = gr.Markdown(elem_id="precompute-log")

            with gr.Tab("Train", id="train") as train_tab:
                gr.Markdown("Train the linear projection on the active embeddings (a share of the clips is held "
                            "out for validation). Same as `python -m clapdemo train`.")
                with gr.Row():
                    epochs = gr.Number(50, label="epochs", precision=0, minimum=1, elem_id="epochs")
                    batch_size = gr.Number(256, label="batch size", precision=0, minimum=2, elem_id="batch-size")
                    lr = gr.Number(0, label="learning rate (0: follows the init)", minimum=0, elem_id="lr")
                    weight_decay = gr.Number(1e-4, label="weight decay", elem_id="weight-decay")
                with gr.Row():
                    init = gr.Dropdown(list(INITS), value=DEFAULT_INIT, label="start from", elem_id="init",
                                       info="audioset-labels: the text vectors of the 527 AudioSet label names "
                                       "(stores of EfficientAT logits; best on unseen classes); auto: that when "
                                       "the store allows, else random")
                    learn_t = gr.Checkbox(True, label="learnable temperature", elem_id="learn-temperature")
                    patience = gr.Number(10, label="early-stop patience (0 = never)", precision=0, minimum=0,
                                         elem_id="patience")
                    val_fraction = gr.Number(0.1, label="validation share", minimum=0.01, maximum=0.9,
                                             elem_id="val-fraction")
                with gr.Row():
                    train_btn = gr.Button("Start training", variant="primary", elem_id="train-start")
                    train_stop = gr.Button("Stop", elem_id="train-stop")
                    use_run = gr.Button("Use this projection", elem_id="use-run")
                    use_shipped = gr.Button("Use the shipped projection", elem_id="use-shipped")
                with gr.Row():
                    past = gr.Dropdown([], label="past runs of the active store (finished or cut short)",
                                       elem_id="past-runs", scale=4)
                    past_refresh = gr.Button("↻ runs", elem_id="past-refresh", scale=0)
                    make_active = gr.Button("Make active", elem_id="make-active", scale=0)
                train_status = gr.Markdown(elem_id="train-status")
                train_plot = gr.Plot(label="loss curve", elem_id="loss-curve")
                train_metrics = _table("train-metrics", "validation metrics of the best epoch", *METRIC_COLUMNS)

            with gr.Tab("Evaluate", id="evaluate") as eval_tab:
                with gr.Row():
                    eval_store = gr.Dropdown([], label="evaluate on store (default: the active one)",
                                             allow_custom_value=False, elem_id="eval-store", scale=3)
                    eval_refresh = gr.Button("↻ stores", elem_id="eval-refresh", scale=0)
                    eval_held_out = gr.Checkbox(False, label="held-out clips only", elem_id="eval-held-out",
                                                info="leave out the clips the projection was trained on")
                    eval_btn = gr.Button("Evaluate the active projection", variant="primary", elem_id="evaluate")
                eval_note = gr.Markdown(elem_id="eval-note")
                eval_table = _table("eval-table", "accuracy@k (course protocol) beside random", *EVAL_COLUMNS)
                eval_plot = gr.Plot(label="model vs random", elem_id="eval-plot")
                eval_papers = _table("eval-papers", "R@k and mAP@10 over all captions (papers' protocol)",
                                     *EVAL_COLUMNS)
                eval_extremes = _table("eval-extremes", "best and worst queries", "query", "direction",
                                       "rank of right answer", "right answer", "model's top answer")
                with gr.Row():
                    extreme_players = [gr.Audio(visible=False, interactive=False, elem_id=f"extreme-{i}")
                                       for i in range(2 * N_EXTREMES)]

            with gr.Tab("Search", id="search"):
                with gr.Row():
                    query = gr.Textbox(label="describe a sound", placeholder="dog barking", elem_id="query", scale=4)
                    k = gr.Slider(1, 20, value=5, step=1, label="results", elem_id="search-k")
                    search_btn = gr.Button("Search", variant="primary", elem_id="search")
                gr.Examples([["dog barking"], ["rain falling on a roof"], ["a rooster crowing"]], inputs=[query])
                search_note = gr.Markdown(elem_id="search-note")
                search_table = _table("search-results", None, "rank", "score", SHARE, "clip", "label", "caption")
                search_players = [gr.Audio(visible=False, interactive=False, elem_id=f"hit-{i}")
                                  for i in range(N_PLAYERS)]

            with gr.Tab("Upload", id="upload"):
                with gr.Row():
                    upload = gr.Audio(sources=["upload", "microphone"], type="filepath", label="a clip",
                                      elem_id="upload-audio")
                    with gr.Column():
                        labels = gr.Textbox(label="extra candidate captions, comma-separated",
                                            placeholder="a cat meowing, a car horn", elem_id="upload-labels")
                        upload_k = gr.Slider(1, 20, value=5, step=1, label="results", elem_id="upload-k")
                        upload_btn = gr.Button("Describe this clip", variant="primary", elem_id="describe")
                upload_note = gr.Markdown(elem_id="upload-note")
                with gr.Row():
                    upload_captions = _table("upload-captions", "top captions", "rank", "caption", "score",
                                             SHARE, "yours")
                    upload_clips = _table("upload-clips", "nearest clips", "rank", "clip", "score", "label", "caption")
                with gr.Row():
                    upload_players = [gr.Audio(visible=False, interactive=False, elem_id=f"near-{i}")
                                      for i in range(N_EXTREMES)]

            with gr.Tab("Joint space", id="joint"):
                with gr.Row():
                    color_by = gr.Radio(["modality", "class"], value="modality", label="colour by",
                                        elem_id="umap-color")
                    pair_lines = gr.Checkbox(False, label="lines between true pairs", elem_id="umap-lines")
                    umap_btn = gr.Button("Show the joint space", variant="primary", elem_id="umap")
                umap_note = gr.Markdown(elem_id="umap-note")
                umap_plot = gr.Plot(label="UMAP of projected audio and text", elem_id="umap-plot")

            with gr.Tab("Library", id="library"):  # your own folder of sounds: clapdemo/ui_library.py
                from clapdemo.ui_library import build_library_tab

                build_library_tab(settings, h.encoders, session)

        # ---- wiring ----------------------------------------------------------------------
        def on_load(s, key):
            s, key = h.sessions.attach(s, key)
            s, text = h.init_session(s)
            return s, key, text, h.store_choices(s), h.run_choices(s)

        loaded = demo.load(on_load, [session, browser_key], [session, browser_key, header, eval_store, past])
        on(loaded.then, h.follow_training, [session], [train_plot, train_status, train_metrics], train_status,
           **long_job)  # a job that outlived the last page shows here
        data_outputs = [data_summary, examples, *example_players, store_status]
        if not settings.data_problem:
            on(demo.load, h.show_dataset, [session, kind, split], data_outputs, data_summary)
        kind.change(lambda x: gr.update(choices=SPLITS[x], value=SPLITS[x][0]), [kind], [split])
        on(show.click, h.show_dataset, [session, kind, split], data_outputs, data_summary)
        on(precompute_btn.click, h.precompute, [session, kind, split],
           [precompute_progress, precompute_log, header, store_status, eval_store], precompute_log, **long_job)
        on(precompute_stop.click, lambda s: h.stop(s, "precompute"), [session], [precompute_log], precompute_log,
           concurrency_limit=None)

        on(train_btn.click, h.train,
           [session, epochs, batch_size, lr, weight_decay, learn_t, patience, val_fraction, init],
           [train_plot, train_status, train_metrics], train_status, **long_job)
        on(train_stop.click, lambda s: h.stop(s, "train"), [session], [train_status], train_status,
           concurrency_limit=None)
        on(use_run.click, h.use_last_run, [session], [train_status, header], train_status)
        on(use_shipped.click, h.use_shipped, [session], [train_status, header], train_status)
        on(make_active.click, h.use_run, [session, past], [train_status, header], train_status)
        on(past_refresh.click, h.run_choices, [session], [past], train_status)
        train_tab.select(h.run_choices, [session], [past])

        on(eval_refresh.click, h.store_choices, [session], [eval_store], eval_note)
        eval_tab.select(h.store_choices, [session], [eval_store])
        on(eval_btn.click, h.evaluate, [session, eval_store, eval_held_out],
           [eval_note, eval_table, eval_papers, eval_plot, eval_extremes, *extreme_players], eval_note)

        search_outputs = [search_note, search_table, *search_players]
        on(search_btn.click, h.search, [session, query, k], search_outputs, search_note)
        on(query.submit, h.search, [session, query, k], search_outputs, search_note)
        on(upload_btn.click, h.describe_upload, [session, upload, labels, upload_k],
           [upload_note, upload_captions, upload_clips, *upload_players], upload_note)
        on(umap_btn.click, h.joint_space, [session, color_by, pair_lines], [umap_note, umap_plot], umap_note,
           **long_job)
    demo.queue(default_concurrency_limit=4)
    return demo
