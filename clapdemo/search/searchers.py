"""Searchers built from a trained run: over a store (`open_searcher`, and `cached_searcher` that
the app's pages share), over the 527 AudioSet label names alone (`label_searcher`, `with_label_pool`),
and the FAISS index of a big store ahead of the first search (`build_index`).
"""

from __future__ import annotations

from functools import lru_cache, partial

import numpy as np

from clapdemo.stores.embedding_set import EmbeddingSet
from clapdemo.encoders.identity import check_same_encoders
from clapdemo.training.model import projection_file
from clapdemo.training.runs import encoders_for_store, encoders_of, load_run
from clapdemo.search.searcher import Searcher, check_compatible


def open_searcher(run, store, need_audio: bool = True, need_text: bool = True, memmap: bool = False,
                  float16: bool = False) -> Searcher:
    """A Searcher over `store` with the projection at `run` and the store's own encoders."""
    from clapdemo.stores.store import open_store

    model, info = load_run(run)
    embeddings = open_store(store, memmap, "float16" if float16 else "float32") if not isinstance(store, EmbeddingSet) else store
    check_compatible(embeddings, {"encoders": encoders_of(info)})
    audio_encoder, text_encoder = encoders_for_store(embeddings.meta, need_audio, need_text)
    index = None
    if not isinstance(store, EmbeddingSet):  # big stores: a FAISS index saved beside the store
        from clapdemo.search.ann_index import index_for

        index = partial(index_for, store, projection=model)  # given the Searcher's projected audio
    return Searcher(embeddings, model, text_encoder=text_encoder, audio_encoder=audio_encoder, index=index)


def cached_searcher(run, store) -> Searcher:
    """`open_searcher(run, store)`, kept while neither changes (the projection file's mtime, the
    store's `fingerprint`): the app's pages share one per (projection, store)."""
    from clapdemo.stores.store import fingerprint

    file = projection_file(run)
    if not file.is_file():
        raise FileNotFoundError(f"{file}: no projection file here; train one or pass the path to a "
                                "projection.safetensors")
    return _searcher_for(str(file), file.stat().st_mtime_ns, str(store), fingerprint(store))


@lru_cache(maxsize=8)
def _searcher_for(file: str, mtime_ns: int, store: str, store_fingerprint: str) -> Searcher:
    return open_searcher(file, store)


def label_searcher(run, audio_encoder, text_encoder) -> Searcher:
    """A Searcher with no store, to describe a clip with the projection at `run` alone: its
    caption pool is the 527 AudioSet label names as `projection_init` words them ("the sound of
    dog"), to which a caller adds its own captions (`audio_to_text(..., extra_captions)`).

    The encoders must be the ones the projection was trained with (a ValueError says which differs)."""
    model, info = load_run(run)
    check_same_encoders(encoders_of(info), {"audio_encoder": audio_encoder, "text_encoder": text_encoder},
                        f"the projection {projection_file(run)}", "the encoders loaded now")
    none = EmbeddingSet(audio=np.zeros((0, model.config.audio_dim), np.float32),
                        text=np.zeros((0, model.config.text_dim), np.float32), text_clip=np.zeros(0, np.int64),
                        clip_ids=[], audio_paths=[], captions=[])
    return Searcher(none, model, text_encoder=text_encoder, audio_encoder=audio_encoder,
                    caption_pool=audioset_label_pool(text_encoder))


def with_label_pool(searcher: Searcher, text_encoder) -> Searcher:
    """`searcher` describing clips from its store's captions plus the 527 AudioSet label names (those
    not already among them): a ready vocabulary beside a dataset's few captions. A shallow copy;
    the store, the projection and the cached searcher are shared, not changed."""
    return searcher.with_captions(*audioset_label_pool(text_encoder))


def with_describing_vocabulary(searcher: Searcher, text_encoder) -> Searcher:
    """What describing a clip offers besides the store's captions, the same in the CLI (`search --audio`)
    and the app's Upload panel: the 527 AudioSet label names (`with_label_pool`) and the captions people
    wrote (`caption_pool.with_caption_pool`)."""
    from clapdemo.search.caption_pool import with_caption_pool

    return with_caption_pool(with_label_pool(searcher, text_encoder), text_encoder)


@lru_cache(maxsize=2)
def audioset_label_pool(text_encoder) -> tuple:
    """(captions, their normalised text vectors) of the 527 AudioSet label names, embedded once per encoder."""
    from clapdemo.encoders.audioset_labels import AUDIOSET_LABELS
    from clapdemo.training.projection_init import LABEL_TEMPLATE, label_text_matrix

    captions = np.asarray([LABEL_TEMPLATE.format(label.lower()) for label in AUDIOSET_LABELS], dtype=object)
    return captions, label_text_matrix(text_encoder)


def build_index(run, store, memmap: bool = False, float16: bool = False) -> tuple[object, bool, float]:
    """Build (or find current) the FAISS index of `store` under the projection at `run`, ahead of
    the first search, whatever the store's size. Returns (index, rebuilt, seconds)."""
    import time

    from clapdemo.search.ann_index import index_key, open_index
    from clapdemo.evaluation.metrics import project_audio
    from clapdemo.stores.store import open_store

    model, info = load_run(run)
    embeddings = open_store(store, memmap, "float16" if float16 else "float32")
    check_compatible(embeddings, {"encoders": encoders_of(info)})
    if embeddings.n_clips == 0:
        raise ValueError(f"{store}: the store holds no embedded clips yet; run precompute first")
    start = time.perf_counter()
    index, rebuilt = open_index(store, project_audio(model, embeddings.audio), index_key(store, model))
    return index, rebuilt, time.perf_counter() - start
