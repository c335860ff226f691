"""The library's commands: `index FOLDER` (a folder that stays indexed) and `doctor` (self-check).

Kept apart from cli/main.py so each command's flags sit beside the handler that reads
them; cli/main.py registers both. Flags become plain arguments; `args` never reaches
the library.
"""

from __future__ import annotations

from pathlib import Path

from clapdemo.encoders import DEFAULT_AUDIO_ENCODER


def add_index(commands) -> None:
    p = commands.add_parser("index", help="index a folder of your own sounds; reruns embed only new/changed files",
                            description="Embed every audio file below FOLDER (long files as windows of --window s "
                            "every --hop s; the file's vector is their mean). A rerun embeds only files added or "
                            "changed (size + mtime + content hash) and drops deleted ones; a killed run resumes. Files that "
                            "cannot be read (not audio, empty, a FIFO or device, a broken link) are listed as skipped "
                            "and the rest is indexed (exit status 0). Captions are optional: "
                            "FOLDER/captions.csv (file,caption) or --captions-csv. Search it with "
                            "`search --store FOLDER/.clapdemo-index --run assets/projection --text ...`.")
    p.add_argument("folder", type=Path, help="the folder holding your audio files (searched recursively)")
    p.add_argument("--out", type=Path, default=None, help="index directory (default FOLDER/.clapdemo-index)")
    p.add_argument("--window", type=float, default=None, help="window seconds (default: the encoder's, 10 s)")
    p.add_argument("--hop", type=float, default=5.0, help="seconds between window starts (default 5, at least 0.25)")
    p.add_argument("--captions-csv", type=Path, default=None, help="CSV file,caption (default FOLDER/captions.csv if present)")
    p.add_argument("--audio-encoder", default=DEFAULT_AUDIO_ENCODER, help="audio encoder (default mn04_as)")
    p.add_argument("--text-encoder", default="minilm",
                   help="text encoder (default minilm: the one the shipped projection was trained with)")
    p.add_argument("--device", default="cpu", help="torch device for the encoders (default cpu)")
    p.set_defaults(handler=run_index)


def run_index(args) -> int:
    from clapdemo.encoders import load_audio_encoder, load_text_encoder
    from clapdemo.search.folder_index import index_folder

    audio = load_audio_encoder(args.audio_encoder, device=args.device)
    text = load_text_encoder(args.text_encoder, device=args.device)
    report = index_folder(args.folder, audio, text, args.out, window=args.window, hop=args.hop,
                          captions_csv=args.captions_csv)
    print(report.summary())
    for line in report.skipped_lines():
        print(f"  {line}")
    return 0


def add_doctor(commands) -> None:
    p = commands.add_parser("doctor", help="self-check: encoders load and give the same vector every time",
                            description="Loads the installed encoders and embeds the same clip and caption twice "
                            "through every path (waveform, file, long-file windows, batch of one and of several); "
                            "each pair must have cosine >= 0.9999. Exit status 1 when a check fails.")
    p.add_argument("--audio-encoder", default=DEFAULT_AUDIO_ENCODER, help="audio encoder (default mn04_as)")
    p.add_argument("--text-encoder", default="minilm", help="text encoder (default minilm)")
    p.add_argument("--clip", type=Path, default=None, help="an audio file to use (default: a synthetic 23 s signal)")
    p.set_defaults(handler=run_doctor)


def run_doctor(args) -> int:
    from clapdemo.encoders.doctor import run_checks

    checks = run_checks(args.audio_encoder, args.text_encoder, clip=args.clip)
    for check in checks:
        print(f"  {'ok  ' if check.ok else 'FAIL'} {check.name}: {check.detail}")
    failed = [c for c in checks if not c.ok]
    print(f"{len(checks) - len(failed)}/{len(checks)} checks passed")
    return 1 if failed else 0
