"""A public Space, round 2 (issue 19): what visitors' uploads and queries may cost, and what they are told.

Items 4 (disk quotas, cleanup), 6 (typed labels and queries capped), 7 (an audio query's decoded
length and the number at once), 10 (a bad zip member fails only itself), 12 (formula injection in the
Library's CSV), 15 (one "active data" control) and 19 (the status line names the size limit; only
dataset kinds that can work; "nothing else to compare with"; counts that agree). Every bad input is
built here; nothing binary is committed.
"""

from __future__ import annotations

import csv
import functools
import io
import os
import time
import zipfile
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
import soundfile as sf

from clapdemo.search import hit_export
from clapdemo.search import visitor_uploads as uploads
from clapdemo.search import visitor_work as work
from clapdemo.app import Handlers, Session, Settings
from conftest import ESC50, REPO
from test_library import esc50_file
from test_ui import drain

PROJECTION = str(REPO / "assets" / "projection")
MB = 1_000_000


def _zip(path: Path, members: dict, compression=zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def _library_handlers(tmp_path, mn04, minilm, data_root=None, **limits):
    from clapdemo.app.tab_library import LibraryHandlers

    settings = Settings(data_root=data_root, cache=tmp_path / "cache", **limits)
    return LibraryHandlers(settings, lambda: (mn04, minilm), env={})


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """Handlers as a visitor finds them (the sample set, the shipped projection), a session after page load."""
    handlers = Handlers(Settings.from_env(["--cache", str(tmp_path_factory.mktemp("cache"))], env={}))
    session, _ = handlers.init_session(Session())
    return handlers, session


# ---- 4. disk quotas and cleanup ---------------------------------------------------------------------

def test_repeated_zips_of_zeros_stop_at_the_session_quota(tmp_path):
    """Issue 19's attack: one small zip of ten 19 MB members of zeros, uploaded again and again (each
    upload a new folder, as "your own clips" makes one). The session's quota refuses what does not fit,
    the bytes on disk stay under it, and the refusal says which quota and its setting."""
    bomb = _zip(tmp_path / "zeros.zip", {f"zeros-{i}.wav": bytes(19 * MB) for i in range(10)})
    assert bomb.stat().st_size < 300_000
    cache, quota = tmp_path / "cache", 60 * MB
    imported_per_upload, reasons = [], {}
    for n in range(5):
        folder = cache / "own-clips" / "visitor" / f"upload-{n}" / "clips"
        imported, skipped = uploads.import_uploads(
            [bomb], folder, 20 * MB, quota=uploads.Quota(cache, "visitor", quota, 2000 * MB))
        imported_per_upload.append(len(imported))
        reasons |= skipped
        assert uploads.folder_bytes(cache / "own-clips" / "visitor") <= quota
    assert imported_per_upload == [3, 0, 0, 0, 0]  # 57 MB, then nothing fits
    assert all("session's quota" in why and "CLAPDEMO_SESSION_QUOTA_MB" in why for why in reasons.values())
    assert not [p for p in cache.rglob("*.tmp")]  # nothing half-copied left behind


def test_the_total_quota_counts_every_session(tmp_path):
    cache = tmp_path / "cache"
    upload = _zip(tmp_path / "five.zip", {f"z{i}.wav": bytes(5 * MB) for i in range(3)})

    def quota(sid):
        return uploads.Quota(cache, sid, 12 * MB, 18 * MB)

    first, _ = uploads.import_uploads([upload], cache / "own-clips" / "a" / "1", 20 * MB, quota=quota("a"))
    second, skipped = uploads.import_uploads([upload], cache / "library-uploads" / "b" / "1", 20 * MB,
                                             quota=quota("b"))
    assert len(first) == 2 and len(second) == 1  # 10 MB for a; 5 MB more for b, then the 18 MB are full
    assert all("all visitors' uploads is full" in why and "CLAPDEMO_TOTAL_QUOTA_MB" in why for why in skipped.values())
    assert sum(uploads.folder_bytes(cache / name) for name in uploads.UPLOAD_FOLDERS) <= 18 * MB


def test_the_quota_is_in_the_settings_and_refuses_in_the_status_line(tmp_path):
    settings = Settings.from_env(["--cache", str(tmp_path / "cache")], env={"CLAPDEMO_SESSION_QUOTA_MB": "0.01",
                                                                           "CLAPDEMO_TOTAL_QUOTA_MB": "50"})
    assert (settings.session_quota_mb, settings.total_quota_mb) == (0.01, 50.0)
    assert (Settings().session_quota_mb, Settings().total_quota_mb) == (200.0, 2000.0)
    h = Handlers(settings)
    with pytest.raises(gr.Error, match="session's quota") as refused:
        drain(h.embed_own_clips(Session(), [str(esc50_file("dog"))]))  # a 31 KB clip over a 10 KB quota
    assert "CLAPDEMO_SESSION_QUOTA_MB" in refused.value.message
    assert not list((tmp_path / "cache" / "own-clips").rglob("*.*"))  # the refused upload left nothing


def test_a_sessions_files_go_when_it_expires_and_stale_ones_at_start(tmp_path):
    cache = tmp_path / "cache"
    h = Handlers(Settings(cache=cache))
    gone, kept = Session(), Session()
    for session in (gone, kept):
        for top in uploads.UPLOAD_FOLDERS:
            (cache / top / session.id / "x").mkdir(parents=True)
            (cache / top / session.id / "x" / "a.wav").write_bytes(b"RIFF")
    h.session_expired(gone)  # what SessionRegistry calls (on_expire) for an expired or forgotten session
    assert not any((cache / top / gone.id).exists() for top in uploads.UPLOAD_FOLDERS)
    assert all((cache / top / kept.id / "x" / "a.wav").is_file() for top in uploads.UPLOAD_FOLDERS)
    uploads.remove_session_files(cache, "../..")  # not a session id: nothing outside is touched
    assert cache.is_dir()

    assert uploads.remove_stale_uploads(cache) == []  # fresh: kept
    old = time.time() - uploads.UPLOAD_TTL_SECONDS - 60
    for path in [*(cache / "own-clips" / kept.id).rglob("*"), cache / "own-clips" / kept.id]:
        os.utime(path, (old, old))
    Handlers(Settings(cache=cache))  # a start of the app
    assert not (cache / "own-clips" / kept.id).exists() and (cache / "library-uploads" / kept.id).is_dir()


# ---- 6. typed labels and queries ------------------------------------------------------------------

def test_typed_labels_and_queries_are_capped(sample):
    from clapdemo.search.searcher import MAX_LABELS, MAX_TEXT_CHARS, parse_labels

    assert len(parse_labels(", ".join(f"label {i}" for i in range(MAX_LABELS)))) == MAX_LABELS
    with pytest.raises(ValueError, match=f"10000 labels typed; at most {MAX_LABELS}"):
        parse_labels(",".join(f"label {i}" for i in range(10_000)))  # 179 KB took 326 s
    with pytest.raises(ValueError, match=f"at most {MAX_TEXT_CHARS}"):
        parse_labels(["a dog", "x" * (MAX_TEXT_CHARS + 1)])
    h, session = sample
    clip = str(esc50_file("rooster"))
    t = time.monotonic()
    with pytest.raises(ValueError, match="at most 100"):
        h.describe_upload(session, clip, ",".join(f"label {i}" for i in range(10_000)), 5)
    assert time.monotonic() - t < 20  # refused, not embedded (326 s before)
    with pytest.raises(gr.Error, match=f"at most {MAX_TEXT_CHARS}"):
        h.search(session, "dog " * 100, 5)


# ---- 7. an audio query's work is bounded, and heavy jobs in number ------------------------------------------------------------

@pytest.fixture
def one_file_library(tmp_path, mn04, minilm):
    data = tmp_path / "data"
    data.mkdir()
    (data / "cow.flac").write_bytes(esc50_file("cow").read_bytes())
    h = _library_handlers(tmp_path, mn04, minilm, data_root=data)
    return h, h.open_index(str(data))[0]


def test_a_long_many_channel_query_is_decoded_only_for_its_first_seconds(tmp_path, one_file_library,
                                                                          monkeypatch):
    """A query inside the upload caps (here 96 s of 8 channels at 48 kHz; the probe's was 590 s at
    192 kHz) is decoded only for its first QUERY_SECONDS: counted in decoded samples, not in time."""
    import clapdemo.encoders.windows as windows

    h, index = one_file_library
    long = tmp_path / "long eight channels.flac"
    rate, t = 48000, np.arange(48000) / 48000
    second = np.repeat((0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[:, None], 8, axis=1)
    with sf.SoundFile(long, "w", rate, 8, format="FLAC", subtype="PCM_16") as f:
        for _ in range(96):
            f.write(second)
    decoded = []
    stream = windows.stream_audio

    def counting(*args, **kwargs):
        for block in stream(*args, **kwargs):
            decoded.append(len(block))
            yield block

    monkeypatch.setattr(windows, "stream_audio", counting)
    note, table, hits, *_ = h.search_audio(index, PROJECTION, str(long), 3)
    encoder_rate = 32000
    assert sum(decoded) <= (work.QUERY_SECONDS + 1) * encoder_rate, sum(decoded) / encoder_rate
    assert f"first {work.QUERY_SECONDS:g} s heard" in note and [x["clip_id"] for x in hits] == ["cow.flac"]


def test_audio_queries_beyond_the_slots_are_told_the_app_is_busy(one_file_library, monkeypatch):
    h, index = one_file_library
    monkeypatch.setattr(work, "audio_query_slot", functools.partial(work.audio_query_slot, wait=0.1))
    held = [work._query_slots.acquire(timeout=5) for _ in range(work.AUDIO_QUERY_SLOTS)]
    try:
        assert all(held)
        with pytest.raises(gr.Error, match="busy"):
            h.search_audio(index, PROJECTION, str(esc50_file("dog")), 3)
    finally:
        for _ in held:
            work._query_slots.release()
    assert h.search_audio(index, PROJECTION, str(esc50_file("dog")), 3)[2]  # a free slot: answered


def test_uploads_beyond_the_index_slots_are_told_the_app_is_busy(tmp_path, mn04, minilm, monkeypatch):
    h = _library_handlers(tmp_path, mn04, minilm)
    monkeypatch.setattr(work, "upload_index_slot", functools.partial(work.upload_index_slot, wait=0.1))
    held = [work._index_slots.acquire(timeout=5) for _ in range(work.UPLOAD_INDEX_SLOTS)]
    try:
        with pytest.raises(gr.Error, match="busy indexing"):
            h.upload_library([str(esc50_file("cow"))], None)
    finally:
        for _ in held:
            work._index_slots.release()
    assert not list((tmp_path / "cache").rglob("*.flac"))  # refused before anything was unpacked
    assert "1 added" in h.upload_library([str(esc50_file("cow"))], None)[2]


# ---- 10. one bad zip member fails only itself ----------------------------------------------------

def _encrypted(path: Path, name: str) -> Path:
    """Mark `name` in the zip at `path` as encrypted (general-purpose flag bit 0, in its local and
    central headers): Python's zipfile cannot write encryption, and reading it then needs a password."""
    data = bytearray(path.read_bytes())
    raw = name.encode()
    for signature, flag_at, name_at in ((b"PK\x03\x04", 6, 30), (b"PK\x01\x02", 8, 46)):
        start = 0
        while (start := data.find(signature, start)) >= 0:
            if data[start + name_at:start + name_at + len(raw)] == raw:
                data[start + flag_at] |= 0x1
            start += 4
    path.write_bytes(bytes(data))
    return path


def test_bad_zip_members_are_skipped_one_by_one_and_leave_nothing(tmp_path):
    cow, cat = esc50_file("cow").read_bytes(), esc50_file("cat").read_bytes()
    long_name = "a" * 251 + ".wav"  # 255 characters
    archive = _encrypted(_zip(tmp_path / "mixed.zip", {
        "good/cow.flac": cow, long_name: cow, "x.flac": cat, "x.flac/y.flac": cat, "secret.flac": cow,
        "good/cat.flac": cat}, zipfile.ZIP_STORED), "secret.flac")
    with pytest.raises(RuntimeError):  # what the old import let through whole
        zipfile.ZipFile(archive).read("secret.flac")
    folder = tmp_path / "cache" / "own-clips" / "s" / "u" / "clips"
    imported, skipped = uploads.import_uploads([archive], folder, 20 * MB)
    assert sorted(imported) == ["good/cat.flac", "good/cow.flac", "x.flac"]
    assert set(skipped) == {long_name, "x.flac/y.flac", "secret.flac"}
    assert "too long" in skipped[long_name] and "encrypted" in skipped["secret.flac"]
    assert "cannot be unpacked or stored here" in skipped["x.flac/y.flac"]
    assert not any(str(tmp_path) in why for why in skipped.values())  # no server path
    on_disk = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert on_disk == ["good/cat.flac", "good/cow.flac", "x.flac"]  # no temp file, nothing of the refused


def test_a_zip_that_is_no_zip_is_listed_not_raised(tmp_path):
    fake = tmp_path / "clips.zip"
    fake.write_bytes(b"PK\x03\x04 not really a zip")
    imported, skipped = uploads.import_uploads([fake, esc50_file("cow")], tmp_path / "out", 20 * MB)
    assert imported == [esc50_file("cow").name] and "not a readable zip" in skipped["clips.zip"]


def test_own_clips_list_every_file_not_used_and_counts_agree(sample, tmp_path):
    """With a captions.csv: a non-audio member named .wav (named in the CSV or not) is listed as
    skipped and deleted (it was "3/3 embedded, 0 failed"); a file that fails to decode while embedding
    is listed and deleted, and the line after the summary counts the clips the store holds
    ("1/2 embedded, 1 failed" was followed by "2 clips")."""
    h, session = sample
    dogs = [esc50_file("dog", i) for i in range(2)]
    truncated = esc50_file("dog", 2).read_bytes()
    captions = "file,caption\n" + "".join(f"{p.name},a dog barking\n" for p in dogs)
    captions += "cut.flac,a dog barking\nfake-in-csv.wav,a fake\n"
    archive = _zip(tmp_path / "mine.zip", {**{p.name: p.read_bytes() for p in dogs}, "captions.csv": captions,
                                           "cut.flac": truncated[: len(truncated) // 3],  # header fine, data cut
                                           "fake.wav": b"not audio at all" * 100,
                                           "fake-in-csv.wav": b"not audio either" * 100})
    mine = Session(projection=session.projection)
    progress, log, header, stores = drain(h.embed_own_clips(mine, [str(archive)]))
    assert "skipped `fake.wav`" in log and "skipped `fake-in-csv.wav`" in log, log
    assert "2/3 clips embedded" in log and "1 failed" in log and "`cut.flac`" in log, log
    assert "2 clips embedded, 2 with captions" in log and "3 clips" not in log.split("embedded")[-1], log
    assert str(h.settings.cache) not in log  # the store by its name, not the server's path
    clips = Path(mine.store_dir).parent / "clips"
    assert sorted(p.name for p in clips.iterdir()) == sorted([p.name for p in dogs] + ["captions.csv"])


# ---- 12. formula injection in results.csv ------------------------------------------------------

def test_exported_csv_cells_never_start_a_formula(tmp_path):
    from clapdemo.search.searcher import Hit

    names = ['=HYPERLINK("http://x","click")', "+SUM(1+1)", "-2+3", "@cmd", "\tTAB", "\rCR", "dog.wav"]
    hits = [Hit(rank=i + 1, score=-0.5, relevance=0.1, clip_id=n, audio_path=n, caption=n)
            for i, n in enumerate(names)]
    path = hit_export.export_hits({"clips": hits}, tmp_path / "results.csv")
    rows = list(csv.DictReader(io.StringIO(path.read_bytes().decode("utf-8"), newline="")))
    assert [r["clip_id"] for r in rows] == ["'" + n for n in names[:-1]] + ["dog.wav"]
    assert all(r["caption"] == r["clip_id"] for r in rows) and rows[0]["score"] == "-0.5"  # numbers stay numbers
    as_json = hit_export.export_hits({"clips": hits}, tmp_path / "results.json").read_text(encoding="utf-8")
    assert '"=HYPERLINK' in as_json  # JSON is data, not a spreadsheet: kept as it is


# ---- 15. one "active data" control ----------------------------------------------------------------

def test_the_active_data_control_switches_between_the_dataset_and_your_clips(sample, tmp_path):
    h, session = sample
    mine = Session(projection=session.projection)
    h.ensure_open(mine)
    dataset_store = mine.store_dir
    dogs = [esc50_file("dog", i) for i in range(3)]
    captions = "file,caption\n" + "".join(f"{p.name},my dog\n" for p in dogs)
    drain(h.embed_own_clips(mine, [str(_zip(tmp_path / "dogs.zip", {**{p.name: p.read_bytes() for p in dogs},
                                                                    "captions.csv": captions}))]))
    own_store = mine.store_dir
    assert own_store != dataset_store
    control = h.data_choices(mine)
    (label, key), = [c for c in control["choices"] if c[1] != "dataset"]
    assert control["value"] == key and "3 clips" in label and "/" not in key  # a name, no server path
    assert len(h.search(mine, "a dog barking", 5)[1]) == 3  # your 3 clips

    header, stores, note = h.use_data(mine, "dataset", "esc50", "all")
    assert mine.store_dir == dataset_store and "414/414" in header and "dataset above" in note
    assert h.data_choices(mine)["value"] == "dataset"
    assert len(h.search(mine, "a dog barking", 5)[1]) == 5  # the sample set again
    h.use_data(mine, key, "esc50", "all")
    assert mine.store_dir == own_store
    with pytest.raises(gr.Error, match="gone"):
        h.use_data(Session(), key, "esc50", "all")  # another session's upload is not this one's


# ---- 19. what a visitor reads --------------------------------------------------------------------

def test_a_missing_upload_names_the_size_limit(tmp_path, mn04, minilm):
    """A file over the size limit is refused by the page (a toast) and reaches the handler as nothing:
    the status line must say the limit, not only "upload a file first"."""
    h = Handlers(Settings(cache=tmp_path / "cache", max_upload_mb=20.0, max_upload_seconds=600.0))
    lib = _library_handlers(tmp_path, mn04, minilm, max_upload_mb=20.0)
    for call in (lambda: h.check_upload(None), lambda: drain(h.embed_own_clips(Session(), None)),
                 lambda: lib.upload_library(None, None), lambda: lib.search_audio("x", PROJECTION, None, 3)):
        with pytest.raises(gr.Error, match="up to 20 MB") as error:
            call()
        assert "refused by the page" in error.value.message


def test_the_dataset_list_offers_only_kinds_that_work_with_the_data(tmp_path):
    from clapdemo.app import tab_data
    from clapdemo.data.datasets import usable_kinds

    settings = Settings.from_env(["--cache", str(tmp_path / "cache")], env={})  # the sample set
    assert usable_kinds(settings.data_root, settings.dataset) == ["esc50"]
    with gr.Blocks():
        c = tab_data.build(settings)
    assert [value for _, value in c.kind.choices] == ["esc50"]
    assert usable_kinds(ESC50) == ["esc50"]


def test_a_one_file_library_says_there_is_nothing_else_to_compare(one_file_library):
    h, index = one_file_library
    _, _, hits, *_ = h.search_text(index, PROJECTION, "a cow mooing", 5)
    note, table, found, *_ = h.more_like(index, PROJECTION, hits, 0, 5)
    assert found == [] and "Nothing else to compare cow.flac with" in note and "only this one file" in note
    assert "Top 0" not in note
