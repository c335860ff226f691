"""Scale-out numbers: precompute throughput (plain vs Ray, 1 and 2 workers) and FAISS vs exact search.

    python benchmarks/scale.py                      # both parts (needs requirements-scale.txt)
    python benchmarks/scale.py --part precompute --clips 64
    python benchmarks/scale.py --part search --n 1000000

Precompute: the same ESC-50 clips into fresh stores by the plain single process
and by Ray Data with 1 and 2 encoder actors (Ray started once before, not
timed; actor start-up, i.e. loading the encoder, is timed). Search: N
synthetic 512-d unit vectors around 4,000 centres, noise as large as the centres (real embeddings cluster;
uniform noise would make every index look bad), exact top-10 by one
matrix-vector product vs the FAISS IVF index of `clapdemo.search.ann_index` at several
nprobe, p50 latency of single queries and recall@10 against the exact top-10.
Results are appended to BENCHMARKS.md with the per-clip costs the AudioSet
estimate is built from.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import SHARED, median, record, verdict

ESC50 = SHARED / "data" / "esc50-subset"


def bench_precompute(n_clips: int) -> dict:
    """Seconds for `n_clips` clips: plain, Ray 1 actor, Ray 2 actors (fresh store each)."""
    import ray

    from clapdemo.data.datasets import load_dataset
    from clapdemo.encoders import load_audio_encoder, load_text_encoder
    from clapdemo.stores.precompute import precompute
    from clapdemo.stores.ray_engine import precompute_ray, worker_env

    dataset = load_dataset("esc50", ESC50)
    dataset.clips = dataset.clips.head(n_clips)
    audio, text = load_audio_encoder("mn04_as"), load_text_encoder("minilm")
    ray.init(address="local", num_cpus=os.cpu_count(), runtime_env=worker_env(), include_dashboard=False,
             log_to_driver=False)
    runs = {
        "plain": lambda out: precompute(dataset, audio, text, out, progress=False),
        "ray x1": lambda out: precompute_ray(dataset, audio, text, out, actors=1, progress=False),
        "ray x2": lambda out: precompute_ray(dataset, audio, text, out, actors=2, progress=False),
    }
    seconds = {}
    for name, run in runs.items():
        out = Path(tempfile.mkdtemp(prefix="scale-bench-"))
        start = time.perf_counter()
        run(out / "store")
        seconds[name] = time.perf_counter() - start
        shutil.rmtree(out)
    ray.shutdown()
    return seconds


def clustered(n: int, dim: int, seed: int, centres: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.empty((n, dim), np.float32)
    for start in range(0, n, 100_000):
        stop = min(n, start + 100_000)
        x = centres[rng.integers(0, len(centres), stop - start)] + 1.0 * rng.standard_normal((stop - start, dim),
                                                                                            dtype=np.float32)
        out[start:stop] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def bench_search(n: int, dim: int = 512, queries: int = 200, probes=(8, 16, 32, 48, 64)) -> dict:
    from clapdemo.search import ann_index as ann

    centres = np.random.default_rng(0).standard_normal((4000, dim)).astype(np.float32)
    vectors, qs = clustered(n, dim, 1, centres), clustered(queries, dim, 2, centres)
    exact_ms, exact_top = [], []
    for q in qs:
        start = time.perf_counter()
        scores = vectors @ q
        top = np.argpartition(-scores, 9)[:10]
        exact_ms.append((time.perf_counter() - start) * 1000)
        exact_top.append(set(top.tolist()))
    start = time.perf_counter()
    index = ann.build_ivf(vectors)
    build_s = time.perf_counter() - start
    rows = {}
    for nprobe in probes:
        os.environ["CLAPDEMO_ANN_NPROBE"] = str(nprobe)
        ms, recall = [], []
        for q, want in zip(qs, exact_top):
            start = time.perf_counter()
            _, found = ann.search(index, q, 10)
            ms.append((time.perf_counter() - start) * 1000)
            recall.append(len(want & set(found[0].tolist())) / 10)
        rows[nprobe] = (median(ms), float(np.mean(recall)))
    return {"n": n, "exact_p50_ms": median(exact_ms), "build_s": build_s, "lists": index.nlist, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["all", "precompute", "search"], default="all")
    parser.add_argument("--clips", type=int, default=64, help="ESC-50 clips per precompute run (default 64)")
    parser.add_argument("--n", type=int, default=1_000_000, help="synthetic vectors for search (default 1,000,000)")
    args = parser.parse_args()
    if args.part in ("all", "precompute"):
        s = bench_precompute(args.clips)
        per_clip = {k: v / args.clips for k, v in s.items()}
        record(f"Scale: precompute throughput, {args.clips} ESC-50 clips (mn04_as + MiniLM, CPU)", [
            *(f"{k}: {v:.1f} s, {args.clips / v:.2f} clips/s, {per_clip[k] * 1000:.0f} ms/clip" for k, v in s.items()),
            f"ratios (throughput vs plain): ray x1 {s['plain'] / s['ray x1']:.2f}, ray x2 {s['plain'] / s['ray x2']:.2f}; "
            f"ray x2 vs x1 {s['ray x1'] / s['ray x2']:.2f}",
        ], ["Ray's own start (ray.init) is not timed; starting the encoder actors is. On 2 shared cores, two "
            "actors compete with decoding and the driver, so x2 cannot reach 2.0 here."])
    if args.part in ("all", "search"):
        r = bench_search(args.n)
        best = min((p for p, (ms, rec) in r["rows"].items() if rec >= 0.95), default=None)
        lines = [f"exact (one matrix-vector product + argpartition): p50 {r['exact_p50_ms']:.1f} ms/query",
                 f"IVF,Flat build ({r['lists']} lists, trained on 40 per list): {r['build_s']:.0f} s",
                 *(f"IVF nprobe {p}: p50 {ms:.2f} ms, recall@10 {rec:.3f}" for p, (ms, rec) in r["rows"].items())]
        if best is not None:
            ms, rec = r["rows"][best]
            lines.append(f"smallest nprobe with recall@10 >= 0.95: {best} -> p50 {ms:.2f} ms "
                         f"({r['exact_p50_ms'] / ms:.0f}x faster than exact); "
                         + verdict(ms < 5 and rec >= 0.95, "p50 < 5 ms at recall@10 >= 0.95"))
        record(f"Scale: FAISS IVF vs exact search, {r['n']:,} synthetic 512-d vectors", lines,
               ["single queries, one at a time; vectors around 4,000 centres, noise as large as a centre (see the script's docstring)"])


if __name__ == "__main__":
    main()
