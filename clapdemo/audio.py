"""Decode any audio file into the mono, fixed-rate, fixed-length waveform an encoder expects.

Policy (deterministic; the README's "Reliability" section lists it too):
- mono = mean of the channels (6-channel surround included);
- resampled with librosa (soxr) to the encoder's rate, from any rate (8 kHz, 96 kHz, ...);
- only the first `seconds` of a longer file are decoded: soundfile reads just
  those frames, so a one-hour file never lands in memory whole;
- shorter clips are zero-padded at the end; the encoder always sees the same
  length, so the same file always gives the same vector.

Refused with `AudioError` (message: the file, then the problem and what to do):
- a missing file, an empty (0-byte) file, a file that is not audio (a text
  file named .wav), a damaged or truncated file (a FLAC cut short makes the
  decoder lose sync: we refuse rather than embed half a clip silently;
  damage after the first `seconds` goes unnoticed, those samples are never
  read; a WAV cut short simply has fewer samples and is padded);
- a file with no samples, or shorter than MIN_SECONDS (50 ms, two analysis
  windows of the encoders' STFT: a 10 ms click is too short to describe);
- float samples that are NaN or infinite (a corrupt float WAV; no vector
  could be trusted).
Callers running over many clips catch `AudioError`, list the clip as skipped
with the reason and go on.

Embedded, but flagged by `sound_warnings` (precompute reports them, the run
goes on): digital silence (the encoder still gives a vector, but it says
nothing about the clip), full-scale clipping, and float samples beyond
full scale (louder than 0 dBFS: rescaled files from some editors).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

MIN_SECONDS = 0.05  # below this there is nothing for an encoder to hear
SILENCE_PEAK = 1e-4  # -80 dBFS: below this peak a clip counts as silent
CLIPPING_SHARE = 0.01  # flag a clip when more than 1% of its samples sit at full scale
_FULL_SCALE = 0.999


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
        raise AudioError(path, "empty file (0 bytes); re-copy or re-download it")
    wave, source_rate = _decode(path, seconds, offset)
    wave = _to_mono(wave)
    if wave.size == 0:
        raise AudioError(path, "no samples in the file (a header without audio)")
    if not np.isfinite(wave).all():
        raise AudioError(path, "contains NaN or infinite samples (a corrupt float file?); re-export it")
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


# Resampling a full-scale clip overshoots by a few percent (band-limited ringing): 93 of the
# 414 ESC-50 clips peak at 1.01-1.04 after 44.1 -> 32 kHz. Only well beyond that is a file
# itself louder than full scale (a float file with gain applied).
OVER_FULL_SCALE = 1.1


def sound_warnings(wave: np.ndarray) -> list[str]:
    """What is odd about a decoded (unpadded) clip that still gets embedded: silence, clipping.

    Such clips are real inputs (a quiet recording, a loud one), so they are not
    refused; the notes let a user find them in a run's report."""
    if wave.size == 0:
        return []
    peak = float(np.abs(wave).max())
    if peak < SILENCE_PEAK:
        return [f"silent (peak {peak:.1e}): embedded, but its vector says nothing about the sound"]
    notes = []
    clipped = float(np.mean(np.abs(wave) >= _FULL_SCALE))
    if clipped > CLIPPING_SHARE:
        notes.append(f"clipped: {clipped:.0%} of its samples at full scale")
    if peak > OVER_FULL_SCALE:
        notes.append(f"louder than full scale (peak {peak:.2f}); embedded as is")
    return notes


def audio_info(path) -> tuple[float, int, int]:
    """(duration seconds, sample rate, channels) without decoding the samples."""
    import soundfile as sf

    try:
        info = sf.info(str(path))
        return info.frames / info.samplerate, info.samplerate, info.channels
    except Exception:  # formats soundfile lacks (mp3 on old libsndfile, m4a): ask librosa
        import warnings

        import librosa

        with warnings.catch_warnings():  # librosa's notice that its audioread fallback is deprecated
            warnings.simplefilter("ignore", FutureWarning)
            return float(librosa.get_duration(path=str(path))), int(librosa.get_samplerate(str(path))), 1


def _decode(path: Path, seconds: float | None, offset: float) -> tuple[np.ndarray, int]:
    """soundfile first (reads only the frames asked for); librosa/audioread for formats it lacks.

    A file soundfile opens but cannot read to the end of the asked frames is
    damaged (a truncated FLAC); it is refused, not handed to another decoder."""
    import soundfile as sf

    try:
        f = sf.SoundFile(str(path))
    except (sf.LibsndfileError, RuntimeError) as error:
        return _decode_with_librosa(path, seconds, offset, error)
    with f:
        rate = f.samplerate
        try:
            f.seek(min(int(offset * rate), f.frames))
            frames = -1 if seconds is None else int(np.ceil(seconds * rate))
            return f.read(frames, dtype="float32", always_2d=True), rate
        except (sf.LibsndfileError, RuntimeError) as error:
            raise AudioError(path, f"damaged or truncated audio data ({_clean(error)}); "
                             "re-download or re-encode the file") from None


def _decode_with_librosa(path: Path, seconds, offset, soundfile_error) -> tuple[np.ndarray, int]:
    import warnings

    import librosa

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wave, rate = librosa.load(str(path), sr=None, mono=False, offset=offset, duration=seconds)
    except Exception as error:
        other = f"; {type(error).__name__}: {error}" if str(error) else ""
        raise AudioError(path, f"not a readable audio file ({_clean(soundfile_error)}{other}); "
                         "convert it to WAV or FLAC") from None
    return np.atleast_2d(wave).T, int(rate)


def _clean(error: Exception) -> str:
    """libsndfile's message without its "Error opening '<path>': " / "Error : " prefix (the path is said once)."""
    text = str(error).strip()
    if text.startswith("Error opening '") and "': " in text:
        text = text.split("': ", 1)[1]
    return text.removeprefix("Error : ")


def _to_mono(wave: np.ndarray) -> np.ndarray:
    return wave.mean(axis=1) if wave.ndim == 2 else wave
