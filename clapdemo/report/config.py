"""The quality report's configuration: what it measures (ReportConfig) and the sweep's rows (Variant)."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from clapdemo.training.projection_init import DEFAULT_LR

TEMPLATES = (
    "the sound of {}",
    "{}",
    "a recording of {}",
    "this is a sound of {}",
    "{} can be heard",
)
AUDIO_OUTPUTS = ("pooled", "head", "logits", "probs")  # probs = sigmoid(logits), derived, no extra forward
WINDOWS = ("10s", "clip")  # 10s: padded to the encoder's window (what precompute does); clip: the clip's own length
CLIP_RANDOM = "clip-random"  # CLIP's text tower with random weights: a plumbing row, not a comparison
MAX_EPOCHS = 300
INITS = ("random", "labels")  # labels: start from the AudioSet-label bridge (clapdemo.training.projection_init)


@dataclass
class ReportConfig:
    """What the report measures, and how much of it.

    data_root:        an ESC-50 folder (esc50.csv or meta/esc50.csv + audio/).
    out:              where report.md/json/png and the embedding cache go.
    audio_encoder:    the EfficientAT model whose three outputs are compared.
    clip_tokenizer:   folder with CLIP's vocab.json + merges.txt; when given, a
                      randomly initialised CLIP text tower joins the sweep (marked).
    seeds:            training seeds of the rows that count: the base, the best `top_rows`
                      of the screening, the confirmation and the retrieval (mean and spread).
    screen_seeds:     seeds of the first pass over every sweep row (one, to keep the run short:
                      the spread over seeds is a few points, over splits several times more).
    top_rows:         how many of the best screened rows are rerun with all `seeds`.
    n_splits, n_unseen, split_seed: the fixed zero-shot splits (seeded by split_seed + i).
    confirm_split_seed: fresh splits on which the chosen default is measured again.
    retrieval_folds:  folds of the supervised retrieval (train on the others, test on one).
    max_epochs, patience, val_fraction: training length; early stopping on the loss of
                      a seeded `val_fraction` of the training clips.
    clips_per_class:  keep only this many clips per class (quick runs).
    sweep:            "full" or "quick" (three rows).
    threads:          torch threads per training process (1: small matmuls gain nothing from
                      two, and lose a lot when the other core is busy).
    workers:          training processes running (seed, split) jobs side by side; 1 = in this process.
    """

    data_root: Path
    out: Path = Path("report")
    audio_encoder: str = "mn04_as"
    clip_tokenizer: Path | None = None
    seeds: tuple[int, ...] = (0, 1, 2)
    screen_seeds: tuple[int, ...] = (0,)
    top_rows: int = 3
    n_splits: int = 5
    n_unseen: int = 10
    split_seed: int = 0
    confirm_split_seed: int = 100
    retrieval_folds: int = 5
    max_epochs: int = MAX_EPOCHS
    patience: int = 10
    val_fraction: float = 0.15
    clips_per_class: int | None = None
    sweep: str = "full"
    threads: int = 1
    workers: int = min(2, os.cpu_count() or 1)

    @classmethod
    def quick(cls, data_root, out) -> "ReportConfig":
        """A plumbing check: one clip per class, one seed, two splits, three rows, short training."""
        return cls(Path(data_root), Path(out), seeds=(0,), screen_seeds=(0,), top_rows=1, n_splits=2, retrieval_folds=2, max_epochs=15,
                   patience=5, clips_per_class=2, sweep="quick", confirm_split_seed=100, workers=1)


@dataclass(frozen=True)
class Variant:
    """One row of the sweep: what the projection is trained on and how.

    output / window:   which audio vector (see AUDIO_OUTPUTS, WINDOWS).
    text_encoder:      "minilm" or CLIP_RANDOM.
    train_templates:   prompt templates giving each clip its captions (one per template).
    test_templates:    templates whose class vectors are averaged for classification
                       (prompt ensembling); None = the training templates.
    caption_sampling:  TrainConfig's: "random" (one caption per clip per epoch) or "all".
    batch_size:        pairs per step; 0 = every training pair in one batch.
    init:              "random" or "labels": the AudioSet-label bridge (clapdemo.training.projection_init),
                       centred on the training mean for logits, on zero for probabilities.
    max_epochs:        this row's cap on epochs (None: the report's `max_epochs`); 50 with batch
                       256 is the `python -m clapdemo train` budget.
    """

    output: str = "logits"
    window: str = "10s"
    text_encoder: str = "minilm"
    train_templates: tuple[str, ...] = ("the sound of {}",)
    test_templates: tuple[str, ...] | None = None
    caption_sampling: str = "random"
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 1e-4
    learn_temperature: bool = True
    init: str = "random"
    max_epochs: int | None = None

    def __post_init__(self):
        if self.init not in INITS:
            raise ValueError(f"init={self.init!r}; choose one of {INITS}")
        if self.init == "labels" and self.output not in ("logits", "probs"):
            raise ValueError("init='labels' maps the 527 AudioSet outputs: it needs output='logits' or 'probs'")

    @property
    def templates_for_test(self) -> tuple[str, ...]:
        return self.test_templates or self.train_templates

    def describe(self) -> str:
        """Every setting in one short line."""
        temps = _templates_text(self.train_templates)
        if self.test_templates and self.test_templates != self.train_templates:
            temps += f" / test {_templates_text(self.test_templates)}"
        return (f"{self.output}@{self.window}, {self.text_encoder}, {temps}, {self.caption_sampling}, "
                f"batch {self.batch_size or 'all'}, lr {self.lr:g}, wd {self.weight_decay:g}, "
                f"T {'learned' if self.learn_temperature else 'fixed 0.07'}"
                + (", init from AudioSet label names" if self.init == "labels" else "")
                + (f", at most {self.max_epochs} epochs" if self.max_epochs else ""))


BASE = Variant()


def _templates_text(templates) -> str:
    return f"'{templates[0]}'" if len(templates) == 1 else f"{len(templates)} templates"


def sweep_variants(kind: str, with_clip: bool) -> list[tuple[str, Variant]]:
    """(what changed, Variant) rows: the base, then one setting changed at a time, then combinations."""
    if kind == "quick":
        return [("base", BASE), ("output: head", replace(BASE, output="head")),
                ("templates: 5, averaged", replace(BASE, train_templates=TEMPLATES))]
    rows = [("base (logits, lr 3e-3, batch 64)", BASE)]
    rows += [(f"output: {o}", replace(BASE, output=o)) for o in AUDIO_OUTPUTS if o != BASE.output]
    rows += [("window: clip's own 5 s", replace(BASE, window="clip"))]
    if with_clip:
        rows.append(("text: CLIP, RANDOM weights", replace(BASE, text_encoder=CLIP_RANDOM)))
    rows += [("temperature: fixed 0.07", replace(BASE, learn_temperature=False))]
    rows += [(f"batch: {b or 'whole set'}", replace(BASE, batch_size=b)) for b in (32, 0)]
    rows += [(f"lr: {lr:g}", replace(BASE, lr=lr)) for lr in (1e-3, 1e-2)]
    rows += [("weight decay: 1", replace(BASE, weight_decay=1.0))]
    rows += [("templates: 5, averaged at test", replace(BASE, train_templates=TEMPLATES)),
             ("templates: 5, all pairs each epoch", replace(BASE, train_templates=TEMPLATES, caption_sampling="all")),
             ("train 1 template, test 5 averaged", replace(BASE, test_templates=TEMPLATES))]
    bridge = replace(BASE, output="probs", init="labels", train_templates=TEMPLATES)
    rows += [(f"init from AudioSet labels (probs, 5 templates), lr {lr:g}", replace(bridge, lr=lr))
             for lr in (1e-4, 1e-5)]
    rows += [(f"init from AudioSet labels (logits, centred), lr {lr:g}", replace(BASE, init="labels", lr=lr))
             for lr in (1e-4, 1e-3)]
    rows += [(name, v) for name, v in CLI_ROWS]
    return rows


# `python -m clapdemo train`'s own budget (TrainConfig: batch 256, at most 50 epochs) with its
# default init before and after issue #4: random with lr 1e-3, then the AudioSet-label bridge.
CLI_ROWS = (
    ("train CLI before: random init, batch 256, lr 0.001, <= 50 epochs",
     Variant(batch_size=256, lr=1e-3, max_epochs=50)),
    (f"train CLI default: AudioSet-label init, batch 256, lr {DEFAULT_LR['audioset-labels']:g}, <= 50 epochs",
     Variant(batch_size=256, lr=DEFAULT_LR["audioset-labels"], init="labels", max_epochs=50)),
)


def combined_variants(rows: list[dict]) -> list[tuple[str, Variant]]:
    """Second round: the best setting of each first-round axis (the base counts on every axis), together."""
    base = next(r for r in rows if r["name"].startswith("base"))
    best: dict[str, tuple[float, Variant]] = {}
    for row in rows:
        if row["kind"] != "sweep" or row["variant"]["text_encoder"] != "minilm" or ":" not in row["name"]:
            continue
        axis = row["name"].split(":")[0]
        best.setdefault(axis, (base["unseen_zero_shot_acc@1"]["mean"], BASE))
        if row["unseen_zero_shot_acc@1"]["mean"] > best[axis][0]:
            best[axis] = (row["unseen_zero_shot_acc@1"]["mean"], Variant(**variant_args(row["variant"])))

    def pick(axis: str, attr: str):
        return getattr(best[axis][1], attr) if axis in best else getattr(BASE, attr)

    combo = replace(BASE, output=pick("output", "output"), window=pick("window", "window"), lr=pick("lr", "lr"),
                    weight_decay=pick("weight decay", "weight_decay"), batch_size=pick("batch", "batch_size"),
                    learn_temperature=pick("temperature", "learn_temperature"), train_templates=TEMPLATES)
    out = [("combined: 5 templates + best of each axis", combo),
           ("combined, all pairs", replace(combo, caption_sampling="all"))]
    seen = [Variant(**variant_args(r["variant"])) for r in rows]
    return [(n, v) for n, v in out if v not in seen]


def variant_args(d: dict) -> dict:
    """A Variant's fields back from report.json (lists -> tuples)."""
    d = dict(d)
    for key in ("train_templates", "test_templates"):
        if d.get(key) is not None:
            d[key] = tuple(d[key])
    return d
