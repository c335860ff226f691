"""Training speed at AudioCaps scale: seconds per epoch, 49,838 pairs, 512 -> 512, batch 256.

    python benchmarks/bench_train.py [--epochs 2] [--repeats 3]

Synthetic vectors (only speed matters). Interleaved, at 1 and at 2 torch threads:

- clapdemo: `train()` (tensors in memory, a seeded permutation cut into batches,
  no DataLoader), no validation set; the EpochLog's seconds;
- course style (baseline): a torch `DataLoader(shuffle=True, batch_size=256)` over
  a Dataset that is a list of dicts {"uniq_id", "audio_embedding", "text_embedding"}
  holding numpy arrays, as the course's pickle does (its `AudioTextDataset`), each
  item turned into tensors in `__getitem__`, default collate, the same linear map
  and learnable temperature, the course's symmetric cross-entropy, AdamW.

Targets: clapdemo >= 5x faster than the course style, and <= 1.2 s per epoch on 2 cores.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

import numpy as np  # noqa: E402

N_PAIRS, DIM, BATCH = 49_838, 512, 256


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1, help="epochs per timed run (default 1)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds (default 3)")
    args = parser.parse_args()

    import torch
    import torch.nn.functional as F
    from torch.utils.data import DataLoader, Dataset

    from clapdemo.embeddings import EmbeddingSet
    from clapdemo.model import AudioProjection, ProjectionConfig
    from clapdemo.train import TrainConfig, train

    rng = np.random.default_rng(0)
    audio = rng.standard_normal((N_PAIRS, DIM)).astype(np.float32)
    text = (audio @ rng.standard_normal((DIM, DIM)).astype(np.float32) * 0.05
            + rng.standard_normal((N_PAIRS, DIM)).astype(np.float32))
    ids = [f"c{i}" for i in range(N_PAIRS)]
    data = EmbeddingSet(audio, text, np.arange(N_PAIRS), ids, [""] * N_PAIRS, [f"caption {i}" for i in ids])
    records = [{"uniq_id": i, "audio_embedding": a.copy(), "text_embedding": t.copy()}
               for i, a, t in zip(ids, audio, text)]

    class AudioTextDataset(Dataset):  # the course's style: a list of dicts
        def __init__(self, items):
            self.items = items

        def __len__(self):
            return len(self.items)

        def __getitem__(self, i):
            item = self.items[i]
            return {"audio_embedding": torch.tensor(item["audio_embedding"], dtype=torch.float32),
                    "text_embedding": torch.tensor(item["text_embedding"], dtype=torch.float32)}

    epoch_seconds: dict[str, list[float]] = {}

    def clapdemo_train():
        result = train(TrainConfig(epochs=args.epochs, batch_size=BATCH, lr=1e-3, patience=0, seed=0), data)
        return [log.seconds for log in result.history]

    def course_train():
        torch.manual_seed(0)
        model = AudioProjection(ProjectionConfig(DIM, DIM))
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
        loader = DataLoader(AudioTextDataset(records), batch_size=BATCH, shuffle=True)
        seconds = []
        for _ in range(args.epochs):
            start = time.perf_counter()
            for batch in loader:
                a = F.normalize(model(batch["audio_embedding"]), dim=-1)
                t = F.normalize(batch["text_embedding"], dim=-1)
                logits = model.scale() * a @ t.T
                labels = torch.arange(len(a))
                loss = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            seconds.append(time.perf_counter() - start)
        return seconds

    before = torch.get_num_threads()
    fns = {}
    for threads in (1, 2):
        for name, fn in (("clapdemo", clapdemo_train), ("course DataLoader", course_train)):
            key = f"{name}, {threads} thread{'s' if threads > 1 else ''}"

            def run(fn=fn, threads=threads, key=key):
                torch.set_num_threads(threads)
                epoch_seconds.setdefault(key, []).extend(fn())

            fns[key] = run
    _common.interleaved(fns, args.repeats, warmup=False)
    torch.set_num_threads(before)
    med = {k: _common.median(v) for k, v in epoch_seconds.items()}
    lines = [f"{N_PAIRS:,} synthetic pairs, {DIM} -> {DIM}, batch {BATCH}, AdamW; {args.epochs} epochs per run x "
             f"{args.repeats} interleaved rounds; median seconds per epoch"]
    lines += [f"{k}: {v:.2f} s/epoch" for k, v in med.items()]
    for threads in (1, 2):
        suffix = f", {threads} thread{'s' if threads > 1 else ''}"
        ours, course = med["clapdemo" + suffix], med["course DataLoader" + suffix]
        lines.append(f"{threads} thread(s): clapdemo {course / ours:.1f}x faster than the course DataLoader — "
                     + _common.verdict(course / ours >= 5, ">= 5x", f"by {5 / (course / ours):.2f}x"))
    best = min(med["clapdemo, 1 thread"], med["clapdemo, 2 threads"])
    lines.append(f"clapdemo best {best:.2f} s/epoch — " + _common.verdict(best <= 1.2, "<= 1.2 s/epoch",
                                                                       f"by {best / 1.2:.2f}x"))
    lines.append(f"1 vs 2 threads (clapdemo): {med['clapdemo, 2 threads'] / med['clapdemo, 1 thread']:.2f}x "
                 "the time with 2 threads (> 1: one thread is faster on this machine now)")
    _common.record("Training at AudioCaps scale (49,838 pairs, 512 -> 512, batch 256)", lines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
