"""The small interface every encoder plug-in implements.

An encoder is frozen and deterministic: the same input gives the same vector on
every call (eval mode, no random crops). `identity` is what the embedding store
is keyed by, so a changed encoder, weight file or preprocessing never silently
reuses stale vectors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class EncoderIdentity:
    """What produced a vector: enough to decide whether a cached vector is still valid.

    name: registry name, e.g. "mn04_as" or "minilm".
    weights_sha256: hash of the weight file(s); "random" for untrained weights.
    preprocessing: every setting that changes the numbers (sample rate, window, output head, ...).
    """

    name: str
    weights_sha256: str
    preprocessing: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"name": self.name, "weights_sha256": self.weights_sha256, "preprocessing": dict(self.preprocessing)}


@runtime_checkable
class AudioEncoder(Protocol):
    """Turns mono waveforms at `sample_rate` into fixed-size vectors.

    `clip_seconds` is the window the encoder sees; audio.py pads or crops to it
    (deterministically) before `embed` is called.
    """

    name: str
    dim: int
    sample_rate: int
    clip_seconds: float
    identity: EncoderIdentity

    def embed(self, waveforms: np.ndarray) -> np.ndarray:
        """(batch, samples) float32 at `sample_rate` -> (batch, dim) float32."""
        ...


@runtime_checkable
class TextEncoder(Protocol):
    """Turns captions into fixed-size vectors."""

    name: str
    dim: int
    identity: EncoderIdentity

    def embed(self, texts: list[str]) -> np.ndarray:
        """list of `batch` strings -> (batch, dim) float32."""
        ...
