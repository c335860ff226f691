"""EfficientAT encoders: strict loading, front end, sensible AudioSet tags on real clips,
determinism, batch independence, output dims; mn10/mn40 as architecture only (random weights)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from clapdemo.encoders import AudioEncoder, load_audio_encoder
from clapdemo.encoders.audioset_labels import AUDIOSET_LABELS
from clapdemo.encoders.efficientat import (
    DEFAULT_OUTPUT, FRONT_END, MelFrontEnd, build_mn, kaldi_mel_banks, load_efficientat,
)
from clapdemo.encoders.weights import WEIGHTS

SR = 32000
TEN_S = 10 * SR


def _clip(esc50_root, filename: str) -> np.ndarray:
    """ESC-50 FLAC (44.1 kHz, 5 s) -> mono 32 kHz, zero-padded to 10 s."""
    import librosa
    import soundfile as sf

    audio, sr = sf.read(esc50_root / "audio" / filename, dtype="float32", always_2d=True)
    audio = librosa.resample(audio.mean(axis=1), orig_sr=sr, target_sr=SR)[:TEN_S]
    return np.pad(audio, (0, TEN_S - len(audio))).astype(np.float32)


@pytest.fixture(scope="module")
def esc50(esc50_root) -> pd.DataFrame:
    return pd.read_csv(esc50_root / "esc50.csv")


@pytest.fixture(scope="module")
def four_clips(esc50, esc50_root) -> np.ndarray:
    return np.stack([_clip(esc50_root, f) for f in esc50.filename[:4]])


# ----------------------------------------------------------------------------- loading

def test_mn04_loads_strictly_with_the_official_keys(shared, mn04):
    state = torch.load(shared / "weights" / WEIGHTS["mn04_as"].filename, map_location="cpu", weights_only=True)
    assert len(state) == 312
    ours = mn04.model.state_dict()
    assert list(ours) == list(state)
    assert all(torch.equal(ours[k], state[k]) for k in state)
    assert sum(p.numel() for p in mn04.model.parameters()) == 983_599  # docs/encoders.md: 0.983 M


def test_mn04_is_a_frozen_encoder(mn04):
    assert isinstance(mn04, AudioEncoder)
    assert mn04.name == f"mn04_as:{DEFAULT_OUTPUT}" and mn04.sample_rate == SR and mn04.clip_seconds == 10.0
    assert not mn04.model.training and not any(p.requires_grad for p in mn04.model.parameters())
    ident = mn04.identity.to_dict()
    assert ident["weights_sha256"] == WEIGHTS["mn04_as"].sha256
    assert ident["preprocessing"] == {"sample_rate": SR, "window": "hann(800, periodic=False)", "hop": 320,
                                      "n_mels": 128, "fmax": 15000.0, "output": DEFAULT_OUTPUT,
                                      "clip_seconds": 10.0}


@pytest.mark.parametrize("output, dim", [("pooled", 384), ("head", 512), ("logits", 527)])
def test_mn04_output_dims(output, dim, four_clips):
    enc = load_audio_encoder(f"mn04_as:{output}")
    assert enc.dim == dim and enc.name == f"mn04_as:{output}" and enc.identity.preprocessing["output"] == output
    vectors = enc.embed(four_clips[:2])
    assert vectors.shape == (2, dim) and vectors.dtype == np.float32 and np.isfinite(vectors).all()


def test_unknown_output_and_model_are_clear_errors():
    with pytest.raises(ValueError, match="pooled, head, logits"):
        load_efficientat("mn04_as", output="probs")
    with pytest.raises(ValueError, match="mn10_as"):
        load_efficientat("mn99_as")


def test_wrong_weight_file_names_the_file(shared):
    path = shared / "weights" / WEIGHTS["mn04_as"].filename
    with pytest.raises(RuntimeError, match="mn04_as_mAP_432.pt does not fit mn10_as"):
        load_efficientat("mn10_as", weights_path=str(path))


# ----------------------------------------------------------------------------- front end

def test_front_end_shape_and_normalisation():
    front = MelFrontEnd()
    silence = front(torch.zeros(1, TEN_S))
    assert silence.shape == (1, 1, 128, 1000)  # 10 s at hop 320 -> 1000 frames
    # silence -> log(1e-5), then the fast normalisation (x + 4.5) / 5
    assert torch.allclose(silence, torch.full_like(silence, (np.log(1e-5) + 4.5) / 5))
    assert FRONT_END["sample_rate"] == SR and FRONT_END["fmax"] == 15000.0


def test_mel_banks_are_kaldi_triangles_up_to_fmax():
    banks = kaldi_mel_banks(128, 1024, SR, 0.0, 15000.0)
    assert banks.shape == (128, 512) and banks.dtype == torch.float32
    assert banks.min() >= 0 and banks.max() <= 1
    bin_hz = torch.arange(512) * SR / 1024
    assert banks[:, bin_hz > 15000].abs().sum() == 0  # nothing above fmax
    assert (banks.sum(dim=0)[(bin_hz > 200) & (bin_hz < 14500)] > 0).all()  # no holes in the middle
    peaks = banks.argmax(dim=1)
    assert (peaks[1:] >= peaks[:-1]).all()  # centres rise with the band index
    assert MelFrontEnd().mel_banks[:, -1].abs().sum() == 0  # the padded Nyquist column


def test_tone_lands_in_the_right_mel_band():
    t = torch.arange(SR) / SR
    mel = MelFrontEnd()(torch.sin(2 * np.pi * 1000.0 * t)[None])[0, 0]
    band = int(mel[:, 10:-10].mean(dim=1).argmax())
    peak_hz = float(torch.arange(512)[kaldi_mel_banks(128, 1024, SR, 0.0, 15000.0)[band].argmax()] * SR / 1024)
    assert abs(peak_hz - 1000.0) < 60.0


# ----------------------------------------------------------------------------- behaviour on real audio

# ESC-50 class -> AudioSet labels any of which counts as right. Measured on this subset (all clips,
# top 3): dog 8/8, rain 7/9, crying_baby 10/10, church_bells 8/8, siren 8/8, rooster 8/8, cow 12/12,
# toilet_flush 8/8. A wrong front end or a mis-loaded layer drops these to near zero.
EXPECTED = {
    "dog": {"Dog", "Bark", "Animal"},
    "rain": {"Rain", "Rain on surface", "Raindrop"},
    "crying_baby": {"Baby cry, infant cry", "Crying, sobbing"},
    "church_bells": {"Church bell", "Bell", "Change ringing (campanology)"},
    "siren": {"Siren", "Civil defense siren", "Police car (siren)", "Ambulance (siren)"},
    "rooster": {"Chicken, rooster", "Crowing, cock-a-doodle-doo"},
    "toilet_flush": {"Toilet flush"},
}


@pytest.fixture(scope="module")
def tags(mn04, esc50, esc50_root) -> dict[str, list[list[str]]]:
    out = {}
    for category in EXPECTED:
        files = esc50.filename[esc50.category == category][:8]
        clips = np.stack([_clip(esc50_root, f) for f in files])
        out[category] = [[label for label, _ in top] for top in mn04.predict_labels(clips, top_k=3)]
    return out


@pytest.mark.parametrize("category", list(EXPECTED))
def test_audioset_tags_make_sense(tags, category):
    hits = [bool(EXPECTED[category] & set(top)) for top in tags[category]]
    assert len(hits) >= 8 and sum(hits) >= 0.75 * len(hits), tags[category]


def test_tags_are_specific_not_generic(tags):
    # The most specific label, not only "Animal"/"Vehicle", is usually top 1.
    assert sum(top[0] == "Baby cry, infant cry" for top in tags["crying_baby"]) >= 7
    assert sum("Dog" in top for top in tags["dog"]) >= 7


def test_predict_labels_are_probabilities(mn04, four_clips):
    top = mn04.predict_labels(four_clips[:1], top_k=5)[0]
    probs = [p for _, p in top]
    assert len(top) == 5 and all(0 < p < 1 for p in probs) and probs == sorted(probs, reverse=True)
    assert all(label in AUDIOSET_LABELS for label, _ in top) and len(AUDIOSET_LABELS) == 527


def test_same_clip_twice_gives_identical_vectors(mn04, four_clips):
    assert np.array_equal(mn04.embed(four_clips[:1]), mn04.embed(four_clips[:1]))


def test_batch_equals_one_by_one(mn04, four_clips):
    batched = mn04.embed(four_clips)
    single = np.concatenate([mn04.embed(four_clips[i:i + 1]) for i in range(len(four_clips))])
    np.testing.assert_allclose(batched, single, atol=1e-5, rtol=1e-5)


def test_embed_rejects_wrong_shape(mn04, four_clips):
    with pytest.raises(ValueError, match=r"\(batch, samples\)"):
        mn04.embed(four_clips[0])


# ----------------------------------------------------------------------------- mn10 / mn40 architecture only

@pytest.mark.parametrize("width, pooled, head, params_m", [(1.0, 960, 1280, 4.88), (4.0, 3840, 5120, 68.43)])
def test_wider_models_keys_and_shapes(shared, width, pooled, head, params_m):
    mn04_keys = list(torch.load(shared / "weights" / WEIGHTS["mn04_as"].filename, map_location="cpu",
                                weights_only=True))
    model = build_mn(width).eval()
    state = model.state_dict()
    assert list(state) == mn04_keys  # same official naming at every width
    assert state["features.16.0.weight"].shape == (pooled, pooled // 6, 1, 1)
    assert state["classifier.2.weight"].shape == (head, pooled)
    assert state["classifier.5.weight"].shape == (527, head)
    assert round(sum(p.numel() for p in model.parameters()) / 1e6, 2) == params_m  # EfficientAT README
    with torch.inference_mode():
        out = model(torch.randn(2, 1, 128, 100))
    assert out.pooled.shape == (2, pooled) and out.head.shape == (2, head) and out.logits.shape == (2, 527)


def test_wider_models_without_weights_fail_clearly(tmp_path, monkeypatch):
    from urllib.error import URLError

    from clapdemo.encoders import weights

    monkeypatch.setenv(weights.ENV_DIR, str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(weights, "urlopen", lambda url, timeout=None: (_ for _ in ()).throw(URLError("offline")))
    with pytest.raises(weights.WeightsNotFound, match="mn40_as_ext_mAP_487.pt"):
        load_audio_encoder("mn40_as_ext")
