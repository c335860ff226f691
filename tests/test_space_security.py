"""A public Space, round 2 (issue 19, items 1, 2, 3, 5 and the app's part of 13): what one visitor
can reach of another's, and what one client can do to the others.

Two sessions of one app (the handlers without a browser, and the served app for the file route):
A uploads its own clips and trains; B must not list A's runs, fetch A's clips by URL, train on
A's store, or learn which server paths exist; nobody sees a server path or another's session id.
"""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import gradio as gr
import pytest

from conftest import copy_esc50_subset
from clapdemo.app import Handlers, Session, SessionRegistry, Settings, build_app, launch_options
from clapdemo.app.jobs import Job
from clapdemo.app.session import client_address
from test_ui import drain

CLASSES = ("dog", "rain")
TRAIN = dict(epochs=3, batch_size=8, lr=0, weight_decay=1e-4, learn_temperature=True, patience=0, val_fraction=0.3)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return copy_esc50_subset(tmp_path_factory.mktemp("esc50-pair"), CLASSES, per_class=3)


@pytest.fixture(scope="module")
def app(data, tmp_path_factory) -> Handlers:
    cache = tmp_path_factory.mktemp("cache")
    return Handlers(Settings.from_env(["--data-root", str(data), "--cache", str(cache), "--text-encoder", "minilm"],
                                      env={}))


@pytest.fixture(scope="module")
def two(app, data, tmp_path_factory):
    """Session A: the shared store embedded, a run trained on it, then its own clips (with captions)
    embedded and a run on those. Session B: a fresh visitor of the same app."""
    a, _ = app.init_session(Session())
    drain(app.precompute(a, "esc50", "all"))
    shared_store = a.store_dir
    drain(app.train(a, **TRAIN))
    shared_run = a.last_run
    upload = tmp_path_factory.mktemp("upload")
    clips = sorted((data / "audio").glob("*"))
    for clip in clips:
        shutil.copy(clip, upload / clip.name)
    (upload / "captions.csv").write_text("file,caption\n" + "".join(
        f"{c.name},{'a dog barking' if i < 3 else 'rain falling'}\n" for i, c in enumerate(clips)))
    drain(app.embed_own_clips(a, [str(p) for p in sorted(upload.iterdir())]))
    assert "own-clips" in a.store_dir
    drain(app.train(a, **TRAIN))
    b, _ = app.init_session(Session())
    assert b.id != a.id and b.store_dir == shared_store
    return a, b, shared_store, shared_run


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


# ---- 1. nothing a session writes is served to another ------------------------------------------------

def test_b_cannot_list_or_fetch_what_a_wrote(app, two):
    """B read A's run names from /run_choices, then fetched A's clips from the cache, an allowed path.
    Now B lists only its own runs, and the cache is not served; A's players play copies with
    unguessable names, which the file route serves."""
    a, b, shared_store, shared_run = two
    mine = app.run_choices(a)
    assert Path(shared_run).name not in json.dumps(app.run_choices(b))  # B sees no run of A's ...
    a.store_dir = shared_store
    assert [v for _, v in app.run_choices(a)["choices"]] == [Path(shared_run).name]  # ... A sees its own
    assert all(a.id not in label for label, _ in app.run_choices(a)["choices"])  # labels without ids
    with pytest.raises(gr.Error, match="past run of yours"):
        app.use_run(b, Path(shared_run).name)
    with pytest.raises(gr.Error, match="past run of yours"):
        app.use_run(b, shared_run)  # a path is no run name either
    assert mine is not None

    own_clip = next(Path(app.settings.cache, "own-clips", a.id).rglob("*.flac"))
    a.store_dir = next(Path(app.settings.cache, "own-clips", a.id).rglob("manifest.json")).parent.as_posix()
    _, _, *players = app.search(a, "a dog barking", 3)
    played = [p["value"] for p in players if p["visible"]]
    assert played and not any(str(app.settings.cache) in p for p in played)

    options = launch_options(app.settings)
    assert not any(Path(app.settings.cache).resolve().is_relative_to(Path(p).resolve())
                   or Path(p).resolve().is_relative_to(Path(app.settings.cache).resolve())
                   for p in options["allowed_paths"])
    demo = build_app(app.settings)
    port = _free_port()
    demo.launch(prevent_thread_lock=True, server_port=port, **{k: v for k, v in options.items() if k != "server_port"})
    try:
        base = f"http://127.0.0.1:{port}/gradio_api/file="
        for secret in (own_clip, Path(shared_run) / "run.json", Path(shared_run) / "train_clips.json"):
            if secret.exists():
                assert _get(base + urllib.parse.quote(str(secret))) in (403, 404), secret
        assert _get(base + urllib.parse.quote(played[0])) == 200  # A's own player
        sample = next(Path(app.settings.data_root).rglob("*.flac"))
        assert _get(base + urllib.parse.quote(str(sample))) == 200  # the configured data stays served
    finally:
        demo.close()


# ---- 2. the label-pair box opens only stores this session may use ------------------------------------

def test_label_pairs_only_from_allowed_stores_and_no_existence_oracle(app, two):
    """`/train` with label_pairs=/etc, /nonexistent/x or A's own store: one message, nothing trained."""
    a, b, shared_store, _ = two
    own_store = next(Path(app.settings.cache, "own-clips", a.id).rglob("manifest.json")).parent
    answers = {}
    for path in ("/etc", "/nonexistent/x", str(own_store), str(Path(shared_store) / ".." / ".." / "own-clips")):
        with pytest.raises(gr.Error) as error:
            next(app.train(b, **TRAIN, label_pairs=path))
        answers[path] = error.value.message.replace(path, "PATH")
    assert len(set(answers.values())) == 1, answers
    assert "not a store this app may use" in answers["/etc"]
    assert app.allowed_store(b, shared_store) == Path(shared_store).resolve()  # a shared store is fine
    assert app.allowed_store(a, str(own_store)) == own_store.resolve()  # and A's own, for A
    with pytest.raises(gr.Error, match="not a store this app may use"):
        app.evaluate(b, str(own_store), False)  # Evaluate's store box takes names it listed, no paths


# ---- 3. visitors see names, not server paths -----------------------------------------------------------

def test_no_server_path_or_session_id_is_shown(app, two, monkeypatch):
    from clapdemo.app.tab_library import LibraryHandlers

    a, b, shared_store, _ = two
    b.store_dir = shared_store
    shown = [app.header(b), app.header(a)]
    summary, _, *rest = app.show_dataset(b, "esc50", "all")
    shown += [summary, rest[-1], json.dumps(app.store_choices(b)), json.dumps(app.store_choices(a)),
              json.dumps(app.run_choices(b)), app.use_shipped(b)[0]]
    lib = LibraryHandlers(app.settings, app.encoders, env={})
    index, status = lib.open_index(Path(app.settings.data_root).name)  # the folder box shows the name
    shown.append(status)
    text = "\n".join(map(str, shown))
    for secret in (str(app.settings.cache), str(app.settings.data_root), "/home/", "/tmp/", ".cache/clapdemo", a.id):
        assert secret not in text, (secret, text)
    class Layout:  # the joint-space note of a cached layout (the UMAP itself is tested elsewhere)
        rows, used, cache = [0] * 6, [0] * 2, Path(app.settings.cache) / "umap" / "layout.npy"

        def cached(self):
            return True

        def load(self):
            return None

        def figure(self, *args):
            return None

    monkeypatch.setattr("clapdemo.evaluation.joint_layout.plan_layout", lambda *args: Layout())
    note = drain(app.joint_space(b, "modality", False))[0]
    assert "UMAP of 6 projected clips" in note and "/" not in note, note


# ---- 5. one client cannot wipe the others' sessions ----------------------------------------------------

class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def _busy_session() -> Session:
    """A session whose job runs until told to stop."""
    session = Session()
    session.jobs["train"] = Job("train", lambda job: job.stop.wait(60)).start()
    return session


def test_a_flood_of_page_loads_evicts_nobody_elses_session():
    """300 on_load calls from one client evicted a visitor mid-training. Now one client rotates only
    its own sessions (at most per_client), and a session with a running job is never forgotten."""
    registry = SessionRegistry(limit=16, per_client=4)
    visitor, key = registry.attach(_busy_session(), None, "10.0.0.1")
    idle, idle_key = registry.attach(Session(), None, "10.0.0.2")
    for _ in range(300):
        registry.attach(Session(), None, "10.0.0.66")
    assert registry.attach(Session(), key, "10.0.0.1") == (visitor, key)
    assert registry.attach(Session(), idle_key, "10.0.0.2") == (idle, idle_key)
    assert len(registry) <= 6
    for i in range(40):  # many clients: the idle ones go first, the training one never
        registry.attach(Session(), None, f"10.1.0.{i}")
    assert registry.attach(Session(), key, "10.0.0.1") == (visitor, key) and not visitor.jobs["train"].stop.is_set()
    visitor.stop_jobs()


def test_expired_sessions_stop_their_jobs_and_run_the_hook():
    clock, gone = FakeClock(), []
    registry = SessionRegistry(idle_seconds=60, on_expire=gone.append, clock=clock)
    busy, key = registry.attach(_busy_session(), None, "a")
    fresh, fresh_key = registry.attach(Session(), None, "b")
    clock.now += 45
    registry.touch(fresh)  # a click
    clock.now += 30
    other, _ = registry.attach(Session(), None, "c")  # any page load sweeps
    assert gone == [busy] and busy.jobs["train"].stop.is_set()  # its training is told to stop
    assert registry.attach(Session(), fresh_key, "b")[0] is fresh
    assert registry.attach(Session(), key, "a")[0] is not busy  # a reload of the expired one: a new session


@pytest.mark.parametrize("key", [{"a": 1}, ["x"], 42, "not-a-key", "A" * 32, "../" * 11])
def test_a_key_that_is_not_ours_gets_a_new_session(key):
    """on_load with a dict as the browser key raised "unhashable type"."""
    registry = SessionRegistry()
    session = Session()
    got, new_key = registry.attach(session, key, "x")
    assert got is session and isinstance(new_key, str) and len(new_key) == 32 and new_key != key


def test_client_address_prefers_the_proxy_header():
    class Request:
        headers = {"x-forwarded-for": "203.0.113.7, 10.0.0.1"}
        client = type("C", (), {"host": "10.0.0.1"})()

    assert client_address(Request()) == "203.0.113.7"
    Request.headers = {}
    assert client_address(Request()) == "10.0.0.1" and client_address(None) == ""


def test_epochs_are_capped_and_two_trainings_at_most(app, two):
    a, b, shared_store, _ = two
    b.store_dir = shared_store
    for epochs in (10 ** 9, 0, 501):
        with pytest.raises(gr.Error, match="choose 1 to 500"):
            next(app.train(b, **{**TRAIN, "epochs": epochs}))
    release = threading.Event()
    blockers = [app.start_training(Job("train", lambda job: release.wait(30))) for _ in range(2)]
    try:
        with pytest.raises(gr.Error, match="(?i)busy.*try again"):
            next(app.train(b, **TRAIN))
    finally:
        release.set()
        for job in blockers:
            job.wait(10)
    drain(app.train(b, **TRAIN))  # a slot is free again


# ---- 13. past runs say what became of them; Evaluate without captions says why -----------------------

def test_past_runs_say_interrupted_and_stopped_by_you(app, two):
    a, _, shared_store, shared_run = two
    a.store_dir = shared_store
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(time.time() + 3600))
    for status, name in (("running", f"{stamp}-{a.id}"), ("callback", f"{stamp}-{a.id}-2")):
        copy = Path(shared_run).parent / name
        shutil.copytree(shared_run, copy, dirs_exist_ok=True)
        info = json.loads((copy / "run.json").read_text())
        info["status"] = status
        (copy / "run.json").write_text(json.dumps(info))
    labels = [label for label, _ in app.run_choices(a)["choices"]]
    assert any("interrupted" in x for x in labels), labels  # no live job writes it: the app was killed
    assert any("stopped by you" in x for x in labels), labels
    assert not any("running" in x or "callback" in x for x in labels), labels


def test_evaluate_own_clips_without_captions_says_why(app, data, tmp_path):
    session, _ = app.init_session(Session())
    drain(app.embed_own_clips(session, [str(p) for p in sorted((data / "audio").glob("*"))[:3]]))
    with pytest.raises(gr.Error, match="no captions.*captions.csv"):
        app.evaluate(session, None, False)


def test_a_split_name_cannot_climb_out_of_the_data_folder(app, tmp_path):
    """The Data tab's split box takes custom values, and readers build file names from it
    ("{split}.csv"): "../../x" must not reach a table (or clips) outside the data folder."""
    outside = tmp_path / "secret.csv"
    outside.write_text("audiocap_id,youtube_id,start_time,caption\n1,abc,0,a secret\n")
    climb = "../" * 12 + str(outside.with_suffix(""))[1:]
    for split in (climb, "../x", "a/b", "fold1\0"):
        with pytest.raises(gr.Error, match="not a split name"):
            app.show_dataset(Session(), "audiocaps", split)
    assert app.load_dataset("esc50", " all ").n_clips == 6  # real names still work


def test_precompute_log_and_library_exports_name_no_server_path(tmp_path):
    """Item 3: the Data tab's precompute log and the Library's export files name the store and the
    files, never the server's folders (the CLI's own summary keeps the path: it is the user's)."""
    from clapdemo.app.tab_data import precompute_log
    from clapdemo.search.hit_export import export_hits
    from clapdemo.stores.precompute import PrecomputeReport
    from clapdemo.search.searcher import Hit

    store = tmp_path / "cache" / "stores" / "esc50-all-mn04"
    report = PrecomputeReport(store=str(store), total=3, computed=3)
    assert str(tmp_path) in report.summary()
    log = precompute_log(report)
    assert "esc50-all-mn04" in log and str(tmp_path) not in log, log
    hits = [Hit(rank=1, score=0.5, relevance=1.0, clip_id="cow.flac", audio_path=str(tmp_path / "secret" / "cow.flac"))]
    for ext in ("csv", "json"):
        text = export_hits({"clips": hits}, tmp_path / f"results.{ext}", with_paths=False).read_text()
        assert "cow.flac" in text and str(tmp_path) not in text, text
