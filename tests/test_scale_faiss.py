"""FAISS search: the exact top-10 on a small store, and a stale index is rebuilt, never used."""

from __future__ import annotations

import logging

import numpy as np
import pytest

pytest.importorskip("faiss")

import torch  # noqa: E402

from clapdemo.search import ann_index as ann
from clapdemo.data.datasets import load_dataset  # noqa: E402
from clapdemo.training.model import AudioProjection, ProjectionConfig  # noqa: E402
from clapdemo.stores.precompute import precompute  # noqa: E402
from clapdemo.search.searcher import Searcher  # noqa: E402
from clapdemo.stores.store import open_store  # noqa: E402
from conftest import ESC50  # noqa: E402


def clustered(n: int, dim: int, seed: int = 0) -> np.ndarray:
    """Normalised points around 50 centres: like real embeddings, unlike uniform noise."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((50, dim))
    x = centres[rng.integers(0, 50, n)] + 0.5 * rng.standard_normal((n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_ivf_index_finds_the_exact_top10(monkeypatch):
    vectors, queries = clustered(5000, 64), clustered(50, 64, seed=1)
    index = ann.build_ivf(vectors)
    exact = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    recall = {}
    for nprobe in ("16", "32"):  # the default, and more lists scanned
        monkeypatch.setenv("CLAPDEMO_ANN_NPROBE", nprobe)
        _, found = ann.search(index, queries, 10)
        recall[nprobe] = np.mean([len(set(f) & set(e)) / 10 for f, e in zip(found, exact)])
    assert recall["16"] >= 0.95 and recall["32"] == 1.0


@pytest.fixture
def small_store(mn04, minilm, tmp_path):
    dataset = load_dataset("esc50", ESC50)
    dataset.clips = dataset.clips.head(24)
    precompute(dataset, mn04, minilm, tmp_path / "store", progress=False)
    return dataset, tmp_path / "store"


def test_searcher_with_index_gives_the_exact_top10_and_rebuilds_a_stale_index(small_store, mn04, minilm,
                                                                             monkeypatch, caplog):
    dataset, store = small_store
    caplog.set_level(logging.INFO, logger="clapdemo")  # the library logs; it prints nothing itself
    monkeypatch.setenv("CLAPDEMO_ANN_MIN_CLIPS", "1")
    torch.manual_seed(0)
    projection = AudioProjection(ProjectionConfig(audio_dim=mn04.dim, text_dim=minilm.dim)).eval()
    exact = Searcher(open_store(store), projection)
    fast = Searcher(open_store(store), projection, index=ann.index_for(store, exact.audio, projection))
    assert "built a FAISS index" in caplog.text
    assert exact.search_mode.startswith("exact") and fast.search_mode.startswith("FAISS IVF")
    for clip in exact.embeddings.clip_ids[:5]:
        want = [(h.clip_id, round(h.score, 5)) for h in exact.audio_to_audio(clip, 10)]
        assert [(h.clip_id, round(h.score, 5)) for h in fast.audio_to_audio(clip, 10)] == want

    index, rebuilt = ann.open_index(store, exact.audio, ann.index_key(store, projection))
    assert not rebuilt and index.ntotal == 24  # same store, same projection: the saved index is reused

    dataset.clips = load_dataset("esc50", ESC50).clips.head(30)  # the store grows: the index is stale
    precompute(dataset, mn04, minilm, store, progress=False)
    grown = Searcher(open_store(store), projection)
    index, rebuilt = ann.open_index(store, grown.audio, ann.index_key(store, projection))
    assert rebuilt and index.ntotal == 30

    other = AudioProjection(ProjectionConfig(audio_dim=mn04.dim, text_dim=minilm.dim))  # another projection
    assert ann.index_key(store, other) != ann.index_key(store, projection)


def test_small_store_searches_exactly_without_faiss(small_store, monkeypatch):
    monkeypatch.setenv("CLAPDEMO_ANN_MIN_CLIPS", "100000")
    assert ann.index_for(small_store[1], np.zeros((24, 8), np.float32), None) is None


def test_store_index_builds_ahead_and_search_then_uses_it(small_store, tmp_path, monkeypatch, capsys):
    """`store index --run` builds the index before any search; the first search then finds it current."""
    from clapdemo.cli.main import main

    _, store = small_store
    run = tmp_path / "run"
    assert main(["train", "--train", str(store), "--out", str(run), "--epochs", "2", "--batch-size", "8"]) == 0
    monkeypatch.setenv("CLAPDEMO_ANN_MIN_CLIPS", "1")
    capsys.readouterr()
    assert main(["store", "index", str(store), "--run", str(run)]) == 0
    assert capsys.readouterr().out.startswith("built: FAISS IVF index (24 clips")
    saved = (store / "index" / "audio-ivf.faiss").stat().st_mtime_ns
    assert main(["search", "--run", str(run), "--store", str(store), "--text", "a dog barks", "-k", "3"]) == 0
    out = capsys.readouterr().out
    assert "search: FAISS IVF index" in out and "built a FAISS index" not in out
    assert (store / "index" / "audio-ivf.faiss").stat().st_mtime_ns == saved
    assert main(["store", "index", str(store), "--run", str(run)]) == 0
    assert capsys.readouterr().out.startswith("already current")


def test_store_index_without_run_names_what_is_missing(small_store, capsys):
    from clapdemo.cli.main import main

    _, store = small_store
    assert main(["store", "index", str(store)]) != 0
    assert "needs --run" in capsys.readouterr().err
