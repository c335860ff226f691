"""Ranking over a store: text -> clips, audio -> captions, audio -> clips.

A `Searcher` projects and L2-normalises the store's vectors once; each query is
then one matrix-vector product. Scores are cosines; `relevance` is a softmax
with the model's own temperature over the shown candidates, so it reads as
"how much the model prefers this one among these" — no fixed absolute threshold.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

import numpy as np

from clapdemo.data.audio import load_clip
from clapdemo.stores.embedding_set import EmbeddingSet
from clapdemo.encoders.identity import encoder_mismatch
from clapdemo.evaluation.metrics import normalise, project_audio  # noqa: F401  (project_audio also imported from here by tests)


@dataclass
class Hit:
    """One search result."""

    rank: int
    score: float  # cosine similarity in the joint space
    relevance: float  # softmax(score * logit_scale) over the shown hits
    clip_id: str = ""
    audio_path: str = ""
    caption: str = ""
    label: str = ""
    start: float | None = None  # seconds: the best window's span in the file (folder indexes only)
    end: float | None = None
    weak: bool = False  # a text query's hit that is only the least unlike it (`Searcher.match_strength`)

    def to_dict(self) -> dict:
        return asdict(self)




# Weak matches of a text query (calibrated on the sample set with the shipped projection, docs/app.md
# "Weak matches"): a query is out of the store's vocabulary when no caption of the store lies within
# this cosine of it in the text encoder's own space (20 in-vocabulary queries: 0.61-0.91; 16
# nonsense or absent sounds such as "asdfghjkl", "a piano playing": 0.18-0.54, "a trumpet fanfare"
# -> "church bells" the highest); and a hit is weak when its cosine is below WEAK_SHARE of the store's
# typical best match (the median over its distinct captions of their best clip's cosine).
WEAK_TEXT_COSINE = 0.5
WEAK_SHARE = 0.3
TYPICAL_SAMPLE = 1000  # captions used for the typical best match (seeded sample above this)


@dataclass
class MatchStrength:
    """How well a text query fits a store: what `Searcher.text_to_audio` marks weak hits by."""

    nearest_caption: str  # the store's caption closest to the query in the text encoder's space
    caption_cosine: float  # their cosine (text against text)
    typical_best: float  # median best-clip cosine of the store's own captions (audio against text)
    out_of_vocabulary: bool  # caption_cosine < WEAK_TEXT_COSINE

    def weak(self, score: float) -> bool:
        return self.out_of_vocabulary or score < WEAK_SHARE * self.typical_best


def compatibility_problem(store_meta: dict, trained_encoders: dict) -> str | None:
    """Why a projection trained with `trained_encoders` ({"audio_encoder": identity, "text_encoder":
    identity}, see `training.run_record.RunInfo.encoders`) does not fit vectors made with the encoders in `store_meta`
    (a store's manifest); None when it fits (`encoders.identity.encoder_mismatch`). The CLI refuses, the app warns."""
    return encoder_mismatch(trained_encoders, store_meta, "the projection", "the store")


def check_compatible(embeddings: EmbeddingSet, projection_meta: dict) -> None:
    """Refuse a projection trained on other encoders: its numbers would be meaningless."""
    problem = compatibility_problem(embeddings.meta, projection_meta.get("encoders") or {})
    if problem:
        raise ValueError(problem)


class Searcher:
    """Search one store with one trained projection (and the encoders that made the store)."""

    def __init__(self, embeddings: EmbeddingSet, projection, text_encoder=None, audio_encoder=None, index=None,
                 caption_pool: tuple | None = None):
        """`index`: a FAISS index over the projected audio (clapdemo.search.ann_index), or a function that builds one
        from it (`index(projected audio)`); None: exact search. `caption_pool`: (captions, their
        normalised text vectors) that `audio_to_text` ranks; None: the store's distinct captions."""
        self.embeddings = embeddings
        self.projection = projection
        self.text_encoder = text_encoder
        self.audio_encoder = audio_encoder
        self.audio = project_audio(projection, embeddings.audio)
        self.index = index(self.audio) if callable(index) else index  # None: exact
        if caption_pool is not None:
            self.pool_captions = np.asarray(caption_pool[0], dtype=object)
            self.pool_text = np.asarray(caption_pool[1], dtype=np.float32)
        else:
            self.pool_captions, first_row = np.unique(np.asarray(embeddings.captions, dtype=object), return_index=True)
            self.pool_text = normalise(embeddings.text[first_row]) if len(first_row) else np.zeros((0, embeddings.text.shape[1]), np.float32)
        self.scale = projection.scale().item()  # exp(logit_scale): 1 / temperature
        has_windows = getattr(embeddings, "windows", None) is not None and len(embeddings.windows)
        self.windows = project_audio(projection, embeddings.windows) if has_windows else None

    def with_captions(self, captions, vectors) -> "Searcher":
        """This searcher with `captions` (and their normalised text `vectors`) added to its caption pool,
        those not already in it: a shallow copy; the store, the projection and this searcher are shared,
        not changed."""
        import copy

        have = set(map(str, self.pool_captions))
        new = [i for i, caption in enumerate(captions) if str(caption) not in have]
        out = copy.copy(self)
        out.pool_captions = np.concatenate([np.asarray(self.pool_captions, dtype=object),
                                            np.asarray(captions, dtype=object)[new]])
        out.pool_text = np.concatenate([self.pool_text, np.asarray(vectors, dtype=self.pool_text.dtype)[new]])
        return out

    # ---- queries -------------------------------------------------------------------

    def text_to_audio(self, query: str, k: int = 10) -> list[Hit]:
        """The k clips whose projected audio lies closest to the query's text vector."""
        query = (query or "").strip()
        if not query:
            raise ValueError("empty query: type a few words, e.g. 'a dog barking'")
        check_text(query)
        vector = normalise(self._text_encoder().embed([query]))[0]
        if self.windows is not None:  # a clip scores as its best window; the hit says where it is
            from clapdemo.encoders.windows import best_window_per_clip

            scores, best = best_window_per_clip(self.windows @ vector, self.embeddings.window_clip, len(self.audio))
            return self._mark_weak(self._with_spans(self._clip_hits(scores, k), best), vector)
        return self._mark_weak(self._clip_hits(self._scores(vector, k), k), vector)

    def match_strength(self, query) -> MatchStrength | None:
        """How well a text query (or its normalised text vector) fits this store; None for a store
        without captions (nothing to compare it with)."""
        if len(self.pool_text) == 0:
            return None
        vector = query if isinstance(query, np.ndarray) else normalise(self._text_encoder().embed([query]))[0]
        similar = self.pool_text @ vector
        nearest = int(np.argmax(similar))
        return MatchStrength(str(self.pool_captions[nearest]), float(similar[nearest]), self.typical_best_match(),
                             bool(similar[nearest] < WEAK_TEXT_COSINE))

    def typical_best_match(self) -> float:
        """The median over the store's distinct captions (a seeded sample of TYPICAL_SAMPLE above that)
        of the cosine of each caption's best clip: what a query the store knows typically scores."""
        if not hasattr(self, "_typical"):
            rows = np.arange(len(self.pool_text))
            if len(rows) > TYPICAL_SAMPLE:
                rows = np.sort(np.random.default_rng(0).choice(rows, TYPICAL_SAMPLE, replace=False))
            texts, best = self.pool_text[rows].T, np.full(len(rows), -1.0, np.float32)
            for start in range(0, len(self.audio), 8192):  # bounded memory on a big store
                best = np.maximum(best, (self.audio[start:start + 8192] @ texts).max(axis=0, initial=-1.0))
            self._typical = float(np.median(best)) if len(rows) else 0.0
        return self._typical

    def _mark_weak(self, hits: list[Hit], vector: np.ndarray) -> list[Hit]:
        strength = self.match_strength(vector)
        for hit in hits if strength is not None else ():
            hit.weak = strength.weak(hit.score)
        return hits

    def _with_spans(self, hits: list[Hit], best: np.ndarray) -> list[Hit]:
        rows = self._row_of_clip()
        for hit in hits:
            w = best[rows[hit.clip_id]]
            hit.start, hit.end = float(self.embeddings.window_start[w]), float(self.embeddings.window_end[w])
        return hits

    def audio_to_text(self, audio, k: int = 10, extra_captions: tuple[str, ...] = ()) -> list[Hit]:
        """The k captions (store pool plus `extra_captions`, e.g. typed labels) closest to a clip."""
        captions, texts = list(self.pool_captions), self.pool_text
        extra = parse_labels(extra_captions)
        if extra:
            captions += extra
            texts = np.concatenate([texts, normalise(self._text_encoder().embed(extra))])
        return self._text_hits(self.embed_audio(audio), captions, texts, k)

    def rank_labels(self, audio, labels) -> list[Hit]:
        """A zero-shot choice between only the `labels` a visitor typed: all of them, best first, and
        `relevance` splits the model's preference among these alone. Ranked inside a big vocabulary
        worded as the projection trained ("the sound of X"), a typed "a barking dog" sank to rank ~100
        of 529 for real dogs; among the typed labels it comes first (docs/app.md, "Try it")."""
        labels = parse_labels(labels)
        if not labels:
            return []
        texts = normalise(self._text_encoder().embed(labels))
        return self._text_hits(self.embed_audio(audio), labels, texts, len(labels))

    def _text_hits(self, vector: np.ndarray, captions: list[str], texts: np.ndarray, k: int) -> list[Hit]:
        scores = texts @ vector
        order = _top(scores, k)
        return [Hit(rank=r + 1, score=float(scores[i]), relevance=p, caption=str(captions[i]))
                for r, (i, p) in enumerate(zip(order, self._relevance(scores[order])))]

    def audio_to_audio(self, audio, k: int = 10, exclude_clip: str | None = None,
                       max_seconds: float | None = None, seconds: float | None = None) -> list[Hit]:
        """The k store clips nearest to a clip: a file (a Path, or a str that is no clip id), a waveform,
        or a clip id (a str) of this store. A Path is always the file, even when a clip has its name.
        `max_seconds`: refuse a longer file (a visitor's upload), counted while decoding; `seconds`: hear
        only the file's first `seconds` (only those are decoded: a bound on a query's work).

        With windows (a folder index), a clip id ("more like this") ranks whole files by their mean
        vectors; a sound from outside ranks files by their best window, as a text query does: the
        file mean of a 70 s file holding a 5 s dog lost to a lone cat clip (tests/test_library.py)."""
        rows = self._row_of_clip()
        from_store = isinstance(audio, str) and audio in rows
        if from_store:
            exclude_clip, vector = audio, self.audio[rows[audio]]
        else:
            vector = self.embed_audio(audio, max_seconds, seconds)
            exclude_clip = exclude_clip or self._clip_of_path(audio)
        scores, best = self._scores(vector, k + 1), None
        if self.windows is not None:  # each hit shows its window nearest the query
            from clapdemo.encoders.windows import best_window_per_clip

            window_scores, best = best_window_per_clip(self.windows @ vector, self.embeddings.window_clip, len(self.audio))
            scores = scores if from_store else window_scores
        if exclude_clip is not None and exclude_clip in rows:  # a clip is not "like itself"
            scores = scores.copy()
            scores[rows[exclude_clip]] = -np.inf
        hits = self._clip_hits(scores, k)
        return hits if best is None else self._with_spans(hits, best)

    def embed_audio(self, audio, max_seconds: float | None = None, seconds: float | None = None) -> np.ndarray:
        """A file path or a mono waveform at the encoder's rate -> its normalised joint-space vector
        (of a file's first `seconds` only, when given)."""
        encoder = self._audio_encoder()
        settings = self.embeddings.meta.get("windows")
        if settings and (isinstance(audio, str) or hasattr(audio, "__fspath__")):  # as the index embeds files
            from clapdemo.encoders.windows import embed_file

            vectors = embed_file(audio, encoder, settings["seconds"], settings["hop"], max_seconds=max_seconds,
                                 seconds=seconds)[0]
            return project_audio(self.projection, vectors.mean(axis=0, keepdims=True))[0]
        if isinstance(audio, (str, bytes)) or hasattr(audio, "__fspath__"):
            wave = load_clip(audio, encoder.sample_rate, encoder.clip_seconds)
        else:
            from clapdemo.data.audio import fit_length

            wave = fit_length(np.asarray(audio, dtype=np.float32), int(encoder.sample_rate * encoder.clip_seconds))
        return project_audio(self.projection, encoder.embed(wave[None]))[0]

    # ---- helpers -------------------------------------------------------------------

    @property
    def search_mode(self) -> str:
        """Exact or FAISS, in words: the CLI and the app show it."""
        from clapdemo.search.ann_index import describe

        return describe(self.index)

    def _scores(self, vector: np.ndarray, k: int) -> np.ndarray:
        """Every clip's cosine (exact), or with an index only the k it finds (-inf elsewhere)."""
        if self.index is None:
            return self.audio @ vector
        from clapdemo.search.ann_index import search

        found, rows = search(self.index, vector, k)
        scores = np.full(len(self.audio), -np.inf, dtype=np.float32)
        keep = rows[0] >= 0
        scores[rows[0][keep]] = found[0][keep]
        return scores

    def _clip_hits(self, scores: np.ndarray, k: int) -> list[Hit]:
        e = self.embeddings
        order = _top(scores, k)
        order = order[np.isfinite(scores[order])]
        return [
            Hit(rank=r + 1, score=float(scores[i]), relevance=p, clip_id=e.clip_ids[i], audio_path=e.audio_paths[i],
                caption=self._first_caption(i), label=e.labels[i] if e.labels else "")
            for r, (i, p) in enumerate(zip(order, self._relevance(scores[order])))
        ]

    def _relevance(self, scores: np.ndarray) -> list[float]:
        if len(scores) == 0:
            return []
        logits = scores * self.scale
        p = np.exp(logits - logits.max())
        return (p / p.sum()).tolist()

    def _first_caption(self, row: int) -> str:
        if not hasattr(self, "_caption_of_clip"):
            self._caption_of_clip = {}
            for caption, clip in zip(self.embeddings.captions, self.embeddings.text_clip):
                self._caption_of_clip.setdefault(int(clip), caption)
        return self._caption_of_clip.get(row, "")

    def _clip_of_path(self, audio) -> str | None:
        """The store's clip id for a file path that is one of its clips (else None)."""
        if not isinstance(audio, (str, os.PathLike)):
            return None
        if not hasattr(self, "_clip_by_path"):
            self._clip_by_path = {os.path.realpath(p): c for p, c in zip(self.embeddings.audio_paths, self.embeddings.clip_ids)}
        return self._clip_by_path.get(os.path.realpath(audio))

    def _row_of_clip(self) -> dict[str, int]:
        if not hasattr(self, "_rows"):
            self._rows = {c: i for i, c in enumerate(self.embeddings.clip_ids)}
        return self._rows

    def _text_encoder(self):
        if self.text_encoder is None:
            raise ValueError("this searcher has no text encoder; load the one the store was made with")
        return self.text_encoder

    def _audio_encoder(self):
        if self.audio_encoder is None:
            raise ValueError("this searcher has no audio encoder; load the one the store was made with")
        return self.audio_encoder


MAX_LABELS = 100  # typed labels per query: 10,000 of them took 326 s of a public app's time (issue 19)
MAX_TEXT_CHARS = 200  # one label or text query; longer is no description of a sound (encoders cut at 77-256 tokens)


def parse_labels(labels) -> list[str]:
    """Typed candidate labels -> a clean list, each once in the order typed, empty ones dropped: a string
    ("a dog, a cat": the CLI's --labels, the app's box) splits at commas; a sequence is taken as it is.
    ValueError past MAX_LABELS labels or MAX_TEXT_CHARS characters in one (each is embedded)."""
    parts = labels.split(",") if isinstance(labels, str) else [str(item) for item in labels or ()]
    found = list(dict.fromkeys(p.strip() for p in parts if p.strip()))
    if len(found) > MAX_LABELS:
        raise ValueError(f"{len(found)} labels typed; at most {MAX_LABELS} at once: keep the ones you want to compare")
    for label in found:
        check_text(label, "label")
    return found


def check_text(text: str, what: str = "query") -> str:
    """`text` if it is at most MAX_TEXT_CHARS long, else a ValueError that says so."""
    if len(text) > MAX_TEXT_CHARS:
        raise ValueError(f"a {what} of {len(text)} characters (“{text[:40]}…”); at most {MAX_TEXT_CHARS}: "
                         "describe the sound in a few words")
    return text


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest scores, best first (argpartition, then sort only those k)."""
    k = min(k, len(scores))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    part = np.argpartition(-scores, k - 1)[:k]
    return part[np.argsort(-scores[part], kind="stable")]
