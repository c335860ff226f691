"""EfficientAT "mn" audio encoders (MobileNetV3 on log-mel, trained on AudioSet).

Our own module, written so that its state_dict keys match the official weight
files exactly and they load with `strict=True`. The facts it follows (layer
table, width rounding, squeeze-excitation, head, front end) come from
github.com/fschmid56/EfficientAT @138342a:
  models/mn/model.py        layer table (`_mobilenet_v3_conf`), stem, last conv = 6x, "mlp" head
  models/mn/block_types.py  inverted residual block, concurrent SE on the channel dim (se_r=4)
  models/mn/utils.py        `make_divisible` (channels rounded to multiples of 8)
  models/preprocess.py      AugmentMelSTFT (front end; eval path, no augmentation)
  helpers/utils.py          NAME_TO_WIDTH (mn04 = 0.4, mn10 = 1.0, mn40 = 4.0)
The layer table itself is MobileNetV3-Large (Howard et al., ICCV 2019, Table 1).

Three outputs can serve as the embedding ("pooled", "head", "logits"); see
OUTPUTS. Everything is deterministic: eval mode, no masking, no random fmin/fmax.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from clapdemo.encoders.audioset_labels import AUDIOSET_LABELS
from clapdemo.encoders.base import EncoderIdentity

__all__ = [
    "OUTPUTS", "DEFAULT_OUTPUT", "WIDTHS", "FRONT_END", "MelFrontEnd", "kaldi_mel_banks",
    "MN", "MNOutput", "build_mn", "EfficientATEncoder", "load_efficientat",
]

# Which vector `embed` returns. Default "logits", by measurement on the shared ESC-50
# subset (docs/encoders.md, "Which EfficientAT vector"): zero-shot top-1 among 10 unseen classes
# logits 0.51 > head 0.45 > pooled 0.39; supervised held-out retrieval equal within spread.
OUTPUTS = {
    "pooled": "global average of the last conv features (384-d for mn04)",
    "head": "classifier's hidden layer: Linear + Hardswish (512-d for mn04)",
    "logits": "the 527 AudioSet logits (before sigmoid)",
}
DEFAULT_OUTPUT = "logits"

# helpers/utils.py NAME_TO_WIDTH, for the models we know.
WIDTHS = {"mn04_as": 0.4, "mn10_as": 1.0, "mn40_as_ext": 4.0}

# models/preprocess.py defaults as used by inference.py (fmax None -> 16000 - 2000 // 2).
FRONT_END = {
    "sample_rate": 32000, "n_fft": 1024, "window": "hann(800, periodic=False)", "win_length": 800,
    "hop": 320, "n_mels": 128, "fmin": 0.0, "fmax": 15000.0, "preemphasis": 0.97,
    "log_offset": 1e-5, "norm": "(log(mel + 1e-5) + 4.5) / 5",
}
CLIP_SECONDS = 10.0
NUM_CLASSES = 527


# ----------------------------------------------------------------------------- front end

def kaldi_mel_banks(n_mels: int, n_fft: int, sample_rate: float, fmin: float, fmax: float) -> torch.Tensor:
    """Kaldi-style triangular mel filters, (n_mels, n_fft // 2) float32.

    Same formula as torchaudio.compliance.kaldi.get_mel_banks without VTLN
    warping (EfficientAT calls it with warp factor 1.0): mel(f) = 1127 ln(1 + f/700),
    n_mels + 2 equally spaced edges between mel(fmin) and mel(fmax), triangles
    evaluated at the FFT bin frequencies k * sr / n_fft, k < n_fft / 2 (the
    Nyquist bin is excluded, hence the zero column the caller pads on).
    Computed in float32 like torchaudio, so the numbers match the trained model's.
    """

    mel_lo, mel_hi = (1127.0 * math.log(1.0 + f / 700.0) for f in (fmin, fmax))
    delta = (mel_hi - mel_lo) / (n_mels + 1)
    index = torch.arange(n_mels, dtype=torch.float32).unsqueeze(1)
    left, center, right = (mel_lo + (index + i) * delta for i in (0.0, 1.0, 2.0))
    bin_hz = sample_rate / n_fft * torch.arange(n_fft // 2, dtype=torch.float32)
    bin_mel = (1127.0 * (1.0 + bin_hz / 700.0).log()).unsqueeze(0)
    up = (bin_mel - left) / (center - left)
    down = (right - bin_mel) / (right - center)
    return torch.clamp(torch.minimum(up, down), min=0.0)


class MelFrontEnd(nn.Module):
    """Waveform (B, samples) at 32 kHz -> normalised log-mel (B, 1, 128, frames).

    EfficientAT's AugmentMelSTFT in eval mode: preemphasis, power STFT,
    Kaldi mel, log(x + 1e-5), then the "fast normalisation" (x + 4.5) / 5 that
    the models were trained with. 10 s gives 1000 frames.
    """

    def __init__(self, cfg: dict = FRONT_END):
        super().__init__()
        self.cfg = dict(cfg)
        self.register_buffer("window", torch.hann_window(cfg["win_length"], periodic=False), persistent=False)
        banks = kaldi_mel_banks(cfg["n_mels"], cfg["n_fft"], cfg["sample_rate"], cfg["fmin"], cfg["fmax"])
        self.register_buffer("mel_banks", F.pad(banks, (0, 1)), persistent=False)  # + Nyquist column (zero)

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        x = waveforms[:, 1:] - self.cfg["preemphasis"] * waveforms[:, :-1]  # conv1d with [-0.97, 1]
        spec = torch.stft(x, self.cfg["n_fft"], hop_length=self.cfg["hop"], win_length=self.cfg["win_length"],
                          window=self.window, center=True, normalized=False, return_complex=True)
        power = spec.real.square() + spec.imag.square()  # (B, n_fft/2 + 1, frames)
        mel = torch.matmul(self.mel_banks, power)
        return ((torch.log(mel + self.cfg["log_offset"]) + 4.5) / 5.0).unsqueeze(1)


# ----------------------------------------------------------------------------- network

def make_divisible(value: float, divisor: int = 8) -> int:
    """Round a scaled channel count to a multiple of 8, never more than 10 % below (TF MobileNet rule)."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


class BlockSpec(NamedTuple):
    """One inverted-residual block, in width-1.0 channels."""

    in_ch: int
    kernel: int
    expand_ch: int
    out_ch: int
    se: bool
    hardswish: bool
    stride: int


# MobileNetV3-Large bneck table (models/mn/model.py `_mobilenet_v3_conf`, strides (2, 2, 2, 2)).
MN_BLOCKS = (
    BlockSpec(16, 3, 16, 16, False, False, 1),
    BlockSpec(16, 3, 64, 24, False, False, 2),
    BlockSpec(24, 3, 72, 24, False, False, 1),
    BlockSpec(24, 5, 72, 40, True, False, 2),
    BlockSpec(40, 5, 120, 40, True, False, 1),
    BlockSpec(40, 5, 120, 40, True, False, 1),
    BlockSpec(40, 3, 240, 80, False, True, 2),
    BlockSpec(80, 3, 200, 80, False, True, 1),
    BlockSpec(80, 3, 184, 80, False, True, 1),
    BlockSpec(80, 3, 184, 80, False, True, 1),
    BlockSpec(80, 3, 480, 112, True, True, 1),
    BlockSpec(112, 3, 672, 112, True, True, 1),
    BlockSpec(112, 5, 672, 160, True, True, 2),
    BlockSpec(160, 5, 960, 160, True, True, 1),
    BlockSpec(160, 5, 960, 160, True, True, 1),
)
HEAD_WIDTH = 1280  # hidden units of the "mlp" head at width 1.0
LAST_CONV_FACTOR = 6  # last 1x1 conv: 6 x the last block's channels


def conv_bn_act(in_ch: int, out_ch: int, kernel: int, stride: int = 1, groups: int = 1,
                act: type[nn.Module] | None = None) -> nn.Sequential:
    """Conv (no bias) -> BatchNorm -> activation; keys `.0.weight`, `.1.*` as torchvision's ConvNormActivation."""
    layers = [nn.Conv2d(in_ch, out_ch, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
              nn.BatchNorm2d(out_ch, eps=0.001, momentum=0.01)]
    if act is not None:
        layers.append(act())
    return nn.Sequential(*layers)


class SqueezeExcite(nn.Module):
    """Channel attention: mean over (freq, time) -> fc1 -> ReLU -> fc2 -> sigmoid -> rescale channels."""

    def __init__(self, channels: int, squeeze: int):
        super().__init__()
        self.fc1 = nn.Linear(channels, squeeze)
        self.fc2 = nn.Linear(squeeze, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = torch.relu(self.fc1(x.mean(dim=(2, 3))))
        return x * torch.sigmoid(self.fc2(scale))[:, :, None, None]


class ConcurrentSE(nn.Module):
    """EfficientAT's SE wrapper. The released models use only the channel SE (se_dims="c"),
    so "max over concurrent SE outputs" is the identity; the ModuleList only keeps the
    official key names (`conc_se_layers.0.fc1.weight`)."""

    def __init__(self, channels: int, se_ratio: int = 4):
        super().__init__()
        self.conc_se_layers = nn.ModuleList([SqueezeExcite(channels, make_divisible(channels // se_ratio))])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conc_se_layers[0](x)


class InvertedResidual(nn.Module):
    """1x1 expand (skipped when it would not change the width) -> depthwise kxk -> [SE] -> 1x1 project.

    Adds the input back when the block keeps both resolution and width.
    """

    def __init__(self, spec: BlockSpec, width_mult: float):
        super().__init__()
        in_ch, mid_ch, out_ch = (make_divisible(c * width_mult) for c in (spec.in_ch, spec.expand_ch, spec.out_ch))
        act = nn.Hardswish if spec.hardswish else nn.ReLU
        layers = []
        if mid_ch != in_ch:
            layers.append(conv_bn_act(in_ch, mid_ch, 1, act=act))
        layers.append(conv_bn_act(mid_ch, mid_ch, spec.kernel, spec.stride, groups=mid_ch, act=act))
        if spec.se:
            layers.append(ConcurrentSE(mid_ch))
        layers.append(conv_bn_act(mid_ch, out_ch, 1))
        self.block = nn.Sequential(*layers)
        self.residual = spec.stride == 1 and in_ch == out_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block(x)
        return out + x if self.residual else out


class MNOutput(NamedTuple):
    """pooled: (B, 6 * last block width); head: (B, head width); logits: (B, 527)."""

    pooled: torch.Tensor
    head: torch.Tensor
    logits: torch.Tensor


class MN(nn.Module):
    """EfficientAT's MobileNetV3 with the "mlp" head; input (B, 1, 128, frames).

    `features`: stem conv (stride 2) + 15 inverted residuals + last 1x1 conv.
    `classifier`: [avg-pool, flatten, Linear, Hardswish, Dropout, Linear]; the
    index layout matters because the weight keys are `classifier.2` / `classifier.5`.
    """

    def __init__(self, width_mult: float = 1.0, num_classes: int = NUM_CLASSES):
        super().__init__()
        self.width_mult = width_mult
        stem_ch = make_divisible(MN_BLOCKS[0].in_ch * width_mult)
        last_in = make_divisible(MN_BLOCKS[-1].out_ch * width_mult)
        self.pooled_dim = LAST_CONV_FACTOR * last_in
        self.head_dim = make_divisible(HEAD_WIDTH * width_mult)
        self.features = nn.Sequential(
            conv_bn_act(1, stem_ch, 3, stride=2, act=nn.Hardswish),
            *(InvertedResidual(spec, width_mult) for spec in MN_BLOCKS),
            conv_bn_act(last_in, self.pooled_dim, 1, act=nn.Hardswish),
        )
        self.classifier = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(1),
            nn.Linear(self.pooled_dim, self.head_dim), nn.Hardswish(),
            nn.Dropout(0.2), nn.Linear(self.head_dim, num_classes),
        )

    def forward(self, mel: torch.Tensor) -> MNOutput:
        pooled = self.features(mel).mean(dim=(2, 3))  # = classifier[0:2], kept as one step for the output
        _, _, hidden_fc, act, dropout, out_fc = self.classifier
        head = act(hidden_fc(pooled))
        return MNOutput(pooled=pooled, head=head, logits=out_fc(dropout(head)))


def build_mn(width_mult: float, num_classes: int = NUM_CLASSES) -> MN:
    """The architecture alone, with random weights (what tests of the un-downloadable models use)."""
    return MN(width_mult, num_classes)


# ----------------------------------------------------------------------------- encoder

class EfficientATEncoder:
    """A frozen EfficientAT model behind the AudioEncoder interface.

    `embed` returns the chosen output; `predict_labels` gives AudioSet tags
    (sigmoid of the logits), which is how to check by ear that the weights and
    front end are right.
    """

    sample_rate = FRONT_END["sample_rate"]
    clip_seconds = CLIP_SECONDS

    def __init__(self, model: MN, model_name: str, output: str, weights_sha256: str, device: str = "cpu"):
        if output not in OUTPUTS:
            raise ValueError(f"unknown EfficientAT output {output!r}; valid: {', '.join(OUTPUTS)}")
        self.device = torch.device(device)
        self.model = model.to(self.device).eval().requires_grad_(False)
        self.front_end = MelFrontEnd().to(self.device).eval()
        self.output = output
        self.name = f"{model_name}:{output}"
        self.dim = {"pooled": model.pooled_dim, "head": model.head_dim, "logits": NUM_CLASSES}[output]
        preprocessing = {k: FRONT_END[k] for k in ("sample_rate", "window", "hop", "n_mels", "fmax")}
        self.identity = EncoderIdentity(self.name, weights_sha256, {
            **preprocessing, "output": output, "clip_seconds": CLIP_SECONDS,
        })

    def forward_all(self, waveforms: np.ndarray) -> MNOutput:
        """Every output of one forward (pooled, head, logits): the report compares them on one pass."""
        batch = np.asarray(waveforms, dtype=np.float32)
        if batch.ndim != 2:
            raise ValueError(f"{self.name}: expected waveforms of shape (batch, samples), got {batch.shape}")
        with torch.inference_mode():
            mel = self.front_end(torch.from_numpy(batch).to(self.device))
            return self.model(mel)

    def embed(self, waveforms: np.ndarray) -> np.ndarray:
        """(batch, samples) float32 mono at 32 kHz -> (batch, dim) float32."""
        out = getattr(self.forward_all(waveforms), self.output)
        return out.float().cpu().numpy()

    def predict_labels(self, waveforms: np.ndarray, top_k: int = 5) -> list[list[tuple[str, float]]]:
        """Top-k AudioSet (label, probability) per clip, most probable first."""
        probs = torch.sigmoid(self.forward_all(waveforms).logits).cpu()
        top = torch.topk(probs, top_k, dim=1)
        return [[(AUDIOSET_LABELS[i], float(p)) for p, i in zip(ps.tolist(), ids.tolist())]
                for ps, ids in zip(top.values, top.indices)]


def load_efficientat(model_name: str = "mn04_as", output: str = DEFAULT_OUTPUT, device: str = "cpu",
                     weights_path: str | Path | None = None) -> EfficientATEncoder:
    """Build `model_name`, load its official weights strictly, freeze it.

    Weights come from `clapdemo.encoders.weights.find_weights` (CLAPDEMO_WEIGHTS_DIR ->
    user cache -> official URL, sha256-checked) unless `weights_path` is given.
    """
    from clapdemo.encoders.weights import find_weights_with_hash, read_state_dict, sha256_file

    if model_name not in WIDTHS:
        raise ValueError(f"unknown EfficientAT model {model_name!r}; valid: {', '.join(WIDTHS)}")
    if output not in OUTPUTS:
        raise ValueError(f"unknown EfficientAT output {output!r}; valid: {', '.join(OUTPUTS)}")
    if weights_path is None:
        path, sha = find_weights_with_hash(model_name)
    else:
        path, sha = weights_path, sha256_file(weights_path)
    model = build_mn(WIDTHS[model_name])
    state = read_state_dict(path)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise RuntimeError(f"{path} does not fit {model_name} (width {WIDTHS[model_name]}): {e}\n"
                           f"Is it the official {model_name} file?") from e
    return EfficientATEncoder(model, model_name, output, sha, device)
