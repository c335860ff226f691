"""`python -m clapdemo recipes`: how to train the shipped projection, decided on real held-out audio only.

A recipe is training data (label pairs: AudioCaps captions against their AudioSet labels, no audio;
half of the ESC-50 clips) plus how the map starts and trains from the label bridge
(`projection_init.BridgeRecipe`: logits or probabilities, standardised or not, pulled toward the
bridge or not, learning rate). Each goes through the one training entry point
(`training.plan.plan_training`) with `train`'s other defaults, over several seeds, and is measured
on real audio nobody trained it on (issue 20):

- UrbanSound8K (fold 10): zero-shot among its 10 classes, and the overlap of the projection's top-5
  AudioSet names with the encoder's own top-5 tags (clapdemo.evaluation.benchmark);
- ESC-50, 10 unseen classes: `n_splits` seeded splits; the ESC-50 part keeps only the clips of the
  other 40 classes; the clips of the 10 are classified among the 10 (zero-shot);
- ESC-50, held-out clips of seen classes: the seeded, class-stratified half `train --hold-out 0.5`
  sets aside, among all 50 class names (the ESC-50 part trains on the other half of every class);
- optionally AudioCaps test captions in *label space* (label vectors standing in for audio): a
  secondary column only, since it hid what real logits do.

Beside them: the untrained label bridge (no training, one row) and, with --baseline, a trained run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from clapdemo import logs
from clapdemo.stores.embedding_set import EmbeddingSet
from clapdemo.training.projection_init import BLENDED_BRIDGE, DECORRELATED_BRIDGE, LOGIT_BRIDGE, NAMES_BRIDGE, BridgeRecipe

logger = logs.get(__name__)


@dataclass(frozen=True)
class Recipe:
    """One row: training data (`labels`: the label pairs, `esc50`: the ESC-50 part) and the bridge recipe."""

    name: str
    labels: bool
    esc50: bool
    bridge: BridgeRecipe


PROBABILITIES = BridgeRecipe(input_transform="sigmoid", standardize=False, lr=1e-3)
WITH_NAMES = NAMES_BRIDGE  # probabilities + the AudioSet names as pairs (x4), lr 1e-3 (DEFAULT_LR)
RECIPES = (
    Recipe("logits, standardised (the recipe before)", True, True, LOGIT_BRIDGE),
    Recipe("probabilities, not standardised", True, True, PROBABILITIES),
    Recipe("probabilities + AudioSet names as pairs (x4)", True, True, WITH_NAMES),
    Recipe("probabilities + AudioSet names as pairs (x4), label pairs only", True, False, WITH_NAMES),
    Recipe("probabilities + AudioSet names as pairs (x16)", True, True,
           BridgeRecipe(input_transform="sigmoid", standardize=False, lr=1e-3, name_pairs=16)),
    Recipe("probabilities + AudioSet names as pairs (x4), decorrelated bridge (ridge 0.3), anchor 0.003",
           True, True, DECORRELATED_BRIDGE),
    Recipe("probabilities + AudioSet names as pairs (x4), decorrelated bridge (ridge 0.3), trained map blended "
           "0.6 with its start (the default)", True, True, BLENDED_BRIDGE),
)
MEASURES = {"us8k": "UrbanSound8K zero-shot, 10 classes", "overlap": "UrbanSound8K top-5 tag overlap",
            "unseen10": "ESC-50 10 unseen classes, zero-shot among 10",
            "held_out": "ESC-50 held-out clips, seen classes, among 50"}
LABEL_SPACE = {"ac_t2a_R@1": "AudioCaps test, label space: t2a R@1", "ac_a2t_R@1": "a2t R@1"}


def fit(recipe: Recipe, labels: EmbeddingSet, esc: EmbeddingSet | None, seed: int, hold_out: float):
    """The trained model of `recipe` on `labels` and `esc` (hold_out: the ESC-50 share set aside, seed 0)."""
    from clapdemo.training.projection_init import make_init
    from clapdemo.training.plan import assemble, plan_training

    parts = ([labels] if recipe.labels else []) + ([esc] if recipe.esc50 and esc is not None else [])
    names = (["labels"] if recipe.labels else []) + (["esc50"] if recipe.esc50 and esc is not None else [])
    data = assemble(parts, names, hold_out=hold_out, seed=0)
    init = make_init("auto", data.train_set.meta, standardized=data.standardize, recipe=recipe.bridge)
    return plan_training(data, init, seed=seed, threads=1).start().model


def scores(model, label_matrix, us8k: EmbeddingSet, esc: EmbeddingSet, held: np.ndarray,
           audiocaps: EmbeddingSet | None = None) -> dict:
    """UrbanSound8K zero-shot and tag overlap, ESC-50 held-out clips among all 50; label-space AudioCaps."""
    from clapdemo.evaluation.benchmark import class_zero_shot, tag_overlap
    from clapdemo.evaluation.metrics import paper_retrieval, project_audio

    audio = project_audio(model, us8k.audio)
    out = {"us8k": class_zero_shot(audio, us8k), "overlap": tag_overlap(audio, us8k.audio, label_matrix),
           "held_out": class_zero_shot(project_audio(model, esc.audio[held]), esc, held)}
    if audiocaps is not None:
        paper = paper_retrieval(project_audio(model, audiocaps.audio), audiocaps.text, audiocaps.text_clip, ks=(1,))
        out |= {"ac_t2a_R@1": paper["t2a_R@1"], "ac_a2t_R@1": paper["a2t_R@1"]}
    return out


def unseen_score(model, esc: EmbeddingSet, unseen: list[str]) -> float:
    from clapdemo.evaluation.benchmark import class_zero_shot
    from clapdemo.evaluation.metrics import project_audio

    rows = [i for i, label in enumerate(esc.labels) if label in unseen]
    return class_zero_shot(project_audio(model, esc.audio[rows]), esc, rows, unseen)


def splits_of(esc: EmbeddingSet, n_splits: int, n_unseen: int, split_seed: int) -> list[list[str]]:
    from clapdemo.report import zero_shot_splits
    from clapdemo.evaluation.evaluate import class_prompts

    names = class_prompts(esc)[0]
    return [[names[i] for i in s] for s in zero_shot_splits(len(names), n_splits, n_unseen, split_seed)]


def label_pair_sample(labels: EmbeddingSet, limit: int | None, seed: int = 0) -> EmbeddingSet:
    """A seeded sample of `limit` label pairs, in store order (`recipes --label-pairs-limit`: screens on
    a part of the 49,838); all of them when `limit` is None or not smaller."""
    if not limit or limit >= labels.n_clips:
        return labels
    return labels.subset(np.sort(np.random.default_rng(seed).choice(labels.n_clips, limit, replace=False)))


def measure_recipes(esc: EmbeddingSet, labels: EmbeddingSet, us8k: EmbeddingSet, audiocaps: EmbeddingSet | None = None,
                    recipes=RECIPES, seeds=(0, 1, 2), n_splits: int = 5, n_unseen: int = 10, split_seed: int = 0,
                    log: Callable[[str], None] = logger.info) -> dict:
    """{recipe name: {measure: (mean, sd over seeds), "per_seed": {measure: [...]}}}, the untrained
    bridge under "_bridge" and the setup under "_info" (see the module doc)."""
    from clapdemo.evaluation.benchmark import bridge_model
    from clapdemo.training.projection_init import label_matrix_for
    from clapdemo.training.plan import held_out_rows

    label_matrix, _ = label_matrix_for(esc.meta, "the ESC-50 store")
    held = held_out_rows(esc, 0.5, 0)
    splits = splits_of(esc, n_splits, n_unseen, split_seed)
    bridge = bridge_model(label_matrix)
    results: dict = {"_bridge": scores(bridge, label_matrix, us8k, esc, held, audiocaps)
                     | {"unseen10": float(np.mean([unseen_score(bridge, esc, u) for u in splits]))}}
    for recipe in recipes:
        runs = []
        for seed in seeds:
            start = time.perf_counter()
            row = scores(fit(recipe, labels, esc, seed, 0.5), label_matrix, us8k, esc, held, audiocaps)
            unseen = []
            for names in splits:
                seen = esc.subset([i for i, label in enumerate(esc.labels) if label not in names])
                unseen.append(unseen_score(fit(recipe, labels, seen, seed, 0.0), esc, names))
            runs.append(row | {"unseen10": float(np.mean(unseen))})
            log(f"{recipe.name}, seed {seed}: " + ", ".join(f"{k} {v:.3f}" for k, v in runs[-1].items())
                + f" ({time.perf_counter() - start:.0f} s)")
        results[recipe.name] = {k: (float(np.mean([r[k] for r in runs])),
                                    float(np.std([r[k] for r in runs], ddof=1)) if len(runs) > 1 else 0.0)
                                for k in runs[0]} | {"per_seed": {k: [r[k] for r in runs] for k in runs[0]}}
    results["_info"] = {"seeds": list(seeds), "n_held_out": len(held), "n_splits": n_splits, "n_unseen": n_unseen,
                        "n_label_pairs": labels.n_clips, "n_us8k": us8k.n_clips,
                        "n_audiocaps_clips": audiocaps.n_clips if audiocaps is not None else 0,
                        "recipes": {r.name: {"labels": r.labels, "esc50": r.esc50, "bridge": r.bridge.__dict__}
                                    for r in recipes}}
    return results


def measure_run(run, us8k: EmbeddingSet, esc: EmbeddingSet, audiocaps: EmbeddingSet | None = None) -> dict:
    """A trained run (e.g. the shipped projection) on the same measures, where it never trained
    (its held-out ESC-50 clips; the 10-unseen-classes figure needs retraining, so it is absent)."""
    from clapdemo.training.projection_init import label_matrix_for
    from clapdemo.training.runs import load_run, trained_clip_ids

    model, _ = load_run(run)
    label_matrix, _ = label_matrix_for(esc.meta, "the ESC-50 store")
    seen = trained_clip_ids(run)
    held = np.array([i for i, c in enumerate(esc.clip_ids) if c not in seen])
    return scores(model, label_matrix, us8k, esc, held, audiocaps) | {"n_esc_held_out": len(held)}


def markdown(results: dict, baseline: dict | None = None) -> str:
    """The table REPORT.md shows: percent (overlap 0..1), mean ± sd over seeds and each seed's value."""
    info = results["_info"]
    cols = dict(MEASURES) | (LABEL_SPACE if info["n_audiocaps_clips"] else {})

    def cell(key, value, sd=None, per=None):
        fmt = (lambda v: f"{v:.2f}") if key == "overlap" else (lambda v: f"{100 * v:.1f}")
        text = fmt(value) + (f" ± {fmt(sd)}" if sd is not None else "")
        return text + (f" ({' / '.join(fmt(v) for v in per)})" if per else "")

    lines = ["| recipe | " + " | ".join(cols.values()) + " |", "|---" * (len(cols) + 1) + "|"]
    lines.append("| untrained label bridge (no training) | " + " | ".join(
        cell(k, results["_bridge"][k]) for k in cols) + " |")
    for name, row in results.items():
        if name.startswith("_"):
            continue
        lines.append(f"| {name} | " + " | ".join(cell(k, *row[k], row["per_seed"][k]) for k in cols) + " |")
    if baseline:
        lines.append("| --baseline run | " + " | ".join(cell(k, baseline[k]) if k in baseline else "retrain: n/a"
                                                       for k in cols) + " |")
    chance = {"us8k": 0.1, "overlap": 5 / 527, "unseen10": 0.1, "held_out": 0.02}
    lines.append("| chance | " + " | ".join(cell(k, chance[k]) if k in chance else "–" for k in cols) + " |")
    return "\n".join(lines)
