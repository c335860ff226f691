"""The whole pipeline on real ESC-50 clips: train, evaluate against random, zero-shot, search, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from clapdemo.cli.main import main as cli_main
from clapdemo.evaluation.metrics import evaluate, zero_shot_accuracy
from clapdemo.search.searcher import Searcher, project_audio
from clapdemo.stores.store import open_store
from clapdemo.training.loop import TrainConfig, train

HELD_OUT_CLASSES = ["dog", "rain", "rooster", "church bells", "crying baby",
                    "helicopter", "chainsaw", "sea waves", "clapping", "siren"]


def split_rows(n: int, share: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    cut = int(n * share)
    return np.sort(order[:cut]), np.sort(order[cut:])


@pytest.fixture(scope="module")
def esc50(esc50_store):
    return open_store(esc50_store)


def test_retrieval_on_held_out_clips_is_far_above_random(esc50):
    train_rows, test_rows = split_rows(esc50.n_clips, 0.7)
    config = TrainConfig(epochs=60, batch_size=64, seed=0)
    result = train(config, esc50.subset(train_rows), esc50.subset(test_rows))
    metrics = evaluate(result.model, esc50.subset(test_rows))
    n_test = len(test_rows)
    assert metrics["random_t2a_acc@1"] == pytest.approx(1 / n_test)
    assert metrics["random_a2t_acc@1"] > 2 / n_test  # repeated class prompts tie: chance among the classes
    # ESC-50 captions are class prompts, so ties among same-class clips count as hits:
    # the course metric here is close to class accuracy (chance ~1/50 with ties).
    assert metrics["a2t_acc@1"] > 0.4, metrics
    assert metrics["t2a_acc@10"] > 0.5, metrics
    for key in ("a2t_acc@1", "a2t_acc@3", "a2t_acc@10", "t2a_acc@1", "t2a_acc@3", "t2a_acc@10"):
        assert metrics[key] > 5 * metrics[f"random_{key}"], key


def test_zero_shot_on_unseen_classes_is_well_above_chance(esc50):
    labels = np.asarray(esc50.labels)
    unseen = np.isin(labels, HELD_OUT_CLASSES)
    assert unseen.sum() >= 80
    seen_rows, unseen_rows = np.flatnonzero(~unseen), np.flatnonzero(unseen)
    train_rows, val_rows = split_rows(len(seen_rows), 0.85)
    result = train(TrainConfig(epochs=60, batch_size=64, seed=0),
                   esc50.subset(seen_rows[train_rows]), esc50.subset(seen_rows[val_rows]))
    test = esc50.subset(unseen_rows)
    class_names = sorted(set(test.labels))
    prompt_rows = [test.captions.index(f"the sound of {name}") for name in class_names]
    audio = project_audio(result.model, test.audio)
    truth = np.asarray([class_names.index(label) for label in test.labels])
    accuracy = zero_shot_accuracy(audio, test.text[prompt_rows], truth)
    # chance is 1/10; measured 0.5-0.7 with mn04 + MiniLM on this subset
    assert accuracy["zero_shot_acc@1"] > 0.3, accuracy


def test_text_search_finds_dogs(esc50, minilm, mn04):
    result = train(TrainConfig(epochs=40, batch_size=64, seed=0), esc50, None)
    searcher = Searcher(esc50, result.model, text_encoder=minilm, audio_encoder=mn04)
    hits = searcher.text_to_audio("a dog barking", k=5)
    assert [h.rank for h in hits] == [1, 2, 3, 4, 5]
    assert sum(h.label == "dog" for h in hits) >= 3, [h.label for h in hits]
    assert hits[0].score >= hits[-1].score
    assert sum(h.relevance for h in hits) == pytest.approx(1.0)

    dog_clip = next(p for p, label in zip(esc50.audio_paths, esc50.labels) if label == "dog")
    captions = searcher.audio_to_text(dog_clip, k=3, extra_captions=("a dog barks loudly",))
    assert any("dog" in hit.caption for hit in captions), captions
    neighbours = searcher.audio_to_audio(dog_clip, k=5)
    assert all(h.audio_path != dog_clip for h in neighbours)
    assert sum(h.label == "dog" for h in neighbours) >= 2


def test_cli_train_evaluate_search(esc50_store, tmp_path, capsys):
    run = tmp_path / "run"
    assert cli_main(["train", "--train", str(esc50_store), "--out", str(run), "--epochs", "15",
                     "--batch-size", "64", "--seed", "1", "--hold-out", "0.3"]) == 0
    assert (run / "projection.safetensors").is_file()
    saved = json.loads((run / "run.json").read_text())
    assert saved["config"]["seed"] == 1 and saved["config"]["epochs"] == 15
    assert saved["data"]["audio_encoder"]["name"].startswith("mn04_as")
    assert saved["data"]["text_encoder"]["name"] == "minilm"

    capsys.readouterr()
    evaluate = ["evaluate", "--run", str(run), "--store", str(esc50_store), "--json", str(tmp_path / "metrics.json")]
    assert cli_main(evaluate) == 1  # the store holds the clips it trained on: refused, not measured in-sample
    assert "in-sample" in capsys.readouterr().err and not (tmp_path / "metrics.json").exists()
    assert cli_main(evaluate + ["--unseen-only"]) == 0  # the 30 % it held out
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["in_sample"] is False
    for key in ("a2t_acc@1", "t2a_acc@1", "t2a_R@10", "a2t_mAP@10", "random_a2t_acc@1", "random_empirical_t2a_acc@10"):
        assert key in metrics
    assert metrics["a2t_acc@1"] > 10 * metrics["random_a2t_acc@1"]
    printed = capsys.readouterr().out
    assert "a2t_acc@1" in printed and "random (exact)" in printed and "IN-SAMPLE" not in printed

    assert cli_main(["search", "--run", str(run), "--store", str(esc50_store), "--text", "rain falling",
                     "-k", "3", "--json", str(tmp_path / "hits.json")]) == 0
    hits = json.loads((tmp_path / "hits.json").read_text())["clips"]
    assert len(hits) == 3 and hits[0]["rank"] == 1

    store = open_store(esc50_store)
    dog = next(p for p, label in zip(store.audio_paths, store.labels) if label == "dog")
    capsys.readouterr()
    assert cli_main(["search", "--run", str(run), "--store", str(esc50_store), "--audio", dog, "-k", "3",
                     "--labels", "a barking dog, a car horn,,", "--json", str(tmp_path / "described.json")]) == 0
    printed = capsys.readouterr().out  # the typed labels ranked among themselves, before the store's captions
    assert printed.index("your labels, ranked among themselves:") < printed.index("top 3 captions:"), printed
    described = json.loads((tmp_path / "described.json").read_text())
    assert sorted(h["caption"] for h in described["labels"]) == ["a barking dog", "a car horn"]
    assert sum(h["relevance"] for h in described["labels"]) == pytest.approx(1.0, rel=1e-6)


def test_cli_reports_a_missing_store_clearly(tmp_path, capsys):
    assert cli_main(["train", "--train", str(tmp_path / "nowhere"), "--out", str(tmp_path / "run")]) == 1
    assert "not an embedding store" in capsys.readouterr().err
