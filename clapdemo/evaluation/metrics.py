"""Retrieval metrics, both ways, next to what chance would score.

Every metric here comes from one number per (query, relevant item): its rank,
the count of candidates scoring higher (0 = first place). That needs one
comparison per candidate instead of a full sort. Ties (scores within 1e-5, the
float32 rounding of a cosine) are broken in favour of the relevant item: two
identical captions are both "right".
Cosine similarity throughout: every function L2-normalises its inputs itself.

Two protocols (see DESIGN.md, "Evaluation protocol"):
- the course's: paired rows (clip i <-> caption i), accuracy@k both ways, over
  the whole set or in consecutive batches;
- the papers' (AudioCaps/Clotho): every caption of every clip; t2a R@k over all
  captions, a2t R@k a hit if ANY of the clip's captions is in the top k; mAP@10.

Chance levels come two ways, exact formulas (`random_*`) and random rankings
(`random_empirical_*`, seeded), so a reader can check one against the other;
both count ties as the metric does (identical captions are one candidate).
`best_possible` gives each figure's ceiling when captions repeat.
"""

from __future__ import annotations

import numpy as np

_PAD = 1 << 40  # rank given to padding slots: never inside any top k
_MAP_CUTOFF = 10
_TIE = 1e-5  # scores this close to the relevant item's count as ties (float32 matmul rounding)
TIE = _TIE  # the same, for a caller that ranks by hand (evaluation.evaluate.distinct_caption_ranks)
_CHUNK_ELEMENTS = 1 << 24  # score entries compared per step (bounds memory on large splits)


def normalise(x) -> np.ndarray:
    """Rows scaled to unit L2 length, as float32 (an all-zero row stays zero): the one normalise."""
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def _pair_ranks(audio: np.ndarray, text: np.ndarray, text_clip: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ranks of the right answers in both directions, from one pass over the score matrix.

    audio (N, D) and text (M, D) normalised; caption j belongs to clip text_clip[j].
    Returns a2t (N, m): for each clip, the rank among all M captions of each of
    its captions (-> _PAD for padding, and whole rows of _PAD for clips without
    captions); t2a (M,): for each caption, the rank of its clip among all N.
    A rank is the count of candidates scoring more than _TIE above the right
    one. The matrix is computed in blocks of clips, so a 50k x 50k split never
    holds all of it; the right answers' scores come from one einsum, hence the
    tolerance (a blocked matmul and an einsum may round differently).
    """
    own = np.einsum("md,md->m", audio[text_clip], text) + _TIE
    relevant = _relevant_captions(text_clip, len(audio))
    own_a2t = np.where(relevant >= 0, own[relevant], np.inf)
    a2t = np.empty(relevant.shape, dtype=np.int64)
    t2a = np.zeros(len(text), dtype=np.int64)
    step = max(1, _CHUNK_ELEMENTS // max(1, len(text) * relevant.shape[1]))
    for start in range(0, len(audio), step):
        rows = slice(start, start + step)
        scores = audio[rows] @ text.T
        a2t[rows] = (scores[:, None, :] > own_a2t[rows, :, None]).sum(-1)
        t2a += (scores > own).sum(0)
    return np.where(relevant >= 0, a2t, _PAD), t2a


def _batch_mean(hits: np.ndarray, batch_size: int) -> float:
    """Average over consecutive batches of the per-batch mean along the last axis
    (leading axes, e.g. random repeats, are averaged too). The last, partial
    batch counts as much as a full one, as in a loop over a DataLoader."""
    n = hits.shape[-1]
    per_batch = [hits[..., s:s + batch_size].mean(-1) for s in range(0, n, batch_size)]
    return float(np.mean(per_batch))


def _batch_sizes(n: int, batch_size: int | None) -> tuple[int, np.ndarray]:
    """(batch size actually used, size of the batch each row falls in)."""
    bs = batch_size or n
    starts = np.arange(n) // bs * bs
    return bs, np.minimum(bs, n - starts)


def _course_scores(a2t: np.ndarray, t2a: np.ndarray, ks, batch_size: int, prefix: str = "") -> dict:
    out = {f"{prefix}a2t_acc@{k}": _batch_mean(a2t < k, batch_size) for k in ks}
    out |= {f"{prefix}t2a_acc@{k}": _batch_mean(t2a < k, batch_size) for k in ks}
    return out


def course_accuracy(audio_emb, text_emb, ks=(1, 3, 10), batch_size: int | None = None) -> dict:
    """The course's accuracy@k on paired rows: audio row i belongs with text row i.

    a2t_acc@k: share of clips whose own caption is among the k captions most
    similar to it; t2a_acc@k the same from captions to clips. Candidates are the
    whole set (batch_size=None) or the rows of the same consecutive batch of
    `batch_size`; the result is then the mean of per-batch accuracies, the last
    partial batch included with equal weight (it has fewer candidates, so it
    is easier; this is what averaging over a DataLoader's batches gives).
    """
    a, t = normalise(audio_emb), normalise(text_emb)
    if len(a) != len(t):
        raise ValueError(f"course_accuracy pairs rows: {len(a)} audio rows vs {len(t)} text rows")
    bs, _ = _batch_sizes(len(a), batch_size)
    a2t = np.empty(len(a), dtype=np.int64)
    t2a = np.empty(len(a), dtype=np.int64)
    for s in range(0, len(a), bs):
        rows = slice(s, s + bs)
        a2t_rows, t2a[rows] = _pair_ranks(a[rows], t[rows], np.arange(len(a[rows])))
        a2t[rows] = a2t_rows[:, 0]
    return _course_scores(a2t, t2a, ks, bs)


def _relevant_captions(text_clip: np.ndarray, n_clips: int) -> np.ndarray:
    """(n_clips, max captions per clip) caption indices of each clip, -1 padded."""
    text_clip = np.asarray(text_clip, dtype=np.int64)
    counts = np.bincount(text_clip, minlength=n_clips)
    order = np.argsort(text_clip, kind="stable")
    slot = np.arange(len(order)) - np.repeat(np.cumsum(counts) - counts, counts)
    rel = np.full((n_clips, max(1, counts.max(initial=0))), -1, dtype=np.int64)
    rel[text_clip[order], slot] = order
    return rel


def _average_precision(ranks: np.ndarray, cutoff: int = _MAP_CUTOFF) -> np.ndarray:
    """AP@cutoff per query from the ranks (Q, m) of its relevant items (padding _PAD).

    AP@10 = sum over relevant items placed in the top 10 of precision at their
    position, divided by min(#relevant, 10). For one relevant item it is
    1/position (0 outside the top 10), the DCASE task 6b / LAION-CLAP t2a
    mAP@10; for AudioCaps/Clotho's 5 captions it divides by 5, like the a2t
    mAP@10 of Mei et al.'s audio-text_retrieval (also used by LAION-CLAP).
    Tied relevant items take consecutive positions.
    """
    if ranks.shape[1] == 1:  # one relevant item: AP is the reciprocal rank (fast path)
        return np.where(ranks[:, 0] < cutoff, 1.0 / (ranks[:, 0] + 1), 0.0)
    ranks = np.sort(ranks, axis=1)
    r = np.arange(ranks.shape[1])
    position = np.maximum.accumulate(ranks - r, axis=1) + r  # ties -> consecutive places
    n_relevant = (ranks < _PAD).sum(1)
    precision = np.where(position < cutoff, (r + 1) / (position + 1), 0.0)
    return precision.sum(1) / np.minimum(n_relevant, cutoff)


def _retrieval_scores(ranks: np.ndarray, ks, prefix: str) -> dict:
    """R@k (any relevant item in the top k) and mAP@10 from ranks (Q, m)."""
    best = ranks.min(1)
    out = {f"{prefix}_R@{k}": float(np.mean(best < k)) for k in ks}
    out[f"{prefix}_mAP@{_MAP_CUTOFF}"] = float(np.mean(_average_precision(ranks)))
    return out


def paper_retrieval(audio_emb, text_emb, text_clip, ks=(1, 5, 10)) -> dict:
    """AudioCaps/Clotho retrieval over all captions.

    t2a: each caption is a query over all clips; its one clip must be in the top k.
    a2t: each clip (with at least one caption) is a query over all captions; a
    hit at k if ANY of its captions is in the top k. mAP@10 both ways, see
    `_average_precision`. Keys: t2a_R@k, a2t_R@k, t2a_mAP@10, a2t_mAP@10.
    """
    a, t = normalise(audio_emb), normalise(text_emb)
    text_clip = np.asarray(text_clip, dtype=np.int64)
    a2t, t2a = _pair_ranks(a, t, text_clip)
    a2t = a2t[a2t[:, 0] < _PAD]  # clips without captions ask no a2t question
    return _retrieval_scores(t2a[:, None], ks, "t2a") | _retrieval_scores(a2t, ks, "a2t")


# ----------------------------------------------------------------------------- chance


def _random_ranks(rng: np.random.Generator, n_relevant: np.ndarray, n_cand: int, repeats: int) -> np.ndarray:
    """(repeats * Q, m) ranks of relevant items under a uniformly random ordering.

    The places of m relevant items in a random permutation of n_cand are a
    uniform m-subset: draw m places with replacement and redraw the rows that
    collide (rare when m << n_cand).
    """
    m = int(n_relevant.max())
    places = rng.integers(0, n_cand, size=(repeats * len(n_relevant), m))
    while True:
        s = np.sort(places, axis=1)
        clash = (s[:, 1:] == s[:, :-1]).any(1)
        if not clash.any():
            break
        places[clash] = rng.integers(0, n_cand, size=(int(clash.sum()), m))
    valid = np.arange(m) < np.tile(n_relevant, repeats)[:, None]
    return np.where(valid, places, _PAD)


def _chance_hit(n_relevant: np.ndarray, n_cand: int, k: int) -> np.ndarray:
    """P(at least one of m relevant items in the top k of n) = 1 - C(n-m, k) / C(n, k)."""
    miss = np.ones(len(n_relevant))
    for i in range(int(n_relevant.max())):
        factor = np.clip((n_cand - k - i) / (n_cand - i), 0.0, 1.0)
        miss *= np.where(i < n_relevant, factor, 1.0)
    return 1.0 - miss


def _chance_ap(n_relevant: np.ndarray, n_cand: int, cutoff: int = _MAP_CUTOFF) -> np.ndarray:
    """Expected AP@cutoff of a random ordering with m relevant among n, exactly.

    E[precision at place i * relevant at i] = (1/i) * m/n * (1 + (i-1)(m-1)/(n-1)),
    summed over i = 1..cutoff and divided by min(m, cutoff). For m = 1 this is
    H(cutoff) / n.
    """
    m = n_relevant.astype(np.float64)
    i = np.arange(1, min(cutoff, n_cand) + 1)[:, None]
    terms = (m / n_cand) / i * (1 + (i - 1) * (m - 1) / max(n_cand - 1, 1))
    return terms.sum(0) / np.minimum(m, cutoff)


def caption_groups(captions) -> np.ndarray:
    """One integer per distinct caption string: identical captions embed identically, so they tie."""
    return np.unique(np.asarray(captions, dtype=object), return_inverse=True)[1].reshape(-1).astype(np.int64)


def _tied_hit_chance(sizes: np.ndarray, relevant, k: int) -> float:
    """P(a query's best relevant caption ranks in the top k) under a random order of the distinct
    captions, ranked as the metric ranks: identical captions tie (a tie is a hit), and a caption's
    rank counts every caption above it, repeats included.

    sizes: (D,) captions per distinct caption (group); relevant: the query's groups (r of them).
    The best relevant group's rank is the size of the other groups above it; a given set of j
    other groups is exactly that with probability r / (D * C(D-1, j)). Sets are counted by a
    DP over group sizes (only totals < k matter)."""
    from collections import defaultdict
    from math import comb

    n_groups, r = len(sizes), len(relevant)
    others = np.delete(np.asarray(sizes), list(relevant))
    ways = {(0, 0): 1}  # (groups chosen, captions in them) -> number of such sets
    for size, count in zip(*np.unique(others[others < k], return_counts=True)):
        grown = defaultdict(int)
        for (j, total), w in ways.items():
            for c in range(int(count) + 1):
                if total + c * size >= k:
                    break
                grown[(j + c, total + c * int(size))] += w * comb(int(count), c)
        ways = grown
    return float(sum(r * w / (n_groups * comb(n_groups - 1, j)) for (j, _), w in ways.items()))


def _tied_random_ranks(rng, sizes: np.ndarray, relevant: np.ndarray, repeats: int) -> np.ndarray:
    """(repeats, Q) best rank of each query's relevant groups (Q, m; -1 padded) under random
    orders of the groups, counted as `_tied_hit_chance` describes."""
    scores = rng.random((repeats, len(sizes)))
    order = np.argsort(-scores, axis=1)
    above = np.empty_like(scores, dtype=np.int64)
    np.put_along_axis(above, order, np.cumsum(sizes[order], axis=1) - sizes[order], axis=1)
    ranks = np.where(relevant[None] >= 0, above[:, np.maximum(relevant, 0)], _PAD)
    return ranks.min(-1)


def course_random_baseline(n_pairs: int, ks=(1, 3, 10), batch_size: int | None = None,
                           repeats: int = 50, seed: int = 0, groups=None) -> dict:
    """Chance level of `course_accuracy` on n_pairs rows: exactly min(k, b)/b per batch of
    b rows (averaged over batches like the metric), and from `repeats` random rankings.

    groups: (n_pairs,) caption group of each row (`caption_groups`). Identical captions tie
    and the metric counts a tie as a hit, so an a2t query with ESC-50's class prompts has
    about 1/50 chance, not 1/400 (`_tied_hit_chance`)."""
    bs, sizes = _batch_sizes(n_pairs, batch_size)
    rng = np.random.default_rng(seed)
    out = {f"random_t2a_acc@{k}": _batch_mean(np.minimum(k, sizes) / sizes, bs) for k in ks}
    t2a = np.floor(rng.random((repeats, n_pairs)) * sizes).astype(np.int64)
    if groups is None or len(np.unique(groups)) == n_pairs:  # every caption distinct: no ties
        out |= {f"random_a2t_acc@{k}": out[f"random_t2a_acc@{k}"] for k in ks}
        a2t = np.floor(rng.random((repeats, n_pairs)) * sizes).astype(np.int64)
    else:
        chance = {k: np.empty(n_pairs) for k in ks}
        a2t = np.empty((repeats, n_pairs), dtype=np.int64)
        for s in range(0, n_pairs, bs):
            own, counts = np.unique(np.asarray(groups)[s:s + bs], return_inverse=True, return_counts=True)[1:]
            for k in ks:
                by_size = {m: _tied_hit_chance(counts, [int(np.flatnonzero(counts == m)[0])], k) for m in set(counts)}
                chance[k][s:s + bs] = [by_size[counts[g]] for g in own]
            a2t[:, s:s + bs] = _tied_random_ranks(rng, counts, own[:, None], repeats)
        out |= {f"random_a2t_acc@{k}": _batch_mean(chance[k], bs) for k in ks}
    return out | _course_scores(a2t, t2a, ks, bs, prefix="random_empirical_")


def _best_t2a_hits(groups: np.ndarray, clips: np.ndarray, k: int) -> int:
    """Most text->audio queries that any scoring can answer within the top k.

    Identical captions (one group) rank the clips in the same order, so per group
    only k clips can be on top: at best the k clips holding most of its captions."""
    keys, counts = np.unique(np.stack([groups, clips], axis=1), axis=0, return_counts=True)
    order = np.lexsort((-counts, keys[:, 0]))
    group, count = keys[order, 0], counts[order]
    place = np.arange(len(group)) - np.searchsorted(group, group, side="left")
    return int(count[place < k].sum())


def best_possible(embedding_set, course_ks=(1, 3, 10), paper_ks=(1, 5, 10), batch_size: int | None = None) -> dict:
    """The ceiling of each accuracy@k / R@k on this set when captions repeat (ESC-50: every
    clip of a class has the same caption). t2a: all clips of one caption cannot all be first
    (8 clips per caption among 400: t2a_acc@1 <= 50/400); a2t: ties count as hits, so 1.
    Keys as `evaluate`'s; 1.0 everywhere when every caption is distinct."""
    groups = caption_groups(embedding_set.captions)
    clips = np.asarray(embedding_set.text_clip, dtype=np.int64)
    first = first_caption_of_each_clip(clips, embedding_set.n_clips)
    paired = groups[first[first >= 0]]
    bs, _ = _batch_sizes(len(paired), batch_size)
    out = {}
    for k in course_ks:
        per_batch = [_best_t2a_hits(paired[s:s + bs], np.arange(len(paired[s:s + bs])), k) / len(paired[s:s + bs])
                     for s in range(0, len(paired), bs)]
        out[f"t2a_acc@{k}"], out[f"a2t_acc@{k}"] = float(np.mean(per_batch)) if per_batch else 1.0, 1.0
    for k in paper_ks:
        out[f"t2a_R@{k}"] = _best_t2a_hits(groups, clips, k) / max(1, len(clips))
        out[f"a2t_R@{k}"] = 1.0
    return out


def paper_random_baseline(text_clip, n_clips: int, ks=(1, 5, 10), repeats: int = 50, seed: int = 0,
                          groups=None) -> dict:
    """Chance level of `paper_retrieval` for this caption->clip layout, exact and empirical.

    groups: caption group of each caption (`caption_groups`): identical captions tie and a tie
    counts as a hit, so a2t R@k is computed over the distinct captions (`_tied_hit_chance`);
    mAP@10 keeps the formula for distinct captions."""
    text_clip = np.asarray(text_clip, dtype=np.int64)
    per_clip = np.bincount(text_clip, minlength=n_clips)
    per_clip = per_clip[per_clip > 0]
    one = np.ones(len(text_clip), dtype=np.int64)
    n_captions = len(text_clip)
    out = {}
    for k in ks:
        out[f"random_t2a_R@{k}"] = float(_chance_hit(one[:1], n_clips, k)[0])
        out[f"random_a2t_R@{k}"] = float(_chance_hit(per_clip, n_captions, k).mean())
    out[f"random_t2a_mAP@{_MAP_CUTOFF}"] = float(_chance_ap(one[:1], n_clips)[0])
    out[f"random_a2t_mAP@{_MAP_CUTOFF}"] = float(_chance_ap(per_clip, n_captions).mean())
    rng = np.random.default_rng(seed)
    t2a = _random_ranks(rng, one, n_clips, repeats)
    a2t = _random_ranks(rng, per_clip, n_captions, repeats)
    empirical = _retrieval_scores(t2a, ks, "t2a") | _retrieval_scores(a2t, ks, "a2t")
    if groups is not None and len(np.unique(groups)) < len(text_clip):  # repeated captions: ties
        sizes = np.bincount(np.asarray(groups, dtype=np.int64))
        pairs = np.unique(np.stack([text_clip, np.asarray(groups, dtype=np.int64)], axis=1), axis=0)
        relevant = _relevant_captions(pairs[:, 0], n_clips)  # rows of `pairs` per clip
        relevant = np.where(relevant >= 0, pairs[np.maximum(relevant, 0), 1], -1)
        relevant = relevant[relevant[:, 0] >= 0]
        kind = np.sort(np.where(relevant >= 0, sizes[np.maximum(relevant, 0)], 0), axis=1)  # same sizes, same chance
        kinds, first, which = np.unique(kind, axis=0, return_index=True, return_inverse=True)
        for k in ks:
            chance = np.array([_tied_hit_chance(sizes, [g for g in relevant[i] if g >= 0], k) for i in first])
            out[f"random_a2t_R@{k}"] = float(chance[which.reshape(-1)].mean())
        best = _tied_random_ranks(rng, sizes, relevant, repeats).reshape(-1)
        empirical |= {f"a2t_R@{k}": float(np.mean(best < k)) for k in ks}
    return out | {f"random_empirical_{k}": v for k, v in empirical.items()}


# ----------------------------------------------------------------------------- entry points


def zero_shot_accuracy(audio_proj, class_text_emb, labels_idx, ks=(1, 5)) -> dict:
    """Classification by the nearest class prompt: share of clips whose class is
    among the k prompts most similar to them, with chance level min(k, C)/C.

    audio_proj: (N, D) projected audio; class_text_emb: (C, D) one prompt per
    class (e.g. "the sound of a dog"); labels_idx: (N,) true class per clip.
    """
    labels = np.asarray(labels_idx, dtype=np.int64)
    scores = normalise(audio_proj) @ normalise(class_text_emb).T
    own = scores[np.arange(len(labels)), labels] + _TIE
    ranks = (scores > own[:, None]).sum(1)
    n_classes = len(class_text_emb)
    out = {f"zero_shot_acc@{k}": float(np.mean(ranks < k)) for k in ks}
    return out | {f"random_zero_shot_acc@{k}": min(k, n_classes) / n_classes for k in ks}


# ----------------------------------------------------------------------------- names in plain words

_SIDES = {"a2t": "clip → caption", "t2a": "caption → clip"}
COLUMN_MEANINGS = {  # the metrics table's columns (evaluation.evaluate.metrics_table), in plain words
    "best possible": "the highest any model could score here: identical captions score alike, so only one of "
                     "the clips they share can come first",
    "random (exact)": "what a random ranking scores on average (the formula; ties counted as the metric counts them)",
    "random (empirical)": "the same from 50 seeded random rankings, a check on the formula",
    "x random": "model ÷ random (exact): how many times chance the model scores",
}


def describe_metric(key: str) -> tuple[str, str]:
    """A metric key (`a2t_acc@3`, `t2a_R@5`, `a2t_mAP@10`, `zero_shot_acc@1`) as (plain name, one-line
    meaning); an unknown key is its own name with no meaning."""
    import re

    match = re.fullmatch(r"(a2t|t2a|zero_shot)_(acc|R|mAP)@(\d+)", key)
    if not match:
        return key, ""
    side, kind, k = match.groups()

    def best(noun: str) -> str:  # "the best-scoring caption" / "the 3 best-scoring captions"
        return f"the best-scoring {noun}" if k == "1" else f"the {k} best-scoring {noun}s"

    if side == "zero_shot":
        return (f"clip → class name, top {k}",
                f"share of clips whose class is {'the class name closest to the clip' if k == '1' else f'among the {k} class names closest to the clip'}, "
                "each class counted once (zero-shot classification among all classes)")
    if kind == "mAP":
        whose = "a clip's own captions come" if side == "a2t" else "a caption's clips come"
        return (f"{_SIDES[side]}, ranking quality (mAP@{k})",
                f"mean average precision of the top {k}: 1 when {whose} first, lower the further down they sit")
    if kind == "acc":
        return ((f"{_SIDES[side]}, top {k}",
                 f"share of clips whose own caption is {'' if k == '1' else 'among '}{best('caption')} (one per "
                 "clip, copies of a caption included); ties count as hits") if side == "a2t" else
                (f"{_SIDES[side]}, top {k}",
                 f"share of captions (one per clip) whose own clip is {'' if k == '1' else 'among '}{best('clip')}"))
    return ((f"{_SIDES[side]}, top {k}, all captions",
             f"share of clips with any of their own captions {'as' if k == '1' else 'among'} {best('caption')} "
             "of all captions") if side == "a2t" else
            (f"{_SIDES[side]}, top {k}, all captions",
             f"share of all captions (every caption of every clip) whose clip is {'' if k == '1' else 'among '}"
             f"{best('clip')}"))


def first_caption_of_each_clip(text_clip, n_clips: int) -> np.ndarray:
    """(n_clips,) index of each clip's first caption (in caption order), -1 if it has none."""
    text_clip = np.asarray(text_clip, dtype=np.int64)
    first = np.full(n_clips, -1, dtype=np.int64)
    first[text_clip[::-1]] = np.arange(len(text_clip))[::-1]  # earlier captions written last
    return first


PROJECT_CHUNK = 65536  # rows per forward: a memory-mapped (or float16) store is never copied whole


def project_audio(model, audio) -> np.ndarray:
    """Raw audio-encoder vectors -> L2-normalised points in the text space, (N, text_dim) float32.

    In chunks of PROJECT_CHUNK rows, each copied into a fresh float32 array (a read-only
    memmap cannot back a tensor), on the model's device."""
    import torch

    device = next(model.parameters()).device
    out = np.empty((len(audio), model.config.text_dim), np.float32)
    with torch.inference_mode():
        for start in range(0, len(audio), PROJECT_CHUNK):
            rows = np.array(audio[start : start + PROJECT_CHUNK], dtype=np.float32)  # a copy, writable
            out[start : start + len(rows)] = model.embed(torch.from_numpy(rows).to(device)).cpu().numpy()
    return out


def evaluate(model, embedding_set, course_ks=(1, 3, 10), paper_ks=(1, 5, 10), batch_size: int | None = None,
             repeats: int = 50, seed: int = 0) -> dict:
    """Every metric of `model` on `embedding_set`, with chance levels and counts.

    The course metric pairs each clip with its FIRST caption (the course's
    tables hold one caption per clip); clips without captions are left out of
    it. The papers' protocol uses all captions. Keys: the course's
    a2t/t2a_acc@k, the papers' t2a/a2t_R@k and mAP@10, each also prefixed
    `random_` (exact chance) and `random_empirical_` (random rankings, `repeats`
    times, seeded), `best_possible_` (the ceiling when captions repeat, see `best_possible`;
    only when the set holds its caption texts), plus n_clips, n_captions, n_course_pairs.
    """
    audio = project_audio(model, embedding_set.audio)
    first = first_caption_of_each_clip(embedding_set.text_clip, embedding_set.n_clips)
    paired = first >= 0
    n_pairs = int(paired.sum())
    groups = caption_groups(embedding_set.captions) if len(embedding_set.captions) == embedding_set.n_captions else None
    ceiling = {} if groups is None else best_possible(embedding_set, course_ks, paper_ks, batch_size)
    return (
        course_accuracy(audio[paired], embedding_set.text[first[paired]], course_ks, batch_size)
        | paper_retrieval(audio, embedding_set.text, embedding_set.text_clip, paper_ks)
        | course_random_baseline(n_pairs, course_ks, batch_size, repeats, seed,
                                 None if groups is None else groups[first[paired]])
        | paper_random_baseline(embedding_set.text_clip, embedding_set.n_clips, paper_ks, repeats, seed, groups)
        | {f"best_possible_{k}": v for k, v in ceiling.items()}
        | {"n_clips": embedding_set.n_clips, "n_captions": embedding_set.n_captions, "n_course_pairs": n_pairs}
    )


def query_ranks(audio_emb, text_emb, text_clip) -> tuple[np.ndarray, np.ndarray]:
    """Per-query ranks (0 = first place) as `paper_retrieval` counts them, for best/worst lists.

    a2t (n_clips,): for each clip, the best rank among all captions of any of
    its own captions (-1 for a clip without captions); t2a (n_captions,): for
    each caption, the rank of its clip among all clips.
    """
    a2t, t2a = _pair_ranks(normalise(audio_emb), normalise(text_emb), np.asarray(text_clip, dtype=np.int64))
    best = a2t.min(1)
    return np.where(best >= _PAD, -1, best), t2a
