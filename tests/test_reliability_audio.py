"""Hostile and odd audio files, built here (no binaries committed), through the library and the CLI.

Each case either becomes the waveform the encoder expects (the policy in
clapdemo/data/audio.py's docstring) or is refused with a message naming the file
and the problem; over many clips the run goes on and the clip is listed.
"""

from __future__ import annotations

import json
import shutil
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from clapdemo.cli import main as cli
from clapdemo.data.audio import AudioError, load_audio, load_clip, sound_warnings

SR, SECONDS = 32000, 10.0  # what mn04 hears
N = int(SR * SECONDS)


def tone(rate: int, seconds: float, freq: float = 1000.0, amp: float = 0.3) -> np.ndarray:
    return (amp * np.sin(2 * np.pi * freq * np.arange(int(rate * seconds)) / rate)).astype(np.float32)


def dominant_hz(wave: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(wave))
    return float(np.fft.rfftfreq(len(wave), 1 / rate)[spectrum.argmax()])


def _truncated_flac(path: Path) -> None:
    sf.write(path.with_suffix(".whole.flac"), tone(44100, 5.0) + 0.05 * np.random.default_rng(0).standard_normal(
        220500).astype(np.float32), 44100)
    data = path.with_suffix(".whole.flac").read_bytes()
    path.with_suffix(".whole.flac").unlink()
    path.write_bytes(data[: len(data) // 2])  # a download cut off half way


def _float_wav_with(value: float):
    def write(path: Path) -> None:
        wave = tone(16000, 1.0)
        wave[100:110] = value
        sf.write(path, wave, 16000, subtype="FLOAT")
    return write


def _six_channels(path: Path) -> None:
    s = tone(48000, 2.0)
    sf.write(path, np.stack([s, -s, s, -s, s, s], axis=1), 48000)  # mean = s / 3


# name -> (writer, expected): "ok" or the words the refusal must contain. Names carry
# spaces and non-ASCII letters on purpose.
CASES = {
    "empty file.wav": (lambda p: p.write_bytes(b""), "empty file (0 bytes)"),
    "truncated ü.flac": (_truncated_flac, "damaged or truncated audio data"),
    "text named.wav": (lambda p: p.write_text("RIFF? no: just text", encoding="utf-8"), "not a readable audio file"),
    "zero samples.wav": (lambda p: sf.write(p, np.zeros(0, np.float32), 16000), "no samples in the file"),
    "ten ms.wav": (lambda p: sf.write(p, tone(16000, 0.01), 16000), "too short: 10 ms (at least 50 ms)"),
    "nan float.wav": (_float_wav_with(np.nan), "NaN or infinite samples"),
    "inf float.wav": (_float_wav_with(np.inf), "NaN or infinite samples"),
    "eight kHz.wav": (lambda p: sf.write(p, tone(8000, 3.0), 8000), "ok"),
    "ninety-six kHz.flac": (lambda p: sf.write(p, tone(96000, 3.0), 96000), "ok"),
    "six channels.wav": (_six_channels, "ok"),
    "silence.wav": (lambda p: sf.write(p, np.zeros(32000, np.float32), 16000), "ok"),
    "clipped.wav": (lambda p: sf.write(p, np.sign(tone(16000, 2.0, 50.0)) * 1.0, 16000), "ok"),
    "café — 日本語 ünïcode.flac": (lambda p: sf.write(p, tone(22050, 2.0), 22050), "ok"),
}
REFUSED = {name for name, (_, expected) in CASES.items() if expected != "ok"}


@pytest.fixture(scope="module")
def odd_folder(tmp_path_factory) -> Path:
    """Every case as a file, plus a captions.csv naming them all and one file that does not exist."""
    root = tmp_path_factory.mktemp("odd audio")
    for name, (write, _) in CASES.items():
        write(root / name)
    rows = [f'"{name}",the sound of {Path(name).stem}' for name in CASES] + ["gone away.wav,a file that is missing"]
    (root / "captions.csv").write_text("file,caption\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return root


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_with_the_file_and_the_problem(odd_folder, name):
    with pytest.raises(AudioError) as err:
        load_clip(odd_folder / name, SR, SECONDS)
    assert str(err.value).startswith(f"{odd_folder / name}: ")  # the file first, in full
    assert CASES[name][1] in err.value.problem


def test_missing_file_is_refused(odd_folder):
    with pytest.raises(AudioError, match="gone away.wav: file not found"):
        load_clip(odd_folder / "gone away.wav", SR, SECONDS)


@pytest.mark.parametrize("name, seconds", [("eight kHz.wav", 3.0), ("ninety-six kHz.flac", 3.0),
                                           ("café — 日本語 ünïcode.flac", 2.0)])
def test_any_rate_is_resampled_to_the_encoder_rate(odd_folder, name, seconds):
    wave = load_clip(odd_folder / name, SR, SECONDS)
    assert wave.shape == (N,) and wave.dtype == np.float32
    sound = wave[: int(seconds * SR)]
    assert dominant_hz(sound, SR) == pytest.approx(1000.0, abs=2.0)  # still a 1 kHz tone, not sped up
    assert np.abs(sound).max() == pytest.approx(0.3, abs=0.03)
    assert not wave[int(seconds * SR) + 100:].any()  # zero-padded at the end


def test_six_channels_become_their_mean(odd_folder):
    wave = load_clip(odd_folder / "six channels.wav", SR, SECONDS)
    assert wave.shape == (N,)
    assert np.abs(wave[: 2 * SR]).max() == pytest.approx(0.1, abs=0.01)  # (s - s + s - s + s + s) / 6 = s / 3


def test_silence_and_clipping_are_embedded_and_flagged(odd_folder):
    silent = load_audio(odd_folder / "silence.wav", SR, SECONDS)
    clipped = load_audio(odd_folder / "clipped.wav", SR, SECONDS)
    assert not silent.any() and len(silent) == 2 * SR
    assert [n.split(" ")[0] for n in sound_warnings(silent)] == ["silent"]
    assert sound_warnings(clipped)[0].startswith("clipped: ")
    assert sound_warnings(tone(SR, 1.0)) == []
    assert "louder than full scale" in sound_warnings(np.full(SR, 2.5, np.float32))[-1]


@pytest.fixture(scope="module")
def one_hour(tmp_path_factory) -> Path:
    """A one-hour FLAC written block by block (never a one-hour array in memory): a 440 Hz tone
    for the first minute, then quiet noise."""
    path = tmp_path_factory.mktemp("long") / "one hour.flac"
    rate = 8000
    with sf.SoundFile(path, "w", rate, 1, format="FLAC", subtype="PCM_16") as f:
        f.write(tone(rate, 60.0, 440.0))
        quiet = (0.01 * np.random.default_rng(0).standard_normal(rate * 60)).astype(np.float32)
        for _ in range(59):
            f.write(quiet)
    assert sf.info(path).duration == 3600.0
    return path


def test_one_hour_file_is_cropped_while_reading_not_after(one_hour):
    """Only the first 10 s are decoded: the decoded hour would be 115 MB of float32 at 8 kHz
    (460 MB once resampled to 32 kHz); reading 10 s peaks at a few MB."""
    load_clip(one_hour, SR, SECONDS)  # warm up imports and resampler tables outside the measurement
    tracemalloc.start()
    try:
        wave = load_clip(one_hour, SR, SECONDS)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert wave.shape == (N,)
    assert dominant_hz(wave, SR) == pytest.approx(440.0, abs=1.0)
    assert peak < 20e6, f"peak {peak / 1e6:.0f} MB: the file was decoded beyond the 10 s kept"


def test_the_run_goes_on_and_lists_every_skipped_clip_via_the_cli(odd_folder, one_hour, mn04, minilm,
                                                                  monkeypatch, tmp_path, capsys):
    """`python -m clapdemo precompute` over every case (the one-hour file too): each refused file
    named with its problem, the missing one listed, silence and clipping flagged, the rest embedded."""
    import clapdemo.encoders as encoders
    from clapdemo.stores.store import Store, open_store

    odd_folder = Path(shutil.copytree(odd_folder, tmp_path / "data root"))
    (odd_folder / "one hour.flac").symlink_to(one_hour)
    with open(odd_folder / "captions.csv", "a", encoding="utf-8") as f:
        f.write('"one hour.flac",an hour of tone and hiss\n')
    monkeypatch.setattr(encoders, "load_audio_encoder", lambda name, device="cpu": mn04)
    monkeypatch.setattr(encoders, "load_text_encoder", lambda name, device="cpu": minilm)
    out = tmp_path / "store"
    code = cli.main(["precompute", "--dataset", "folder", "--data-root", str(odd_folder), "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0, printed

    embedded = set(CASES) - REFUSED | {"one hour.flac"}
    assert sorted(open_store(out).clip_ids) == sorted(embedded)
    failed = Store(out).failed()
    assert set(failed) == REFUSED
    for name in REFUSED:
        assert CASES[name][1] in failed[name]["error"]
        assert f"  skipped {name}: {odd_folder / name}: " in printed
    assert "  missing gone away.wav: named in the table, no audio file found" in printed
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["missing"] == ["gone away.wav"]
    assert set(report["flagged"]) == {"silence.wav", "clipped.wav"}
    assert "  flagged silence.wav: " in printed and "  flagged clipped.wav: " in printed
    assert f"{len(embedded)}/{len(CASES) + 1} clips embedded" in printed and f"{len(REFUSED)} failed" in printed
