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
from clapdemo.app.widgets import N_PLAYERS, SCORES, SHARE, audio_update, table, file_name

MATCH = "match"  # "⚠ weak" where the hit is only the least unlike the query (`Searcher.match_strength`)


def weak_note(searcher, query: str, hits) -> str:
    """Why hits are marked weak (empty when none is)."""
    if not any(h.weak for h in hits):
        return ""
    from clapdemo.search.searcher import WEAK_SHARE, WEAK_TEXT_COSINE

    m = searcher.match_strength(query)
    why = (f"no caption of this store is close to it: the nearest, “{html.escape(m.nearest_caption)}”, has a "
           f"cosine of {m.caption_cosine:.2f} with it between the two texts (a query the store knows has "
           f"{WEAK_TEXT_COSINE:g} or more)" if m.out_of_vocabulary else
           f"the hits marked weak score below {WEAK_SHARE:.0%} of this store's typical best match "
           f"(cosine {m.typical_best:.2f}: the median, over its captions, of each caption's best clip)")
    return (f"  \n⚠ **Weak matches:** {why}. These clips are only the least unlike your words, probably not "
            "what you asked for; see *What you can search for* below for what the store holds.")


def contents_line(emb, name: str) -> str:
    """`N clips of K classes: a, b, …` (or of M distinct captions) for a store's EmbeddingSet."""
    if emb.labels:
        classes = sorted(set(emb.labels))
        return (f"**{html.escape(name)}** holds {emb.n_clips} clips of {len(classes)} sound classes; a query "
                f"about anything else finds only the least unlike of them (marked *weak*):  \n"
                + ", ".join(html.escape(c) for c in classes))
    captions = sorted(set(emb.captions))
    shown = ", ".join(f"“{html.escape(c)}”" for c in captions[:30])
    return (f"**{html.escape(name)}** holds {emb.n_clips} clips with {len(captions)} distinct captions"
            + (f", e.g. {shown}" + (" …" if len(captions) > 30 else "") if captions else " (none: uncaptioned clips)"))


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
                               MATCH: "⚠ weak" if h.weak else "", "clip": h.clip_id, "label": h.label,
                               "caption": h.caption} for h in hits])
        players = [audio_update(h.audio_path, f"{h.rank}. {h.clip_id} — {h.caption} ({h.score:.3f})"
                                              + (" — weak match" if h.weak else "")) for h in hits[:N_PLAYERS]]
        players += [audio_update() for _ in range(N_PLAYERS - len(players))]
        note = f"Top {len(hits)} clips for “{html.escape(query.strip())}” ({searcher.search_mode})."
        return (note + weak_note(searcher, query, hits) + f"  \n{SCORES}", found, *players)

    def store_contents(self, session: Session) -> str:
        """What the session's store holds, so a visitor knows what can be found (Markdown)."""
        try:
            emb = self.searcher(session).embeddings
        except Exception:  # no store or projection yet: the search note says so on the first query
            return "No embeddings yet: nothing to search."
        data = emb.meta.get("dataset") or {}
        sample = self.on_sample_store(session)
        name = ("The sample set (ESC-50)" if sample else
                f"This store ({data.get('name', file_name(session.store_dir))} {data.get('split', '')})".strip())
        return contents_line(emb, name)


def build() -> SimpleNamespace:
    """The search column of "Try it": a box, example queries as buttons, results as players."""
    c = SimpleNamespace()
    gr.Markdown("### Search by describing a sound")
    with gr.Row():
        c.query = gr.Textbox(label="describe a sound", placeholder="dog barking", elem_id="query", scale=4)
        c.run = gr.Button("Search", variant="primary", elem_id="search", scale=1)
    with gr.Row(elem_id="example-queries"):
        c.examples = [gr.Button(q, size="sm", elem_id=f"example-query-{i}") for i, q in enumerate(EXAMPLE_QUERIES)]
    with gr.Accordion("What you can search for (what the store holds)", open=False, elem_id="search-contents-box"):
        c.contents = gr.Markdown("The classes or captions of the active store are listed here once the page has "
                                 "loaded (the sample set: 414 clips of 50 ESC-50 classes).", elem_id="search-contents")
    c.k = gr.Slider(1, 20, value=5, step=1, label="results", elem_id="search-k")
    c.note = gr.Markdown(elem_id="search-note")
    c.players = [gr.Audio(visible=False, interactive=False, elem_id=f"hit-{i}") for i in range(N_PLAYERS)]
    c.table = table("search-results", "all results", "rank", "score", SHARE, MATCH, "clip", "label", "caption")
    return c


def wire(h: SearchTab, ui) -> None:
    """The column's events; `ui` holds every tab's components, the session and the header."""
    c, session = ui.search, ui.session
    outputs = [c.note, c.table, *c.players]
    on(c.run.click, h.search, [session, c.query, c.k], outputs, c.note)
    on(c.query.submit, h.search, [session, c.query, c.k], outputs, c.note)
    ui.loaded.then(h.store_contents, [session], [c.contents], show_progress="hidden")
    c.note.change(h.store_contents, [session], [c.contents], show_progress="hidden")  # the store may have changed
    for button, query in zip(c.examples, EXAMPLE_QUERIES):  # one click: the query in the box, its results
        on(button.click, lambda s, k, q=query: (q, *h.search(s, q, k)), [session, c.k], [c.query, *outputs], c.note)
