"""Symmetric InfoNCE (CLIP's loss), aware of duplicate clips and captions in a batch."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def contrastive_loss(
    audio_emb: torch.Tensor,
    text_emb: torch.Tensor,
    logit_scale: torch.Tensor | float,
    audio_ids: torch.Tensor | None = None,
    text_ids: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean of the audio->text and text->audio cross-entropies over one batch of pairs.

    audio_emb, text_emb: (B, D); row i of each is a positive pair. Both are
        L2-normalised here, so callers may pass raw projections.
    logit_scale: the multiplier itself, i.e. exp(log-scale) = 1/temperature, as
        open_clip passes it; `AudioProjection.scale()` gives it, already clamped.
    audio_ids, text_ids: optional (B,) integer ids of each row's clip and caption.
        See `_not_negatives`: duplicates are left out of the softmax (logit -inf),
        never pushed apart. With all ids distinct nothing is masked and this is
        exactly the course formula:

    logits = scale * a @ t.T; targets = arange(B);
    loss = (CE(logits, targets) + CE(logits.T, targets)) / 2
    """
    return unit_contrastive_loss(F.normalize(audio_emb, dim=-1), F.normalize(text_emb, dim=-1),
                                 logit_scale, audio_ids, text_ids)


def unit_contrastive_loss(
    a: torch.Tensor,
    t: torch.Tensor,
    logit_scale: torch.Tensor | float,
    audio_ids: torch.Tensor | None = None,
    text_ids: torch.Tensor | None = None,
) -> torch.Tensor:
    """`contrastive_loss` of rows that are already unit length: training normalises the
    frozen text vectors once for the whole set instead of once per step.

    When every given id is distinct in the batch (or none is given) no mask is built:
    the masks cost about as much as the rest of the loss and would mask nothing.
    """
    logits = logit_scale * a @ t.T
    targets = torch.arange(len(logits), device=logits.device)
    a2t, t2a = logits, logits.T
    if not (_distinct(audio_ids) and _distinct(text_ids)):
        a2t = a2t.masked_fill(_not_negatives(logits, audio_ids, text_ids, text_ids), float("-inf"))
        t2a = t2a.masked_fill(_not_negatives(logits, audio_ids, text_ids, audio_ids), float("-inf"))
    return (F.cross_entropy(a2t, targets) + F.cross_entropy(t2a, targets)) / 2


def _distinct(ids: torch.Tensor | None) -> bool:
    """True when no id repeats (None: nothing known, nothing to mask)."""
    return ids is None or ids.unique().numel() == ids.numel()


def _not_negatives(logits, audio_ids, text_ids, candidates) -> torch.Tensor:
    """(B, B) True where candidate j must not count as a negative for query i (never i itself):

    - j shares the query's clip or caption: it is another right answer
      (one clip with two captions, or one caption string on two clips);
    - j repeats a candidate already in the row (same id as an earlier column):
      each distinct candidate is counted once, so a batch holding every pair
      twice gives the loss of the batch holding each once.
    """
    mask = torch.zeros_like(logits, dtype=torch.bool)
    for ids in (audio_ids, text_ids):
        if ids is not None:
            mask |= ids[:, None] == ids[None, :]
    if candidates is not None:
        mask |= torch.triu(candidates[:, None] == candidates[None, :], diagonal=1).any(0)  # an earlier column has it
    return mask.fill_diagonal_(False)
