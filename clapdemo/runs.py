"""A trained run on disk, used against a store: evaluate it, search with it.

The CLI and the app both go through these functions, so a number shown in the
app is the number `python -m clapdemo evaluate` prints.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from clapdemo.embeddings import EmbeddingSet
from clapdemo.encoders import cached_audio_encoder, cached_text_encoder
from clapdemo.model import FILENAME, load_projection, projection_file
from clapdemo.run_info import CLIPS_FILE, RunInfo, load_run_info
from clapdemo.search import Searcher, check_compatible


def load_run(run) -> tuple[object, RunInfo]:
    """(projection model, its RunInfo) from a run directory or a projection.safetensors file.

    A shipped run (assets/projection) is checked against assets/SHA256SUMS first
    (`sample_set.check_shipped`): a damaged file is named, never loaded."""
    from clapdemo.run_info import RUN_FILE
    from clapdemo.sample_set import check_shipped

    file = projection_file(run)
    for path in (file, file.parent / RUN_FILE, file.parent / CLIPS_FILE):
        if path.is_file():
            check_shipped(path)
    model, _ = load_projection(file)
    return model, load_run_info(run)


def run_data(info: RunInfo) -> dict:
    """What a run trained on (`RunInfo.data`): encoder identities and the store's dataset record."""
    return info.data


def best_epoch_of(info: RunInfo):
    """The epoch whose weights the run kept ("?" if its record does not say)."""
    return "?" if info.best_epoch is None else info.best_epoch


def encoders_of(info: RunInfo) -> dict:
    """The encoder identities a projection was trained with (`RunInfo.encoders`)."""
    return info.encoders


def evaluate_run(run, store, batch_size: int | None = None, memmap: bool = False, float16: bool = False,
                 allow_overlap: bool = False, unseen_only: bool = False) -> dict:
    """All metrics of the projection at `run` on the store at `store`, beside random.

    No leakage: a store holding clips the run trained or validated on (its train_clips.json),
    or the same split of AudioCaps/Clotho it trained on, is refused. `unseen_only` measures
    just the clips the run never saw (e.g. the ESC-50 clips its run.json holds out);
    `allow_overlap` measures anyway, and the result says "in_sample": True.
    A store with classes (ESC-50) also gets zero-shot accuracy among all its classes."""
    from clapdemo.metrics import evaluate
    from clapdemo.packed import load_vectors
    from clapdemo.store import attach_audio_hashes
    from clapdemo.training_data import overlap_problem

    model, info = load_run(run)
    embeddings = (attach_audio_hashes(load_vectors(store, memmap, float16), store)
                  if not isinstance(store, EmbeddingSet) else store)
    check_compatible(embeddings, {"encoders": encoders_of(info)})
    if embeddings.n_clips == 0:
        raise ValueError(f"{store}: the store holds no embedded clips yet; run precompute first")
    seen = in_sample_mask(run, embeddings)
    classes = class_prompts(embeddings)
    if unseen_only:
        embeddings = embeddings.subset(np.flatnonzero(~seen))
        if embeddings.n_clips < 2:
            raise ValueError(f"{store}: fewer than two clips the run at {run} has not trained on")
        seen = seen[~seen]
    problem = overlap_problem(info, embeddings, seen)
    if problem and not allow_overlap:
        raise ValueError(f"{store}: {problem}; its numbers would be in-sample. Evaluate on held-out clips "
                         "(--unseen-only keeps only the clips the run never saw), or pass --allow-overlap to "
                         "measure in-sample on purpose")
    metrics = evaluate(model, embeddings, batch_size=batch_size)
    if classes is not None:
        metrics |= zero_shot(model, embeddings, *classes)
    return metrics | {"in_sample": bool(problem)}


def trained_clip_ids(run) -> set[str]:
    """The clip ids the run trained and validated on (train_clips.json beside it; empty if absent)."""
    clips = _clips_record(run)
    return set(clips.get("train", [])) | set(clips.get("val", []))


def trained_audio_hashes(run) -> set[str]:
    """The sha256 of the audio files the run trained and validated on (train_clips.json "sha256";
    empty for a run recorded before it was kept). A clip copied under another name is still the
    clip the run learned from: ids alone let it pass as held out (issue 19 item 8)."""
    return set(_clips_record(run).get("sha256", []))


def _clips_record(run) -> dict:
    from clapdemo.sample_set import check_shipped

    path = projection_file(run).parent / CLIPS_FILE
    if not path.is_file():
        return {}
    check_shipped(path)
    return json.loads(path.read_text(encoding="utf-8"))


def in_sample_mask(run, embeddings: EmbeddingSet) -> np.ndarray:
    """(n_clips,) bool: True for each clip of `embeddings` the run at `run` trained or validated on,
    by clip id or by the sha256 of its audio file (hashed only when the run records hashes)."""
    from clapdemo.store import content_hashes

    ids = trained_clip_ids(run)
    mask = np.asarray([c in ids for c in embeddings.clip_ids], dtype=bool)
    hashes = trained_audio_hashes(run)
    if hashes:
        mask |= np.asarray([h in hashes for h in content_hashes(embeddings)], dtype=bool)
    return mask


def class_prompts(embeddings: EmbeddingSet) -> tuple[list[str], object] | None:
    """(class names, (C, dim) text vector of each class's first caption) of a store with classes, else None."""
    if embeddings.labels is None or embeddings.n_captions == 0:
        return None
    names, rows = [], []
    for j, clip in enumerate(embeddings.text_clip):
        label = embeddings.labels[clip]
        if label not in names:
            names.append(label)
            rows.append(j)
    return names, np.asarray(embeddings.text[rows], dtype=np.float32)


def zero_shot(model, embeddings: EmbeddingSet, names: list[str], vectors) -> dict:
    """Classification of every clip among all `names` by its caption prompt (chance 1/len(names))."""
    from clapdemo.metrics import project_audio, zero_shot_accuracy

    index = {name: i for i, name in enumerate(names)}
    scores = zero_shot_accuracy(project_audio(model, embeddings.audio), vectors,
                                [index[label] for label in embeddings.labels], ks=(1, 5))
    return scores | {"n_classes": len(names)}


def metrics_table(metrics: dict) -> pd.DataFrame:
    """One row per metric: model, its ceiling (best possible when captions repeat), exact random
    baseline, empirical random baseline, ratio."""
    rows = []
    for key, value in metrics.items():
        if key.startswith(("random", "n_", "best_possible_")) or key == "in_sample":
            continue
        exact = metrics.get(f"random_{key}")
        rows.append({
            "metric": key,
            "model": round(float(value), 4),
            "best possible": _rounded(metrics.get(f"best_possible_{key}")),
            "random (exact)": None if exact is None else round(float(exact), 4),
            "random (empirical)": _rounded(metrics.get(f"random_empirical_{key}")),
            "x random": None if not exact else round(float(value) / float(exact), 1),
        })
    return pd.DataFrame(rows)


def _rounded(value):
    return None if value is None else round(float(value), 4)


def encoders_for_store(manifest: dict, need_audio: bool = True, need_text: bool = True):
    """Load the encoders a store was made with, and check they are the same weights."""
    audio = text = None
    if need_audio:
        audio = cached_audio_encoder(manifest["audio_encoder"]["name"])
        _check_same(audio, manifest["audio_encoder"])
    if need_text:
        text = cached_text_encoder(manifest["text_encoder"]["name"])
        _check_same(text, manifest["text_encoder"])
    return audio, text


def _check_same(encoder, recorded: dict) -> None:
    if encoder.identity.to_dict() != recorded:
        raise ValueError(
            f"the store was made with {recorded['name']} (weights {recorded['weights_sha256'][:12]}, "
            f"settings {recorded.get('preprocessing')}), but the encoder loaded now differs "
            f"(weights {encoder.identity.weights_sha256[:12]}); recompute the store with this encoder"
        )


def open_searcher(run, store, need_audio: bool = True, need_text: bool = True, memmap: bool = False,
                  float16: bool = False) -> Searcher:
    """A Searcher over `store` with the projection at `run` and the store's own encoders."""
    from clapdemo.packed import load_vectors

    model, info = load_run(run)
    embeddings = load_vectors(store, memmap, float16) if not isinstance(store, EmbeddingSet) else store
    check_compatible(embeddings, {"encoders": encoders_of(info)})
    audio_encoder, text_encoder = encoders_for_store(embeddings.meta, need_audio, need_text)
    searcher = Searcher(embeddings, model, text_encoder=text_encoder, audio_encoder=audio_encoder)
    if not isinstance(store, EmbeddingSet):  # big stores: a FAISS index saved beside the store
        from clapdemo.ann import index_for

        searcher.index = index_for(store, searcher.audio, model)
    return searcher


def cached_searcher(run, store) -> Searcher:
    """`open_searcher(run, store)`, kept while neither changes (the projection file's mtime, the
    store's `fingerprint`): the app's pages share one per (projection, store)."""
    from clapdemo.store import fingerprint

    file = projection_file(run)
    if not file.is_file():
        raise FileNotFoundError(f"{file}: no projection file here; train one or pass the path to a "
                                "projection.safetensors")
    return _searcher_for(str(file), file.stat().st_mtime_ns, str(store), fingerprint(store))


@lru_cache(maxsize=8)
def _searcher_for(file: str, mtime_ns: int, store: str, store_fingerprint: str) -> Searcher:
    return open_searcher(file, store)


def extreme_queries(searcher: Searcher, n: int = 3) -> list[dict]:
    """The n best and n worst queries each way, to see what the model gets right and wrong.

    audio→text: each clip by the rank of its best own caption among the store's DISTINCT captions
    (`distinct_caption_ranks`: on ESC-50, among its 50 class captions, so at most 50; counting every
    copy of a repeated caption put a clip at "rank 80" of 50 classes); text→audio: each distinct
    caption by the mean rank of its clips among all clips. A record says "kind" (best, worst),
    "direction", "query" (clip id or caption), "rank" (1 = first), "out_of" (how many candidates
    that rank is among), "right_answer", "top_answer" (what the model put first) and, for audio
    queries, "audio_path"."""
    from clapdemo.metrics import query_ranks

    emb = searcher.embeddings
    _, t2a = query_ranks(searcher.audio, emb.text, emb.text_clip)
    a2t = distinct_caption_ranks(searcher)
    first = {}
    for j, clip in enumerate(emb.text_clip):
        first.setdefault(int(clip), emb.captions[j])
    rows = np.flatnonzero(a2t >= 0)
    order = rows[np.argsort(a2t[rows], kind="stable")]
    picks = [("best", i) for i in order[:n]] + [("worst", i) for i in order[::-1][:n]]
    records = []
    top_rows = np.argmax(searcher.audio[[i for _, i in picks]] @ searcher.pool_text.T, axis=1) if picks else []
    for (kind, i), top in zip(picks, top_rows):  # the store's own vectors: no clip is re-encoded
        records.append({"kind": kind, "direction": "audio→text", "query": emb.clip_ids[i], "rank": int(a2t[i]) + 1,
                        "out_of": len(searcher.pool_captions),
                        "right_answer": first.get(int(i), ""), "top_answer": str(searcher.pool_captions[top]),
                        "audio_path": emb.audio_paths[i]})
    per_caption = pd.DataFrame({"caption": emb.captions, "rank": t2a + 1}).groupby("caption")["rank"].mean()
    per_caption = per_caption.sort_values(kind="stable")
    for kind, captions in (("best", per_caption.index[:n]), ("worst", per_caption.index[::-1][:n])):
        for caption in captions:
            top = searcher.text_to_audio(caption, k=1)[0]
            records.append({"kind": kind, "direction": "text→audio", "query": caption,
                            "rank": float(per_caption[caption]), "out_of": emb.n_clips,
                            "right_answer": "its clips (mean rank)",
                            "top_answer": f"{top.clip_id} ({top.caption})", "audio_path": None})
    return records


def distinct_caption_ranks(searcher: Searcher, chunk: int = 256) -> np.ndarray:
    """(n_clips,) for each clip, how many of the store's distinct captions (`searcher.pool_captions`)
    score above its best own caption (0 = first; -1 for a clip without captions). Ties with it count
    as hits, as in `clapdemo.metrics`."""
    from clapdemo.metrics import TIE

    emb = searcher.embeddings
    index = {c: i for i, c in enumerate(searcher.pool_captions)}
    own = [[] for _ in range(emb.n_clips)]
    for caption, clip in zip(emb.captions, emb.text_clip):
        own[int(clip)].append(index[caption])
    ranks = np.full(emb.n_clips, -1, dtype=np.int64)
    for start in range(0, emb.n_clips, chunk):  # bounded memory: chunk x distinct captions at a time
        scores = searcher.audio[start:start + chunk] @ searcher.pool_text.T
        for row, clip in enumerate(range(start, min(start + chunk, emb.n_clips))):
            if own[clip]:
                best = scores[row, own[clip]].max()
                ranks[clip] = int((scores[row] > best + TIE).sum())
    return ranks


def new_run_dir(runs_folder, tag: str) -> Path:
    """runs_folder/<time>-<tag>, with a suffix when two runs start within the same second."""
    import time

    base = Path(runs_folder) / f"{time.strftime('%Y%m%d-%H%M%S')}-{tag}"
    run_dir, n = base, 1
    while run_dir.exists():
        n += 1
        run_dir = base.with_name(f"{base.name}-{n}")
    return run_dir


def past_runs(runs_folder, store_manifest: dict | None = None) -> list[tuple[str, str]]:
    """(label, run folder) of every run under `runs_folder` with a checkpoint, newest first, finished
    or cut short (a run keeps its best checkpoint as it goes). With `store_manifest`, only runs on
    vectors of the same dataset and encoders (run.json "data" against the store's manifest)."""
    out = []
    for run_json in sorted(Path(runs_folder).glob("*/run.json"), reverse=True):
        if not (run_json.parent / FILENAME).is_file():
            continue
        try:
            info = load_run_info(run_json.parent)
        except (OSError, ValueError):
            continue
        if store_manifest is not None and any(store_manifest.get(k) != v for k, v in info.data.items()):
            continue
        out.append((f"{run_json.parent.name} — {info.status or '?'}, {len(info.history)} epochs, best epoch "
                    f"{best_epoch_of(info)}", str(run_json.parent)))
    return out


def label_searcher(run, audio_encoder, text_encoder) -> Searcher:
    """A Searcher with no store, to describe a clip with the projection at `run` alone: its
    caption pool is the 527 AudioSet label names as `projection_init` words them ("the sound of
    dog"), to which a caller adds its own captions (`audio_to_text(..., extra_captions)`).

    The encoders must be the ones the projection was trained with (a ValueError says which differs)."""
    model, info = load_run(run)
    for encoder, side in ((audio_encoder, "audio_encoder"), (text_encoder, "text_encoder")):
        trained = encoders_of(info).get(side)
        if trained and trained != encoder.identity.to_dict():
            raise ValueError(f"the projection {projection_file(run)} was trained with {side.replace('_', ' ')} "
                             f"{trained.get('name')}, not the {encoder.name} loaded now; use its encoders "
                             "(CLAPDEMO_AUDIO_ENCODER / CLAPDEMO_TEXT_ENCODER) or train a projection for these")
    none = EmbeddingSet(audio=np.zeros((0, model.config.audio_dim), np.float32),
                        text=np.zeros((0, model.config.text_dim), np.float32), text_clip=np.zeros(0, np.int64),
                        clip_ids=[], audio_paths=[], captions=[])
    searcher = Searcher(none, model, text_encoder=text_encoder, audio_encoder=audio_encoder)
    searcher.pool_captions, searcher.pool_text = audioset_label_pool(text_encoder)
    return searcher


def with_label_pool(searcher: Searcher, text_encoder) -> Searcher:
    """`searcher` describing clips from its store's captions plus the 527 AudioSet label names (those
    not already among them): a ready vocabulary beside a dataset's few captions. A shallow copy;
    the store, the projection and the cached searcher are shared, not changed."""
    import copy

    captions, text = audioset_label_pool(text_encoder)
    have = set(map(str, searcher.pool_captions))
    new = [i for i, caption in enumerate(captions) if caption not in have]
    out = copy.copy(searcher)
    out.pool_captions = np.concatenate([np.asarray(searcher.pool_captions, dtype=object), captions[new]])
    out.pool_text = np.concatenate([searcher.pool_text, np.asarray(text, dtype=searcher.pool_text.dtype)[new]])
    return out


@lru_cache(maxsize=2)
def audioset_label_pool(text_encoder) -> tuple:
    """(captions, their normalised text vectors) of the 527 AudioSet label names, embedded once per encoder."""
    from clapdemo.encoders.audioset_labels import AUDIOSET_LABELS
    from clapdemo.projection_init import LABEL_TEMPLATE, label_text_matrix

    captions = np.asarray([LABEL_TEMPLATE.format(label.lower()) for label in AUDIOSET_LABELS], dtype=object)
    return captions, label_text_matrix(text_encoder)


def build_index(run, store, memmap: bool = False, float16: bool = False) -> tuple[object, bool, float]:
    """Build (or find current) the FAISS index of `store` under the projection at `run`, ahead of
    the first search, whatever the store's size. Returns (index, rebuilt, seconds)."""
    import time

    from clapdemo.ann import index_key, open_index
    from clapdemo.packed import load_vectors
    from clapdemo.search import project_audio

    model, info = load_run(run)
    embeddings = load_vectors(store, memmap, float16)
    check_compatible(embeddings, {"encoders": encoders_of(info)})
    if embeddings.n_clips == 0:
        raise ValueError(f"{store}: the store holds no embedded clips yet; run precompute first")
    start = time.perf_counter()
    index, rebuilt = open_index(store, project_audio(model, embeddings.audio), index_key(store, model))
    return index, rebuilt, time.perf_counter() - start
