"""Peak memory (RSS) of precompute on 1,000 vs 10,000 clips: it must stream, not accumulate.

    python benchmarks/bench_memory.py [--small 1000] [--large 10000]

Each size runs `precompute()` in a fresh child process over that many short
synthetic WAV files (0.25 s, 16 kHz, one distinct caption each), and the child
reports its peak RSS (getrusage) and its RSS before precompute started. The
encoders are stand-ins with the real interface and the real output widths
(527-d audio, 384-d text): the real mn04 would take ~25 min for 10,000 clips
on 2 cores and holds the same memory whatever the clip count, so it would add
a constant to both sizes and only hide the difference this measures (what the
pipeline keeps per clip: decoded batches, shard buffers, the table, the store).

Target: the peaks differ by < 20 %.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

import numpy as np  # noqa: E402

RATE, SECONDS = 16000, 0.25


class StubAudio:
    """The AudioEncoder interface; a fixed random projection of a coarse spectrum (527-d)."""

    name, dim, sample_rate, clip_seconds = "stub-audio", 527, RATE, SECONDS

    def __init__(self):
        from clapdemo.encoders.base import EncoderIdentity

        self.identity = EncoderIdentity("stub-audio", "none", {"sample_rate": RATE})
        self.matrix = np.random.default_rng(0).standard_normal((int(RATE * SECONDS) // 2 + 1, 527)).astype(np.float32)

    def embed(self, waves):
        return (np.abs(np.fft.rfft(np.asarray(waves, np.float32), axis=1)).astype(np.float32) @ self.matrix)


class StubText:
    """The TextEncoder interface; 384-d vectors seeded by each caption's hash."""

    name, dim = "stub-text", 384

    def __init__(self):
        from clapdemo.encoders.base import EncoderIdentity

        self.identity = EncoderIdentity("stub-text", "none", {})

    def embed(self, texts):
        import zlib

        return np.stack([np.random.default_rng(zlib.crc32(t.encode())).standard_normal(384).astype(np.float32)
                         for t in texts]) if texts else np.zeros((0, 384), np.float32)


def write_clips(folder: Path, n: int) -> None:
    import soundfile as sf

    rng = np.random.default_rng(1)
    rows = ["file,caption"]
    for i in range(n):
        sf.write(folder / f"c{i:05d}.wav", (0.1 * rng.standard_normal(int(RATE * SECONDS))).astype(np.float32), RATE)
        rows.append(f"c{i:05d}.wav,synthetic clip {i} with its own caption")
    (folder / "captions.csv").write_text("\n".join(rows) + "\n")


def child(data: Path, n: int, store: Path) -> None:
    """Runs in a fresh process: precompute the first n clips; print peak and starting RSS as JSON."""
    import resource
    import time

    import psutil

    from clapdemo.data.datasets import load_dataset
    from clapdemo.stores.precompute import precompute

    dataset = load_dataset("folder", data)
    dataset.clips = dataset.clips.head(n)
    audio, text = StubAudio(), StubText()
    before = psutil.Process().memory_info().rss
    start = time.perf_counter()
    report = precompute(dataset, audio, text, store, batch_size=32, progress=False)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    print(json.dumps({"n": n, "computed": report.computed, "peak": peak, "before": before, "seconds": seconds,
                      "store_bytes": sum(p.stat().st_size for p in store.rglob("*") if p.is_file())}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--large", type=int, default=10000)
    parser.add_argument("--child", nargs=3, metavar=("DATA", "N", "STORE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(Path(args.child[0]), int(args.child[1]), Path(args.child[2]))
        return 0

    work = Path(tempfile.mkdtemp(prefix="clapdemo-bench-memory-"))
    try:
        data = work / "clips"
        data.mkdir()
        write_clips(data, args.large)
        results = {}
        for n in (args.small, args.large):
            out = subprocess.run([sys.executable, __file__, "--child", str(data), str(n), str(work / f"store{n}")],
                                 check=True, capture_output=True, text=True)
            results[n] = json.loads(out.stdout.strip().splitlines()[-1])
        small, large = results[args.small], results[args.large]
        growth = large["peak"] / small["peak"] - 1
        mib = lambda b: b / 2**20  # noqa: E731
        lines = [
            f"precompute of {args.small:,} vs {args.large:,} synthetic clips (0.25 s WAV, one caption each; "
            "stand-in encoders with the real widths 527/384), each in a fresh process",
            f"peak RSS: {mib(small['peak']):.0f} MiB for {args.small:,} clips, {mib(large['peak']):.0f} MiB for "
            f"{args.large:,} (RSS before precompute: {mib(small['before']):.0f} / {mib(large['before']):.0f} MiB); "
            f"difference {growth:+.1%} — " + _common.verdict(abs(growth) < 0.20, "< 20 %",
                                                              f"by {abs(growth) - 0.2:.1%}"),
            f"growth during precompute: {mib(small['peak'] - small['before']):.0f} MiB vs "
            f"{mib(large['peak'] - large['before']):.0f} MiB; store on disk {mib(small['store_bytes']):.1f} vs "
            f"{mib(large['store_bytes']):.1f} MiB; {small['computed'] / small['seconds']:.0f} vs "
            f"{large['computed'] / large['seconds']:.0f} clips/s",
        ]
        _common.record("Precompute memory: 1,000 vs 10,000 clips", lines)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
