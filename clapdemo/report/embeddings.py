"""The report's inputs, embedded once: the ESC-50 clips (every audio output, both windows, cached
in OUT/cache: `load_clips`, `Clips`) and the prompts' text vectors per text encoder (`TextBank`)."""

from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from clapdemo import logs
from clapdemo.files import atomic_write
from clapdemo.evaluation.metrics import normalise
from clapdemo.training.projection_init import LABEL_TEMPLATE, label_text_matrix
from clapdemo.report.config import WINDOWS, ReportConfig

logger = logs.get(__name__)


# ----------------------------------------------------------------------------- the clips, embedded once


@dataclass
class Clips:
    """The ESC-50 clips as the report uses them.

    ids, paths: per clip; label: (n,) class index into `classes` (human names, ESC-50 target order);
    audio: {"<output>@<window>": (n, dim) float32}; identity: the audio encoder's identity dict.
    """

    ids: list[str]
    paths: list[str]
    label: np.ndarray
    classes: list[str]
    audio: dict[str, np.ndarray]
    identity: dict = field(default_factory=dict)

    def features(self, output: str, window: str) -> np.ndarray:
        key = f"{output}@{window}"
        if output == "probs" and key not in self.audio:
            return 1.0 / (1.0 + np.exp(-self.audio[f"logits@{window}"]))
        return self.audio[key]


def load_clips(cfg: ReportConfig, audio_encoder=None, log: Callable[[str], None] = logger.info) -> Clips:
    """Every clip of the ESC-50 folder embedded with `cfg.audio_encoder`: all outputs, both windows.

    Read from OUT/cache when its key (encoder identity, clip ids, windows) matches."""
    from clapdemo.data.esc50 import esc50_class_names, read_esc50

    dataset = read_esc50(cfg.data_root)
    table = dataset.clips
    if cfg.clips_per_class:
        table = table.groupby("label", sort=False).head(cfg.clips_per_class)
    table = table.sort_values("clip_id").reset_index(drop=True)
    classes = esc50_class_names(cfg.data_root)
    index = {c: i for i, c in enumerate(classes)}
    label = np.array([index[c] for c in table["label"]], dtype=np.int64)
    ids, paths = list(map(str, table["clip_id"])), list(map(str, table["audio_path"]))
    if audio_encoder is None:
        from clapdemo.encoders import load_audio_encoder

        audio_encoder = load_audio_encoder(cfg.audio_encoder)
    identity = audio_encoder.identity.to_dict()
    identity["name"] = identity["name"].split(":")[0]  # every output comes from the same forward
    identity["preprocessing"] = {k: v for k, v in identity["preprocessing"].items() if k != "output"}
    cache = Path(cfg.out) / "cache"
    key = {"format": "clapdemo.report.audio", "version": 1, "encoder": identity, "clip_ids": ids,
           "windows": list(WINDOWS)}
    audio = _read_cache(cache, key)
    if audio is None:
        start = time.perf_counter()
        audio = embed_all_outputs(audio_encoder, paths, log)
        log(f"embedded {len(ids)} clips (3 outputs x {len(WINDOWS)} windows) in {time.perf_counter() - start:.0f} s")
        _write_cache(cache, key, audio)
    else:
        log(f"read {len(ids)} embedded clips from {cache}")
    return Clips(ids, paths, label, classes, audio, identity)


def embed_all_outputs(encoder, paths: list[str], log: Callable[[str], None] = logger.info,
                      batch_size: int = 16) -> dict[str, np.ndarray]:
    """{"<output>@<window>": (n, dim)} for every file: one forward per window gives pooled, head, logits.

    "10s": each clip zero-padded to the encoder's window, as precompute does; "clip": the
    clip as long as it is (ESC-50: 5 s), batched with clips of the same length."""
    from clapdemo.data.audio import fit_length, load_audio

    window = int(round(encoder.clip_seconds * encoder.sample_rate))
    waves = [load_audio(p, encoder.sample_rate, encoder.clip_seconds) for p in paths]
    out: dict[str, list] = {}
    for name in WINDOWS:
        fitted = [fit_length(w, window) if name == "10s" else w for w in waves]
        rows = np.empty(len(fitted), dtype=object)
        by_length: dict[int, list[int]] = {}
        for i, w in enumerate(fitted):
            by_length.setdefault(len(w), []).append(i)
        for idx in by_length.values():
            for s in range(0, len(idx), batch_size):
                part = idx[s:s + batch_size]
                result = encoder.forward_all(np.stack([fitted[i] for i in part]))
                for output in ("pooled", "head", "logits"):
                    vectors = getattr(result, output).float().cpu().numpy()
                    for i, v in zip(part, vectors):
                        out.setdefault(f"{output}@{name}", [None] * len(fitted))[i] = v
        log(f"  window {name}: {len(fitted)} clips embedded")
    return {k: np.stack(v).astype(np.float32) for k, v in out.items()}


def _read_cache(folder: Path, key: dict) -> dict[str, np.ndarray] | None:
    try:
        if json.loads((folder / "key.json").read_text()) != key:
            return None
        return {p.stem: np.load(p, allow_pickle=False) for p in sorted(folder.glob("*.npy"))}
    except (OSError, ValueError):
        return None


def _write_cache(folder: Path, key: dict, arrays: dict[str, np.ndarray]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "key.json").unlink(missing_ok=True)  # arrays first, key last: a half-written cache is never read
    for name, array in arrays.items():
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        atomic_write(folder / f"{name}.npy", buffer.getvalue())
    atomic_write(folder / "key.json", json.dumps(key).encode("utf-8"))


# ----------------------------------------------------------------------------- text vectors


class TextBank:
    """L2-normalised text vectors of (template, class) prompts per text encoder, each embedded once.

    `vectors` pre-fills the cache (worker processes get the parent's, and no encoders)."""

    def __init__(self, encoders: dict, classes: list[str], vectors: dict | None = None):
        self.encoders = encoders
        self.classes = classes
        self.cache: dict[tuple[str, str], np.ndarray] = dict(vectors or {})

    def vectors(self, encoder: str, template: str) -> np.ndarray:
        """(n_classes, dim) for one template."""
        if (encoder, template) not in self.cache:
            self.cache[(encoder, template)] = normalise(self.encoders[encoder].embed([template.format(c) for c in self.classes]))
        return self.cache[(encoder, template)]

    def class_vectors(self, encoder: str, templates) -> np.ndarray:
        """(n_classes, dim): the templates' vectors averaged per class, normalised (prompt ensembling)."""
        return normalise(np.mean([self.vectors(encoder, t) for t in templates], axis=0))

    def label_matrix(self, encoder: str) -> np.ndarray:
        """(527, dim): the AudioSet label names through LABEL_TEMPLATE, normalised (the label bridge)."""
        key = (encoder, "audioset:" + LABEL_TEMPLATE)
        if key not in self.cache:
            self.cache[key] = label_text_matrix(self.encoders[encoder])
        return self.cache[key]
