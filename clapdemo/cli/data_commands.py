"""The data commands: `precompute` (a dataset's clips and captions into a store), `encoders`,
`export`, `store`, `sample-set` and `caption-pool`. Each parses its flags, calls the library,
prints what it did."""

from __future__ import annotations

import json
from pathlib import Path

from clapdemo.cli.common import add_memmap_args, positive_int
from clapdemo.data.dataset import DATASET_KINDS
from clapdemo.data.datasets import guess_dataset_kind
from clapdemo.encoders import DEFAULT_AUDIO_ENCODER, DEFAULT_TEXT_ENCODER


# ---------------------------------------------------------------- precompute

def add_precompute(commands) -> None:
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
    p.add_argument("--batch-size", type=positive_int, default=32, help="clips per encoder forward pass (default 32)")
    p.add_argument("--checkpoint-every", type=positive_int, default=256,
                   help="write a shard to disk every N clips; a killed run loses at most this many (default 256)")
    p.add_argument("--workers", type=positive_int, default=2, help="decoding threads (default 2)")
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
    p.add_argument("--limit", type=positive_int, default=None, help="only the first N clips (a quick trial)")
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


# ---------------------------------------------------------------- export, encoders, store

def add_export(commands) -> None:
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


def add_encoders(commands) -> None:
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


def add_store(commands) -> None:
    p = commands.add_parser("store", help="inspect a store")
    p.add_argument("action", choices=["status", "verify", "index"],
                   help="status: counts; verify: check every shard's checksum; index: build the FAISS search index "
                   "for --run now, so that the first search does not wait for it")
    p.add_argument("store", type=Path)
    p.add_argument("--shards", type=int, default=None,
                   help="status per shard of N (default: the N of the last `precompute --shard I/N` on this store)")
    p.add_argument("--run", type=Path, default=None, help="with index: the trained run whose projection search uses")
    add_memmap_args(p)
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

def add_sample_set(commands) -> None:
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


# ---------------------------------------------------------------- caption pool

def add_caption_pool(commands) -> None:
    p = commands.add_parser("caption-pool", help="a compact pool of AudioCaps captions to describe clips with",
                            description="Keeps a deduplicated subset of a label-pair store's captions (every AudioSet "
                            "class of their clips represented) with int8 text vectors; the shipped one is "
                            "assets/caption-pool (clapdemo.search.caption_pool).")
    p.add_argument("--from", dest="source", required=True, type=Path,
                   help="label-pair store (precompute --dataset audiocaps-labels --split train)")
    p.add_argument("--out", required=True, type=Path, help="pool folder to write (e.g. assets/caption-pool)")
    p.add_argument("-n", type=positive_int, default=4000, help="captions to keep (default 4000, 1.8 MB)")
    p.set_defaults(handler=run_caption_pool)


def run_caption_pool(args) -> int:
    from clapdemo.search.caption_pool import build_caption_pool

    manifest = build_caption_pool(args.source, args.out, args.n)
    print(f"{args.out}: {manifest['selection']}")
    return 0
