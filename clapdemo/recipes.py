"""`python -m clapdemo recipes`: which training data to ship the projection on, measured held-out only.

Candidates (`RECIPES`): label pairs only (AudioCaps captions against their AudioSet labels,
no audio), a fixed half of the ESC-50 clips only, both mixed, and the equal-weight ensemble of
the first two (cosines averaged: the mean of the two unit vectors). Each is trained with `train`'s
defaults (AudioSet-label init, early stopping on real audio) and measured on

- ESC-50, held-out half: the seeded, class-stratified half that `train --hold-out 0.5` sets
  aside; zero-shot among all 50 class names, and the course's retrieval both ways;
- ESC-50, 10 unseen classes: `n_splits` seeded splits; the ESC-50 part of a recipe keeps only
  the clips of the other 40 classes; the unseen clips are classified among the 10 and among all 50;
- AudioCaps captions in label space (optional): a label store of a split the recipes never
  train on (the test split): each clip's label vector stands in for its audio. No AudioCaps
  audio exists here, so this shows what the captions teach as a *perfect* mn04 would hear the
  clips; real mn04 logits are noisier.

Nothing here measures on a clip its projection trained or validated on.
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

from clapdemo import logs
from clapdemo.embeddings import EmbeddingSet

logger = logs.get(__name__)

RECIPES = ("label pairs only", "ESC-50 half only", "label pairs + ESC-50 half", "ensemble: label pairs only + ESC-50 half only")


def _fit(parts: list[EmbeddingSet], names: list[str], seed: int, hold_out: float):
    """(model, TrainingData): `train` with its CLI defaults on the assembled parts."""
    from clapdemo.training_data import assemble, plan_training

    data = assemble(parts, names, hold_out=hold_out, seed=0)  # the held-out half is fixed (seed 0), as shipped
    return plan_training(data, "auto", seed=seed, threads=1).start().model, data


def _project(models: list, audio) -> np.ndarray:
    """Unit projected audio; for an ensemble the mean of its members' unit vectors (= averaged cosines)."""
    from clapdemo.metrics import project_audio

    return np.mean([project_audio(m, audio) for m in models], axis=0)


def _scores(models, test: EmbeddingSet, classes, audiocaps: EmbeddingSet | None) -> dict:
    """Zero-shot among all classes and the course's retrieval on `test`; label-space AudioCaps retrieval."""
    from clapdemo.metrics import course_accuracy, first_caption_of_each_clip, paper_retrieval, zero_shot_accuracy

    names, vectors = classes
    audio = _project(models, test.audio)
    index = {n: i for i, n in enumerate(names)}
    out = {"zs_all@1": zero_shot_accuracy(audio, vectors, [index[x] for x in test.labels], (1,))["zero_shot_acc@1"]}
    first = first_caption_of_each_clip(test.text_clip, test.n_clips)
    course = course_accuracy(audio, test.text[first], ks=(1,))
    out |= {"esc_a2t@1": course["a2t_acc@1"], "esc_t2a@1": course["t2a_acc@1"]}
    if audiocaps is not None:
        ac = _project(models, audiocaps.audio)
        paper = paper_retrieval(ac, audiocaps.text, audiocaps.text_clip, ks=(1, 5))
        first = first_caption_of_each_clip(audiocaps.text_clip, audiocaps.n_clips)
        course = course_accuracy(ac, audiocaps.text[first], ks=(1,))
        out |= {"ac_t2a_R@1": paper["t2a_R@1"], "ac_a2t_R@1": paper["a2t_R@1"], "ac_t2a_acc@1": course["t2a_acc@1"],
                "ac_a2t_acc@1": course["a2t_acc@1"]}
    return out


def _unseen_scores(models, esc: EmbeddingSet, classes, unseen: list[str]) -> dict:
    from clapdemo.report import zero_shot_scores

    names, vectors = classes
    rows = [i for i, label in enumerate(esc.labels) if label in unseen]
    index = {n: i for i, n in enumerate(names)}
    scores = zero_shot_scores(_project(models, esc.audio[rows]), np.array([index[esc.labels[i]] for i in rows]),
                              vectors, np.array(sorted(index[u] for u in unseen)), ks=(1,))
    return {"unseen_among_10@1": scores["unseen_zero_shot_acc@1"], "unseen_among_all@1": scores["all_zero_shot_acc@1"]}


def measure_recipes(esc: EmbeddingSet, labels: EmbeddingSet, audiocaps: EmbeddingSet | None = None,
                    seeds=(0, 1, 2), n_splits: int = 5, n_unseen: int = 10, split_seed: int = 0,
                    log: Callable[[str], None] = logger.info) -> dict:
    """{recipe: {metric: (mean, sd over seeds)}} for every recipe of RECIPES (see the module doc)."""
    from clapdemo.report import zero_shot_splits
    from clapdemo.runs import class_prompts
    from clapdemo.training_data import held_out_rows

    classes = class_prompts(esc)
    held = held_out_rows(esc, 0.5, 0)
    test = esc.subset(held)
    splits = [[classes[0][i] for i in s] for s in zero_shot_splits(len(classes[0]), n_splits, n_unseen, split_seed)]
    per_seed: dict[str, list[dict]] = {r: [] for r in RECIPES}
    for seed in seeds:
        start = time.perf_counter()
        half = {"label pairs only": ([labels], ["labels"]), "ESC-50 half only": ([esc], ["esc50"]),
                "label pairs + ESC-50 half": ([labels, esc], ["labels", "esc50"])}
        models = {name: _fit(parts, names, seed, 0.5)[0] for name, (parts, names) in half.items()}
        models_of = {name: [m] for name, m in models.items()}
        models_of[RECIPES[3]] = [models["label pairs only"], models["ESC-50 half only"]]
        results = {name: _scores(ms, test, classes, audiocaps) for name, ms in models_of.items()}
        unseen_runs = {name: [] for name in RECIPES}
        for unseen in splits:
            seen = esc.subset([i for i, label in enumerate(esc.labels) if label not in unseen])
            split_models = {"label pairs only": [models["label pairs only"]],
                            "ESC-50 half only": [_fit([seen], ["esc50"], seed, 0.0)[0]],
                            "label pairs + ESC-50 half": [_fit([labels, seen], ["labels", "esc50"], seed, 0.0)[0]]}
            split_models[RECIPES[3]] = split_models["label pairs only"] + split_models["ESC-50 half only"]
            for name, ms in split_models.items():
                unseen_runs[name].append(_unseen_scores(ms, esc, classes, unseen))
        for name in RECIPES:
            runs = unseen_runs[name]
            per_seed[name].append(results[name] | {k: float(np.mean([r[k] for r in runs])) for k in runs[0]})
        log(f"seed {seed}: " + "; ".join(f"{n}: zs50 {per_seed[n][-1]['zs_all@1']:.3f}" for n in RECIPES)
            + f" ({time.perf_counter() - start:.0f} s)")
    return {name: {k: (float(np.mean([r[k] for r in runs])), float(np.std([r[k] for r in runs], ddof=1))
                       if len(runs) > 1 else 0.0) for k in runs[0]}
            for name, runs in per_seed.items()} | {"_info": {"seeds": list(seeds), "n_held_out": test.n_clips,
                                                         "n_splits": n_splits, "n_unseen": n_unseen,
                                                         "n_label_pairs": labels.n_clips,
                                                         "n_audiocaps_clips": audiocaps.n_clips if audiocaps else 0}}


def measure_run(run, esc: EmbeddingSet, audiocaps: EmbeddingSet | None = None) -> dict:
    """One trained run (e.g. the shipped projection) on the same measures, where it never trained:
    its held-out ESC-50 clips (none if it trained on all; then the ESC-50 figures are left out)."""
    from clapdemo.runs import class_prompts, load_run, trained_clip_ids

    model, info = load_run(run)
    seen = trained_clip_ids(run)
    trained_on = info.data.get("dataset") or {}
    if not seen and trained_on.get("name") == (esc.meta.get("dataset") or {}).get("name"):
        seen = set(esc.clip_ids)  # an older run without its clip list, trained on this dataset: assume all
    unseen_rows = [i for i, c in enumerate(esc.clip_ids) if c not in seen]
    classes = class_prompts(esc)
    out = _scores([model], esc.subset(unseen_rows), classes, audiocaps) if len(unseen_rows) > 1 else {}
    if audiocaps is not None and not out:
        out = {k: v for k, v in _scores([model], esc, classes, audiocaps).items() if k.startswith("ac_")}
    return out | {"n_esc_unseen": len(unseen_rows)}


def markdown(results: dict, baseline: dict | None = None) -> str:
    """The table REPORT.md shows: mean ± sd over seeds, percent."""
    cols = [("zs_all@1", "ESC-50 held-out half: zero-shot among all 50 (= a2t acc@1)"),
            ("esc_t2a@1", "held-out half t2a acc@1"), ("unseen_among_10@1", "10 unseen classes: among 10"),
            ("unseen_among_all@1", "10 unseen classes: among all 50"),
            ("ac_t2a_R@1", "AudioCaps test, label space: t2a R@1"), ("ac_a2t_R@1", "a2t R@1"),
            ("ac_t2a_acc@1", "course t2a acc@1"), ("ac_a2t_acc@1", "course a2t acc@1")]
    info = results["_info"]
    cols = [c for c in cols if info["n_audiocaps_clips"] or not c[0].startswith("ac_")]
    lines = ["| recipe | " + " | ".join(title for _, title in cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for name in RECIPES:
        row = results[name]
        lines.append(f"| {name} | " + " | ".join(f"{100 * row[k][0]:.1f} ± {100 * row[k][1]:.1f}" for k, _ in cols) + " |")
    if baseline:
        lines.append("| --baseline run | " + " | ".join(
            f"{100 * baseline[k]:.1f}" if k in baseline else "in-sample" for k, _ in cols) + " |")
    return "\n".join(lines)
