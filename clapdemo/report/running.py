"""Running the quality report: training through the one entry point (training.plan), jobs in
worker processes, the sweep and the label bridge, the results dict (the clips and the text vectors,
embedded once, come from embeddings.py)."""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import numpy as np

from clapdemo import logs
from clapdemo.files import atomic_write
from clapdemo.training.projection_init import AUDIOSET_OUTPUTS
from clapdemo.report.config import (BASE, CLIP_RANDOM, TEMPLATES, WINDOWS, ReportConfig, Variant, combined_variants,
                                    sweep_variants, variant_args)
from clapdemo.report.embeddings import Clips, TextBank, load_clips
from clapdemo.report.render import write_report

logger = logs.get(__name__)


# ----------------------------------------------------------------------------- training and scoring


def _training_set(clips: Clips, bank: TextBank, v: Variant, rows: np.ndarray):
    """An EmbeddingSet of `rows`: each clip with one caption per training template."""
    from clapdemo.stores.embedding_set import EmbeddingSet

    rows = np.asarray(rows)
    audio = clips.features(v.output, v.window)[rows]
    n_t = len(v.train_templates)
    text = np.concatenate([bank.vectors(v.text_encoder, t)[clips.label[rows]] for t in v.train_templates])
    text_clip = np.tile(np.arange(len(rows)), n_t)
    captions = [t.format(clips.classes[clips.label[r]]) for t in v.train_templates for r in rows]
    meta = {"audio_encoder": {"name": f"{clips.identity.get('name')}:{v.output}@{v.window}"},
            "text_encoder": {"name": v.text_encoder}}
    return EmbeddingSet(audio, text, text_clip, [clips.ids[r] for r in rows], [clips.paths[r] for r in rows],
                        captions, [clips.classes[clips.label[r]] for r in rows], meta)


def fit(clips: Clips, bank: TextBank, v: Variant, rows: np.ndarray, seed: int, cfg: ReportConfig):
    """Train a projection on the clips at `rows` (early stopping on a held-out share of them),
    through the one training entry point (training.plan). Returns (model, RunResult)."""
    from clapdemo.training.projection_init import bridge_from_labels
    from clapdemo.training.plan import assemble, plan_training

    data = assemble([_training_set(clips, bank, v, rows)], ["report clips"], val_fraction=cfg.val_fraction, seed=seed)
    n_pairs = data.train_set.n_clips * (len(v.train_templates) if v.caption_sampling == "all" else 1)
    init = "random"
    if v.init == "labels":
        centre = AUDIOSET_OUTPUTS.get(v.output, "zero")  # logits: centred on the training mean
        init = bridge_from_labels(bank.label_matrix(v.text_encoder), centre, v.text_encoder)
    run = plan_training(data, init, lr=v.lr, epochs=v.max_epochs or cfg.max_epochs,
                        batch_size=max(2, v.batch_size or n_pairs), weight_decay=v.weight_decay,
                        learn_temperature=v.learn_temperature, seed=seed, patience=cfg.patience,
                        caption_sampling=v.caption_sampling)
    result = run.start()
    return result.model, result


def project(model, audio: np.ndarray) -> np.ndarray:
    from clapdemo.evaluation.metrics import project_audio

    return project_audio(model, audio)


def zero_shot_splits(n_classes: int, n_splits: int, n_unseen: int, seed: int) -> list[np.ndarray]:
    """`n_splits` sets of `n_unseen` held-out class indices, split i drawn with seed + i."""
    return [np.sort(np.random.default_rng(seed + i).choice(n_classes, n_unseen, replace=False))
            for i in range(n_splits)]


def zero_shot_scores(audio_proj: np.ndarray, labels: np.ndarray, class_vectors: np.ndarray,
                     unseen: np.ndarray, ks=(1, 3, 5, 10)) -> dict:
    """Top-k accuracy of the clips of `unseen` classes among the unseen names and among all names."""
    from clapdemo.evaluation.metrics import zero_shot_accuracy

    remap = {c: i for i, c in enumerate(unseen)}
    among_unseen = zero_shot_accuracy(audio_proj, class_vectors[unseen], [remap[c] for c in labels], ks)
    among_all = zero_shot_accuracy(audio_proj, class_vectors, labels, ks)
    return ({f"unseen_{k}": v for k, v in among_unseen.items()}
            | {f"all_{k}": v for k, v in among_all.items()})


# Jobs run in worker processes (or inline): each gets the clips, the text vectors and the config once.
_WORKER: dict = {}


def _init_worker(clips: Clips, classes: list[str], vectors: dict, cfg: ReportConfig, pool: bool = False) -> None:
    """Set up a worker: its thread settings are passed here, not through the parent's environment.
    In a pool process (`pool`) the BLAS pools numpy uses get `cfg.threads` too (threadpoolctl, when
    installed): they spin while they wait, and on a busy 2-core machine one thread per worker is faster."""
    import torch

    torch.set_num_threads(cfg.threads)
    if pool:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            pass
        else:
            threadpool_limits(cfg.threads)  # this worker process only
    _WORKER.update(clips=clips, bank=TextBank({}, classes, vectors), cfg=cfg)


def _zero_shot_job(job) -> dict:
    """Train on the seen classes of one split with one seed; score the unseen clips."""
    v, seed, i, unseen, ks = job
    clips, bank, cfg = _WORKER["clips"], _WORKER["bank"], _WORKER["cfg"]
    test = np.flatnonzero(np.isin(clips.label, unseen))
    train_rows = np.flatnonzero(~np.isin(clips.label, unseen))
    start = time.perf_counter()
    model, result = fit(clips, bank, v, train_rows, seed, cfg)
    audio = project(model, clips.features(v.output, v.window)[test])
    scores = zero_shot_scores(audio, clips.label[test], bank.class_vectors(v.text_encoder, v.templates_for_test),
                              unseen, ks)
    return {"seed": seed, "split": i, "epochs": len(result.history), "best_epoch": result.best_epoch,
            "seconds": time.perf_counter() - start, "logit_scale": model.scale().item(), "n_test": len(test), **scores}


def _retrieval_job(job) -> dict:
    """Train on every class's clips outside one fold; the course metrics on the fold."""
    from clapdemo.evaluation.metrics import course_accuracy, course_random_baseline, zero_shot_accuracy

    v, seed, f = job
    clips, bank, cfg = _WORKER["clips"], _WORKER["bank"], _WORKER["cfg"]
    ks = tuple(range(1, 11))
    fold = stratified_folds(clips.label, cfg.retrieval_folds, seed)
    test, train_rows = np.flatnonzero(fold == f), np.flatnonzero(fold != f)
    model, _ = fit(clips, bank, v, train_rows, seed, cfg)
    audio = project(model, clips.features(v.output, v.window)[test])
    labels = clips.label[test]
    course = course_accuracy(audio, bank.vectors(v.text_encoder, v.templates_for_test[0])[labels], ks)
    chance = course_random_baseline(len(test), ks, repeats=20, seed=seed)
    classify = zero_shot_accuracy(audio, bank.class_vectors(v.text_encoder, v.templates_for_test), labels, (1, 5))
    return {"seed": seed, "fold": f, "n_test": len(test), **course,
            **{k: chance[k] for k in chance if not k.startswith("random_empirical_")},
            **{f"empirical_{k}": chance[f"random_empirical_{k}"] for k in course},
            "classify50_acc@1": classify["zero_shot_acc@1"], "classify50_acc@5": classify["zero_shot_acc@5"]}


class Runner:
    """Runs jobs inline (workers=1) or in a pool of spawned processes, one thread each.

    Every job's result is also kept in OUT/cache/jobs.json (keyed by the job, the
    training settings and the clips), so a report that was stopped resumes where it was."""

    def __init__(self, cfg: ReportConfig, clips: Clips, bank: TextBank):
        self.cfg, self.pool = cfg, None
        self.memo_file = Path(cfg.out) / "cache" / "jobs.json"
        settings = {k: getattr(cfg, k) for k in ("max_epochs", "patience", "val_fraction", "retrieval_folds")}
        self.salt = json.dumps([settings, clips.ids, clips.identity, sorted(clips.audio)], sort_keys=True, default=str)
        try:
            memo = json.loads(self.memo_file.read_text())
            self.memo = memo["jobs"] if memo.get("salt") == self.salt else {}
        except (OSError, ValueError, KeyError):
            self.memo = {}
        args = (clips, bank.classes, dict(bank.cache), cfg)
        if cfg.workers > 1:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            self.pool = ProcessPoolExecutor(cfg.workers, mp_context=multiprocessing.get_context("spawn"),
                                            initializer=_init_worker, initargs=(*args, True))
        else:
            _init_worker(*args)

    def map(self, fn, jobs) -> list:
        keys = [json.dumps([fn.__name__, asdict(job[0]), *[np.asarray(x).tolist() for x in job[1:]]],
                           sort_keys=True, default=str) for job in jobs]
        todo = [(k, job) for k, job in zip(keys, jobs) if k not in self.memo]
        if todo:
            results = self.pool.map(fn, [job for _, job in todo]) if self.pool else (fn(job) for _, job in todo)
            for (key, _), result in zip(todo, results):  # saved as each finishes
                self.memo[key] = result
                self._save()
        return [self.memo[k] for k in keys]

    def _save(self) -> None:
        self.memo_file.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(self.memo_file, json.dumps({"salt": self.salt, "jobs": self.memo}).encode("utf-8"))

    def close(self) -> None:
        if self.pool:
            self.pool.shutdown()
        _WORKER.clear()


def run_zero_shot(runner: Runner, v: Variant, splits: list[np.ndarray], seeds, topk_curve: bool = False) -> dict:
    """Every (seed, split) of one variant, aggregated."""
    ks = tuple(range(1, 11)) if topk_curve else (1, 5)
    per_run = runner.map(_zero_shot_job, [(v, seed, i, unseen, ks) for seed in seeds for i, unseen in enumerate(splits)])
    return _aggregate(per_run, seeds, len(splits))


def _aggregate(per_run: list[dict], seeds, n_splits: int) -> dict:
    """mean over everything; 'seed_sd': sd of the per-seed means (over splits); 'split_sd': sd of the per-split means."""
    metrics = [k for k in per_run[0] if k.startswith(("unseen_", "all_"))]
    out = {"runs": per_run, "n_runs": len(per_run)}
    for key in metrics:
        values = np.array([[r[key] for r in per_run if r["seed"] == s] for s in seeds])  # (seeds, splits)
        out[key] = {"mean": float(values.mean()), "seed_sd": float(values.mean(1).std(ddof=1)) if len(seeds) > 1 else 0.0,
                    "split_sd": float(values.mean(0).std(ddof=1)) if n_splits > 1 else 0.0}
    out["seconds_per_run"] = float(np.median([r["seconds"] for r in per_run]))
    out["epochs"] = float(np.median([r["epochs"] for r in per_run]))
    return out


def stratified_folds(labels: np.ndarray, n_folds: int, seed: int) -> np.ndarray:
    """(n,) fold number per clip: each class's clips shuffled (seeded) and dealt round-robin."""
    rng = np.random.default_rng(seed)
    fold = np.empty(len(labels), dtype=np.int64)
    offset = 0
    for c in np.unique(labels):
        rows = rng.permutation(np.flatnonzero(labels == c))
        fold[rows] = (np.arange(len(rows)) + offset) % n_folds
        offset += len(rows)
    return fold


def run_retrieval(runner: Runner, v: Variant, seeds) -> dict:
    """Supervised: train on all classes' clips of the other folds, test on one fold; course metrics.

    The course metric pairs each test clip with its class caption (first template); a
    clip whose nearest caption is another clip's identical caption counts as right (a
    tie in the course's favour), so a2t accuracy@1 is 50-way classification of the test
    clips among the classes present in the fold. t2a asks for the one paired clip among
    all test clips: other clips of the same class are "wrong", which caps it well below 1."""
    per_run = runner.map(_retrieval_job, [(v, seed, f) for seed in seeds for f in range(runner.cfg.retrieval_folds)])
    keys = [k for k in per_run[0] if k not in ("seed", "fold", "n_test")]
    out = {"runs": per_run}
    for key in keys:
        per_seed = [np.mean([r[key] for r in per_run if r["seed"] == s]) for s in seeds]
        out[key] = {"mean": float(np.mean(per_seed)), "seed_sd": float(np.std(per_seed, ddof=1)) if len(seeds) > 1 else 0.0}
    out["n_test"] = float(np.mean([r["n_test"] for r in per_run]))
    return out


def label_bridge(clips: Clips, bank: TextBank, splits: list[np.ndarray], window: str = "10s",
                 encoder: str = "minilm", templates=TEMPLATES) -> dict:
    """No training: a clip's vector is its AudioSet probabilities (sigmoid of the logits)
    weighting the text vectors of the 527 AudioSet label names; classes by their names
    (templates averaged), as the trained rows classify."""
    audio = clips.features("probs", window) @ bank.label_matrix(encoder)
    class_vectors = bank.class_vectors(encoder, templates)
    per_run = []
    for i, unseen in enumerate(splits):
        test = np.flatnonzero(np.isin(clips.label, unseen))
        per_run.append({"seed": 0, "split": i, "seconds": 0.0, "epochs": 0,
                        **zero_shot_scores(audio[test], clips.label[test], class_vectors, unseen, tuple(range(1, 11)))})
    return _aggregate(per_run, (0,), len(splits))


# ----------------------------------------------------------------------------- the whole report


def load_text_encoders(cfg: ReportConfig, log: Callable[[str], None] = logger.info) -> dict:
    """{"minilm": ..., CLIP_RANDOM: ... (only with cfg.clip_tokenizer)}."""
    import warnings

    from clapdemo.encoders import load_text_encoder

    encoders = {"minilm": load_text_encoder("minilm")}
    if cfg.clip_tokenizer:
        from clapdemo.encoders.text import clip_from_config

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # said loudly in the report instead
            encoders[CLIP_RANDOM] = clip_from_config(cfg.clip_tokenizer)
        log("CLIP text tower built with RANDOM weights (no CLIP weights here): a plumbing row only")
    return encoders


def run_report(cfg: ReportConfig, audio_encoder=None, text_encoders: dict | None = None,
               log: Callable[[str], None] = logger.info, clips: Clips | None = None) -> dict:
    """Measure everything, write OUT/report.md, report.json, report_topk.png; return the results dict.

    audio_encoder / text_encoders ({"minilm": ..., CLIP_RANDOM: ...}) / clips: already loaded
    ones (tests pass stand-ins); by default they are loaded from `cfg`."""
    import torch

    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    threads_before = torch.get_num_threads()
    runner = None
    try:
        clips = clips if clips is not None else load_clips(cfg, audio_encoder, log)
        encoders = text_encoders if text_encoders is not None else load_text_encoders(cfg, log)
        bank = TextBank(encoders, clips.classes)
        for name in encoders:  # every text vector the jobs need, embedded here once
            for template in TEMPLATES:
                bank.vectors(name, template)
        bank.label_matrix("minilm")
        n_unseen = min(cfg.n_unseen, len(clips.classes) - 2)
        splits = zero_shot_splits(len(clips.classes), cfg.n_splits, n_unseen, cfg.split_seed)
        runner = Runner(cfg, clips, bank)
        rows = []

        def measure(name: str, v: Variant, seeds) -> dict:
            t0 = time.perf_counter()
            result = run_zero_shot(runner, v, splits, seeds)
            row = {"name": name, "kind": "sweep", "variant": asdict(v), "describe": v.describe(),
                   "seeds": list(seeds), **result}
            acc = row["unseen_zero_shot_acc@1"]
            log(f"{name:55s} zero-shot@1 among {n_unseen}: {acc['mean']:.3f} (seeds {len(seeds)}, seed sd "
                f"{acc['seed_sd']:.3f}, split sd {acc['split_sd']:.3f}); among all: "
                f"{row['all_zero_shot_acc@1']['mean']:.3f}  {time.perf_counter() - t0:.0f} s")
            return row

        # 1. every row with the screening seed(s); 2. the combinations; 3. the best rows and the base with all seeds
        for name, v in sweep_variants(cfg.sweep, CLIP_RANDOM in encoders):
            if v.text_encoder in encoders:
                rows.append(measure(name, v, cfg.screen_seeds))
        if cfg.sweep == "full":
            for name, v in combined_variants(rows):
                rows.append(measure(name, v, cfg.screen_seeds))
        if tuple(cfg.seeds) != tuple(cfg.screen_seeds):
            ranked = sorted((r for r in rows if r["variant"]["text_encoder"] == "minilm"),
                            key=lambda r: -r["unseen_zero_shot_acc@1"]["mean"])
            again = [rows[0]] + [r for r in ranked[:cfg.top_rows] if r is not rows[0]]
            for row in again:
                rows[rows.index(row)] = measure(row["name"], Variant(**variant_args(row["variant"])), cfg.seeds)
        full = [r for r in rows if r["variant"]["text_encoder"] == "minilm" and r["seeds"] == list(cfg.seeds)]
        best = max(full, key=lambda r: r["unseen_zero_shot_acc@1"]["mean"])
        default = Variant(**variant_args(best["variant"]))
        log(f"default: {best['name']} ({default.describe()})")

        fresh = zero_shot_splits(len(clips.classes), cfg.n_splits, n_unseen, cfg.confirm_split_seed)
        confirm = run_zero_shot(runner, default, fresh, cfg.seeds, topk_curve=True)
        confirm_base = run_zero_shot(runner, BASE, fresh, cfg.screen_seeds, topk_curve=True)
        log(f"confirmation on fresh splits: default {confirm['unseen_zero_shot_acc@1']['mean']:.3f}, "
            f"base {confirm_base['unseen_zero_shot_acc@1']['mean']:.3f}")
        bridge = {w: label_bridge(clips, bank, splits, w) for w in WINDOWS}
        bridge_fresh = label_bridge(clips, bank, fresh, default.window)
        retrieval = run_retrieval(runner, default, cfg.seeds)
        retrieval_base = run_retrieval(runner, BASE, cfg.screen_seeds)
        log(f"retrieval: default a2t@1 {retrieval['a2t_acc@1']['mean']:.3f}, t2a@1 {retrieval['t2a_acc@1']['mean']:.3f}")
    finally:
        if runner is not None:
            runner.close()
        torch.set_num_threads(threads_before)

    results = {
        "format": "clapdemo.report", "format_version": 1,
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()},
        "machine": machine_line(), "date": time.strftime("%Y-%m-%d %H:%M"),
        "seconds": time.perf_counter() - started,
        "data": {"n_clips": len(clips.ids), "n_classes": len(clips.classes), "n_unseen": n_unseen,
                 "splits": [s.tolist() for s in splits], "fresh_splits": [s.tolist() for s in fresh],
                 "audio_encoder": clips.identity, "text_encoders": {k: e.identity.to_dict() for k, e in encoders.items()}},
        "sweep": rows, "default": {"name": best["name"], "variant": asdict(default), "describe": default.describe()},
        "confirmation": {"default": confirm, "base": confirm_base, "label_bridge": bridge_fresh},
        "label_bridge": bridge, "retrieval": {"default": retrieval, "base": retrieval_base},
    }
    written = write_report(results, out)
    log(f"wrote {out / 'report.md'}, {', '.join(p.name for p in written[1:])} in {results['seconds']:.0f} s")
    return results


def machine_line() -> str:
    """CPU model, cores, Python and torch versions, and the load average (the machine may be shared)."""
    import torch

    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    return (f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}, torch {torch.__version__}, "
            f"load average {load}")
