"""Where training starts (clapdemo.training.projection_init): the AudioSet-label bridge and `train --init`."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from clapdemo.cli.main import main as cli_main
from clapdemo.training.model import AudioProjection, ProjectionConfig
from clapdemo.training.projection_init import (DEFAULT_LR, LOGIT_BRIDGE, label_bridge_init, label_text_matrix, make_init,
                                      resolve_init)
from clapdemo.training.loop import TrainConfig
from conftest import copy_esc50_subset

CLASSES = ("dog", "rain", "church_bells", "clock_tick")


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _standardised_model(audio: np.ndarray, text_dim: int) -> AudioProjection:
    model = AudioProjection(ProjectionConfig(audio.shape[1], text_dim))
    model.set_input_stats(torch.from_numpy(audio))
    return model


def test_untrained_bridge_maps_a_one_hot_audioset_output_onto_its_label_vector():
    """Probabilities (centre zero): one-hot class k -> exactly label k's unit text vector, through
    the model's own standardisation (a random, non-trivial mean and std)."""
    rng = np.random.default_rng(0)
    labels = _unit(rng.standard_normal((527, 24))).astype(np.float32)
    model = _standardised_model(rng.random((40, 527)).astype(np.float32), 24)
    label_bridge_init(labels, "zero")(model)
    with torch.no_grad():
        out = model(torch.eye(527)[[0, 74, 526]]).numpy()
    np.testing.assert_allclose(out, labels[[0, 74, 526]], atol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-4)


def test_untrained_bridge_on_logits_is_centred_on_the_training_mean():
    """Logits (centre mean): the mean clip maps to 0 and one more unit of logit k adds label k's vector,
    so clips differ by their labels, not by the shared offset of ~-6 logits."""
    rng = np.random.default_rng(1)
    labels = _unit(rng.standard_normal((527, 16))).astype(np.float32)
    logits = (rng.standard_normal((50, 527)) * 2 - 6).astype(np.float32)
    model = _standardised_model(logits, 16)
    label_bridge_init(labels, "mean")(model)
    mean = torch.from_numpy(logits.mean(0))
    with torch.no_grad():
        at_mean = model(mean[None])[0].numpy()
        moved = model(mean[None] + torch.eye(527)[[3, 300]]).numpy()
        clips = model(torch.from_numpy(logits)).numpy()
    np.testing.assert_allclose(at_mean, 0.0, atol=1e-4)
    np.testing.assert_allclose(moved - at_mean, labels[[3, 300]], atol=1e-4)
    np.testing.assert_allclose(clips, (logits - logits.mean(0)) @ labels, rtol=1e-3, atol=1e-3)


def test_bridge_refuses_a_projection_of_another_shape():
    model = AudioProjection(ProjectionConfig(384, 16))
    with pytest.raises(ValueError, match="527->16"):
        label_bridge_init(np.zeros((527, 16), np.float32))(model)


def test_label_text_matrix_embeds_the_527_names_in_order():
    class Recorder:
        def embed(self, texts):
            self.texts = texts
            return np.arange(len(texts) * 2, dtype=np.float32).reshape(-1, 2) + 1

    enc = Recorder()
    m = label_text_matrix(enc)
    assert m.shape == (527, 2) and np.allclose(np.linalg.norm(m, axis=1), 1)
    assert enc.texts[0] == "the sound of speech" and enc.texts[74] == "the sound of dog"


def _meta(audio="mn04_as:logits", dim=527, text="minilm", sha="abc"):
    return {"audio_encoder": {"name": audio, "weights_sha256": "w", "preprocessing": {}}, "audio_dim": dim,
            "text_encoder": {"name": text, "weights_sha256": sha}, "text_dim": 2}


def test_auto_picks_the_bridge_only_for_efficientat_logits():
    assert resolve_init("auto", _meta()) == "audioset-labels"
    assert resolve_init("auto", _meta("mn04_as:pooled", 384)) == "random"
    assert resolve_init("auto", _meta("htsat", 512)) == "random"
    assert resolve_init("random", _meta()) == "random"
    with pytest.raises(ValueError, match="choose one of"):
        resolve_init("labels", _meta())


def test_audioset_labels_on_a_non_527_store_names_the_store_and_the_problem():
    with pytest.raises(ValueError) as error:
        resolve_init("audioset-labels", _meta("mn04_as:pooled", 384), where="/data/stores/pooled")
    message = str(error.value)
    assert "/data/stores/pooled" in message and "mn04_as:pooled (384-d)" in message
    assert "527 AudioSet outputs" in message and "--init random" in message


def test_make_init_embeds_with_the_stores_text_encoder_or_says_why_not():
    class Fake:
        def __init__(self, sha):
            self.identity = type("I", (), {"weights_sha256": sha})()

        def embed(self, texts):
            return np.ones((len(texts), 2), np.float32)

    asked = []
    init = make_init("auto", _meta(), "S", load_text_encoder=lambda name: asked.append(name) or Fake("abc"))
    assert asked == ["minilm"] and init.name == "audioset-labels" and init.lr == DEFAULT_LR["audioset-labels"]
    assert init.record["centre"] == "zero" and init.record["text_encoder"] == "minilm"  # probabilities: p @ L
    assert init.settings["input_transform"] == "sigmoid" and init.recipe.standardize is False
    logits = make_init("auto", _meta(), "S", load_text_encoder=lambda name: Fake("abc"), recipe=LOGIT_BRIDGE)
    assert logits.record["centre"] == "mean" and logits.settings["input_transform"] == "none"  # the recipe before

    def offline(name):
        raise OSError("no network")

    with pytest.raises(ValueError, match=r"S: .*text encoder clip.*could not be loaded.*no network"):
        make_init("audioset-labels", _meta(text="clip"), "S", load_text_encoder=offline)
    with pytest.raises(ValueError, match="weights abc.*recompute the store"):
        make_init("audioset-labels", _meta(), "S", load_text_encoder=lambda name: Fake("other"))
    assert make_init("random", _meta(), "S", load_text_encoder=offline).apply is None  # loads nothing
    fallback = make_init("auto", _meta(text="clip"), "S", load_text_encoder=offline)  # auto: random, and why
    assert fallback.apply is None and "no network" in fallback.record["reason"] and "no network" in fallback.describe()


# ----------------------------------------------------------------------------- the CLI, on real clips


@pytest.fixture(scope="module")
def tiny_stores(tmp_path_factory, mn04, minilm):
    """12 real ESC-50 clips embedded twice: mn04 logits (the default) and mn04 pooled (384-d)."""
    from clapdemo.data.datasets import load_dataset
    from clapdemo.encoders import load_audio_encoder
    from clapdemo.stores.precompute import precompute

    root = copy_esc50_subset(tmp_path_factory.mktemp("esc50-init"), CLASSES, per_class=3)
    stores = tmp_path_factory.mktemp("init-stores")
    precompute(load_dataset("esc50", root), mn04, minilm, stores / "logits", progress=False)
    precompute(load_dataset("esc50", root), load_audio_encoder("mn04_as:pooled"), minilm, stores / "pooled",
               progress=False)
    return stores


def test_cli_train_starts_from_the_audioset_labels_and_records_it(tiny_stores, tmp_path, capsys):
    run = tmp_path / "run"
    assert cli_main(["train", "--train", str(tiny_stores / "logits"), "--out", str(run), "--epochs", "3",
                     "--init", "audioset-labels", "--val-fraction", "0.25"]) == 0
    saved = json.loads((run / "run.json").read_text())
    assert saved["init"]["name"] == "audioset-labels" and saved["init"]["text_encoder"] == "minilm"
    assert saved["init"]["centre"] == "zero" and saved["init"]["n_labels"] == 527
    assert saved["config"]["input_transform"] == "sigmoid" and saved["config"]["standardize_audio"] is False
    assert saved["config"]["lr"] == DEFAULT_LR["audioset-labels"]  # the lr follows the init
    assert "init: AudioSet label bridge" in capsys.readouterr().out

    # the default (auto) on a logits store is the same start; --lr still wins
    assert cli_main(["train", "--train", str(tiny_stores / "logits"), "--out", str(tmp_path / "auto"),
                     "--epochs", "1", "--lr", "0.01", "--val-fraction", "0.25"]) == 0
    saved = json.loads((tmp_path / "auto" / "run.json").read_text())
    assert saved["init"] == {**saved["init"], "name": "audioset-labels", "requested": "auto"}
    assert saved["config"]["lr"] == 0.01


def test_cli_train_refuses_the_label_init_on_a_pooled_store(tiny_stores, tmp_path, capsys):
    store = tiny_stores / "pooled"
    assert cli_main(["train", "--train", str(store), "--out", str(tmp_path / "run"),
                     "--init", "audioset-labels"]) == 1
    err = capsys.readouterr().err
    assert str(store) in err and "mn04_as:pooled (384-d)" in err and "527 AudioSet outputs" in err
    assert not (tmp_path / "run").exists()

    assert cli_main(["train", "--train", str(store), "--out", str(tmp_path / "auto"), "--epochs", "1",
                     "--val-fraction", "0.25"]) == 0  # auto falls back to random there
    saved = json.loads((tmp_path / "auto" / "run.json").read_text())
    assert saved["init"] == {"name": "random", "requested": "auto"} and saved["config"]["lr"] == TrainConfig().lr


def test_decorrelated_bridge_ranks_labels_closer_to_the_probabilities():
    """BridgeRecipe.ridge: p @ D @ L^T keeps the top label of p where p @ L @ L^T can mix it with close names."""
    import numpy as np

    from clapdemo.training.projection_init import DECORRELATED_BRIDGE, DEFAULT_BRIDGE, decorrelated_bridge

    rng = np.random.default_rng(0)
    base = rng.normal(size=(1, 16))
    labels = base + 0.3 * rng.normal(size=(40, 16))  # names close to each other in the text space
    labels /= np.linalg.norm(labels, axis=1, keepdims=True)
    d = decorrelated_bridge(labels, 0.3)
    assert d.shape == labels.shape and np.isclose(np.linalg.norm(d), np.linalg.norm(labels), rtol=1e-4)
    probs = np.eye(40)
    hits_plain = np.mean(np.argmax(probs @ labels @ labels.T, 1) == np.arange(40))
    hits_decor = np.mean(np.argmax(probs @ d @ labels.T, 1) == np.arange(40))
    assert hits_decor == 1.0 and hits_decor >= hits_plain
    assert DEFAULT_BRIDGE.ridge == 0.3 and DEFAULT_BRIDGE.blend == 0.6 and DECORRELATED_BRIDGE.ridge == 0.3
