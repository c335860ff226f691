"""The app's handlers without a browser: settings, messages for bad input, per-session isolation.

The handlers run on a 16-clip ESC-50 subset (real clips, the offline encoders);
the browser test (test_app_browser.py) drives the same code through the page.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
import soundfile as sf

from conftest import REPO, copy_esc50_subset
from clapdemo.app import DEFAULT_PROJECTION, Handlers, Session, Settings, launch_options
from clapdemo.data.datasets import guess_dataset_kind

CLASSES = ("dog", "rain", "rooster", "cat")


@pytest.fixture(scope="module")
def tiny_esc50(tmp_path_factory) -> Path:
    """Four clips each of four classes, copied with their esc50.csv rows."""
    return copy_esc50_subset(tmp_path_factory.mktemp("esc50-tiny"), CLASSES, per_class=4)


@pytest.fixture(scope="module")
def handlers(tiny_esc50, tmp_path_factory) -> Handlers:
    cache = tmp_path_factory.mktemp("cache")
    return Handlers(Settings.from_env(["--data-root", str(tiny_esc50), "--cache", str(cache),
                                       "--text-encoder", "minilm"], env={}))


def drain(generator):
    last = None
    for last in generator:
        pass
    return last


def wait_until(condition, timeout: float, what: str, interval: float = 0.05):
    """Poll `condition` until it is true; fail naming `what` if it is not within `timeout` seconds
    (a guard against a hang, not a speed target)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


@pytest.fixture(scope="module")
def ready(handlers, tiny_esc50):
    """A session whose store is half precomputed by the library, then finished by the app."""
    from clapdemo.data.datasets import load_dataset
    from clapdemo.stores.precompute import precompute

    audio, text = handlers.encoders()
    folder = handlers.store_dir("esc50", "all")
    precompute(load_dataset("esc50", tiny_esc50, "all"), audio, text, folder, progress=False,
               select=lambda clips: clips.head(8))
    session, _ = handlers.init_session(Session())
    assert session.store_dir == str(folder)  # the half-done store is picked up on page load
    progress, log, header, status, stores = drain(handlers.precompute(session, "esc50", "all"))
    assert "16/16 clips embedded, 0 failed (complete)" in status
    assert stores["value"] == folder.name and folder.name in [name for _, name in stores["choices"]]  # no paths
    return session, log, header


# --------------------------------------------------------------------------- settings


def test_settings_come_from_env_and_flags_override(tmp_path):
    (tmp_path / "esc50.csv").write_text("filename,fold,target,category\n")
    env = {"CLAPDEMO_DATA_ROOT": str(tmp_path), "CLAPDEMO_CACHE": str(tmp_path / "c"),
           "CLAPDEMO_TEXT_ENCODER": "minilm", "CLAPDEMO_MAX_UPLOAD_SECONDS": "30"}
    s = Settings.from_env([], env=env)
    assert s.data_root == tmp_path and s.cache == tmp_path / "c" and s.text_encoder == "minilm"
    assert s.dataset == "esc50" and "guessed" in s.why["CLAPDEMO_DATASET"]
    assert s.projection == DEFAULT_PROJECTION and s.max_upload_seconds == 30
    flagged = Settings.from_env(["--data-root", str(tmp_path / "other"), "--dataset", "folder", "--port", "7861"],
                                env=env)
    assert flagged.data_root == tmp_path / "other" and flagged.dataset == "folder" and flagged.port == 7861
    assert flagged.why["CLAPDEMO_DATA_ROOT"] == "from --data-root"


def test_dataset_kind_is_guessed_from_the_folder(tmp_path):
    assert guess_dataset_kind(tmp_path)[0] == "folder"
    (tmp_path / "meta").mkdir()
    (tmp_path / "meta" / "esc50.csv").write_text("")
    assert guess_dataset_kind(tmp_path)[0] == "esc50"
    other = tmp_path / "clotho"
    other.mkdir()
    (other / "clotho_captions_evaluation.csv").write_text("")
    assert guess_dataset_kind(other)[0] == "clotho"


def test_no_or_wrong_data_root_shows_what_to_point_it_at(tmp_path):
    assert Settings.from_env([], env={}).data_problem is None  # no flags: the shipped sample set
    wrong = Handlers(Settings.from_env(["--data-root", str(tmp_path / "nope")], env={}))
    assert "not found" in wrong.settings.data_problem and "nope" in wrong.settings.data_problem
    assert "CLAPDEMO_DATA_ROOT" in wrong.settings.data_problem and "--data-root" in wrong.settings.data_problem
    summary, *_ = wrong.show_dataset(Session(), "esc50", "all")
    assert "nope" in summary
    with pytest.raises(gr.Error, match="not found"):
        wrong.load_dataset("esc50", "all")


def test_launch_allows_only_the_data_root(tmp_path):
    """Not the cache: Gradio serves allowed paths to anyone, and sessions write their own clips there."""
    s = Settings.from_env(["--data-root", str(tmp_path / "data"), "--cache", str(tmp_path / "cache"), "--port", "7870"],
                          env={"CLAPDEMO_MAX_UPLOAD_MB": "5"})
    options = launch_options(s)
    assert options["allowed_paths"] == [str(tmp_path / "data")]
    assert options["max_file_size"] == 5 * 1024 * 1024 and options["server_port"] == 7870


def test_importing_app_loads_no_model():
    """Importing app.py (what `gradio app.py` and a Space do) returns without loading a model: the
    models load in the warm-up thread build_app starts (issue 19 item 14), still running when the
    import has returned; the importing thread itself imported no torch, encoder or umap."""
    code = ("import threading; seen = set(); orig = __builtins__.__import__\n"
            "def spy(name, *a, **k):  # what the importing (main) thread imports\n"
            "    if threading.current_thread() is threading.main_thread(): seen.add(name)\n"
            "    return orig(name, *a, **k)\n"
            "__builtins__.__import__ = spy\n"
            "import app, gradio\n"
            "__builtins__.__import__ = orig\n"
            "assert isinstance(app.demo, gradio.Blocks)\n"
            "warm = app.demo.warm_up; assert not warm.done.is_set(), 'the import waited for the warm-up'\n"
            "heavy = [m for m in ('torch', 'clapdemo.encoders.efficientat', 'clapdemo.encoders.text', 'umap') if m in seen]\n"
            "print(heavy); assert not heavy, heavy")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


# --------------------------------------------------------------------------- header and data


def test_header_names_encoders_dataset_store_and_projection(handlers, ready):
    session, _, _ = ready
    text = handlers.header(session)
    assert "mn04_as" in text and "`minilm`" in text and "requested" in text
    assert "esc50" in text and f"folder `{handlers.settings.data_root.name}`" in text  # its name, not its path
    assert str(handlers.settings.data_root) not in text
    assert "16/16 clips" in text
    assert "shipped with the app" in text and "trained on esc50 all" in text


def test_half_done_store_resumes(ready):
    _, log, header = ready
    assert "16/16 clips embedded" in log and "8 now" in log and "8 from earlier runs" in log
    assert "16/16" in header


def test_show_dataset_counts_and_players(handlers):
    summary, table, *players, status = handlers.show_dataset(Session(), "esc50", "all")
    assert "16 clips, 16 captions, 0 missing" in summary
    assert list(table["label"][:1]) == ["dog"]
    assert all(p["visible"] and Path(p["value"]).is_file() for p in players)
    with pytest.raises(gr.Error, match="split"):
        handlers.load_dataset("esc50", "fold-nine")


# --------------------------------------------------------------------------- bad input


def test_empty_query_gets_a_message(handlers, ready):
    session, _, _ = ready
    for query in ("", "   ", None):
        with pytest.raises(gr.Error, match="Type what you want to hear"):
            handlers.search(session, query, 5)


def test_nothing_works_before_embeddings_but_says_why(handlers):
    fresh = Session(projection=str(DEFAULT_PROJECTION), opened=True)  # page load found no store
    with pytest.raises(gr.Error, match="No embeddings yet"):
        drain(handlers.train(fresh, 5, 16, 1e-3, 1e-4, True, 0, 0.2))
    with pytest.raises(gr.Error, match="No embeddings yet"):
        handlers.search(fresh, "dog barking", 5)
    with pytest.raises(gr.Error, match="No embeddings yet"):
        handlers.evaluate(fresh, None)


def test_uploads_that_are_not_usable_audio_get_messages(handlers, tmp_path):
    text = tmp_path / "notes.wav"
    text.write_text("not audio at all\n" * 20)
    with pytest.raises(gr.Error, match="not an audio file"):
        handlers.check_upload(str(text))
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(gr.Error, match="empty"):
        handlers.check_upload(str(empty))
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(16000, dtype=np.float32), 16000)
    with pytest.raises(gr.Error, match="silent"):
        handlers.check_upload(str(silent))
    hour = tmp_path / "hour.wav"  # one hour at 1 kHz, 8 bit: 3.6 MB
    sf.write(hour, np.full(3600 * 1000, 0.1, dtype=np.float32), 1000, subtype="PCM_U8")
    with pytest.raises(gr.Error, match="60 min long"):
        handlers.check_upload(str(hour))
    with pytest.raises(gr.Error, match="Upload an audio file"):
        handlers.check_upload(None)


def test_upload_over_the_size_cap_is_refused(tiny_esc50, tmp_path):
    small = Handlers(Settings.from_env(["--data-root", str(tiny_esc50)], env={"CLAPDEMO_MAX_UPLOAD_MB": "0.01"}))
    clip = next((tiny_esc50 / "audio").glob("*.flac"))
    with pytest.raises(gr.Error, match="limited to 0.01 MB"):
        small.check_upload(str(clip))


def test_bad_training_settings_get_a_message(handlers, ready):
    session, _, _ = ready
    with pytest.raises(gr.Error, match="batch_size"):
        drain(handlers.train(session, 5, 1, 1e-3, 1e-4, True, 0, 0.2))
    with pytest.raises(gr.Error, match="fill in every field"):
        drain(handlers.train(session, None, 16, 1e-3, 1e-4, True, 0, 0.2))
    with pytest.raises(gr.Error, match="validation share"):
        drain(handlers.train(session, 5, 16, 1e-3, 1e-4, True, 0, 1.5))


# --------------------------------------------------------------------------- the steps


def test_search_finds_dogs(handlers, ready):
    session, _, _ = ready
    note, table, *players = handlers.search(session, "dog barking", 3)
    assert len(table) == 3 and table["label"].iloc[0] == "dog"
    assert players[0]["visible"] and players[0]["value"].endswith(".flac")
    assert not players[-1]["visible"]  # only three hits, five players


def test_upload_gives_captions_with_typed_labels_and_neighbours(handlers, ready, tiny_esc50):
    session, _, _ = ready
    clip = sorted((tiny_esc50 / "audio").glob("*-A-0.flac"))[0]  # a dog
    note, captions, clips, *players = handlers.describe_upload(session, str(clip), "a barking dog, a car horn", 10,
                                                               False)  # the store's captions and yours only
    assert set(captions["caption"]) >= {"the sound of dog", "a barking dog", "a car horn"}
    assert captions["caption"].iloc[0] in ("the sound of dog", "a barking dog")
    assert clips["clip"].iloc[0] == clip.stem and clips["score"].iloc[0] == pytest.approx(1.0, abs=1e-3)
    assert "Best caption" in note


def test_evaluate_beats_random_and_lists_best_and_worst(handlers, ready):
    session, _, _ = ready
    note, course, papers, fig, extremes, legend, *players = handlers.evaluate(session, None)
    assert "What the figures mean" in legend  # one line per figure (tests/test_visitor_ux.py checks them)
    row = course.set_index("metric").loc["a2t_acc@1"]
    assert row["model"] > row["random (exact)"] > 0
    assert {"a2t_R@1", "t2a_mAP@10"} <= set(papers["metric"])
    assert [t.name for t in fig.data][:2] == ["model", "random (exact)"]
    assert extremes["query"].str.startswith("best").any() and extremes["query"].str.startswith("worst").any()
    assert sum(p["visible"] for p in players) == 6


def test_two_sessions_do_not_see_or_stop_each_others_training(handlers, ready, monkeypatch):
    monkeypatch.setattr(handlers.settings, "max_epochs", 100000)  # a run that lasts until Stop
    a, _, _ = ready
    b, _ = handlers.init_session(Session())
    run = handlers.train(a, 100000, 8, 1e-3, 1e-4, True, 0, 0.25)
    next(run)  # A is training now, in its own thread
    assert handlers.stop(b, "train") == "No train is running in this session."
    assert "train" not in b.jobs and b.last_run is None
    job = a.jobs["train"]
    wait_until(lambda: job.events, 60, "A's first epoch")
    assert job.running, "A's training should be running"
    assert handlers.stop(a, "train").startswith("Stopping")
    plot, status, metrics = drain(run)
    assert "stopped by you" in status and len(metrics) > 0
    assert a.last_run and Path(a.last_run, "projection.safetensors").is_file()
    assert b.last_run is None and b.projection == str(DEFAULT_PROJECTION)
    message, header = handlers.use_last_run(a)
    assert "trained in this session" in header and "shipped with the app" in handlers.header(b)
    handlers.use_shipped(a)
    with pytest.raises(gr.Error, match="Nothing trained"):
        handlers.use_last_run(b)


def test_joint_space_is_cached_per_store_and_projection(handlers, ready, monkeypatch):
    from clapdemo.evaluation import plots

    session, _, _ = ready
    calls = []

    def fake_umap(points, seed=0, n_neighbors=15):  # the real one compiles numba for ~20 s
        calls.append(len(points))
        return np.asarray(points, dtype=np.float32)[:, :2]

    monkeypatch.setattr(plots, "umap_2d", fake_umap)
    note, fig = drain(handlers.joint_space(session, "class", True))
    assert calls == [16 + 4]  # 16 clips, 4 distinct captions
    names = {t.name for t in fig.data}
    assert {"dog (audio)", "dog (text)", "true pairs"} <= names
    note, fig = drain(handlers.joint_space(session, "modality", False))
    assert calls == [20], "the layout should come from the .npy cache the second time"
    assert {t.name for t in fig.data} == {"audio", "text"}
    assert list(Path(session.store_dir, "umap").glob("*.npy"))


def test_a_second_precompute_on_the_same_store_gets_a_clear_message(handlers, ready):
    """Another process (or session) holds the store: the app says so and keeps working."""
    from clapdemo.stores.store import Store

    session, _, _ = ready
    with Store(handlers.store_dir("esc50", "all")).lock():
        with pytest.raises(gr.Error, match="another precompute is already running"):
            drain(handlers.precompute(Session(), "esc50", "all"))
    assert "16/16" in handlers.store_status("esc50", "all")  # nothing lost, and usable afterwards


# --------------------------------------------------------------------------- issue 12


def test_learning_rate_zero_or_empty_follows_the_init(handlers, ready):
    """The lr box shows 0 when empty: 0 must not train at lr 0 (issue 12, defect 1)."""
    import json

    from clapdemo.training.projection_init import DEFAULT_LR

    session, _, _ = ready
    for lr in (0, None):
        plot, status, metrics = drain(handlers.train(session, 2, 8, lr, 1e-4, True, 0, 0.25))
        run = json.loads(Path(session.last_run, "run.json").read_text(encoding="utf-8"))
        assert run["init"]["name"] == "audioset-labels"  # mn04_as logits: auto picks the label bridge
        assert run["config"]["lr"] == pytest.approx(DEFAULT_LR["audioset-labels"])
        assert f"lr {DEFAULT_LR['audioset-labels']:g} (follows the init)" in status, status
    plot, status, metrics = drain(handlers.train(session, 1, 8, 5e-4, 1e-4, True, 0, 0.25))
    assert "(lr 0.0005)" in status, status
    with pytest.raises(gr.Error, match="negative"):
        drain(handlers.train(session, 1, 8, -1e-3, 1e-4, True, 0, 0.25))


def test_errors_land_in_the_tab_status_line_logged_once(handlers, ready, caplog):
    """A handler's error becomes its tab's status line (Markdown, whole), not a toast; one log line."""
    import logging

    from clapdemo.app.errors import shows_errors

    session, _, _ = ready
    outputs = ["note", "table", *[f"player-{i}" for i in range(5)]]
    search = shows_errors(handlers.search, outputs, "note")
    with caplog.at_level(logging.INFO, logger="clapdemo.app"):
        steps = list(search(session, "   ", 5))  # no gr.Error escapes: it would be a toast
    assert steps[0][0] == "" and all(v is not None for v in steps[0][1:])  # the line is cleared first
    note = steps[-1][0]
    assert "Type what you want to hear first" in note and note.startswith("⚠")
    assert isinstance(steps[-1][1], type(steps[0][1]))  # the other outputs are left as they are
    lines = [r for r in caplog.records if r.name == "clapdemo.app"]
    assert len(lines) == 1 and lines[0].exc_info is None and "Type what you want" in lines[0].getMessage()

    long = "x" * 3000  # a long message arrives whole
    caplog.clear()
    fresh = Session(projection=str(DEFAULT_PROJECTION), opened=True)  # page load found no store
    train = shows_errors(handlers.train, ["plot", "status", "metrics"], "status")
    with caplog.at_level(logging.INFO, logger="clapdemo.app"):
        *_, last = train(fresh, 5, 16, 0, 1e-4, True, 0, 0.2)  # a generator handler
        assert "No embeddings yet" in last[1] and "**Data & embeddings**" in last[1]

        def broken():
            raise RuntimeError(long)

        *_, last = shows_errors(broken, ["status"], "status")()
    assert long in last and "failed unexpectedly (RuntimeError" in last
    records = [r for r in caplog.records if r.name == "clapdemo.app"]
    assert len(records) == 2 and records[1].exc_info is not None  # unexpected: the trace is logged


def test_evaluate_shows_ceilings_tie_aware_chance_and_in_sample_clips(handlers, ready, tmp_path):
    """16 clips, 4 captions (one per class): t2a@1 cannot pass 4/16, a2t chance is 1/4 (defect 5)."""
    import shutil

    from clapdemo.training.model import projection_file
    from clapdemo.training.runs import trained_clip_ids
    from clapdemo.stores.store import open_store

    session, _, _ = ready
    note, course, papers, *_ = handlers.evaluate(session, None)
    rows = course.set_index("metric")
    assert rows.loc["t2a_acc@1", "best possible"] == pytest.approx(4 / 16)
    assert rows.loc["a2t_acc@1", "best possible"] == 1.0
    assert rows.loc["a2t_acc@1", "random (exact)"] == pytest.approx(1 / 4)  # 4 distinct captions, ties are hits
    assert rows.loc["t2a_acc@1", "random (exact)"] == pytest.approx(1 / 16)
    assert rows.loc["t2a_acc@1", "model"] <= rows.loc["t2a_acc@1", "best possible"] + 1e-9
    inside = sum(c in trained_clip_ids(session.projection) for c in open_store(session.store_dir).clip_ids)
    assert 0 < inside < 16  # the shipped projection trained on half of ESC-50, and lists those clips
    assert "In-sample" in note and f"on {inside} of these 16 clips" in note
    note, *_ = handlers.evaluate(session, None, True)
    assert "Held out" in note and f"only the {16 - inside} clips" in note

    unlisted = tmp_path / "no-clip-list"  # a projection that lists no clips (as shipped before): it saw ESC-50 "all"
    unlisted.mkdir()
    shutil.copy(projection_file(session.projection), unlisted)
    session = Session(store_dir=session.store_dir, projection=str(unlisted))
    note, *_ = handlers.evaluate(session, None)
    assert "In-sample" in note and "not recorded" in note
    with pytest.raises(gr.Error, match="does not record which clips"):
        handlers.evaluate(session, None, True)

    mine = Session(store_dir=session.store_dir, projection=session.projection)
    drain(handlers.train(mine, 1, 8, 0, 1e-4, True, 0, 0.25))  # 12 clips train, 4 validate
    mine.projection = mine.last_run
    note, course, *_ = handlers.evaluate(mine, None)
    assert "In-sample" in note and "validated) on 16 of these 16 clips" in note
    with pytest.raises(gr.Error, match="Only 0 of these 16 clips"):
        handlers.evaluate(mine, None, True)  # it saw every clip: nothing held out

    import json

    from clapdemo.training.loop import CLIPS_FILE
    from clapdemo.stores.store import open_store

    ids = open_store(session.store_dir).clip_ids  # as if it had trained on another store sharing 12 clips
    Path(mine.projection, CLIPS_FILE).write_text(json.dumps({"train": ids[:10], "val": ids[10:12]}))
    note, course, *_ = handlers.evaluate(mine, None)
    assert "on 12 of these 16 clips" in note
    note, course, papers, *_ = handlers.evaluate(mine, None, True)
    assert "Held out" in note and "only the 4 clips" in note and "4 clips, 4 captions" in note


def _describe_a_dog_with_no_dataset(tiny_esc50, tmp_path, k: int):
    """Upload's outputs for a dog clip, typed "a barking dog, a car horn", in an app with no dataset."""
    bare = Handlers(Settings.from_env(["--cache", str(tmp_path / "cache"), "--text-encoder", "minilm",
                                       "--data-root", str(tmp_path / "none")], env={}))
    assert bare.settings.data_problem  # no dataset
    session, _ = bare.init_session(Session())
    clip = sorted((tiny_esc50 / "audio").glob("*-A-0.flac"))[0]  # a dog
    return bare.describe_upload(session, str(clip), "a barking dog, a car horn", k)


def test_upload_describes_a_clip_with_no_dataset_at_all(tiny_esc50, tmp_path):
    """The shipped projection, typed labels and the 527 AudioSet names: no store needed (defect 6)."""
    note, captions, clips, *players = _describe_a_dog_with_no_dataset(tiny_esc50, tmp_path, 10)
    assert "527 AudioSet" in note and len(clips) == 0 and not any(p["visible"] for p in players)
    assert len(captions) == 10 and "dog" in captions["caption"][0], list(captions["caption"])  # the clip's class wins
    _, every, *_ = _describe_a_dog_with_no_dataset(tiny_esc50, tmp_path, 5000)
    assert len(every) == 527 + 4000 + 2  # the typed labels are candidates beside AudioSet's names and the caption pool
    assert list(every[every["from"] == "yours"]["caption"]) == ["a barking dog", "a car horn"]  # dog above horn


def test_typed_labels_are_ranked_among_themselves_and_shown_first(tiny_esc50, tmp_path, handlers):
    """The label-pair projection prefers the AudioSet pool's wording ("the sound of X"): in one list of
    529 a typed "a barking dog" ranked 84-135 for ESC-50 dogs. So the typed labels get their own
    ranking, a choice between only them, shown first. Measured on the 206 held-out ESC-50 clips: the
    bare class name is top-1 among the 50 typed names for 85.9 %, among 527 AudioSet names + 50 for 13.6 %."""
    from clapdemo.training.model import projection_file
    from clapdemo.search.searchers import label_searcher

    searcher = label_searcher(projection_file(handlers.settings.projection), *handlers.encoders())
    typed = "a barking dog, a car horn, rain falling, a cat meowing, a rooster crowing, a car horn"
    dogs = sorted((tiny_esc50 / "audio").glob("*-0.flac"))  # ESC-50 class 0
    assert len(dogs) == 4
    for clip in dogs:
        hits = searcher.rank_labels(str(clip), typed)
        assert [h.rank for h in hits] == [1, 2, 3, 4, 5]  # every typed label, each once
        assert hits[0].caption == "a barking dog", (clip.name, [(h.caption, round(h.score, 3)) for h in hits])
        assert sum(h.relevance for h in hits) == pytest.approx(1.0, rel=1e-6)
    assert searcher.rank_labels(str(clip), " , ") == []

    note, *_ = _describe_a_dog_with_no_dataset(tiny_esc50, tmp_path, 10)
    assert note.startswith("**Your labels**"), note
    assert note.index("1. **a barking dog**") < note.index("2. a car horn") < note.index("Best caption"), note


def test_training_survives_a_reload_and_past_runs_can_be_made_active(handlers, ready, monkeypatch):
    """Closing the page (its generator) no longer stops training; the browser's key brings the
    session back, the new page follows the job; past runs of the store are listed (defect 4)."""
    from clapdemo.app import SessionRegistry

    monkeypatch.setattr(handlers.settings, "max_epochs", 100000)  # long enough to reload during it
    registry = SessionRegistry(limit=2)
    first, key = registry.attach(Session(), None)
    session, _, _ = ready
    page = Session(store_dir=session.store_dir, projection=session.projection)
    page, key = registry.attach(page, None)
    run = handlers.train(page, 100000, 8, 0, 1e-4, True, 0, 0.25)
    next(run)
    job = page.jobs["train"]
    wait_until(lambda: job.events, 60, "the first epoch")
    run.close()  # the page reloads: Gradio closes the handler's generator
    assert not job.stop.is_set(), "a reload must not ask training to stop"
    epochs = len(job.events)
    wait_until(lambda: len(job.events) > epochs + 1 or not job.running, 60, "epochs after the reload")
    assert job.running and not job.stop.is_set(), "a reload must not stop training"

    reloaded, same = registry.attach(Session(), key)  # the new page, with the key the browser kept
    assert reloaded is page and same == key
    assert registry.attach(Session(), "someone-else")[0] is not page
    follow = handlers.follow_training(reloaded)
    plot, status, _ = next(follow)
    assert status.startswith("Training (") and len(plot.data[0].x) >= 1
    assert handlers.stop(reloaded, "train").startswith("Stopping")
    plot, status, metrics = drain(follow)
    assert "stopped by you" in status and page.last_run

    choices = handlers.run_choices(page)["choices"]
    name = Path(page.last_run).name  # runs are listed by name, never by server path
    assert name in [value for _, value in choices]
    label = dict((value, label) for label, value in choices)[name]
    assert "epochs" in label and "best epoch" in label and "stopped by you" in label
    message, header = handlers.use_run(page, name)
    assert page.projection == page.last_run and "a past run" in header
    with pytest.raises(gr.Error, match="Pick a past run"):
        handlers.use_run(page, None)
    registry.attach(Session(), None)
    registry.attach(Session(), None)  # limit 2: the oldest key is forgotten
    assert registry.attach(Session(), key)[0] is not page
