"""The app as a visitor finds it: no flags, the sample set, the shipped projection (issue 14).

Every tab has something at once: the example queries find their class, an uploaded clip gets
captions from the dataset, AudioSet's 527 names and the visitor's own words, the joint space
is drawn from the shipped layout, Evaluate measures the held-out half (the same numbers as
`python -m clapdemo evaluate --unseen-only`), training is quick and can be made active, and a
visitor's own clips (a zip with captions.csv) become the session's dataset.
Handlers without a browser; test_app_browser.py drives the same through the page.
"""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from conftest import ESC50
from clapdemo.app import Handlers, Session, Settings
from clapdemo.app.tab_search import EXAMPLE_QUERIES
from test_ui import drain


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """Handlers with no flags and no variables but a fresh cache, and a session after page load."""
    handlers = Handlers(Settings.from_env(["--cache", str(tmp_path_factory.mktemp("cache"))], env={}))
    session, _ = handlers.init_session(Session())
    return handlers, session


def test_no_flags_open_on_the_sample_set_with_its_joint_space_drawn(sample, monkeypatch):
    from clapdemo.evaluation import plots
    from clapdemo.evaluation.joint_layout import plan_layout

    h, session = sample
    assert "esc50-sample" in str(h.settings.data_root) and "414/414 clips" in h.header(session)
    layout = plan_layout(h.searcher(session), session.projection, session.store_dir)
    assert layout.cached(), "the shipped layout (assets/esc50-sample-store/umap) does not fit the shipped projection"
    umap_runs = []  # opening the tab reads the shipped layout: no UMAP is computed (that takes ~20 s on 2 cores)
    monkeypatch.setattr(plots, "umap_2d", lambda *a, **k: umap_runs.append(a) or pytest.fail("UMAP was computed"))
    note, fig = drain(h.joint_space(session, "modality", False))
    assert umap_runs == [] and "414 projected clips and 50 captions" in note
    assert {"audio", "text"} <= {trace.name for trace in fig.data}


def test_a_click_before_page_load_has_finished_still_gets_results(sample):
    """An example query clicked while page load is still setting up the session (loading the
    encoders, installing the store) used to say "No embeddings yet"; it now does that setup first."""
    h, _ = sample
    early = Session()  # what gr.State hands the click before page load's result arrives
    note, table, *_ = h.search(early, "dog barking", 3)
    assert list(table["label"]) == ["dog"] * 3 and early.opened and early.projection


def test_the_data_tab_shown_during_page_load_finds_the_sample_store(tmp_path):
    """Data & embeddings fills itself on page load, beside the load that installs the shipped
    store into an empty cache: it said "No embeddings yet: click Precompute" when it came first."""
    fresh = Handlers(Settings.from_env(["--cache", str(tmp_path / "cache")], env={}))
    summary, _, *_, status = fresh.show_dataset(Session(), "esc50", "all")
    assert "414 clips" in summary and "414/414 clips embedded, 0 failed (complete)" in status, status


def test_a_new_session_can_be_deep_copied_as_gr_state_does():
    """gr.State deep-copies its initial value for each page: a lock in a new Session broke every page."""
    import copy

    from clapdemo.app.session import new_session

    assert copy.deepcopy(new_session()).opened is False


@pytest.mark.parametrize("query", EXAMPLE_QUERIES)
def test_every_example_query_finds_its_class_first(sample, query):
    h, session = sample
    wanted = {"dog barking": "dog", "a baby crying": "crying baby",
              "a rooster crowing": "rooster", "a chainsaw": "chainsaw", "waves on a beach": "sea waves"}
    note, table, *players = h.search(session, query, 3)
    assert list(table["label"]) == [wanted.get(query, query)] * 3, table
    assert all(p["visible"] for p in players[:3]) and players[0]["value"].endswith(".ogg")


def test_a_clip_gets_captions_from_the_dataset_audioset_and_the_visitor(sample):
    h, session = sample
    clip = ESC50 / "audio" / "4-164021-A-1.flac"  # a rooster the shipped projection never trained on
    note, captions, clips, *_ = h.describe_upload(session, str(clip), "a cock crowing at dawn", 600, True)
    assert set(captions["from"]) == {"dataset", "AudioSet", "AudioCaps", "yours"}, captions  # AudioCaps: the caption pool
    assert len(captions) > 527  # AudioSet names that are ESC-50 captions too come once (below)
    assert any(w in captions["caption"].iloc[0] for w in ("rooster", "chicken")), captions
    assert len(set(captions["caption"])) == len(captions)  # "the sound of dog" is not offered twice
    assert clips["label"].iloc[0] == "rooster"
    _, only_dataset, *_ = h.describe_upload(session, str(clip), "", 20, False)
    assert set(only_dataset["from"]) == {"dataset"} and only_dataset["caption"].iloc[0] == "the sound of rooster"


def test_evaluate_opens_on_the_held_out_half_with_the_clis_numbers(sample):
    from clapdemo.training.model import projection_file
    from clapdemo.evaluation.evaluate import evaluate_run
    from clapdemo.stores.store import open_store

    h, session = sample
    note, course, *_ = h.evaluate(session, None, True)
    assert "Held out" in note and "206 clips the projection never saw" in note
    rows = course.set_index("metric")
    cli = evaluate_run(projection_file(session.projection), open_store(session.store_dir), unseen_only=True)
    for metric in ("a2t_acc@1", "t2a_acc@1", "zero_shot_acc@1"):
        assert rows.loc[metric, "model"] == pytest.approx(cli[metric], abs=1e-4)
        assert rows.loc[metric, "model"] > 10 * rows.loc[metric, "random (exact)"]


def test_training_on_the_sample_set_is_quick_and_can_be_made_active(sample):
    h, session = sample
    mine = Session(store_dir=session.store_dir, projection=session.projection)
    curve, status, metrics = drain(h.train(mine, 50, 256, 0, 1e-4, True, 10, 0.1))  # the tab's defaults
    assert "Done:" in status, status  # its speed: benchmarks/bench_train.py (seconds per epoch)
    assert 10 <= len(curve.data[0].x) <= 50  # a curve, drawn while it ran, within the tab's 50 epochs
    _, header = h.use_last_run(mine)
    assert "trained in this session" in header
    _, table, *_ = h.search(mine, "dog barking", 3)
    assert list(table["label"]) == ["dog"] * 3


def zip_of_own_clips(path: Path) -> Path:
    """A zip as a visitor makes one: a folder with 4 dogs and 4 roosters, captions.csv, and bad entries."""
    with open(ESC50 / "esc50.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["category"] in ("dog", "rooster")]
    picked = [r for r in rows if r["category"] == "dog"][:4] + [r for r in rows if r["category"] == "rooster"][:4]
    captions = {r["filename"]: f"a {r['category']} recorded outdoors" for r in picked}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in captions:
            archive.write(ESC50 / "audio" / name, f"my-sounds/{name}")
        table = io.StringIO()
        csv.writer(table).writerows([("file", "caption"), *captions.items(), ("broken.wav", "a broken file")])
        archive.writestr("my-sounds/captions.csv", table.getvalue())
        archive.writestr("my-sounds/broken.wav", b"not audio at all" * 100)
        archive.writestr("my-sounds/notes.txt", b"hello")
        archive.writestr("../escape.wav", b"RIFF")
        archive.writestr("my-sounds/bomb.wav", bytes(21_000_000))  # 21 MB of zeros, ~20 KB zipped
    return path


def test_own_clips_in_a_zip_become_the_sessions_dataset(sample, tmp_path):
    h, session = sample
    archive = zip_of_own_clips(tmp_path / "mine.zip")
    mine = Session(projection=session.projection)
    progress, log, header, stores = drain(h.embed_own_clips(mine, [str(archive)]))
    for bad in ("notes.txt", "../escape.wav", "bomb.wav", "broken.wav"):
        assert bad in log, log  # listed and skipped
    assert "8 clips embedded" in log or "8/9" in header or "8/" in header, (log, header)
    own = mine.store_dir and Path(mine.store_dir)
    assert own and own.is_relative_to(h.settings.cache / "own-clips" / mine.id)
    assert not (tmp_path / "escape.wav").exists() and not (h.settings.cache / "own-clips" / "escape.wav").exists()
    written = [p for p in h.settings.cache.rglob("*") if p.is_file() and "escape" in p.name]
    assert written == []
    assert Path(mine.store_dir).name in [name for _, name in stores["choices"]]  # listed by name
    assert Path(mine.store_dir).name not in [name for _, name in h.store_choices(Session())["choices"]]  # nobody else's

    _, table, *players = h.search(mine, "a rooster crowing", 4)  # searchable
    assert all("rooster" in c for c in table["caption"]), table
    note, course, *_ = h.evaluate(mine, None, False)  # evaluable (the projection never saw these files)
    a2t = course.set_index("metric").loc["a2t_acc@1"]
    # 2 distinct captions, so chance (ties counted as hits) is 0.5 and 1.0 is the best possible; the
    # shipped projection scores 1.0. At least 7 of 8 right: p < 0.04 for a guess at 0.5 a clip.
    assert "8 clips" in note and a2t["random (exact)"] == pytest.approx(0.5), a2t
    assert a2t["model"] >= a2t["random (exact)"] + 0.375, a2t
    curve, status, _ = drain(h.train(mine, 5, 8, 0, 1e-4, True, 0, 0.25))  # trainable
    assert "Done:" in status, status
    assert np.isfinite(curve.data[0].y).all()
