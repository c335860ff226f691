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
os.environ.setdefault("CLAPDEMO_SEGMENTS_DIR", str(SHARED / "data" / "audioset-segments"))
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
    from clapdemo.data.datasets import load_dataset
    from clapdemo.stores.precompute import precompute

    out = tmp_path_factory.mktemp("stores") / "esc50"
    precompute(load_dataset("esc50", ESC50), mn04, minilm, out, progress=False)
    return out


def copy_esc50_subset(root: Path, classes, per_class: int | None = None) -> Path:
    """A small ESC-50 folder (esc50.csv + audio/) with the clips of `classes`, copied not linked:
    the app serves clips only from inside its data folder."""
    import csv
    import shutil

    (root / "audio").mkdir(parents=True, exist_ok=True)
    with open(ESC50 / "esc50.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["category"] in classes]
    if per_class is not None:
        rows = [r for c in classes for r in [x for x in rows if x["category"] == c][:per_class]]
    with open(root / "esc50.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    for row in rows:
        shutil.copy(ESC50 / "audio" / row["filename"], root / "audio" / row["filename"])
    return root
