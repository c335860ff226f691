"""The small public surface: a trained projection with its encoders, as a few calls.

The field's users expect a handful of calls (msclap: `get_audio_embeddings`,
`get_text_embeddings`, `compute_similarity`; transformers CLAP:
`get_audio_features` / `get_text_features`). `CLAP` gives those on top of the
library: it loads a run (the projection plus the encoders it was trained with,
checked to be the same weights), embeds files, waveforms and texts into the
joint space as unit vectors, scores them, and opens a searcher over a store.

    import clapdemo
    clap = clapdemo.load()                        # the shipped projection
    audio = clap.get_audio_embeddings(["dog.wav"])
    text = clap.get_text_embeddings(["a dog barking", "rain"])
    clap.compute_similarity(audio, text)          # (1, 2) cosines
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from clapdemo.shipped import ASSETS

SHIPPED_PROJECTION = ASSETS / "projection"
EMBED_BATCH = 32  # clips per encoder forward: bounds memory on long lists of files


class CLAP:
    """A trained `AudioProjection` and the frozen encoders it was trained with."""

    def __init__(self, run, projection, info: dict, audio_encoder, text_encoder):
        self.run = run  # where the projection was read from: searchers reopen it
        self.projection = projection
        self.info = info
        self.audio_encoder = audio_encoder
        self.text_encoder = text_encoder

    @classmethod
    def load(cls, run=SHIPPED_PROJECTION) -> "CLAP":
        """A run directory or a projection.safetensors file -> CLAP with its own encoders.

        Encoders load from the names recorded in the run and must have the same weights
        and settings (else a ValueError says which); weights come from the usual places
        (CLAPDEMO_WEIGHTS_DIR, the cache, the official URL)."""
        from clapdemo.training.runs import encoders_for_store, encoders_of, load_run

        projection, info = load_run(run)
        encoders = encoders_of(info)
        if set(encoders) != {"audio_encoder", "text_encoder"}:
            raise ValueError(f"{run}: the run does not record the encoders it was trained with; retrain it with clapdemo")
        audio_encoder, text_encoder = encoders_for_store(encoders)
        return cls(run, projection, info, audio_encoder, text_encoder)

    def get_audio_embeddings(self, audio) -> np.ndarray:
        """Files (paths) or mono waveforms at `self.audio_encoder.sample_rate` -> (N, D) unit vectors.

        Each clip is what the encoder sees in training: its first `clip_seconds`,
        zero-padded at the end (deterministic; docs/encoders.md, "Audio policy")."""
        from clapdemo.data.audio import fit_length, load_clip
        from clapdemo.evaluation.metrics import project_audio

        encoder = self.audio_encoder
        n_samples = int(round(encoder.sample_rate * encoder.clip_seconds))
        waves = [
            load_clip(item, encoder.sample_rate, encoder.clip_seconds) if _is_path(item)
            else fit_length(np.asarray(item, dtype=np.float32), n_samples)
            for item in _as_list(audio)
        ]
        raw = [encoder.embed(np.stack(waves[i : i + EMBED_BATCH])) for i in range(0, len(waves), EMBED_BATCH)]
        return project_audio(self.projection, np.concatenate(raw)) if raw else np.zeros((0, self.dim), np.float32)

    def get_audio_tags(self, audio, k: int = 5) -> list[list[tuple[str, float]]]:
        """What the frozen audio encoder itself hears, before any projection: for each clip its k most
        probable AudioSet classes as (label, probability), best first; [] per clip for an encoder
        without AudioSet outputs. Beside `rank_texts`, it shows whether the joint space agrees."""
        from clapdemo.encoders.audioset_labels import heard_tags

        return [heard_tags(self.audio_encoder, wave, k) or [] for wave in self._waves(audio)]

    def _waves(self, audio) -> list[np.ndarray]:
        from clapdemo.data.audio import fit_length, load_clip

        encoder = self.audio_encoder
        n_samples = int(round(encoder.sample_rate * encoder.clip_seconds))
        return [load_clip(item, encoder.sample_rate, encoder.clip_seconds) if _is_path(item)
                else fit_length(np.asarray(item, dtype=np.float32), n_samples) for item in _as_list(audio)]

    def get_text_embeddings(self, texts) -> np.ndarray:
        """Captions -> (N, D) unit vectors in the same space."""
        from clapdemo.evaluation.metrics import normalise

        texts = [texts] if isinstance(texts, str) else list(texts)
        return normalise(self.text_encoder.embed(texts)) if texts else np.zeros((0, self.dim), np.float32)

    @staticmethod
    def compute_similarity(audio_embeddings: np.ndarray, text_embeddings: np.ndarray) -> np.ndarray:
        """Cosine similarities, (N audio, M texts): both sides are unit vectors."""
        return np.asarray(audio_embeddings, np.float32) @ np.asarray(text_embeddings, np.float32).T

    def rank_texts(self, audio, texts: list[str], k: int = 5) -> list[list[tuple[str, float]]]:
        """For each clip, its k best texts among `texts` as (text, cosine), best first."""
        scores = self.compute_similarity(self.get_audio_embeddings(audio), self.get_text_embeddings(texts))
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        return [[(texts[j], float(row[j])) for j in top] for row, top in zip(scores, order)]

    def searcher(self, store):
        """A `clapdemo.search.searcher.Searcher` over the store at `store` (a precompute or index folder)."""
        from clapdemo.search.searchers import open_searcher

        return open_searcher(self.run, store)

    @property
    def dim(self) -> int:
        return self.projection.config.text_dim


def load(run=SHIPPED_PROJECTION) -> CLAP:
    """`CLAP.load`: the projection at `run` (default: the shipped one) with its encoders."""
    return CLAP.load(run)


def _as_list(audio) -> list:
    """One path or waveform, or a list of them -> a list."""
    if _is_path(audio) or (isinstance(audio, np.ndarray) and audio.ndim == 1):
        return [audio]
    return list(audio)


def _is_path(item) -> bool:
    return isinstance(item, (str, Path)) or hasattr(item, "__fspath__")
