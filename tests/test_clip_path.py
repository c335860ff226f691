"""The CLIP text path end to end (precompute -> train -> evaluate -> search) with random CLIP weights.

No CLIP weights can be had offline, so the text tower is built from a small
config with random weights and the real CLIP BPE tokenizer from ../shared. The
vectors carry no meaning, but they are distinct per caption, so a projection
can still learn to hit them: the path is exercised for real, not mocked.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from clapdemo.data.datasets import load_dataset
from clapdemo.evaluation.metrics import evaluate
from clapdemo.stores.precompute import precompute
from clapdemo.search.searcher import Searcher
from clapdemo.stores.store import open_store
from clapdemo.training.loop import TrainConfig, train
from conftest import CLIP_TOKENIZER, ESC50


@pytest.fixture(scope="module")
def random_clip():
    from transformers import CLIPTextConfig

    from clapdemo.encoders.text import clip_from_config

    config = CLIPTextConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                            num_attention_heads=2, projection_dim=32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return clip_from_config(CLIP_TOKENIZER, config)


def test_clip_path_end_to_end(random_clip, mn04, tmp_path):
    dataset = load_dataset("esc50", ESC50, classes=["dog", "rain", "rooster", "cow", "siren", "clock tick"])
    store_dir = tmp_path / "store"
    precompute(dataset, mn04, random_clip, store_dir, progress=False)
    data = open_store(store_dir)
    assert data.meta["text_encoder"]["name"] == "clip:random"
    assert data.meta["text_encoder"]["weights_sha256"] == "random"
    assert data.text.shape == (data.n_captions, 32) and data.n_clips == dataset.n_clips

    result = train(TrainConfig(epochs=40, batch_size=32, lr=1e-2, seed=0), data, None)
    assert result.model.linear.weight.shape == (32, data.audio.shape[1])
    metrics = evaluate(result.model, data)
    assert metrics["a2t_acc@1"] > 3 * metrics["random_a2t_acc@1"], metrics  # 6 classes, ~60 clips

    searcher = Searcher(data, result.model, text_encoder=random_clip, audio_encoder=mn04)
    hits = searcher.text_to_audio("the sound of rooster", k=5)
    assert len(hits) == 5 and all(np.isfinite(h.score) for h in hits)
    assert sum(h.label == "rooster" for h in hits) >= 3  # the exact prompt was trained on
