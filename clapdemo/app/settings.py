"""Where the app reads and writes: `Settings`, from CLAPDEMO_* environment variables or flags.

Reading settings loads no model and imports no torch (`import app` stays cheap): the
projection's encoders are read from its run.json, not its weights.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from pathlib import Path

from clapdemo.data.dataset import DATASET_KINDS
from clapdemo.data.datasets import guess_dataset_kind
from clapdemo.data.sample_set import SAMPLE_ROOT
from clapdemo.shipped import ASSETS
from clapdemo.stores.store import DEFAULT_CACHE

DEFAULT_PROJECTION = ASSETS / "projection"
NO_DATA = (
    "**No dataset yet.** Point the app at a dataset folder: set `CLAPDEMO_DATA_ROOT=/path/to/data` "
    "(and optionally `CLAPDEMO_DATASET=esc50|audiocaps|clotho|folder`) or start it with "
    "`python app.py --data-root /path/to/data`. ESC-50: the folder holding `esc50.csv` (or `meta/esc50.csv`) "
    "and `audio/`. AudioCaps: the folder holding `audiocaps/` (course zip) or the original CSVs. Clotho: "
    "`clotho_captions_<split>.csv` beside the audio. Any folder of audio files with a `captions.csv` "
    "(file,caption) works as `folder`."
)


@dataclass
class Settings:
    """Where the app reads and writes, from environment variables or command-line flags.

    data_root:   dataset folder (CLAPDEMO_DATA_ROOT, --data-root); default: the sample set that ships
                 in assets/esc50-sample (ESC-50 clips, read with its shipped store; clapdemo.data.sample_set).
    dataset:     reader kind (CLAPDEMO_DATASET, --dataset); guessed from the folder if unset.
    cache:       where stores, runs and UMAP layouts go (CLAPDEMO_CACHE, default ~/.cache/clapdemo).
    projection:  the projection active when a session opens (CLAPDEMO_PROJECTION, default
                 assets/projection, the one that ships with the app).
    text_encoder / audio_encoder: registry names (CLAPDEMO_TEXT_ENCODER, default "auto";
                 CLAPDEMO_AUDIO_ENCODER, default "mn04_as").
    max_upload_mb / max_upload_seconds: caps on an uploaded clip (CLAPDEMO_MAX_UPLOAD_MB,
                 CLAPDEMO_MAX_UPLOAD_SECONDS).
    max_epochs:  the most epochs a visitor may train (CLAPDEMO_MAX_EPOCHS, default 500: minutes, not days).
    session_quota_mb / total_quota_mb: disk that uploads (own clips, Library) may take in the cache, one
                 session's and every session's together (CLAPDEMO_SESSION_QUOTA_MB, default 200;
                 CLAPDEMO_TOTAL_QUOTA_MB, default 2000): a public Space's disk is small and shared.
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
    max_epochs: int = 500
    session_quota_mb: float = 200.0
    total_quota_mb: float = 2000.0
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
            cache=_abs(pick(args.cache, "CLAPDEMO_CACHE", DEFAULT_CACHE, "--cache")),
            projection=_abs(pick(args.projection, "CLAPDEMO_PROJECTION", DEFAULT_PROJECTION, "--projection")),
            text_encoder=pick(args.text_encoder, "CLAPDEMO_TEXT_ENCODER", "auto", "--text-encoder"),
            audio_encoder=pick(args.audio_encoder, "CLAPDEMO_AUDIO_ENCODER", "mn04_as", "--audio-encoder"),
            max_upload_mb=float(env.get("CLAPDEMO_MAX_UPLOAD_MB", 20)),
            max_upload_seconds=float(env.get("CLAPDEMO_MAX_UPLOAD_SECONDS", 600)),
            max_epochs=int(env.get("CLAPDEMO_MAX_EPOCHS", 500)),
            session_quota_mb=float(env.get("CLAPDEMO_SESSION_QUOTA_MB", 200)),
            total_quota_mb=float(env.get("CLAPDEMO_TOTAL_QUOTA_MB", 2000)),
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

    def upload_limits(self) -> str:
        """The limits a visitor's upload must keep, said where a missing file is reported: a file over
        the size limit is refused by the page (Gradio's max_file_size) and never reaches a handler."""
        return (f"up to {self.max_upload_mb:g} MB and {self.max_upload_seconds / 60:g} min a file; a larger "
                "file is refused by the page before it reaches the app")

    def upload_quota(self, session_id: str):
        """The disk quotas for one session's uploads (`search.visitor_uploads.Quota`)."""
        from clapdemo.search.visitor_uploads import Quota

        return Quota(self.cache, session_id, int(self.session_quota_mb * 1e6), int(self.total_quota_mb * 1e6))

    @property
    def data_problem(self) -> str | None:
        """Why there is no usable dataset (None when there is one)."""
        if self.data_root is None:
            return NO_DATA
        if not self.data_root.is_dir():
            return (f"**Dataset folder not found:** `{self.data_root.name}` ({self.why.get('CLAPDEMO_DATA_ROOT', '')}) "
                    "does not exist or is not a folder. " + NO_DATA.split("**", 2)[2])
        if self.dataset not in DATASET_KINDS:
            return f"**Unknown dataset kind** `{self.dataset}`; CLAPDEMO_DATASET must be one of {', '.join(DATASET_KINDS)}."
        return None


def launch_options(settings: Settings) -> dict:
    """Keyword arguments for `demo.launch`: tight file access, upload cap, port.

    Gradio serves `allowed_paths` to anyone who asks for `/gradio_api/file=<path>`, so only the
    configured data (the shipped sample set by default) is there, never the cache: what sessions
    write there (their own clips, runs, library uploads) reaches a page only as a copy under an
    unguessable name (`clapdemo.app.served`)."""
    allowed = []
    if settings.data_root is not None:
        allowed += [str(settings.data_root), str(settings.data_root.resolve())]
    options = dict(allowed_paths=sorted(set(allowed)), max_file_size=int(settings.max_upload_mb * 1024 * 1024),
                   show_error=True)
    if settings.port:
        options["server_port"] = settings.port
    if settings.host:
        options["server_name"] = settings.host
    return options


def below_roots(path_text, roots) -> Path | None:
    """`path_text` resolved (links followed), if it is one of `roots` or lies below one; else None.

    The one rule for every path a visitor types (the Library's folder, the Train tab's label-pair
    store, Evaluate's store): the caller answers None with one message whether the path is
    forbidden or does not exist, so a visitor learns nothing about the server's other folders."""
    text = str(path_text or "").strip()
    if not text:
        return None
    try:
        path = Path(text).expanduser().resolve()
    except (OSError, RuntimeError, ValueError):  # a link loop, a NUL byte
        return None
    return path if any(path.is_relative_to(Path(r).resolve()) for r in roots) else None


def _encoders_of_projection(projection: Path) -> dict[str, str]:
    """{"audio_encoder": name, "text_encoder": name} the active projection was trained with.

    With no encoder asked for, the app uses these: otherwise "auto" would pick
    CLIP wherever the hub answers (a Space) and the shipped MiniLM projection
    would not fit it, so Search would fail before anyone trained."""
    from clapdemo.training.run_record import load_run_info

    try:  # run.json, not the weights: importing the app must stay free of torch
        data = load_run_info(projection, weights_file=False).data
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


def _abs(path) -> Path:
    return Path(path).expanduser().absolute()
