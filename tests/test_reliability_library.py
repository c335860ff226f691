"""The folder index and the Library tab against hostile and unlucky inputs (issue 12).

Special files (a FIFO, a link to /dev/zero), undecodable files, links that lead
nowhere, a killed run, decompression bombs, a crafted hop, folders of the server
a visitor asks for, and a zip that tries to climb out of its folder. Every bad
input is built here; nothing binary is committed. Tests that could hang on the
old code run under an alarm, so they fail instead of blocking CI.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import tracemalloc
import zipfile
from contextlib import contextmanager
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
import soundfile as sf

from clapdemo.cli import main as cli
from clapdemo.data.audio import AudioError
from conftest import REPO
from test_library import esc50_file

PROJECTION = str(REPO / "assets" / "projection")


@contextmanager
def deadline(seconds: int):
    """Fail (not hang) when the block runs longer than `seconds`: a blocked open() or read() of a
    FIFO is interrupted by the alarm's exception (PEP 475 retries only when the handler returns)."""
    def expire(signum, frame):
        raise TimeoutError(f"still running after {seconds} s: the run hangs")

    old = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture
def offline_encoders(monkeypatch, mn04, minilm):
    """The CLI loads the session's encoders instead of loading them again."""
    import clapdemo.encoders as encoders

    monkeypatch.setattr(encoders, "load_audio_encoder", lambda name, device="cpu": mn04)
    monkeypatch.setattr(encoders, "load_text_encoder", lambda name, device="cpu": minilm)


BAD = {  # name -> (what makes it, words its reason must contain)
    "text.wav": (lambda p: p.write_text("not audio, just text", encoding="utf-8"), "not a readable audio file"),
    "empty.wav": (lambda p: p.write_bytes(b""), "empty file (0 bytes)"),
    "dangling.wav": (lambda p: p.symlink_to(p.parent / "gone.wav"), "file not found"),
    "loop.wav": (lambda p: p.symlink_to(p), "cannot be read"),
    "fifo.wav": (lambda p: os.mkfifo(p), "not a regular file"),
    "zero.wav": (lambda p: p.symlink_to("/dev/zero"), "not a regular file"),
}


@pytest.fixture
def bad_folder(tmp_path) -> Path:
    folder = tmp_path / "sounds"
    folder.mkdir()
    for name, category in [("cow.flac", "cow"), ("cat.flac", "cat")]:
        shutil.copy(esc50_file(category), folder / name)
    for name, (make, _) in BAD.items():
        make(folder / name)
    return folder


def test_index_lists_bad_and_special_files_and_indexes_the_rest(bad_folder, offline_encoders, capsys):
    """`index` over a FIFO, a /dev/zero link, a text .wav, a 0-byte .wav, a dangling link and a link
    loop: exit 0, each listed with its reason, the two real clips indexed; a rerun does the same."""
    from clapdemo.stores.store import open_store

    with deadline(240):
        code = cli.main(["index", str(bad_folder)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "2 added" in printed and f"{len(BAD)} failed" in printed, printed
    for name, (_, reason) in BAD.items():
        line = next((x for x in printed.splitlines() if x.startswith(f"  skipped {name}: ")), "")
        assert reason in line, (name, printed)
    index = bad_folder / ".clapdemo-index"
    assert sorted(open_store(index).clip_ids) == ["cat.flac", "cow.flac"]
    failed = json.loads((index / "failed.json").read_text())
    assert sorted(failed) == sorted(BAD)
    with deadline(120):
        assert cli.main(["index", str(bad_folder)]) == 0
    assert "2 unchanged" in capsys.readouterr().out


def test_search_audio_with_a_bad_file_says_why(bad_folder, offline_encoders, capsys):
    """`search --audio` on a folder index: a text file, a FIFO or /dev/zero is a one-line error, no hang."""
    with deadline(240):
        assert cli.main(["index", str(bad_folder)]) == 0
    capsys.readouterr()
    for name in ("text.wav", "fifo.wav", "zero.wav"):
        with deadline(60):
            code = cli.main(["search", "--run", PROJECTION, "--store", str(bad_folder / ".clapdemo-index"),
                             "--audio", str(bad_folder / name)])
        err = capsys.readouterr().err
        assert code == 1 and err.startswith(f"error: {bad_folder / name}: "), err
        assert BAD[name][1] in err and "Traceback" not in err


def test_audio_path_wins_over_a_clip_id_of_the_same_name(tmp_path, offline_encoders, monkeypatch, capsys):
    """`--audio cow.flac` means the file cow.flac here (a cat), not the stored clip named cow.flac."""
    folder = tmp_path / "sounds"
    folder.mkdir()
    for name, category in [("cow.flac", "cow"), ("cat.flac", "cat"), ("church.flac", "church_bells")]:
        shutil.copy(esc50_file(category), folder / name)
    assert cli.main(["index", str(folder)]) == 0
    here = tmp_path / "elsewhere"
    here.mkdir()
    shutil.copy(esc50_file("cat", 1), here / "cow.flac")  # another cat recording, named like the stored cow
    monkeypatch.chdir(here)
    capsys.readouterr()
    assert cli.main(["search", "--run", PROJECTION, "--store", str(folder / ".clapdemo-index"), "--audio",
                     "cow.flac", "-k", "3", "--export", str(tmp_path / "hits.json")]) == 0
    clips = json.loads((tmp_path / "hits.json").read_text())["clips"]
    assert [c["clip_id"] for c in clips][0] == "cat.flac", clips
    assert len(clips) == 3  # the stored cow is a candidate like any other, not excluded as "itself"


def test_a_crafted_hop_is_refused_before_any_work(tmp_path, mn04):
    """An index manifest with hop 0.0001 s would make `search --audio` embed 10,000 windows per second."""
    from clapdemo.encoders.windows import MIN_HOP_SECONDS, embed_file, window_starts

    with pytest.raises(ValueError, match="hop"):
        window_starts(600.0, 10.0, 0.0001)
    shutil.copy(esc50_file("cow"), tmp_path / "cow.flac")
    with deadline(30), pytest.raises(ValueError, match=f"at least {MIN_HOP_SECONDS:g} s"):
        embed_file(tmp_path / "cow.flac", mn04, 10.0, 0.0001)
    for window, hop in [(0.0, 5.0), (float("nan"), 5.0), (10.0, float("inf")), (1e12, 5.0)]:
        with pytest.raises(ValueError):
            window_starts(60.0, window, hop)


def test_a_file_needing_too_many_windows_is_refused(tmp_path, mn04, monkeypatch):
    import clapdemo.encoders.windows as windows

    shutil.copy(esc50_file("cow"), tmp_path / "cow.flac")  # 5 s: 9 windows of 1 s every 0.5 s
    monkeypatch.setattr(windows, "MAX_WINDOWS", 4)
    with pytest.raises(AudioError, match="more than 4 windows"):
        windows.embed_file(tmp_path / "cow.flac", mn04, 1.0, 0.5)


# ---- decompression bombs -------------------------------------------------------------------

@pytest.fixture(scope="module")
def eight_channels(tmp_path_factory) -> Path:
    """20 s of 8 channels at 192 kHz (a 1 kHz tone), written block by block: 123 MB once decoded
    whole as float32, a few MB as FLAC."""
    path = tmp_path_factory.mktemp("bomb") / "eight channels.flac"
    rate = 192000
    t = np.arange(rate) / rate
    second = np.repeat((0.3 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)[:, None], 8, axis=1)
    with sf.SoundFile(path, "w", rate, 8, format="FLAC", subtype="PCM_16") as f:
        for _ in range(20):
            f.write(second)
    return path


def test_a_many_channel_high_rate_file_is_decoded_in_bounded_memory(eight_channels, mn04):
    """The index decodes block by block to mono at the encoder's rate: peak memory is a few blocks
    and one batch of windows, not the 123 MB the whole file takes at its own rate and channels."""
    from clapdemo.encoders.windows import embed_file

    embed_file(eight_channels, mn04)  # warm up imports and resampler tables outside the measurement
    tracemalloc.start()
    try:
        vectors, starts, duration = embed_file(eight_channels, mn04)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    print(f"8 ch x 192 kHz x 20 s: peak {peak / 1e6:.1f} MB traced")
    assert starts.tolist() == [0.0, 5.0, 10.0] and duration == pytest.approx(20.0, rel=1e-6)
    assert peak < 30e6, f"peak {peak / 1e6:.0f} MB: the file was decoded whole"


def test_the_stream_gives_the_same_samples_as_a_whole_decode(eight_channels):
    """Block-wise mono + resampling is not an approximation: the samples equal a one-shot decode."""
    import librosa

    from clapdemo.data.audio import load_audio

    whole = sf.read(eight_channels, frames=192000 * 3, dtype="float32")[0].mean(axis=1)
    expected = librosa.resample(whole, orig_sr=192000, target_sr=32000)
    np.testing.assert_array_equal(load_audio(eight_channels, 32000, 3.0), expected)


def test_a_file_over_the_duration_limit_is_refused_while_decoding(eight_channels, mn04):
    from clapdemo.encoders.windows import embed_file

    with pytest.raises(AudioError, match="longer than 10 s"):
        embed_file(eight_channels, mn04, max_seconds=10)


# ---- a killed index resumes --------------------------------------------------------------------

class Crash(Exception):
    pass


def test_a_killed_index_resumes_without_duplicates(tmp_path, mn04, minilm, monkeypatch):
    """A run that dies on the 3rd of 5 files keeps the 2 done; the rerun embeds only the other 3,
    leaves one shard per file and the same vectors as an uninterrupted index."""
    import clapdemo.encoders.windows as windows
    from clapdemo.search.folder_index import index_folder
    from clapdemo.stores.store import open_store
    from clapdemo.stores.store import Store

    folder = tmp_path / "sounds"
    folder.mkdir()
    for category in ("cow", "cat", "frog", "hen", "siren"):
        shutil.copy(esc50_file(category), folder / f"{category}.flac")
    real, calls = windows.embed_file, []

    def dies_on_the_third(path, *args, **kwargs):
        calls.append(Path(path).name)
        if len(calls) == 3:
            raise Crash("killed")
        return real(path, *args, **kwargs)

    monkeypatch.setattr("clapdemo.search.folder_index.embed_file", dies_on_the_third)
    with pytest.raises(Crash):
        index_folder(folder, mn04, minilm, progress=False)
    monkeypatch.setattr("clapdemo.search.folder_index.embed_file", real)
    resumed = index_folder(folder, mn04, minilm, progress=False)
    assert sorted(resumed.resumed) == sorted(calls[:2]) and len(resumed.embedded) == 3, resumed
    store = Store(folder / ".clapdemo-index")
    assert len(store.sidecars()) == 5 and store.leftovers() == []
    fresh = index_folder(folder, mn04, minilm, out=tmp_path / "fresh", progress=False)
    ours, theirs = open_store(store.root), open_store(fresh.store)
    assert ours.clip_ids == theirs.clip_ids
    np.testing.assert_allclose(ours.audio, theirs.audio, atol=1e-5)
    again = index_folder(folder, mn04, minilm, progress=False)
    assert len(again.unchanged) == 5 and again.embedded == [] and len(store.sidecars()) == 5


# ---- the Library tab: what a visitor may open and be served --------------------------------------

def _handlers(tmp_path, mn04, minilm, data_root=None, roots="", max_mb=20.0, max_seconds=600.0):
    from clapdemo.app import Settings
    from clapdemo.app.tab_library import LibraryHandlers

    settings = Settings(data_root=data_root, cache=tmp_path / "cache", max_upload_mb=max_mb,
                        max_upload_seconds=max_seconds)
    return LibraryHandlers(settings, lambda: (mn04, minilm), env={"CLAPDEMO_LIBRARY_ROOTS": roots})


@pytest.fixture
def server(tmp_path):
    """A data root with one clip, a folder the owner allows, and a secret beside them."""
    data = tmp_path / "data"
    allowed = tmp_path / "allowed"
    secret = tmp_path / "secret"
    for folder, category in [(data, "cow"), (allowed / "field", "cat"), (secret, "dog")]:
        folder.mkdir(parents=True)
        shutil.copy(esc50_file(category), folder / f"{category}.flac")
    (data / "escape").symlink_to(secret)  # a link inside the data root that leads out of it
    return data, allowed, secret


def test_the_library_opens_only_folders_the_owner_allows(tmp_path, server, mn04, minilm):
    """`Client(url).predict("/any/dir", api_name="/open_index")` reached any folder of the server.
    Now: the data root and CLAPDEMO_LIBRARY_ROOTS only, checked after resolving links."""
    data, allowed, secret = server
    h = _handlers(tmp_path, mn04, minilm, data_root=data, roots=str(allowed))
    for folder in (secret, data / "escape", data / ".." / "secret", Path("/"), Path("/etc")):
        with pytest.raises(gr.Error, match="not a folder this app may open"):
            h.open_index(str(folder))
    assert not (tmp_path / "cache" / "library").exists()  # nothing was indexed
    assert h.open_index(str(data))[1].startswith("Index ready")
    assert h.open_index(str(allowed / "field"))[1].startswith("Index ready")
    nobody = _handlers(tmp_path, mn04, minilm)  # a Space with no data root and no allow-list
    with pytest.raises(gr.Error, match="CLAPDEMO_LIBRARY_ROOTS"):
        nobody.open_index(str(data))


def test_whole_file_and_spans_never_serve_a_file_outside(tmp_path, server, mn04, minilm):
    """A hit whose path leads outside (a crafted index) is refused, and nothing is copied out."""
    data, _, secret = server
    h = _handlers(tmp_path, mn04, minilm, data_root=data)
    hit = {"rank": 1, "clip_id": "dog.flac", "audio_path": str(secret / "dog.flac")}
    for path in (str(secret / "dog.flac"), str(data / "escape" / "dog.flac")):
        with pytest.raises(gr.Error, match="outside"):
            h.whole_file([{**hit, "audio_path": path}], 0)
        with pytest.raises(gr.Error, match="outside"):
            h.cut(path, 0.0, 2.0)
    assert not list((tmp_path / "cache").rglob("*.flac")) and not list((tmp_path / "cache").rglob("*.wav"))
    ok = h.whole_file([{**hit, "audio_path": str(data / "cow.flac")}], 0)
    assert ok["value"] == str((data / "cow.flac").resolve())


def _zip(path: Path, members: dict) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def test_a_visitor_library_is_an_upload_into_the_session_folder(tmp_path, mn04, minilm):
    """Audio files or a zip of them: imported into the session's own folder under the cache (names
    that climb out, non-audio members and files over the size cap skipped and listed), indexed,
    searched, and served from there."""
    h = _handlers(tmp_path, mn04, minilm, max_mb=1.0)
    cow, cat = esc50_file("cow"), esc50_file("cat")
    big = tmp_path / "big.wav"
    sf.write(big, np.zeros(32000 * 40, np.float32), 32000)  # 2.5 MB of silence: over the 1 MB cap
    archive = _zip(tmp_path / "mine.zip", {"field/cat.flac": cat.read_bytes(), "../../evil.wav": cow.read_bytes(),
                                           "/abs.wav": cow.read_bytes(), "notes.txt": b"hello"})
    index, folder, status = h.upload_library([str(cow), str(archive), str(big)], None)
    assert Path(folder).parent.parent == (tmp_path / "cache" / "library-uploads").resolve()  # SESSION/UPLOAD
    assert sorted(p.relative_to(folder).as_posix() for p in Path(folder).rglob("*") if p.is_file()) == [
        cow.name, "field/cat.flac"]
    assert not (tmp_path / "evil.wav").exists() and not (tmp_path / "cache" / "evil.wav").exists()
    for skipped in ("../../evil.wav", "/abs.wav", "notes.txt", "big.wav"):
        assert skipped in status, status
    assert "2 added" in status
    note, table, hits, *rest = h.search_text(index, PROJECTION, "a cat meowing", 2)
    assert hits[0]["clip_id"] == "field/cat.flac", table
    served = h.whole_file(hits, 0)["value"]  # a copy under an unguessable name: the cache is never served
    assert not served.startswith(str(tmp_path)) and Path(served).read_bytes() == cat.read_bytes()
    again = h.upload_library([str(esc50_file("frog"))], folder)  # a second upload adds to the same library
    assert again[1] == folder and "1 added" in again[2] and "2 unchanged" in again[2]


def test_find_similar_applies_the_upload_limits(tmp_path, server, eight_channels, mn04, minilm):
    data, _, _ = server
    h = _handlers(tmp_path, mn04, minilm, data_root=data, max_mb=20.0, max_seconds=10.0)
    index = h.open_index(str(data))[0]
    with pytest.raises(gr.Error, match="longer than 10 s"):
        h.search_audio(index, PROJECTION, str(eight_channels), 3)
    small = _handlers(tmp_path, mn04, minilm, data_root=data, max_mb=0.01)
    with pytest.raises(gr.Error, match="uploads are limited to 0.01 MB"):
        small.search_audio(index, PROJECTION, str(esc50_file("dog")), 3)
    hits = h.search_audio(index, PROJECTION, str(esc50_file("dog")), 3)[2]
    assert [x["clip_id"] for x in hits] == ["cow.flac"]


def test_two_sessions_open_the_same_folder(tmp_path, server, mn04, minilm):
    """While one session indexes a folder, another opening it sees what is indexed so far."""
    from clapdemo.stores.store import Store

    data, _, _ = server
    first, second = _handlers(tmp_path, mn04, minilm, data_root=data), _handlers(tmp_path, mn04, minilm, data_root=data)
    index = first.open_index(str(data))[0]
    with Store(index).lock("index"):  # the first session is updating it right now
        opened, status = second.open_index(str(data))
    assert opened == index and "another session" in status
    assert second.search_text(opened, PROJECTION, "a cow mooing", 1)[2][0]["clip_id"] == "cow.flac"


@pytest.mark.parametrize("seconds", [0.3, 9.99, 10.0, 10.004, 23.0, 61.7])
@pytest.mark.parametrize("block", [1, 777, 32000 * 3])
def test_streamed_windows_equal_the_windows_of_the_whole_wave(seconds, block):
    """The cutter sees the file a block at a time and must give exactly what slicing it whole gives."""
    from clapdemo.encoders.windows import WindowCutter, window_starts

    rate, window, hop = 100 if block == 1 else 32000, 10.0, 5.0
    wave = np.random.default_rng(0).standard_normal(int(round(seconds * rate))).astype(np.float32)
    cutter, got = WindowCutter(rate, window, hop), []
    for i in range(0, len(wave), block):
        got += cutter.feed(wave[i: i + block])
        assert len(cutter.buffer) <= (window + 1) * rate + block  # never the whole file
    got += cutter.finish()
    starts = window_starts(len(wave) / rate, window, hop)
    assert [s for s, _ in got] == starts
    for s, samples in got:
        np.testing.assert_array_equal(samples, wave[round(s * rate): round((s + window) * rate)])


@pytest.mark.slow
def test_index_killed_for_real_resumes(tmp_path):
    """`python -m clapdemo index` under SIGKILL once two files are in: the rerun keeps them, embeds
    the other six and leaves exactly one shard per file (before: all eight again, 10 shards)."""
    import subprocess
    import sys

    from test_reliability_runs import ENV, sidecar_ids, wait_for

    folder = tmp_path / "sounds"
    folder.mkdir()
    for i, category in enumerate(("cow", "cat", "frog", "hen", "siren", "dog", "rain", "crow")):
        shutil.copy(esc50_file(category), folder / f"{i}-{category}.flac")
    args = [sys.executable, "-m", "clapdemo", "index", str(folder)]
    index = folder / ".clapdemo-index"
    with open(tmp_path / "killed.log", "w") as log:
        proc = subprocess.Popen(args, cwd=REPO, env=ENV, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for(lambda: sum(sidecar_ids(index).values()) >= 2, proc, "two files indexed")
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
    kept = set(sidecar_ids(index))
    rerun = subprocess.run(args, cwd=REPO, env=ENV, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert f"{len(kept)} kept from an interrupted run" in rerun.stdout, rerun.stdout
    assert f"{8 - len(kept)} added" in rerun.stdout, rerun.stdout
    counts = sidecar_ids(index)
    assert sorted(counts) == sorted(p.name for p in folder.glob("*.flac")) and set(counts.values()) == {1}, counts
    from clapdemo.stores.store import Store

    assert Store(index).leftovers() == []  # nothing half-written left behind
