"""Text encoders: MiniLM for real (it ships offline), CLIP's code path with random weights.

No CLIP weights can be had offline, so the CLIP tests build a small
`CLIPTextModelWithProjection` from a config and use the real BPE tokenizer
from ../shared/tokenizers/clip-bpe.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from clapdemo.encoders import TextEncoder, load_text_encoder
from clapdemo.encoders import text as text_mod

# "a photo of a cat" in CLIP's BPE, as published with openai/CLIP and transformers' docs.
CAT_IDS = [49406, 320, 1125, 539, 320, 2368, 49407]
SOT, EOT = 49406, 49407


@pytest.fixture(scope="session")
def clip_tokenizer_dir(shared):
    folder = shared / "tokenizers" / "clip-bpe"
    assert (folder / "vocab.json").is_file() and (folder / "merges.txt").is_file(), folder
    return folder


@pytest.fixture(scope="module")
def small_clip_config():
    from transformers import CLIPTextConfig

    return CLIPTextConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                          num_attention_heads=2, projection_dim=32)


@pytest.fixture(scope="module")
def small_clip(clip_tokenizer_dir, small_clip_config):
    with pytest.warns(UserWarning, match="RANDOM"):
        return text_mod.clip_from_config(clip_tokenizer_dir, small_clip_config)


def cosine(a, b):
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


# --- MiniLM ---------------------------------------------------------------------------------

def test_minilm_gives_384d_unit_float32(minilm):
    vectors = minilm.embed(["a dog barks", "rain falls on a roof"])
    assert isinstance(minilm, TextEncoder)
    assert minilm.name == "minilm" and minilm.dim == 384
    assert vectors.shape == (2, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert minilm.selection_reason == "requested"


def test_minilm_similar_captions_are_closer(minilm):
    dog, puppy, rain = minilm.embed(["a dog barks", "a puppy is barking", "rain falls on a roof"])
    assert cosine(dog, puppy) > cosine(dog, rain) + 0.3
    assert cosine(dog, puppy) > cosine(puppy, rain) + 0.3


def test_minilm_is_deterministic_and_batch_independent(minilm):
    captions = ["a dog barks", "a car horn honks twice in the street", "birds"]
    first, second = minilm.embed(captions), minilm.embed(captions)
    np.testing.assert_array_equal(first, second)
    singles = np.concatenate([minilm.embed([c]) for c in captions])
    np.testing.assert_allclose(first, singles, atol=1e-5)


def test_minilm_identity_is_the_packaged_weight_file(minilm):
    from clapdemo.encoders.weights import sha256_file

    folder = text_mod._minilm_dir()
    assert minilm.identity.weights_sha256 == sha256_file(folder / "model.safetensors")
    assert minilm.identity.preprocessing["normalize"] is True


def test_embed_refuses_a_bare_string_and_accepts_an_empty_list(minilm, small_clip):
    for encoder in (minilm, small_clip):
        with pytest.raises(TypeError, match="list of captions"):
            encoder.embed("a dog barks")
        assert encoder.embed([]).shape == (0, encoder.dim)


# --- CLIP (random weights, real tokenizer) ---------------------------------------------------

def test_clip_tokenizer_gives_known_bpe_ids(small_clip, clip_tokenizer_dir):
    ids = small_clip.tokenize(["a photo of a cat"])["input_ids"][0].tolist()
    assert ids == CAT_IDS
    vocab = json.loads((clip_tokenizer_dir / "vocab.json").read_text())
    assert [vocab[t] for t in ["<|startoftext|>", "a</w>", "photo</w>", "of</w>", "a</w>", "cat</w>", "<|endoftext|>"]] == CAT_IDS


def test_clip_output_dim_is_projection_dim(small_clip, small_clip_config):
    vectors = small_clip.embed(["a dog barks", "rain falls on a roof"])
    assert isinstance(small_clip, TextEncoder)
    assert small_clip.dim == small_clip_config.projection_dim == 32
    assert vectors.shape == (2, 32) and vectors.dtype == np.float32 and np.isfinite(vectors).all()


def test_clip_random_identity_says_random(small_clip):
    assert small_clip.name == "clip:random"
    assert small_clip.identity.weights_sha256 == "random"
    assert small_clip.identity.preprocessing == {"max_length": 77, "output": "text_embeds"}
    assert small_clip.selection_reason == "requested"
    assert not any(p.requires_grad for p in small_clip.model.parameters())
    assert not small_clip.model.training


def test_clip_pads_short_and_truncates_long_captions(small_clip):
    long_caption = " ".join(["a dog barks loudly at the mailman"] * 40)  # ~280 tokens
    batch = small_clip.tokenize(["a dog", long_caption])
    ids, mask = batch["input_ids"], batch["attention_mask"]
    assert ids.shape == (2, 77)
    assert ids[1, 0] == SOT and ids[1, -1] == EOT and mask[1].all()  # truncated, end token kept
    assert ids[0, :4].tolist() == [SOT, 320, 1929, EOT]  # "a dog"
    assert mask[0].sum() == 4 and (ids[0, 4:] == EOT).all()  # padded with <|endoftext|>
    vectors = small_clip.embed(["a dog", long_caption])
    assert vectors.shape == (2, 32) and np.isfinite(vectors).all()


def test_clip_batch_equals_single(small_clip):
    captions = ["a dog", "rain falls on a tin roof during a storm", " ".join(["word"] * 100)]
    batch = small_clip.embed(captions)
    singles = np.concatenate([small_clip.embed([c]) for c in captions])
    np.testing.assert_allclose(batch, singles, atol=1e-5)
    np.testing.assert_array_equal(batch, small_clip.embed(captions))


def test_load_clip_with_a_given_model_hashes_its_tensors(clip_tokenizer_dir, small_clip):
    first = text_mod.load_clip("my/clip", tokenizer_dir=clip_tokenizer_dir, model=small_clip.model)
    second = text_mod.load_clip("my/clip", tokenizer_dir=clip_tokenizer_dir, model=small_clip.model)
    assert first.name == "clip:my/clip"
    assert re.fullmatch(r"[0-9a-f]{64}", first.identity.weights_sha256)
    assert first.identity == second.identity


def test_load_clip_refuses_a_folder_without_tokenizer_files(tmp_path, small_clip):
    # transformers 5 would silently build a 2-token tokenizer from an empty folder.
    with pytest.raises(OSError, match="vocab.json"):
        text_mod.load_clip("my/clip", tokenizer_dir=tmp_path, model=small_clip.model)


# --- auto selection and the registry ---------------------------------------------------------

def _no_network(monkeypatch) -> list:
    """Every attempt to open a connection or probe the hub, recorded (and refused) in the returned list."""
    import socket

    tries = []

    def refuse(*args, **kwargs):
        tries.append(args)
        raise OSError("the test refused a network connection")

    monkeypatch.setattr(socket.socket, "connect", lambda self, *a: refuse(*a))
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(text_mod, "hub_has_model", lambda *a, **k: tries.append(("hub_has_model", a, k)) or False)
    return tries


def test_auto_offline_returns_minilm_without_asking_the_hub(minilm, monkeypatch):
    """Offline, "auto" decides from the local cache alone: no hub probe, no connection attempt
    (a probe is what could make start-up wait; start-up time: benchmarks/bench_app.py --ready)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    tries = _no_network(monkeypatch)
    encoder = load_text_encoder("auto")
    assert tries == [], f"load_text_encoder('auto') tried the network offline: {tries}"
    if text_mod.clip_in_cache():  # a machine that has CLIP cached uses it, and says so
        assert encoder.name.startswith("clip:") and "cache" in encoder.selection_reason
    else:
        assert encoder.name == "minilm" and encoder.dim == 384
        assert "HF_HUB_OFFLINE" in encoder.selection_reason and "MiniLM" in encoder.selection_reason


def test_hub_probe_never_hangs(monkeypatch):
    """The probe answers "no" once its timeout is up even while the request itself still hangs
    (a DNS lookup or TLS handshake that never ends), and hands the timeout to the request too."""
    import threading

    entered, release, finished, timeouts = threading.Event(), threading.Event(), threading.Event(), []

    def hanging_urlopen(request, timeout=None):
        timeouts.append(timeout)
        entered.set()
        release.wait(60)  # a hang, until the test releases it (60 s: a guard, should the probe wait for it)
        finished.set()
        raise OSError("timed out")

    monkeypatch.setattr(text_mod, "urlopen", hanging_urlopen)
    try:
        assert text_mod.hub_has_model("openai/clip-vit-base-patch32", timeout=0.2, endpoint="https://hub.invalid") is False
        assert entered.wait(30) and not finished.is_set(), "the probe waited for the hanging request"
        assert timeouts == [0.2]
    finally:
        release.set()
    monkeypatch.undo()  # and a real unroutable address is a "no" as well
    assert text_mod.hub_has_model("openai/clip-vit-base-patch32", timeout=0.5, endpoint="https://10.255.255.1") is False


def test_auto_with_unreachable_hub_falls_back_to_minilm(minilm, monkeypatch):
    """Online but the hub does not answer: one probe with the given timeout, no download attempt, MiniLM."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "https://10.255.255.1")  # unroutable: connect hangs or fails
    probes, downloads = [], []
    real_probe = text_mod.hub_has_model
    monkeypatch.setattr(text_mod, "hub_has_model", lambda *a, **k: probes.append((a, k)) or real_probe(*a, **k))
    monkeypatch.setattr(text_mod, "load_clip", lambda *a, **k: downloads.append((a, k)) or pytest.fail("load_clip"))
    encoder = text_mod.load_auto(model_id="clapdemo-tests/no-such-clip", hub_timeout=1.0)
    assert len(probes) == 1 and 1.0 in [*probes[0][0], *probes[0][1].values()], probes  # one probe, 1 s
    assert downloads == []
    assert encoder.name == "minilm"
    assert "did not serve it within 1 s" in encoder.selection_reason


def test_unknown_text_encoder_lists_valid_names():
    with pytest.raises(ValueError, match="unknown text encoder 'bert'.*auto, clip, minilm"):
        load_text_encoder("bert")
