"""How good a trained run is on a store: all metrics beside random, zero-shot among a store's
classes, the in-sample policy (which clips a run learned from), the metrics table, and the best
and worst queries each way.

The CLI and the app both go through these functions, so a number shown in the
app is the number `python -m clapdemo evaluate` prints.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from clapdemo.stores.embedding_set import EmbeddingSet
from clapdemo.search.searcher import Searcher, check_compatible


def evaluate_run(run, store, batch_size: int | None = None, memmap: bool = False, float16: bool = False,
                 allow_overlap: bool = False, unseen_only: bool = False) -> dict:
    """All metrics of the projection at `run` on the store at `store`, beside random.

    No leakage: a store holding clips the run trained or validated on (its train_clips.json),
    or the same split of AudioCaps/Clotho it trained on, is refused. `unseen_only` measures
    just the clips the run never saw (e.g. the ESC-50 clips its run.json holds out);
    `allow_overlap` measures anyway, and the result says "in_sample": True.
    A store with classes (ESC-50) also gets zero-shot accuracy among all its classes."""
    from clapdemo.evaluation.metrics import evaluate
    from clapdemo.training.runs import encoders_of, load_run
    from clapdemo.stores.audio_hashes import attach_audio_hashes
    from clapdemo.stores.store import open_store
    from clapdemo.training.plan import overlap_problem

    model, info = load_run(run)
    embeddings = (attach_audio_hashes(open_store(store, memmap, "float16" if float16 else "float32"), store)
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


def in_sample_mask(run, embeddings: EmbeddingSet) -> np.ndarray:
    """(n_clips,) bool: True for each clip of `embeddings` the run at `run` trained or validated on,
    by clip id or by the sha256 of its audio file (hashed only when the run records hashes)."""
    from clapdemo.training.runs import trained_audio_hashes, trained_clip_ids
    from clapdemo.stores.audio_hashes import content_hashes

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
    from clapdemo.evaluation.metrics import project_audio, zero_shot_accuracy

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


def extreme_queries(searcher: Searcher, n: int = 3) -> list[dict]:
    """The n best and n worst queries each way, to see what the model gets right and wrong.

    audio→text: each clip by the rank of its best own caption among the store's DISTINCT captions
    (`distinct_caption_ranks`: on ESC-50, among its 50 class captions, so at most 50; counting every
    copy of a repeated caption put a clip at "rank 80" of 50 classes); text→audio: each distinct
    caption by the mean rank of its clips among all clips. A record says "kind" (best, worst),
    "direction", "query" (clip id or caption), "rank" (1 = first), "out_of" (how many candidates
    that rank is among), "right_answer", "top_answer" (what the model put first) and, for audio
    queries, "audio_path"."""
    from clapdemo.evaluation.metrics import query_ranks

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
    as hits, as in `clapdemo.evaluation.metrics`."""
    from clapdemo.evaluation.metrics import TIE

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
