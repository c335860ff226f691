"""Decode any audio file into the mono, fixed-rate, fixed-length waveform an encoder expects.

Policy (deterministic, documented in the README):
- mono = mean of the channels;
- resampled with librosa (soxr) to the encoder's rate;
- only the first `seconds` of a longer file are decoded (soundfile reads just
  those frames, so a one-hour file never lands in memory whole);
- shorter clips are zero-padded at the end; the encoder always sees the same
  length, so the same file always gives the same vector.
Anything that cannot become such a waveform raises `AudioError` naming the file
and the problem; callers running over many clips catch it, list the clip as
skipped and go on.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

MIN_SECONDS = 0.05  # below this there is nothing for an encoder to hear


class AudioError(ValueError):
    """A file that cannot be turned into a waveform; the message names the file and why."""

    def __init__(self, path, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


def load_audio(path, sample_rate: int, seconds: float | None = None, offset: float = 0.0) -> np.ndarray:
    """Read `seconds` of `path` (from `offset`), mono float32 at `sample_rate`, not padded."""
    path = Path(path)
    if not path.is_file():
        raise AudioError(path, "file not found")
    if path.stat().st_size == 0:
        raise AudioError(path, "empty file (0 bytes)")
    wave, source_rate = _decode(path, seconds, offset)
    wave = _to_mono(wave)
    if wave.size == 0:
        raise AudioError(path, "no samples in the file")
    if not np.isfinite(wave).all():
        raise AudioError(path, "contains NaN or infinite samples (a corrupt float file?)")
    if wave.size < MIN_SECONDS * source_rate:
        raise AudioError(path, f"too short: {wave.size / source_rate * 1000:.0f} ms (at least {MIN_SECONDS * 1000:.0f} ms)")
    if source_rate != sample_rate:
        import librosa

        wave = librosa.resample(wave, orig_sr=source_rate, target_sr=sample_rate)
    return np.ascontiguousarray(wave, dtype=np.float32)


def fit_length(wave: np.ndarray, n_samples: int) -> np.ndarray:
    """Crop to the first `n_samples` or zero-pad at the end: deterministic, never random."""
    if len(wave) >= n_samples:
        return wave[:n_samples]
    return np.pad(wave, (0, n_samples - len(wave)))


def load_clip(path, sample_rate: int, seconds: float) -> np.ndarray:
    """A file as the encoder sees it: exactly `seconds` long at `sample_rate`."""
    return fit_length(load_audio(path, sample_rate, seconds), int(round(seconds * sample_rate)))


def audio_info(path) -> tuple[float, int, int]:
    """(duration seconds, sample rate, channels) without decoding the samples."""
    import soundfile as sf

    try:
        info = sf.info(str(path))
        return info.frames / info.samplerate, info.samplerate, info.channels
    except Exception:  # formats soundfile lacks (mp3 on old libsndfile, m4a): ask librosa
        import librosa

        return float(librosa.get_duration(path=str(path))), int(librosa.get_samplerate(str(path))), 1


def _decode(path: Path, seconds: float | None, offset: float) -> tuple[np.ndarray, int]:
    """soundfile first (reads only the frames asked for); librosa/audioread for the rest."""
    import soundfile as sf

    try:
        with sf.SoundFile(str(path)) as f:
            rate = f.samplerate
            f.seek(min(int(offset * rate), f.frames))
            frames = -1 if seconds is None else int(np.ceil(seconds * rate))
            return f.read(frames, dtype="float32", always_2d=True), rate
    except sf.LibsndfileError as error:
        soundfile_error = error
    except RuntimeError as error:
        soundfile_error = error
    return _decode_with_librosa(path, seconds, offset, soundfile_error)


def _decode_with_librosa(path: Path, seconds, offset, soundfile_error) -> tuple[np.ndarray, int]:
    import warnings

    import librosa

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wave, rate = librosa.load(str(path), sr=None, mono=False, offset=offset, duration=seconds)
    except Exception as error:
        raise AudioError(path, f"not a readable audio file ({soundfile_error}; {type(error).__name__}: {error})") from None
    return np.atleast_2d(wave).T, int(rate)


def _to_mono(wave: np.ndarray) -> np.ndarray:
    return wave.mean(axis=1) if wave.ndim == 2 else wave
