"""Per-clip costs of precompute on this machine (CPU or GPU), and the AudioSet estimate built from them.

    python benchmarks/per_clip_costs.py                    # the encoder on cuda if there is one
    python benchmarks/per_clip_costs.py --clips 512 --device cuda --json costs.json

What it measures, each on the same synthetic 10-s clips (44.1 kHz mono FLAC,
AudioSet's usual download format; noise and tones: only speed matters):

1. decode + resample to 32 kHz (`clapdemo.data.audio.load_clip`) one clip at a time
   on one core, then with W threads (what `precompute --workers W` uses) and W
   processes (what `--shard` or Ray give; each only decodes, the waveforms are
   not sent back, so this is a ceiling), clips/s;
2. the mn04_as forward alone (mel front end included) on audio already decoded,
   batches of 32 / 128 / 256, on the device, clips/s;
3. `precompute()` end to end into a fresh store (decode threads overlapped with
   the forward, shards written) with a stand-in text encoder: AudioSet's
   captions are its 527 label names, so text costs nothing per clip there.

From these it estimates the hours to precompute AudioSet (2,000,000 clips) on 1,
8 and 64 GPUs, each GPU with this machine's cores for decoding, and says which
step bounds it. Results go to BENCHMARKS.md and, with --json, to a file.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402  (sets sys.path and the offline environment)

import numpy as np  # noqa: E402

FILE_RATE, SECONDS, AUDIOSET_CLIPS = 44100, 10.0, 2_000_000


class LabelText:
    """Stand-in text encoder: AudioSet's captions are 527 label names, embedded once; no per-clip cost."""

    name, dim = "stand-in-text", 384

    def __init__(self):
        from clapdemo.encoders.base import EncoderIdentity

        self.identity = EncoderIdentity("stand-in-text", "none", {})

    def embed(self, texts):
        return np.ones((len(texts), self.dim), np.float32)


def _write_one(args) -> str:
    import soundfile as sf

    folder, i = args
    rng = np.random.default_rng(i)
    t = np.arange(int(SECONDS * FILE_RATE)) / FILE_RATE
    tones = sum(np.sin(2 * np.pi * f * t) for f in rng.uniform(100, 8000, 3))
    wave = (0.05 * rng.standard_normal(len(t)) + 0.1 * tones).astype(np.float32)
    path = Path(folder) / f"clip{i:05d}.flac"
    sf.write(path, wave, FILE_RATE)
    return path.name


def write_clips(folder: Path, n: int) -> list[Path]:
    """n synthetic clips written in parallel, plus the captions.csv of a plain folder dataset."""
    with ProcessPoolExecutor(max_workers=os.cpu_count()) as pool:
        names = list(pool.map(_write_one, [(str(folder), i) for i in range(n)], chunksize=8))
    (folder / "captions.csv").write_text("file,caption\n" + "".join(f"{n},Dog\n" for n in names))
    return [folder / n for n in names]


def _decode(path) -> int:
    from clapdemo.data.audio import load_clip

    return load_clip(path, 32000, SECONDS).shape[0]


def decode_rates(paths: list[Path], workers: list[int]) -> dict:
    """Clips/s of decode + resample: one at a time, then with W threads and W processes."""
    out = {}
    _decode(paths[0])  # the first call imports the decoders and resampler
    start = time.perf_counter()
    for p in paths[:64]:
        _decode(p)
    out["serial"] = min(64, len(paths)) / (time.perf_counter() - start)
    for w in workers:
        for kind, pool_type in (("threads", ThreadPoolExecutor), ("processes", ProcessPoolExecutor)):
            with pool_type(max_workers=w) as pool:
                list(pool.map(_decode, paths[:w]))  # start the workers and import before timing
                start = time.perf_counter()
                list(pool.map(_decode, paths, chunksize=1 if kind == "threads" else 4))
                out[f"{w} {kind}"] = len(paths) / (time.perf_counter() - start)
    return out


def encoder_rates(encoder, waves: np.ndarray, batches=(32, 128, 256)) -> dict:
    """Clips/s of the encoder forward alone on decoded audio (host-to-device copy included)."""
    out = {}
    encoder.embed(waves[:8])
    for b in batches:
        encoder.embed(waves[:b])  # warm up this batch shape (cudnn picks its kernels)
        start = time.perf_counter()
        for s in range(0, len(waves), b):
            encoder.embed(waves[s:s + b])
        out[b] = len(waves) / (time.perf_counter() - start)
    return out


def precompute_rates(folder: Path, encoder, workers: list[int], batch: int) -> dict:
    """Clips/s of precompute() end to end into a fresh store, per number of decode threads."""
    from clapdemo.data.datasets import load_dataset
    from clapdemo.stores.precompute import precompute

    dataset = load_dataset("folder", folder)
    out = {}
    for w in workers:
        store = Path(tempfile.mkdtemp(prefix="per-clip-store-"))
        start = time.perf_counter()
        report = precompute(dataset, encoder, LabelText(), store / "s", batch_size=batch, decode_workers=w,
                            progress=False)
        out[w] = report.computed / (time.perf_counter() - start)
        shutil.rmtree(store, ignore_errors=True)
    return out


def ray_rate(folder: Path, encoder, batch: int) -> dict:
    """Clips/s of `precompute --engine ray` (decode as CPU tasks, one encoder actor per GPU), actor start
    included, and the seconds Ray itself took to start (not included)."""
    import ray

    from clapdemo.data.datasets import load_dataset
    from clapdemo.stores.ray_engine import precompute_ray, worker_env

    start = time.perf_counter()
    ray.init(address="local", runtime_env=worker_env(), include_dashboard=False, log_to_driver=False)
    started = time.perf_counter() - start
    dataset = load_dataset("folder", folder)
    store = Path(tempfile.mkdtemp(prefix="per-clip-ray-"))
    try:
        start = time.perf_counter()
        report = precompute_ray(dataset, encoder, LabelText(), store / "s", batch_size=batch, progress=False)
        return {"clips/s": report.computed / (time.perf_counter() - start), "ray start s": started,
                "resources": {k: v for k, v in ray.cluster_resources().items() if k in ("CPU", "GPU")}}
    finally:
        ray.shutdown()
        shutil.rmtree(store, ignore_errors=True)


def estimate(per_gpu: float, bound: str) -> list[str]:
    lines = []
    for gpus in (1, 8, 64):
        hours = AUDIOSET_CLIPS / (per_gpu * gpus) / 3600
        lines.append(f"{gpus} GPU(s): {hours:.2f} h ({hours * 60:.0f} min) at {per_gpu:.0f} clips/s per GPU, bound by {bound}")
    return lines


def main() -> int:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=512, help="synthetic clips (default 512)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch", type=int, default=128, help="precompute batch size (default 128)")
    parser.add_argument("--ray", action="store_true", help="also time `precompute --engine ray` (needs ray)")
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = parser.parse_args()
    from clapdemo.data.audio import load_clip
    from clapdemo.encoders import load_audio_encoder

    cores = os.cpu_count() or 1
    workers = sorted({max(1, cores // 2), max(1, cores - 2), cores})
    work = Path(tempfile.mkdtemp(prefix="per-clip-costs-"))
    result: dict = {"device": args.device, "cores": cores, "clips": args.clips}
    try:
        t0 = time.perf_counter()
        paths = write_clips(work, args.clips)
        print(f"wrote {len(paths)} clips in {time.perf_counter() - t0:.1f} s", flush=True)
        result["decode"] = decode_rates(paths, workers)
        print("decode clips/s:", result["decode"], flush=True)
        encoder = load_audio_encoder("mn04_as", device=args.device)
        waves = np.stack([load_clip(p, encoder.sample_rate, SECONDS) for p in paths])
        result["encoder"] = encoder_rates(encoder, waves)
        print("encoder clips/s:", result["encoder"], flush=True)
        del waves
        result["precompute"] = precompute_rates(work, encoder, workers, args.batch)
        print("precompute clips/s:", result["precompute"], flush=True)
        if args.ray:
            result["ray"] = ray_rate(work, encoder, args.batch)
            print("ray:", result["ray"], flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if args.json:
            args.json.write_text(json.dumps(result, indent=2, default=str))
    gpu = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else "none (CPU)"
    best_decode = max(result["decode"].items(), key=lambda kv: kv[1])
    best_encoder = max(result["encoder"].items(), key=lambda kv: kv[1])
    best_e2e = max(result["precompute"].items(), key=lambda kv: kv[1])
    bound = (f"decoding ({best_decode[0]}: {best_decode[1]:.0f} clips/s < encoder {best_encoder[1]:.0f})"
             if best_decode[1] < best_encoder[1] else f"the encoder ({best_encoder[1]:.0f} clips/s)")
    lines = [
        f"device for the encoder: {args.device} ({gpu}); {cores} CPU cores; {args.clips} synthetic 10-s clips, "
        "44.1 kHz mono FLAC -> 32 kHz",
        "decode + resample, clips/s: " + ", ".join(f"{k} {v:.0f}" for k, v in result["decode"].items())
        + f" (one core: {1000 / result['decode']['serial']:.1f} ms/clip)",
        "mn04_as forward alone on decoded audio, clips/s by batch: "
        + ", ".join(f"{k}: {v:.0f}" for k, v in result["encoder"].items()),
        f"precompute() end to end (batch {args.batch}, stand-in text), clips/s by decode threads: "
        + ", ".join(f"{k}: {v:.0f}" for k, v in result["precompute"].items()),
        *([f"precompute --engine ray (one encoder actor per GPU, decode tasks on the CPUs; actor start included, "
           f"Ray's own {result['ray']['ray start s']:.1f} s start not): {result['ray']['clips/s']:.0f} clips/s, "
           f"{result['ray']['clips/s'] / max(result['precompute'].values()):.2f}x the best plain process; "
           f"cluster {result['ray']['resources']}"] if "ray" in result else []),
        f"measured end to end on this machine: {best_e2e[1]:.0f} clips/s with {best_e2e[0]} decode threads; "
        f"ceiling of the parts: {min(best_decode[1], best_encoder[1]):.0f} clips/s, bound by {bound}",
        f"AudioSet estimate (2M clips; extrapolated: N nodes like this one, one GPU and {cores} cores each, "
        "`--shard I/N`, shared-disk bandwidth and start-up not included):",
        *estimate(best_e2e[1], "the measured end-to-end rate"),
        *estimate(min(best_decode[1], best_encoder[1]), "the best of the parts (a pipeline that overlaps them fully)"),
    ]
    _common.record(f"Per-clip costs of precompute on {args.device} and the AudioSet estimate", lines,
                   ["the stand-in text encoder costs nothing per clip (AudioSet's 527 label names are embedded once)"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
