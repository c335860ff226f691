"""Precompute throughput, end to end, for 10-s clips with mn04 on the CPU (clips/s).

    python benchmarks/bench_precompute.py [--clips 48] [--repeats 5]

Three ways to embed the same synthetic clips (10 s, 16 kHz mono FLAC, as in the
course zip; noise and tones: only speed matters here), interleaved:

- clapdemo: `precompute()` with its defaults (batches of 32, two decode threads,
  shards written every 256 clips, captions embedded with MiniLM) into a fresh
  store each time;
- course loop (baseline a): one file at a time with `librosa.load(sr=32000)`, one
  forward per clip, one caption per text call, the whole dict pickled every 16 clips;
- floor (baseline b): the batched mn04 forward alone (batches of 32) on audio
  already decoded and resampled: what no pipeline can beat.

Also timed, for the record (not part of the targets): the text encoder alone on
the same captions in one call (as precompute embeds a shard's captions: work
the floor does not do), and clapdemo and the floor again with torch at 1 thread,
where precompute overlaps decoding with the forward (at 2 threads on 2 cores it
decodes between forwards: see `precompute._decode_ahead`).

Targets: clapdemo >= 3x the course loop, and within 1.3x of the floor.

Each round runs every variant once, in an order that reverses every other
round, with clapdemo beside the course loop and the floor, so each ratio is
also taken within a round (runs seconds apart, under about the same load from
other processes) and its median over the rounds reported beside the ratio of
the medians; the verdicts use the within-round medians.
"""

from __future__ import annotations

import argparse
import pickle
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402  (sets sys.path and the offline environment)

import numpy as np  # noqa: E402

SECONDS, FILE_RATE = 10.0, 16000


def write_clips(folder: Path, n: int) -> list[Path]:
    """n synthetic 10-s clips (noise + a few tones, different per clip) + captions.csv."""
    import soundfile as sf

    rng = np.random.default_rng(0)
    t = np.arange(int(SECONDS * FILE_RATE)) / FILE_RATE
    paths, rows = [], ["file,caption"]
    for i in range(n):
        tones = sum(np.sin(2 * np.pi * f * t) for f in rng.uniform(100, 4000, 3))
        wave = (0.1 * rng.standard_normal(len(t)) + 0.1 * tones).astype(np.float32) * 0.5
        path = folder / f"clip{i:05d}.flac"
        sf.write(path, wave, FILE_RATE)
        paths.append(path)
        rows.append(f"{path.name},synthetic clip number {i}")
    (folder / "captions.csv").write_text("\n".join(rows) + "\n")
    return paths


def _paired_rounds(fns: dict, repeats: int) -> dict[str, list[float]]:
    """Seconds per call of each function, `repeats` rounds; the order reverses every other round.

    Functions listed next to each other run next to each other in every round
    (either one first), so a ratio taken within a round compares runs made under
    about the same load."""
    import time

    names = list(fns)
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(repeats):
        for name in (names if r % 2 == 0 else names[::-1]):
            start = time.perf_counter()
            fns[name]()
            times[name].append(time.perf_counter() - start)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=48, help="clips per run (default 48)")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved rounds (default 5)")
    args = parser.parse_args()

    import librosa
    import torch

    from clapdemo.data.audio import fit_length, load_clip
    from clapdemo.data.datasets import load_dataset
    from clapdemo.encoders import load_audio_encoder, load_text_encoder
    from clapdemo.stores.precompute import precompute

    work = Path(tempfile.mkdtemp(prefix="clapdemo-bench-precompute-"))
    try:
        data = work / "clips"
        data.mkdir()
        paths = write_clips(data, args.clips)
        audio, text = load_audio_encoder("mn04_as"), load_text_encoder("minilm")
        dataset = load_dataset("folder", data)
        captions = dict(zip(dataset.clips["audio_path"], dataset.clips["captions"]))
        n_samples = int(SECONDS * audio.sample_rate)
        decoded = np.stack([load_clip(p, audio.sample_rate, SECONDS) for p in paths])
        runs = iter(range(10**6))

        def clapdemo_precompute():
            report = precompute(dataset, audio, text, work / f"store{next(runs)}", batch_size=32, progress=False)
            assert report.computed == args.clips, report.summary()

        def course_loop():
            out, target = {}, work / "course.pkl"
            for i, path in enumerate(paths):
                wave, _ = librosa.load(str(path), sr=audio.sample_rate, mono=True)
                wave = fit_length(wave.astype(np.float32), n_samples)
                vector = audio.embed(wave[None])[0]
                caption = captions[str(path)][0]
                out[path.stem] = {"audio_embedding": vector, "text_embedding": text.embed([caption])[0],
                                  "text": caption}
                if (i + 1) % 16 == 0:
                    with open(target, "wb") as f:
                        pickle.dump(out, f)
            with open(target, "wb") as f:
                pickle.dump(out, f)

        def floor():
            for s in range(0, len(decoded), 32):
                audio.embed(decoded[s:s + 32])

        all_captions = sorted({c for cs in dataset.clips["captions"] for c in cs})

        def text_only():
            text.embed(all_captions)

        threads = torch.get_num_threads()

        def at_one_thread(fn):
            def run():
                torch.set_num_threads(1)
                try:
                    fn()
                finally:
                    torch.set_num_threads(threads)
            return run

        audio.embed(decoded[:2])  # warm up the encoders (first-call allocations)
        text.embed(["warm up"])
        times = _paired_rounds({"course loop": course_loop, "clapdemo": clapdemo_precompute, "floor": floor,
                                "text only": text_only, "floor 1t": at_one_thread(floor),
                                "clapdemo 1t": at_one_thread(clapdemo_precompute),
                                "text only 1t": at_one_thread(text_only)}, args.repeats)
        rate = {k: args.clips / _common.median(v) for k, v in times.items()}
        ms = {k: 1000 / r for k, r in rate.items()}  # median ms per clip

        def within(a, b):  # median over rounds of time(a) / time(b)
            return _common.median([x / y for x, y in zip(times[a], times[b])])

        vs_course = within("course loop", "clapdemo")
        vs_floor = within("clapdemo", "floor")
        lines = [
            f"precompute of {args.clips} synthetic 10-s clips (16 kHz FLAC -> 32 kHz), mn04_as + MiniLM, "
            f"torch {torch.get_num_threads()} threads, median of {args.repeats} interleaved rounds",
            f"clapdemo precompute: {rate['clapdemo']:.2f} clips/s; course loop: {rate['course loop']:.2f} clips/s; "
            f"floor (batched forward on decoded audio): {rate['floor']:.2f} clips/s",
            f"clapdemo vs course loop: {vs_course:.2f}x (median of the rounds' ratios; ratio of the medians "
            f"{rate['clapdemo'] / rate['course loop']:.2f}x) — "
            + _common.verdict(vs_course >= 3, ">= 3x", f"by {3 / vs_course:.2f}x"),
            f"floor vs clapdemo: {vs_floor:.2f}x slower than the floor (median of the rounds' ratios; ratio of the "
            f"medians {rate['floor'] / rate['clapdemo']:.2f}x) — "
            + _common.verdict(vs_floor <= 1.3, "within 1.3x", f"by {vs_floor / 1.3:.2f}x"),
            f"per clip: clapdemo {ms['clapdemo']:.0f} ms, floor {ms['floor']:.0f} ms, text encoder alone "
            f"{ms['text only']:.0f} ms ({len(all_captions)} captions in one call; not in the floor); floor + text "
            f"{ms['floor'] + ms['text only']:.0f} ms, clapdemo "
            f"{_common.median([c / (f + t) for c, f, t in zip(times['clapdemo'], times['floor'], times['text only'])]):.2f}x "
            "that (for the record; the target is the floor above)",
            f"torch at 1 thread (decode overlapped with the forward): clapdemo {rate['clapdemo 1t']:.2f} clips/s, "
            f"floor {rate['floor 1t']:.2f} clips/s ({within('clapdemo 1t', 'floor 1t'):.2f}x slower than it), text alone "
            f"{ms['text only 1t']:.0f} ms/clip; vs {threads} threads: clapdemo "
            f"{rate['clapdemo 1t'] / rate['clapdemo']:.2f}x, floor {rate['floor 1t'] / rate['floor']:.2f}x",
            "all rounds (s): " + "; ".join(f"{k} {', '.join(f'{x:.1f}' for x in v)}" for k, v in times.items()),
        ]
        notes = []
        if vs_course < 3:
            notes.append(f"the course loop's cost is mostly the same mn04 forward as ours (one clip of 10 s at a "
                         "time is already a large batch for a 1 M-parameter CNN: batching gains little on 2 cores); "
                         "decoding/resampling is a small share for 16 kHz FLAC, so the ceiling of any pipeline "
                         f"over it is floor/course: {within('course loop', 'floor'):.2f}x in this run (its "
                         "one-clip forwards suffer more than batched ones when other processes load the cores)")
        _common.record("Precompute throughput (mn04, 10-s clips, CPU)", lines, notes)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
