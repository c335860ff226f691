"""`python -m clapdemo <command>`: the pipeline from a terminal.

Each command parses its flags into a small config, calls the library, prints
what it did. No logic lives here that the app lacks, and no `args` object
reaches the library.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from clapdemo import logs
from clapdemo.data.dataset import DATASET_KINDS
from clapdemo.data.datasets import guess_dataset_kind
from clapdemo.encoders import DEFAULT_AUDIO_ENCODER, DEFAULT_TEXT_ENCODER
from clapdemo.training.projection_init import DEFAULT_INIT, INITS


def main(argv: list[str] | None = None) -> int:
    logs.to_console()  # a program: the library's progress and warnings on the console
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return args.handler(args) or 0
    except Exception as error:
        if not _is_user_error(error):
            raise  # a bug: keep the traceback
        print(f"error: {_message(error)}", file=sys.stderr)
        return 1


def _message(error: Exception) -> str:
    """The error's message; a bare full-disk OSError gets its path and what to do (the store's words)."""
    import errno

    from clapdemo.stores.store import StoreWriteError

    if isinstance(error, OSError) and not isinstance(error, StoreWriteError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return str(StoreWriteError(error.filename or "the output folder", error))
    return str(error)


def _positive_int(text: str) -> int:
    """argparse type: a whole number >= 1 (0 or -1 would mean nothing, or drop clips silently)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be 1 or more")
    return value


def _is_user_error(error: Exception) -> bool:
    """Errors whose message already says what is wrong and what to do: bad input, a full disk,
    a busy store (OSError covers StoreWriteError and StoreBusy), a missing weight file."""
    from clapdemo.encoders.weights import WeightsError

    return isinstance(error, (ValueError, OSError, KeyError, WeightsError))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m clapdemo", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(title="commands")
    _add_precompute(commands)
    _add_train(commands)
    _add_evaluate(commands)
    _add_search(commands)
    _add_joint_space(commands)
    _add_export(commands)
    _add_encoders(commands)
    _add_store(commands)
    _add_sample_set(commands)
    _add_report(commands)
    _add_recipes(commands)
    _add_benchmark(commands)
    _add_caption_pool(commands)
    from clapdemo.cli.index_and_doctor import add_doctor, add_index  # the library's commands live there

    add_index(commands)
    add_doctor(commands)
    return parser


# ---------------------------------------------------------------- precompute

def _add_precompute(commands) -> None:
    p = commands.add_parser("precompute", help="embed a dataset's clips and captions into a store (resumable)",
                            description="Embed every clip and caption of one dataset split into STORE_DIR. "
                            "Killed or stopped runs resume: finished clips are skipped.")
    p.add_argument("--dataset", required=True, choices=[*DATASET_KINDS, "audiocaps-labels", "auto"],
                   help="which reader to use for --data-root; auto: guessed from the folder's files; "
                   "audiocaps-labels: AudioCaps captions against their clip's AudioSet labels from --segments "
                   "(no audio needed; see docs/training.md, 'Label pairs')")
    p.add_argument("--data-root", required=True, type=Path,
                   help="the dataset folder (AudioCaps: the folder holding audiocaps/ or audiocaps/ itself)")
    p.add_argument("--split", default=None,
                   help="AudioCaps: train/val/test (default test); ESC-50: all, fold4, folds1-3, 1,2,3; "
                   "folder: all; Clotho: development/validation/evaluation")
    p.add_argument("--audio-encoder", default=DEFAULT_AUDIO_ENCODER,
                   help="audio encoder name, optionally :output (e.g. mn04_as:logits); see `encoders`")
    p.add_argument("--text-encoder", default=DEFAULT_TEXT_ENCODER,
                   help="auto (CLIP if the hub answers, else MiniLM), clip, clip:<hub id>, minilm")
    p.add_argument("--out", required=True, type=Path, help="store directory to create or resume")
    p.add_argument("--batch-size", type=_positive_int, default=32, help="clips per encoder forward pass (default 32)")
    p.add_argument("--checkpoint-every", type=_positive_int, default=256,
                   help="write a shard to disk every N clips; a killed run loses at most this many (default 256)")
    p.add_argument("--workers", type=_positive_int, default=2, help="decoding threads (default 2)")
    p.add_argument("--classes", default=None, help="ESC-50: comma-separated class names to keep")
    p.add_argument("--exclude-classes", default=None, help="ESC-50: comma-separated class names to leave out")
    p.add_argument("--template", action="append", default=None,
                   help="ESC-50: caption template with {} for the class name; repeat for several (default 'the sound of {}')")
    p.add_argument("--captions-csv", type=Path, default=None, help="folder: CSV with file,caption (default captions.csv)")
    p.add_argument("--segments", action="append", type=Path, default=None,
                   help="audiocaps-labels: an AudioSet segment CSV (repeat for several; default: those in "
                   "the folder $CLAPDEMO_SEGMENTS_DIR)")
    p.add_argument("--wavcaps", type=Path, default=None,
                   help="audiocaps-labels: also WavCaps' AudioSet_SL captions JSON (optional)")
    p.add_argument("--limit", type=_positive_int, default=None, help="only the first N clips (a quick trial)")
    p.add_argument("--device", default="cpu", help="torch device for the encoders (default cpu)")
    p.add_argument("--shard", default=None, metavar="I/N",
                   help="embed only the clips whose id hashes to I mod N; run N processes (0/N .. N-1/N) into one store")
    p.add_argument("--engine", default="local", choices=["local", "ray"],
                   help="local: this process (default); ray: a Ray Data pipeline (pip install -r requirements-scale.txt)")
    p.add_argument("--ray-address", default=None, help="with --engine ray: the cluster to join (default: start a local Ray)")
    p.set_defaults(handler=run_precompute)


def dataset_options(args) -> dict:
    """The reader options a user gave, by dataset kind."""
    split_list = lambda text: [c.strip() for c in text.split(",") if c.strip()] if text else None  # noqa: E731
    options: dict = {}
    if args.dataset in ("esc50", "urbansound8k"):
        if args.classes:
            options["classes"] = split_list(args.classes)
        if args.exclude_classes:
            options["exclude_classes"] = split_list(args.exclude_classes)
        if args.template:
            options["templates"] = args.template
    if args.dataset == "folder" and args.captions_csv:
        options["csv"] = args.captions_csv
    return options


def run_precompute(args) -> int:
    from clapdemo.data.datasets import load_dataset

    if args.dataset == "audiocaps-labels":
        return run_label_pairs(args)
    if args.dataset == "auto":
        args.dataset, why = guess_dataset_kind(args.data_root)
        print(f"dataset kind {args.dataset} ({why})")

    dataset = load_dataset(args.dataset, args.data_root, args.split, **dataset_options(args))
    print(f"dataset: {args.dataset} {dataset.split} at {args.data_root}: {dataset.summary()}")
    _print_some("warning", dataset.warnings, "in the dataset's tables")
    if args.limit:
        dataset.clips = dataset.clips.head(args.limit)
    audio_encoder, text_encoder = load_encoders(args)
    report = _run_engine(args, dataset, audio_encoder, text_encoder)
    print(report.summary())
    _print_some("skipped", [f"{c}: {i['audio_path']}: {i['error']}" for c, i in report.failed.items()],
                f"listed in {Path(args.out) / 'failed.json'}")
    _print_some("missing", [f"{c}: named in the table, no audio file found" for c in report.missing],
                f"listed in {report.report_file}")
    _print_some("flagged", [f"{c}: {i['audio_path']}: {'; '.join(i['notes'])}" for c, i in report.flagged.items()],
                f"listed in {report.report_file}")
    return 0


def run_label_pairs(args) -> int:
    from clapdemo.data.label_pairs import make_label_pairs, write_label_store

    pairs = make_label_pairs(args.data_root, args.split or "train", args.segments, args.wavcaps)
    print(f"label pairs: AudioCaps {pairs.sources['split']} at {args.data_root}: {pairs.summary()}")
    _print_some("warning", pairs.warnings, "in the tables")
    if args.limit:
        pairs.clips = pairs.clips.head(args.limit)
    audio_encoder, text_encoder = load_encoders(args)
    report = write_label_store(pairs, audio_encoder, text_encoder, args.out)
    print(f"{args.out}: {report['labelled_clips']} clips, {report['captions']} captions (labels, no audio); "
          f"{len(report['unlabelled'])} unlabelled clips listed in {Path(args.out) / 'report.json'}")
    return 0


def _run_engine(args, dataset, audio_encoder, text_encoder):
    """--shard picks the clips and the store lock; --engine picks who embeds them."""
    from clapdemo.stores.work_split import job_name, parse_shard, select_shard

    select, job = None, "all"
    if args.shard:
        select, job = select_shard(*parse_shard(args.shard)), job_name(*parse_shard(args.shard))
    options = dict(batch_size=args.batch_size, checkpoint_every=args.checkpoint_every, select=select, job=job)
    if args.engine == "ray":
        from clapdemo.stores.ray_engine import precompute_ray

        return precompute_ray(dataset, audio_encoder, text_encoder, args.out, address=args.ray_address, **options)
    from clapdemo.stores.precompute import precompute

    return precompute(dataset, audio_encoder, text_encoder, args.out, decode_workers=args.workers, **options)


def _print_some(kind: str, lines: list[str], where: str, limit: int = 20) -> None:
    """The first `limit` lines, then how many more and where they all are."""
    for line in lines[:limit]:
        print(f"  {kind} {line}")
    if len(lines) > limit:
        print(f"  ... and {len(lines) - limit} more, {where}")


def load_encoders(args) -> tuple:
    """The --audio-encoder and --text-encoder of a precompute-like command, loaded and printed."""
    from clapdemo.encoders import load_audio_encoder, load_text_encoder

    audio_encoder = load_audio_encoder(args.audio_encoder, device=args.device)
    text_encoder = load_text_encoder(args.text_encoder, device=args.device)
    print_encoders(audio_encoder, text_encoder)
    return audio_encoder, text_encoder


def print_encoders(audio_encoder, text_encoder) -> None:
    print(f"audio encoder: {audio_encoder.name} ({audio_encoder.dim}-d, weights {audio_encoder.identity.weights_sha256[:12]})")
    reason = getattr(text_encoder, "selection_reason", "requested")
    print(f"text encoder: {text_encoder.name} ({text_encoder.dim}-d, weights {text_encoder.identity.weights_sha256[:12]}; {reason})")


# ---------------------------------------------------------------- train

def _add_train(commands) -> None:
    p = commands.add_parser("train", help="train the audio projection on a store",
                            description="Train AudioProjection (and the temperature) with the symmetric "
                            "contrastive loss; keeps the best checkpoint by validation loss.")
    p.add_argument("--train", required=True, type=Path, action="append",
                   help="store with training clips; repeat to mix stores of one encoder space (e.g. label pairs "
                   "and real audio)")
    p.add_argument("--val", type=Path, default=None,
                   help="store with validation clips (default: hold out --val-fraction of --train's real audio)")
    p.add_argument("--hold-out", type=float, default=0.0,
                   help="set aside this seeded, class-stratified share of the real-audio --train clips: never "
                   "trained on, listed in run.json as the clips to measure on (evaluate --unseen-only)")
    p.add_argument("--val-fraction", type=float, default=0.1,
                   help="share of training clips held out for validation when --val is not given (default 0.1)")
    p.add_argument("--out", required=True, type=Path, help="run directory: projection.safetensors + run.json")
    p.add_argument("--epochs", type=_positive_int, default=None, help="maximum epochs (default from TrainConfig)")
    p.add_argument("--batch-size", type=_positive_int, default=None, help="pairs per step (default from TrainConfig)")
    p.add_argument("--lr", type=float, default=None,
                   help="AdamW learning rate (default: follows --init: 3e-3 from the AudioSet labels, else TrainConfig's 1e-3)")
    p.add_argument("--weight-decay", type=float, default=None, help="AdamW weight decay")
    p.add_argument("--patience", type=int, default=None, help="early stop after N epochs without improvement")
    p.add_argument("--no-learn-temperature", action="store_true", help="keep the temperature fixed at its initial value")
    p.add_argument("--temperature", type=float, default=None, help="initial temperature (CLIP: 0.07)")
    p.add_argument("--seed", type=int, default=None, help="random seed (same seed, same weights)")
    p.add_argument("--init", choices=INITS, default=DEFAULT_INIT,
                   help="where the projection starts. audioset-labels: from the text vectors of the 527 AudioSet "
                   "label names (needs a store of EfficientAT logits; best zero-shot on unseen classes); random: "
                   "seeded random weights; auto (default): audioset-labels when the store allows, else random")
    _add_memmap_args(p)
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads while training (default: 1 on a machine with <= 2 cores, else torch's)")
    p.set_defaults(handler=run_train)


def train_settings(args) -> dict:
    """Flags -> TrainConfig fields; None (a flag left out) keeps the dataclass default. The
    learning rate is not here: it follows the init unless --lr is given (training_data.training_config)."""
    return {"epochs": args.epochs, "batch_size": args.batch_size, "weight_decay": args.weight_decay,
            "patience": args.patience, "seed": args.seed, "init_temperature": args.temperature,
            "threads": getattr(args, "threads", None), "learn_temperature": False if args.no_learn_temperature else None}


def run_train(args) -> int:
    from clapdemo.training.plan import load_training_data, plan_training

    data = load_training_data(args.train, args.val, args.val_fraction, args.hold_out, args.seed or 0,
                              args.memmap, args.float16)
    train_set, val_set = data.train_set, data.val_set
    run = plan_training(data, args.init, where=str(args.train[0]), lr=args.lr, **train_settings(args))
    for store in data.record["stores"]:
        print(f"  {store['store']}: {store['kind']}, {store['n_train_clips']} clips for training"
              + (f", {store['n_held_out']} held out" if store["n_held_out"] else ""))
    print(f"train: {train_set.n_clips} clips / {train_set.n_captions} captions; "
          f"val: {val_set.n_clips} clips / {val_set.n_captions} captions")
    print(f"{run.describe()}{'' if args.lr is None else ' (--lr)'}")
    result = run.start(args.out, callbacks=[_print_epoch])
    print(f"best epoch {result.best_epoch}{' (stopped early)' if result.stopped_early else ''}; saved to {args.out}")
    _print_metrics(result.metrics)
    return 0


def _print_epoch(log) -> None:
    print(f"epoch {log.epoch:3d}  train loss {log.train_loss:.4f}  val loss {log.val_loss:.4f}  "
          f"val acc@1 a2t {log.val_a2t_acc1:.3f} t2a {log.val_t2a_acc1:.3f}  1/T {log.logit_scale:.1f}")


def _add_memmap_args(p) -> None:
    p.add_argument("--memmap", action="store_true",
                   help="read the vectors memory-mapped from STORE/packed (made once, redone when the store "
                   "changes): for stores bigger than RAM")
    p.add_argument("--float16", action="store_true", help="like --memmap, with the pack in float16 (half the size)")


# ---------------------------------------------------------------- evaluate

def _add_evaluate(commands) -> None:
    p = commands.add_parser("evaluate", help="retrieval metrics of a trained projection on a store, beside random",
                            description="accuracy@1/3/10 (course) and R@1/5/10 + mAP@10 (papers), both directions, "
                            "each beside the exact and the empirical random baseline.")
    p.add_argument("--run", required=True, type=Path, help="run directory (or projection.safetensors)")
    p.add_argument("--store", required=True, type=Path, help="store to evaluate on")
    p.add_argument("--batch-size", type=_positive_int, default=None,
                   help="course metric within batches of this many pairs (default: the whole split)")
    p.add_argument("--json", type=Path, default=None, help="write all metrics to this JSON file")
    p.add_argument("--unseen-only", action="store_true",
                   help="measure only the store's clips the run never trained or validated on (its held-out clips)")
    p.add_argument("--allow-overlap", action="store_true",
                   help="measure even on clips the run trained on (numbers marked in-sample)")
    p.add_argument("--extremes", type=_positive_int, default=None, metavar="N",
                   help="also list the N best and N worst queries each way (as the app's Evaluate tab does)")
    _add_memmap_args(p)
    p.set_defaults(handler=run_evaluate)


def run_evaluate(args) -> int:
    from clapdemo.evaluation.evaluate import evaluate_run

    metrics = evaluate_run(args.run, args.store, batch_size=args.batch_size, memmap=args.memmap, float16=args.float16,
                           allow_overlap=args.allow_overlap, unseen_only=args.unseen_only)
    _print_metrics(metrics)
    if metrics["in_sample"]:
        print("IN-SAMPLE: the run trained on (some of) these clips; these numbers are optimistic")
    if args.extremes:
        from clapdemo.evaluation.evaluate import extreme_queries
        from clapdemo.search.searchers import open_searcher

        for r in extreme_queries(open_searcher(args.run, args.store), args.extremes):
            print(f"{r['kind']:5s} {r['direction']}  rank {r['rank']:g}  {r['query']}: right {r['right_answer']!r}, "
                  f"top {r['top_answer']!r}")
    if args.json:
        from clapdemo.stores.store import atomic_write_json  # a full disk leaves no 0-byte file

        atomic_write_json(args.json, metrics)
        print(f"wrote {args.json}")
    return 0


def _print_metrics(metrics: dict) -> None:
    from clapdemo.evaluation.evaluate import metrics_table

    if metrics:
        print(metrics_table(metrics).to_string(index=False))


# ---------------------------------------------------------------- joint space

def _add_joint_space(commands) -> None:
    p = commands.add_parser("joint-space", help="a UMAP picture of a store's projected clips and captions (HTML)",
                            description="The app's Joint space tab as a file: computed once per (projection, "
                            "store) and cached in STORE/umap/.")
    p.add_argument("--run", required=True, type=Path, help="run directory (or projection.safetensors)")
    p.add_argument("--store", required=True, type=Path, help="store to draw")
    p.add_argument("--out", required=True, type=Path, help="the .html file to write")
    p.add_argument("--color-by", choices=["modality", "class"], default="modality", help="default modality")
    p.add_argument("--pairs", action="store_true", help="a line from each clip to its first caption")
    p.add_argument("--max-clips", type=_positive_int, default=None, help="a seeded sample above this (default 2000)")
    p.set_defaults(handler=run_joint_space)


def run_joint_space(args) -> int:
    from clapdemo.files import atomic_write
    from clapdemo.evaluation.joint_layout import MAX_CLIPS, plan_layout
    from clapdemo.search.searchers import open_searcher

    layout = plan_layout(open_searcher(args.run, args.store), args.run, args.store, args.max_clips or MAX_CLIPS)
    print(f"{len(layout.rows)} clips, {len(layout.used)} captions; layout "
          f"{'from the cache' if layout.cached() else 'computed (UMAP, ~30 s the first time)'}: {layout.cache}")
    figure = layout.figure(layout.load(), args.color_by, args.pairs)
    atomic_write(args.out, figure.to_html(include_plotlyjs=True).encode("utf-8"))
    print(f"wrote {args.out}")
    return 0


# ---------------------------------------------------------------- search

def _add_search(commands) -> None:
    p = commands.add_parser("search", help="text -> clips, or an audio file -> captions and similar clips")
    p.add_argument("--run", required=True, type=Path, help="run directory (or projection.safetensors)")
    p.add_argument("--store", required=True, type=Path, help="store to search")
    query = p.add_mutually_exclusive_group(required=True)
    query.add_argument("--text", help="free-text query, e.g. 'a dog barks'")
    query.add_argument("--audio", type=Path, help="an audio file: its best captions and nearest clips")
    query.add_argument("--clip", help="a clip id of the store (e.g. a file's path in a folder index): its nearest clips")
    p.add_argument("-k", type=_positive_int, default=10, help="how many results (default 10)")
    p.add_argument("--store-captions-only", action="store_true",
                   help="with --audio: candidate captions from the store only (default: also the 527 AudioSet label "
                   "names and the caption pool of 4,000 AudioCaps captions, as the app's Upload panel)")
    p.add_argument("--labels", default=None, help="with --audio: your comma-separated candidate captions, ranked "
                   "among themselves first (a zero-shot choice between them), then among the store's captions")
    p.add_argument("--json", type=Path, default=None, help="also write the results to this JSON file")
    p.add_argument("--export", type=Path, default=None, help="write the results to FILE.csv or FILE.json")
    _add_memmap_args(p)
    p.set_defaults(handler=run_search)


def run_search(args) -> int:
    from clapdemo.search.hit_export import export_hits
    from clapdemo.search.searchers import open_searcher
    from clapdemo.search.searcher import parse_labels
    from clapdemo.encoders.windows import format_span

    searcher = open_searcher(args.run, args.store, need_audio=args.audio is not None, memmap=args.memmap,
                             float16=args.float16)
    print(f"search: {searcher.search_mode}")
    if args.text:
        results = {"clips": searcher.text_to_audio(args.text, args.k)}
    elif args.clip:
        results = {"clips": searcher.audio_to_audio(args.clip, args.k)}
    else:
        labels = parse_labels(args.labels or "")
        if not args.store_captions_only and searcher.text_encoder is not None:
            from clapdemo.search.caption_pool import with_caption_pool
            from clapdemo.search.searchers import with_label_pool

            searcher = with_caption_pool(with_label_pool(searcher, searcher.text_encoder), searcher.text_encoder)
        results = {"labels": searcher.rank_labels(str(args.audio), labels)} if labels else {}
        results |= {"captions": searcher.audio_to_text(str(args.audio), args.k, labels),
                    "clips": searcher.audio_to_audio(args.audio, args.k)}  # a Path: the file, even if a clip has its name
        print_heard(searcher.audio_encoder, args.audio)
    for kind, hits in results.items():
        print("your labels, ranked among themselves:" if kind == "labels" else f"top {len(hits)} {kind}:")
        for hit in hits:
            what = hit.caption if kind != "clips" else f"{hit.clip_id} {format_span(hit.start, hit.end)}  {hit.audio_path}  {hit.caption}"
            print(f"  {hit.rank:2d}. {hit.score:.3f}  ({hit.relevance:.0%})  {what}" + ("  [weak match]" if hit.weak else ""))
    if args.json:
        from clapdemo.stores.store import atomic_write_json  # a full disk leaves no 0-byte file

        atomic_write_json(args.json, {k: [h.to_dict() for h in v] for k, v in results.items()})
    if args.export:
        print(f"wrote {export_hits(results, args.export)}")
    return 0


def print_heard(audio_encoder, path) -> None:
    """What the frozen encoder itself hears in the clip (its top AudioSet tags), beside the joint space's answer."""
    from clapdemo.data.audio import load_clip
    from clapdemo.encoders.audioset_labels import heard_tags, tags_text

    if audio_encoder is None:
        return
    tags = heard_tags(audio_encoder, load_clip(path, audio_encoder.sample_rate, audio_encoder.clip_seconds))
    if tags:
        print(f"what the encoder hears (its own AudioSet tags, no projection): {tags_text(tags)}")


# ---------------------------------------------------------------- export, encoders, store

def _add_export(commands) -> None:
    p = commands.add_parser("export", help="write a store in the course's pickle layout (write-only)",
                            description="Writes [{'uniq_id', 'audio_embedding', 'text_embedding'}] as a pickle, "
                            "one entry per (clip, caption) pair, for code that follows the course. clapdemo never reads it back.")
    p.add_argument("--store", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path, help="the .pkl file to write")
    p.set_defaults(handler=run_export)


def run_export(args) -> int:
    from clapdemo.stores.course_export import export_course_pickle

    n = export_course_pickle(args.store, args.out)
    print(f"wrote {n} entries to {args.out}")
    return 0


def _add_encoders(commands) -> None:
    p = commands.add_parser("encoders", help="list the audio and text encoders")
    p.set_defaults(handler=run_encoders)


def run_encoders(args) -> int:
    from clapdemo.encoders import AUDIO_ENCODERS, TEXT_ENCODERS

    print("audio encoders:")
    for name, spec in AUDIO_ENCODERS.items():
        print(f"  {name:14s} {spec.description}")
    print("text encoders:")
    print(f"  {'auto':14s} CLIP when the hub answers within seconds, else MiniLM (the default)")
    for name, spec in TEXT_ENCODERS.items():
        print(f"  {name:14s} {spec.description}")
    return 0


def _add_store(commands) -> None:
    p = commands.add_parser("store", help="inspect a store")
    p.add_argument("action", choices=["status", "verify", "index"],
                   help="status: counts; verify: check every shard's checksum; index: build the FAISS search index "
                   "for --run now, so that the first search does not wait for it")
    p.add_argument("store", type=Path)
    p.add_argument("--shards", type=int, default=None,
                   help="status per shard of N (default: the N of the last `precompute --shard I/N` on this store)")
    p.add_argument("--run", type=Path, default=None, help="with index: the trained run whose projection search uses")
    _add_memmap_args(p)
    p.set_defaults(handler=run_store)


def run_store(args) -> int:
    from clapdemo.stores.store import Store, describe_key

    if args.action == "index":
        return _build_index(args)
    store = Store(args.store)
    manifest = store.manifest()
    print(f"{args.store}: {describe_key(manifest)}; dataset {manifest['dataset']}")
    if args.action == "verify":
        problems = store.verify()
        print("\n".join(problems) if problems else "all shards intact")
        for path in store.leftovers():
            print(f"leftover from a killed run (never read; delete when no precompute runs): {path}")
    print(json.dumps(store.status()))
    _print_shard_status(store, args.shards)
    return 0


def _build_index(args) -> int:
    from clapdemo.search.ann_index import describe, min_clips
    from clapdemo.search.searchers import build_index

    if args.run is None:
        raise ValueError("store index needs --run RUN: the index holds the clips as that projection places them")
    index, rebuilt, seconds = build_index(args.run, args.store, args.memmap, args.float16)
    print(f"{'built' if rebuilt else 'already current'}: {describe(index)} in {args.store / 'index'} ({seconds:.1f} s)")
    if index.ntotal < min_clips():
        print(f"note: search stays exact below {min_clips():,} clips (CLAPDEMO_ANN_MIN_CLIPS); "
              "lower that setting to search this store through the index")
    return 0


def _print_shard_status(store, count: int | None) -> None:
    """One line per shard (done / missing / failed) for a store filled by `--shard I/N` processes."""
    from clapdemo.stores.work_split import shard_count_of, shard_status

    count = count or shard_count_of(store.root)
    for row in shard_status(store, count) if count else []:
        print(f"shard {row['shard']}: {row['done']}/{row['clips']} done, {row['missing']} missing, {row['failed']} failed")


# ---------------------------------------------------------------- sample set

def _add_sample_set(commands) -> None:
    p = commands.add_parser("sample-set", help="build the sample set that ships in assets/ (re-encoded ESC-50 and its store)",
                            description="build: re-encode the ESC-50 folder --from into --out (Ogg Opus, mono, "
                            "48 kHz; esc50.csv and LICENSE beside). store: precompute the store of the sample "
                            "folder --from with the default encoders into --out, its audio paths relative to --from. "
                            "The shipped pair: build --from ESC-50 --out assets/esc50-sample, then store --from "
                            "assets/esc50-sample --out assets/esc50-sample-store. hashes: rewrite "
                            "assets/SHA256SUMS from the files in assets/ now (after any change there: a retrained "
                            "projection, a rebuilt store or layout, a new file); shipped files are checked against it.")
    p.add_argument("action", choices=["build", "store", "hashes"])
    p.add_argument("--from", dest="source", type=Path,
                   help="build: an ESC-50 folder (esc50.csv + audio/); store: the sample folder build wrote")
    p.add_argument("--out", type=Path, help="a new or empty folder")
    p.add_argument("--per-class", type=int, default=None, help="build: only the first N clips of each class")
    p.set_defaults(handler=run_sample_set)


def run_sample_set(args) -> int:
    from clapdemo.data.sample_set import asset_hashes, build_sample_set, build_sample_store, write_asset_manifest

    if args.action == "hashes":
        path = write_asset_manifest()
        print(f"{path}: sha256 of {len(asset_hashes())} shipped files")
        return 0
    if args.source is None or args.out is None:
        raise ValueError(f"sample-set {args.action} needs --from and --out")
    if args.action == "store":
        print(build_sample_store(args.source, args.out).summary())
        return 0
    report = build_sample_set(args.source, args.out, per_class=args.per_class)
    print(report.summary())
    _print_some("skipped", [f"{c}: {why}" for c, why in report.skipped.items()], "not in the sample set")
    return 0


# ---------------------------------------------------------------- report

def _add_report(commands) -> None:
    p = commands.add_parser("report", help="measure quality on ESC-50 clips: zero-shot, retrieval, a settings sweep",
                            description="Zero-shot classification of held-out classes, supervised retrieval on "
                            "held-out clips and a sweep of training settings (mean and spread over seeds), beside "
                            "chance; writes report.md, report.json and report_topk.png to --out. About 15-20 min "
                            "on 2 cores; --quick is a plumbing check whose numbers mean nothing.")
    p.add_argument("--data-root", required=True, type=Path, help="an ESC-50 folder (esc50.csv + audio/)")
    p.add_argument("--out", type=Path, default=Path("report"), help="output folder (default ./report); "
                   "the embedded clips are cached in OUT/cache")
    p.add_argument("--quick", action="store_true", help="a few clips, one seed, three rows: a plumbing check")
    p.add_argument("--clip-tokenizer", type=Path, default=None,
                   help="folder with CLIP's vocab.json + merges.txt: adds a CLIP text tower with RANDOM weights "
                   "to the sweep (a plumbing row, marked as such)")
    p.add_argument("--audio-encoder", default=DEFAULT_AUDIO_ENCODER, help="EfficientAT model (default mn04_as)")
    p.add_argument("--seeds", type=int, default=None, help="training seeds per row (default 3)")
    p.add_argument("--workers", type=int, default=None,
                   help="training processes side by side (default: 2, or 1 with --quick)")
    p.set_defaults(handler=run_report)


def run_report(args) -> int:
    from clapdemo.report import ReportConfig
    from clapdemo.report import run_report as report

    config = ReportConfig.quick(args.data_root, args.out) if args.quick else ReportConfig(args.data_root, args.out)
    config.audio_encoder = args.audio_encoder
    config.clip_tokenizer = args.clip_tokenizer
    if args.seeds:
        config.seeds = tuple(range(args.seeds))
    if args.workers:
        config.workers = args.workers
    report(config)
    return 0


def _add_recipes(commands) -> None:
    p = commands.add_parser("recipes", help="compare training recipes on real held-out audio (UrbanSound8K, "
                            "ESC-50 unseen classes and held-out clips, tag overlap)",
                            description="Trains each recipe of clapdemo.training.recipes (training data and how the map "
                            "starts and trains from the label bridge) over --seeds and measures it on real audio it "
                            "never trained on, beside the untrained label bridge (clapdemo.training.recipes).")
    p.add_argument("--esc50", required=True, type=Path, help="store of the ESC-50 clips (mn04_as:logits)")
    p.add_argument("--label-pairs", required=True, type=Path, help="label-pair store to train on (AudioCaps train)")
    p.add_argument("--urbansound8k", required=True, type=Path, help="store of UrbanSound8K clips (fold 10)")
    p.add_argument("--label-pairs-limit", type=_positive_int, default=None,
                   help="train on a seeded subset of this many label pairs (a cheaper search)")
    p.add_argument("--audiocaps", type=Path, default=None,
                   help="label-pair store of a split no recipe trains on (AudioCaps test): a label-space column")
    p.add_argument("--baseline", type=Path, default=None, help="a trained run to measure beside them (assets/projection)")
    p.add_argument("--seeds", type=int, default=3, help="training seeds per recipe (default 3)")
    p.add_argument("--recipe", type=int, action="append", default=None,
                   help="only recipe number N of clapdemo.training.recipes.RECIPES (from 0; repeatable; default all)")
    p.add_argument("--json", type=Path, default=None, help="also write the results to this JSON file")
    p.set_defaults(handler=run_recipes)


def _add_benchmark(commands) -> None:
    p = commands.add_parser("benchmark", help="a run on real clips it never trained on (UrbanSound8K, ESC-50), "
                            "beside chance and the untrained label bridge",
                            description="The out-of-domain suite (clapdemo.evaluation.benchmark): UrbanSound8K zero-shot among "
                            "its 10 classes, the overlap of the projection's top-5 AudioSet names with the encoder's "
                            "own top-5 tags, ESC-50 held-out clips among all 50 classes, and ESC-50 classes the run "
                            "never trained on. A folder that is not a store is embedded once with the run's encoders "
                            "into the cache.")
    p.add_argument("--run", type=Path, default=None, help="run directory or projection file (default: the shipped one)")
    p.add_argument("--urbansound8k", type=Path, default=None,
                   help="UrbanSound8K folder (metadata.csv or metadata/UrbanSound8K.csv + audio/) or its store")
    p.add_argument("--esc50", type=Path, default=None, help="ESC-50 folder (esc50.csv + audio/) or its store")
    p.add_argument("--cache", type=Path, default=None, help="where embedded folders are kept (default: the app's cache)")
    p.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    p.set_defaults(handler=run_benchmark)


def run_benchmark(args) -> int:
    from clapdemo.api import SHIPPED_PROJECTION
    from clapdemo.evaluation.benchmark import open_benchmark_store, render
    from clapdemo.evaluation.benchmark import run_benchmark as benchmark
    from clapdemo.training.run_record import load_run_info

    run = args.run or SHIPPED_PROJECTION
    if args.urbansound8k is None and args.esc50 is None:
        raise SystemExit("benchmark: give --urbansound8k and/or --esc50 (a dataset folder or its store)")
    import os

    cache = args.cache or Path(os.environ.get("CLAPDEMO_CACHE", Path.home() / ".cache" / "clapdemo"))
    info = load_run_info(run)
    stores = {kind: open_benchmark_store(path, kind, info, cache) if path else None
              for kind, path in (("urbansound8k", args.urbansound8k), ("esc50", args.esc50))}
    result = benchmark(run, stores["urbansound8k"], stores["esc50"])
    print(f"benchmark of {run}")
    print(render(result))
    if args.json:
        from clapdemo.stores.store import atomic_write_json

        atomic_write_json(args.json, result)
    return 0


def _add_caption_pool(commands) -> None:
    p = commands.add_parser("caption-pool", help="a compact pool of AudioCaps captions to describe clips with",
                            description="Keeps a deduplicated subset of a label-pair store's captions (every AudioSet "
                            "class of their clips represented) with int8 text vectors; the shipped one is "
                            "assets/caption-pool (clapdemo.search.caption_pool).")
    p.add_argument("--from", dest="source", required=True, type=Path,
                   help="label-pair store (precompute --dataset audiocaps-labels --split train)")
    p.add_argument("--out", required=True, type=Path, help="pool folder to write (e.g. assets/caption-pool)")
    p.add_argument("-n", type=_positive_int, default=4000, help="captions to keep (default 4000, 1.8 MB)")
    p.set_defaults(handler=run_caption_pool)


def run_caption_pool(args) -> int:
    from clapdemo.search.caption_pool import build_caption_pool

    manifest = build_caption_pool(args.source, args.out, args.n)
    print(f"{args.out}: {manifest['selection']}")
    return 0


def run_recipes(args) -> int:
    import numpy as np

    from clapdemo.training.recipes import RECIPES, markdown, measure_recipes, measure_run
    from clapdemo.stores.store import open_store

    esc, us8k = open_store(args.esc50), open_store(args.urbansound8k)
    audiocaps = open_store(args.audiocaps) if args.audiocaps else None
    labels = open_store(args.label_pairs)
    if args.label_pairs_limit and args.label_pairs_limit < labels.n_clips:
        labels = labels.subset(np.sort(np.random.default_rng(0).choice(labels.n_clips, args.label_pairs_limit,
                                                                         replace=False)))
    baseline = measure_run(args.baseline, us8k, esc, audiocaps) if args.baseline else None
    recipes = RECIPES if not args.recipe else tuple(RECIPES[i] for i in args.recipe)
    results = measure_recipes(esc, labels, us8k, audiocaps, recipes=recipes, seeds=tuple(range(args.seeds)))
    print(markdown(results, baseline))
    if args.json:
        from clapdemo.stores.store import atomic_write_json

        atomic_write_json(args.json, {"recipes": results, "baseline": baseline})
    return 0
