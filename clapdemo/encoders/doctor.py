"""`python -m clapdemo doctor`: are the installed encoders there, and deterministic?

CLAP tools are known for giving a different vector for the same clip on each
call (random crops, dropout left on). clapdemo promises the opposite; this
self-check proves it on the user's machine: every path a clip can take to a
vector (waveform, file, long-file windows, alone or in a batch) is taken twice
and the two vectors must agree to cosine >= 0.9999.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MIN_COSINE = 0.9999


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.ravel(a).astype(np.float64), np.ravel(b).astype(np.float64)
    return float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12))


def test_signal(seconds: float = 23.0, rate: int = 32000) -> np.ndarray:
    """A fixed chirp plus seeded noise: the same samples on every machine, longer than one window."""
    t = np.arange(int(seconds * rate)) / rate
    noise = np.random.default_rng(0).standard_normal(len(t))
    return (0.3 * np.sin(2 * np.pi * (200 + 40 * t) * t) + 0.05 * noise).astype(np.float32)


def _same(name: str, a, b) -> Check:
    c = cosine(a, b)
    return Check(name, c >= MIN_COSINE, f"cosine {c:.6f} (needs >= {MIN_COSINE})")


def audio_checks(encoder, clip=None) -> list[Check]:
    """The same clip twice through each audio path."""
    import soundfile as sf

    from clapdemo.data.audio import fit_length, load_clip
    from clapdemo.encoders.windows import embed_file

    n = int(round(encoder.clip_seconds * encoder.sample_rate))
    with tempfile.TemporaryDirectory() as tmp:
        if clip is None:
            clip = Path(tmp) / "doctor.wav"
            sf.write(clip, test_signal(rate=encoder.sample_rate), encoder.sample_rate)
        wave = load_clip(clip, encoder.sample_rate, encoder.clip_seconds)
        other = fit_length(test_signal(7.0, encoder.sample_rate)[::-1].copy(), n)
        checks = [
            _same(f"{encoder.name}: waveform, two calls", encoder.embed(wave[None]), encoder.embed(wave[None])),
            _same(f"{encoder.name}: file decoded twice", encoder.embed(wave[None]),
                  encoder.embed(load_clip(clip, encoder.sample_rate, encoder.clip_seconds)[None])),
            _same(f"{encoder.name}: alone vs in a batch", encoder.embed(wave[None]),
                  encoder.embed(np.stack([other, wave]))[1]),
            _same(f"{encoder.name}: long-file windows, two runs", embed_file(clip, encoder)[0], embed_file(clip, encoder)[0]),
        ]
    return checks


def text_checks(encoder) -> list[Check]:
    """The same caption twice, alone and among others (padding must not change it)."""
    caption = "a dog barks twice in the distance"
    alone = encoder.embed([caption])
    return [
        _same(f"{encoder.name}: caption, two calls", alone, encoder.embed([caption])),
        _same(f"{encoder.name}: alone vs in a batch", alone,
              encoder.embed(["rain", caption, "a much longer caption about a busy street with cars and horns"])[1]),
    ]


def run_checks(audio_name: str, text_name: str, clip=None) -> list[Check]:
    """Load both encoders (a missing weight file is a failed check with its message) and check them."""
    from clapdemo.encoders import load_audio_encoder, load_text_encoder

    checks: list[Check] = []
    for kind, name, load, run in (("audio", audio_name, load_audio_encoder, lambda e: audio_checks(e, clip)),
                                  ("text", text_name, load_text_encoder, text_checks)):
        try:
            encoder = load(name)
        except Exception as error:  # the message says which file is missing and where it was looked for
            checks.append(Check(f"{kind} encoder {name} loads", False, f"{type(error).__name__}: {error}"))
            continue
        checks.append(Check(f"{kind} encoder {name} loads", True,
                            f"{encoder.dim}-d, weights {encoder.identity.weights_sha256[:12]}"))
        checks += run(encoder)
    return checks
