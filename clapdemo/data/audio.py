"""Decode any audio file into the mono, fixed-rate, fixed-length waveform an encoder expects.

Policy (deterministic; docs/reliability.md lists it too):
- mono = mean of the channels (6-channel surround included);
- resampled with soxr (librosa's default, same samples) to the encoder's rate,
  from any rate (8 kHz, 96 kHz, ...);
- decoded as a stream (`stream_audio`): one block of the source at a time is
  read, mixed to mono and resampled, so memory never holds a file at its own
  rate and channel count (8 channels at 192 kHz are 6 MB a second);
- only the first `seconds` of a longer file are decoded: soundfile reads just
  those frames, so a one-hour file never lands in memory whole;
- shorter clips are zero-padded at the end; the encoder always sees the same
  length, so the same file always gives the same vector.

Refused with `AudioError` (message: the file, then the problem and what to do):
- a missing file, an empty (0-byte) file, what is not a regular file (a
  FIFO, a link to /dev/zero: they would block or never end; a dangling link,
  a link loop), a file that is not audio (a text
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

import os
import stat
from pathlib import Path
from typing import Iterator

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


def load_audio(path, sample_rate: int, seconds: float | None = None, offset: float = 0.0,
               max_seconds: float | None = None) -> np.ndarray:
    """Read `seconds` of `path` (from `offset`), mono float32 at `sample_rate`, not padded."""
    blocks = list(stream_audio(path, sample_rate, seconds, offset, max_seconds))
    return np.concatenate(blocks) if blocks else np.zeros(0, np.float32)


def stream_audio(path, sample_rate: int, seconds: float | None = None, offset: float = 0.0,
                 max_seconds: float | None = None) -> Iterator[np.ndarray]:
    """`path` as mono float32 blocks at `sample_rate`, decoded, mixed and resampled one block at a time.

    Memory holds one block of the source (BLOCK_FRAMES frames), whatever the file's length, rate or
    channel count: a 3 MB FLAC can hold 19 min of 4 channels at 96 kHz. The samples equal a
    one-shot decode (soxr's stream is exact). `max_seconds`: a file that turns out longer is
    refused, counted while decoding (a header can lie about the length)."""
    path = Path(path)
    check_regular_file(path)
    rate, blocks = _open_blocks(path, seconds, offset)
    resampler = None
    if rate != sample_rate:
        import soxr

        resampler = soxr.ResampleStream(rate, sample_rate, 1, dtype="float32", quality="HQ")  # = librosa's soxr_hq
    frames, limit = 0, None if max_seconds is None else int(max_seconds * rate)
    for block in blocks:
        mono = np.ascontiguousarray(_to_mono(block), dtype=np.float32)
        if not np.isfinite(mono).all():
            raise AudioError(path, "contains NaN or infinite samples (a corrupt float file?); re-export it")
        frames += len(mono)
        if limit is not None and frames > limit:
            raise AudioError(path, f"longer than {max_seconds:g} s, the limit for uploads here; cut a shorter part")
        out = mono if resampler is None else resampler.resample_chunk(mono)
        if len(out):
            yield out
    if frames == 0:
        raise AudioError(path, "no samples in the file (a header without audio)")
    if frames < MIN_SECONDS * rate:
        raise AudioError(path, f"too short: {frames / rate * 1000:.0f} ms (at least {MIN_SECONDS * 1000:.0f} ms)")
    if resampler is not None:
        tail = resampler.resample_chunk(np.zeros(0, np.float32), last=True)
        if len(tail):
            yield tail


def check_regular_file(path) -> None:
    """Refuse what is not a regular file before opening it: a FIFO would block the open, a device
    (a link to /dev/zero) would never end; a dangling link or a link loop would raise OSError."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise AudioError(path, "file not found") from None
    except OSError as error:
        raise AudioError(path, f"cannot be read ({error.strerror or error}; a link that loops?)") from None
    if not stat.S_ISREG(info.st_mode):
        raise AudioError(path, "not a regular file (a FIFO, a device or a folder); only audio files are read")
    if info.st_size == 0:
        raise AudioError(path, "empty file (0 bytes); re-copy or re-download it")


def check_upload(path, max_mb: float, max_seconds: float) -> float:
    """A visitor's file within the upload limits (bytes, then the header's duration); returns its duration.

    Decoding it still counts the real length (`stream_audio`'s `max_seconds`): headers can lie."""
    check_regular_file(path)
    size_mb = os.path.getsize(path) / 1e6
    if size_mb > max_mb:
        raise AudioError(path, f"{size_mb:.1f} MB; uploads are limited to {max_mb:g} MB (CLAPDEMO_MAX_UPLOAD_MB)")
    seconds = audio_info(path)[0]
    if seconds > max_seconds:
        raise AudioError(path, f"{seconds:.0f} s long: longer than {max_seconds:g} s, the limit for uploads here "
                         "(CLAPDEMO_MAX_UPLOAD_SECONDS); cut a shorter part")
    return seconds


class UploadRefused(ValueError):
    """A clip a visitor uploaded to be described, refused; the message is the sentence they read."""


SILENT_PEAK = 1e-4  # below this peak a visitor's clip holds nothing to describe


def check_visitor_clip(path, max_mb: float, max_seconds: float, audio_encoder) -> tuple[str, float, np.ndarray]:
    """(file name, duration, the waveform as the encoder hears it) of a clip a visitor wants described,
    or an UploadRefused that says what is wrong with it.

    The checks go cheapest first, so a refusal costs little: empty, then bytes over `max_mb`, then a
    header that does not read as audio, then a duration over `max_seconds` (the header's), then the
    decode itself, then silence (the encoder's first clip_seconds hold no sound: nothing to describe).
    `audio_encoder` is called for the encoder only once those cheap checks passed (loading it may
    take a while, and a refused file need not wait for it).
    `check_upload` is the same limits for files that are stored (the Library, your own clips)."""
    name, size_mb = Path(path).name, os.path.getsize(path) / 1e6
    if size_mb == 0:
        raise UploadRefused(f"{name} is empty (0 bytes): upload a recording with sound in it.")
    if size_mb > max_mb:
        raise UploadRefused(f"{name} is {size_mb:.0f} MB; uploads are limited to {max_mb:g} MB "
                            "(CLAPDEMO_MAX_UPLOAD_MB).")
    try:
        seconds, _, _ = audio_info(path)
    except Exception as error:
        raise UploadRefused(f"{name} is not an audio file we can read ({type(error).__name__}). "
                            "Try WAV, FLAC, OGG or MP3.") from error
    if seconds > max_seconds:
        raise UploadRefused(f"{name} is {seconds / 60:.0f} min long; uploads are limited to "
                            f"{max_seconds / 60:g} min (CLAPDEMO_MAX_UPLOAD_SECONDS). Cut a short clip "
                            "from it.")
    encoder = audio_encoder()
    clip_seconds = encoder.clip_seconds
    try:
        wave = load_clip(path, encoder.sample_rate, clip_seconds)
    except AudioError as error:
        raise UploadRefused(f"{name}: {error.problem}") from error
    if float(np.abs(wave).max(initial=0.0)) < SILENT_PEAK:
        raise UploadRefused(f"{name} is silent (no sound in its first {clip_seconds:g} s): "
                            "nothing to describe.")
    return name, seconds, wave


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
    """(duration seconds, sample rate, channels) from the header, without decoding the samples."""
    import soundfile as sf

    check_regular_file(path)
    try:
        info = sf.info(str(path))
        return info.frames / info.samplerate, info.samplerate, info.channels
    except (sf.LibsndfileError, RuntimeError) as error:  # formats libsndfile lacks (m4a): ask audioread
        with _audioread(Path(path), error) as f:
            return float(f.duration), int(f.samplerate), int(f.channels)


BLOCK_FRAMES = 1 << 16  # source frames decoded at a time (2 MB for 8 channels)


def _open_blocks(path: Path, seconds: float | None, offset: float) -> tuple[int, Iterator[np.ndarray]]:
    """(source rate, 2-D float32 blocks of `seconds` from `offset`): soundfile first (it seeks and
    reads only the frames asked for); audioread (ffmpeg) for formats libsndfile lacks."""
    import soundfile as sf

    try:
        f = sf.SoundFile(str(path))
    except (sf.LibsndfileError, RuntimeError) as error:
        reader = _audioread(path, error)
        return int(reader.samplerate), _audioread_blocks(reader, seconds, offset)
    return f.samplerate, _soundfile_blocks(path, f, seconds, offset)


def _soundfile_blocks(path: Path, f, seconds, offset) -> Iterator[np.ndarray]:
    """A file soundfile opens but cannot read to the end of the asked frames is damaged (a
    truncated FLAC); it is refused, not handed to another decoder."""
    import soundfile as sf

    with f:
        left = -1 if seconds is None else int(np.ceil(seconds * f.samplerate))
        try:
            f.seek(min(int(offset * f.samplerate), f.frames))
            while left != 0:
                block = f.read(BLOCK_FRAMES if left < 0 else min(BLOCK_FRAMES, left), dtype="float32", always_2d=True)
                if not len(block):
                    return
                left = left - len(block) if left > 0 else left
                yield block
        except (sf.LibsndfileError, RuntimeError) as error:
            raise AudioError(path, f"damaged or truncated audio data ({_clean(error)}); "
                             "re-download or re-encode the file") from None


def _audioread(path: Path, soundfile_error):
    """An open audioread file, or AudioError saying that neither decoder can read it."""
    import audioread

    try:
        return audioread.audio_open(str(path))
    except Exception as error:
        other = f"; {type(error).__name__}: {error}" if str(error) else ""
        raise AudioError(path, f"not a readable audio file ({_clean(soundfile_error)}{other}); "
                         "convert it to WAV or FLAC") from None


def _audioread_blocks(reader, seconds, offset) -> Iterator[np.ndarray]:
    """audioread's 16-bit buffers as float32 frames, `seconds` of them from `offset`."""
    channels, rate = int(reader.channels), int(reader.samplerate)
    skip, left = int(offset * rate), -1 if seconds is None else int(np.ceil(seconds * rate))
    with reader:
        for buffer in reader:
            block = (np.frombuffer(buffer, "<i2").astype(np.float32) / 32768.0).reshape(-1, channels)
            cut = min(skip, len(block))
            block, skip = block[cut:], skip - cut
            if left >= 0:
                block = block[:left]
                left -= len(block)
            if len(block):
                yield block
            if left == 0:
                return


def _clean(error: Exception) -> str:
    """libsndfile's message without its "Error opening '<path>': " / "Error : " prefix (the path is said once)."""
    text = str(error).strip()
    if text.startswith("Error opening '") and "': " in text:
        text = text.split("': ", 1)[1]
    return text.removeprefix("Error : ")


def _to_mono(wave: np.ndarray) -> np.ndarray:
    return wave.mean(axis=1) if wave.ndim == 2 else wave
