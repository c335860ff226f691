"""Property-based tests (hypothesis) of the metrics, the loss and the input guards.

Already in test_metrics.py / test_losses.py, not repeated here: joint-permutation invariance of
the metrics, random embeddings -> k/N for the course metric, the loss unchanged when audio and
text swap places. Here: perfect embeddings -> 1.0 for every metric, any batch size, any caption
layout; random embeddings -> the exact chance level for the papers' protocol; the loss as the
mean of its two directions and invariant to the order of the batch; and no table path, however
built, resolving outside its root.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from clapdemo.evaluation import metrics
from clapdemo.data.audio import fit_length
from clapdemo.data.dataset import resolve_inside
from clapdemo.data.tables import clean_captions
from clapdemo.training.losses import contrastive_loss


def _random(seed: int, *shape) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


# ----------------------------------------------------------------------------- metrics


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 40), d=st.integers(8, 32),
       max_captions=st.integers(1, 5), batch=st.integers(1, 50))
def test_perfect_embeddings_score_one_on_every_metric(seed, n, d, max_captions, batch):
    rng = np.random.default_rng(seed)
    audio = _random(seed, n, d)
    text_clip = np.repeat(np.arange(n), rng.integers(1, max_captions + 1, n))
    scale = rng.uniform(0.1, 10.0, (len(text_clip), 1)).astype(np.float32)  # cosine ignores length
    scores = metrics.paper_retrieval(audio, audio[text_clip] * scale, text_clip, ks=(1, 5, 10))
    scores |= metrics.course_accuracy(audio, audio * 2.0, ks=(1, 3, 10), batch_size=batch)
    assert scores and all(v == 1.0 for v in scores.values()), scores


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(200, 500), max_captions=st.integers(1, 5))
def test_random_embeddings_score_the_exact_chance_level(seed, n, max_captions):
    """Each metric of random vectors within 6 standard errors of its exact chance value."""
    text_clip = np.repeat(np.arange(n), np.random.default_rng(seed).integers(1, max_captions + 1, n))
    got = metrics.paper_retrieval(_random(seed, n, 32), _random(seed + 1, len(text_clip), 32), text_clip)
    chance = metrics.paper_random_baseline(text_clip, n, repeats=1)
    for name in ("t2a_R@1", "t2a_R@10", "a2t_R@1", "a2t_R@10"):
        p, queries = chance[f"random_{name}"], (len(text_clip) if name.startswith("t2a") else n)
        assert abs(got[name] - p) <= 6 * math.sqrt(p * (1 - p) / queries) + 2 / queries, (name, got[name], p)
    assert chance["random_t2a_R@1"] == pytest.approx(1 / n)  # k/N for one relevant clip


# ----------------------------------------------------------------------------- loss


def _by_hand(a: torch.Tensor, t: torch.Tensor, scale: float) -> tuple[float, float]:
    """(audio->text, text->audio) cross-entropies, each direction written out on its own."""
    logits = scale * F.normalize(a, dim=-1) @ F.normalize(t, dim=-1).T
    a2t = -torch.log_softmax(logits, dim=1).diagonal().mean()
    t2a = -torch.log_softmax(logits.T, dim=1).diagonal().mean()
    return a2t.item(), t2a.item()


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), b=st.integers(1, 16), d=st.integers(2, 16), scale=st.floats(1.0, 100.0))
def test_loss_is_the_mean_of_its_two_directions(seed, b, d, scale):
    g = torch.Generator().manual_seed(seed)
    a, t = torch.randn(b, d, generator=g, dtype=torch.float64), torch.randn(b, d, generator=g, dtype=torch.float64)
    a2t, t2a = _by_hand(a, t, scale)
    assert contrastive_loss(a, t, scale).item() == pytest.approx((a2t + t2a) / 2, rel=1e-9, abs=1e-12)
    assert _by_hand(t, a, scale) == pytest.approx((t2a, a2t), rel=1e-9, abs=1e-12)  # swapping swaps the directions


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), b=st.integers(1, 16), scale=st.floats(1.0, 100.0), dup=st.booleans())
def test_loss_ignores_the_order_of_the_batch(seed, b, scale, dup):
    g = torch.Generator().manual_seed(seed)
    a, t = torch.randn(b, 8, generator=g, dtype=torch.float64), torch.randn(b, 8, generator=g, dtype=torch.float64)
    ids = torch.randint(0, max(1, b // 2), (b,), generator=g) if dup else None
    if dup:  # rows of one clip share its audio vector
        a = a[ids]
    perm = torch.randperm(b, generator=g)
    base = contrastive_loss(a, t, scale, audio_ids=ids)
    moved = contrastive_loss(a[perm], t[perm], scale, audio_ids=None if ids is None else ids[perm])
    assert moved.item() == pytest.approx(base.item(), rel=1e-9, abs=1e-12)


@settings(max_examples=30, deadline=None)
@given(b=st.integers(2, 16), scale=st.floats(1.0, 100.0))
def test_perfect_embeddings_give_the_smallest_loss_for_the_scale(b, scale):
    emb = torch.eye(b, dtype=torch.float64)
    floor = math.log1p((b - 1) * math.exp(-scale))
    assert contrastive_loss(emb, emb, scale).item() == pytest.approx(floor, rel=1e-9, abs=1e-15)
    assert contrastive_loss(emb, emb.roll(1, 0), scale).item() > floor


# ----------------------------------------------------------------------------- input guards

SEGMENTS = st.sampled_from(["..", ".", "a", "b c", "ü", "", "/", "\\", "etc", "passwd", "~", "..."])


@settings(max_examples=300, deadline=None)
@given(parts=st.lists(SEGMENTS, min_size=1, max_size=8), absolute=st.booleans())
def test_no_table_path_resolves_outside_its_root(tmp_path_factory, parts, absolute):
    root = tmp_path_factory.getbasetemp() / "root"
    relative = ("/" if absolute else "") + "/".join(parts)
    got = resolve_inside(root, relative)
    if got is not None:
        assert os.path.commonpath([got, root]) == str(root) and got != root
        assert ".." not in got.relative_to(root).parts


@settings(max_examples=100, deadline=None)
@given(blank=st.text(alphabet=" \t\n\r\u00a0\u2003\u3000\x0b\x0c", max_size=10))
def test_whitespace_captions_are_dropped_with_a_warning(blank):
    warnings: list[str] = []
    assert clean_captions([(blank, "t.csv: line 2"), (f"{blank}a dog{blank}", "t.csv: line 3")], warnings) == ["a dog"]
    assert warnings == ["t.csv: line 2: empty caption; dropped"]


@settings(max_examples=50, deadline=None)
@given(n=st.integers(0, 300), target=st.integers(1, 300), seed=st.integers(0, 2**31 - 1))
def test_fit_length_crops_or_pads_at_the_end_only(n, target, seed):
    wave = _random(seed, n) + 5.0  # never zero
    got = fit_length(wave, target)
    assert got.shape == (target,)
    np.testing.assert_array_equal(got[: min(n, target)], wave[: min(n, target)])
    assert not got[n:].any()
