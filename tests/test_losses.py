"""contrastive_loss against hand computations, duplicates, symmetry and the logit-scale gradient."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from clapdemo.training import losses
from clapdemo.training.losses import contrastive_loss, unit_contrastive_loss
from clapdemo.training.model import AudioProjection, ProjectionConfig


def _log_softmax_at(row: list[float], target: int) -> float:
    return row[target] - math.log(sum(math.exp(v) for v in row))


def test_matches_hand_computation_2x2():
    audio = torch.tensor([[1.0, 0.0], [0.0, 2.0]])  # norms differ on purpose: the loss normalises
    text = torch.tensor([[3.0, 0.0], [0.6, 0.8]])
    scale = 2.0
    # cosines: a0.t0 = 1, a0.t1 = 0.6, a1.t0 = 0, a1.t1 = 0.8
    logits = [[2.0, 1.2], [0.0, 1.6]]
    columns = [[2.0, 0.0], [1.2, 1.6]]
    a2t = -(_log_softmax_at(logits[0], 0) + _log_softmax_at(logits[1], 1)) / 2
    t2a = -(_log_softmax_at(columns[0], 0) + _log_softmax_at(columns[1], 1)) / 2
    got = contrastive_loss(audio, text, torch.tensor(scale))
    assert got.item() == pytest.approx((a2t + t2a) / 2, abs=1e-6)


def test_perfect_alignment_reaches_the_minimum_for_its_scale():
    # orthonormal pairs: each row's softmax is e^s / (e^s + (B-1) e^0)
    b, scale = 8, 5.0
    emb = torch.eye(b)
    expected = math.log(1 + (b - 1) * math.exp(-scale))
    assert contrastive_loss(emb, emb, torch.tensor(scale)).item() == pytest.approx(expected, rel=1e-4)
    assert contrastive_loss(emb, emb, torch.tensor(100.0)).item() < 1e-6
    wrong = contrastive_loss(emb, emb[torch.randperm(b, generator=torch.Generator().manual_seed(0))], 20.0)
    assert wrong.item() > 1.0


def test_distinct_ids_change_nothing():
    g = torch.Generator().manual_seed(1)
    a, t = torch.randn(6, 5, generator=g), torch.randn(6, 5, generator=g)
    ids = torch.arange(6)
    plain = contrastive_loss(a, t, 14.0)
    assert torch.equal(contrastive_loss(a, t, 14.0, audio_ids=ids, text_ids=ids + 100), plain)


def _course_loss_and_grads(a, t, scale):
    """The course's formula, written out: loss, d loss / d a, d loss / d scale."""
    a, scale = a.clone().requires_grad_(True), torch.tensor(scale, requires_grad=True)
    logits = scale * torch.nn.functional.normalize(a, dim=-1) @ torch.nn.functional.normalize(t, dim=-1).T
    labels = torch.arange(len(a))
    loss = (torch.nn.functional.cross_entropy(logits, labels) + torch.nn.functional.cross_entropy(logits.T, labels)) / 2
    loss.backward()
    return loss.detach(), a.grad, scale.grad


def _ours_loss_and_grads(a, t, scale, **ids):
    a, scale = a.clone().requires_grad_(True), torch.tensor(scale, requires_grad=True)
    loss = contrastive_loss(a, t, scale, **ids)
    loss.backward()
    return loss.detach(), a.grad, scale.grad


@pytest.mark.parametrize("b", [2, 77, 256])
def test_distinct_ids_give_the_course_formula_bit_for_bit(b):
    # Training relies on this: batches without duplicates must train exactly like the course loop.
    g = torch.Generator().manual_seed(b)
    a, t = torch.randn(b, 64, generator=g), torch.randn(b, 64, generator=g)
    ids = {"audio_ids": torch.randperm(10 * b, generator=g)[:b], "text_ids": torch.randperm(10 * b, generator=g)[:b]}
    expected = _course_loss_and_grads(a, t, 14.3)
    for got in (_ours_loss_and_grads(a, t, 14.3, **ids), _ours_loss_and_grads(a, t, 14.3)):
        assert all(torch.equal(x, y) for x, y in zip(got, expected))


def test_masks_are_built_only_for_batches_with_duplicates(monkeypatch):
    calls = []
    real = losses._not_negatives
    monkeypatch.setattr(losses, "_not_negatives", lambda *args: calls.append(1) or real(*args))
    a, t = torch.randn(6, 4), torch.randn(6, 4)
    contrastive_loss(a, t, 10.0, audio_ids=torch.arange(6), text_ids=torch.arange(6) * 3)
    assert calls == []
    masked = contrastive_loss(a, t, 10.0, audio_ids=torch.arange(6), text_ids=torch.tensor([0, 1, 2, 3, 4, 0]))
    assert calls == [1, 1]  # one mask per direction
    assert masked.item() != pytest.approx(contrastive_loss(a, t, 10.0).item(), abs=1e-6)


def test_unit_loss_is_the_loss_of_normalised_rows():
    g = torch.Generator().manual_seed(4)
    a, t = torch.randn(9, 5, generator=g), torch.randn(9, 5, generator=g)
    ids = torch.tensor([0, 1, 1, 2, 3, 4, 5, 6, 7])
    unit = unit_contrastive_loss(torch.nn.functional.normalize(a, dim=-1), torch.nn.functional.normalize(t, dim=-1),
                                 7.0, audio_ids=ids)
    assert torch.equal(unit, contrastive_loss(a, t, 7.0, audio_ids=ids))


def test_duplicated_pairs_masked_equal_the_deduplicated_batch():
    g = torch.Generator().manual_seed(2)
    a, t = torch.randn(2, 4, generator=g), torch.randn(2, 4, generator=g)
    dup_a, dup_t = a[[0, 1, 0, 1]], t[[0, 1, 0, 1]]
    ids = torch.tensor([0, 1, 0, 1])
    dedup = contrastive_loss(a, t, 10.0)
    masked = contrastive_loss(dup_a, dup_t, 10.0, audio_ids=ids, text_ids=ids)
    unmasked = contrastive_loss(dup_a, dup_t, 10.0)
    assert masked.item() == pytest.approx(dedup.item(), abs=1e-6)
    assert unmasked.item() > masked.item() + 0.1  # a copy of the positive sat among the negatives


def test_one_clip_two_captions_by_hand():
    # rows: (a0, t0), (a0, t1), (a1, t2). For a0, t0 and t1 are both right: neither is the
    # other's negative. For t2, clip a0 is one candidate, counted once though it fills two columns.
    g = torch.Generator().manual_seed(3)
    a_rows, t = torch.randn(2, 4, generator=g), torch.randn(3, 4, generator=g)
    audio = a_rows[[0, 0, 1]]
    scale = 5.0
    cos = (torch.nn.functional.normalize(audio, dim=-1) @ torch.nn.functional.normalize(t, dim=-1).T).tolist()
    lg = [[scale * v for v in row] for row in cos]
    a2t_rows = [([lg[0][0], lg[0][2]], 0), ([lg[1][1], lg[1][2]], 0), ([lg[2][0], lg[2][1], lg[2][2]], 2)]
    t2a_rows = [([lg[0][0], lg[2][0]], 0), ([lg[1][1], lg[2][1]], 0), ([lg[0][2], lg[2][2]], 1)]
    a2t = -sum(_log_softmax_at(r, i) for r, i in a2t_rows) / 3
    t2a = -sum(_log_softmax_at(r, i) for r, i in t2a_rows) / 3
    got = contrastive_loss(audio, t, scale, audio_ids=torch.tensor([7, 7, 9]))
    assert got.item() == pytest.approx((a2t + t2a) / 2, abs=1e-5)


def test_same_caption_on_two_clips_is_not_a_negative():
    audio = torch.tensor([[1.0, 0.0, 0.0], [0.9, 0.1, 0.0], [0.0, 0.0, 1.0]])
    text = torch.tensor([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # "a dog barks" twice
    masked = contrastive_loss(audio, text, 50.0, text_ids=torch.tensor([0, 0, 1]))
    unmasked = contrastive_loss(audio, text, 50.0)
    assert masked.item() < 0.01 < unmasked.item()
    assert torch.isfinite(masked)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), b=st.integers(1, 12), d=st.integers(2, 16),
       scale=st.floats(1.0, 100.0), dup=st.booleans())
def test_symmetric_in_audio_and_text(seed, b, d, scale, dup):
    g = torch.Generator().manual_seed(seed)
    a, t = torch.randn(b, d, generator=g), torch.randn(b, d, generator=g)
    ids = torch.randint(0, max(1, b // 2), (b,), generator=g) if dup else None
    forward = contrastive_loss(a, t, scale, audio_ids=ids)
    swapped = contrastive_loss(t, a, scale, text_ids=ids)
    assert forward.item() == pytest.approx(swapped.item(), rel=1e-5, abs=1e-6)
    assert np.isfinite(forward.item())


def _loss_of(model: AudioProjection) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    audio, text = torch.randn(16, 6, generator=g), torch.randn(16, 4, generator=g)
    return contrastive_loss(model(audio), text, model.scale())


def test_logit_scale_gets_a_gradient_when_learnable():
    model = AudioProjection(ProjectionConfig(6, 4, learn_temperature=True))
    _loss_of(model).backward()
    assert model.logit_scale.grad is not None and model.logit_scale.grad.abs().item() > 0
    assert model.linear.weight.grad.abs().sum().item() > 0


def test_logit_scale_has_no_gradient_when_fixed():
    model = AudioProjection(ProjectionConfig(6, 4, learn_temperature=False, init_temperature=0.05))
    _loss_of(model).backward()
    assert model.logit_scale.grad is None and not model.logit_scale.requires_grad
    assert model.scale().item() == pytest.approx(20.0, rel=1e-6)


def test_scale_is_clamped_where_it_is_used():
    model = AudioProjection(ProjectionConfig(2, 2, max_logit_scale=100.0))
    assert model.scale().item() == pytest.approx(1 / 0.07, rel=1e-6)
    with torch.no_grad():
        model.logit_scale.fill_(10.0)
    assert model.scale().item() == pytest.approx(100.0, rel=1e-6)
    with torch.no_grad():
        model.logit_scale.fill_(-3.0)
    assert model.scale().item() == pytest.approx(1.0)
