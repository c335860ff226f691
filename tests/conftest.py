"""Shared test fixtures: where ../shared lives, small real clips, the offline encoders.

Every test runs offline from `../shared` (or CLAPDEMO_SHARED) and from what pip
packages ship. Loaded models are session-scoped: loading them once keeps the
suite fast on two cores.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("CLAPDEMO_SHARED", REPO.parent / "shared")).resolve()
ESC50 = SHARED / "data" / "esc50-subset"
AUDIOCAPS_META = SHARED / "data" / "audiocaps-meta"
WEIGHTS = SHARED / "weights"
CLIP_TOKENIZER = SHARED / "tokenizers" / "clip-bpe"

# The product reads weights from this setting; point it at ../shared for tests.
os.environ.setdefault("CLAPDEMO_WEIGHTS_DIR", str(WEIGHTS))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"../shared not found at {SHARED}; set CLAPDEMO_SHARED")
    return SHARED


@pytest.fixture(scope="session")
def esc50_root() -> Path:
    return ESC50


@pytest.fixture(scope="session")
def mn04():
    from clapdemo.encoders import load_audio_encoder

    return load_audio_encoder("mn04_as")


@pytest.fixture(scope="session")
def minilm():
    from clapdemo.encoders import load_text_encoder

    return load_text_encoder("minilm")


@pytest.fixture(scope="session")
def esc50_store(tmp_path_factory, mn04, minilm) -> Path:
    """All 414 shared ESC-50 clips embedded once (mn04 + MiniLM), shared by many tests."""
    from clapdemo.datasets import load_dataset
    from clapdemo.precompute import precompute

    out = tmp_path_factory.mktemp("stores") / "esc50"
    precompute(load_dataset("esc50", ESC50), mn04, minilm, out, progress=False)
    return out
