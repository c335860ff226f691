"""The measuring commands: `evaluate` (retrieval metrics of a run on a store), `joint-space`
(a UMAP picture as HTML), `report` (quality on ESC-50) and `benchmark` (the out-of-domain suite)."""

from __future__ import annotations

from pathlib import Path

from clapdemo.cli.common import add_memmap_args, positive_int, print_metrics
from clapdemo.encoders import DEFAULT_AUDIO_ENCODER


# ---------------------------------------------------------------- evaluate

def add_evaluate(commands) -> None:
    p = commands.add_parser("evaluate", help="retrieval metrics of a trained projection on a store, beside random",
                            description="accuracy@1/3/10 (course) and R@1/5/10 + mAP@10 (papers), both directions, "
                            "each beside the exact and the empirical random baseline.")
    p.add_argument("--run", required=True, type=Path, help="run directory (or projection.safetensors)")
    p.add_argument("--store", required=True, type=Path, help="store to evaluate on")
    p.add_argument("--batch-size", type=positive_int, default=None,
                   help="course metric within batches of this many pairs (default: the whole split)")
    p.add_argument("--json", type=Path, default=None, help="write all metrics to this JSON file")
    p.add_argument("--unseen-only", action="store_true",
                   help="measure only the store's clips the run never trained or validated on (its held-out clips)")
    p.add_argument("--allow-overlap", action="store_true",
                   help="measure even on clips the run trained on (numbers marked in-sample)")
    p.add_argument("--extremes", type=positive_int, default=None, metavar="N",
                   help="also list the N best and N worst queries each way (as the app's Evaluate tab does)")
    add_memmap_args(p)
    p.set_defaults(handler=run_evaluate)


def run_evaluate(args) -> int:
    from clapdemo.evaluation.evaluate import evaluate_run

    metrics = evaluate_run(args.run, args.store, batch_size=args.batch_size, memmap=args.memmap, float16=args.float16,
                           allow_overlap=args.allow_overlap, unseen_only=args.unseen_only)
    print_metrics(metrics)
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


# ---------------------------------------------------------------- joint space

def add_joint_space(commands) -> None:
    p = commands.add_parser("joint-space", help="a UMAP picture of a store's projected clips and captions (HTML)",
                            description="The app's Joint space tab as a file: computed once per (projection, "
                            "store) and cached in STORE/umap/.")
    p.add_argument("--run", required=True, type=Path, help="run directory (or projection.safetensors)")
    p.add_argument("--store", required=True, type=Path, help="store to draw")
    p.add_argument("--out", required=True, type=Path, help="the .html file to write")
    p.add_argument("--color-by", choices=["modality", "class"], default="modality", help="default modality")
    p.add_argument("--pairs", action="store_true", help="a line from each clip to its first caption")
    p.add_argument("--max-clips", type=positive_int, default=None, help="a seeded sample above this (default 2000)")
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


# ---------------------------------------------------------------- report

def add_report(commands) -> None:
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


# ---------------------------------------------------------------- benchmark

def add_benchmark(commands) -> None:
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
    from clapdemo.stores.store import default_cache
    from clapdemo.training.run_record import load_run_info

    run = args.run or SHIPPED_PROJECTION
    if args.urbansound8k is None and args.esc50 is None:
        raise SystemExit("benchmark: give --urbansound8k and/or --esc50 (a dataset folder or its store)")
    cache = args.cache or default_cache()
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
