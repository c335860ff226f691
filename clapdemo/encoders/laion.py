"""LAION-CLAP's audio towers (HTSAT-tiny, PANNs CNN14) as optional audio encoders.

The model code comes from the PyPI package laion-clap (an optional extra:
`pip install --no-deps -r requirements-laion.txt`). We never `import
laion_clap`: its `__init__` runs `training/data.py`, which in 1.1.7 loads three
tokenizers from the hub (fails offline) and in 1.1.5 calls `parse_args()` on
the host program's `sys.argv`. Instead `clap_modules()` registers a synthetic
package whose `__path__` is laion-clap's `clap_module/` folder and imports only
`htsat.py` and `pann_model.py` from it (plus `feature_fusion.py`, which they
import). Their `from .utils import ...` is answered by a small stand-in module:
the real `utils.py` imports torchvision and h5py at the top, only to offer
three pure-torch helpers these two files use.

Outputs (pick with the registry name, e.g. "htsat:embedding"):

- htsat (default "projected"): 512-d, the audio tower followed by CLAP's own
  audio projection (Linear 768->512, ReLU, Linear 512->512) from the
  checkpoint `630k-audioset-best.pt` (HTSAT-tiny, non-fusion): the space CLAP
  trained against its text tower. "embedding": the 768-d HTSAT pooled output
  before that projection.
- cnn14 (default "embedding"): 2048-d, PANNs CNN14's `fc1` output. Weights:
  the PANNs AudioSet checkpoint `Cnn14_mAP=0.431.pth` (Zenodo), loaded as
  LAION-CLAP loads it to initialise its PANN audio tower: every layer except
  the STFT/mel front end, which stays at CLAP's 48 kHz settings (the PANNs
  file's buffers are for 32 kHz). A LAION-CLAP checkpoint with a PANN-14 audio
  tower also loads, and then "projected" (512-d) is available.

Preprocessing (LAION-CLAP's `get_audio_embedding_from_data`, made
deterministic): mono 48 kHz, quantised to int16 and back, 10 s windows
(shorter audio repeated then zero-padded, longer audio cropped from the start
instead of LAION's random crop), STFT n_fft 1024 / hop 480 / Hann, 64 mel bins
50-14000 Hz, log-mel in dB (torchlibrosa), then the model's own BatchNorm.

Checkpoints: `load_*(checkpoint=path)`, else `clapdemo.encoders.weights.find_weights`
(CLAPDEMO_WEIGHTS_DIR -> user cache -> official URL). LAION checkpoints hold
the whole CLAP under `state_dict` with keys `module.audio_branch.*`,
`module.audio_projection.*`, `module.text_branch.*`, ...; we keep the audio
keys, strip `module.` and load strictly.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from clapdemo.encoders.base import EncoderIdentity

__all__ = [
    "LaionAudioConfig", "HTSAT_TINY", "PANN_CNN14", "LaionAudioEncoder",
    "clap_modules", "build_audio_tower", "audio_state_dict", "load_htsat", "load_cnn14",
]

INSTALL_HINT = "pip install --no-deps -r requirements-laion.txt"
_PACKAGE = "clapdemo._laion_clap_module"  # the synthetic parent of htsat.py / pann_model.py


@dataclass(frozen=True)
class LaionAudioConfig:
    """LAION-CLAP's `CLAPAudioCfp`, as in its `model_configs/HTSAT-tiny.json` and `PANN-14.json`.

    model_type:   "HTSAT" or "PANN"
    model_name:   "tiny" | "base" | "large" for HTSAT; "Cnn14" etc. for PANN
    embed_dim:    width of the tower's pooled "embedding" output (768 HTSAT-tiny, 2048 CNN14)
    sample_rate:  48000 Hz
    window_size:  STFT n_fft and window length, 1024 samples
    hop_size:     480 samples (10 ms)
    mel_bins:     64
    fmin, fmax:   50, 14000 Hz (mel filterbank range)
    class_num:    527 AudioSet classes (the towers' classifier heads)
    clip_samples: 480000 (10 s at 48 kHz)
    audio_length: 1024 (unused by the towers; kept so the config matches LAION's)
    joint_dim:    512, output width of CLAP's audio projection
    """

    model_type: str
    model_name: str
    embed_dim: int
    sample_rate: int = 48000
    window_size: int = 1024
    hop_size: int = 480
    mel_bins: int = 64
    fmin: int = 50
    fmax: int = 14000
    class_num: int = 527
    clip_samples: int = 480000
    audio_length: int = 1024
    joint_dim: int = 512


HTSAT_TINY = LaionAudioConfig("HTSAT", "tiny", embed_dim=768)
PANN_CNN14 = LaionAudioConfig("PANN", "Cnn14", embed_dim=2048)

# Layers of both towers that turn a waveform into a log-mel (torchlibrosa parameters).
_FRONT_END = ("audio_branch.spectrogram_extractor.", "audio_branch.logmel_extractor.")


# --- reaching laion-clap's model files without its __init__ ------------------------------------

def _clap_module_dir() -> Path:
    """laion-clap's `clap_module/` folder, found without importing the package."""
    spec = importlib.util.find_spec("laion_clap")  # top-level find_spec does not execute __init__
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"the LAION-CLAP encoders need the optional extra laion-clap: {INSTALL_HINT}")
    folder = Path(next(iter(spec.submodule_search_locations))) / "clap_module"
    for name in ("htsat.py", "pann_model.py", "feature_fusion.py"):
        if not (folder / name).is_file():
            raise ImportError(f"laion-clap at {folder.parent} lacks clap_module/{name}; reinstall: {INSTALL_HINT}")
    return folder


def _utils_stand_in() -> types.ModuleType:
    """The three helpers htsat.py / pann_model.py import from laion-clap's utils.py.

    Copied from LAION-AI/CLAP src/laion_clap/clap_module/utils.py (CC0-1.0); the
    original file imports torchvision and h5py at the top, which we do not want
    to require (torchvision must match the torch build exactly).
    """
    import torch

    def do_mixup(x, mixup_lambda):
        """Mix each example with the batch reversed (training only)."""
        return (x.transpose(0, -1) * mixup_lambda
                + torch.flip(x, dims=[0]).transpose(0, -1) * (1 - mixup_lambda)).transpose(0, -1)

    def interpolate(x, ratio):
        """(batch, time, classes) -> (batch, time * ratio, classes) by repetition."""
        batch, steps, classes = x.shape
        return x[:, :, None, :].repeat(1, 1, ratio, 1).reshape(batch, steps * ratio, classes)

    def pad_framewise_output(framewise_output, frames_num):
        """Pad (batch, frames, classes) to `frames_num` frames with the last frame."""
        pad = framewise_output[:, -1:, :].repeat(1, frames_num - framewise_output.shape[1], 1)
        return torch.cat((framewise_output, pad), dim=1)

    module = types.ModuleType(f"{_PACKAGE}.utils", _utils_stand_in.__doc__)
    module.do_mixup, module.interpolate, module.pad_framewise_output = do_mixup, interpolate, pad_framewise_output
    return module


def clap_modules() -> types.SimpleNamespace:
    """laion-clap's `htsat` and `pann_model` modules, imported offline with no side effects.

    Idempotent: the synthetic package stays in sys.modules under
    "clapdemo._laion_clap_module", so a second call is free.
    """
    if _PACKAGE not in sys.modules:
        folder = _clap_module_dir()
        package = types.ModuleType(_PACKAGE, "laion-clap's clap_module/ folder, without its __init__.py")
        package.__path__ = [str(folder)]
        package.__package__ = _PACKAGE
        sys.modules[_PACKAGE] = package
        sys.modules[f"{_PACKAGE}.utils"] = _utils_stand_in()
    try:
        htsat = importlib.import_module(f"{_PACKAGE}.htsat")
        pann = importlib.import_module(f"{_PACKAGE}.pann_model")
    except ModuleNotFoundError as err:  # e.g. torchlibrosa missing
        raise ImportError(f"laion-clap's model code needs {err.name!r}: {INSTALL_HINT}") from err
    return types.SimpleNamespace(htsat=htsat, pann_model=pann)


# --- building and loading --------------------------------------------------------------------

def build_audio_tower(config: LaionAudioConfig, projected: bool):
    """The audio half of LAION-CLAP's `CLAP` module, with its attribute names (so keys match).

    Weights are random (LAION's own init) until a checkpoint is loaded.
    """
    import torch.nn as nn

    import warnings

    modules = clap_modules()
    create = {"HTSAT": modules.htsat.create_htsat_model, "PANN": modules.pann_model.create_pann_model}
    if config.model_type not in create:
        raise ValueError(f"unknown LAION audio model_type {config.model_type!r}; valid: HTSAT, PANN")
    with warnings.catch_warnings():  # HTSAT calls torch.meshgrid without `indexing`: not ours to fix
        warnings.filterwarnings("ignore", message="torch.meshgrid", category=UserWarning)
        branch = create[config.model_type](config)

    class ClapAudioTower(nn.Module):
        """waveform (batch, samples) -> pooled embedding, then CLAP's audio projection if `projected`."""

        def __init__(self):
            super().__init__()
            self.audio_branch = branch
            if projected:  # CLAP.audio_projection with mlp_act="relu", as in LAION's model.py
                self.audio_projection = nn.Sequential(
                    nn.Linear(config.embed_dim, config.joint_dim), nn.ReLU(), nn.Linear(config.joint_dim, config.joint_dim))

        def forward(self, waveforms):
            embedding = self.audio_branch({"waveform": waveforms}, device=waveforms.device)["embedding"]
            return self.audio_projection(embedding) if projected else embedding

    return ClapAudioTower()


def audio_state_dict(checkpoint: dict, model_state: dict) -> dict:
    """Map a LAION-CLAP or PANNs checkpoint onto `model_state`'s key names.

    - LAION-CLAP: {"state_dict": {"module.audio_branch.x": ...}} -> "audio_branch.x"
      (and "audio_projection.*"); text-tower keys are dropped.
    - PANNs (Zenodo): {"model": {"conv_block1.conv1.weight": ...}} -> "audio_branch.*",
      keeping our 48 kHz STFT/mel front end as LAION-CLAP's factory.py does.

    Only keys the model does not have are dropped; anything the model has but the
    checkpoint lacks is left out, so the strict load that follows names it.
    """
    state = checkpoint.get("state_dict", checkpoint.get("model", checkpoint))
    state = {(k[len("module."):] if k.startswith("module.") else k): v for k, v in state.items()}
    if not any(k.startswith("audio_branch.") for k in state):  # a bare PANNs / tower state_dict
        state = {f"audio_branch.{k}": v for k, v in state.items()}
        state = {k: v for k, v in state.items() if not k.startswith(_FRONT_END)}
        state.update({k: v for k, v in model_state.items() if k.startswith(_FRONT_END)})
    wanted = ("audio_branch.", "audio_projection.")
    return {k: v for k, v in state.items() if k.startswith(wanted)}


def _read_checkpoint(path: Path) -> dict:
    """Tensors from a .safetensors or a torch checkpoint (never unpickling arbitrary objects)."""
    from clapdemo.encoders.weights import read_state_dict

    return read_state_dict(path)


def _load_weights(tower, path: Path) -> None:
    """Strictly load the audio keys of the checkpoint at `path` into `tower`."""
    state = audio_state_dict(_read_checkpoint(path), tower.state_dict())
    try:
        tower.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise RuntimeError(
            f"{path} does not fit this audio tower (wrong model or output head?): {err}\n"
            "For output='projected' the file must be a LAION-CLAP checkpoint; the PANNs file only has the tower."
        ) from err


def _resolve_checkpoint(checkpoint, weights_name: str) -> tuple[Path, str]:
    """(path, sha256) of an explicit file, or of the official one via clapdemo.encoders.weights."""
    from clapdemo.encoders.weights import find_weights_with_hash, sha256_file

    if checkpoint is None:
        return find_weights_with_hash(weights_name)
    path = Path(checkpoint).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} not found; pass an existing file or checkpoint=None for the official one")
    return path, sha256_file(path)


# --- the encoder -----------------------------------------------------------------------------

def _fit_length(waveform: np.ndarray, samples: int) -> np.ndarray:
    """Exactly `samples` long: LAION's "repeatpad" for short audio, a crop from the start for long."""
    if len(waveform) == 0:
        return np.zeros(samples, np.float32)
    if len(waveform) < samples:
        waveform = np.tile(waveform, samples // len(waveform))
        return np.pad(waveform, (0, samples - len(waveform)))
    return waveform[:samples]


def _quantise_int16(waveforms: np.ndarray) -> np.ndarray:
    """LAION's int16 round trip (float32_to_int16 then int16_to_float32): clip to [-1, 1], 1/32767 steps."""
    return (np.clip(waveforms, -1.0, 1.0) * 32767.0).astype(np.int16).astype(np.float32) / 32767.0


class LaionAudioEncoder:
    """A frozen LAION-CLAP audio tower behind the AudioEncoder interface."""

    clip_seconds = 10.0

    def __init__(self, tower, config: LaionAudioConfig, identity: EncoderIdentity, projected: bool,
                 device: str = "cpu", batch_size: int = 8):
        self.model = tower.to(device).eval().requires_grad_(False)
        self.config = config
        self.identity = identity
        self.name = identity.name
        self.dim = config.joint_dim if projected else config.embed_dim
        self.sample_rate = config.sample_rate
        self.device = device
        self.batch_size = batch_size
        self.selection_reason = "requested"

    def embed(self, waveforms: np.ndarray) -> np.ndarray:
        """(batch, samples) float32 mono at 48 kHz -> (batch, dim) float32 (not normalised)."""
        import torch

        waveforms = np.asarray(waveforms, dtype=np.float32)
        if waveforms.ndim != 2:
            raise ValueError(f"{self.name}: expected (batch, samples) mono audio, got shape {waveforms.shape}")
        samples = self.config.clip_samples
        fitted = np.zeros((len(waveforms), samples), np.float32)
        for row, waveform in zip(fitted, waveforms):
            row[:] = _fit_length(waveform, samples)
        fitted = _quantise_int16(fitted)
        out = []
        with torch.inference_mode():
            for start in range(0, len(fitted), self.batch_size):
                batch = torch.from_numpy(fitted[start:start + self.batch_size]).to(self.device)
                out.append(self.model(batch).float().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, self.dim), np.float32)


def _preprocessing(config: LaionAudioConfig, output: str) -> dict:
    settings = {k: v for k, v in asdict(config).items() if k not in ("embed_dim", "joint_dim", "audio_length")}
    return {**settings, "output": output, "quantise": "int16", "fill": "repeatpad", "crop": "start"}


def _load(config: LaionAudioConfig, name: str, weights_name: str, output: str, device: str,
          checkpoint, random_weights: bool) -> LaionAudioEncoder:
    """Stages as in open_clip: check output -> resolve checkpoint -> build -> load strictly -> freeze."""
    if output not in ("projected", "embedding"):
        raise ValueError(f"{name}: unknown output {output!r}; valid: projected, embedding")
    projected = output == "projected"
    if random_weights:
        import warnings

        warnings.warn(f"{name}: weights are RANDOM (random_weights=True); vectors carry no meaning", stacklevel=3)
        tower, sha = build_audio_tower(config, projected), "random"
    else:
        path, sha = _resolve_checkpoint(checkpoint, weights_name)
        tower = build_audio_tower(config, projected)
        _load_weights(tower, path)
    identity = EncoderIdentity(f"{name}:{output}", sha, _preprocessing(config, output))
    return LaionAudioEncoder(tower, config, identity, projected, device=device)


def load_htsat(device: str = "cpu", checkpoint=None, output: str = "projected",
               random_weights: bool = False) -> LaionAudioEncoder:
    """LAION-CLAP's HTSAT-tiny audio tower (630k-audioset-best.pt); 512-d "projected" or 768-d "embedding".

    random_weights=True builds the architecture only (tests, shape checks) and warns.
    """
    return _load(HTSAT_TINY, "htsat", "laion_clap_630k_audioset", output, device, checkpoint, random_weights)


def load_cnn14(device: str = "cpu", checkpoint=None, output: str = "embedding",
               random_weights: bool = False) -> LaionAudioEncoder:
    """PANNs CNN14 as LAION-CLAP packages it, at 48 kHz; 2048-d "embedding" (PANNs weights, Zenodo).

    "projected" (512-d) needs a LAION-CLAP checkpoint trained with a PANN-14 tower.
    """
    return _load(PANN_CNN14, "cnn14", "panns_cnn14", output, device, checkpoint, random_weights)
