"""Search by text, the left half of the "Try it" tab: describe a sound, get the store's nearest clips with players.

Same library call as `python -m clapdemo search --run PROJECTION --store STORE --text QUERY`.
"""

from __future__ import annotations

import html
from types import SimpleNamespace

import gradio as gr
import pandas as pd

from clapdemo.app.core import AppCore
from clapdemo.app.errors import on, user_errors
from clapdemo.app.session import Session
from clapdemo.app.widgets import N_PLAYERS, SCORES, SHARE, audio_update, table

# What a visitor can click before typing anything: ESC-50 classes of the sample set, worded freely.
EXAMPLE_QUERIES = ("dog barking", "rain", "church bells", "a baby crying", "a rooster crowing", "footsteps",
                   "a chainsaw", "waves on a beach")


class SearchTab(AppCore):
    def search(self, session: Session, query: str, k):
        """`python -m clapdemo search --text QUERY`: the top-k clips with players."""
        if not (query or "").strip():
            raise gr.Error("Type what you want to hear first, e.g. “dog barking”.")
        searcher = self.searcher(session)
        with user_errors("Search"):
            hits = searcher.text_to_audio(query, int(k))
        found = pd.DataFrame([{"rank": h.rank, "score": round(h.score, 3), SHARE: f"{h.relevance:.0%}",
                               "clip": h.clip_id, "label": h.label, "caption": h.caption} for h in hits])
        players = [audio_update(h.audio_path, f"{h.rank}. {h.clip_id} — {h.caption} ({h.score:.3f})")
                   for h in hits[:N_PLAYERS]]
        players += [audio_update() for _ in range(N_PLAYERS - len(players))]
        return (f"Top {len(hits)} clips for “{html.escape(query.strip())}” ({searcher.search_mode}).  \n{SCORES}",
                found, *players)


def build() -> SimpleNamespace:
    """The search column of "Try it": a box, example queries as buttons, results as players."""
    c = SimpleNamespace()
    gr.Markdown("### Search by describing a sound")
    with gr.Row():
        c.query = gr.Textbox(label="describe a sound", placeholder="dog barking", elem_id="query", scale=4)
        c.run = gr.Button("Search", variant="primary", elem_id="search", scale=1)
    with gr.Row(elem_id="example-queries"):
        c.examples = [gr.Button(q, size="sm", elem_id=f"example-query-{i}") for i, q in enumerate(EXAMPLE_QUERIES)]
    c.k = gr.Slider(1, 20, value=5, step=1, label="results", elem_id="search-k")
    c.note = gr.Markdown(elem_id="search-note")
    c.players = [gr.Audio(visible=False, interactive=False, elem_id=f"hit-{i}") for i in range(N_PLAYERS)]
    c.table = table("search-results", "all results", "rank", "score", SHARE, "clip", "label", "caption")
    return c


def wire(h: SearchTab, ui) -> None:
    """The column's events; `ui` holds every tab's components, the session and the header."""
    c, session = ui.search, ui.session
    outputs = [c.note, c.table, *c.players]
    on(c.run.click, h.search, [session, c.query, c.k], outputs, c.note)
    on(c.query.submit, h.search, [session, c.query, c.k], outputs, c.note)
    for button, query in zip(c.examples, EXAMPLE_QUERIES):  # one click: the query in the box, its results
        on(button.click, lambda s, k, q=query: (q, *h.search(s, q, k)), [session, c.k], [c.query, *outputs], c.note)
