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
    audio_ids, text_ids: optional (B,) integer ids. Two rows with the same audio
        id (one clip, two captions) or the same text id (one caption string on
        two clips) are both right answers, so they must not push each other
        apart: those off-diagonal logits are set to -inf (left out of the
        softmax). With no duplicates nothing is masked and this is exactly the
        course formula.

    logits = scale * a @ t.T; targets = arange(B);
    loss = (CE(logits, targets) + CE(logits.T, targets)) / 2
    """
    a = F.normalize(audio_emb, dim=-1)
    t = F.normalize(text_emb, dim=-1)
    logits = logit_scale * a @ t.T
    same = torch.zeros_like(logits, dtype=torch.bool)
    if audio_ids is not None:
        same |= audio_ids[:, None] == audio_ids[None, :]
    if text_ids is not None:
        same |= text_ids[:, None] == text_ids[None, :]
    same.fill_diagonal_(False)
    logits = logits.masked_fill(same, float("-inf"))
    targets = torch.arange(len(logits), device=logits.device)
    return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2
