"""Label pairs (clapdemo.data.label_pairs): AudioCaps captions against AudioSet labels, no audio; mixed
training and the leakage check (clapdemo.training.plan, evaluation.evaluate.evaluate_run)."""

from __future__ import annotations

import shutil
import json
from pathlib import Path

import numpy as np
import pytest

from clapdemo.cli.main import main as cli_main
from clapdemo.encoders.audioset_labels import AUDIOSET_MIDS
from clapdemo.data.label_pairs import (ABSENT_LOGIT, PRESENT_LOGIT, label_logits, make_label_pairs, read_segments,
                                  write_label_store)
from clapdemo.evaluation.evaluate import evaluate_run
from clapdemo.stores.store import open_store
from clapdemo.training.plan import load_training_data
from conftest import AUDIOCAPS_META, SHARED

SEGMENTS = SHARED / "data" / "audioset-segments"
DOG, BARK, SPEECH = "/m/0bt9lr", "/m/05tny_", "/m/09x0r"


def test_both_segment_csv_layouts_parse(tmp_path):
    """The official layout ('#' lines, ', ' separators, quoted labels), its spreadsheet export
    (unquoted labels, trailing empty columns, CRLF) and the plain CSV give the same labels."""
    official = tmp_path / "official.csv"
    official.write_text("# Segments csv created Sun Mar  5 10:54:31 2017\n# num_ytids=3, num_segs=3\n"
                        "# YTID, start_seconds, end_seconds, positive_labels\n"
                        f'aaaaaaaaaaa, 30.000, 40.000, "{DOG},{BARK}"\n'
                        f'bbbbbbbbbbb, 0.000, 10.000, "{SPEECH},/m/not_a_class"\n')
    export = tmp_path / "export.csv"
    export.write_bytes((f"# created,,,,,,\r\n# num_ytids=2,,,,,,\r\n# YTID, start_seconds, end_seconds, positive_labels,,,\r\n"
                        f"aaaaaaaaaaa,30,40, {DOG},{BARK} ,,,,\r\nbbbbbbbbbbb,0,10, {SPEECH} ,,,,,\r\n").encode())
    plain = tmp_path / "plain.csv"
    plain.write_text(f'YTID,start_seconds,end_seconds,positive_labels\naaaaaaaaaaa,30.000,40.000,"{DOG},{BARK}"\n'
                     f'bbbbbbbbbbb,0.000,10.000,"{SPEECH}"\n')
    for path in (official, export, plain):
        warnings: list[str] = []
        segments = read_segments([path], warnings)
        assert segments == {"aaaaaaaaaaa": [(30.0, (DOG, BARK))], "bbbbbbbbbbb": [(0.0, (SPEECH,))]}, path.name
    warnings = []
    read_segments([official], warnings)
    assert len(warnings) == 1 and "official.csv: line 5" in warnings[0] and "/m/not_a_class" in warnings[0]


def test_shared_segment_csvs_give_every_row():
    """All three shared CSVs read whole: the official-layout part file's 65,497 segments included."""
    warnings: list[str] = []
    segments = read_segments([SEGMENTS / "unbalanced_train_segments_part.csv"], warnings)
    assert sum(len(v) for v in segments.values()) == 65497 and not warnings
    assert segments["---2_BBVHAA"] == [(30.0, ("/m/09x0r",))]


def test_without_segment_csvs_the_error_says_where_to_get_them(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CLAPDEMO_SEGMENTS_DIR", str(tmp_path))
    assert cli_main(["precompute", "--dataset", "audiocaps-labels", "--data-root", str(AUDIOCAPS_META),
                     "--out", str(tmp_path / "store")]) == 1
    error = capsys.readouterr().err
    assert "no AudioSet segment CSVs in" in error and "research.google.com/audioset/download.html" in error
    assert not (tmp_path / "store").exists()


def test_label_vector_map():
    logits = label_logits([[DOG, BARK], []])
    assert logits.shape == (2, 527)
    assert logits[0, AUDIOSET_MIDS.index(DOG)] == PRESENT_LOGIT and logits[0, AUDIOSET_MIDS.index(BARK)] == PRESENT_LOGIT
    assert (logits[0] == ABSENT_LOGIT).sum() == 525 and (logits[1] == ABSENT_LOGIT).all()


def test_audiocaps_train_captions_meet_their_labels():
    """2,530 AudioCaps train clips have labels in the shared CSVs; the other 47,308 are counted and listed."""
    pairs = make_label_pairs(AUDIOCAPS_META, "train", sorted(SEGMENTS.glob("*.csv")))
    assert len(pairs.clips) == 2530 and len(pairs.unlabelled) == 49838 - 2530
    assert pairs.sources["split"] == "train" and pairs.sources["kind"] == "labels, no audio"
    row = pairs.clips.iloc[0]
    assert row["mids"] and all(m in AUDIOSET_MIDS for m in row["mids"]) and row["captions"]


def test_course_tables_are_matched_to_youtube_clips_by_all_their_captions():
    """The course TSVs carry no YouTube id: each clip is placed by a vote of its five captions in the
    original CSV. One caption ("An engine revving and then tires squealing") names two test clips;
    the vote keeps them apart (it once gave both the same YouTube id)."""
    pairs = make_label_pairs(AUDIOCAPS_META, "test")
    assert len(pairs.clips) == 19 and pairs.clips["youtube_id"].is_unique
    assert pairs.sources["captions"][0].endswith("audiocaps_test_new.tsv")
    assert "495" in set(pairs.clips["clip_id"]) and "32" in pairs.unlabelled  # course uniq_ids, as its stores name clips


@pytest.fixture(scope="module")
def label_store(tmp_path_factory, mn04, minilm):
    out = tmp_path_factory.mktemp("labels") / "train"
    write_label_store(make_label_pairs(AUDIOCAPS_META, "train"), mn04, minilm, out)
    return out


@pytest.fixture(scope="module")
def test_split_store(tmp_path_factory, mn04, minilm):
    out = tmp_path_factory.mktemp("labels") / "test"
    write_label_store(make_label_pairs(AUDIOCAPS_META, "test"), mn04, minilm, out)
    return out


def test_label_store_is_in_the_encoders_space_and_says_what_it_is(label_store, mn04):
    data = open_store(label_store)
    assert data.n_clips == 2530 and data.audio.shape == (2530, 527)
    assert data.meta["audio_encoder"] == mn04.identity.to_dict()
    assert data.meta["audio_source"]["kind"] == "labels, no audio"
    assert data.meta["dataset"] == {"name": "audiocaps-labels", "split": "train"}
    report = json.loads((label_store / "report.json").read_text())
    assert len(report["unlabelled"]) == 49838 - 2530


def test_label_pairs_alone_name_esc50_clips_they_never_heard(label_store, esc50_store, tmp_path):
    """Trained on captions + label vectors only, the projection classifies real ESC-50 audio among
    all 50 class names far above chance (2 %): measured 38-45 %."""
    run = tmp_path / "run"
    assert cli_main(["train", "--train", str(label_store), "--out", str(run), "--threads", "1"]) == 0
    info = json.loads((run / "run.json").read_text())
    assert info["config"]["standardize_audio"] is False and info["init"]["centre"] == "zero"
    metrics = evaluate_run(run, esc50_store)
    assert metrics["in_sample"] is False and metrics["n_classes"] == 50
    assert metrics["zero_shot_acc@1"] > 0.25, metrics["zero_shot_acc@1"]


def test_mixed_run_holds_out_half_of_the_real_audio_and_refuses_it_as_test_set(label_store, esc50_store, tmp_path,
                                                                              capsys):
    run = tmp_path / "mixed"
    assert cli_main(["train", "--train", str(label_store), "--train", str(esc50_store), "--hold-out", "0.5",
                     "--out", str(run), "--threads", "1", "--epochs", "15"]) == 0
    info = json.loads((run / "run.json").read_text())
    held = info["training"]["held_out"][str(esc50_store)]
    seen = json.loads((run / "train_clips.json").read_text())
    assert 190 <= len(held) <= 220 and not set(held) & (set(seen["train"]) | set(seen["val"]))
    # the default recipe (issue 20): probabilities, not standardised, whatever the mix
    assert info["config"]["standardize_audio"] is False and info["config"]["input_transform"] == "sigmoid"
    esc = open_store(esc50_store)
    held_labels = {esc.labels[esc.clip_ids.index(c)] for c in held}
    assert len(held_labels) == 50  # class-stratified: every class has clips held out
    assert cli_main(["evaluate", "--run", str(run), "--store", str(esc50_store)]) == 1
    assert "were in the run's training or validation set" in capsys.readouterr().err
    metrics = evaluate_run(run, esc50_store, unseen_only=True)
    assert metrics["n_clips"] == len(held) and metrics["in_sample"] is False
    assert metrics["zero_shot_acc@1"] > 0.5
    assert evaluate_run(run, esc50_store, allow_overlap=True)["in_sample"] is True


def test_evaluating_on_the_split_a_run_trained_on_is_refused(test_split_store, tmp_path):
    """Leakage: a run trained on AudioCaps test captions cannot be measured on AudioCaps test clips,
    whether by clip ids or by split (a store naming its clips differently)."""
    run = tmp_path / "run"
    assert cli_main(["train", "--train", str(test_split_store), "--out", str(run), "--threads", "1",
                     "--epochs", "2"]) == 0
    with pytest.raises(ValueError, match="in-sample"):
        evaluate_run(run, test_split_store)
    other_ids = open_store(test_split_store)
    other_ids.clip_ids = [f"course-{i}" for i in range(other_ids.n_clips)]
    other_ids.meta = dict(other_ids.meta, dataset={"name": "audiocaps", "split": "test"})
    with pytest.raises(ValueError, match="split 'test'"):
        evaluate_run(run, other_ids)
    assert evaluate_run(run, test_split_store, allow_overlap=True)["in_sample"] is True


class _OtherText:
    """A text encoder of the same width but other weights: another space."""

    def __init__(self, minilm):
        from dataclasses import replace

        self.identity = replace(minilm.identity, weights_sha256="0" * 64)
        self.name, self.dim = "minilm", minilm.dim

    def embed(self, texts):
        return np.random.default_rng(0).standard_normal((len(texts), self.dim)).astype(np.float32)


def test_stores_of_different_spaces_are_refused_naming_both(test_split_store, mn04, minilm, tmp_path):
    other = tmp_path / "other"
    write_label_store(make_label_pairs(AUDIOCAPS_META, "test"), mn04, _OtherText(minilm), other)
    with pytest.raises(ValueError) as error:
        load_training_data([test_split_store, other])
    assert str(test_split_store) in str(error.value) and str(other) in str(error.value)
    assert "text encoder" in str(error.value)


def test_app_train_tab_mixes_in_a_label_pair_store(test_split_store, tmp_path):
    """The Train tab's optional label-pair store: the run trains on both stores (as `train --train
    LABELS --train STORE`); a folder that is no store is refused before the job starts."""
    import gradio as gr

    from clapdemo.app import Handlers, Session, Settings
    from conftest import copy_esc50_subset

    data = copy_esc50_subset(tmp_path / "esc50", ("dog", "rain", "rooster", "cat"), per_class=3)
    handlers = Handlers(Settings.from_env(["--data-root", str(data), "--cache", str(tmp_path / "cache"),
                                           "--text-encoder", "minilm"], env={}))
    session, _ = handlers.init_session(Session())
    for _ in handlers.precompute(session, "esc50", "all"):
        pass
    shared_store = tmp_path / "cache" / "stores" / "labels-test"  # the app's shared stores may be mixed in
    shutil.copytree(test_split_store, shared_store)
    for _ in handlers.train(session, 2, 8, 0, 1e-4, True, 0, 0.25, "auto", str(shared_store)):
        pass
    run = json.loads((Path(session.last_run) / "run.json").read_text())
    assert [s["kind"] for s in run["training"]["stores"]] == ["labels", "audio"]
    # the default bridge recipe (issue 20): probabilities, and the 527 AudioSet names as pairs (x4)
    assert run["n_train_clips"] == 19 + 12 - 3 + 527 * 4 and run["config"]["input_transform"] == "sigmoid"
    with pytest.raises(gr.Error, match="not a store this app may use"):
        for _ in handlers.train(session, 2, 8, 0, 1e-4, True, 0, 0.25, "auto", str(tmp_path / "nothing")):
            pass


def test_recipes_screen_on_a_seeded_sample_of_label_pairs_in_store_order():
    """`recipes --label-pairs-limit N`: the same N pairs every run, kept in store order; no limit keeps all."""
    import numpy as np

    from clapdemo.stores.embedding_set import EmbeddingSet
    from clapdemo.training.recipes import label_pair_sample

    n = 40
    ids = [f"c{i:02d}" for i in range(n)]
    pairs = EmbeddingSet(np.eye(n, dtype=np.float32), np.eye(n, dtype=np.float32), np.arange(n), ids, [""] * n,
                         [f"caption {i}" for i in ids])
    first, again = label_pair_sample(pairs, 10), label_pair_sample(pairs, 10)
    assert first.clip_ids == again.clip_ids and first.clip_ids == sorted(first.clip_ids)
    assert len(set(first.clip_ids)) == 10 and first.clip_ids != ids[:10]
    assert label_pair_sample(pairs, None) is pairs and label_pair_sample(pairs, n) is pairs
