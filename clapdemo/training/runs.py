"""A trained run on disk: load it (projection and record), what it trained on, the encoders it
needs, naming a new run folder, and the past runs in a folder.

Using a run against a store lives beside: `clapdemo.evaluation.evaluate` (metrics, zero-shot, extremes) and
`clapdemo.search.searchers` (a Searcher over a store or over the AudioSet label names, the FAISS index).
"""

from __future__ import annotations

import json
from pathlib import Path

from clapdemo.encoders.identity import check_same_encoders
from clapdemo.encoders import cached_audio_encoder, cached_text_encoder
from clapdemo.training.model import FILENAME, load_projection, projection_file
from clapdemo.training.run_record import CLIPS_FILE, RunInfo, load_run_info


def load_run(run) -> tuple[object, RunInfo]:
    """(projection model, its RunInfo) from a run directory or a projection.safetensors file.

    A shipped run (assets/projection) is checked against assets/SHA256SUMS first
    (`sample_set.check_shipped`): a damaged file is named, never loaded."""
    from clapdemo.training.run_record import RUN_FILE
    from clapdemo.data.sample_set import check_shipped

    file = projection_file(run)
    for path in (file, file.parent / RUN_FILE, file.parent / CLIPS_FILE):
        if path.is_file():
            check_shipped(path)
    model, _ = load_projection(file)
    return model, load_run_info(run)


def run_data(info: RunInfo) -> dict:
    """What a run trained on (`RunInfo.data`): encoder identities and the store's dataset record."""
    return info.data


def best_epoch_of(info: RunInfo):
    """The epoch whose weights the run kept ("?" if its record does not say)."""
    return "?" if info.best_epoch is None else info.best_epoch


def encoders_of(info: RunInfo) -> dict:
    """The encoder identities a projection was trained with (`RunInfo.encoders`)."""
    return info.encoders


def trained_clip_ids(run) -> set[str]:
    """The clip ids the run trained and validated on (train_clips.json beside it; empty if absent)."""
    clips = _clips_record(run)
    return set(clips.get("train", [])) | set(clips.get("val", []))


def trained_audio_hashes(run) -> set[str]:
    """The sha256 of the audio files the run trained and validated on (train_clips.json "sha256";
    empty for a run recorded before it was kept). A clip copied under another name is still the
    clip the run learned from: ids alone let it pass as held out (issue 19 item 8)."""
    return set(_clips_record(run).get("sha256", []))


def _clips_record(run) -> dict:
    from clapdemo.data.sample_set import check_shipped

    path = projection_file(run).parent / CLIPS_FILE
    if not path.is_file():
        return {}
    check_shipped(path)
    return json.loads(path.read_text(encoding="utf-8"))


def encoders_for_store(manifest: dict, need_audio: bool = True, need_text: bool = True, what: str = "the store"):
    """Load the encoders a store (or a run: its `RunInfo.encoders`) was made with, and check they are
    the same (`encoders.identity.check_same_encoders`)."""
    audio = text = None
    if need_audio:
        audio = cached_audio_encoder(manifest["audio_encoder"]["name"])
        check_same_encoders(manifest["audio_encoder"], audio, what, "the encoder loaded now", "audio_encoder")
    if need_text:
        text = cached_text_encoder(manifest["text_encoder"]["name"])
        check_same_encoders(manifest["text_encoder"], text, what, "the encoder loaded now", "text_encoder")
    return audio, text


def new_run_dir(runs_folder, tag: str) -> Path:
    """runs_folder/<time>-<tag>, with a suffix when two runs start within the same second."""
    import time

    base = Path(runs_folder) / f"{time.strftime('%Y%m%d-%H%M%S')}-{tag}"
    run_dir, n = base, 1
    while run_dir.exists():
        n += 1
        run_dir = base.with_name(f"{base.name}-{n}")
    return run_dir


def runs_with_checkpoints(runs_folder, store_manifest: dict | None = None, tag: str | None = None
                          ) -> list[tuple[Path, RunInfo]]:
    """(run folder, its record) of every run under `runs_folder` with a checkpoint, newest first, finished
    or cut short (a run keeps its best checkpoint as it goes). With `store_manifest`, only runs on
    vectors of the same dataset and encoders (run.json "data" against the store's manifest); with `tag`,
    only the runs `new_run_dir` made with that tag (the app's: one session's runs, never another's)."""
    out = []
    for run_json in sorted(Path(runs_folder).glob("*/run.json"), reverse=True):
        run = run_json.parent
        if tag is not None and not made_with_tag(run.name, tag):
            continue
        if not (run / FILENAME).is_file():
            continue
        try:
            info = load_run_info(run)
        except (OSError, ValueError):
            continue
        if store_manifest is not None and any(store_manifest.get(k) != v for k, v in info.data.items()):
            continue
        out.append((run, info))
    return out


def made_with_tag(run_name: str, tag: str) -> bool:
    """Whether `new_run_dir` named this folder for `tag` (<date>-<time>-<tag>[-n])."""
    return run_name.split("-")[2:3] == [tag]


def past_runs(runs_folder, store_manifest: dict | None = None) -> list[tuple[str, str]]:
    """(label, run folder) of `runs_with_checkpoints`, for the CLI's list."""
    return [(f"{run.name} — {info.status or '?'}, {len(info.history)} epochs, best epoch {best_epoch_of(info)}",
             str(run)) for run, info in runs_with_checkpoints(runs_folder, store_manifest)]
