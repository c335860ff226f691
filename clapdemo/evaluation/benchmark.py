"""`python -m clapdemo benchmark --run R`: a projection on real clips it never trained on.

The out-of-domain suite, every figure on real audio, each beside chance and the *untrained label
bridge* (mn04's AudioSet probabilities weighting the text vectors of their 527 label names, no
training at all: what the encoders agree on by themselves):

- ``urbansound8k``: zero-shot top-1 among UrbanSound8K's 10 classes (captions "the sound of {class}"
  as the store holds them). No projection here trains on UrbanSound8K: every class is unseen.
- ``tag_overlap``: on the same clips, the share of the projection's 5 nearest AudioSet label names
  ("the sound of {label}") that are among the encoder's own 5 highest outputs (0..1, mean over
  clips): does the joint space keep what the encoder hears. The bridge scores high by construction.
- ``esc50_held_out``: the ESC-50 clips the run never trained or validated on, classified among all 50
  class names. Their classes are *seen* classes when the run trained on ESC-50 clips of them (the
  shipped projection: a held-out half of every class): held-out clips, not zero-shot.
- ``esc50_unseen_classes``: the clips of the ESC-50 classes none of whose clips the run trained on,
  among those classes (zero-shot); only when the run left out at least 2. The 10-unseen-classes
  protocol, which retrains a recipe per split, is `python -m clapdemo recipes`.

Stores come from `open_benchmark_store` (a store folder, or a dataset folder embedded once into the
cache with the run's encoders).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from clapdemo import logs
from clapdemo.stores.embedding_set import EmbeddingSet

logger = logs.get(__name__)

TOP_K_TAGS = 5
MEASURES = {
    "urbansound8k": "UrbanSound8K zero-shot top-1 among its 10 classes",
    "tag_overlap": f"UrbanSound8K: top-{TOP_K_TAGS} tag overlap (the projection's nearest AudioSet names among the encoder's own top {TOP_K_TAGS})",
    "esc50_held_out": "ESC-50 held-out clips among all 50 classes",
    "esc50_unseen_classes": "ESC-50 clips of classes the run never trained on, among those classes (zero-shot)",
}


def class_zero_shot(audio_proj: np.ndarray, embeddings: EmbeddingSet, rows=None, among=None) -> float:
    """Top-1 of `rows` of a store with classes (`embeddings.labels`) by the nearest class prompt,
    among every class of the store or the names in `among`. `audio_proj`: unit projected audio of `rows`."""
    from clapdemo.evaluation.metrics import zero_shot_accuracy
    from clapdemo.evaluation.evaluate import class_prompts

    names, vectors = class_prompts(embeddings)
    rows = np.arange(embeddings.n_clips) if rows is None else np.asarray(rows)
    chosen = [n for n in names if among is None or n in among]
    index = {n: i for i, n in enumerate(chosen)}
    keep = [names.index(n) for n in chosen]
    labels = [index[embeddings.labels[i]] for i in rows]
    return zero_shot_accuracy(audio_proj, np.asarray(vectors)[keep], labels, ks=(1,))["zero_shot_acc@1"]


def tag_overlap(audio_proj: np.ndarray, encoder_outputs: np.ndarray, label_matrix: np.ndarray,
                k: int = TOP_K_TAGS) -> float:
    """Mean share of each clip's k nearest AudioSet label vectors (projected audio against
    `label_matrix`, (527, dim) unit rows) that are among its k highest encoder outputs."""
    nearest = np.argsort(-(audio_proj @ np.asarray(label_matrix).T), axis=1)[:, :k]
    heard = np.argsort(-np.asarray(encoder_outputs, dtype=np.float32), axis=1)[:, :k]
    return float(np.mean([len(set(a) & set(b)) / k for a, b in zip(nearest, heard)]))


def bridge_model(label_matrix: np.ndarray):
    """The untrained label bridge as a projection of mn04 logits: sigmoid, then p @ label_matrix."""
    from clapdemo.training.model import AudioProjection, ProjectionConfig
    from clapdemo.training.projection_init import label_bridge_init

    labels = np.asarray(label_matrix, dtype=np.float32)
    model = AudioProjection(ProjectionConfig(labels.shape[0], labels.shape[1], input_transform="sigmoid"))
    label_bridge_init(labels, "zero")(model)
    return model.eval()


def measure(model, label_matrix: np.ndarray, urbansound8k: EmbeddingSet | None = None,
            esc50: EmbeddingSet | None = None, seen_clips: set[str] = frozenset()) -> dict:
    """The suite's figures for one projection `model` (fractions); a measure whose store is absent
    (or, for ESC-50, whose clips the run all trained on) is left out. n_* say how many clips."""
    from clapdemo.evaluation.metrics import project_audio

    out: dict = {}
    if urbansound8k is not None:
        audio = project_audio(model, urbansound8k.audio)
        out["urbansound8k"] = class_zero_shot(audio, urbansound8k)
        out["tag_overlap"] = tag_overlap(audio, urbansound8k.audio, label_matrix)
        out["n_urbansound8k"] = urbansound8k.n_clips
        out["n_urbansound8k_classes"] = len(set(urbansound8k.labels))
    if esc50 is not None:
        unseen = [i for i, c in enumerate(esc50.clip_ids) if c not in seen_clips]
        if unseen:
            audio = project_audio(model, esc50.audio[unseen])
            out["esc50_held_out"] = class_zero_shot(audio, esc50, unseen)
            out["n_esc50_held_out"] = len(unseen)
        trained = {esc50.labels[i] for i, c in enumerate(esc50.clip_ids) if c in seen_clips}
        never = sorted(set(esc50.labels) - trained)
        if len(never) >= 2 and trained:
            rows = [i for i, label in enumerate(esc50.labels) if label in never]
            out["esc50_unseen_classes"] = class_zero_shot(project_audio(model, esc50.audio[rows]), esc50, rows, never)
            out["n_esc50_unseen_classes"] = len(never)
    return out


def chance(urbansound8k: EmbeddingSet | None, esc50: EmbeddingSet | None, figures: dict) -> dict:
    """The random baseline of each measure (top-1: 1/classes; tag overlap: k/527)."""
    from clapdemo.training.projection_init import N_AUDIOSET_CLASSES

    out = {}
    if urbansound8k is not None:
        out["urbansound8k"] = 1 / len(set(urbansound8k.labels))
        out["tag_overlap"] = TOP_K_TAGS / N_AUDIOSET_CLASSES
    if esc50 is not None:
        out["esc50_held_out"] = 1 / len(set(esc50.labels))
        if "n_esc50_unseen_classes" in figures:
            out["esc50_unseen_classes"] = 1 / figures["n_esc50_unseen_classes"]
    return out


def run_benchmark(run, urbansound8k: EmbeddingSet | None = None, esc50: EmbeddingSet | None = None,
                  load_text_encoder=None) -> dict:
    """{"run": figures, "bridge": figures, "chance": figures, "targets": TARGETS} for a run directory
    (or projection file) on the stores given (made with the run's encoders)."""
    from clapdemo.encoders.identity import check_same_encoders
    from clapdemo.training.projection_init import label_matrix_for
    from clapdemo.training.runs import load_run, trained_clip_ids

    model, info = load_run(run)
    stores = [s for s in (urbansound8k, esc50) if s is not None]
    if not stores:
        raise ValueError("benchmark needs at least one store: --urbansound8k and/or --esc50")
    for store in stores:
        check_same_encoders(info.encoders, store.meta, f"the run {Path(run).name}", "the benchmark store")
    labels, _ = label_matrix_for(stores[0].meta, "the benchmark store", load_text_encoder)
    seen = trained_clip_ids(run)
    mine = measure(model, labels, urbansound8k, esc50, seen)
    bridge = measure(bridge_model(labels), labels, urbansound8k, esc50, seen)
    return {"run": mine, "bridge": bridge, "chance": chance(urbansound8k, esc50, mine), "targets": TARGETS}


# What the shipped projection must reach (issue 20); esc50_unseen_classes is the recipe's 10-class figure.
TARGETS = {"urbansound8k": 0.65, "tag_overlap": 0.5, "esc50_held_out": 0.85, "esc50_unseen_classes": 0.80}


def open_benchmark_store(path, kind: str, run_info, cache) -> EmbeddingSet:
    """A store folder as it is, or a dataset folder (`kind`: "urbansound8k", "esc50") embedded once
    with the run's encoders into `cache`/stores (the app's cache layout) and read from there."""
    from clapdemo.stores.store import cache_store_dir, open_store

    path = Path(path)
    if (path / "manifest.json").is_file():
        return open_store(path)
    from clapdemo.data.datasets import load_dataset
    from clapdemo.encoders import cached_audio_encoder, cached_text_encoder
    from clapdemo.stores.precompute import precompute

    audio_name = (run_info.data.get("audio_encoder") or {}).get("name")
    text_name = (run_info.data.get("text_encoder") or {}).get("name")
    if not audio_name or not text_name:
        raise ValueError("the run's record names no encoders; pass stores made with its encoders instead of folders")
    out = cache_store_dir(cache, kind, "all", audio_name, text_name, path)
    dataset = load_dataset(kind, path)
    logger.info("embedding %s (%s) into %s", path, dataset.summary(), out)
    precompute(dataset, cached_audio_encoder(audio_name), cached_text_encoder(text_name), out, progress=False)
    return open_store(out)


def render(result: dict) -> str:
    """The suite as a markdown table: the run, the untrained bridge, chance, the target (percent; overlap 0..1)."""
    lines = ["| measure | this run | untrained label bridge | chance | target (shipped) |", "|---|---|---|---|---|"]
    for key, title in MEASURES.items():
        if key not in result["run"] and key not in result["bridge"]:
            continue
        fmt = (lambda v: f"{v:.2f}") if key == "tag_overlap" else (lambda v: f"{100 * v:.1f} %")
        cells = [fmt(result[part][key]) if key in result[part] else "–" for part in ("run", "bridge", "chance")]
        n = result["run"].get(f"n_{key}") or result["run"].get("n_urbansound8k" if key == "tag_overlap" else "")
        lines.append(f"| {title}{f' ({n} clips)' if key != 'esc50_unseen_classes' and n else ''} | "
                     + " | ".join(cells) + f" | {fmt(result['targets'][key])} |")
    return "\n".join(lines)
