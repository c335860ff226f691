"""Bigger than RAM: packed, memory-mapped store vectors (float32 or float16) equal the store's."""

from __future__ import annotations

import numpy as np
import pytest

from clapdemo.data.datasets import load_dataset
from clapdemo.stores.precompute import precompute
from clapdemo.stores.store import open_store
from conftest import ESC50


@pytest.fixture
def store(mn04, minilm, tmp_path):
    dataset = load_dataset("esc50", ESC50)
    dataset.clips = dataset.clips.head(20)
    precompute(dataset, mn04, minilm, tmp_path / "store", checkpoint_every=8, progress=False)
    return tmp_path / "store"


def test_packed_store_is_memory_mapped_and_equals_the_store(store):
    expected, got = open_store(store), open_store(store, memmap=True)
    assert isinstance(got.audio, np.memmap) and isinstance(got.text, np.memmap)
    assert got.clip_ids == expected.clip_ids and got.captions == expected.captions
    np.testing.assert_array_equal(got.text_clip, expected.text_clip)
    np.testing.assert_array_equal(got.audio, expected.audio)
    np.testing.assert_array_equal(got.text, expected.text)

    half = open_store(store, dtype="float16")
    assert half.audio.dtype == np.float16 and (store / "packed" / "audio.npy").stat().st_size < expected.audio.nbytes
    np.testing.assert_allclose(half.audio.astype(np.float32), expected.audio, rtol=1e-3, atol=1e-3)


def test_a_changed_store_is_packed_again(store, mn04, minilm):
    assert open_store(store, memmap=True).n_clips == 20
    dataset = load_dataset("esc50", ESC50)
    dataset.clips = dataset.clips.head(26)
    precompute(dataset, mn04, minilm, store, progress=False)
    got = open_store(store, memmap=True)
    assert got.n_clips == 26 and got.clip_ids == open_store(store).clip_ids


def test_training_and_search_run_on_a_float16_memory_mapped_store(store, minilm):
    from clapdemo.search.searcher import Searcher
    from clapdemo.training.loop import TrainConfig, split_validation, train

    data = open_store(store, dtype="float16")
    train_set, val_set = split_validation(data, 0.2, 0)
    result = train(TrainConfig(epochs=2, batch_size=8), train_set, val_set)
    hits = Searcher(data, result.model, text_encoder=minilm).text_to_audio("a dog barks", 5)
    assert len(hits) == 5


def test_cli_memmap_and_float16_give_the_numbers_of_the_store_in_ram(store, tmp_path, capsys):
    """train/evaluate/search with --memmap or --float16 read STORE/packed and agree with the in-RAM store."""
    import json

    from clapdemo.cli.main import main

    run = tmp_path / "run"
    assert main(["train", "--train", str(store), "--out", str(run), "--epochs", "2", "--batch-size", "8",
                 "--float16"]) == 0
    assert (store / "packed" / "audio.npy").is_file()
    metrics = {}
    for flag in ("", "--memmap", "--float16"):
        out = tmp_path / f"metrics{flag}.json"
        assert main(["evaluate", "--run", str(run), "--store", str(store), "--json", str(out), "--allow-overlap"]
                    + ([flag] if flag else [])) == 0  # the store it trained on, on purpose: the read paths must agree
        metrics[flag] = json.loads(out.read_text())
        assert metrics[flag]["in_sample"] is True
        assert "IN-SAMPLE" in capsys.readouterr().out
    assert metrics["--memmap"] == metrics[""]
    for key, value in metrics[""].items():
        assert abs(metrics["--float16"][key] - value) <= 0.051, key  # one clip of 20 may swap rank
    tops = []
    for flag in ([], ["--memmap"]):
        out = tmp_path / f"hits{len(flag)}.json"
        assert main(["search", "--run", str(run), "--store", str(store), "--text", "rain", "-k", "5",
                     "--json", str(out)] + flag) == 0
        tops.append([h["clip_id"] for h in json.loads(out.read_text())["clips"]])
    assert tops[0] == tops[1]


class _CountingMap(np.memmap):
    """A memory-mapped array that notes how many rows each fancy-indexed read asks for."""

    reads: list[int] = []

    def __getitem__(self, index):
        if isinstance(index, np.ndarray):
            _CountingMap.reads.append(len(index))
        return super().__getitem__(index)


def test_training_on_a_memory_mapped_set_reads_batches_and_equals_training_in_ram(store):
    """Bigger than RAM: train() reads a memmap batch by batch (never the whole set at once after
    one chunked pass for the input statistics) and ends where training in RAM ends."""
    from clapdemo.training.loop import TrainConfig, train

    in_ram, mapped = open_store(store), open_store(store, memmap=True)
    mapped.audio, mapped.text = mapped.audio.view(_CountingMap), mapped.text.view(_CountingMap)
    _CountingMap.reads = []
    cfg = TrainConfig(epochs=3, batch_size=4, seed=3)
    want, got = train(cfg, in_ram), train(cfg, mapped)
    for name, tensor in want.model.state_dict().items():
        np.testing.assert_allclose(got.model.state_dict()[name].numpy(), tensor.numpy(), atol=1e-4, err_msg=name)  # stats summed in float64
    assert [r for r in _CountingMap.reads if r > cfg.batch_size] == [20]  # the statistics pass, once
    assert sum(r <= cfg.batch_size for r in _CountingMap.reads) >= 2 * 3 * (20 // 4)  # audio + text, every step
