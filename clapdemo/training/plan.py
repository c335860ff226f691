"""One training run: what it learns from, where it starts, and the one way to start it.

Every trainer goes through here (`python -m clapdemo train`, the app's Train tab, `recipes`,
the quality report): data (`load_training_data` / `assemble`) -> init (projection_init,
resolved against the data's space) -> learning rate (given, else the init's) -> TrainConfig
-> `TrainingRun.start`, which trains with the input standardisation the data asks for and,
with a run directory, writes the checkpoint and its `RunInfo`.

What it learns from: several stores in one space, a held-out part, a validation part.

`train --train A --train B` mixes stores: label pairs (clapdemo.data.label_pairs: captions
against their AudioSet labels, no audio) with real audio pairs (ESC-50, a folder,
AudioCaps audio). All must come from the same audio and text encoders; a mismatch is
refused naming both stores. Of the real-audio stores, a seeded, class-stratified
`hold_out` share of the clips is set aside, never trained on nor used to stop, and
recorded (the clips to measure the run on); validation, which early stopping watches,
comes from `--val` or from the rest of the real audio (label pairs only when there is
none): the run stops on how it does on real audio, not on labels.

`record` goes into run.json ("training"): the stores, the held-out clip ids, and a
digest of the training clip ids (written in full to train_clips.json), which
`evaluation.evaluate.evaluate_run` uses to refuse measuring a run on clips it learned from.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from clapdemo.stores.embedding_set import EmbeddingSet
from clapdemo.encoders.identity import check_same_encoders
from clapdemo.data.label_pairs import is_label_store
from clapdemo.training.projection_init import ProjectionInit, make_init
from clapdemo.stores.audio_hashes import attach_audio_hashes
from clapdemo.training.loop import RunResult, TrainConfig, split_validation, train

SPLIT_DATASETS = ("audiocaps", "clotho")  # datasets whose named splits are disjoint sets of clips
# std floor when label pairs are mixed in: on label pairs + half of ESC-50, silence scored 0.22 against
# "rain falling" (real rain clips 0.10-0.35) without it, 0.03 with it; held-out ESC-50 90.3 -> 89.3 %.
LABEL_MIN_STD = 1.0


@dataclass
class TrainingData:
    """train_set / val_set for `train.train`; record for run.json; min_input_std: the
    TrainConfig floor (1 logit with label pairs, see TrainConfig); standardize: whether to
    standardise the inputs. Not with label pairs alone (a label that never occurs has no spread,
    and real logits on it would be blown up: ESC-50 zero-shot among 50 classes 26 % standardised,
    45 % not); yes as soon as real audio is mixed in, which gives every dimension its spread
    (label pairs + half of ESC-50: 89 % standardised, 64 % not; docs/training.md, "Label pairs")."""

    train_set: EmbeddingSet
    val_set: EmbeddingSet
    record: dict
    standardize: bool
    min_input_std: float = 0.0


@dataclass
class TrainingRun:
    """One training run, resolved: what it learns from, where it starts, how (see the module doc)."""

    data: TrainingData
    init: ProjectionInit
    config: TrainConfig

    def describe(self) -> str:
        return f"init: {self.init.describe()}; lr {self.config.lr:g}"

    def start(self, run_dir=None, callbacks=()) -> RunResult:
        """`train.train` on the data, from the init, with the config and the input standardisation the
        data asks for (none on label pairs alone, a std floor with them: `TrainingData`). With `run_dir`,
        projection.safetensors and run.json are written there as it goes."""
        standardize = self.data.standardize
        if self.init.recipe is not None and self.init.recipe.standardize is not None:  # the bridge recipe decides
            standardize = self.init.recipe.standardize
        config = replace(self.config, standardize_audio=standardize,
                         min_input_std=self.data.min_input_std if standardize else 0.0)
        return train(config, self.data.train_set, self.data.val_set, callbacks=callbacks, run_dir=run_dir,
                     init=self.init.apply, init_record=self.init.record)


def training_config(init: ProjectionInit | None = None, lr: float | None = None, **settings) -> TrainConfig:
    """TrainConfig from `settings` (its fields; None means the default) with the learning rate `lr`,
    else the one `init` wants (projection_init.DEFAULT_LR), else TrainConfig's default."""
    rate = lr if lr is not None else (init.lr if init is not None else None)
    given = (init.settings if init is not None else {}) | {k: v for k, v in settings.items() if v is not None}
    return TrainConfig(**given, **({} if rate is None else {"lr": float(rate)}))


def plan_training(data: TrainingData, init: str | ProjectionInit = "auto", where: str = "the store",
                  lr: float | None = None, **settings) -> TrainingRun:
    """The run for `data`: `init` by name (projection_init.INITS) is resolved against the data's space
    (a ValueError naming `where` when it cannot be used), then `training_config`."""
    if isinstance(init, str):
        init = make_init(init, data.train_set.meta, where=where, standardized=data.standardize)
    if init.recipe is not None and init.recipe.name_pairs and init.label_matrix is not None:
        data = with_name_pairs(data, init)
    return TrainingRun(data, init, training_config(init, lr, **settings))


def with_name_pairs(data: TrainingData, init: ProjectionInit) -> TrainingData:
    """`data` with the AudioSet label names as pairs of their own added to its training set
    (projection_init.BridgeRecipe.name_pairs; recorded under "name_pairs")."""
    from clapdemo.data.label_pairs import ABSENT_LOGIT, PRESENT_LOGIT
    from clapdemo.training.projection_init import name_pair_set

    names = name_pair_set(init.label_matrix, data.train_set.meta, init.recipe.name_pairs, PRESENT_LOGIT, ABSENT_LOGIT)
    record = dict(data.record, name_pairs=names.n_clips)
    train_set = concat([data.train_set, names])
    train_set.meta = dict(train_set.meta, training=record)
    return replace(data, train_set=train_set, record=record)


def load_training_data(train_stores, val_store=None, val_fraction: float = 0.1, hold_out: float = 0.0,
                       seed: int = 0, memmap: bool = False, float16: bool = False) -> TrainingData:
    """Open the stores (memory-mapped only when there is one), then `assemble` them."""
    from clapdemo.stores.store import open_store

    paths = [Path(p) for p in train_stores]
    if not paths:
        raise ValueError("train needs at least one --train store")
    sets = [attach_audio_hashes(open_store(p, memmap and len(paths) == 1, "float16" if float16 and len(paths) == 1 else "float32"), p)
            for p in paths]
    val_set = attach_audio_hashes(open_store(val_store, memmap, "float16" if float16 else "float32"), val_store) if val_store is not None else None
    return assemble(sets, [str(p) for p in paths], val_set, str(val_store) if val_store else None,
                    val_fraction, hold_out, seed)


def assemble(sets: list[EmbeddingSet], names: list[str], val_set: EmbeddingSet | None = None,
             val_name: str | None = None, val_fraction: float = 0.1, hold_out: float = 0.0,
             seed: int = 0) -> TrainingData:
    """Check the sets share one space, hold out, split validation, concatenate (see the module doc)."""
    if not 0 <= hold_out < 1:
        raise ValueError(f"hold-out share {hold_out} must be at least 0 and below 1")
    check_same_space(sets + ([val_set] if val_set is not None else []), names + [val_name or "the validation store"])
    check_distinct(sets, names)
    labels = [is_label_store(s.meta) for s in sets]
    parts, held, entries = [], {}, []
    for name, data, is_labels in zip(names, sets, labels):
        kept = data
        if hold_out and not is_labels:
            rows = held_out_rows(data, hold_out, seed)
            held[name] = [data.clip_ids[i] for i in rows]
            kept = data.subset(np.setdiff1d(np.arange(data.n_clips), rows))
        parts.append(kept)
        entries.append({"store": name, "kind": "labels" if is_labels else "audio",
                        "dataset": (data.meta.get("dataset") or {}), "n_clips": data.n_clips,
                        "n_train_clips": kept.n_clips, "n_held_out": len(held.get(name, []))})
    audio_parts = [p for p, is_labels in zip(parts, labels) if not is_labels]
    label_parts = [p for p, is_labels in zip(parts, labels) if is_labels]
    if val_set is None:
        pool = audio_parts or label_parts
        trained, val_set = split_validation(concat(pool) if len(pool) > 1 else pool[0], val_fraction, seed)
        parts = ([trained] + label_parts) if audio_parts else [trained]
    train_set = concat(parts) if len(parts) > 1 else parts[0]
    record = {"stores": entries, "held_out": held, "val": val_name or
              f"{val_fraction:g} of the {'real-audio' if audio_parts else 'label-pair'} training clips (seed {seed})",
              "n_train_clips": train_set.n_clips, "n_val_clips": val_set.n_clips,
              "train_clip_ids_sha256": ids_digest(train_set.clip_ids), "splits": named_splits(sets)}
    train_set.meta = dict(train_set.meta, training=record)
    return TrainingData(train_set, val_set, record, standardize=not all(labels),
                        min_input_std=LABEL_MIN_STD if any(labels) else 0.0)


def check_same_space(sets: list[EmbeddingSet], names: list[str]) -> None:
    """Refuse stores from different encoders (weights, settings) or widths, naming both."""
    first, first_name = sets[0], names[0]
    for other, name in zip(sets[1:], names[1:]):
        check_same_encoders(first.meta, other.meta, str(first_name), str(name))
        if first.audio.shape[1:] != other.audio.shape[1:] or first.text.shape[1:] != other.text.shape[1:]:
            raise ValueError(f"{first_name} and {name} hold vectors of different widths")


def check_distinct(sets: list[EmbeddingSet], names: list[str]) -> None:
    """Refuse an empty store and one store given twice (by its store id, or its name when it has
    none): `--train S --train S` trained on every clip twice, with copies of training clips in
    validation, and an empty label store was taken without a word."""
    first: dict[str, str] = {}
    for name, data in zip(names, sets):
        if data.n_clips == 0:
            kind = "label-pair store" if is_label_store(data.meta) else "store"
            raise ValueError(f"{name}: the {kind} holds no clips; precompute it again (for label pairs: "
                             "`precompute --dataset audiocaps-labels`) or leave it out of --train")
        identity = str(data.meta.get("store_id") or Path(name).resolve())
        if identity in first:
            raise ValueError(f"{name}: the same store as {first[identity]} (given twice, or a copy of it): training "
                             "would use every clip twice and validate on copies of training clips; give each store once")
        first[identity] = name


def held_out_rows(data: EmbeddingSet, share: float, seed: int) -> np.ndarray:
    """Sorted rows of a seeded `share` of the clips, per class when the store has classes
    (ESC-50: each class gives round(share x its clips), at least one if it has two)."""
    rng = np.random.default_rng(seed)
    groups = np.asarray(data.labels if data.labels is not None else [""] * data.n_clips, dtype=object)
    rows = []
    for label in sorted(set(groups)):
        members = rng.permutation(np.flatnonzero(groups == label))
        n = int(round(share * len(members)))
        n = min(len(members) - 1, max(n, 1)) if len(members) > 1 else 0
        rows.extend(members[:n])
    return np.sort(np.asarray(rows, dtype=np.int64))


def concat(sets: list[EmbeddingSet]) -> EmbeddingSet:
    """One EmbeddingSet of several (same space), clips in order; the first's manifest as meta."""
    offsets = np.cumsum([0] + [s.n_clips for s in sets[:-1]])
    labels = None
    if any(s.labels is not None for s in sets):
        labels = [x for s in sets for x in (s.labels if s.labels is not None else [""] * s.n_clips)]
    return EmbeddingSet(
        audio=np.concatenate([np.asarray(s.audio, dtype=np.float32) for s in sets]),
        text=np.concatenate([np.asarray(s.text, dtype=np.float32) for s in sets]),
        text_clip=np.concatenate([np.asarray(s.text_clip) + o for s, o in zip(sets, offsets)]),
        clip_ids=[c for s in sets for c in s.clip_ids],
        audio_paths=[p for s in sets for p in s.audio_paths],
        captions=[c for s in sets for c in s.captions],
        labels=labels,
        meta=dict(sets[0].meta, audio_sha256={k: v for s in sets for k, v in (s.meta.get("audio_sha256") or {}).items()}),
    )


def ids_digest(clip_ids) -> str:
    return hashlib.sha256(json.dumps(sorted(map(str, clip_ids))).encode()).hexdigest()


def named_splits(sets: list[EmbeddingSet]) -> list[list[str]]:
    """[dataset, split] of each store whose dataset has disjoint named splits (AudioCaps, Clotho;
    label pairs count as AudioCaps): evaluating on the same split is refused even when the clip
    ids are written differently (a course-zip store names clips by uniq_id)."""
    out = []
    for s in sets:
        dataset = s.meta.get("dataset") or {}
        name = str(dataset.get("name", "")).removesuffix("-labels")
        if name in SPLIT_DATASETS:
            out.append([name, str(dataset.get("split"))])
    return out


def overlap_problem(run_info, embeddings: EmbeddingSet, seen) -> str | None:
    """Why measuring the run (its `RunInfo`) on `embeddings` would measure clips it trained on, or None.

    `seen`: the run's training and validation clip ids (a set), or the clips' in-sample mask
    (`evaluation.evaluate.in_sample_mask`: by id or by the audio's sha256)."""
    n_seen = (len(set(seen) & set(embeddings.clip_ids)) if isinstance(seen, (set, frozenset))
              else int(np.count_nonzero(seen)))
    if n_seen:
        return (f"{n_seen} of its {embeddings.n_clips} clips were in the run's training or validation set "
                "(by clip id or identical audio)")
    splits = run_info.named_splits
    mine = named_splits([embeddings])
    if mine and mine[0] in splits:
        return f"the run trained on {mine[0][0]} split {mine[0][1]!r}, the split of this store"
    return None

