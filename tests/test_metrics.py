"""Metrics against hand-computed rankings, chance levels against enumeration and simulation."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from clapdemo.evaluation import metrics
from clapdemo.stores.embedding_set import EmbeddingSet
from clapdemo.training.model import AudioProjection, ProjectionConfig


def _random(seed: int, *shape) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _set(audio, text, text_clip) -> EmbeddingSet:
    n, m = len(audio), len(text)
    return EmbeddingSet(audio, text, np.asarray(text_clip), [f"clip{i}" for i in range(n)], [""] * n,
                        [f"caption {j}" for j in range(m)])


# ----------------------------------------------------------------------------- the course's metric


def test_perfect_alignment_scores_one_everywhere():
    audio = _random(0, 30, 16)
    text_clip = np.repeat(np.arange(30), 5)
    scores = metrics.course_accuracy(audio, audio * 3.0) | metrics.paper_retrieval(audio, audio[text_clip], text_clip)
    assert set(scores) >= {"a2t_acc@1", "t2a_acc@10", "t2a_R@1", "a2t_R@10", "t2a_mAP@10", "a2t_mAP@10"}
    assert all(v == 1.0 for v in scores.values()), scores


def test_swapping_two_of_four_captions_halves_acc1():
    audio = _random(1, 4, 32)
    text = audio[[1, 0, 2, 3]]  # clips 0 and 1 got each other's caption
    scores = metrics.course_accuracy(audio, text, ks=(1, 4))
    assert scores == {"a2t_acc@1": 0.5, "t2a_acc@1": 0.5, "a2t_acc@4": 1.0, "t2a_acc@4": 1.0}
    # batches [0, 1] (both wrong) and [2, 3] (both right)
    assert metrics.course_accuracy(audio, text, ks=(1,), batch_size=2)["a2t_acc@1"] == 0.5


def test_last_partial_batch_weighs_as_much_as_a_full_one():
    audio = _random(2, 5, 32)
    text = audio[[1, 0, 2, 3, 4]]
    # batch [0..3]: 2 of 4 right; batch [4]: 1 of 1 right -> (0.5 + 1) / 2, not 4/5
    assert metrics.course_accuracy(audio, text, ks=(1,), batch_size=4)["a2t_acc@1"] == 0.75
    assert metrics.course_accuracy(audio, text, ks=(1,))["a2t_acc@1"] == pytest.approx(0.6)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 40), noise=st.floats(0.0, 3.0))
def test_batched_with_batch_size_n_equals_unbatched(seed, n, noise):
    audio = _random(seed, n, 8)
    text = audio + noise * _random(seed + 1, n, 8)
    assert metrics.course_accuracy(audio, text, batch_size=n) == metrics.course_accuracy(audio, text)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_random_embeddings_score_about_k_over_n(seed):
    n = 1000
    scores = metrics.course_accuracy(_random(seed, n, 32), _random(seed + 1, n, 32), ks=(1, 10, 100))
    for direction in ("a2t", "t2a"):
        for k in (1, 10, 100):
            expected = k  # hits among n queries, each a hit with probability k/n
            hits = scores[f"{direction}_acc@{k}"] * n
            assert abs(hits - expected) < 5 * math.sqrt(expected * (1 - k / n)) + 6, (direction, k, hits)


# ----------------------------------------------------------------------------- the papers' protocol

# Cosine of clip i with caption j (3 clips x 2 captions each; captions 0,1 -> clip 0; 2,3 -> 1; 4,5 -> 2).
HAND = np.array([
    [0.9, 0.1, 0.5, 0.2, 0.3, 0.0],   # clip 0 ranks its captions at places 0 and 4
    [0.2, 0.6, 0.4, 0.3, 0.1, 0.05],  # clip 1: places 1 and 2 (caption 1 of clip 0 beats both)
    [0.0, 0.3, 0.1, 0.2, 0.7, 0.5],   # clip 2: places 0 and 1
])
HAND_TEXT_CLIP = np.array([0, 0, 1, 1, 2, 2])


def _vectors_with_cosines(cos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit audio e_i and unit text vectors whose dot products are exactly `cos` (clips x captions)."""
    n, m = cos.shape
    audio = np.eye(n + 1, dtype=np.float64)[:n]
    text = np.concatenate([cos.T, np.sqrt(1 - (cos.T ** 2).sum(1, keepdims=True))], axis=1)
    return audio, text


def test_paper_retrieval_by_hand():
    audio, text = _vectors_with_cosines(HAND)
    got = metrics.paper_retrieval(audio, text, HAND_TEXT_CLIP, ks=(1, 2, 3))
    # a2t: best places 0, 1, 0. AP@10 = mean over relevant of (#relevant so far / place):
    # clip 0: (1/1 + 2/5) / 2; clip 1: (1/2 + 2/3) / 2; clip 2: (1/1 + 2/2) / 2
    assert got["a2t_R@1"] == pytest.approx(2 / 3)
    assert got["a2t_R@2"] == got["a2t_R@3"] == 1.0
    assert got["a2t_mAP@10"] == pytest.approx((0.7 + 7 / 12 + 1.0) / 3)
    # t2a: the place of each caption's clip among the 3 clips: 0, 2, 1, 0, 0, 0
    assert got["t2a_R@1"] == pytest.approx(4 / 6)
    assert got["t2a_R@2"] == pytest.approx(5 / 6)
    assert got["t2a_R@3"] == 1.0
    assert got["t2a_mAP@10"] == pytest.approx((1 + 1 / 3 + 1 / 2 + 1 + 1 + 1) / 6)


def test_average_precision_counts_only_the_top_ten_and_divides_by_min_m_10():
    ranks = np.array([[0, 9, 10, metrics._PAD], [3, metrics._PAD, metrics._PAD, metrics._PAD]])
    ap = metrics._average_precision(ranks)
    assert ap[0] == pytest.approx((1 / 1 + 2 / 10) / 3)
    assert ap[1] == pytest.approx(1 / 4)


def test_a_clip_without_captions_is_still_a_t2a_candidate():
    audio, text = _vectors_with_cosines(HAND)
    extra = np.zeros((1, audio.shape[1]))
    extra[0, 1] = 1.0  # a clip identical to clip 1, with no captions
    got = metrics.paper_retrieval(np.concatenate([audio, extra]), text, HAND_TEXT_CLIP, ks=(1,))
    # it ties clip 1 for captions 2 and 3 (ties go to the right answer) and beats clip 0 for caption 1
    assert got["t2a_R@1"] == pytest.approx(4 / 6)
    assert got["a2t_R@1"] == pytest.approx(2 / 3)  # only the three captioned clips ask


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(2, 25), data=st.data())
def test_invariant_under_joint_permutation(seed, n, data):
    rng = np.random.default_rng(seed)
    text_clip = rng.integers(0, n, size=data.draw(st.integers(1, 4 * n)))
    audio, text = _random(seed, n, 6), _random(seed + 1, len(text_clip), 6)
    clip_perm, cap_perm = rng.permutation(n), rng.permutation(len(text_clip))
    new_index = np.argsort(clip_perm)  # old clip row -> new row
    moved = metrics.paper_retrieval(audio[clip_perm], text[cap_perm], new_index[text_clip[cap_perm]])
    base = metrics.paper_retrieval(audio, text, text_clip)
    assert moved == pytest.approx(base, rel=1e-9)
    paired_text = audio + _random(seed + 2, n, 6)
    base_course = metrics.course_accuracy(audio, paired_text)
    assert metrics.course_accuracy(audio[clip_perm], paired_text[clip_perm]) == base_course


# ----------------------------------------------------------------------------- chance levels


def test_exact_chance_formulas_match_enumeration():
    n_cand = 7
    for m in (1, 2, 3):
        aps, hits = [], {k: [] for k in (1, 3, 5)}
        for places in itertools.combinations(range(n_cand), m):  # every placement equally likely
            ranks = np.array([places])
            aps.append(metrics._average_precision(ranks, cutoff=4)[0])
            for k in hits:
                hits[k].append(min(places) < k)
        assert metrics._chance_ap(np.array([m]), n_cand, cutoff=4)[0] == pytest.approx(np.mean(aps))
        for k, h in hits.items():
            assert metrics._chance_hit(np.array([m]), n_cand, k)[0] == pytest.approx(np.mean(h))
            assert metrics._chance_hit(np.array([m]), n_cand, k)[0] == pytest.approx(
                1 - math.comb(n_cand - m, k) / math.comb(n_cand, k))


def test_exact_chance_matches_empirical():
    text_clip = np.repeat(np.arange(20), [1, 2, 3, 4, 5] * 4)
    paper = metrics.paper_random_baseline(text_clip, n_clips=20, ks=(1, 5, 10), repeats=4000, seed=3)
    course = metrics.course_random_baseline(20, ks=(1, 5), batch_size=8, repeats=4000, seed=3)
    for scores in (paper, course):
        exact = {k[len("random_"):]: v for k, v in scores.items() if not k.startswith("random_empirical_")}
        assert exact
        for name, value in exact.items():
            assert scores[f"random_empirical_{name}"] == pytest.approx(value, abs=0.01), name
    assert paper["random_t2a_R@1"] == pytest.approx(1 / 20)
    assert paper["random_t2a_mAP@10"] == pytest.approx(sum(1 / r for r in range(1, 11)) / 20)
    assert course["random_a2t_acc@5"] == pytest.approx((5 / 8 + 5 / 8 + 4 / 4) / 3)  # batches 8, 8, 4


# ----------------------------------------------------------------------------- entry points


def test_zero_shot_accuracy():
    classes = np.eye(3, dtype=np.float32)
    audio = np.array([[1, 0.1, 0], [0, 1, 0.2], [0.9, 0, 1], [0, 0, 1]], dtype=np.float32)
    got = metrics.zero_shot_accuracy(audio, classes, [0, 1, 0, 2], ks=(1, 2))
    assert got == {"zero_shot_acc@1": 0.75, "zero_shot_acc@2": 1.0,
                   "random_zero_shot_acc@1": pytest.approx(1 / 3), "random_zero_shot_acc@2": pytest.approx(2 / 3)}


def test_evaluate_uses_first_captions_for_the_course_metric():
    n = 12
    model = AudioProjection(ProjectionConfig(8, 8))
    with torch.no_grad():
        model.linear.weight.copy_(torch.eye(8))
        model.linear.bias.zero_()
    audio = _random(5, n, 8)
    text_clip = np.repeat(np.arange(n), 3)
    text = _random(6, 3 * n, 8)
    text[::3] = audio  # each clip's first caption matches it; the other two are noise
    got = metrics.evaluate(model, _set(audio, text, text_clip))
    assert got["a2t_acc@1"] == got["t2a_acc@1"] == 1.0
    assert got["t2a_R@1"] < 1.0 and got["a2t_R@1"] == 1.0
    assert got["n_clips"] == n and got["n_captions"] == 3 * n and got["n_course_pairs"] == n
    assert got["random_a2t_acc@1"] == pytest.approx(1 / n)
    assert got["random_a2t_R@1"] == pytest.approx(3 / (3 * n))
    for key in ("a2t_acc@3", "t2a_acc@10", "a2t_R@5", "t2a_mAP@10", "random_empirical_a2t_mAP@10",
                "random_empirical_t2a_acc@1"):
        assert key in got


def test_ranks_do_not_depend_on_chunking(monkeypatch):
    audio, text = _random(7, 50, 8), _random(8, 120, 8)
    text_clip = np.random.default_rng(0).integers(0, 50, 120)
    whole = metrics.paper_retrieval(audio, text, text_clip)
    monkeypatch.setattr(metrics, "_CHUNK_ELEMENTS", 100)  # one clip per block
    assert metrics.paper_retrieval(audio, text, text_clip) == pytest.approx(whole, rel=1e-12)
