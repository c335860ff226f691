"""What a visitor of the public Space meets (issue 19, items 14, 16, 17, 18, 20): the app warms up
before the first click and says so, Evaluate's figures have plain names, the joint space centres
each modality so pairs meet, out-of-vocabulary queries are marked weak, the Space installs CPU torch.
Handlers and library calls without a browser; no test here is timed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from clapdemo.app import Handlers, Session, Settings

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """Handlers with no flags and no variables but a fresh cache, and a session after page load."""
    handlers = Handlers(Settings.from_env(["--cache", str(tmp_path_factory.mktemp("cache"))], env={}))
    session, _ = handlers.init_session(Session())
    return handlers, session


# ---- 14: warm-up at start -------------------------------------------------------------------------


def test_the_app_warms_up_in_the_background_and_the_page_flips_to_ready(tmp_path):
    """build_app returns at once with a thread loading the encoders, the sample store and its
    searcher; the page's line says "Warming up…" until then and "Ready" after (polled, no sleep)."""
    from clapdemo.app import build_app
    from clapdemo.app.blocks import warm_status
    from clapdemo.encoders import cached_audio_encoder, cached_text_encoder

    demo = build_app(Settings.from_env(["--cache", str(tmp_path / "cache")], env={}))
    warm = demo.warm_up
    assert warm.thread is not None and warm.thread.name == "clapdemo-warm-up"
    line = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "warm-status")
    assert "Warming up" in line.value  # what the page shows before the models are in
    assert warm.done.wait(timeout=600), warm.line()  # the condition, not a sleep
    assert warm.ready, warm.line()
    text, timer = warm_status(warm.core)  # what the page's timer (and page load) puts in that line
    assert "Ready" in text and "Warming up" not in text and timer.active is False
    h = warm.core
    # the encoders are loaded (the per-process cache holds them) and the store is installed
    assert cached_audio_encoder.cache_info().currsize >= 1 and cached_text_encoder.cache_info().currsize >= 1
    assert (tmp_path / "cache" / "stores").is_dir() and any((tmp_path / "cache" / "stores").iterdir())
    # a first click of a new page finds everything in: its searcher is the warmed-up one
    first = Session()
    _, table, *_ = h.search(first, "dog barking", 3)
    assert list(table["label"]) == ["dog"] * 3
    assert h.searcher(first) is h.searcher(first)  # the shared, cached searcher (nothing loaded per click)


def test_a_click_during_the_warm_up_waits_for_it_instead_of_loading_twice(tmp_path):
    """`AppCore.encoders` waits for a running warm-up (two loads at once doubled the first answer)."""
    import threading

    h = Handlers(Settings.from_env(["--cache", str(tmp_path / "cache")], env={}))
    gate = threading.Event()
    original = h.open_session

    def slow_open(session):  # the warm-up's page-load step waits until the click has started
        gate.wait(timeout=60)
        original(session)

    h.open_session = slow_open
    h.warm_up.start()
    entered, clicked = threading.Event(), []

    def click():
        entered.set()
        h.encoders()
        clicked.append(h.warm_up.done.is_set())  # was the warm-up finished when the click got its encoders?

    thread = threading.Thread(target=click)
    thread.start()
    assert entered.wait(timeout=60)
    thread.join(timeout=1.0)
    assert thread.is_alive() and not clicked  # still waiting: the warm-up is held at the gate
    gate.set()
    thread.join(timeout=600)
    assert clicked == [True] and h.warm_up.ready, h.warm_up.line()


# ---- 18: out-of-vocabulary queries ----------------------------------------------------------------


def test_nonsense_is_marked_weak_and_a_dog_is_not(sample):
    h, session = sample
    searcher = h.searcher(session)
    nonsense = searcher.text_to_audio("asdfghjkl", 5)
    dogs = searcher.text_to_audio("dog barking", 5)
    assert all(hit.weak for hit in nonsense)
    assert not any(hit.weak for hit in dogs[:3]) and {hit.label for hit in dogs[:3]} == {"dog"}
    strength = searcher.match_strength("asdfghjkl")
    assert strength.out_of_vocabulary and not searcher.match_strength("dog barking").out_of_vocabulary
    # the page: the note says why, the table marks each hit, and the store's classes are one click away
    note, table, *_ = h.search(session, "asdfghjkl", 3)
    assert "Weak matches" in note and strength.nearest_caption in note and set(table["match"]) == {"⚠ weak"}
    note, table, *_ = h.search(session, "dog barking", 3)
    assert "Weak" not in note and set(table["match"]) == {""}
    contents = h.store_contents(session)
    assert "414 clips of 50 sound classes" in contents and "church bells" in contents and "dog" in contents


def test_a_piano_is_weak_on_a_set_without_music(sample):
    h, session = sample
    assert all(hit.weak for hit in h.searcher(session).text_to_audio("a piano playing", 3))


# ---- 16: Evaluate in plain words ----------------------------------------------------------------------


def test_evaluate_names_every_figure_and_explains_the_ties(sample):
    h, session = sample
    note, course, papers, fig, extremes, legend, *players = h.evaluate(session, None, True)
    rows = list(course["measure"]) + list(papers["measure"])
    assert "clip → caption, top 3" in rows and "caption → clip, ranking quality (mAP@10)" in rows
    assert "× chance" in course.columns and "x random" not in course.columns
    for key in list(course["metric"]) + list(papers["metric"]):  # every figure shown has its line in the legend
        assert f"(`{key}`): share" in legend or f"(`{key}`): mean average precision" in legend, key
    assert "*× chance*: model ÷ random (exact)" in legend
    # one clip → caption "@5" figure, not two that differ
    at5 = [key for key in list(course["metric"]) + list(papers["metric"])
           if key.endswith("@5") and not key.startswith("t2a")]
    assert len(at5) == 1, at5
    # acc@3 == acc@1 on ESC-50 is the copies of each class's caption, and the page says so
    by_key = course.set_index("metric")["model"]
    if by_key["a2t_acc@3"] == by_key["a2t_acc@1"]:
        assert "Why clip → caption top 3 equals top 1" in legend and "50 distinct" in legend
    # the worst clips rank among the 50 distinct captions, never beyond
    audio = extremes[extremes["direction"] == "audio→text"]
    ranks = [int(text.split(" of ")[0]) for text in audio["rank of right answer (1 = first)"]]
    assert all(1 <= r <= 50 for r in ranks) and all("of 50 distinct captions" in t
                                                    for t in audio["rank of right answer (1 = first)"])


def test_extreme_queries_rank_clips_among_distinct_captions(sample):
    """The library's record: the rank a CLI user sees with `evaluate --extremes` too."""
    from clapdemo.evaluation.evaluate import extreme_queries

    h, session = sample
    searcher = h.searcher(session)
    worst = [r for r in extreme_queries(searcher, 3) if r["direction"] == "audio→text" and r["kind"] == "worst"]
    distinct = len(searcher.pool_captions)
    assert distinct == 50 and all(r["out_of"] == distinct and 1 <= r["rank"] <= distinct for r in worst)
    # the rank agrees with the clip's scores against the 50 class captions
    for r in worst:
        row = searcher.embeddings.clip_ids.index(r["query"])
        scores = searcher.pool_text @ searcher.audio[row]
        own = list(searcher.pool_captions).index(r["right_answer"])
        assert r["rank"] == 1 + int((scores > scores[own] + 1e-5).sum())


# ---- 17: the joint space centres each modality ------------------------------------------------------


def _text_to_own_audio(layout, xy) -> float:
    """Mean 2-D distance from each caption to the centroid of its class's clips, in units of the
    layout's spread (UMAP's scale is arbitrary)."""
    emb, captions = layout.searcher.embeddings, list(layout.searcher.pool_captions)
    audio, text = xy[: len(layout.rows)], xy[len(layout.rows):]
    labels = np.array([emb.labels[r] for r in layout.rows])
    label_of = {}
    for j, clip in enumerate(emb.text_clip):
        label_of.setdefault(emb.captions[j], emb.labels[int(clip)])
    gaps = [np.linalg.norm(text[i] - audio[labels == label_of[captions[t]]].mean(axis=0))
            for i, t in enumerate(layout.used)]
    return float(np.mean(gaps) / np.linalg.norm(xy - xy.mean(axis=0), axis=1).mean())


def test_centred_joint_space_puts_captions_by_their_clips(sample, tmp_path):
    from clapdemo.evaluation.joint_layout import LAYOUT_KIND, plan_layout
    from clapdemo.evaluation.plots import umap_2d

    h, session = sample
    searcher = h.searcher(session)
    centred = plan_layout(searcher, session.projection, session.store_dir)
    raw = plan_layout(searcher, session.projection, session.store_dir, centred=False)
    assert centred.cache != raw.cache and LAYOUT_KIND  # a layout drawn another way is never reused
    before = _text_to_own_audio(raw, umap_2d(raw.points))
    after = _text_to_own_audio(centred, umap_2d(centred.points))
    assert after < 0.5 * before, (before, after)  # measured 2026-12-03: 1.26 -> 0.09 of the layout's spread (blended projection)
    # the app opens on the shipped layout, and says why the modalities meet
    assert centred.cached(), "the shipped layout (assets/esc50-sample-store/umap) is not the centred one"
    note, fig = list(h.joint_space(session, "modality", False))[-1]
    assert "centred" in note and "modality gap" in note and "centred" in fig.layout.title.text


# ---- 20: the Space installs CPU torch ------------------------------------------------------------------


def test_requirements_select_the_cpu_build_of_torch():
    """A CPU Space installs requirements.txt: without PyTorch's CPU index, pip takes PyPI's torch, the
    CUDA build with several GB of CUDA libraries. The README's install reads the same file."""
    lines = [line.split("#")[0].strip() for line in (REPO / "requirements.txt").read_text().splitlines()]
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in lines
    assert any(line.startswith("torch==") for line in lines)
    assert "-r requirements.txt" in (REPO / "requirements-dev.txt").read_text().splitlines()
