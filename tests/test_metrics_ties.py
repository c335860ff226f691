"""Repeated captions (ESC-50's class prompts): chance levels that count ties as the metric does,
and the ceiling each figure cannot pass (issue 12, defect 5)."""

from __future__ import annotations

import numpy as np
import pytest

from clapdemo.evaluation import metrics
from clapdemo.stores.embedding_set import EmbeddingSet

N_CLASSES, PER_CLASS, DIM = 4, 3, 16


def _class_set(audio: np.ndarray, class_text: np.ndarray) -> EmbeddingSet:
    """Clip i of class i // PER_CLASS, with that class's one caption (identical text, identical vector)."""
    n = len(audio)
    classes = np.arange(n) // PER_CLASS
    return EmbeddingSet(audio, class_text[classes], np.arange(n), [f"clip{i}" for i in range(n)], [""] * n,
                        [f"the sound of class {c}" for c in classes])


def test_random_baseline_counts_ties_like_the_metric():
    """The mean accuracy of random scorings equals the exact baseline: 1/4 (4 distinct captions), not 1/12."""
    n = N_CLASSES * PER_CLASS
    rng = np.random.default_rng(0)
    observed = []
    for _ in range(400):
        class_text = rng.standard_normal((N_CLASSES, DIM)).astype(np.float32)
        data = _class_set(rng.standard_normal((n, DIM)).astype(np.float32), class_text)
        observed.append(metrics.course_accuracy(data.audio, data.text, ks=(1, 3)))
    groups = metrics.caption_groups(data.captions)
    chance = metrics.course_random_baseline(n, ks=(1, 3), repeats=4000, groups=groups)
    for key in ("a2t_acc@1", "a2t_acc@3", "t2a_acc@1", "t2a_acc@3"):
        mean = float(np.mean([o[key] for o in observed]))
        assert chance[f"random_{key}"] == pytest.approx(mean, abs=0.03), key
        assert chance[f"random_empirical_{key}"] == pytest.approx(chance[f"random_{key}"], abs=0.02), key
    assert chance["random_a2t_acc@1"] == pytest.approx(1 / N_CLASSES)
    assert chance["random_t2a_acc@1"] == pytest.approx(1 / n)
    paper = metrics.paper_random_baseline(data.text_clip, n, ks=(1,), groups=groups)
    assert paper["random_a2t_R@1"] == pytest.approx(1 / N_CLASSES) and paper["random_t2a_R@1"] == pytest.approx(1 / n)


def test_best_possible_is_reached_by_a_perfect_class_model_and_never_passed():
    """Audio on its class's caption vector: t2a can put only one of a class's 3 clips first."""
    n = N_CLASSES * PER_CLASS
    rng = np.random.default_rng(1)
    class_text = np.eye(N_CLASSES, DIM, dtype=np.float32)
    audio = class_text[np.arange(n) // PER_CLASS] + 0.01 * rng.standard_normal((n, DIM)).astype(np.float32)
    data = _class_set(audio, class_text)
    got = metrics.course_accuracy(data.audio, data.text, ks=(1, 3)) | metrics.paper_retrieval(
        data.audio, data.text, data.text_clip, ks=(1, 3))
    ceiling = metrics.best_possible(data, course_ks=(1, 3), paper_ks=(1, 3))
    assert ceiling["t2a_acc@1"] == pytest.approx(N_CLASSES / n) == got["t2a_acc@1"]
    assert ceiling["t2a_acc@3"] == got["t2a_acc@3"] == 1.0
    assert ceiling["t2a_R@1"] == pytest.approx(N_CLASSES / n) == got["t2a_R@1"]
    assert ceiling["a2t_acc@1"] == got["a2t_acc@1"] == 1.0
    halves = metrics.best_possible(data, course_ks=(1,), batch_size=6)  # batches of 6 rows: 2 classes each
    assert halves["t2a_acc@1"] == pytest.approx(2 / 6)


def test_distinct_captions_change_nothing():
    data = EmbeddingSet(np.eye(5, dtype=np.float32), np.eye(5, dtype=np.float32), np.arange(5),
                        [str(i) for i in range(5)], [""] * 5, [f"caption {i}" for i in range(5)])
    assert set(metrics.best_possible(data).values()) == {1.0}
    with_groups = metrics.course_random_baseline(5, groups=metrics.caption_groups(data.captions))
    assert with_groups == metrics.course_random_baseline(5)


def test_paper_baseline_with_repeated_captions_matches_random_scorings():
    """Two captions per clip, drawn from 5 strings (some repeated within a clip too)."""
    rng = np.random.default_rng(2)
    n_clips = 8
    text_clip = np.repeat(np.arange(n_clips), 2)
    strings = rng.integers(0, 5, len(text_clip))
    observed = []
    for _ in range(400):
        group_vectors = rng.standard_normal((5, DIM)).astype(np.float32)
        audio = rng.standard_normal((n_clips, DIM)).astype(np.float32)
        observed.append(metrics.paper_retrieval(audio, group_vectors[strings], text_clip, ks=(1, 3)))
    chance = metrics.paper_random_baseline(text_clip, n_clips, ks=(1, 3), repeats=4000, groups=strings)
    for k in (1, 3):
        mean = float(np.mean([o[f"a2t_R@{k}"] for o in observed]))
        assert chance[f"random_a2t_R@{k}"] == pytest.approx(mean, abs=0.03), k
        assert chance[f"random_empirical_a2t_R@{k}"] == pytest.approx(chance[f"random_a2t_R@{k}"], abs=0.02), k


def test_every_metrics_table_shows_the_ceiling_beside_the_figure():
    """`evaluate` carries the ceilings, so the CLI, the Train tab's validation table and Evaluate
    all show them (the Train tab showed t2a_acc@1 0.61 with no word that 0.61 was near its ceiling)."""
    import torch

    from clapdemo.training.model import AudioProjection, ProjectionConfig
    from clapdemo.evaluation.evaluate import metrics_table

    n = N_CLASSES * PER_CLASS
    class_text = np.eye(N_CLASSES, DIM, dtype=np.float32)
    data = _class_set(class_text[np.arange(n) // PER_CLASS], class_text)
    model = AudioProjection(ProjectionConfig(audio_dim=DIM, text_dim=DIM, learn_temperature=False))
    with torch.no_grad():
        model.linear.weight.copy_(torch.eye(DIM))
        model.linear.bias.zero_()
    found = metrics.evaluate(model, data, course_ks=(1,), paper_ks=(1,))
    assert found["best_possible_t2a_acc@1"] == pytest.approx(N_CLASSES / n)
    table = metrics_table(found).set_index("metric")
    assert table.loc["t2a_acc@1", "best possible"] == pytest.approx(N_CLASSES / n, abs=1e-4)  # rounded to 4 places
    assert table.loc["a2t_R@1", "best possible"] == 1.0
    assert not any(m.startswith("best_possible") for m in table.index)
