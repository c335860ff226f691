"""`AudioProjection`: the one thing we train, and its safetensors file.

A linear map carries a frozen audio encoder's vectors into a frozen text
encoder's space; a learnable `logit_scale` (log of 1/temperature, as in CLIP
and open_clip) sets how peaked the contrastive softmax is. The model owns the
scale and clamps it in exactly one place, `scale()`, which is what the loss,
the training log and the search code read.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

FILENAME = "projection.safetensors"
FORMAT = "clapdemo.projection"
FORMAT_VERSION = 1
INPUT_TRANSFORMS = ("none", "sigmoid")


@dataclass
class ProjectionConfig:
    """Shape and temperature of an `AudioProjection`.

    audio_dim:         width of the audio encoder's vectors (input of the linear map).
    text_dim:          width of the text encoder's vectors (output of the linear map).
    learn_temperature: train `logit_scale` with the weights (CLIP does); False keeps it
                       at `init_temperature` (no gradient, not in the optimiser).
    init_temperature:  softmax temperature at the start; logit_scale = log(1 / it).
                       0.07 is CLIP's value (logit multiplier ~14.3).
    max_logit_scale:   upper bound of the multiplier exp(logit_scale) (CLIP: 100,
                       i.e. temperature >= 0.01); stops the scale running away.
    input_transform:   applied to the audio vectors before anything else (INPUT_TRANSFORMS):
                       "none", or "sigmoid" (AudioSet logits -> probabilities, so a store of
                       logits feeds a map trained on probabilities; docs/training.md).
    """

    audio_dim: int
    text_dim: int
    learn_temperature: bool = True
    init_temperature: float = 0.07
    max_logit_scale: float = 100.0
    input_transform: str = "none"


class AudioProjection(nn.Module):
    """audio vectors (B, audio_dim) -> text-space vectors (B, text_dim), plus the logit scale.

    Buffers `audio_mean` and `audio_std` standardise the input before the linear
    map (zeros and ones, i.e. off, until `set_input_stats` fills them from the
    training set). The map stays affine: standardising only changes how fast
    AdamW gets there, not what it can express.
    """

    def __init__(self, config: ProjectionConfig):
        super().__init__()
        self.config = config
        self.linear = nn.Linear(config.audio_dim, config.text_dim)
        self.register_buffer("audio_mean", torch.zeros(config.audio_dim))
        self.register_buffer("audio_std", torch.ones(config.audio_dim))
        self.logit_scale = nn.Parameter(
            torch.tensor(math.log(1.0 / config.init_temperature)),
            requires_grad=config.learn_temperature,
        )

    def transform(self, audio: torch.Tensor) -> torch.Tensor:
        """The audio vectors after the config's `input_transform` (row by row)."""
        return torch.sigmoid(audio) if self.config.input_transform == "sigmoid" else audio

    def set_input_stats(self, audio: torch.Tensor) -> None:
        """Standardise inputs with the per-dimension mean and std of `audio` (N, audio_dim), after the transform."""
        with torch.no_grad():
            audio = self.transform(audio)
            self.audio_mean.copy_(audio.mean(0))
            self.audio_std.copy_(audio.std(0).clamp_min(1e-6))

    def standardize(self, audio: torch.Tensor) -> torch.Tensor:
        """The linear map's input. Row by row, so training can standardise its whole
        (frozen) set once and get the bits `forward` computes batch by batch."""
        return (self.transform(audio) - self.audio_mean) / self.audio_std

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """Projected audio (B, text_dim), not normalised (the loss and metrics normalise)."""
        return self.linear(self.standardize(audio))

    def embed(self, audio: torch.Tensor) -> torch.Tensor:
        """L2-normalised projected audio: what is compared with normalised text vectors."""
        return F.normalize(self(audio), dim=-1)

    def scale(self) -> torch.Tensor:
        """exp(logit_scale) clamped to [1, max_logit_scale]: the factor cosine similarities
        are multiplied by (1/temperature). The only place the clamp happens."""
        return self.logit_scale.clamp(0.0, math.log(self.config.max_logit_scale)).exp()


def projection_file(path: str | os.PathLike) -> Path:
    """A run directory or a .safetensors path -> the .safetensors path (the one place this is decided)."""
    path = Path(path)
    return path if path.suffix == ".safetensors" else path / FILENAME


def save_projection(
    model: AudioProjection, config: ProjectionConfig, path: str | os.PathLike, extra: dict | None = None
) -> Path:
    """Write `model` to `path` (a run directory, or a file ending in .safetensors).

    The config and `extra` (JSON-able: encoders, epoch, metrics, ...) go into the
    safetensors metadata, so one file is enough to rebuild the model. Written to
    a temp file in the same directory and moved into place, so a crash never
    leaves a half-written checkpoint.
    """
    from safetensors.torch import save

    from clapdemo.files import atomic_write

    if config != model.config:
        raise ValueError(f"save_projection: config {config} is not the model's own {model.config}")
    target = projection_file(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    metadata = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "config": json.dumps(asdict(config)),
        "extra": json.dumps(extra or {}),
    }
    atomic_write(target, save(tensors, metadata=metadata))
    return target


def read_projection_info(path: str | os.PathLike) -> dict:
    """{"config": ProjectionConfig, "extra": dict} from a projection file, without loading weights."""
    from safetensors import safe_open

    target = projection_file(path)
    if not target.is_file():
        raise FileNotFoundError(f"{target}: no projection file here; "
                                "train one or pass the path to a projection.safetensors")
    try:
        with safe_open(str(target), framework="pt") as f:
            metadata = f.metadata() or {}
    except Exception as e:  # safetensors raises its own error types for corrupt headers
        raise ValueError(f"{target}: not a readable safetensors file ({e}); re-save or retrain it") from e
    if metadata.get("format") != FORMAT:
        raise ValueError(f"{target}: not a clapdemo projection (metadata format={metadata.get('format')!r}); "
                         "write it with clapdemo.training.model.save_projection")
    if int(metadata.get("format_version", -1)) > FORMAT_VERSION:
        raise ValueError(f"{target}: projection format {metadata['format_version']} is newer than this "
                         f"clapdemo reads ({FORMAT_VERSION}); upgrade clapdemo")
    try:
        config = ProjectionConfig(**json.loads(metadata["config"]))
        extra = json.loads(metadata.get("extra", "{}"))
    except (KeyError, TypeError, json.JSONDecodeError, RecursionError) as e:
        raise ValueError(f"{target}: projection metadata is damaged ({type(e).__name__}: {str(e)[:200]}); "
                         "retrain or re-save it") from None
    problems = _config_problems(config, _weight_shape(target))
    if problems:
        raise ValueError(f"{target}: projection metadata is damaged or edited: {'; '.join(problems)}; "
                         "retrain or re-save it")
    return {"config": config, "extra": extra}


def _weight_shape(target: Path) -> tuple | None:
    """The shape of the stored `linear.weight` (text_dim, audio_dim), read from the header only."""
    from safetensors import safe_open

    with safe_open(str(target), framework="pt") as f:
        return tuple(f.get_slice("linear.weight").get_shape()) if "linear.weight" in f.keys() else None


def _config_problems(config: ProjectionConfig, weight_shape: tuple | None) -> list[str]:
    """What is wrong with a config read from a file, checked before anything is built from it
    (a crafted 1e6 or "384" would otherwise reach torch as a traceback or a huge allocation)."""
    problems = [f"{k} must be a positive whole number (got {getattr(config, k)!r:.40})" for k in ("audio_dim", "text_dim")
                if type(getattr(config, k)) is not int or getattr(config, k) < 1]
    problems += [f"{k} must be a positive number (got {getattr(config, k)!r:.40})"
                 for k in ("init_temperature", "max_logit_scale")
                 if type(getattr(config, k)) not in (int, float) or not 0 < getattr(config, k) < math.inf]
    if not isinstance(config.learn_temperature, bool):
        problems.append(f"learn_temperature must be true or false (got {config.learn_temperature!r:.40})")
    if config.input_transform not in INPUT_TRANSFORMS:
        problems.append(f"input_transform must be one of {', '.join(INPUT_TRANSFORMS)} "
                        f"(got {config.input_transform!r:.40})")
    if not problems and weight_shape != (config.text_dim, config.audio_dim):
        problems.append(f"the config says {config.audio_dim} -> {config.text_dim} dims but linear.weight has "
                        f"shape {weight_shape}")
    return problems


def load_projection(path: str | os.PathLike) -> tuple[AudioProjection, ProjectionConfig]:
    """Rebuild the model saved by `save_projection` (strictly: every key, every shape)."""
    from safetensors.torch import load_file

    target = projection_file(path)
    config = read_projection_info(target)["config"]
    model = AudioProjection(config)
    try:
        model.load_state_dict(load_file(str(target)), strict=True)
    except RuntimeError as e:
        raise ValueError(f"{target}: weights do not match their config {config} ({e}); "
                         "the file is damaged or was edited: retrain or re-save it") from e
    return model.eval(), config
