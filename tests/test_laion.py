"""LAION-CLAP audio towers (optional extra): reached offline, built with random weights.

No LAION or PANNs checkpoint can be had offline: we build the architectures,
check shapes, the official key names and the 48 kHz front end, and load
checkpoints we write ourselves in LAION's layout. Skipped where laion-clap is
not installed (`pip install --no-deps -r requirements-laion.txt`), except the
test of the message that says so.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from clapdemo.encoders import AudioEncoder, load_audio_encoder
from clapdemo.encoders import laion

REPO = Path(__file__).resolve().parent.parent
HAVE_LAION = importlib.util.find_spec("laion_clap") is not None and importlib.util.find_spec("torchlibrosa") is not None
pytestmark = pytest.mark.slow
requires_laion = pytest.mark.skipif(not HAVE_LAION, reason="optional extra: pip install --no-deps -r requirements-laion.txt")

# Key names of the official checkpoints (630k-audioset-best.pt: "state_dict" of the DDP-wrapped CLAP).
HTSAT_KEYS = {
    "module.audio_branch.spectrogram_extractor.stft.conv_real.weight": (513, 1, 1024),
    "module.audio_branch.logmel_extractor.melW": (513, 64),
    "module.audio_branch.bn0.running_var": (64,),
    "module.audio_branch.patch_embed.proj.weight": (96, 1, 4, 4),
    "module.audio_branch.layers.0.blocks.0.attn.relative_position_bias_table": (225, 4),
    "module.audio_branch.layers.1.blocks.1.attn_mask": None,
    "module.audio_branch.layers.1.downsample.reduction.weight": (384, 768),
    "module.audio_branch.norm.weight": (768,),
    "module.audio_branch.tscam_conv.weight": (527, 768, 2, 3),
    "module.audio_projection.0.weight": (512, 768),
    "module.audio_projection.2.weight": (512, 512),
}
CNN14_KEYS = {  # PANNs' Cnn14 names, under LAION's audio_branch
    "audio_branch.bn0.weight": (64,),
    "audio_branch.conv_block1.conv1.weight": (64, 1, 3, 3),
    "audio_branch.conv_block6.bn2.running_mean": (2048,),
    "audio_branch.fc1.weight": (2048, 2048),
    "audio_branch.fc_audioset.weight": (527, 2048),
}


def test_missing_laion_clap_says_how_to_install(monkeypatch):
    monkeypatch.setattr(laion.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ImportError, match=r"pip install --no-deps -r requirements-laion\.txt"):
        laion._clap_module_dir()


def test_fit_length_and_int16_quantisation():
    short = np.array([1, 2, 3], np.float32)
    np.testing.assert_array_equal(laion._fit_length(short, 8), [1, 2, 3, 1, 2, 3, 0, 0])  # LAION "repeatpad"
    np.testing.assert_array_equal(laion._fit_length(np.arange(10, dtype=np.float32), 4), [0, 1, 2, 3])
    assert laion._fit_length(np.zeros(0, np.float32), 4).shape == (4,)
    q = laion._quantise_int16(np.array([2.0, -2.0, 0.5, 1e-6], np.float32))
    np.testing.assert_allclose(q, [1.0, -1.0, 16383 / 32767, 0.0])


@requires_laion
def test_model_code_imports_offline_without_laion_init():
    """In a fresh interpreter with sockets blocked and a hostile argv: no laion_clap/__init__, no hub."""
    script = textwrap.dedent("""
        import socket, sys
        def refuse(*args, **kwargs):
            raise OSError("network blocked by the test")
        socket.socket.connect = refuse
        socket.create_connection = refuse
        sys.argv = ["host-program", "--flag-laion-does-not-know"]  # 1.1.5 parse_args() would exit on this

        from clapdemo.encoders import laion
        modules = laion.clap_modules()
        assert laion.clap_modules().htsat is modules.htsat  # cached
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in
                        ("laion_clap", "transformers", "torchvision", "h5py", "wandb"))
        assert loaded == [], loaded
        assert modules.htsat.__file__.endswith("laion_clap/clap_module/htsat.py"), modules.htsat.__file__
        assert modules.pann_model.__file__.endswith("laion_clap/clap_module/pann_model.py")
        print("OK")
    """)
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and result.stdout.strip().endswith("OK"), result.stderr[-3000:]


@pytest.fixture(scope="module")
def htsat():
    with pytest.warns(UserWarning, match="RANDOM"):
        return laion.load_htsat(random_weights=True)


@pytest.fixture(scope="module")
def cnn14():
    with pytest.warns(UserWarning, match="RANDOM"):
        return laion.load_cnn14(random_weights=True)


def ten_second_clips(n: int, seed: int = 0) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal((n, 480000))).astype(np.float32)


@requires_laion
def test_htsat_shapes_and_determinism(htsat):
    assert isinstance(htsat, AudioEncoder)
    assert (htsat.name, htsat.dim, htsat.sample_rate, htsat.clip_seconds) == ("htsat:projected", 512, 48000, 10.0)
    assert htsat.identity.weights_sha256 == "random"
    clip = ten_second_clips(1)[0]
    vectors = htsat.embed(np.stack([clip, clip]))
    assert vectors.shape == (2, 512) and vectors.dtype == np.float32 and np.isfinite(vectors).all()
    np.testing.assert_allclose(vectors[0], vectors[1], atol=1e-5)  # eval mode: no dropout, no random crop
    assert not htsat.model.training and not any(p.requires_grad for p in htsat.model.parameters())


@requires_laion
def test_htsat_key_names_match_the_official_checkpoint(htsat):
    state = {f"module.{k}": v for k, v in htsat.model.state_dict().items()}
    for key, shape in HTSAT_KEYS.items():
        assert key in state, key
        assert shape is None or tuple(state[key].shape) == shape, (key, tuple(state[key].shape))
    assert all(k.startswith(("module.audio_branch.", "module.audio_projection.")) for k in state)


@requires_laion
def test_front_end_is_48k_laion_mel(htsat, cnn14):
    import librosa

    expected = librosa.filters.mel(sr=48000, n_fft=1024, n_mels=64, fmin=50, fmax=14000).T
    for encoder in (htsat, cnn14):
        branch = encoder.model.audio_branch
        np.testing.assert_allclose(branch.logmel_extractor.melW.detach().numpy(), expected, rtol=1e-5, atol=1e-7)
        assert branch.spectrogram_extractor.stft.conv_real.stride == (480,)
        assert branch.spectrogram_extractor.stft.conv_real.kernel_size == (1024,)
        pre = encoder.identity.preprocessing
        assert (pre["sample_rate"], pre["hop_size"], pre["window_size"], pre["mel_bins"], pre["fmin"], pre["fmax"]) == \
            (48000, 480, 1024, 64, 50, 14000)
        assert pre["clip_samples"] == 480000 and pre["quantise"] == "int16"


@requires_laion
def test_cnn14_shapes_and_key_names(cnn14):
    assert (cnn14.name, cnn14.dim, cnn14.sample_rate) == ("cnn14:embedding", 2048, 48000)
    vectors = cnn14.embed(ten_second_clips(2))
    assert vectors.shape == (2, 2048) and vectors.dtype == np.float32 and np.isfinite(vectors).all()
    state = cnn14.model.state_dict()
    for key, shape in CNN14_KEYS.items():
        assert tuple(state[key].shape) == shape, key
    assert not any(k.startswith("audio_projection.") for k in state)


@requires_laion
def test_panns_checkpoint_maps_onto_cnn14_keeping_the_48k_front_end(cnn14):
    import torch

    ours = cnn14.model.state_dict()
    panns = {k[len("audio_branch."):]: torch.randn_like(v.float()).to(v.dtype) for k, v in ours.items()}
    mapped = laion.audio_state_dict({"iteration": 1, "model": panns}, ours)
    assert set(mapped) == set(ours)
    for key in mapped:
        if key.startswith(laion._FRONT_END):  # 32 kHz buffers in the PANNs file are not used
            assert torch.equal(mapped[key], ours[key]), key
        else:
            assert torch.equal(mapped[key], panns[key[len("audio_branch."):]]), key


@pytest.fixture(scope="module")
def laion_checkpoint(htsat, tmp_path_factory):
    """A file in LAION's layout: DDP prefix, audio tower without projection, a text key to be dropped."""
    import torch

    state = {f"module.{k}": v.clone() for k, v in htsat.model.state_dict().items() if k.startswith("audio_branch.")}
    state["module.audio_branch.bn0.bias"] += 0.5
    state["module.text_branch.embeddings.position_ids"] = torch.arange(77)
    path = tmp_path_factory.mktemp("laion") / "fake-630k.pt"
    torch.save({"epoch": 1, "name": "fake", "state_dict": state}, path)
    return path


@requires_laion
def test_load_htsat_from_a_laion_checkpoint_strictly(htsat, laion_checkpoint):
    from clapdemo.encoders.weights import sha256_file

    encoder = laion.load_htsat(checkpoint=laion_checkpoint, output="embedding")
    assert (encoder.name, encoder.dim) == ("htsat:embedding", 768)
    assert encoder.identity.weights_sha256 == sha256_file(laion_checkpoint)
    expected = htsat.model.state_dict()["audio_branch.bn0.bias"] + 0.5
    assert np.allclose(encoder.model.state_dict()["audio_branch.bn0.bias"].numpy(), expected.numpy())
    assert encoder.embed(ten_second_clips(1)).shape == (1, 768)


@requires_laion
def test_projected_output_needs_the_projection_keys(laion_checkpoint):
    with pytest.raises(RuntimeError, match=r"(?s)fake-630k\.pt does not fit.*Missing.*audio_projection"):
        laion.load_htsat(checkpoint=laion_checkpoint, output="projected")


def test_clear_errors_before_any_model_is_built():
    with pytest.raises(ValueError, match="unknown output 'logits'; valid: projected, embedding"):
        load_audio_encoder("htsat:logits")
    with pytest.raises(FileNotFoundError, match="no-such.pt"):
        laion.load_cnn14(checkpoint="/nonexistent/no-such.pt")
