"""Which clips of a store a projection has seen: the app's Evaluate tab's in-sample policy.

`evaluate.evaluate_run(unseen_only=True)` measures only the clips a run never saw; the app
evaluates an embedding set it already holds, says how many clips were in-sample, and offers the
held-out part alone. Both ask `evaluate.in_sample_mask` (by clip id or identical audio), so the CLI
and the app leave out the same clips.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SampleStatus:
    """What a projection saw of an embedding set.

    recorded: the run lists its training and validation clips (train_clips.json);
    inside: how many clips of the set it trained or validated on (by id or identical audio);
    seen_classes: the in-sample clips have classes (so held-out clips are of seen classes, not zero-shot);
    same_dataset: with no clip list, whether the run trained on this very dataset split."""
    n_clips: int
    recorded: bool
    inside: int = 0
    seen_classes: bool = False
    same_dataset: bool = False


def sample_status(run, embeddings) -> SampleStatus:
    """Which of `embeddings`' clips the run at `run` trained or validated on, as far as it records.

    A run without a clip list is judged by its dataset: trained on this dataset split means
    in-sample (optimistic numbers); an unreadable run counts as another dataset."""
    from clapdemo.evaluation.evaluate import in_sample_mask
    from clapdemo.training.runs import load_run_info, run_data, trained_clip_ids

    if trained_clip_ids(run):  # its training and validation clips
        mask = in_sample_mask(run, embeddings)
        seen = ({embeddings.labels[i] for i, m in enumerate(mask) if m}
                if embeddings.labels is not None else set())
        return SampleStatus(embeddings.n_clips, True, int(mask.sum()), bool(seen))
    try:
        trained_on = run_data(load_run_info(run)).get("dataset")
    except Exception:  # unreadable: the app's header says so
        trained_on = None
    return SampleStatus(embeddings.n_clips, False, same_dataset=trained_on == embeddings.meta.get("dataset"))


class TooFewHeldOut(ValueError):
    """Fewer held-out clips than a measurement needs."""

    def __init__(self, n_held_out: int, n_clips: int):
        super().__init__(f"only {n_held_out} of {n_clips} clips held out")
        self.n_held_out, self.n_clips = n_held_out, n_clips


def held_out_searcher(run, searcher, min_clips: int = 2):
    """A Searcher over the clips of `searcher`'s set the run at `run` never saw (neither trained nor
    validated on, by clip id or identical audio); TooFewHeldOut under `min_clips` (two: a ranking
    needs a wrong answer to rank against)."""
    from clapdemo.evaluation.evaluate import in_sample_mask
    from clapdemo.search.searcher import Searcher

    emb = searcher.embeddings
    rows = np.flatnonzero(~in_sample_mask(run, emb))
    if len(rows) < min_clips:
        raise TooFewHeldOut(len(rows), emb.n_clips)
    return Searcher(emb.subset(rows), searcher.projection, searcher.text_encoder, searcher.audio_encoder)


def one_caption_per_clip(embeddings) -> bool:
    """No clip has more than one caption (then R@k equals accuracy@k)."""
    return int(np.bincount(embeddings.text_clip, minlength=embeddings.n_clips).max(initial=0)) <= 1
