"""`precompute --engine ray`: the same job as `precompute.precompute`, as a Ray Data pipeline.

    clip table -> decode + resample (CPU tasks) -> audio encoder (actor pool,
    one GPU per actor where the cluster has GPUs) -> this process writes shards

The driver keeps what makes a store safe: the job lock, the manifest check,
skipping finished clips, one checksummed shard per `checkpoint_every` clips,
failed.json and report.json - by the same code as the local engine, so the
store is the same whichever engine filled it. Captions are embedded in the
driver (the text encoder is cheap and each distinct caption is embedded once).
Ray is an optional extra (requirements-scale.txt), imported only here.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from clapdemo import logs
from clapdemo.stores.precompute import (PrecomputeReport, ShardWriter, plan_job, progress_bar, save_finished,
                                        write_report)
from clapdemo.stores.store import Store, StoreWriteError
from clapdemo.shipped import PACKAGE

log = logs.get(__name__)

# Environment a worker needs to find our package and the encoders' weights offline.
_WORKER_ENV = ("CLAPDEMO_WEIGHTS_DIR", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HOME")


def _ray():
    try:
        import ray
    except ImportError as error:
        raise ImportError("--engine ray needs Ray: pip install -r requirements-scale.txt "
                          "(or leave out --engine to embed in this process)") from error
    return ray


def worker_env() -> dict:
    """runtime_env for workers: our package on PYTHONPATH, the weight folder and offline flags."""
    package_parent = str(PACKAGE.parent)
    env = {k: os.environ[k] for k in _WORKER_ENV if k in os.environ}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent, os.environ.get("PYTHONPATH")) if p)
    return {"env_vars": env}


def connect(address: str | None = None) -> None:
    """Join the cluster at `address` (or $RAY_ADDRESS, set by `ray job submit`), else start a
    private local Ray - never silently join some other user's Ray on the same machine."""
    ray = _ray()
    if not ray.is_initialized():
        ray.init(address=address or os.environ.get("RAY_ADDRESS") or "local", runtime_env=worker_env(),
                 log_to_driver=False)


def decode_batch(batch: dict, sample_rate: int, clip_seconds: float) -> dict:
    """A Ray task: decode, resample and fit a batch of files; failures become rows with a reason."""
    from clapdemo.data.audio import AudioError, fit_length, load_audio, sound_warnings

    n_samples = int(round(clip_seconds * sample_rate))
    waves, errors, notes = [], [], []
    for path in batch["audio_path"]:
        try:
            wave = load_audio(str(path), sample_rate, clip_seconds)
            waves.append(fit_length(wave, n_samples).astype(np.float32))
            errors.append("")
            notes.append("; ".join(sound_warnings(wave)))
        except Exception as error:  # one odd file must not end the run: it is listed in failed.json
            problem = error.problem if isinstance(error, AudioError) else f"{type(error).__name__}: {error}"
            waves.append(np.zeros(n_samples, np.float32))
            errors.append(problem)
            notes.append("")
    return {"clip_id": batch["clip_id"], "audio_path": batch["audio_path"], "wave": np.stack(waves),
            "error": np.asarray(errors, dtype=object), "notes": np.asarray(notes, dtype=object)}


class EmbedAudio:
    """A Ray actor: loads the audio encoder once, then embeds decoded batches (the waves are dropped)."""

    def __init__(self, name: str, identity: dict):
        import torch

        from clapdemo.encoders import load_audio_encoder

        self.encoder = load_audio_encoder(name, device="cuda" if torch.cuda.is_available() else "cpu")
        if self.encoder.identity.to_dict() != identity:
            raise RuntimeError(f"worker loaded {name} with other weights or settings than the driver "
                               f"({self.encoder.identity.weights_sha256[:12]} vs {identity['weights_sha256'][:12]}); "
                               "give every node the same CLAPDEMO_WEIGHTS_DIR")

    def __call__(self, batch: dict) -> dict:
        ok = np.asarray([not e for e in batch["error"]], dtype=bool)
        audio = np.zeros((len(ok), self.encoder.dim), np.float32)
        if ok.any():
            audio[ok] = self.encoder.embed(batch["wave"][ok])
        return {"clip_id": batch["clip_id"], "audio_path": batch["audio_path"], "audio": audio,
                "error": batch["error"], "notes": batch["notes"]}


def pipeline(todo, audio_encoder, batch_size: int, actors: int):
    """The Ray Dataset: table -> decode tasks -> encoder actor pool, streamed in clip batches.

    Without GPUs, Ray fuses the decode step into the encoder actors (same
    resources, no copy between them); with GPUs, decoding runs as separate CPU
    tasks feeding the GPU actors."""
    ray = _ray()
    has_gpu = ray.cluster_resources().get("GPU", 0) >= 1
    table = todo[["clip_id", "audio_path"]].astype(str)
    step = max(batch_size, -(-len(table) // 10_000))  # about one block per batch: every actor gets work
    blocks = [table.iloc[i : i + step] for i in range(0, len(table), step)]
    decoded = ray.data.from_pandas(blocks).map_batches(
        decode_batch, batch_size=batch_size, batch_format="numpy", num_cpus=1,
        fn_kwargs={"sample_rate": audio_encoder.sample_rate, "clip_seconds": audio_encoder.clip_seconds})
    return decoded.map_batches(
        EmbedAudio, batch_size=batch_size, batch_format="numpy", compute=ray.data.ActorPoolStrategy(size=actors),
        num_gpus=1 if has_gpu else 0, num_cpus=0 if has_gpu else 1,
        fn_constructor_kwargs={"name": audio_encoder.name, "identity": audio_encoder.identity.to_dict()})


def precompute_ray(dataset, audio_encoder, text_encoder, store_dir, *, address: str | None = None,
                   batch_size: int = 32, checkpoint_every: int = 256, select=None, job: str = "all",
                   actors: int | None = None, progress: bool = True) -> PrecomputeReport:
    """Embed `dataset` into the store at `store_dir` on Ray: same store, same resume, same report.

    `actors`: encoder replicas (default: one per GPU, else one per 2 CPUs)."""
    connect(address)
    store = Store(store_dir)
    with store.lock(job):
        _, todo, owned, failed, report = plan_job(store, dataset, audio_encoder, text_encoder, select, job)
        if len(todo):
            _run(todo, audio_encoder, text_encoder, store, report, failed, owned, batch_size, checkpoint_every,
                 actors or _default_actors(), progress)
        store.write_failed(failed, owned)
        report.failed = failed
        write_report(store, report, job)
        return report


def _default_actors() -> int:
    resources = _ray().cluster_resources()
    return max(1, int(resources.get("GPU", 0)) or int(resources.get("CPU", 2)) // 2)


def _run(todo, audio_encoder, text_encoder, store, report, failed, owned, batch_size, checkpoint_every,
         actors, progress) -> None:
    """Stream the pipeline's batches into shards; on any error keep what is embedded, then re-raise."""
    rows = todo.set_index(todo["clip_id"].astype(str))
    writer = ShardWriter(store, checkpoint_every, text_encoder)
    bar = progress_bar(progress, report.total, report.already_done)
    start = time.perf_counter()
    try:
        for batch in pipeline(todo, audio_encoder, batch_size, actors).iter_batches(batch_size=batch_size,
                                                                                    batch_format="numpy"):
            ok = _record(batch, failed, report.flagged)
            if ok.any():
                writer.add(rows.loc[[str(c) for c in batch["clip_id"][ok]]], batch["audio"][ok])
            if writer.flush_if_full():
                store.write_failed(failed, owned)
            report.computed += int(ok.sum())
            bar.update(len(ok))
    except StoreWriteError:
        raise
    except BaseException:
        save_finished(writer, store, failed, owned)
        raise
    finally:
        bar.close()
    writer.flush()
    report.seconds = time.perf_counter() - start


def _record(batch: dict, failed: dict, flagged: dict) -> np.ndarray:
    """Note failed and odd clips of one batch; return the mask of clips that were embedded."""
    ok = np.ones(len(batch["clip_id"]), dtype=bool)
    for i, (clip_id, path, error, notes) in enumerate(zip(batch["clip_id"], batch["audio_path"],
                                                          batch["error"], batch["notes"])):
        if error:
            failed[str(clip_id)] = {"audio_path": str(path), "error": str(error)}
            ok[i] = False
        elif notes:
            flagged[str(clip_id)] = {"audio_path": str(path), "notes": str(notes).split("; ")}
    return ok
