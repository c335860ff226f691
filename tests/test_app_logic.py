"""What the app shows, computed by library functions the CLI shares (issue 13): dataset kinds and
splits, store naming and its fingerprint, the compatibility check, best and worst queries, new
run folders, the cached searcher and the joint-space layout with its cache.

Real clips (16 ESC-50 clips of four classes), the offline encoders and the shipped projection.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, copy_esc50_subset
from clapdemo.data.dataset import DATASET_KINDS, SPLITS
from clapdemo.data.datasets import guess_dataset_kind, load_dataset

PROJECTION = REPO / "assets" / "projection"


@pytest.fixture(scope="module")
def tiny_store(tmp_path_factory) -> Path:
    """16 real clips embedded with the encoders the shipped projection was trained with."""
    from clapdemo.stores.precompute import precompute
    from clapdemo.encoders import cached_audio_encoder, cached_text_encoder

    root = copy_esc50_subset(tmp_path_factory.mktemp("esc50"), ("dog", "rain", "rooster", "cat"), per_class=4)
    out = tmp_path_factory.mktemp("stores") / "tiny"
    precompute(load_dataset("esc50", root, "all"), cached_audio_encoder("mn04_as:logits"),
               cached_text_encoder("minilm"), out, progress=False)
    return out


def copy_store(store: Path, to: Path) -> Path:
    shutil.copytree(store, to)
    return to


def test_every_dataset_kind_has_its_splits_default_first():
    assert set(SPLITS) == set(DATASET_KINDS)
    assert SPLITS["esc50"][0] == "all" and SPLITS["audiocaps"][0] == "test"


def test_a_guessed_kind_reads(tmp_path, esc50_root):
    kind, why = guess_dataset_kind(esc50_root)
    assert kind == "esc50" and "esc50.csv" in why
    assert load_dataset(kind, esc50_root, SPLITS[kind][0]).n_clips > 0
    assert guess_dataset_kind(tmp_path / "missing")[0] == "folder"  # nothing to read: said by the reader


def test_cache_store_dir_separates_data_roots_and_encoders(tmp_path):
    from clapdemo.stores.store import cache_store_dir

    a = cache_store_dir(tmp_path, "esc50", "fold 1/2", "mn04_as:logits", "clip:openai/x", tmp_path / "a")
    assert a.parent == tmp_path / "stores" and "/" not in a.name and " " not in a.name
    assert a == cache_store_dir(tmp_path, "esc50", "fold 1/2", "mn04_as:logits", "clip:openai/x", tmp_path / "a")
    assert a != cache_store_dir(tmp_path, "esc50", "fold 1/2", "mn04_as:logits", "clip:openai/x", tmp_path / "b")
    assert a != cache_store_dir(tmp_path, "esc50", "fold 1/2", "mn04_as", "clip:openai/x", tmp_path / "a")


def test_fingerprint_follows_the_shards(tiny_store, tmp_path):
    from clapdemo.stores.store import Store, fingerprint

    store = copy_store(tiny_store, tmp_path / "store")
    before = fingerprint(store)
    assert before == fingerprint(store) == fingerprint(tiny_store)  # content, not place or time
    sidecar = Store(store).sidecars()[0]
    meta = json.loads(sidecar.read_text())
    sidecar.write_text(json.dumps({**meta, "sha256": "0" * 64}))  # a shard replaced
    assert fingerprint(store) != before
    sidecar.unlink()
    assert fingerprint(store) != before


def test_one_compatibility_check_says_which_encoder_differs(tiny_store):
    from clapdemo.training.runs import encoders_of, load_run_info
    from clapdemo.search.searcher import check_compatible, compatibility_problem
    from clapdemo.stores.store import Store, open_store

    manifest = Store(tiny_store).manifest()
    trained = encoders_of(load_run_info(PROJECTION))
    assert compatibility_problem(manifest, trained) is None
    other = {**trained, "text_encoder": {**trained["text_encoder"], "name": "clip"}}
    problem = compatibility_problem(manifest, other)
    assert "text encoder clip" in problem and "minilm" in problem
    with pytest.raises(ValueError, match="text encoder clip"):
        check_compatible(open_store(tiny_store), {"encoders": other})


def test_best_and_worst_queries_each_way(tiny_store):
    from clapdemo.evaluation.evaluate import extreme_queries
    from clapdemo.search.searchers import open_searcher

    records = extreme_queries(open_searcher(PROJECTION, tiny_store), n=3)
    audio = [r for r in records if r["direction"] == "audio→text"]
    text = [r for r in records if r["direction"] == "text→audio"]
    assert [r["kind"] for r in audio] == ["best"] * 3 + ["worst"] * 3 and len(text) == 6
    assert max(r["rank"] for r in audio[:3]) <= min(r["rank"] for r in audio[3:])
    assert all(Path(r["audio_path"]).is_file() for r in audio)
    best, worst = text[0], text[-1]
    assert 1 <= best["rank"] <= worst["rank"] <= 16
    assert best["query"] in {"the sound of dog", "the sound of rain", "the sound of rooster", "the sound of cat"}


def test_new_run_dirs_never_collide(tmp_path):
    from clapdemo.training.runs import new_run_dir

    first = new_run_dir(tmp_path, "abc")
    first.mkdir()
    second = new_run_dir(tmp_path, "abc")
    assert second != first and second.name.startswith(first.name) and first.name.endswith("-abc")


def test_cached_searcher_is_reused_until_the_store_changes(tiny_store, tmp_path):
    from clapdemo.search.searchers import cached_searcher

    store = copy_store(tiny_store, tmp_path / "store")
    one = cached_searcher(PROJECTION, store)
    assert cached_searcher(PROJECTION / "projection.safetensors", store) is one  # a folder or its file: one run
    from clapdemo.stores.store import Store

    Store(store).sidecars()[-1].unlink()  # a shard gone: a new searcher, with fewer clips
    two = cached_searcher(PROJECTION, store)
    assert two is not one and two.embeddings.n_clips < one.embeddings.n_clips
    with pytest.raises(FileNotFoundError, match="no projection file"):
        cached_searcher(tmp_path / "nothing", store)


def test_joint_layout_is_computed_once_and_cached_per_store(tiny_store, tmp_path, monkeypatch):
    from clapdemo.evaluation import plots
    from clapdemo.evaluation.joint_layout import plan_layout
    from clapdemo.search.searchers import open_searcher

    calls = []

    def fake_umap(points, seed=0, n_neighbors=15):  # the real one compiles numba for ~20 s
        calls.append(len(points))
        return np.asarray(points, dtype=np.float32)[:, :2]

    monkeypatch.setattr(plots, "umap_2d", fake_umap)
    store = copy_store(tiny_store, tmp_path / "store")
    searcher = open_searcher(PROJECTION, store)
    layout = plan_layout(searcher, PROJECTION, store)
    assert not layout.cached() and len(layout.rows) == 16 and len(layout.used) == 4
    xy = layout.load()
    assert calls == [20] and layout.cached() and layout.cache.parent == store / "umap"
    again = plan_layout(searcher, PROJECTION, store)
    np.testing.assert_array_equal(again.load(), xy)
    assert calls == [20], "the second layout should come from the .npy cache"
    fig = again.figure(xy, "class", pair_lines=True)
    assert {"dog (audio)", "dog (text)", "true pairs"} <= {t.name for t in fig.data}
    sample = plan_layout(searcher, PROJECTION, store, max_clips=8)
    assert len(sample.rows) == 8 and sample.cache != layout.cache


def test_the_cli_offers_what_the_app_shows(tiny_store, tmp_path, monkeypatch, capsys):
    """`evaluate --extremes`, `joint-space` and `precompute --dataset auto`: the app's numbers, one command away."""
    from clapdemo.evaluation import plots
    from clapdemo.cli.main import main

    monkeypatch.setattr(plots, "umap_2d", lambda points, seed=0, n_neighbors=15: np.asarray(points)[:, :2])
    store = copy_store(tiny_store, tmp_path / "store")
    assert main(["evaluate", "--run", str(PROJECTION), "--store", str(store), "--allow-overlap", "--extremes", "2"]) == 0
    out = capsys.readouterr().out
    assert out.count("audio→text") == 4 and out.count("text→audio") == 4 and "worst" in out
    html = tmp_path / "joint.html"
    assert main(["joint-space", "--run", str(PROJECTION), "--store", str(store), "--out", str(html),
                 "--color-by", "class", "--pairs"]) == 0
    assert "true pairs" in html.read_text() and list((store / "umap").glob("*.npy"))
    data = copy_esc50_subset(tmp_path / "data", ("dog",), per_class=2)
    assert main(["precompute", "--dataset", "auto", "--data-root", str(data), "--out", str(tmp_path / "auto"),
                 "--text-encoder", "minilm"]) == 0
    out = capsys.readouterr().out
    assert "dataset kind esc50 (guessed: esc50.csv found)" in out and "2 clips" in out
