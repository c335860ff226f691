"""Describe a clip, the right half of the "Try it" tab: your clip's best captions and the store's nearest clips.

Same library calls as `python -m clapdemo search --audio FILE --labels ...`: your labels first,
ranked among themselves (`Searcher.rank_labels`); then every candidate in one table: with no store,
your captions and the 527 AudioSet label names (`search.searchers.label_searcher`); with one, the store's
captions, and AudioSet's names and the caption pool too when ticked (`search.searchers.with_describing_vocabulary`).
"""

from __future__ import annotations

from types import SimpleNamespace

import gradio as gr
import pandas as pd

from clapdemo.app.core import AppCore
from clapdemo.app.errors import on, user_errors
from clapdemo.app.session import Session
from clapdemo.app.widgets import N_EXTREMES, SCORES, SHARE, audio_update, table


class UploadTab(AppCore):
    def check_upload(self, path: str | None):
        """The uploaded clip as the encoder hears it, or a message that says what is wrong with it."""
        from clapdemo.data.audio import UploadRefused, check_visitor_clip

        s = self.settings
        if not path:  # also what a file over the size limit looks like: the page refused it
            raise gr.Error(f"Upload an audio file or record one with the microphone first ({s.upload_limits()}).",
                           duration=None)
        try:  # the encoders are loaded only for a file that passed the cheap checks
            name, seconds, wave = check_visitor_clip(path, s.max_upload_mb, s.max_upload_seconds,
                                                     lambda: self.encoders()[0])
        except UploadRefused as error:
            raise gr.Error(str(error), duration=None) from error
        audio_encoder, _ = self.encoders()
        note = (f"{name}: {seconds:.1f} s; the encoder hears the first {audio_encoder.clip_seconds:g} s"
                if seconds > audio_encoder.clip_seconds else f"{name}: {seconds:.1f} s")
        return wave, note

    def describe_upload(self, session: Session, path: str | None, labels: str, k, audioset: bool = True):
        """`python -m clapdemo search --audio FILE --labels ...`: top captions and nearest clips.

        Typed labels first get their own ranking, a choice between only them (`Searcher.rank_labels`):
        in the big table below they compete with names worded as the projection trained.
        Candidates there: the store's captions, the 527 AudioSet label names and the caption pool of
        4,000 AudioCaps captions people wrote (`audioset`, a ready vocabulary; always, when there is no
        store; clapdemo.search.caption_pool) and the labels typed in."""
        from clapdemo.search.caption_pool import pool_captions, with_caption_pool
        from clapdemo.training.model import projection_file
        from clapdemo.search.searchers import label_searcher, with_describing_vocabulary
        from clapdemo.search.searcher import parse_labels

        wave, note = self.check_upload(path)
        extra = tuple(parse_labels(labels or ""))
        if self.store_problem(session):  # no dataset needed: the projection, your labels and AudioSet's
            with user_errors("Loading the projection"):
                searcher = with_caption_pool(label_searcher(projection_file(session.projection or self.settings.projection),
                                                        *self.encoders()), self.encoders()[1])
            note += (". No embeddings yet, so the candidates are your captions, the 527 AudioSet label "
                     "names and 4,000 AudioCaps captions (precompute a dataset to add its captions and see its "
                     "nearest clips)")
            dataset = set()
        else:
            searcher = self.searcher(session)
            dataset = set(map(str, searcher.pool_captions))
            if audioset:
                searcher = with_describing_vocabulary(searcher, self.encoders()[1])
        with user_errors("Describing the clip"):
            yours = searcher.rank_labels(wave, extra)
            captions = searcher.audio_to_text(wave, int(k), extra)
            clips = searcher.audio_to_audio(wave, int(k)) if searcher.embeddings.n_clips else []
        caption_table = pd.DataFrame([{"rank": h.rank, "caption": h.caption, "from": caption_source(h.caption, dataset, extra, pool_captions()),
                                       "score": round(h.score, 3), SHARE: f"{h.relevance:.0%}"} for h in captions])
        clip_table = pd.DataFrame([{"rank": h.rank, "clip": h.clip_id, "score": round(h.score, 3),
                                    "label": h.label, "caption": h.caption} for h in clips],
                                  columns=["rank", "clip", "score", "label", "caption"])
        players = [audio_update(h.audio_path, f"{h.rank}. {h.clip_id} — {h.caption} ({h.score:.3f})")
                   for h in clips[:N_EXTREMES]]
        players += [audio_update() for _ in range(N_EXTREMES - len(players))]
        head = f"{note}. Best caption: **{captions[0].caption}** ({captions[0].score:.3f})." if captions else note
        head += heard_line(self.encoders()[0], wave)
        return f"{your_labels(yours)}{head}  \n{SCORES}", caption_table, clip_table, *players


def heard_line(audio_encoder, wave) -> str:
    """"What the encoder hears": the frozen encoder's own top AudioSet tags for the clip, before any
    projection ("" for an encoder without AudioSet outputs); when the projection is good they agree."""
    from clapdemo.encoders.audioset_labels import heard_tags, tags_text

    tags = heard_tags(audio_encoder, wave)
    return f"  \nWhat the encoder hears (its own AudioSet tags, no projection): {tags_text(tags)}" if tags else ""


def your_labels(hits) -> str:
    """The typed labels ranked among themselves, as a numbered Markdown list above the rest ("" if none)."""
    if not hits:
        return ""
    lines = [f"{h.rank}. {'**' + h.caption + '**' if h.rank == 1 else h.caption} — {h.score:.3f} ({h.relevance:.0%})"
             for h in hits]
    return "**Your labels**, a choice between only these:\n\n" + "\n".join(lines) + "\n\n"


def caption_source(caption: str, dataset: set[str], typed: tuple[str, ...], people: set[str] = frozenset()) -> str:
    """Where a candidate caption came from: typed by you, the dataset's captions, the caption pool of
    AudioCaps captions people wrote (`people`), or AudioSet's labels."""
    return ("yours" if caption in typed else "dataset" if caption in dataset else
            "AudioCaps" if caption in people else "AudioSet")


def build() -> SimpleNamespace:
    """The upload column of "Try it": a clip or a recording -> its best captions and nearest clips."""
    c = SimpleNamespace()
    gr.Markdown("### Upload or record a clip: what is it?")
    c.audio = gr.Audio(sources=["upload", "microphone"], type="filepath", label="a clip", elem_id="upload-audio")
    with gr.Row():
        c.labels = gr.Textbox(label="your own candidate captions, comma-separated (optional)",
                              placeholder="a cat meowing, a car horn", elem_id="upload-labels", scale=3)
        c.audioset = gr.Checkbox(True, label="also the 527 AudioSet label names and 4,000 captions people wrote (AudioCaps)", elem_id="upload-audioset",
                                 scale=1)
    with gr.Row():
        c.k = gr.Slider(1, 20, value=5, step=1, label="results", elem_id="upload-k")
        c.run = gr.Button("Describe this clip", variant="primary", elem_id="describe")
    c.note = gr.Markdown(elem_id="upload-note")
    c.captions = table("upload-captions", "its best captions", "rank", "caption", "from", "score", SHARE)
    c.clips = table("upload-clips", "nearest clips", "rank", "clip", "score", "label", "caption")
    c.players = [gr.Audio(visible=False, interactive=False, elem_id=f"near-{i}") for i in range(N_EXTREMES)]
    return c


def wire(h: UploadTab, ui) -> None:
    """The column's events; `ui` holds every tab's components, the session and the header."""
    c = ui.upload
    on(c.run.click, h.describe_upload, [ui.session, c.audio, c.labels, c.k, c.audioset],
       [c.note, c.captions, c.clips, *c.players], c.note)
