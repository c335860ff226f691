"""Train an `AudioProjection` on precomputed vectors: one screen of loop, like nanoGPT's.

Everything lives in memory as tensors; an epoch is a seeded permutation of
(clip, caption) pairs cut into batches, so there is no DataLoader and no
per-sample Python. The same seed gives bit-identical weights (on one machine,
with one thread count). The frozen sides are prepared once per run, not once per
step (standardised audio, unit text vectors), and the loss builds its duplicate
masks only for batches that have duplicates. After every epoch: validation loss
and accuracy@1 both ways, the callbacks (a live loss curve, a Stop button), early
stopping on the validation loss; the best state so far is kept and, with a run
directory, written there atomically, so an interrupted run still has its best
checkpoint.
"""

from __future__ import annotations

import copy
import json
import math
import os
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import torch
import torch.nn.functional as F

from clapdemo.stores.embedding_set import EmbeddingSet
from clapdemo.files import atomic_write
from clapdemo.training.losses import contrastive_loss, unit_contrastive_loss
from clapdemo.evaluation.metrics import course_accuracy, evaluate, first_caption_of_each_clip
from clapdemo.training.model import AudioProjection, ProjectionConfig, save_projection
from clapdemo.training.run_record import CLIPS_FILE, RUN_FILE, RunInfo
from clapdemo.stores.audio_hashes import recorded_hashes
from clapdemo.training.threads import TRAINING_THREADS, default_threads

CAPTION_SAMPLING = ("random", "all")


@dataclass
class TrainConfig:
    """How to train. Every field lands in run.json next to the checkpoint.

    epochs:            most passes over the training clips.
    batch_size:        pairs per contrastive batch (each pair's negatives are the other B-1).
    lr:                AdamW learning rate.
    weight_decay:      AdamW decay on the weight matrix only (not on bias or logit scale,
                       as open_clip does).
    learn_temperature: train the logit scale too (see ProjectionConfig).
    init_temperature:  starting temperature (0.07 -> logit multiplier 14.3).
    max_logit_scale:   cap on the logit multiplier (CLIP: 100).
    seed:              seeds the weight init, the caption draws and the batch order.
    patience:          stop after this many epochs without a lower validation loss
                       (training loss when there is no validation set); 0 = never.
    device:            "cpu", "cuda", ...; the data are moved there once.
    caption_sampling:  "random": each epoch every clip appears once, with one of its
                       captions drawn by the seeded RNG (AudioCaps train has one, test five);
                       "all": every (clip, caption) pair once per epoch.
    standardize_audio: standardise audio inputs with the training set's per-dimension
                       mean and std, stored in the model (see AudioProjection).
    min_input_std:     lower bound of the per-dimension std used to standardise (0: none). Label
                       pairs (clapdemo.data.label_pairs) give a rare AudioSet class almost no spread;
                       standardised by it, real logits of that class (spread ~1.4 on ESC-50) would be
                       blown up, and silence lands on "rain". training.plan sets 1.0 for them.
    input_transform:   applied to the audio vectors inside the model, before standardising
                       (model.INPUT_TRANSFORMS): "sigmoid" trains on AudioSet probabilities
                       from a store of logits.
    anchor:            strength of an L2 pull of the linear map toward where it started (the
                       init): anchor * squared distance of weight and bias from their start, added to
                       the loss each step; 0: none. Keeps what the label bridge knows (docs/training.md).
    threads:           torch CPU threads while `train` runs (the previous count is restored
                       after; concurrent runs share the process-wide count, see training.threads.ThreadSetting). None: 1 when training on the CPU of a machine with at most 2
                       cores, else torch's own setting. Measured at AudioCaps scale on 2 shared
                       cores (BENCHMARKS.md, bench_train.py): a second thread could at best halve
                       the matrix work, but with other processes running, OpenMP threads waiting
                       on each other made epochs 16-22x slower.
    blend:             weight of the trained map against where it started, WiSE-FT style (Wortsman
                       et al. 2022, 'Robust fine-tuning of zero-shot models'): the saved map is
                       start + blend * (best - start) for the linear weight and bias; 1: the trained
                       map as is; must be in (0, 1]. Checkpoints written during training hold the
                       blended map too; training itself goes on from the unblended one.
    """

    epochs: int = 50
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 1e-4
    learn_temperature: bool = True
    init_temperature: float = 0.07
    max_logit_scale: float = 100.0
    seed: int = 0
    patience: int = 10
    device: str = "cpu"
    caption_sampling: str = "random"
    standardize_audio: bool = True
    min_input_std: float = 0.0
    input_transform: str = "none"
    anchor: float = 0.0
    threads: int | None = None
    blend: float = 1.0

    def __post_init__(self):
        from clapdemo.training.model import INPUT_TRANSFORMS

        if self.input_transform not in INPUT_TRANSFORMS:
            raise ValueError(f"input_transform={self.input_transform!r}; choose one of {INPUT_TRANSFORMS}")
        if not self.anchor >= 0:
            raise ValueError(f"anchor={self.anchor}: give 0 (none) or a positive strength")
        if self.caption_sampling not in CAPTION_SAMPLING:
            raise ValueError(f"caption_sampling={self.caption_sampling!r}; choose one of {CAPTION_SAMPLING}")
        if self.batch_size < 2 or self.epochs < 1:
            raise ValueError(f"need batch_size >= 2 and epochs >= 1, got {self.batch_size} and {self.epochs}")
        if not 0 < self.blend <= 1:
            raise ValueError(f"blend={self.blend}: give a weight in (0, 1] (1: the trained map as is)")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads={self.threads}: give at least 1, or None for the default")


@dataclass
class EpochLog:
    """One epoch, as callbacks and run.json see it (epochs count from 1).

    val_* are None without a validation set. logit_scale is the multiplier used,
    exp(clamped log-scale) = 1/temperature. seconds: wall time, validation included.
    """

    epoch: int
    train_loss: float
    val_loss: float | None
    val_a2t_acc1: float | None
    val_t2a_acc1: float | None
    logit_scale: float
    seconds: float


@dataclass
class RunResult:
    """What `train` returns.

    model:         the best state (lowest monitored loss), on the CPU, in eval mode.
    history:       one EpochLog per epoch run.
    best_epoch:    epoch of that state.
    stopped_early: True when the run ended before cfg.epochs (see stop_reason).
    metrics:       `metrics.evaluate` of the best model on the validation set ({} without one).
    stop_reason:   "finished", "early_stopping" or "callback".
    """

    model: AudioProjection
    config: TrainConfig
    history: list[EpochLog]
    best_epoch: int
    stopped_early: bool
    metrics: dict
    stop_reason: str = "finished"
    run_dir: Path | None = None


Callback = Callable[[EpochLog], object]


def train(
    cfg: TrainConfig,
    train_set: EmbeddingSet,
    val_set: EmbeddingSet | None = None,
    callbacks: Iterable[Callback] = (),
    run_dir: str | os.PathLike | None = None,
    init: Callable[[AudioProjection], None] | None = None,
    init_record: dict | None = None,
) -> RunResult:
    """Fit a projection from `train_set`'s audio to its text vectors.

    callbacks: callables given each EpochLog after the epoch ends; one that
    returns a truthy value stops the run there (the epoch's result is kept).
    A Stop button: `callbacks=[lambda log: stop_event.is_set()]`.
    run_dir: where projection.safetensors (best state), run.json and train_clips.json go: the
    checkpoint rewritten atomically after each improvement, the full run.json once at the end
    (see _RunWriter).
    init: called once with the new model (input statistics already set, still on the
    CPU) to start from known weights instead of the seeded random ones; `init_record`
    says in run.json what that start was (projection_init.ProjectionInit.record),
    from the first checkpoint on, so an interrupted run records it too.
    Runs with `cfg.threads` torch threads and restores the caller's count, also on errors.
    """
    _check_compatible(train_set, val_set)
    with TRAINING_THREADS.use(default_threads(cfg.threads, cfg.device)):
        return _fit(cfg, train_set, val_set, list(callbacks), run_dir, init, init_record)


def _fit(cfg, train_set, val_set, callbacks, run_dir, init, init_record) -> RunResult:
    """The body of `train`, run under its thread setting."""
    device = torch.device(cfg.device)
    rng = torch.Generator().manual_seed(cfg.seed)
    mapped = _is_memory_mapped(train_set)
    if not mapped:
        audio = torch.as_tensor(train_set.audio, dtype=torch.float32, device=device)
        text = torch.as_tensor(train_set.text, dtype=torch.float32, device=device)
    text_ids = _caption_ids(train_set.captions)
    sampler = _PairSampler(train_set.text_clip, train_set.n_clips, cfg.caption_sampling)
    val = _Validation(val_set, cfg.batch_size, device) if val_set is not None else None

    pcfg = ProjectionConfig(train_set.audio.shape[1], train_set.text.shape[1], cfg.learn_temperature,
                            cfg.init_temperature, cfg.max_logit_scale, cfg.input_transform)
    with torch.random.fork_rng(devices=[]):  # seeded init without touching the caller's RNG
        torch.manual_seed(cfg.seed)
        model = AudioProjection(pcfg)
    if cfg.standardize_audio and mapped:
        _set_input_stats_in_chunks(model, train_set.audio, sampler.clips_with_captions.numpy())
    elif cfg.standardize_audio:
        model.set_input_stats(audio[sampler.clips_with_captions.to(device)])
    if cfg.standardize_audio and cfg.min_input_std:
        with torch.no_grad():
            model.audio_std.clamp_(min=cfg.min_input_std)
    if init is not None:
        init(model)
    model.to(device)
    keep_start = cfg.anchor or cfg.blend != 1
    start_weights = [model.linear.weight.detach().clone(), model.linear.bias.detach().clone()] if keep_start else None
    if mapped:
        data = _MappedSide.prepare(model, train_set, text_ids, sampler, device)
    else:
        data = _FrozenSide.prepare(model, audio, text, text_ids, sampler, device)
    no_decay = [model.linear.bias] + ([model.logit_scale] if cfg.learn_temperature else [])
    optimizer = torch.optim.AdamW(  # foreach: fewer Python calls, the same bits as the per-tensor default
        [{"params": [model.linear.weight], "weight_decay": cfg.weight_decay},
         {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr, foreach=True)

    writer = _RunWriter(run_dir, cfg, train_set, val_set, init_record) if run_dir is not None else None
    history: list[EpochLog] = []
    best_loss, best_epoch, best_state, stale, stop_reason = math.inf, 0, None, 0, "finished"
    for epoch in range(1, cfg.epochs + 1):
        start = time.perf_counter()
        clips, caps = sampler.epoch(rng)
        order = torch.randperm(len(clips), generator=rng)
        train_loss = _train_epoch(model, optimizer, data, clips[order].to(device), caps[order].to(device),
                                  cfg.batch_size, cfg.anchor, start_weights)
        val_loss, a2t, t2a = val.run(model) if val is not None else (None, None, None)
        if not math.isfinite(train_loss) or (val_loss is not None and not math.isfinite(val_loss)):
            raise FloatingPointError(f"training diverged at epoch {epoch} (train loss {train_loss}, "
                                     f"val loss {val_loss}); lower lr (now {cfg.lr})")
        log = EpochLog(epoch, train_loss, val_loss, a2t, t2a, model.scale().item(), time.perf_counter() - start)
        history.append(log)

        monitored = val_loss if val is not None else train_loss
        if monitored < best_loss:
            best_loss, best_epoch, stale = monitored, epoch, 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            if writer is not None:
                writer.checkpoint(_blended_copy(model, start_weights, cfg.blend), history, best_epoch)
        else:
            stale += 1
        if any([bool(cb(log)) for cb in callbacks]):  # a list: every callback sees every epoch
            stop_reason = "callback"
            break
        if cfg.patience and stale >= cfg.patience:
            stop_reason = "early_stopping"
            break

    model.load_state_dict(best_state)
    _blend(model, start_weights, cfg.blend)
    model = model.cpu().eval()
    metrics = evaluate(model, val_set) if val_set is not None else {}
    if writer is not None:
        writer.finish(model, history, best_epoch, stop_reason, metrics)
    return RunResult(model, cfg, history, best_epoch, stop_reason != "finished", metrics, stop_reason,
                     Path(run_dir) if run_dir is not None else None)


def _blend(model: AudioProjection, start_weights: list | None, blend: float) -> None:
    """In place: the linear weight and bias become start + blend * (trained - start) (TrainConfig.blend)."""
    if blend == 1:
        return
    with torch.no_grad():
        for p, p0 in zip((model.linear.weight, model.linear.bias), start_weights):
            p.copy_(p0 + blend * (p - p0))


def _blended_copy(model: AudioProjection, start_weights: list | None, blend: float) -> AudioProjection:
    """`model` itself when blend is 1, else a blended copy (training goes on from `model`)."""
    if blend == 1:
        return model
    blended = copy.deepcopy(model)
    _blend(blended, start_weights, blend)
    return blended


def _train_epoch(model, optimizer, data: _FrozenSide, clips, caps, batch_size: int, anchor: float = 0.0,
                 start_weights: list | None = None) -> float:
    """One pass over the (clip, caption) pairs in this order; the mean batch loss (contrastive
    loss plus, with `anchor`, the pull toward `start_weights`: TrainConfig.anchor).

    The losses stay tensors until the end: one host sync per epoch, not one per step."""
    model.train()
    losses = []
    for c, j in zip(clips.split(batch_size), caps.split(batch_size)):
        a = F.normalize(model.linear(data.audio_rows(c)), dim=-1)  # = the loss's normalize(model(audio[c]))
        loss = unit_contrastive_loss(a, data.text_rows(j), model.scale(),
                                     c if data.clips_repeat else None,
                                     data.text_ids[j] if data.captions_repeat else None)
        if anchor:
            loss = loss + anchor * sum(((p - p0) ** 2).sum() for p, p0 in
                                       zip((model.linear.weight, model.linear.bias), start_weights))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.detach())
    return float(np.mean(torch.stack(losses).tolist()))


@dataclass
class _FrozenSide:
    """What every step reads and nothing trains, computed once per run.

    inputs: the audio standardised by the model (row by row: the bits `model(audio[c])`
    computed per batch). text: unit text vectors, normalised twice as before this
    was hoisted out of the loop (once here, once by `contrastive_loss` each step), so
    the same seed still gives the same bits. clips_repeat / captions_repeat: whether a
    clip or a caption string can occur twice in an epoch; when not, the loss gets no ids
    to check. Costs one more copy of the audio (100 MB for AudioCaps' 49,838 x 512).
    """

    inputs: torch.Tensor
    text: torch.Tensor
    text_ids: torch.Tensor
    clips_repeat: bool
    captions_repeat: bool

    def audio_rows(self, c: torch.Tensor) -> torch.Tensor:
        return self.inputs.index_select(0, c)

    def text_rows(self, j: torch.Tensor) -> torch.Tensor:
        return self.text.index_select(0, j)

    @classmethod
    def prepare(cls, model, audio, text, text_ids, sampler: _PairSampler, device) -> _FrozenSide:
        with torch.no_grad():
            inputs = model.standardize(audio)
        unit_text = F.normalize(F.normalize(text, dim=-1), dim=-1)
        return cls(inputs, unit_text, text_ids.to(device), *_repeats(sampler, text_ids))


def _repeats(sampler: _PairSampler, text_ids: torch.Tensor) -> tuple[bool, bool]:
    """(clips_repeat, captions_repeat): whether a clip or a caption string can occur twice in
    one epoch's pairs; when neither can, the loss needs no duplicate masks."""
    return (sampler.mode == "all" and bool((sampler.count > 1).any()),
            len(text_ids.unique()) < len(text_ids))


def _is_memory_mapped(embeddings: EmbeddingSet) -> bool:
    """A set read from STORE/packed (`--memmap`, `--float16`): maybe bigger than RAM, so never copied whole."""
    return isinstance(embeddings.audio, np.memmap) or isinstance(embeddings.text, np.memmap)


def _set_input_stats_in_chunks(model: AudioProjection, audio: np.ndarray, rows: np.ndarray,
                               chunk: int = 65536) -> None:
    """The model's input mean and std (unbiased, as torch.std) over `rows` of a memory-mapped
    array, summed in float64 chunk by chunk: equal to `set_input_stats` up to float rounding."""
    total, squares = np.zeros(audio.shape[1]), np.zeros(audio.shape[1])
    for start in range(0, len(rows), chunk):
        part = model.transform(torch.as_tensor(np.asarray(audio[rows[start : start + chunk]], dtype=np.float64))).numpy()
        total += part.sum(0)
        squares += np.square(part).sum(0)
    n = len(rows)
    mean = total / n
    std = np.sqrt(np.maximum(squares - n * mean**2, 0.0) / max(n - 1, 1))
    with torch.no_grad():
        model.audio_mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
        model.audio_std.copy_(torch.as_tensor(std, dtype=torch.float32).clamp_min(1e-6))


@dataclass
class _MappedSide:
    """The frozen side of a memory-mapped set: each step reads only its batch's rows from
    disk (float16 packs become float32 here) and standardises / normalises them as
    `_FrozenSide` does for all rows at once. Row-wise operations, so the same values; the
    RAM it needs is one batch, not the set."""

    model: AudioProjection
    audio: np.ndarray
    text: np.ndarray
    text_ids: torch.Tensor
    clips_repeat: bool
    captions_repeat: bool
    device: torch.device

    def _rows(self, array: np.ndarray, index: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(np.asarray(array[index.cpu().numpy()], dtype=np.float32), device=self.device)

    @torch.no_grad()
    def audio_rows(self, c: torch.Tensor) -> torch.Tensor:
        return self.model.standardize(self._rows(self.audio, c))

    @torch.no_grad()
    def text_rows(self, j: torch.Tensor) -> torch.Tensor:
        return F.normalize(F.normalize(self._rows(self.text, j), dim=-1), dim=-1)

    @classmethod
    def prepare(cls, model, embeddings: EmbeddingSet, text_ids, sampler: _PairSampler, device) -> _MappedSide:
        return cls(model, embeddings.audio, embeddings.text, text_ids.to(device), *_repeats(sampler, text_ids), device)


class _PairSampler:
    """The (clip, caption) pairs of one epoch, as two index tensors."""

    def __init__(self, text_clip: np.ndarray, n_clips: int, mode: str):
        text_clip = np.array(text_clip, dtype=np.int64)  # a writable copy (a packed store's is read-only)
        counts = np.bincount(text_clip, minlength=n_clips)
        self.mode = mode
        self.order = torch.as_tensor(np.argsort(text_clip, kind="stable"))  # captions grouped by clip
        self.clips_with_captions = torch.as_tensor(np.flatnonzero(counts))
        self.first = torch.as_tensor((np.cumsum(counts) - counts)[counts > 0])
        self.count = torch.as_tensor(counts[counts > 0])
        self.all_pairs = (torch.as_tensor(text_clip), torch.arange(len(text_clip)))
        if len(self.clips_with_captions) < 2:
            raise ValueError("training needs at least two clips with captions")

    def epoch(self, rng: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        if self.mode == "all":
            return self.all_pairs
        pick = (torch.rand(len(self.count), generator=rng, dtype=torch.float64) * self.count).long()
        return self.clips_with_captions, self.order[self.first + pick]


class _Validation:
    """Validation pairs (each clip with its first caption, as the course metric pairs
    them): loss over consecutive batches of the training batch size, and acc@1 both
    ways over the whole set."""

    def __init__(self, val_set: EmbeddingSet, batch_size: int, device: torch.device):
        first = first_caption_of_each_clip(val_set.text_clip, val_set.n_clips)
        clips = np.flatnonzero(first >= 0)
        self.audio = torch.as_tensor(val_set.audio[clips], dtype=torch.float32, device=device)
        self.text = F.normalize(torch.as_tensor(val_set.text[first[clips]], dtype=torch.float32, device=device), -1)
        self.text_ids = _caption_ids([val_set.captions[j] for j in first[clips]]).to(device)
        self.batch_size = batch_size

    @torch.no_grad()
    def run(self, model: AudioProjection) -> tuple[float, float, float]:
        model.eval()
        emb = model.embed(self.audio)
        total = 0.0
        for s in range(0, len(emb), self.batch_size):
            rows = slice(s, s + self.batch_size)
            batch_loss = contrastive_loss(emb[rows], self.text[rows], model.scale(), text_ids=self.text_ids[rows])
            total += batch_loss.item() * len(emb[rows])
        acc = course_accuracy(emb.cpu().numpy(), self.text.cpu().numpy(), ks=(1,))
        return total / len(emb), acc["a2t_acc@1"], acc["t2a_acc@1"]


def _caption_ids(captions: list[str]) -> torch.Tensor:
    """One integer per distinct caption string: equal captions are not each other's negatives."""
    return torch.as_tensor(np.unique(np.asarray(captions, dtype=object), return_inverse=True)[1].reshape(-1))


def _provenance(meta: dict) -> dict:
    """The parts of a store manifest that say what produced the vectors."""
    return {k: v for k, v in meta.items() if "encoder" in k or k in ("dataset", "split")}


def _check_compatible(train_set: EmbeddingSet, val_set: EmbeddingSet | None) -> None:
    from clapdemo.encoders.identity import check_same_encoders

    if val_set is None:
        return
    if train_set.audio.shape[1] != val_set.audio.shape[1] or train_set.text.shape[1] != val_set.text.shape[1]:
        raise ValueError(f"train vectors are {train_set.audio.shape[1]}->{train_set.text.shape[1]} wide, "
                         f"validation {val_set.audio.shape[1]}->{val_set.text.shape[1]}: embed both splits "
                         "with the same encoders")
    check_same_encoders(train_set.meta, val_set.meta, "the training vectors", "the validation vectors")


class _RunWriter:
    """What a run directory gets, and when: on each improvement only the checkpoint
    (projection.safetensors, atomic), whose metadata carries the run's status ("running") and its
    epochs so far; at the first one also train_clips.json (the clips never change during a run)
    and a first run.json saying "running" (so a killed run is listed, and shown "interrupted");
    at the end the checkpoint once more with its plain summary, and run.json whole, once. Every
    file is written atomically; a failed write (disk full, read-only folder) raises an OSError
    that says so, and the checkpoint saved before stays whole and readable."""

    def __init__(self, run_dir, cfg, train_set, val_set, init_record):
        self.run_dir, self.cfg, self.train_set, self.val_set = Path(run_dir), cfg, train_set, val_set
        self.init_record, self.started = init_record, False

    def checkpoint(self, model, history, best_epoch) -> None:
        info = self._info(model, history, best_epoch, "running", {})
        with self._saving():
            save_projection(model, model.config, self.run_dir, extra=info.checkpoint_extra())
            if not self.started:
                clips = {"train": list(map(str, self.train_set.clip_ids)),
                         "val": list(map(str, self.val_set.clip_ids)) if self.val_set is not None else [],
                         "sha256": recorded_hashes(self.train_set, self.val_set)}  # the same audio under another name is no held-out clip
                atomic_write(self.run_dir / CLIPS_FILE, json.dumps(clips).encode("utf-8"))  # before run.json, which names it
                atomic_write(self.run_dir / RUN_FILE, info.to_json())  # after the checkpoint: lags it, never leads
                self.started = True

    def finish(self, model, history, best_epoch, status, metrics) -> None:
        info = self._info(model, history, best_epoch, status, metrics)
        with self._saving():
            save_projection(model, model.config, self.run_dir, extra=info.projection_extra())
            atomic_write(self.run_dir / RUN_FILE, info.to_json())

    @contextmanager
    def _saving(self):
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            yield
        except OSError as error:
            raise OSError(error.errno, f"{self.run_dir}: cannot save the checkpoint ({error.strerror or error}); "
                          "the one saved before is intact. Free some space or choose another --out") from error

    def _info(self, model, history, best_epoch, status, metrics) -> RunInfo:
        train_set, val_set = self.train_set, self.val_set
        return RunInfo(
            status=status,
            config=asdict(self.cfg),
            projection=asdict(model.config),
            data=_provenance(train_set.meta),
            n_train_clips=train_set.n_clips,
            n_train_captions=train_set.n_captions,
            n_val_clips=val_set.n_clips if val_set is not None else 0,
            monitor="val_loss" if val_set is not None else "train_loss",
            best_epoch=best_epoch,
            history=[asdict(log) for log in history],
            metrics=metrics,
            init=self.init_record,  # what the start was (None: the seeded random init, or a caller's own)
            training=train_set.meta.get("training"),  # several stores, held-out clips (training.plan)
        )


def split_validation(embeddings: EmbeddingSet, fraction: float = 0.1, seed: int = 0) -> tuple[EmbeddingSet, EmbeddingSet]:
    """(train, validation): a seeded `fraction` of the clips (at least one), with all their captions, held out."""
    if not 0 < fraction < 1:
        raise ValueError(f"validation fraction {fraction} must be between 0 and 1")
    if embeddings.n_clips < 3:
        raise ValueError(f"only {embeddings.n_clips} clips embedded: need at least 3 to hold some out for validation")
    order = np.random.default_rng(seed).permutation(embeddings.n_clips)
    n_val = min(embeddings.n_clips - 2, max(1, round(fraction * embeddings.n_clips)))
    return embeddings.subset(np.sort(order[n_val:])), embeddings.subset(np.sort(order[:n_val]))
