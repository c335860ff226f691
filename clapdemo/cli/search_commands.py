"""The `search` command: text -> clips, a clip -> its nearest clips, or an audio file ->
captions and similar clips (with what the frozen encoder itself hears)."""

from __future__ import annotations

from pathlib import Path

from clapdemo.cli.common import add_memmap_args, positive_int


def add_search(commands) -> None:
    p = commands.add_parser("search", help="text -> clips, or an audio file -> captions and similar clips")
    p.add_argument("--run", required=True, type=Path, help="run directory (or projection.safetensors)")
    p.add_argument("--store", required=True, type=Path, help="store to search")
    query = p.add_mutually_exclusive_group(required=True)
    query.add_argument("--text", help="free-text query, e.g. 'a dog barks'")
    query.add_argument("--audio", type=Path, help="an audio file: its best captions and nearest clips")
    query.add_argument("--clip", help="a clip id of the store (e.g. a file's path in a folder index): its nearest clips")
    p.add_argument("-k", type=positive_int, default=10, help="how many results (default 10)")
    p.add_argument("--store-captions-only", action="store_true",
                   help="with --audio: candidate captions from the store only (default: also the 527 AudioSet label "
                   "names and the caption pool of 4,000 AudioCaps captions, as the app's Upload panel)")
    p.add_argument("--labels", default=None, help="with --audio: your comma-separated candidate captions, ranked "
                   "among themselves first (a zero-shot choice between them), then among the store's captions")
    p.add_argument("--json", type=Path, default=None, help="also write the results to this JSON file")
    p.add_argument("--export", type=Path, default=None, help="write the results to FILE.csv or FILE.json")
    add_memmap_args(p)
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
            from clapdemo.search.searchers import with_describing_vocabulary

            searcher = with_describing_vocabulary(searcher, searcher.text_encoder)
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
