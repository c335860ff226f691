"""Datasets + encoders -> store: batched, overlapped, checkpointed, resumable.

Decoding runs in a small thread pool (soundfile and soxr release the GIL). When
the encoder leaves cores free (a GPU, or fewer torch threads than cores) the pool
decodes the next batches while one is encoded; when torch's threads already
fill every core, it decodes each batch with all its threads between two
forwards instead (see `_decode_ahead`). Captions are embedded once per shard,
all of the shard's new ones in one call. Every `checkpoint_every`
clips the finished vectors become one shard on disk; a rerun skips clips whose
shard is safely written, so a killed run loses at most one checkpoint's work.
Clips that fail to decode are listed in the store's failed.json with the reason
and the run goes on; silent or clipped clips are embedded and listed in the
report as flagged. One process per job and store: a second one is refused
(`StoreBusy`). A disk that fills up or a folder that turns out read-only stops
the run with `StoreWriteError`; the shards already written stay valid.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from clapdemo import __version__, logs
from clapdemo.data.audio import AudioError, fit_length, load_audio, sound_warnings
from clapdemo.stores.audio_hashes import audio_sha256
from clapdemo.stores.store import Store, StoreWriteError

log = logs.get(__name__)


@dataclass
class PrecomputeReport:
    """What a precompute run did; also written to the store: report.json, or
    reports/shard-I-of-N.json for one shard of a `--shard I/N` run (see `report_file`)."""

    store: str
    total: int
    already_done: int = 0
    computed: int = 0
    failed: dict = field(default_factory=dict)  # clip_id -> {"audio_path", "error"}
    missing: list = field(default_factory=list)  # clips the dataset names but has no file for
    flagged: dict = field(default_factory=dict)  # clip_id -> {"audio_path", "notes"}: embedded, but odd
    seconds: float = 0.0
    stopped: bool = False
    report_file: str = ""  # where this report was written

    def summary(self, name: str | None = None) -> str:
        """One line of counts, headed by the store's path (or `name`: the app shows names, not server paths)."""
        rate = self.computed / self.seconds if self.seconds > 0 else 0.0
        text = (f"{name or self.store}: {self.already_done + self.computed}/{self.total} clips embedded "
                f"({self.computed} now at {rate:.1f} clips/s, {self.already_done} from earlier runs), "
                f"{len(self.failed)} failed, {len(self.missing)} missing files")
        if self.flagged:
            text += f", {len(self.flagged)} flagged (silent or clipped, embedded anyway)"
        if self.stopped:
            text += " — stopped early; rerun to resume"
        return text


def build_manifest(audio_encoder, text_encoder, dataset) -> dict:
    """What the store records about how its vectors were made (and is keyed by)."""
    return {
        "format_version": 1,
        "audio_encoder": audio_encoder.identity.to_dict(),
        "text_encoder": text_encoder.identity.to_dict(),
        "audio_dim": int(audio_encoder.dim),
        "text_dim": int(text_encoder.dim),
        "sample_rate": int(audio_encoder.sample_rate),
        "clip_seconds": float(audio_encoder.clip_seconds),
        "dataset": {"name": dataset.name, "split": dataset.split},
        "created_by": f"clapdemo {__version__}",
    }


def precompute(dataset, audio_encoder, text_encoder, store_dir, *, batch_size: int = 32,
               checkpoint_every: int = 256, decode_workers: int = 2, progress: bool = True,
               on_progress: Callable[[int, int], None] | None = None,
               should_stop: Callable[[], bool] | None = None,
               select: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
               job: str = "all") -> PrecomputeReport:
    """Embed every clip of `dataset` (and its captions) into the store at `store_dir`.

    Resumes where an earlier run stopped; `select` narrows the clips this
    process handles (e.g. one shard of N). `on_progress(done, total)` and
    `should_stop()` let a UI show progress and stop between batches.
    `job` names the lock this run holds on the store (see `Store.lock`): a
    second process with the same job is refused with `StoreBusy`; processes
    that each fill a different part of one store pass different jobs.
    """
    store = Store(store_dir)
    with store.lock(job):
        return _precompute_locked(store, dataset, audio_encoder, text_encoder, batch_size, checkpoint_every,
                                  decode_workers, progress, on_progress, should_stop, select, job)


def plan_job(store, dataset, audio_encoder, text_encoder, select, job: str):
    """What a precompute run (local or on Ray) has to do, decided the same way for both: the store
    created or checked against this dataset and these encoders, then (clips of this job, those not
    done yet, the failed.json entries this run may rewrite or None, earlier failures kept, the report
    so far)."""
    store.create_or_check(build_manifest(audio_encoder, text_encoder, dataset), dataset.clips)
    for problem in store.verify():
        log.warning("%s", problem)
    clips = dataset.clips if select is None else select(dataset.clips)
    owned = None if select is None else set(clips["clip_id"].astype(str))  # failed.json entries this run may rewrite
    done = store.done_clip_ids()
    todo = clips[~clips["clip_id"].isin(done)].reset_index(drop=True)
    report = PrecomputeReport(store=str(store.root), total=len(clips), already_done=len(clips) - len(todo),
                              missing=list(dataset.missing))
    report.flagged = earlier_flagged(report_file(store.root, job), done & set(clips["clip_id"]))
    failed = {k: v for k, v in store.failed().items() if k not in set(todo["clip_id"]) and k not in done}
    return clips, todo, owned, failed, report


def _precompute_locked(store, dataset, audio_encoder, text_encoder, batch_size, checkpoint_every,
                       decode_workers, progress, on_progress, should_stop, select, job) -> PrecomputeReport:
    clips, todo, owned, failed, report = plan_job(store, dataset, audio_encoder, text_encoder, select, job)
    start = time.perf_counter()
    writer = ShardWriter(store, checkpoint_every, text_encoder)
    bar = progress_bar(progress, len(clips), report.already_done)
    try:
        for batch, decoded in _decoded_batches(todo, audio_encoder, batch_size, decode_workers):
            ok_rows, ok_waves = _keep_decoded(batch, decoded, failed, report.flagged)
            if ok_rows:
                audio = audio_encoder.embed(np.stack(ok_waves))
                writer.add(batch.iloc[ok_rows], audio, [decoded[i][2] for i in ok_rows])
            if writer.flush_if_full():
                store.write_failed(failed, owned)
            report.computed += len(ok_rows)
            bar.update(len(batch))
            if on_progress:
                on_progress(report.already_done + report.computed + len(failed), len(clips))
            if should_stop and should_stop():
                report.stopped = True
                break
    except StoreWriteError:
        raise  # the disk refused a write: nothing more can be saved, and what is saved is intact
    except BaseException:
        save_finished(writer, store, failed, owned)  # Ctrl-C or a crash: keep the clips already embedded
        raise
    finally:
        bar.close()
    writer.flush()
    store.write_failed(failed, owned)
    report.failed = failed
    report.seconds = time.perf_counter() - start
    write_report(store, report, job)
    return report


def save_finished(writer: "ShardWriter", store: Store, failed: dict, owned: set | None = None) -> None:
    """Write the clips embedded so far while another error is on its way up (which must win)."""
    try:
        writer.flush()
        store.write_failed(failed, owned)
    except Exception:
        pass


class ShardWriter:
    """Collects finished clips and writes them as one shard every `every` clips.

    The captions are embedded at `flush`, all of the shard's new ones in one
    call (few large batches instead of one small call per audio batch). The
    vectors of the last shard's captions are kept for the next one (ESC-50
    repeats its class prompts); older ones are dropped, so memory stays at one
    shard's captions however many clips the run has (AudioCaps' are mostly
    distinct)."""

    def __init__(self, store: Store, every: int, text_encoder):
        self.store, self.every, self.text_encoder = store, every, text_encoder
        self.text_cache: dict[str, np.ndarray] = {}
        self._reset()

    def _reset(self):
        self.clip_ids, self.audio, self.text_clip, self.captions, self.hashes = [], [], [], [], []

    def add(self, rows: pd.DataFrame, audio: np.ndarray, hashes=None) -> None:
        """`hashes`: the sha256 of each clip's audio file (None: not known), kept in the shard's sidecar."""
        hashes = [None] * len(rows) if hashes is None else hashes
        for clip_id, captions, vector, digest in zip(rows["clip_id"], rows["captions"], audio, hashes):
            local = len(self.clip_ids)
            self.clip_ids.append(str(clip_id))
            self.audio.append(vector)
            self.hashes.append(digest)
            for caption in captions:
                self.text_clip.append(local)
                self.captions.append(caption)

    def flush_if_full(self) -> bool:
        if len(self.clip_ids) >= self.every:
            self.flush()
            return True
        return False

    def flush(self) -> None:
        if not self.clip_ids:
            return
        vectors = self._caption_vectors()
        text = (np.stack([vectors[c] for c in self.captions]) if self.captions
                else np.zeros((0, self.text_encoder.dim), np.float32))
        recorded = {"extra": {"audio_sha256": self.hashes}} if any(self.hashes) else {}  # the clips' files' sha256
        self.store.write_shard(self.clip_ids, np.stack(self.audio), text, np.asarray(self.text_clip), self.captions,
                               **recorded)
        self.text_cache = vectors
        self._reset()

    def _caption_vectors(self) -> dict[str, np.ndarray]:
        """caption -> vector for this shard's distinct captions; each new one embedded once, in one call."""
        distinct = set(self.captions)
        vectors = {c: v for c, v in self.text_cache.items() if c in distinct}
        new = sorted(distinct - vectors.keys())
        if new:
            vectors.update(zip(new, self.text_encoder.embed(new)))
        return vectors


def _decode_ahead(encoder) -> bool:
    """Whether decoding may run while the encoder computes: only when the forward leaves cores free.

    On a GPU, or with fewer torch threads than cores, it does. When torch's
    OpenMP threads fill every core, decode threads running beside them take a
    core from one of them, and the others wait for it at every layer: on 2
    cores the mn04 forward then ran up to 3x slower. There, decoding each batch
    with all the pool's threads between two forwards is faster.
    """
    if not str(getattr(encoder, "device", "cpu")).startswith("cpu"):
        return True
    torch = sys.modules.get("torch")  # an encoder without torch (numpy, BLAS) uses every core too
    return torch is not None and torch.get_num_threads() < _cores()


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _decoded_batches(todo: pd.DataFrame, encoder, batch_size: int, workers: int):
    """Yield (batch rows, [(wave, notes) or AudioError]) in order.

    With `_decode_ahead`, two batches are decoded while one is encoded (bounded
    memory, overlapped decode); otherwise each batch is decoded when asked for.
    """
    n_samples = int(round(encoder.clip_seconds * encoder.sample_rate))
    ahead = 2 if _decode_ahead(encoder) else 0

    def decode(path):
        try:
            wave = load_audio(path, encoder.sample_rate, encoder.clip_seconds)
            return fit_length(wave, n_samples), sound_warnings(wave), audio_sha256(path)
        except AudioError as error:
            return error
        except Exception as error:  # a decoder crash on one odd file must not end the run
            return AudioError(path, f"{type(error).__name__}: {error}")

    starts = range(0, len(todo), batch_size)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        pending: deque = deque()
        for start in starts:
            batch = todo.iloc[start : start + batch_size]
            pending.append((batch, [pool.submit(decode, p) for p in batch["audio_path"]]))
            if len(pending) > ahead:
                rows, futures = pending.popleft()
                yield rows, [f.result() for f in futures]
        while pending:
            rows, futures = pending.popleft()
            yield rows, [f.result() for f in futures]


def _keep_decoded(batch: pd.DataFrame, decoded: list, failed: dict, flagged: dict) -> tuple[list[int], list[np.ndarray]]:
    """Split a batch into decoded waves and failures (recorded with their reason); note odd clips."""
    ok_rows, ok_waves = [], []
    for i, (item, (_, row)) in enumerate(zip(decoded, batch.iterrows())):
        clip_id, path = str(row["clip_id"]), str(row["audio_path"])
        if isinstance(item, AudioError):
            failed[clip_id] = {"audio_path": path, "error": item.problem}
            continue
        wave, notes, _ = item
        if notes:
            flagged[clip_id] = {"audio_path": path, "notes": notes}
        ok_rows.append(i)
        ok_waves.append(wave)
    return ok_rows, ok_waves


def progress_bar(enabled: bool, total: int, initial: int):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit="clip", desc="precompute", disable=not enabled)


def report_file(store_root, job: str = "all") -> Path:
    """Where a run's report goes: one file per job, so N shard processes never overwrite
    each other's (the last writer used to win)."""
    root = Path(store_root)
    return root / "report.json" if job == "all" else root / "reports" / f"{job}.json"


def earlier_flagged(path: Path, done: set) -> dict:
    """The flagged clips of the last report that are still done: a resumed run embeds only the rest,
    and its report must keep listing the odd clips embedded before (they vanished from it)."""
    import json

    try:
        earlier = json.loads(path.read_text(encoding="utf-8")).get("flagged")
    except (OSError, ValueError, RecursionError, AttributeError):
        return {}  # no earlier report, or one too damaged to read: nothing to carry over
    return {k: v for k, v in earlier.items() if k in done} if isinstance(earlier, dict) else {}


def write_report(store: Store, report: PrecomputeReport, job: str = "all") -> None:
    from dataclasses import asdict

    from clapdemo.stores.store import atomic_write_json

    path = report_file(store.root, job)
    report.report_file = str(path)
    atomic_write_json(path, asdict(report))
